//! Custom packs.

use super::*;

const PACK_TOML: &str = r#"name = "e2e-site"
version = "1.0.0"
description = "End-to-end test pack."
min_hiveward = "0.1.0"
"#;

const PLAIN_RULE: &str = r#"//! Plain-text passwords to third-party SMB servers are allowed.

export const RULE = #{
    id: "E2E-PLAIN-001",
    pack: "e2e-site",
    title: "Unencrypted passwords may be sent to SMB servers",
    description: "EnablePlainTextPassword = 1 lets the SMB client send passwords in clear text.",
    severity: "high",
    tags: ["smb", "test"],
    references: ["end-to-end test"],
    scope: "host",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] },
    fix: `Set {{path}}\EnablePlainTextPassword to 0 on {{host}}.`,
};

fn check(host) {
    let path = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`;
    let setting = host.setting(path, "EnablePlainTextPassword", 0);
    if setting.observed_type != () && setting.observed_type != "REG_DWORD" {
        return [];
    }
    if setting.value != 1 {
        return [];
    }
    setting.expected = 0;
    [#{
        message: `EnablePlainTextPassword is 1 on ${host.name}.`,
        evidence: [setting],
        fix_values: #{ host: host.name, path: path },
    }]
}
"#;

const PLAIN_TESTS: &str = r#"[[case]]
name = "plain-text passwords allowed fires"
expect = ["E2E-PLAIN-001"]
message_contains = "is 1 on HOST"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:00000001
'''

[[case]]
name = "plain-text passwords refused is clean"
expect = []
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:00000000
'''

[[case]]
name = "no workstation service is not applicable"
expect = []
outcome = "not_applicable"
reason_contains = "LanmanWorkstation"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"
'''
"#;

/// Writes a pack folder with `pack.toml` and the given files.
pub(super) fn write_pack(folder: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(folder).unwrap();
    fs::write(folder.join("pack.toml"), PACK_TOML).unwrap();
    for (name, text) in files {
        fs::write(folder.join(name), text).unwrap();
    }
}

/// A SYSTEM hive of host `name` with `EnablePlainTextPassword` set to `plain`.
pub(super) fn system_hive(name: &str, plain: u32) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\
         \"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\
         \"ComputerName\"=\"{name}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n\
         \"SmbServerNameHardeningLevel\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\n\
         \"EnablePlainTextPassword\"=dword:{plain:08x}\n"
    ))
}

/// A bundle with ALPHA (plain-text passwords allowed) and BRAVO (refused).
fn write_bundle(folder: &Path) {
    fs::create_dir_all(folder).unwrap();
    fs::write(folder.join("ALPHA_SYSTEM.HIV"), system_hive("ALPHA", 1)).unwrap();
    fs::write(folder.join("BRAVO_SYSTEM.HIV"), system_hive("BRAVO", 0)).unwrap();
}

#[test]
fn custom_pack_runs_beside_the_builtin_rules() {
    let dir = tempfile::tempdir().unwrap();
    write_pack(
        &dir.path().join("pack"),
        &[
            ("E2E-PLAIN-001.rhai", PLAIN_RULE),
            ("E2E-PLAIN-001.tests.toml", PLAIN_TESTS),
        ],
    );
    write_bundle(&dir.path().join("bundle"));

    // The pack's own tests pass, so the fixture pack is sound.
    let tested = hiveward(dir.path(), &["rules", "test", "pack"]);
    tested.assert_code(0);
    assert!(
        tested
            .stdout_text()
            .ends_with("rules test: 3 passed, 0 failed\n"),
        "{}",
        tested.stdout_text()
    );

    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--rules",
            "pack",
            "--only",
            "E2E-PLAIN-001,HW-HARD-003,HW-STRICT-001",
            "--format",
            "json",
        ],
    );
    // A high finding with the default --fail-on high.
    run.assert_code(1);
    let report = run.json();
    assert_no_rule_errors(&report);
    assert_eq!(
        rule_ids(&report),
        ["E2E-PLAIN-001", "HW-HARD-003", "HW-STRICT-001"]
    );
    let custom = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["id"] == "E2E-PLAIN-001")
        .unwrap();
    assert_eq!(custom["builtin"], false);
    assert_eq!(custom["pack"], "e2e-site");
    assert_eq!(report["summary"]["hosts"], 2);
    assert_eq!(report["summary"]["evaluations"], 6);

    let plain: Vec<&Value> = findings(&report)
        .iter()
        .filter(|finding| finding["rule"] == "E2E-PLAIN-001")
        .collect();
    assert_eq!(plain.len(), 1, "{report}");
    let finding = plain[0];
    assert_eq!(finding["host"], "ALPHA");
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["message"], "EnablePlainTextPassword is 1 on ALPHA.");
    let evidence = &finding["evidence"][0];
    assert!(evidence["resolved_path"]
        .as_str()
        .unwrap()
        .ends_with(r"ControlSet001\Services\LanmanWorkstation\Parameters"));
    assert_eq!(evidence["observed"], 1);
    assert_eq!(evidence["expected"], 0);
    assert!(evidence["file"]
        .as_str()
        .unwrap()
        .ends_with("ALPHA_SYSTEM.HIV"));
    assert!(
        finding["fix"].as_str().unwrap().contains("on ALPHA."),
        "fix values are filled in: {}",
        finding["fix"]
    );
    assert_matches_schema(&report);

    let only_custom = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--rules",
            "pack",
            "--no-builtin",
            "--format",
            "json",
        ],
    );
    only_custom.assert_code(1);
    let report = only_custom.json();
    assert_no_rule_errors(&report);
    assert_eq!(rule_ids(&report), ["E2E-PLAIN-001"]);
    assert_eq!(rule_hosts(&report), pairs(&[("E2E-PLAIN-001", "ALPHA")]));
    assert_eq!(report["summary"]["evaluations"], 2);
}

const RULE_HEAD: &str = r#"export const RULE = #{
    id: "E2E-BROKEN-001",
    pack: "e2e-site",
    title: "A broken rule",
    description: "Fails on purpose.",
    severity: "low",
    fix: "Nothing to fix.",
};
"#;

#[test]
fn a_rule_with_a_syntax_error_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // RULE_HEAD has 8 lines; the blank line is 9, `fn check` 10, the error on 11.
    let rule = format!("{RULE_HEAD}\nfn check(host) {{\n    let level = ;\n    []\n}}\n");
    write_pack(&dir.path().join("pack"), &[("E2E-BROKEN-001.rhai", &rule)]);
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            &root().join("examples/bundle").display().to_string(),
            "--rules",
            "pack",
            "--only",
            "E2E-BROKEN-001,HW-STRICT-001,HW-HARD-003",
            "--format",
            "json",
        ],
    );
    run.assert_code(2);
    assert!(
        run.stdout.is_empty(),
        "nothing is scanned with a broken pack"
    );
    let origin = Path::new("pack").join("E2E-BROKEN-001.rhai");
    let located = format!("{}:11:", origin.display());
    assert!(
        run.stderr.contains(&located),
        "stderr does not name {located}:\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("syntax error"), "{}", run.stderr);
}

#[test]
fn a_rule_failing_at_run_time_is_reported_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    // The call with arguments no function takes is on line 12, column 5.
    let rule = format!(
        "{RULE_HEAD}\nfn check(host) {{\n    let level = 1;\n    parse_int(host, level)\n}}\n"
    );
    write_pack(&dir.path().join("pack"), &[("E2E-BROKEN-001.rhai", &rule)]);
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            &root().join("examples/bundle").display().to_string(),
            "--rules",
            "pack",
            "--only",
            "E2E-BROKEN-001,HW-STRICT-001,HW-HARD-003",
            "--format",
            "json",
        ],
    );
    run.assert_code(2);
    let report = run.json();
    // The built-in rules still report their findings.
    assert_eq!(
        rule_hosts(&report),
        pairs(&[("HW-STRICT-001", "FS01"), ("HW-HARD-003", "WKS7")])
    );
    let errors = report["rule_errors"].as_array().unwrap();
    let hosts: Vec<&str> = errors
        .iter()
        .map(|error| error["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["FS01", "PC22", "WKS7"], "{errors:?}");
    for error in errors {
        assert_eq!(error["rule"], "E2E-BROKEN-001");
        assert_eq!(error["line"], 12, "{error}");
        assert!(
            error["file"]
                .as_str()
                .unwrap()
                .ends_with("E2E-BROKEN-001.rhai"),
            "{error}"
        );
        assert!(
            error["message"].as_str().unwrap().contains("parse_int"),
            "{error}"
        );
    }
    assert_eq!(report["summary"]["rule_errors"], 3);
    // The three evaluations of the built-in rules on three hosts, times two rules, completed.
    assert_eq!(report["summary"]["evaluations"], 6);
    assert!(
        run.stderr
            .contains("rule E2E-BROKEN-001 failed on host FS01"),
        "{}",
        run.stderr
    );
    assert_matches_schema(&report);
}
