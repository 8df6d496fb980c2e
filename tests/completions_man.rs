//! `hiveward completions SHELL` and `hiveward man [SUBCOMMAND]`: scripts every shell loads and
//! manual pages that name the subcommands and their options.

mod support;

use std::process::Command;

use support::{hiveward, root};

#[test]
fn every_shell_gets_a_script_that_knows_the_subcommands_and_options() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = hiveward(&root(), &["completions", shell]);
        run.assert_code(0);
        let script = run.stdout_text();
        // Options as each shell writes them: `--only`, or fish's `-l only`.
        for word in ["scan", "merge", "inspect", "rules", "fail-on", "only"] {
            assert!(script.contains(word), "{shell}: no `{word}` in the script");
        }
    }
    let bash = hiveward(&root(), &["completions", "bash"]).stdout_text();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hiveward.bash");
    std::fs::write(&file, bash).unwrap();
    match Command::new("bash").arg("-n").arg(&file).status() {
        Ok(status) => assert!(status.success(), "bash -n refuses the completion script"),
        Err(_) => println!("skipped: bash is not installed to check the script's syntax"),
    }
}

#[test]
fn an_unknown_shell_is_refused() {
    let run = hiveward(&root(), &["completions", "tcsh"]);
    run.assert_code(2);
    assert!(run.stderr.contains("tcsh"), "{}", run.stderr);
}

#[test]
fn the_manual_pages_name_the_subcommands_and_their_options() {
    let run = hiveward(&root(), &["man"]);
    run.assert_code(0);
    let page = run.stdout_text();
    assert!(page.contains(".TH hiveward 1"), "{page}");
    for sub in ["scan", "merge", "inspect", "rules", "completions"] {
        assert!(page.contains(sub), "the main page does not name `{sub}`");
    }
    let scan = hiveward(&root(), &["man", "scan"]);
    scan.assert_code(0);
    let scan = scan.stdout_text();
    assert!(scan.contains(".TH hiveward-scan 1"), "{scan}");
    for option in ["only", "fail\\-on", "shard", "format"] {
        assert!(scan.contains(option), "hiveward-scan(1) lacks {option}");
    }
    let unknown = hiveward(&root(), &["man", "nope"]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("no subcommand `nope`"));
}
