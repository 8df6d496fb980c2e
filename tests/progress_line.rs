//! The progress line of `scan`: drawn on a terminal with the phase and the hosts and files done,
//! never in a pipe or a log, and not with `--quiet`.

mod support;

use std::process::Command;

use support::{hiveward, root};

/// Standard error of `hiveward ARGS` run under `script`, which gives it a terminal; `None`
/// (the test prints `skipped:`) where `script` is not installed.
fn on_a_terminal(args: &str) -> Option<String> {
    let binary = env!("CARGO_BIN_EXE_hiveward");
    let output = Command::new("script")
        .args([
            "-qec",
            &format!("{binary} {args} 2>&1 1>/dev/null"),
            "/dev/null",
        ])
        .current_dir(root())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_terminal_sees_the_phase_and_the_hosts_and_files_done() {
    let Some(seen) = on_a_terminal("scan examples/bundle --format json --fail-on never") else {
        println!("skipped: `script` (util-linux) is not installed");
        return;
    };
    assert!(
        seen.contains("2/3 reading and checking hosts") && seen.contains("of 3 host(s)"),
        "{seen}"
    );
    assert!(seen.contains("of 6 file(s)"), "{seen}");
}

#[test]
fn quiet_and_pipes_draw_no_progress() {
    if let Some(seen) = on_a_terminal("scan examples/bundle --quiet --fail-on never") {
        assert!(!seen.contains("host(s), "), "--quiet drew progress: {seen}");
    } else {
        println!("skipped: `script` (util-linux) is not installed");
    }
    let piped = hiveward(
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
    piped.assert_code(0);
    assert!(
        !piped.stderr.contains("reading and checking"),
        "{}",
        piped.stderr
    );
}
