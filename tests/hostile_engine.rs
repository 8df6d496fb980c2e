//! Hostile rule packs and evidence against the `hiveward` binary (issue 12): `scan --timeout`,
//! event record ids beyond the integer range, fix templates that would flood the report, pack
//! links and oversized pack files, and SARIF that lists every file and still passes GitHub's
//! rules.
//!
//! Nothing here measures time: the timeout test asserts on outcomes only.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_evtxwriter::{security_4624, EvtxWriter};
use hiveward_testkit::{dirty_primary, hive_from_reg, workspace_root};
use serde_json::Value;
use support::hiveward;

/// A SYSTEM hive naming `computer`, whose Server service does not check names strictly.
fn system_hive(computer: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{computer}\"\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n\"DisableStrictNameChecking\"=dword:00000001\n"
    ))
}

/// Writes pack `p` under `dir` with `rules` as (id, body after the RULE map, extra metadata).
fn write_pack(dir: &Path, rules: &[(&str, &str, &str)]) -> PathBuf {
    let pack = dir.join("p");
    fs::create_dir_all(&pack).unwrap();
    fs::write(
        pack.join("pack.toml"),
        "name = \"p\"\nversion = \"0.1.0\"\ndescription = \"hostile tests\"\nmin_hiveward = \"0.1.0\"\n",
    )
    .unwrap();
    for (id, body, extra) in rules {
        fs::write(
            pack.join(format!("{id}.rhai")),
            format!(
                "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: \"f\"{extra} }};\n{body}\n"
            ),
        )
        .unwrap();
    }
    pack
}

#[test]
fn a_run_whose_timeout_expires_reports_what_was_not_checked_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("bundle")).unwrap();
    fs::write(
        dir.path().join("bundle/FS01_SYSTEM.HIV"),
        system_hive("FS01"),
    )
    .unwrap();
    // T-A-001 runs first on the one worker thread and cannot end before the deadline stops
    // it; T-B-001 would report a finding if it ever ran.
    write_pack(
        dir.path(),
        &[
            ("T-A-001", "fn check(host) {\n    loop {}\n}", ""),
            (
                "T-B-001",
                "fn check(host) {\n    [#{ message: \"ran\" }]\n}",
                "",
            ),
        ],
    );
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--rules",
            "p",
            "--no-builtin",
            "--jobs",
            "1",
            "--timeout",
            "1ms",
            "--allow-partial",
            "--format",
            "json",
            "--output-format",
            "text:out.txt",
            "--output-format",
            "sarif:out.sarif",
            "--output-format",
            "junit:out.xml",
        ],
    );
    run.assert_code(3);
    let report = run.json();
    let outcomes = report["hosts"][0]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    for outcome in outcomes {
        assert_eq!(outcome["outcome"], "not_checked", "{outcome}");
        let reason = outcome["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the run's --timeout of 1ms expired "),
            "{reason}"
        );
    }
    assert_eq!(
        outcomes[1]["reason"],
        "the run's --timeout of 1ms expired before this rule ran"
    );
    assert_eq!(report["summary"]["timed_out"], 2);
    assert!(report["findings"].as_array().unwrap().is_empty());
    assert!(report["rule_errors"].as_array().unwrap().is_empty());
    assert!(
        run.stderr
            .contains("error: the run's --timeout of 1ms expired"),
        "{}",
        run.stderr
    );

    let text = fs::read_to_string(dir.path().join("out.txt")).unwrap();
    assert!(
        text.contains("the run's --timeout of 1ms expired"),
        "{text}"
    );
    let sarif: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out.sarif")).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    assert!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
            .to_string()
            .contains("--timeout of 1ms expired before this rule ran")
    );
    let junit = fs::read_to_string(dir.path().join("out.xml")).unwrap();
    assert!(
        junit.contains("not checked: the run&apos;s --timeout of 1ms expired before this rule ran"),
        "{junit}"
    );
}

#[test]
fn a_timeout_that_is_not_a_duration_is_an_invalid_invocation() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("FS01_SYSTEM.HIV"), system_hive("FS01")).unwrap();
    for wrong in ["0s", "90", "ten", "-5s"] {
        let option = format!("--timeout={wrong}");
        let run = hiveward(dir.path(), &["scan", ".", &option]);
        run.assert_code(2);
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    }
}

