//! `hiveward rules test` with rule output: a failing case shows what its rule wrote with `print`
//! and `debug` under its failure, a passing one only with `--trace`; JSON and JUnit carry it
//! per case; output past the limit ends with a cut marker.

mod support;

use std::fs;
use std::path::Path;

use support::hiveward;

const MANIFEST: &str = "name = \"trace\"\nversion = \"1.0.0\"\ndescription = \"Rules that print.\"\nmin_hiveward = \"0.1.0\"\n";

/// Fires when signing is not required; prints the value and debugs its type.
const RULE: &str = r#"//! Signing, with output.
export const RULE = #{
    id: "TRACE-001",
    pack: "trace",
    title: "Signing not required",
    description: "Prints what it reads.",
    severity: "medium",
    needs: #{ hives: ["SYSTEM"] },
    fix: "Require signing.",
};

fn check(host) {
    let params = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let signing = host.setting(params, "RequireSecuritySignature", 0);
    print(`signing on ${host.name}: ${signing.value}`);
    debug(signing.observed_type);
    if signing.value == 1 { return []; }
    [#{ message: `signing is ${signing.value}`, evidence: [signing] }]
}
"#;

/// Prints 1,000 lines.
const CHATTY: &str = r#"//! Prints too much.
export const RULE = #{
    id: "TRACE-002",
    pack: "trace",
    title: "Chatty",
    description: "Prints a thousand lines.",
    severity: "low",
    fix: "None.",
};

fn check(host) {
    for i in 0..1000 { print(`line ${i}`); }
    []
}
"#;

fn reg(signing: u32) -> String {
    format!(
        "'''\nWindows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\n\"RequireSecuritySignature\"=dword:{signing:08x}\n'''"
    )
}

fn tests_file() -> String {
    format!(
        "[[case]]\nname = \"signing off fires\"\nexpect = [\"TRACE-001\"]\nreg = {}\n\n[[case]]\nname = \"signing on is wrongly expected to fire\"\nexpect = [\"TRACE-001\"]\nreg = {}\n",
        reg(0),
        reg(1)
    )
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn pack(dir: &Path) {
    write(&dir.join("trace/pack.toml"), MANIFEST);
    write(&dir.join("trace/TRACE-001.rhai"), RULE);
    write(&dir.join("trace/TRACE-001.tests.toml"), &tests_file());
    write(&dir.join("trace/TRACE-002.rhai"), CHATTY);
    write(
        &dir.join("trace/TRACE-002.tests.toml"),
        &format!(
            "[[case]]\nname = \"chatty is clean\"\nexpect = []\nreg = {}\n",
            reg(1)
        ),
    );
}

#[test]
fn a_failing_case_shows_its_output_and_a_passing_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path());
    let run = hiveward(
        dir.path(),
        &["rules", "test", "trace", "--rule", "TRACE-001"],
    );
    run.assert_code(1);
    let text = run.stdout_text();
    assert!(
        text.contains(
            "PASS TRACE-001 signing off fires\nFAIL TRACE-001 signing on is wrongly expected to fire"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "    output:\n      | signing on HOST: 1\n      | [debug trace/TRACE-001.rhai:16:5] \"REG_DWORD\"\n"
        ),
        "{text}"
    );
    assert!(!text.contains("signing on HOST: 0"), "{text}");
}

#[test]
fn trace_shows_every_case_output() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path());
    let run = hiveward(
        dir.path(),
        &["rules", "test", "trace", "--rule", "TRACE-001", "--trace"],
    );
    run.assert_code(1);
    let text = run.stdout_text();
    assert!(
        text.contains(
            "PASS TRACE-001 signing off fires\n    output:\n      | signing on HOST: 0\n"
        ),
        "{text}"
    );
    assert!(text.contains("      | signing on HOST: 1\n"), "{text}");
}

#[test]
fn json_and_junit_carry_the_output_per_case() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path());
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            "trace",
            "--rule",
            "TRACE-001",
            "--format",
            "json",
        ],
    );
    run.assert_code(1);
    let json = run.json();
    let results = json["results"].as_array().unwrap();
    let output = |index: usize| results[index]["output"].clone();
    assert_eq!(
        output(0),
        serde_json::json!([
            "signing on HOST: 0",
            "[debug trace/TRACE-001.rhai:16:5] \"REG_DWORD\""
        ])
    );
    assert_eq!(output(1)[0], "signing on HOST: 1");

    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            "trace",
            "--rule",
            "TRACE-001",
            "--format",
            "junit",
        ],
    );
    run.assert_code(1);
    let xml = run.stdout_text();
    assert!(
        xml.contains("<system-out>signing on HOST: 1\n[debug trace/TRACE-001.rhai:16:5] \"REG_DWORD\"</system-out>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<system-out>").count(), 2, "{xml}");
}

#[test]
fn output_past_the_limit_ends_with_a_cut_marker() {
    let dir = tempfile::tempdir().unwrap();
    pack(dir.path());
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            "trace",
            "--rule",
            "TRACE-002",
            "--case",
            "chatty",
            "--trace",
        ],
    );
    run.assert_code(0);
    let text = run.stdout_text();
    assert!(text.contains("      | line 199\n"), "{text}");
    assert!(!text.contains("      | line 200\n"), "{text}");
    assert!(
        text.contains("      | …[output cut: 800 more line(s)"),
        "{text}"
    );
}
