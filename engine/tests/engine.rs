//! The engine on hives built in the tests: the host API (case, absent values, types),
//! fleet rules, rule errors, metadata validation, findings and their fingerprints,
//! determinism and rule selection.

use std::collections::BTreeMap;

use hiveward_engine::{
    context_map, Evaluation, Evidence, Finding, HostHandle, JsonValue, Limits, PackSource, RuleSet,
    Selection, Severity,
};
use serde_json::json;

mod common;
use common::{evaluate, host_from_reg, load_with, manifest_text, pack_source, rule_origin};

const PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";

/// A pack named `name` whose rules are (id, text); each is stored as `ID.rhai`.
fn pack(name: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_with_manifest(name, &manifest_text(name, "0.1.0"), rules)
}

fn pack_with_manifest(name: &str, manifest: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_source(name, manifest, rules, &[])
}

/// A rule file: the `RULE` map on line 1 (with `extra` metadata fields), `body` from line 2 on.
fn rule_text(id: &str, pack: &str, extra: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"{pack}\", title: \"Title of {id}\", description: \"d\", severity: \"low\", fix: \"Fix {id}.\"{extra} }};\n{body}\n"
    )
}

fn load(packs: Vec<PackSource>) -> RuleSet {
    load_with(packs, Limits::default())
}

fn host(name: &str, reg: &str) -> HostHandle {
    host_from_reg(name, reg)
}

/// `.reg` text for a SYSTEM hive whose current set is ControlSet002; `values` go into its
/// `Services\LanmanServer\Parameters`. ControlSet001 (not current) holds level 1.
fn system_reg(values: &str) -> String {
    format!(
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000002
"LastKnownGood"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\LanmanServer\Parameters]
"EnableSecuritySignature"=dword:00000001
{values}
"#
    )
}

fn level_host(name: &str, level: u32) -> HostHandle {
    host(
        name,
        &system_reg(&format!(
            "\"SmbServerNameHardeningLevel\"=dword:{level:08x}"
        )),
    )
}

fn messages(evaluation: &Evaluation) -> Vec<(&str, &str, &str)> {
    evaluation
        .findings
        .iter()
        .map(|finding| {
            (
                finding.rule.as_str(),
                finding.host.as_str(),
                finding.message.as_str(),
            )
        })
        .collect()
}

fn no_rule_errors(evaluation: &Evaluation) {
    assert!(
        evaluation.rule_errors.is_empty(),
        "unexpected rule errors: {:?}",
        evaluation.rule_errors
    );
}

fn json_value(value: serde_json::Value) -> Option<JsonValue> {
    Some(JsonValue(value))
}

// ---------------------------------------------------------------------------------------------
// The host API
// ---------------------------------------------------------------------------------------------

#[test]
fn key_and_value_names_match_without_regard_to_case() {
    let reg = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\CONTROLSET001\SERVICES\lanmanserver\PARAMETERS]