#[test]
fn a_record_id_beyond_the_integer_range_keeps_the_high_finding() {
    let dir = tempfile::tempdir().unwrap();
    let first: u64 = (1 << 63) + 5;
    let mut log = EvtxWriter::new().first_record_id(first);
    log.push(security_4624("alice", 3, "NTLM", "NTLM V1"));
    log.write_to(dir.path().join("Security.evtx")).unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            ".",
            "--only",
            "HW-NTLM-002",
            "--format",
            "json",
            "--allow-partial",
        ],
    );
    run.assert_code(1);
    let report = run.json();
    assert!(
        report["rule_errors"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["severity"], "high");
    let ids: Vec<u64> = findings[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|evidence| {
            evidence["record_ids"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|id| id.as_u64().expect("an unsigned id"))
        .collect();
    assert_eq!(ids, [first]);
}

#[test]
fn a_fix_template_bomb_gives_a_small_report() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("FS01_SYSTEM.HIV"), system_hive("FS01")).unwrap();
    // 50 placeholders × 1 MB made a 50 MB fix (and 200 of them 603 MB of JSON).
    let placeholders = vec!["{{v}}"; 50].join(" ");
    let pack = write_pack(
        dir.path(),
        &[(
            "T-BOMB-001",
            "fn check(host) {\n    let v = \"\";\n    v.pad(1000000, \"x\");\n    [#{ message: \"bomb\", fix_values: #{ v: v } }]\n}",
            "",
        )],
    );
    let rule = pack.join("T-BOMB-001.rhai");
    let text = fs::read_to_string(&rule)
        .unwrap()
        .replace("fix: \"f\"", &format!("fix: \"{placeholders}\""));
    fs::write(&rule, text).unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "FS01_SYSTEM.HIV",
            "--rules",
            "p",
            "--no-builtin",
            "--format",
            "json",
        ],
    );
    run.assert_code(1);
    assert!(
        run.stdout.len() < 1_000_000,
        "{} bytes of JSON",
        run.stdout.len()
    );
    let report = run.json();
    let finding = &report["findings"][0];
    assert!(finding["fix"]
        .as_str()
        .unwrap()
        .contains("…[cut: the fix guidance"));
}

#[cfg(unix)]
#[test]
fn a_pack_linking_to_a_secret_is_refused_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack(dir.path(), &[("T-OK-001", "fn check(host) { [] }", "")]);
    let secret = dir.path().join("shadow");
    fs::write(&secret, "root:$6$TOP-SECRET-HASH:19000:0:99999:7:::\n").unwrap();
    std::os::unix::fs::symlink(&secret, pack.join("T-LEAK-001.rhai")).unwrap();
    let run = hiveward(dir.path(), &["rules", "list", "--rules", "p"]);
    run.assert_code(2);
    assert!(run.stderr.contains("T-LEAK-001.rhai"), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!run.stderr.contains("TOP-SECRET"), "{}", run.stderr);
    assert!(!run.stdout_text().contains("TOP-SECRET"));
}

#[test]
fn an_oversized_rule_file_is_refused_naming_it_and_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pack = write_pack(dir.path(), &[("T-OK-001", "fn check(host) { [] }", "")]);
    fs::File::create(pack.join("T-HUGE-001.rhai"))
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let run = hiveward(dir.path(), &["rules", "list", "--rules", "p"]);
    run.assert_code(2);
    assert!(run.stderr.contains("T-HUGE-001.rhai"), "{}", run.stderr);
    assert!(run.stderr.contains("262144 bytes"), "{}", run.stderr);
}

#[test]
fn sarif_listing_every_file_passes_githubs_rules() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(bundle.join("WS02")).unwrap();
    fs::write(bundle.join("FS01_SYSTEM.HIV"), system_hive("FS01")).unwrap();
    fs::write(
        bundle.join("WS02/SYSTEM"),
        dirty_primary(&system_hive("WS02"), 7),
    )
    .unwrap();
    fs::write(bundle.join("notes.txt"), "not evidence\n").unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "bundle",
            "--only",
            "HW-STRICT-001",
            "--format",
            "sarif",
            "-o",
            "out.sarif",
            "--allow-partial",
            "--fail-on",
            "never",
        ],
    );
    run.assert_code(0);
    let sarif: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("out.sarif")).unwrap()).unwrap();
    let artifacts = sarif["runs"][0]["artifacts"].as_array().unwrap();
    let statuses: Vec<(&str, &str)> = artifacts
        .iter()
        .map(|artifact| {
            (
                artifact["location"]["uri"].as_str().unwrap(),
                artifact["properties"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("bundle/FS01_SYSTEM.HIV", "read"),
            ("bundle/WS02/SYSTEM", "partial"),
            ("bundle/notes.txt", "passed_over"),
        ]
    );
    let tool = workspace_root().join("../shared/tools/sarif-validate");
    if !tool.is_file() {
        println!(
            "skipped: SARIF Multitool wrapper not found at {}",
            tool.display()
        );
        return;
    }
    let output = std::process::Command::new("bash")
        .arg(&tool)
        .arg(dir.path().join("out.sarif"))
        .output()
        .expect("sarif-validate runs");
    assert!(
        output.status.success(),
        "sarif-validate failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
