//! Determinism and selection.

use super::*;

fn busy_rules() -> RuleSet {
    let many = rule_text(
        "T-DET-001",
        "p",
        "",
        r#"fn check(host) {
    let found = [];
    for i in [5, 3, 9, 1, 7] {
        found.push(#{ message: `item ${i} on ${host.name}`, key: `k${i}` });
    }
    found
}"#,
    )
    .replace("severity: \"low\"", "severity: \"medium\"");
    let high = rule_text(
        "T-DET-002",
        "p",
        "",
        r#"fn check(host) {
    let s = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel", 0);
    if s.value == 0 { #{ message: `level 0 on ${host.name}`, evidence: [s] } } else { [] }
}"#,
    )
    .replace("severity: \"low\"", "severity: \"high\"");
    let fleet = rule_text(
        "T-DET-003",
        "p",
        ", scope: \"fleet\"",
        r#"fn summarize(host) { #{} }
fn check(fleet) {
    let found = [];
    for h in fleet.hosts { found.push(#{ host: h.name, message: `fleet member ${h.name}` }); }
    found
}"#,
    );
    let failing = rule_text(
        "T-DET-004",
        "p",
        "",
        "fn check(host) {\n    if host.name == \"FS02\" { throw `no ${host.name}`; }\n    #{ message: \"ok\" }\n}",
    );
    load(vec![pack(
        "p",
        &[
            ("T-DET-003", &fleet),
            ("T-DET-001", &many),
            ("T-DET-004", &failing),
            ("T-DET-002", &high),
        ],
    )])
}

fn busy_hosts() -> Vec<HostHandle> {
    vec![
        level_host("FS03", 0),
        level_host("fs01", 2),
        level_host("FS02", 0),
    ]
}

#[test]
fn evaluation_is_deterministic_and_sorted() {
    let rules = busy_rules();
    let hosts = busy_hosts();
    let first = evaluate(&rules, &hosts);
    assert_eq!(first.findings.len(), 3 * 5 + 2 + 3 + 2);
    assert_eq!(first.rule_errors.len(), 1);
    for _ in 0..5 {
        let again = evaluate(&rules, &hosts);
        assert_eq!(again.findings, first.findings);
        assert_eq!(again.rule_errors, first.rule_errors);
        assert_eq!(again.evaluations, first.evaluations);
    }
    // A fresh load gives the same result too.
    let reloaded = evaluate(&busy_rules(), &busy_hosts());
    assert_eq!(reloaded.findings, first.findings);
    // Sorted by host (without regard to case), severity (highest first), rule, fingerprint.
    let order: Vec<(String, Severity, &str, &str)> = first
        .findings
        .iter()
        .map(|finding| {
            (
                finding.host.to_lowercase(),
                finding.severity,
                finding.rule.as_str(),
                finding.fingerprint.as_str(),
            )
        })
        .collect();
    let mut sorted = order.clone();
    sorted.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.cmp(b.2))
            .then(a.3.cmp(b.3))
    });
    assert_eq!(order, sorted);
    assert_eq!(first.findings[0].host, "fs01");
    let fs02: Vec<&str> = first
        .findings
        .iter()
        .filter(|finding| finding.host == "FS02")
        .map(|finding| finding.rule.as_str())
        .collect();
    assert_eq!(
        fs02,
        [
            "T-DET-002",
            "T-DET-001",
            "T-DET-001",
            "T-DET-001",
            "T-DET-001",
            "T-DET-001",
            "T-DET-003"
        ]
    );
}

fn selectable() -> RuleSet {
    let text = |id: &str, profiles: &str| {
        rule_text(
            id,
            "p",
            profiles,
            "fn check(host) {\n    #{ message: \"selected\" }\n}",
        )
    };
    let (one, two, three, four) = (
        text("T-SEL-001", ", profiles: [\"cis\"]"),
        text("T-SEL-002", ", profiles: [\"stig-2012\"]"),
        text("T-SEL-003", ""),
        text("T-SEL-004", ", profiles: [\"CIS\", \"stig-2012\"]"),
    );
    load(vec![pack(
        "p",
        &[
            ("T-SEL-001", &one),
            ("T-SEL-002", &two),
            ("T-SEL-003", &three),
            ("T-SEL-004", &four),
        ],
    )])
}

fn selected(only: &[&str], exclude: &[&str], profile: &str) -> Result<Vec<String>, String> {
    let mut rules = selectable();
    rules.select(&Selection {
        only: only.iter().map(|id| id.to_string()).collect(),
        exclude: exclude.iter().map(|id| id.to_string()).collect(),
        profile: profile.to_string(),
    })?;
    Ok(rules
        .rules()
        .iter()
        .map(|rule| rule.meta.id.clone())
        .collect())
}

