//! Waivers: parsing with located errors, matching by rule, host and evidence, expiry, and the
//! notices they leave in the report.

use std::path::{Path, PathBuf};

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions, NoticeLevel};
use hiveward_engine::{
    load_waivers, run_scan, Date, Finding, Limits, PackSource, RuleSet, ScanSettings,
    SuppressionKind, WaiverError, Waivers,
};

const KNOWN: [&str; 2] = ["HW-HARD-003", "HW-STRICT-001"];

fn bundle() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bundle")
}

/// The findings of the built-in rules on `examples/bundle`: HW-STRICT-001 on FS01 and
/// HW-HARD-003 on WKS7.
fn findings() -> Vec<Finding> {
    // The two starter rules these tests were written around.
    let mut rules =
        RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs");
    rules
        .select(&hiveward_engine::Selection {
            only: vec!["HW-STRICT-001".to_string(), "HW-HARD-003".to_string()],
            ..Default::default()
        })
        .expect("the starter rules are built in");
    let inputs = vec![bundle()];
    let collection = collect(
        discover(&inputs, &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    let report = run_scan(
        collection,
        &rules,
        &ScanSettings {
            inputs,
            ..ScanSettings::default()
        },
    );
    assert!(report.rule_errors.is_empty(), "{:?}", report.rule_errors);
    let findings = report.findings;
    assert!(
        find(&findings, "HW-STRICT-001", "FS01").is_some(),
        "{findings:#?}"
    );
    assert!(
        find(&findings, "HW-HARD-003", "WKS7").is_some(),
        "{findings:#?}"
    );
    findings.to_vec()
}

fn find<'a>(findings: &'a [Finding], rule: &str, host: &str) -> Option<&'a Finding> {
    findings
        .iter()
        .find(|finding| finding.rule == rule && finding.host == host)
}

fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn load(text: &str) -> Result<Waivers, WaiverError> {
    load_waivers(Path::new("site/waivers.toml"), text, &KNOWN)
}

fn waived(findings: &[Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .filter(|finding| {
            finding
                .suppression
                .as_ref()
                .is_some_and(|suppression| suppression.kind == SuppressionKind::Waiver)
        })
        .map(|finding| (finding.rule.clone(), finding.host.clone()))
        .collect()
}

const STRICT_FS01: &str = r#"# Waivers for the file servers.

[[waiver]]
rule = "HW-STRICT-001"
host = "FS0*"
justification = "Alias kept until the Q3 migration"
owner = "fileservices@corp.example"
expires = 2026-12-31
"#;

#[test]
fn an_active_waiver_suppresses_only_the_matching_finding() {
    let waivers = load(STRICT_FS01).unwrap();
    assert_eq!(waivers.len(), 1);
    assert_eq!(waivers.waivers()[0].line(), 3);
    assert_eq!(waivers.waivers()[0].expires, Some(date("2026-12-31")));
    let mut findings = findings();
    let notices = waivers.apply(&mut findings, date("2026-06-30"));
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(
        waived(&findings),
        vec![("HW-STRICT-001".to_string(), "FS01".to_string())]
    );
    let strict = find(&findings, "HW-STRICT-001", "FS01").unwrap();
    let suppression = strict.suppression.as_ref().unwrap();
    assert_eq!(
        suppression.justification,
        "Alias kept until the Q3 migration"
    );
    assert_eq!(
        suppression.owner.as_deref(),
        Some("fileservices@corp.example")
    );
    assert_eq!(suppression.expires.as_deref(), Some("2026-12-31"));
    assert!(find(&findings, "HW-HARD-003", "WKS7")
        .unwrap()
        .suppression
        .is_none());

    // The waived finding stays in the JSON output, marked with its justification.
    let json = serde_json::to_value(strict).unwrap();
    assert_eq!(json["suppression"]["kind"], "waiver");
    assert_eq!(
        json["suppression"]["justification"],
        "Alias kept until the Q3 migration"
    );
    let plain = serde_json::to_value(find(&findings, "HW-HARD-003", "WKS7").unwrap()).unwrap();
    assert!(plain.get("suppression").is_none());
}

#[test]
fn a_waiver_applies_through_its_expiry_date_and_not_after() {
    let waivers = load(STRICT_FS01).unwrap();
    let mut findings = findings();
    assert!(waivers.apply(&mut findings, date("2026-12-31")).is_empty());
    assert_eq!(waived(&findings).len(), 1);

    let mut findings = self::findings();
    let notices = waivers.apply(&mut findings, date("2027-01-01"));
    assert!(
        waived(&findings).is_empty(),
        "an expired waiver must not apply"
    );
    assert_eq!(notices.len(), 1, "{notices:?}");
    let notice = &notices[0];
    assert_eq!(notice.level, NoticeLevel::Warning);
    assert_eq!(notice.code, "hiveward::waiver::expired");
    assert_eq!(notice.file.as_deref(), Some("site/waivers.toml"));
    for part in [
        "site/waivers.toml:3",
        "HW-STRICT-001",
        "FS0*",
        "FS01",
        "2026-12-31",
    ] {
        assert!(notice.message.contains(part), "{part}: {}", notice.message);
    }
}

#[test]
fn a_waiver_that_matches_nothing_leaves_a_note() {
    let waivers = load(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"NOSUCHHOST\"\njustification = \"x\"\n",
    )
    .unwrap();
    let mut findings = findings();
    let notices = waivers.apply(&mut findings, date("2026-01-01"));
    assert!(waived(&findings).is_empty());
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].level, NoticeLevel::Note);
    assert_eq!(notices[0].code, "hiveward::waiver::unused");
    assert!(notices[0].message.contains("site/waivers.toml:1"));
}