"SMBSERVERNAMEHARDENINGLEVEL"=dword:00000002
"#;
    let rule = rule_text(
        "T-CASE-001",
        "p",
        "",
        r#"fn check(host) {
    let exact = host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel");
    let lower = host.reg(`hklm\system\currentcontrolset\services\lanmanserver\parameters`, "smbservernamehardeninglevel");
    let long = host.reg(`HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel");
    let key = host.key_exists(`HKLM\System\CurrentControlSet\Services\LanmanServer\Parameters`);
    let setting = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel");
    #{ message: `${exact}|${lower}|${long}|${key}`, evidence: [setting] }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-CASE-001", &rule)])]);
    let evaluation = evaluate(&rules, &[host("FS01", reg)]);
    no_rule_errors(&evaluation);
    assert_eq!(
        messages(&evaluation),
        [("T-CASE-001", "FS01", "2|2|2|true")]
    );
    let evidence = &evaluation.findings[0].evidence[0];
    assert_eq!(evidence.observed, json_value(json!(2)));
    assert_eq!(evidence.observed_type.as_deref(), Some("REG_DWORD"));
    assert!(!evidence.default_applied);
    let resolved = evidence.resolved_path.as_deref().unwrap_or_default();
    assert!(
        resolved
            .eq_ignore_ascii_case(r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters"),
        "{resolved}"
    );
}

#[test]
fn absent_values_read_as_unit_and_setting_applies_the_default() {
    // The current set (002) lacks the value; the other set (001) has it and must not be read.
    let rule = rule_text(
        "T-ABS-001",
        "p",
        "",
        r#"fn check(host) {
    let p = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let raw = host.reg(p, "SmbServerNameHardeningLevel");
    let kind = host.reg_type(p, "SmbServerNameHardeningLevel");
    let absent = host.setting(p, "SmbServerNameHardeningLevel", 0);
    let no_default = host.setting(p, "SmbServerNameHardeningLevel");
    let present = host.setting(p, "EnableSecuritySignature", 0);
    #{
        message: `${type_of(raw)}|${type_of(kind)}|${absent.value}|${absent.default_applied}|${absent.present}|${type_of(no_default.value)}|${no_default.default_applied}|${present.value}|${present.default_applied}`,
        evidence: [absent, present],
    }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-ABS-001", &rule)])]);
    let evaluation = evaluate(&rules, &[host("FS01", &system_reg(""))]);
    no_rule_errors(&evaluation);
    assert_eq!(
        messages(&evaluation),
        [("T-ABS-001", "FS01", "()|()|0|true|false|()|false|1|false")]
    );
    let finding = &evaluation.findings[0];
    assert_eq!(
        finding.evidence,
        [
            Evidence {
                kind: "registry".to_string(),
                path: Some(PARAMETERS.to_string()),
                resolved_path: Some(
                    r"HKLM\SYSTEM\ControlSet002\Services\LanmanServer\Parameters".to_string()
                ),
                value_name: Some("SmbServerNameHardeningLevel".to_string()),
                observed: None,
                observed_type: None,
                default_applied: true,
                effective: json_value(json!(0)),
                file: Some("FS01_SYSTEM.HIV".to_string()),
                ..Evidence::note("")
            }
            .without_note(),
            Evidence {
                kind: "registry".to_string(),
                path: Some(PARAMETERS.to_string()),
                resolved_path: Some(
                    r"HKLM\SYSTEM\ControlSet002\Services\LanmanServer\Parameters".to_string()
                ),
                value_name: Some("EnableSecuritySignature".to_string()),
                observed: json_value(json!(1)),
                observed_type: Some("REG_DWORD".to_string()),
                default_applied: false,
                effective: json_value(json!(1)),
                file: Some("FS01_SYSTEM.HIV".to_string()),
                ..Evidence::note("")
            }
            .without_note(),
        ]
    );
    // As reported: the JSON of the finding says the default was applied, where and from what.
    let reported = serde_json::to_value(finding).expect("findings serialise");
    let absent = &reported["evidence"][0];
    assert_eq!(absent["default_applied"], json!(true));
    assert_eq!(
        absent["resolved_path"],
        json!(r"HKLM\SYSTEM\ControlSet002\Services\LanmanServer\Parameters")
    );
    assert_eq!(absent["file"], json!("FS01_SYSTEM.HIV"));
    assert_eq!(absent["effective"], json!(0));
    assert!(absent.get("observed").is_none(), "{absent}");
}

/// Clears the `note` that `Evidence::note` sets, so struct-update syntax can fill the rest.
trait WithoutNote {
    fn without_note(self) -> Self;
}

impl WithoutNote for Evidence {
    fn without_note(mut self) -> Self {
        self.note = None;
        self
    }
}

#[test]
fn registry_types_are_not_coerced() {
    let reg = system_reg(
        r#""Str"="1"
"Dword"=dword:00000001
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00
"Bin"=hex:de,ad,be,ef
"Qword"=hex(b):01,00,00,00,01,00,00,00"#,
    );
    let rule = rule_text(
        "T-TYPE-001",
        "p",
        "",
        r#"fn check(host) {
    let p = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let s = host.reg(p, "Str");
    let d = host.reg(p, "Dword");
    let m = host.reg(p, "Multi");
    let b = host.reg(p, "Bin");
    let q = host.reg(p, "Qword");
    let found = [];
    found.push(#{ message: `Str|${host.reg_type(p, "Str")}|${type_of(s)}|${s == "1"}|${s == 1}` });
    found.push(#{ message: `Dword|${host.reg_type(p, "Dword")}|${type_of(d)}|${d == 1}|${d == "1"}` });
    found.push(#{ message: `Multi|${host.reg_type(p, "Multi")}|${type_of(m)}|${m.len()}|${m[0]}|${m[1]}` });
    found.push(#{ message: `Bin|${host.reg_type(p, "Bin")}|${type_of(b)}|${b.len()}|${b[0]}|${b[3]}` });
    found.push(#{ message: `Qword|${host.reg_type(p, "Qword")}|${type_of(q)}|${q}` });
    let evidence = [];
    for name in ["Str", "Multi", "Bin", "Qword"] {
        evidence.push(host.setting(p, name));
    }
    found.push(#{ message: "evidence", evidence: evidence });
    found
}"#,
    );
    let rules = load(vec![pack("p", &[("T-TYPE-001", &rule)])]);
    let evaluation = evaluate(&rules, &[host("FS01", &reg)]);
    no_rule_errors(&evaluation);
    let mut seen: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|finding| finding.message.as_str())
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "Bin|REG_BINARY|blob|4|222|239",
            "Dword|REG_DWORD|i64|true|false",
            "Multi|REG_MULTI_SZ|array|2|a|b",
            "Qword|REG_QWORD|i64|4294967297",
            "Str|REG_SZ|string|true|false",
            "evidence",
        ]
    );
    let evidence = &evaluation
        .findings
        .iter()
        .find(|finding| finding.message == "evidence")
        .expect("the evidence finding")
        .evidence;
    let observed: Vec<(Option<&str>, Option<&str>, Option<&JsonValue>)> = evidence
        .iter()
        .map(|item| {
            (
                item.value_name.as_deref(),
                item.observed_type.as_deref(),
                item.observed.as_ref(),
            )
        })
        .collect();
    assert_eq!(
        observed,
        [
            (Some("Str"), Some("REG_SZ"), Some(&JsonValue(json!("1")))),
            (
                Some("Multi"),
                Some("REG_MULTI_SZ"),
                Some(&JsonValue(json!(["a", "b"])))
            ),
            (
                Some("Bin"),
                Some("REG_BINARY"),
                Some(&JsonValue(json!("deadbeef")))
            ),
            (
                Some("Qword"),
                Some("REG_QWORD"),
                Some(&JsonValue(json!(4_294_967_297_u64)))
            ),
        ]
    );
}

#[test]
fn check_receives_the_profile_and_parameters() {
    let rule = rule_text(
        "T-CTX-001",
        "p",
        "",
        "fn check(host, ctx) {\n    #{ message: `${ctx.profile}|${ctx.params.level}|${type_of(ctx.params.missing)}` }\n}",
    );
    let rules = load(vec![pack("p", &[("T-CTX-001", &rule)])]);
    let params = BTreeMap::from([("level".to_string(), "2".to_string())]);
    let evaluation = rules.evaluate(&[level_host("FS01", 0)], &context_map("stig-2012", &params));
    no_rule_errors(&evaluation);
    assert_eq!(
        messages(&evaluation),
        [("T-CTX-001", "FS01", "stig-2012|2|()")]
    );
}

// ---------------------------------------------------------------------------------------------
// Fleet rules and rule errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fleet_rule_sees_every_host_and_its_findings_name_hosts() {
    let fleet = rule_text(
        "T-FLEET-001",
        "p",
        ", scope: \"fleet\"",
        r#"fn summarize(host) {
    #{ level: host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel") }
}

fn check(fleet) {
    let names = [];
    for h in fleet.hosts { names.push(h.name); }
    let found = [];
    for h in fleet.hosts {
        if h.level == 0 {
            found.push(#{ host: h.name, message: `${h.name} is at level 0; the fleet is ${names}` });
        }
    }
    found
}"#,
    );
    let per_host = rule_text(
        "T-HOST-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `seen ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[("T-FLEET-001", &fleet), ("T-HOST-001", &per_host)],
    )]);
    let hosts = [
        level_host("FS01", 0),
        level_host("FS02", 2),
        level_host("FS03", 0),
    ];
    let evaluation = evaluate(&rules, &hosts);
    no_rule_errors(&evaluation);
    // The fleet rule runs once, the host rule once per host.
    assert_eq!(evaluation.evaluations, 1 + 3);
    let fleet_findings: Vec<(&str, &str)> = evaluation
        .findings
        .iter()
        .filter(|finding| finding.rule == "T-FLEET-001")
        .map(|finding| (finding.host.as_str(), finding.message.as_str()))
        .collect();
    assert_eq!(
        fleet_findings,
        [
            (
                "FS01",
                r#"FS01 is at level 0; the fleet is ["FS01", "FS02", "FS03"]"#
            ),
            (
                "FS03",
                r#"FS03 is at level 0; the fleet is ["FS01", "FS02", "FS03"]"#
            ),
        ]
    );
    // With no hosts, a fleet rule does not run at all.
    let empty = evaluate(&rules, &[]);
    assert_eq!(empty.evaluations, 0);
    assert!(empty.findings.is_empty() && empty.rule_errors.is_empty());
}

