//! The SARIF 2.1.0 reporter, on reports made by running real rules on evidence built here and on
//! the repository's `examples/bundle`.
//!
//! `tests/data/sarif-schema-2.1.0.json` is the OASIS SARIF 2.1.0 JSON schema, published by the
//! OASIS Static Analysis Results Interchange Format (SARIF) TC
//! (https://github.com/oasis-tcs/sarif-spec, `Schemata/sarif-schema-2.1.0.json`), as shipped in
//! the MIT-licensed `serde-sarif` 0.8.0 crate. OASIS makes its schemas available under the
//! OASIS IPR policy; it is vendored unchanged so the tests need no network.

use std::path::{Path, PathBuf};
use std::process::Command;

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
use hiveward_engine::{
    run_scan, sarif_bytes, security_severity, to_sarif, Limits, PackSource, RuleSet, SarifOptions,
    ScanReport, ScanSettings, Severity, Suppression, SuppressionKind, SRCROOT,
};
use hiveward_testkit::{hive_from_reg, workspace_root};
use serde_json::Value;

const SMB_PARAMETERS: &str = r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters";
const STRICT_NAME_VALUE: &str =
    r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters\DisableStrictNameChecking";
const EVTX_NAME: &str = "Microsoft-Windows-SMBServer%4Security.evtx";

fn system_hive(computer: &str, lanman: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{computer}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n{lanman}"
    ))
}

fn rule_text(id: &str, severity: &str, body: &str) -> String {
    format!(
        "//! A test rule.\n\
         export const RULE = #{{\n\
         \x20   id: \"{id}\",\n\
         \x20   pack: \"sarif-test\",\n\
         \x20   title: \"Test rule {id} fired ({severity})\",\n\
         \x20   description: \"A rule the SARIF tests use.\",\n\
         \x20   severity: \"{severity}\",\n\
         \x20   tags: [\"test\"],\n\
         \x20   fix: \"Nothing to fix on {{{{host}}}}.\",\n\
         }};\n\
         \n\
         fn check(host) {{\n{body}\n}}\n"
    )
}

/// Evidence and rules written to a temporary folder:
///
/// - `Triage Copy/FS01`: a triage tree whose SYSTEM hive turns strict name checking off and
///   leaves SPN validation at 0, and an empty (so unreadable) `Microsoft-Windows-SMBServer%4Security.evtx`;
/// - `Triage Copy/AAA`: a SYSTEM hive with no SMB settings, so it sorts first;
/// - `packs/sarif-test`: a high rule that fires on FS01 only and has no evidence, a low rule
///   that fires everywhere, and a rule that fails on FS01.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rules: RuleSet,
    report: ScanReport,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        let triage = root.join("Triage Copy");
        let fs01 = triage.join("FS01/Windows/System32");
        std::fs::create_dir_all(fs01.join("config")).unwrap();
        std::fs::create_dir_all(fs01.join("winevt/Logs")).unwrap();
        std::fs::write(
            fs01.join("config/SYSTEM"),
            system_hive(
                "FS01",
                "\"DisableStrictNameChecking\"=dword:00000001\n\"SmbServerNameHardeningLevel\"=dword:00000000\n",
            ),
        )
        .unwrap();
        std::fs::write(fs01.join("winevt/Logs").join(EVTX_NAME), b"").unwrap();
        let aaa = triage.join("AAA/Windows/System32/config");
        std::fs::create_dir_all(&aaa).unwrap();
        std::fs::write(
            aaa.join("SYSTEM"),
            system_hive("AAA", "\"Comment\"=\"none\"\n"),
        )
        .unwrap();

        let pack = root.join("packs/sarif-test");
        std::fs::create_dir_all(&pack).unwrap();
        std::fs::write(
            pack.join("pack.toml"),
            "name = \"sarif-test\"\nversion = \"0.1.0\"\ndescription = \"Rules for the SARIF tests.\"\nmin_hiveward = \"0.1.0\"\n",
        )
        .unwrap();
        for (id, severity, body) in [
            (
                "T-HIGH-001",
                "high",
                "    if host.name != \"FS01\" { return []; }\n    [#{ message: `High-severity finding on ${host.name}` }]",
            ),
            (
                "T-LOW-001",
                "low",
                "    [#{ message: `Low-severity finding on ${host.name}.` }]",
            ),
            (
                "T-FAIL-001",
                "medium",
                "    if host.name == \"FS01\" {\n        throw \"cannot decide\";\n    }\n    []",
            ),
        ] {
            std::fs::write(
                pack.join(format!("{id}.rhai")),
                rule_text(id, severity, body),
            )
            .unwrap();
        }
        let mut packs = PackSource::builtin();
        packs.extend(PackSource::load_dir(&pack).expect("test pack loads"));
        let rules = RuleSet::load(packs, Limits::default()).expect("rules load");
        let report = scan(&[triage], &rules);
        Fixture {
            _dir: dir,
            root,
            rules,
            report,
        }
    }

    fn options(&self) -> SarifOptions {
        SarifOptions {
            source_root: Some(self.root.clone()),
            ..SarifOptions::default()
        }
    }

    fn sarif(&self, options: &SarifOptions) -> Value {
        sarif_json(&self.report, &self.rules, options)
    }
}

