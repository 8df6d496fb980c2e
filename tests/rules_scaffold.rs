//! `hiveward rules new PACK/ID` writes a rule and a test file that pass `rules test` as
//! written, never overwriting a file; `hiveward rules check DIR` validates packs and their test
//! files without running a case.

mod support;

use std::fs;
use std::path::Path;

use support::{hiveward_env, Run};

/// Runs `hiveward ARGS` in `dir`, without colour.
fn hiveward(dir: &Path, args: &[&str]) -> Run {
    hiveward_env(dir, args, &[("NO_COLOR", "1")])
}

/// Every file under `dir` with its text, sorted by path.
fn snapshot(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("walks"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            (
                entry.path().display().to_string(),
                fs::read_to_string(entry.path()).expect("reads"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_new_rule_passes_rules_test_and_rules_check_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let new = hiveward(
        dir.path(),
        &["rules", "new", "site/SITE-SMB-001", "--dir", "tmp"],
    );
    new.assert_code(0);
    let written = dir.path().join("tmp/site");
    for name in ["pack.toml", "SITE-SMB-001.rhai", "SITE-SMB-001.tests.toml"] {
        assert!(written.join(name).is_file(), "{name} was not written");
        assert!(
            new.stdout_str().contains(&format!(
                "wrote {}",
                Path::new("tmp/site").join(name).display()
            )),
            "{name} is not listed:\n{}",
            new.stdout_str()
        );
    }
    assert!(
        new.stdout_str().contains("hiveward rules test tmp/site"),
        "{}",
        new.stdout_str()
    );
    let manifest = fs::read_to_string(written.join("pack.toml")).unwrap();
    assert!(manifest.contains("name = \"site\""), "{manifest}");
    assert!(manifest.contains("version = \"0.1.0\""), "{manifest}");
    assert!(
        manifest.contains(&format!("min_hiveward = \"{}\"", env!("CARGO_PKG_VERSION"))),
        "{manifest}"
    );
    let rule = fs::read_to_string(written.join("SITE-SMB-001.rhai")).unwrap();
    for pointer in [
        "docs/writing-rules.md",
        "\"The metadata\"",
        "\"Outcomes\"",
        "\"Findings\"",
        "host.setting(",
        "needs: #{",
        "fix_values",
    ] {
        assert!(rule.contains(pointer), "the rule lacks {pointer}:\n{rule}");
    }
    let tests = fs::read_to_string(written.join("SITE-SMB-001.tests.toml")).unwrap();
    assert!(tests.contains("\"4. Tests\""), "{tests}");

    let test = hiveward(dir.path(), &["rules", "test", "tmp/site"]);
    test.assert_code(0);
    assert_eq!(
        test.stdout_str()
            .lines()
            .filter(|line| line.starts_with("PASS "))
            .count(),
        3,
        "{}",
        test.stdout_str()
    );
    assert!(
        test.stdout_str().contains("rules test: 3 passed, 0 failed"),
        "{}",
        test.stdout_str()
    );

    let check = hiveward(dir.path(), &["rules", "check", "tmp/site"]);
    check.assert_code(0);
    assert_eq!(check.stdout_str(), "ok: site (1 rule(s), 3 test case(s))\n");
}

#[test]
fn rules_new_never_overwrites_and_refuses_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-001"]).assert_code(0);
    let rule = dir.path().join("site/SITE-SMB-001.rhai");
    fs::write(&rule, "// edited by hand\n").unwrap();
    let before = snapshot(dir.path());

    let again = hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-001"]);
    again.assert_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(again.stdout.is_empty(), "{}", again.stdout_str());
    assert_eq!(snapshot(dir.path()), before, "a refused `rules new` wrote");

    for (target, said) in [
        ("site/site-smb-003", "is not a rule id"),
        ("site/SITE", "is not a rule id"),
        ("site/SITE-SMB-003/X", "is not a rule id"),
        ("Site/SITE-SMB-003", "is not a pack folder name"),
        ("../SITE-SMB-003", "is not a pack folder name"),
        ("SITE-SMB-003", "is not PACK/ID"),
    ] {
        let refused = hiveward(dir.path(), &["rules", "new", target]);
        refused.assert_code(2);
        assert!(
            refused.stderr.contains(said),
            "{target}: {}",
            refused.stderr
        );
        assert_eq!(snapshot(dir.path()), before, "`rules new {target}` wrote");
    }
}

#[test]
fn a_new_rule_in_an_existing_pack_keeps_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("site");
    fs::create_dir_all(&pack).unwrap();
    let manifest = "name = \"site\"\nversion = \"2.3.0\"\ndescription = \"Our own SMB checks.\"\nmin_hiveward = \"0.1.0\"\n";
    fs::write(pack.join("pack.toml"), manifest).unwrap();
    hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-001"]).assert_code(0);
    let second = hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-002"]);
    second.assert_code(0);
    assert!(
        !second.stdout_str().contains("pack.toml"),
        "{}",
        second.stdout_str()
    );
    assert_eq!(
        fs::read_to_string(pack.join("pack.toml")).unwrap(),
        manifest
    );

    let test = hiveward(dir.path(), &["rules", "test", "site"]);
    test.assert_code(0);
    assert!(
        test.stdout_str().contains("rules test: 6 passed, 0 failed"),
        "{}",
        test.stdout_str()
    );
    let check = hiveward(dir.path(), &["rules", "check", "site"]);
    check.assert_code(0);
    assert_eq!(check.stdout_str(), "ok: site (2 rule(s), 6 test case(s))\n");
}

#[test]
fn rules_check_names_the_file_and_line_of_a_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-001"]).assert_code(0);
    let rule = dir.path().join("site/SITE-SMB-001.rhai");
    let text = fs::read_to_string(&rule).unwrap();
    // An unterminated block: the file ends inside `check`.
    let broken = text.replacen("if signing.value == 1 {", "if signing.value == 1 {{", 1);
    assert_ne!(broken, text);
    fs::write(&rule, &broken).unwrap();
    let last_line = broken.lines().count() + 1;

    let check = hiveward(dir.path(), &["rules", "check", "site"]);
    check.assert_code(2);
    let place = format!(
        "{}:{last_line}:",
        Path::new("site").join("SITE-SMB-001.rhai").display()
    );
    assert!(check.stderr.contains(&place), "{place}:\n{}", check.stderr);
    assert!(check.stderr.contains("syntax error"), "{}", check.stderr);
    assert!(
        !check.stdout_str().contains("ok:"),
        "{}",
        check.stdout_str()
    );
}