#[test]
fn host_globs_are_case_insensitive_and_must_match() {
    let mut findings = findings();
    let waivers = load(
        "[[waiver]]\nrule = \"HW-HARD-003\"\nhost = \"wks?\"\njustification = \"lab machine\"\n",
    )
    .unwrap();
    waivers.apply(&mut findings, date("2030-01-01"));
    assert_eq!(
        waived(&findings),
        vec![("HW-HARD-003".to_string(), "WKS7".to_string())]
    );

    let mut findings = self::findings();
    let waivers = load(
        "[[waiver]]\nrule = \"HW-HARD-003\"\nhost = \"FS*\"\njustification = \"wrong host\"\n",
    )
    .unwrap();
    waivers.apply(&mut findings, date("2030-01-01"));
    assert!(waived(&findings).is_empty());
}

#[test]
fn rule_globs_match_several_rules() {
    let mut findings = findings();
    let waivers =
        load("[[waiver]]\nrule = \"hw-*\"\nhost = \"*\"\njustification = \"everything\"\n")
            .unwrap();
    waivers.apply(&mut findings, date("2030-01-01"));
    assert_eq!(waived(&findings).len(), findings.len());

    let mut findings = self::findings();
    let waivers =
        load("[[waiver]]\nrule = \"HW-HARD-*\"\nhost = \"*\"\njustification = \"hardening\"\n")
            .unwrap();
    waivers.apply(&mut findings, date("2030-01-01"));
    assert!(waived(&findings)
        .iter()
        .all(|(rule, _)| rule.starts_with("HW-HARD-")));
    assert!(!waived(&findings).is_empty());
}

#[test]
fn evidence_globs_match_the_registry_value() {
    let text = |evidence: &str| {
        format!(
            "[[waiver]]\nrule = \"*\"\nhost = \"*\"\njustification = \"j\"\nevidence = '{evidence}'\n"
        )
    };
    let mut findings = findings();
    load(&text(
        r"*\LanmanServer\Parameters\DisableStrictNameChecking",
    ))
    .unwrap()
    .apply(&mut findings, date("2030-01-01"));
    assert_eq!(
        waived(&findings),
        vec![("HW-STRICT-001".to_string(), "FS01".to_string())]
    );

    // Case-insensitive, and as the rule wrote the path (CurrentControlSet).
    let mut findings = self::findings();
    load(&text(
        r"hklm\system\currentcontrolset\services\lanmanserver\parameters\smbservernamehardeninglevel",
    ))
    .unwrap()
    .apply(&mut findings, date("2030-01-01"));
    assert_eq!(
        waived(&findings),
        vec![("HW-HARD-003".to_string(), "WKS7".to_string())]
    );

    let mut findings = self::findings();
    let notices = load(&text(r"*\SomethingElse"))
        .unwrap()
        .apply(&mut findings, date("2030-01-01"));
    assert!(waived(&findings).is_empty());
    assert_eq!(notices[0].code, "hiveward::waiver::unused");
}

