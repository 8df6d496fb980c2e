//! --rule and --case.

use super::*;

#[test]
fn rule_filter_takes_ids_comma_lists_repeats_and_globs() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());

    let run = hiveward(dir.path(), &["rules", "test", PACK, "--rule", "E2E-A-001"]);
    run.assert_code(0);
    assert_eq!(rules_shown(&run), ["E2E-A-001"]);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 3 passed, 0 failed"),
        "{}",
        run.stdout_str()
    );

    // Any case of the id; a comma list and a repeated flag select the same rules.
    for args in [
        vec!["--rule", "e2e-a-001,E2E-A-002"],
        vec!["--rule", "E2E-A-001", "--rule", "E2E-A-002"],
        vec!["--rule", "E2E-A-*"],
    ] {
        let mut all = vec!["rules", "test", PACK];
        all.extend(args.iter().copied());
        let run = hiveward(dir.path(), &all);
        run.assert_code(0);
        assert_eq!(rules_shown(&run), ["E2E-A-001", "E2E-A-002"], "{args:?}");
        assert_eq!(
            run.lines().last().copied(),
            Some("rules test: 6 passed, 0 failed")
        );
    }

    // The failing rule fails the run when it is selected, and only then.
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--rule", "E2E-*"]);
    run.assert_code(1);
    assert_eq!(rules_shown(&run), ["E2E-A-001", "E2E-A-002", "E2E-B-001"]);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 9 passed, 1 failed")
    );
}

#[test]
fn a_filter_that_selects_nothing_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    for (args, needle) in [
        (
            vec!["--rule", "E2E-Z-*"],
            "--rule E2E-Z-*: no loaded rule matches it",
        ),
        (
            vec!["--rule", "E2E-A-001,NOPE-001"],
            "--rule NOPE-001: no loaded rule matches it",
        ),
        (
            vec!["--case", "no such case"],
            "--case \"no such case\": no case has a name containing it",
        ),
        (
            vec!["--rule", "E2E-A-001", "--case", "wrongly"],
            "--case \"wrongly\": no case of the selected rules has a name containing it",
        ),
        (
            vec!["--rule", "E2E-["],
            "--rule: `E2E-[` is not a valid glob",
        ),
    ] {
        let mut all = vec!["rules", "test", PACK];
        all.extend(args.iter().copied());
        let run = hiveward(dir.path(), &all);
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout_str());
        assert!(
            run.stderr.contains(needle),
            "{args:?}: expected {needle:?} in:\n{}",
            run.stderr
        );
    }
}

#[test]
fn case_filter_runs_matching_cases_and_leaves_out_the_coverage_check() {
    let dir = tempfile::tempdir().unwrap();
    three_rule_pack(dir.path());
    // "clean" matches one case of each rule, without regard to case; a rule that then has no
    // firing case in the run is not reported for it.
    let run = hiveward(dir.path(), &["rules", "test", PACK, "--case", "CLEAN"]);
    run.assert_code(0);
    assert_eq!(
        run.lines(),
        [
            "PASS E2E-A-001 clean when refused",
            "PASS E2E-A-002 clean when refused",
            "PASS E2E-B-001 clean when refused",
            "rules test: 3 passed, 0 failed",
        ]
    );
    let run = hiveward(
        dir.path(),
        &[
            "rules",
            "test",
            PACK,
            "--rule",
            "E2E-B-001",
            "--case",
            "wrongly",
        ],
    );
    run.assert_code(1);
    assert_eq!(
        run.lines()[0].split(" (").next(),
        Some("FAIL E2E-B-001 wrongly expects silence")
    );
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 0 passed, 1 failed")
    );
}

#[test]
fn builtin_rules_can_be_selected_by_glob() {
    let run = hiveward(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["rules", "test", "--rule", "HW-STRICT-*"],
    );
    run.assert_code(0);
    let shown = rules_shown(&run);
    assert!(shown.contains(&"HW-STRICT-001".to_string()), "{shown:?}");
    assert!(
        shown.iter().all(|id| id.starts_with("HW-STRICT-")),
        "{shown:?}"
    );
}