#[test]
fn rules_check_reports_test_file_mistakes_without_running_cases() {
    let dir = tempfile::tempdir().unwrap();
    hiveward(dir.path(), &["rules", "new", "site/SITE-SMB-001"]).assert_code(0);
    let tests = dir.path().join("site/SITE-SMB-001.tests.toml");
    let text = fs::read_to_string(&tests).unwrap();
    let line = text
        .lines()
        .position(|line| line == "expect = []")
        .expect("a clean case")
        + 2;
    fs::write(
        &tests,
        text.replacen("expect = []", "expect = []\nexpcet = [\"SITE-SMB-001\"]", 1),
    )
    .unwrap();

    let check = hiveward(dir.path(), &["rules", "check", "site"]);
    check.assert_code(2);
    let place = format!(
        "{}:{line}:",
        Path::new("site").join("SITE-SMB-001.tests.toml").display()
    );
    assert!(check.stderr.contains(&place), "{place}:\n{}", check.stderr);
    assert!(
        check.stderr.contains("unknown field `expcet`"),
        "{}",
        check.stderr
    );

    // A rule without a test file is named too.
    fs::remove_file(&tests).unwrap();
    let check = hiveward(dir.path(), &["rules", "check", "site"]);
    check.assert_code(2);
    assert!(
        check.stderr.contains("rule SITE-SMB-001 has no test file"),
        "{}",
        check.stderr
    );
}
