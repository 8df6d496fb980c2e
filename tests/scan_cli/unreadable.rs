//! Unreadable and missing evidence.

use super::*;

#[test]
fn only_unreadable_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("evidence").join("HOSTA");
    fs::create_dir_all(&host).unwrap();
    fs::write(host.join("SYSTEM"), b"").unwrap();
    let run = hiveward(dir.path(), &["scan", "evidence", "--format", "json"]);
    run.assert_code(3);
    let report = run.json();
    assert_eq!(report["summary"]["files_unreadable"], 1, "{report}");
    assert_eq!(report["summary"]["evaluations"], 0);
    assert!(findings(&report).is_empty());
    assert!(run.stderr.contains("SYSTEM"), "{}", run.stderr);
    assert_matches_schema(&report);
}

#[test]
fn unreadable_evidence_beside_readable_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("evidence").join("FS01");
    fs::create_dir_all(&good).unwrap();
    for name in ["FS01_SYSTEM.HIV", "FS01_SOFTWARE.HIV"] {
        fs::copy(root().join("examples/bundle").join(name), good.join(name)).unwrap();
    }
    let bad = dir.path().join("evidence").join("HOSTB");
    fs::create_dir_all(&bad).unwrap();
    fs::write(bad.join("SYSTEM"), b"").unwrap();
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "evidence",
            "--format",
            "json",
            "--only",
            "HW-STRICT-001,HW-HARD-003",
        ],
    );
    // The medium finding on FS01 is below --fail-on high, but the results are incomplete.
    run.assert_code(3);
    let report = run.json();
    assert_eq!(rule_hosts(&report), pairs(&[("HW-STRICT-001", "FS01")]));
    assert_eq!(report["summary"]["files_unreadable"], 1);
    assert!(run.stderr.contains("could not be read"), "{}", run.stderr);
}

#[test]
fn a_folder_without_evidence_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("nothing-here");
    fs::create_dir_all(&empty).unwrap();
    fs::write(empty.join("notes.txt"), "not evidence\n").unwrap();
    let run = hiveward(dir.path(), &["scan", "nothing-here"]);
    run.assert_code(3);
    assert!(run.stderr.contains("nothing was checked"), "{}", run.stderr);

    let json = hiveward(dir.path(), &["scan", "nothing-here", "--format", "json"]);
    json.assert_code(3);
    let report = json.json();
    assert_eq!(report["summary"]["hosts"], 0);
    assert_eq!(report["summary"]["evaluations"], 0);
    assert_matches_schema(&report);
}

#[test]
fn a_missing_input_path_is_an_invalid_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let run = hiveward(dir.path(), &["scan", "does-not-exist"]);
    run.assert_code(2);
    assert!(run.stderr.contains("does-not-exist"), "{}", run.stderr);
}