#[test]
fn a_fleet_finding_without_a_host_is_a_rule_error() {
    let fleet = rule_text(
        "T-FLEET-002",
        "p",
        ", scope: \"fleet\"",
        "fn summarize(host) { #{} }\nfn check(fleet) {\n    [#{ message: `the fleet has ${fleet.hosts.len()} hosts` }]\n}",
    );
    let per_host = rule_text(
        "T-HOST-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `seen ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[("T-FLEET-002", &fleet), ("T-HOST-001", &per_host)],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0), level_host("FS02", 0)]);
    assert_eq!(
        messages(&evaluation),
        [
            ("T-HOST-001", "FS01", "seen FS01"),
            ("T-HOST-001", "FS02", "seen FS02")
        ]
    );
    assert_eq!(evaluation.rule_errors.len(), 1);
    let error = &evaluation.rule_errors[0];
    assert_eq!(error.rule, "T-FLEET-002");
    assert_eq!(error.host, "*");
    assert_eq!(error.file, rule_origin("p", "T-FLEET-002"));
    assert!(
        error.message.contains("must name its `host`"),
        "{}",
        error.message
    );
}

#[test]
fn a_failing_rule_leaves_the_other_rules_running() {
    let undefined = rule_text(
        "T-ERR-001",
        "p",
        "",
        "fn check(host) {\n    let level = host.name.sub_string(\"x\");\n    #{ message: `${level}` }\n}",
    );
    let not_a_map = rule_text("T-ERR-002", "p", "", "fn check(host) {\n    42\n}");
    let unknown_field = rule_text(
        "T-ERR-003",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"m\", colour: \"red\" }\n}",
    );
    let good = rule_text(
        "T-OK-001",
        "p",
        "",
        "fn check(host) {\n    #{ message: `fine on ${host.name}` }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[
            ("T-ERR-001", &undefined),
            ("T-ERR-002", &not_a_map),
            ("T-ERR-003", &unknown_field),
            ("T-OK-001", &good),
        ],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0), level_host("FS02", 1)]);
    assert_eq!(
        messages(&evaluation),
        [
            ("T-OK-001", "FS01", "fine on FS01"),
            ("T-OK-001", "FS02", "fine on FS02")
        ]
    );
    assert_eq!(evaluation.evaluations, 2);
    let errors: Vec<(&str, &str, Option<usize>)> = evaluation
        .rule_errors
        .iter()
        .map(|error| (error.rule.as_str(), error.host.as_str(), error.line))
        .collect();
    assert_eq!(
        errors,
        [
            ("T-ERR-001", "FS01", Some(3)),
            ("T-ERR-001", "FS02", Some(3)),
            ("T-ERR-002", "FS01", None),
            ("T-ERR-002", "FS02", None),
            ("T-ERR-003", "FS01", None),
            ("T-ERR-003", "FS02", None),
        ]
    );
    let message = |rule: &str| {
        evaluation
            .rule_errors
            .iter()
            .find(|error| error.rule == rule)
            .map(|error| error.message.clone())
            .unwrap_or_default()
    };
    assert!(message("T-ERR-001").starts_with("Function not found: sub_string"));
    assert!(message("T-ERR-002").contains("a finding must be a map"));
    assert!(message("T-ERR-003").contains("unknown finding field `colour`"));
}

