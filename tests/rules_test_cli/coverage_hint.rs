//! The coverage hint.

use super::*;

fn coverage_details(run: &Run, id: &str) -> Vec<String> {
    let mut details = Vec::new();
    let mut inside = false;
    for line in run.lines() {
        if line.starts_with("FAIL ") || line.starts_with("PASS ") {
            inside = line.starts_with(&format!("FAIL {id} (coverage)"));
            continue;
        }
        if inside && line.starts_with("    ") {
            details.push(line.trim().to_string());
        }
    }
    details
}

#[test]
fn the_coverage_hint_says_which_kind_of_case_is_missing_or_failing() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-COV-001";
    // No firing case at all.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("clean", "[]", 0) + &*plain_not_applicable("n/a"),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    let file = Path::new(PACK)
        .join(format!("{id}.tests.toml"))
        .display()
        .to_string();
    assert!(
        run.lines()
            .contains(&format!("FAIL {id} (coverage) ({file})").as_str()),
        "{}",
        run.stdout_str()
    );
    assert_eq!(
        coverage_details(&run, id),
        [format!(
            "the rule has no case where it fires: add one with `expect = [\"{id}\"]` to {file}"
        )]
    );

    // A firing case that fails: the hint names it instead of asking for another.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("fires", &format!("[\"{id}\"]"), 0)
                + &*plain_case("clean", "[]", 0)
                + &*plain_not_applicable("n/a"),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    assert_eq!(
        coverage_details(&run, id),
        ["the rule has no passing case where it fires: the case \"fires\" is one but fails (see its FAIL line); fix it"]
    );

    // No clean and no not-applicable case.
    write_pack(
        dir.path(),
        &[(
            id,
            plain_rule(id),
            plain_case("fires", &format!("[\"{id}\"]"), 1),
        )],
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(1);
    assert_eq!(
        coverage_details(&run, id),
        [
            format!("the rule has no clean case (one where it checks the host and finds nothing): add one with `expect = []` to {file}"),
            format!("the rule has no not-applicable case (one where the host lacks what it needs): add one with `expect = []` and `outcome = \"not_applicable\"` to {file}"),
        ]
    );

    // A test file named with another case of the id counts for the rule.
    write_pack(dir.path(), &[(id, plain_rule(id), String::new())]);
    let pack = dir.path().join(PACK);
    fs::remove_file(pack.join(format!("{id}.tests.toml"))).unwrap();
    write(
        &pack.join(format!("{}.tests.toml", id.to_lowercase())),
        complete_cases(id),
    );
    let run = hiveward(dir.path(), &["rules", "test", PACK]);
    run.assert_code(0);
    assert_eq!(
        run.lines().last().copied(),
        Some("rules test: 3 passed, 0 failed")
    );
}
