//! The SARIF 2.1.0 schema and the SARIF Multitool.

use super::*;

fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json");
    let mut schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // The `language` patterns have a stray `]`, a literal in ECMA-262 regular expressions but
    // rejected by the `jsonschema` crate: escape it, which keeps its meaning.
    assert_eq!(escape_stray_bracket(&mut schema), 2);
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn escape_stray_bracket(schema: &mut Value) -> usize {
    const STRAY: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    match schema {
        Value::String(text) if text == STRAY => {
            *text = r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$".to_string();
            1
        }
        Value::Array(items) => items.iter_mut().map(escape_stray_bracket).sum(),
        Value::Object(map) => map.values_mut().map(escape_stray_bracket).sum(),
        _ => 0,
    }
}

fn assert_schema_valid(validator: &jsonschema::Validator, sarif: &Value, label: &str) {
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{label} breaks the SARIF schema:\n{}",
        errors.join("\n")
    );
}

#[test]
fn output_validates_against_the_sarif_2_1_0_schema() {
    let validator = schema_validator();
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    report.findings[0].suppression = Some(Suppression {
        kind: SuppressionKind::Waiver,
        justification: "accepted for the test".to_string(),
        owner: None,
        expires: None,
    });
    for (label, options) in [
        ("the fixture scan", fixture.options()),
        (
            "a truncated log",
            SarifOptions {
                max_results: 2,
                ..fixture.options()
            },
        ),
        ("the default root", SarifOptions::default()),
        (
            "an omitted suppression",
            SarifOptions {
                omit_suppressed: true,
                ..fixture.options()
            },
        ),
    ] {
        assert_schema_valid(
            &validator,
            &sarif_json(&report, &fixture.rules, &options),
            label,
        );
    }
    let rules = builtin_rules();
    let bundle = bundle_report(&rules);
    assert_schema_valid(
        &validator,
        &sarif_json(&bundle, &rules, &workspace_options()),
        "the example bundle",
    );

    // The validator does catch a broken log.
    let mut broken = sarif_json(&bundle, &rules, &workspace_options());
    broken["runs"][0]["results"][0]["level"] = Value::from("severe");
    assert!(validator.iter_errors(&broken).next().is_some());
}

#[test]
fn sarif_multitool_accepts_the_example_bundle_report() {
    let tool = workspace_root().join("../shared/tools/sarif-validate");
    if !tool.is_file() {
        let reason = format!("SARIF Multitool wrapper not found at {}", tool.display());
        if std::env::var("HIVEWARD_REQUIRE_ORACLES").as_deref() == Ok("1") {
            panic!("HIVEWARD_REQUIRE_ORACLES=1 but {reason}");
        }
        println!("skipped: {reason}");
        return;
    }
    let rules = builtin_rules();
    let report = bundle_report(&rules);
    let mut waived = report.clone();
    waived.findings[0].suppression = Some(Suppression {
        kind: SuppressionKind::Waiver,
        justification: "the alias is needed until the migration".to_string(),
        owner: Some("ops".to_string()),
        expires: Some("2031-01-31".to_string()),
    });
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("bundle.sarif");
    let suppressed = dir.path().join("bundle-waived.sarif");
    std::fs::write(&plain, sarif_bytes(&report, &rules, &workspace_options())).unwrap();
    std::fs::write(
        &suppressed,
        sarif_bytes(&waived, &rules, &workspace_options()),
    )
    .unwrap();
    let output = Command::new("bash")
        .arg(&tool)
        .arg(&plain)
        .arg(&suppressed)
        .output()
        .expect("sarif-validate runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "sarif-validate failed:\n{stdout}{stderr}"
    );
}
