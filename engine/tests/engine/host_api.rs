//! The host API.

use super::*;

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