// ---------------------------------------------------------------------------------------------
// Metadata validation
// ---------------------------------------------------------------------------------------------

/// A valid rule with one metadata field per line, so each problem has a line of its own.
const META_RULE: &str = r#"//! A rule for the metadata tests.
export const RULE = #{
    id: "T-META-001",
    pack: "p",
    title: "Title",
    description: "Description",
    severity: "low",
    fix: "Fix it.",
};

fn check(host) {
    []
}
"#;

/// Loads `packs`, which must fail, and returns the load errors as displayed.
fn load_errors(packs: Vec<PackSource>) -> Vec<String> {
    match RuleSet::load(packs, Limits::default()) {
        Ok(_) => panic!("the packs must not load"),
        Err(errors) => errors.iter().map(|error| error.to_string()).collect(),
    }
}

/// Checks that `text` fails to load with one error at `line` of its file that mentions
/// `needle`.
fn assert_meta_error(text: &str, line: usize, needle: &str) {
    let errors = load_errors(vec![pack("p", &[("T-META-001", text)])]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let prefix = format!("{}:{line}:", rule_origin("p", "T-META-001"));
    assert!(
        errors[0].starts_with(&prefix),
        "the error must point at line {line} ({:?}): {}",
        text.lines().nth(line - 1).unwrap_or_default(),
        errors[0]
    );
    assert!(
        errors[0].contains(needle),
        "the error must mention {needle:?}: {}",
        errors[0]
    );
}

#[test]
fn the_metadata_template_loads() {
    let rules = load(vec![pack("p", &[("T-META-001", META_RULE)])]);
    let rule = rules.rule("T-META-001").expect("the rule");
    assert_eq!(rule.meta.severity, Severity::Low);
    assert_eq!(rule.file.origin, rule_origin("p", "T-META-001"));
}

#[test]
fn a_missing_fix_is_a_load_error_at_the_rule_map() {
    assert_meta_error(
        &META_RULE.replace("    fix: \"Fix it.\",\n", ""),
        2,
        "missing field `fix`",
    );
}

#[test]
fn an_unknown_severity_is_a_load_error_at_its_line() {
    assert_meta_error(&META_RULE.replace("\"low\"", "\"urgent\""), 7, "urgent");
}

#[test]
fn an_unknown_field_is_a_load_error_at_its_line() {
    assert_meta_error(
        &META_RULE.replace(
            "    fix: \"Fix it.\",\n",
            "    fix: \"Fix it.\",\n    colour: \"red\",\n",
        ),
        9,
        "unknown field `colour`",
    );
}

#[test]
fn a_malformed_id_is_a_load_error_at_its_line() {
    for id in [
        "t-meta-001",
        "T_META_001",
        "TMETA",
        "T--001",
        "-T-001",
        "1T-001",
    ] {
        assert_meta_error(
            &META_RULE.replace("T-META-001", id),
            3,
            &format!("id `{id}` must look like"),
        );
    }
}

#[test]
fn a_pack_name_other_than_the_manifest_is_a_load_error_at_its_line() {
    assert_meta_error(
        &META_RULE.replace("pack: \"p\"", "pack: \"other\""),
        4,
        "the rule says pack `other` but sits in pack `p`",
    );
}

#[test]
fn a_rule_without_check_is_a_load_error() {
    for replacement in ["fn verify(host)", "fn check()", "fn check(a, b, c)"] {
        assert_meta_error(
            &META_RULE.replace("fn check(host)", replacement),
            1,
            "must define `fn check(host)`",
        );
    }
}

#[test]
fn a_rule_without_metadata_is_a_load_error() {
    assert_meta_error(
        &META_RULE.replace(
            "export const RULE = #{",
            "fn meta() { 1 }\nexport const RULE = meta();\nconst UNUSED = #{",
        ),
        3,
        "must export its metadata",
    );
}

#[test]
fn a_duplicate_rule_id_across_packs_is_a_load_error_at_the_id() {
    let second = META_RULE.replace("pack: \"p\"", "pack: \"p2\"");
    let errors = load_errors(vec![
        pack("p", &[("T-META-001", META_RULE)]),
        pack("p2", &[("T-META-001", &second)]),
    ]);
    assert_eq!(
        errors,
        [format!(
            "{}:3:10: rule id T-META-001 is already defined in {}",
            rule_origin("p2", "T-META-001"),
            rule_origin("p", "T-META-001")
        )]
    );
}

#[test]
fn a_pack_for_a_newer_hiveward_is_a_load_error_at_min_hiveward() {
    let errors = load_errors(vec![pack_with_manifest(
        "p",
        &manifest_text("p", "99.0.0"),
        &[("T-META-001", META_RULE)],
    )]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/pack.toml:4:1: pack `p` needs hiveward 99.0.0 or later"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_syntax_error_is_a_load_error_at_its_line_and_column() {
    let errors = load_errors(vec![pack(
        "p",
        &[(
            "T-META-001",
            &META_RULE.replace("    []\n", "    let x = ;\n"),
        )],
    )]);
    assert_eq!(
        errors,
        [format!(
            "{}:12:13: syntax error: Unexpected ';'",
            rule_origin("p", "T-META-001")
        )]
    );
}

#[test]
fn every_load_error_is_reported_at_once() {
    let errors = load_errors(vec![
        pack(
            "p",
            &[
                ("T-META-001", &META_RULE.replace("\"low\"", "\"urgent\"")),
                (
                    "T-META-002",
                    &META_RULE
                        .replace("T-META-001", "T-META-002")
                        .replace("    []\n", "    let x = ;\n"),
                ),
            ],
        ),
        pack_with_manifest("q", &manifest_text("q", "99.0.0"), &[]),
    ]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("/packs/p/T-META-001.rhai:"));
    assert!(errors[1].starts_with("/packs/p/T-META-002.rhai:12:13:"));
    assert!(errors[2].starts_with("/packs/q/pack.toml:4:1:"));
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

#[test]
fn findings_carry_the_message_filled_fix_and_inferred_flag() {
    let inferred = r#"export const RULE = #{
    id: "T-FIND-001",
    pack: "p",
    title: "Hardening level too low",
    description: "d",
    severity: "high",
    inferred: true,
    fix: "Set `{{value_name}}` to {{required}} on {{host}}; allow {{names}}. {{unknown}} stays.",
};

fn check(host) {
    let s = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel", 0);
    #{
        message: `level ${s.value} on ${host.name}`,
        evidence: [s],
        fix_values: #{ value_name: "SmbServerNameHardeningLevel", required: 1, host: host.name, names: ["alias1", "alias2"] },
    }
}
"#;
    let plain = rule_text(
        "T-FIND-002",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"plain\" }\n}",
    );
    let flagged = rule_text(
        "T-FIND-003",
        "p",
        "",
        "fn check(host) {\n    #{ message: \"flagged\", inferred: true }\n}",
    );
    let rules = load(vec![pack(
        "p",
        &[
            ("T-FIND-001", inferred),
            ("T-FIND-002", &plain),
            ("T-FIND-003", &flagged),
        ],
    )]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0)]);
    no_rule_errors(&evaluation);
    let by_rule: BTreeMap<&str, &Finding> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.rule.as_str(), finding))
        .collect();
    let finding = by_rule["T-FIND-001"];
    assert_eq!(finding.pack, "p");
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.host, "FS01");
    assert_eq!(finding.title, "Hardening level too low");
    assert_eq!(finding.message, "level 0 on FS01");
    assert_eq!(
        finding.fix,
        "Set `SmbServerNameHardeningLevel` to 1 on FS01; allow alias1, alias2. {{unknown}} stays."
    );
    assert_eq!(
        finding.fix_values.get("required"),
        Some(&JsonValue(json!(1)))
    );
    assert_eq!(
        finding.fix_values.get("names"),
        Some(&JsonValue(json!(["alias1", "alias2"])))
    );
    assert!(finding.inferred, "the rule metadata says inferred: true");
    assert_eq!(finding.evidence.len(), 1);
    assert_eq!(finding.fingerprint.len(), 32);
    assert!(!by_rule["T-FIND-002"].inferred);
    assert_eq!(by_rule["T-FIND-002"].fix, "Fix T-FIND-002.");
    assert!(
        by_rule["T-FIND-003"].inferred,
        "the finding says inferred: true"
    );
}