#[test]
fn evidence_globs_match_note_text() {
    let mut finding = findings().remove(0);
    finding.evidence = vec![hiveward_engine::Evidence::note("alias FILES registered")];
    let mut findings = vec![finding];
    load(&format!(
        "[[waiver]]\nrule = \"{}\"\nhost = \"*\"\njustification = \"j\"\nevidence = \"*alias files*\"\n",
        findings[0].rule
    ))
    .unwrap()
    .apply(&mut findings, date("2030-01-01"));
    assert!(findings[0].suppression.is_some());
}

#[test]
fn the_first_active_waiver_wins_and_expired_ones_are_skipped() {
    let text = "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"old\"\nexpires = \"2020-01-01\"\n\n[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"new\"\n\n[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"FS01\"\njustification = \"newer\"\n";
    let waivers = load(text).unwrap();
    assert_eq!(
        waivers
            .waivers()
            .iter()
            .map(|waiver| waiver.line())
            .collect::<Vec<_>>(),
        vec![1, 7, 12]
    );
    let mut findings = findings();
    let notices = waivers.apply(&mut findings, date("2025-01-01"));
    let strict = find(&findings, "HW-STRICT-001", "FS01").unwrap();
    assert_eq!(strict.suppression.as_ref().unwrap().justification, "new");
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].code, "hiveward::waiver::expired");
    assert!(notices[0].message.contains("site/waivers.toml:1:"));
}

#[test]
fn an_empty_file_has_no_waivers() {
    assert!(load("").unwrap().is_empty());
    assert!(load("# nothing waived yet\n").unwrap().is_empty());
}

fn error(text: &str) -> WaiverError {
    match load(text) {
        Ok(waivers) => panic!("expected an error, got {waivers:?}"),
        Err(error) => error,
    }
}

#[test]
fn a_toml_syntax_error_names_the_file_and_line() {
    let error = error(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"unterminated\n",
    );
    assert_eq!(error.line(), 4);
    let shown = error.to_string();
    assert!(shown.starts_with("site/waivers.toml:4:"), "{shown}");
    assert!(matches!(error, WaiverError::Invalid { .. }));
}

#[test]
fn a_missing_justification_points_at_the_waiver() {
    let error = error(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"ok\"\n\n[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\nowner = \"me\"\n",
    );
    assert_eq!(error.line(), 6, "{error}");
    assert!(error.message().contains("justification"), "{error}");
    assert!(error.to_string().starts_with("site/waivers.toml:6:"));

    let error =
        self::error("[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"  \"\n");
    assert_eq!(error.line(), 4, "{error}");
    assert!(error.message().contains("empty"), "{error}");
}

#[test]
fn missing_rule_or_host_is_an_error() {
    let error = error("[[waiver]]\nhost = \"*\"\njustification = \"j\"\n");
    assert_eq!(error.line(), 1);
    assert!(error.message().contains("`rule`"), "{error}");
    let error = self::error("\n[[waiver]]\nrule = \"HW-STRICT-001\"\njustification = \"j\"\n");
    assert_eq!(error.line(), 2);
    assert!(error.message().contains("`host`"), "{error}");
}

#[test]
fn a_bad_date_points_at_its_line() {
    for (expires, fragment) in [
        ("\"2026-02-30\"", "2026-02-30"),
        ("\"31/12/2026\"", "31/12/2026"),
        ("2026-12-31T10:00:00", "date-time"),
        ("20261231", "integer"),
    ] {
        let error = error(&format!(
            "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\nexpires = {expires}\n"
        ));
        assert_eq!(error.line(), 5, "{expires}: {error}");
        assert!(error.message().contains("expires"), "{error}");
        assert!(error.message().contains(fragment), "{fragment}: {error}");
    }
    // A date that TOML itself rejects is a syntax error on that line.
    let error = error(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\nexpires = 2026-13-01\n",
    );
    assert_eq!(error.line(), 5, "{error}");
    // A date written as a string is accepted.
    let waivers = load(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\nexpires = \"2028-02-29\"\n",
    )
    .unwrap();
    assert_eq!(waivers.waivers()[0].expires, Some(date("2028-02-29")));
}

