//! Where reports go: `-o -` is standard output, and a report that cannot be written names the
//! file it was meant for.

mod support;

use support::{hiveward, root};

#[test]
fn dash_means_standard_output() {
    let to_dash = hiveward(
        &root(),
        &[
            "scan",
            "examples/bundle",
            "--format",
            "json",
            "--fail-on",
            "never",
            // PC22's `.reg` export leaves some checks unknown.
            "--allow-partial",
            "-o",
            "-",
        ],
    );
    to_dash.assert_code(0);
    let plain = hiveward(
        &root(),
        &[
            "scan",
            "examples/bundle",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--allow-partial",
        ],
    );
    assert_eq!(to_dash.json(), plain.json());
    assert!(!root().join("-").exists(), "no file called - is written");
}

#[test]
fn a_report_that_cannot_be_written_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no-such-folder").join("report.json");
    let run = hiveward(
        &root(),
        &[
            "scan".as_ref(),
            "examples/bundle".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            "-o".as_ref(),
            target.as_os_str(),
        ],
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("cannot write the report to {}", target.display())),
        "{}",
        run.stderr
    );
}

#[test]
fn diagnostics_are_coloured_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("waivers.toml");
    std::fs::write(
        &waivers,
        "[[waiver]]\nrule = \"HW-NOPE-*\"\nhost = \"*\"\njustification = \"x\"\n",
    )
    .unwrap();
    let run_with = |color: &str| {
        hiveward(
            &root(),
            &[
                "scan".as_ref(),
                "examples/bundle".as_ref(),
                "--waivers".as_ref(),
                waivers.as_os_str(),
                "--color".as_ref(),
                color.as_ref(),
            ],
        )
    };
    let coloured = run_with("always");
    coloured.assert_code(2);
    assert!(coloured.stderr.contains("\u{1b}["), "{}", coloured.stderr);
    assert!(coloured.stderr.contains("matches no loaded rule id"));
    for plain in [run_with("never"), run_with("auto")] {
        plain.assert_code(2);
        assert!(!plain.stderr.contains('\u{1b}'), "{}", plain.stderr);
        assert!(plain.stderr.contains("matches no loaded rule id"));
    }
}