/// The fingerprint of the one finding `T-FP-001` makes on `host`.
fn fingerprint_on(rules: &RuleSet, host: HostHandle) -> (String, String, Option<JsonValue>) {
    let evaluation = evaluate(rules, &[host]);
    no_rule_errors(&evaluation);
    assert_eq!(evaluation.findings.len(), 1);
    let finding = &evaluation.findings[0];
    (
        finding.fingerprint.clone(),
        finding.message.clone(),
        finding.evidence[0].observed.clone(),
    )
}

#[test]
fn fingerprints_follow_rule_host_and_evidence_identity_only() {
    let rule = rule_text(
        "T-FP-001",
        "p",
        "",
        r#"fn check(host) {
    let s = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`, "SmbServerNameHardeningLevel", 0);
    #{ message: `level ${s.value} (${s.observed_type}) on ${host.name}`, evidence: [s] }
}"#,
    );
    let rules = load(vec![pack("p", &[("T-FP-001", &rule)])]);
    let (base, base_message, base_observed) = fingerprint_on(&rules, level_host("FS01", 0));
    assert_eq!(base_observed, json_value(json!(0)));

    // Same host name, same evidence identity, other value and message.
    let (other_value, message, observed) = fingerprint_on(&rules, level_host("FS01", 2));
    assert_ne!(message, base_message);
    assert_ne!(observed, base_observed);
    assert_eq!(
        other_value, base,
        "a changed value must keep the fingerprint"
    );

    // Absent (the default applies) is still the same place.
    let (absent, message, observed) = fingerprint_on(&rules, host("FS01", &system_reg("")));
    assert_ne!(message, base_message);
    assert_eq!(observed, None);
    assert_eq!(absent, base, "an absent value must keep the fingerprint");

    // A REG_SZ in the same place: another type, same identity.
    let (string, _, observed) = fingerprint_on(
        &rules,
        host("FS01", &system_reg("\"SmbServerNameHardeningLevel\"=\"0\"")),
    );
    assert_eq!(observed, json_value(json!("0")));
    assert_eq!(string, base);

    // Host names compare without regard to case.
    let (lower, _, _) = fingerprint_on(&rules, level_host("fs01", 0));
    assert_eq!(lower, base);

    // Another host: another fingerprint.
    let (other_host, _, _) = fingerprint_on(&rules, level_host("FS02", 0));
    assert_ne!(other_host, base);

    // Another rule with the same evidence: another fingerprint.
    let renamed = rule.replace("T-FP-001", "T-FP-002");
    let other_rules = load(vec![pack("p", &[("T-FP-002", &renamed)])]);
    let evaluation = evaluate(&other_rules, &[level_host("FS01", 0)]);
    assert_ne!(evaluation.findings[0].fingerprint, base);
}

#[test]
fn fingerprints_differ_for_other_evidence_places_and_keys() {
    let rule = rule_text(
        "T-FP-003",
        "p",
        "",
        r#"fn check(host) {
    let p = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    [
        #{ message: "a", evidence: [host.setting(p, "SmbServerNameHardeningLevel")] },
        #{ message: "b", evidence: [host.setting(p, "EnableSecuritySignature")] },
        #{ message: "c", evidence: [host.setting(p, "SmbServerNameHardeningLevel")], key: "alias1" },
        #{ message: "d", evidence: [host.setting(p, "SmbServerNameHardeningLevel")], key: "alias2" },
        #{ message: "e", evidence: [host.setting(p, "smbservernamehardeninglevel")] },
    ]
}"#,
    );
    let rules = load(vec![pack("p", &[("T-FP-003", &rule)])]);
    let evaluation = evaluate(&rules, &[level_host("FS01", 0)]);
    no_rule_errors(&evaluation);
    let by_message: BTreeMap<&str, &str> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.message.as_str(), finding.fingerprint.as_str()))
        .collect();
    assert_ne!(by_message["a"], by_message["b"]);
    assert_ne!(by_message["a"], by_message["c"]);
    assert_ne!(by_message["c"], by_message["d"]);
    assert_eq!(by_message["a"], by_message["e"], "value names fold case");
}

// ---------------------------------------------------------------------------------------------
// Determinism and selection
// ---------------------------------------------------------------------------------------------

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