#[test]
fn an_unknown_key_points_at_the_key() {
    let error = error(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\nexpiry = 2026-01-01\n",
    );
    assert_eq!(error.line(), 5);
    assert!(error.message().contains("`expiry`"), "{error}");

    let error = self::error("[waivers]\nrule = \"HW-STRICT-001\"\n");
    assert_eq!(error.line(), 1);
    assert!(error.message().contains("`waivers`"), "{error}");

    let error =
        self::error("[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = 7\njustification = \"j\"\n");
    assert_eq!(error.line(), 3);
    assert!(error.message().contains("string"), "{error}");
}

#[test]
fn a_bad_glob_is_an_error() {
    let error =
        error("[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"FS[0\"\njustification = \"j\"\n");
    assert_eq!(error.line(), 3);
    assert!(error.message().contains("glob"), "{error}");
}

#[test]
fn an_unknown_rule_id_is_named_with_its_line() {
    let error = error(
        "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\n\n[[waiver]]\nrule = \"HW-STRICT-999\"\nhost = \"*\"\njustification = \"typo\"\n",
    );
    assert_eq!(error.line(), 7);
    match &error {
        WaiverError::UnknownRule { rule, .. } => assert_eq!(rule, "HW-STRICT-999"),
        other => panic!("{other:?}"),
    }
    let shown = error.to_string();
    assert!(shown.contains("HW-STRICT-999"), "{shown}");
    assert!(shown.starts_with("site/waivers.toml:7:"), "{shown}");

    let error =
        self::error("[[waiver]]\nrule = \"HW-NOPE-*\"\nhost = \"*\"\njustification = \"j\"\n");
    assert!(matches!(error, WaiverError::UnknownRule { .. }));
    assert!(error.message().contains("HW-NOPE-*"), "{error}");
}

#[test]
fn errors_render_as_located_miette_diagnostics() {
    use miette::Diagnostic;
    let error =
        error("[[waiver]]\nrule = \"HW-STRICT-999\"\nhost = \"*\"\njustification = \"j\"\n");
    assert_eq!(
        error.code().unwrap().to_string(),
        "hiveward::waiver::unknown_rule"
    );
    let label = error.labels().unwrap().next().unwrap();
    assert_eq!(label.offset(), "[[waiver]]\nrule = ".len());
    assert!(error.source_code().is_some());
}

#[test]
fn dates_parse_print_and_order() {
    assert_eq!(
        date("2026-12-31"),
        Date {
            year: 2026,
            month: 12,
            day: 31
        }
    );
    assert_eq!(date("2026-01-05").to_string(), "2026-01-05");
    assert!(date("2026-12-31") < date("2027-01-01"));
    assert!(date("2026-02-01") > date("2026-01-31"));
    for bad in [
        "2026-1-01",
        "2026-13-01",
        "2026-00-10",
        "2026-04-31",
        "2023-02-29",
        "1900-02-29",
        "26-01-01",
        "2026/01/01",
        "",
    ] {
        assert!(Date::parse(bad).is_err(), "{bad}");
    }
    for good in ["2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31"] {
        assert_eq!(date(good).to_string(), good);
    }
}

#[test]
fn days_since_the_epoch_become_civil_dates() {
    assert_eq!(Date::from_unix_days(0), date("1970-01-01"));
    assert_eq!(Date::from_unix_days(-1), date("1969-12-31"));
    assert_eq!(Date::from_unix_days(11_016), date("2000-02-29"));
    assert_eq!(Date::from_unix_days(11_017), date("2000-03-01"));
    assert_eq!(Date::from_unix_days(19_723), date("2024-01-01"));
    assert_eq!(Date::from_unix_days(20_818), date("2026-12-31"));
    // Every day of a few centuries follows the one before.
    let mut previous = Date::from_unix_days(-50_000);
    for day in -49_999..80_000 {
        let current = Date::from_unix_days(day);
        assert!(current > previous, "{previous} then {current}");
        assert_eq!(Date::parse(&current.to_string()), Ok(current));
        previous = current;
    }
}

#[test]
fn today_comes_from_the_system_clock() {
    let today = Date::today_utc();
    assert!(today.year >= 2024, "{today}");
    assert!(Date::new(today.year, today.month, today.day).is_some());
}