fn scan(inputs: &[PathBuf], rules: &RuleSet) -> ScanReport {
    let collection = collect(
        discover(inputs, &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(
        collection,
        rules,
        &ScanSettings {
            inputs: inputs.to_vec(),
            profile: "cis".to_string(),
            ..ScanSettings::default()
        },
    )
}

fn builtin_rules() -> RuleSet {
    RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs load")
}

fn bundle_report(rules: &RuleSet) -> ScanReport {
    scan(&[workspace_root().join("examples/bundle")], rules)
}

fn workspace_options() -> SarifOptions {
    SarifOptions {
        source_root: Some(workspace_root()),
        ..SarifOptions::default()
    }
}

fn sarif_json(report: &ScanReport, rules: &RuleSet, options: &SarifOptions) -> Value {
    let bytes = sarif_bytes(report, rules, options);
    assert!(bytes.ends_with(b"}\n"), "pretty JSON ending in a newline");
    serde_json::from_slice(&bytes).expect("SARIF output is JSON")
}

fn run(sarif: &Value) -> &Value {
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    &runs[0]
}

fn results(sarif: &Value) -> &Vec<Value> {
    run(sarif)["results"].as_array().expect("results")
}

fn driver_rules(sarif: &Value) -> &Vec<Value> {
    run(sarif)["tool"]["driver"]["rules"]
        .as_array()
        .expect("driver rules")
}

fn notifications(sarif: &Value) -> &Vec<Value> {
    run(sarif)["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("toolExecutionNotifications")
}

fn result_for<'a>(sarif: &'a Value, rule: &str, host: &str) -> &'a Value {
    results(sarif)
        .iter()
        .find(|result| result["ruleId"] == rule && result["properties"]["host"] == host)
        .unwrap_or_else(|| panic!("no {rule} result for {host}"))
}

fn uri(location: &Value) -> &str {
    location["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("artifactLocation.uri")
}

#[test]
fn security_severity_is_a_score_github_accepts() {
    let expected = [
        (Severity::Critical, "9.5"),
        (Severity::High, "8.0"),
        (Severity::Medium, "5.5"),
        (Severity::Low, "3.0"),
        (Severity::Info, "1.0"),
    ];
    for (severity, score) in expected {
        assert_eq!(security_severity(severity), score);
        let value: f64 = score.parse().unwrap();
        assert!((0.1..=10.0).contains(&value));
    }
    // Higher severities score higher.
    let scores: Vec<f64> = Severity::ALL
        .iter()
        .map(|severity| security_severity(*severity).parse().unwrap())
        .collect();
    assert!(scores.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn driver_lists_every_loaded_rule_with_its_metadata() {
    let fixture = Fixture::new();
    let sarif = fixture.sarif(&fixture.options());
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let driver = &run(&sarif)["tool"]["driver"];
    assert_eq!(driver["name"], "hiveward");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(driver["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        driver["informationUri"],
        "https://github.com/hiveward/hiveward"
    );

    let rules = driver_rules(&sarif);
    let ids: Vec<&str> = rules
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    let loaded: Vec<&str> = fixture
        .rules
        .rules()
        .iter()
        .map(|rule| rule.meta.id.as_str())
        .collect();
    assert_eq!(ids, loaded, "every loaded rule, in the rule set's order");
    assert!(ids.contains(&"HW-STRICT-001") && ids.contains(&"T-FAIL-001"));

    let meta = &fixture.rules.rule("HW-STRICT-001").unwrap().meta;
    let strict = rules
        .iter()
        .find(|rule| rule["id"] == "HW-STRICT-001")
        .unwrap();
    assert_eq!(
        strict["name"],
        "StrictNameCheckingIsDisabledDisableStrictNameChecking1"
    );
    assert!(strict["shortDescription"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&meta.title));
    assert!(strict["fullDescription"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&meta.description));
    // The help is the rule's fix with its placeholders written generically, never as
    // template syntax.
    assert!(meta.fix.contains("{{"), "the rule's fix has placeholders");
    assert_eq!(
        strict["help"]["text"],
        hiveward_engine::generic_fix_text(meta.fix.trim_end())
    );
    let markdown = strict["help"]["markdown"].as_str().unwrap();
    assert!(markdown.starts_with(&hiveward_engine::generic_fix_markdown(meta.fix.trim_end())));
    for rule in rules {
        for form in ["text", "markdown"] {
            let help = rule["help"][form].as_str().unwrap_or_default();
            assert!(!help.contains("{{"), "{} help {form}: {help}", rule["id"]);
        }
    }
    assert!(markdown.contains("KB3181029"), "references follow the fix");
    assert_eq!(strict["helpUri"], meta.help_uri.clone().unwrap().as_str());
    assert_eq!(strict["properties"]["security-severity"], "5.5");
    assert_eq!(strict["defaultConfiguration"]["level"], "warning");
    let tags: Vec<&str> = strict["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"smb") && tags.contains(&"security"));

    for (id, score, level) in [
        ("T-HIGH-001", "8.0", "error"),
        ("T-FAIL-001", "5.5", "warning"),
        ("T-LOW-001", "3.0", "note"),
    ] {
        let rule = rules.iter().find(|rule| rule["id"] == id).unwrap();
        assert_eq!(rule["properties"]["security-severity"], score, "{id}");
        assert_eq!(rule["defaultConfiguration"]["level"], level, "{id}");
        // The test rules have only the `test` tag: `security` is added.
        assert_eq!(
            rule["properties"]["tags"],
            serde_json::json!(["test", "security"])
        );
        // No help URI where the rule has none.
        assert!(rule.get("helpUri").is_none(), "{id}");
        let name = rule["name"].as_str().unwrap();
        assert!(name.starts_with("TestRuleT"), "{name}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}");
    }
    assert_eq!(
        run(&sarif)["automationDetails"]["id"],
        "hiveward/cis/",
        "named after the profile by default"
    );
    let named = fixture.sarif(&SarifOptions {
        automation_id: "nightly/fileservers/".to_string(),
        ..fixture.options()
    });
    assert_eq!(
        run(&named)["automationDetails"]["id"],
        "nightly/fileservers/"
    );
}

#[test]
fn results_point_at_their_rule_file_and_registry_value() {
    let fixture = Fixture::new();
    let sarif = fixture.sarif(&fixture.options());
    let rules = driver_rules(&sarif);
    let results = results(&sarif);
    assert_eq!(results.len(), fixture.report.findings.len());
    assert!(results.len() >= 6, "{results:#?}");
    let base = &run(&sarif)["originalUriBaseIds"][SRCROOT];
    assert!(base.get("uri").is_none(), "no absolute path in the output");
    assert!(base["description"]["text"].as_str().is_some());

    for (result, finding) in results.iter().zip(&fixture.report.findings) {
        assert_eq!(result["ruleId"], finding.rule.as_str());
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], finding.rule.as_str(), "ruleIndex");
        let level = match finding.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            Severity::Low | Severity::Info => "note",
        };
        assert_eq!(result["level"], level);
        let text = result["message"]["text"].as_str().unwrap();
        assert!(text.starts_with(finding.message.trim_end_matches('.')));
        assert!(text.ends_with('.'));
        assert_eq!(
            result["partialFingerprints"]["primaryLocationLineHash"],
            finding.fingerprint.as_str()
        );
        assert_eq!(result["properties"]["host"], finding.host.as_str());
        assert_eq!(result["properties"]["inferred"], finding.inferred);
        // The evidence as in the JSON report, with its file relative to the root.
        let mut evidence = serde_json::to_value(&finding.evidence).unwrap();
        for item in evidence.as_array_mut().unwrap() {
            if let Some(file) = item.get("file").and_then(Value::as_str) {
                let relative = Path::new(file).strip_prefix(&fixture.root).unwrap();
                item["file"] = Value::from(relative.to_str().unwrap());
            }
        }
        assert_eq!(result["properties"]["evidence"], evidence);
        let locations = result["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 1, "one location");
        let physical = &locations[0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uriBaseId"], SRCROOT);
        assert_eq!(physical["region"]["startLine"], 1);
        let host_location = locations[0]["logicalLocations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|logical| logical["fullyQualifiedName"] == finding.host.as_str());
        assert!(host_location, "the host is a logical location");
        assert!(result.get("suppressions").is_none());
    }

    // The evidence file, relative to the root, with the space encoded.
    let strict = result_for(&sarif, "HW-STRICT-001", "FS01");
    assert_eq!(
        uri(&strict["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/config/SYSTEM"
    );
    let logical = strict["locations"][0]["logicalLocations"]
        .as_array()
        .unwrap();
    assert!(logical.iter().any(|location| {
        location["fullyQualifiedName"] == STRICT_NAME_VALUE
            && location["kind"] == "registryValue"
            && location["name"] == "DisableStrictNameChecking"
    }));
    assert!(strict["message"]["text"]
        .as_str()
        .unwrap()
        .contains("DisableStrictNameChecking is 1 on FS01"));

    let hardening = result_for(&sarif, "HW-HARD-003", "AAA");
    assert_eq!(
        uri(&hardening["locations"][0]),
        "Triage%20Copy/AAA/Windows/System32/config/SYSTEM"
    );
    assert!(hardening["locations"][0]["logicalLocations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|location| location["fullyQualifiedName"]
            == format!(r"{SMB_PARAMETERS}\SmbServerNameHardeningLevel")));

    // A finding without an evidence file points at the host's first readable file.
    let high = result_for(&sarif, "T-HIGH-001", "FS01");
    assert_eq!(
        uri(&high["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/config/SYSTEM"
    );
    assert_eq!(high["level"], "error");
    assert_eq!(
        high["message"]["text"], "High-severity finding on FS01.",
        "messages end with a full stop"
    );
}

#[test]
fn file_names_are_percent_encoded_and_relative_to_the_root() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let cwd = std::env::current_dir().unwrap();
    let first = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-STRICT-001")
        .unwrap();
    first.evidence[0].file = Some(format!("logs/{EVTX_NAME}"));
    let second = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-HARD-003" && f.host == "FS01")
        .unwrap();
    second.evidence[0].file = Some(cwd.join("cases/FS01 SYSTEM.HIV").display().to_string());
    let third = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "HW-HARD-003" && f.host == "AAA")
        .unwrap();
    third.evidence[0].file = Some("/evidence elsewhere/AAA/SYSTEM".to_string());

    // With the default root, the current directory.
    let sarif = sarif_json(&report, &fixture.rules, &SarifOptions::default());
    let strict = &result_for(&sarif, "HW-STRICT-001", "FS01")["locations"][0];
    assert_eq!(
        uri(strict),
        "logs/Microsoft-Windows-SMBServer%254Security.evtx"
    );
    assert_eq!(
        strict["physicalLocation"]["artifactLocation"]["uriBaseId"],
        SRCROOT
    );
    let under_cwd = &result_for(&sarif, "HW-HARD-003", "FS01")["locations"][0];
    assert_eq!(
        uri(under_cwd),
        "cases/FS01%20SYSTEM.HIV",
        "absolute under the current directory"
    );
    assert_eq!(
        under_cwd["physicalLocation"]["artifactLocation"]["uriBaseId"],
        SRCROOT
    );
    let elsewhere = &result_for(&sarif, "HW-HARD-003", "AAA")["locations"][0];
    assert_eq!(uri(elsewhere), "file:///evidence%20elsewhere/AAA/SYSTEM");
    assert!(elsewhere["physicalLocation"]["artifactLocation"]
        .get("uriBaseId")
        .is_none());
    assert_eq!(
        run(&sarif)["originalUriBaseIds"][SRCROOT]["description"]["text"],
        "the directory hiveward ran in"
    );

    // The unreadable log, in a notification, relative to the given root.
    let sarif = fixture.sarif(&fixture.options());
    let log = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|uri| uri.ends_with(".evtx"))
        })
        .expect("a notification about the unreadable log");
    assert_eq!(
        uri(&log["locations"][0]),
        "Triage%20Copy/FS01/Windows/System32/winevt/Logs/Microsoft-Windows-SMBServer%254Security.evtx"
    );
}

#[test]
fn findings_without_a_file_fall_back_to_the_host_then_the_input() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let ghost = report
        .findings
        .iter_mut()
        .find(|f| f.rule == "T-HIGH-001")
        .unwrap();
    ghost.host = "GHOST".to_string();
    let sarif = sarif_json(&report, &fixture.rules, &fixture.options());
    let result = result_for(&sarif, "T-HIGH-001", "GHOST");
    assert_eq!(
        uri(&result["locations"][0]),
        "Triage%20Copy",
        "the first input"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
}

#[test]
fn waived_and_baselined_findings_are_suppressed_or_omitted() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let justification = "FILES is still reached through the alias until the move in June";
    for finding in report.findings.iter_mut() {
        if finding.rule == "HW-STRICT-001" {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Waiver,
                justification: justification.to_string(),
                owner: Some("ops@example.org".to_string()),
                expires: Some("2031-06-30".to_string()),
            });
        }
        if finding.rule == "T-LOW-001" && finding.host == "AAA" {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Baseline,
                justification: "in the baseline".to_string(),
                owner: None,
                expires: None,
            });
        }
    }
    let sarif = sarif_json(&report, &fixture.rules, &fixture.options());
    assert_eq!(results(&sarif).len(), report.findings.len());
    let waived = result_for(&sarif, "HW-STRICT-001", "FS01");
    let suppressions = waived["suppressions"].as_array().unwrap();
    assert_eq!(suppressions.len(), 1);
    assert_eq!(suppressions[0]["kind"], "external");
    assert_eq!(suppressions[0]["status"], "accepted");
    assert_eq!(suppressions[0]["justification"], justification);
    assert_eq!(suppressions[0]["properties"]["kind"], "waiver");
    assert_eq!(suppressions[0]["properties"]["owner"], "ops@example.org");
    let baselined = result_for(&sarif, "T-LOW-001", "AAA");
    assert_eq!(baselined["suppressions"][0]["kind"], "external");
    assert_eq!(
        baselined["suppressions"][0]["justification"],
        "in the baseline"
    );
    assert_eq!(
        baselined["suppressions"][0]["properties"]["kind"],
        "baseline"
    );
    let suppressed = results(&sarif)
        .iter()
        .filter(|result| result.get("suppressions").is_some())
        .count();
    assert_eq!(suppressed, 2);

    let omitted = sarif_json(
        &report,
        &fixture.rules,
        &SarifOptions {
            omit_suppressed: true,
            ..fixture.options()
        },
    );
    assert_eq!(results(&omitted).len(), report.findings.len() - 2);
    assert!(results(&omitted)
        .iter()
        .all(|result| result.get("suppressions").is_none() && result["ruleId"] != "HW-STRICT-001"));
    // The rule stays in the driver, and the left-out count is noted.
    assert!(driver_rules(&omitted)
        .iter()
        .any(|rule| rule["id"] == "HW-STRICT-001"));
    assert!(notifications(&omitted).iter().any(|notification| {
        notification["level"] == "note"
            && notification["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("2 waived or baselined")
    }));
}

#[test]
fn truncation_keeps_the_highest_severity_results() {
    let fixture = Fixture::new();
    let total = fixture.report.findings.len();
    // The report lists AAA's findings first; the only high one is on FS01.
    assert_eq!(fixture.report.findings[0].host, "AAA");
    let sarif = fixture.sarif(&SarifOptions {
        max_results: 1,
        ..fixture.options()
    });
    let kept = results(&sarif);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["ruleId"], "T-HIGH-001");
    assert_eq!(kept[0]["properties"]["host"], "FS01");
    let notice = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["message"]["text"]
                .as_str()
                .unwrap()
                .contains("left out")
        })
        .expect("a notification about the left-out results");
    assert_eq!(notice["level"], "warning");
    assert!(notice["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{} of {total} results were left out", total - 1)));
    assert_eq!(notice["properties"]["omitted"], total - 1);

    // Kept results stay in report order: medium ones after the high one, lows dropped.
    let three = fixture.sarif(&SarifOptions {
        max_results: 3,
        ..fixture.options()
    });
    let severities: Vec<&str> = results(&three)
        .iter()
        .map(|result| result["properties"]["severity"].as_str().unwrap())
        .collect();
    assert!(!severities.contains(&"low"), "{severities:?}");
    assert_eq!(
        results(&three)[0]["properties"]["host"],
        "AAA",
        "report order"
    );
    assert_eq!(severities.iter().filter(|s| **s == "high").count(), 1);

    // A gzip budget smaller than the full output drops results too, and never fails.
    let full = sarif_bytes(&fixture.report, &fixture.rules, &fixture.options());
    let none = fixture.sarif(&SarifOptions {
        max_results: 0,
        ..fixture.options()
    });
    assert!(results(&none).is_empty());
    let empty_size = gzip_len(&sarif_bytes(
        &fixture.report,
        &fixture.rules,
        &SarifOptions {
            max_results: 0,
            ..fixture.options()
        },
    ));
    let budget = empty_size + 200;
    let squeezed_bytes = sarif_bytes(
        &fixture.report,
        &fixture.rules,
        &SarifOptions {
            max_gzip_bytes: budget,
            ..fixture.options()
        },
    );
    assert!(gzip_len(&squeezed_bytes) <= budget);
    assert!(gzip_len(&full) > budget);
    let squeezed: Value = serde_json::from_slice(&squeezed_bytes).unwrap();
    assert!(results(&squeezed).len() < total);
    assert!(notifications(&squeezed)
        .iter()
        .any(|notification| notification["message"]["text"]
            .as_str()
            .unwrap()
            .contains("left out")));
    let tiny = fixture.sarif(&SarifOptions {
        max_gzip_bytes: 1,
        ..fixture.options()
    });
    assert!(
        results(&tiny).is_empty(),
        "an impossible budget still gives a log"
    );
}

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}

