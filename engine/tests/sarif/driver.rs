//! The driver: rules and their metadata.

use super::*;

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