#[test]
fn select_honours_only_exclude_and_profile() {
    let all = ["T-SEL-001", "T-SEL-002", "T-SEL-003", "T-SEL-004"];
    assert_eq!(selected(&[], &[], "").unwrap(), all);
    assert_eq!(selected(&["T-SEL-001"], &[], "").unwrap(), ["T-SEL-001"]);
    assert_eq!(selected(&["t-sel-002"], &[], "").unwrap(), ["T-SEL-002"]);
    assert_eq!(
        selected(&[], &["T-SEL-001", "T-SEL-004"], "").unwrap(),
        ["T-SEL-002", "T-SEL-003"]
    );
    assert_eq!(
        selected(&[], &[], "cis").unwrap(),
        ["T-SEL-001", "T-SEL-003", "T-SEL-004"]
    );
    assert_eq!(
        selected(&[], &[], "stig-2012").unwrap(),
        ["T-SEL-002", "T-SEL-003", "T-SEL-004"]
    );
    // A profile no loaded rule names is refused, not a run of the profile-less rules alone.
    let refused = selected(&[], &[], "other").expect_err("an unknown profile is refused");
    assert!(
        refused.contains("unknown profile `other`") && refused.contains("cis, stig-2012"),
        "{refused}"
    );
    // Globs, pack names and severity bounds select like ids.
    assert_eq!(
        selected(&["t-sel-00[12]"], &[], "").unwrap(),
        ["T-SEL-001", "T-SEL-002"]
    );
    assert_eq!(
        selected(&[], &["t-sel-*"], "").unwrap(),
        Vec::<String>::new()
    );
    assert!(selected(&["X-*"], &[], "")
        .unwrap_err()
        .contains("`X-*` matches no loaded rule"));
    assert_eq!(
        selected(&["T-SEL-001", "T-SEL-002"], &[], "cis").unwrap(),
        ["T-SEL-001"]
    );
    assert_eq!(
        selected(&["T-SEL-001"], &["T-SEL-001"], "").unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn select_refuses_unknown_ids_and_keeps_the_rules() {
    for (only, exclude) in [
        (vec!["T-NOPE-001"], vec![]),
        (vec![], vec!["T-NOPE-001"]),
        (vec!["T-SEL-001", "T-NOPE-001"], vec![]),
    ] {
        let mut rules = selectable();
        let error = rules
            .select(&Selection {
                only: only.iter().map(|id| id.to_string()).collect(),
                exclude: exclude.iter().map(|id| id.to_string()).collect(),
                profile: String::new(),
            })
            .expect_err("an unknown id is an error");
        assert!(error.contains("T-NOPE-001"), "{error}");
        assert_eq!(
            rules.rules().len(),
            4,
            "a refused selection changes nothing"
        );
    }
}

#[test]
fn only_selected_rules_run() {
    let mut rules = selectable();
    rules
        .select(&Selection {
            only: vec![],
            exclude: vec!["T-SEL-003".to_string()],
            profile: "cis".to_string(),
        })
        .unwrap();
    let evaluation = evaluate(&rules, &[level_host("FS01", 0)]);
    let ran: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|finding| finding.rule.as_str())
        .collect();
    assert_eq!(ran, ["T-SEL-001", "T-SEL-004"]);
    let only = selectable().evaluate_only(
        &["t-sel-002"],
        &[level_host("FS01", 0)],
        &context_map("cis", &BTreeMap::new()),
    );
    assert_eq!(only.findings.len(), 1);
    assert_eq!(only.findings[0].rule, "T-SEL-002");
}

#[test]
fn os_fact_reads_one_field_of_the_os_facts() {
    let software = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentBuildNumber"="17763"
"#;
    let rule = rule_text(
        "T-OSF-001",
        "p",
        "",
        r#"fn check(host) {
    let build = host.os_fact("build");
    let missing = host.os_fact("no_such_fact");
    let same = if host.os == () { build == () } else { build == host.os.build };
    #{ message: `${build}|${type_of(missing)}|${same}` }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-OSF-001", &rule)])]);
    let evaluation = evaluate(
        &rules,
        &[host("FS01", software), host("FS02", &system_reg(""))],
    );
    no_rule_errors(&evaluation);
    assert_eq!(
        messages(&evaluation),
        [
            ("T-OSF-001", "FS01", "17763|()|true"),
            ("T-OSF-001", "FS02", "|()|true")
        ]
    );
}

#[test]
fn the_name_helpers_give_the_forms_smb_compares() {
    let rule = rule_text(
        "T-NAME-001",
        "p",
        "",
        r#"fn check(host) {
    let own = [];
    for n in [" \\FILES.Corp.Example. ", "files.corp.example", "", "10.0.0.1"] { own.add_name(n); }
    let parts = [
        name_label("FILES.corp.example"), name_domain("files.corp.example"),
        `${name_suffixes("a.b.corp.example")}`, `${name_is_address("fe80::1")}`,
        `${name_hash("FILES") == name_hash("files")}`,
    ];
    #{ message: `${own}|${parts}` }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-NAME-001", &rule)])]);
    let evaluation = evaluate(&rules, &[host("FS01", &system_reg(""))]);
    no_rule_errors(&evaluation);
    assert_eq!(
        messages(&evaluation),
        [(
            "T-NAME-001",
            "FS01",
            r#"["files.corp.example", "10.0.0.1"]|["files", "corp.example", "[\"b.corp.example\", \"corp.example\"]", "true", "true"]"#
        )]
    );
}