#[test]
fn rule_errors_and_unreadable_evidence_become_notifications() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.report.rule_errors.len(),
        1,
        "{:#?}",
        fixture.report.rule_errors
    );
    assert!(fixture.report.summary.files_unreadable >= 1);
    let sarif = fixture.sarif(&fixture.options());
    let invocation = &run(&sarif)["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);

    let error = &fixture.report.rule_errors[0];
    let failed = notifications(&sarif)
        .iter()
        .find(|notification| notification["associatedRule"]["id"] == "T-FAIL-001")
        .expect("a notification for the failed rule");
    assert_eq!(failed["level"], "error");
    let text = failed["message"]["text"].as_str().unwrap();
    assert!(
        text.contains("T-FAIL-001") && text.contains("FS01") && text.contains("cannot decide"),
        "{text}"
    );
    let index = failed["associatedRule"]["index"].as_u64().unwrap() as usize;
    assert_eq!(driver_rules(&sarif)[index]["id"], "T-FAIL-001");
    assert_eq!(failed["properties"]["rule"], "T-FAIL-001");
    assert_eq!(failed["properties"]["host"], "FS01");
    assert!(error.file.ends_with("T-FAIL-001.rhai"), "{}", error.file);
    assert_eq!(
        failed["properties"]["file"], "packs/sarif-test/T-FAIL-001.rhai",
        "relative to the root"
    );
    let line = error.line.expect("the failing line is known");
    assert_eq!(failed["properties"]["line"], line);
    let location = &failed["locations"][0];
    assert_eq!(uri(location), "packs/sarif-test/T-FAIL-001.rhai");
    assert_eq!(location["physicalLocation"]["region"]["startLine"], line);

    let unreadable = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["level"] == "error"
                && notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .is_some_and(|uri| uri.ends_with("%254Security.evtx"))
        })
        .expect("an error notification for the unreadable log");
    assert_eq!(unreadable["properties"]["host"], "FS01");
    assert!(unreadable["message"]["text"]
        .as_str()
        .unwrap()
        .ends_with('.'));

    // A clean scan is successful and has no error notifications.
    let rules = builtin_rules();
    let report = bundle_report(&rules);
    assert!(report.rule_errors.is_empty());
    assert_eq!(report.summary.files_unreadable, 0);
    let clean = sarif_json(&report, &rules, &workspace_options());
    assert_eq!(run(&clean)["invocations"][0]["executionSuccessful"], true);
    assert!(notifications(&clean)
        .iter()
        .all(|notification| notification["level"] != "error"));
}

#[test]
fn the_same_report_gives_the_same_bytes() {
    let rules = builtin_rules();
    let report = bundle_report(&rules);
    assert!(
        !report.findings.is_empty(),
        "the example bundle has findings"
    );
    let options = workspace_options();
    let first = sarif_bytes(&report, &rules, &options);
    let second = sarif_bytes(&report, &rules, &options);
    assert_eq!(first, second);
    // A second scan of the same evidence, too.
    let again = sarif_bytes(&bundle_report(&rules), &rules, &options);
    assert_eq!(first, again);
    // The typed log serialises to the same bytes.
    let mut typed = serde_json::to_vec_pretty(&to_sarif(&report, &rules, &options)).unwrap();
    typed.push(b'\n');
    assert_eq!(first, typed);
    let text = String::from_utf8(first).unwrap();
    assert!(
        !text.contains(&workspace_root().display().to_string()),
        "no absolute paths"
    );
    assert!(!text.contains("Utc\""), "no timestamps");
    let sarif: Value = serde_json::from_str(&text).unwrap();
    assert!(results(&sarif)
        .iter()
        .all(|result| uri(&result["locations"][0]).starts_with("examples/bundle/")));
}

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
