//! `hiveward rules doc [DIR...]`: the Markdown catalogue of the built-in packs, or of custom
//! packs.

mod support;

use std::fs;
use std::path::Path;

use support::{hiveward, root};

/// A temporary folder holding the scaffolded pack `site` with rules SITE-SMB-001 and -002.
fn site_pack() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for id in ["SITE-SMB-001", "SITE-SMB-002"] {
        hiveward(dir.path(), &["rules", "new", &format!("site/{id}")]).assert_code(0);
    }
    dir
}

#[test]
fn a_custom_pack_is_documented_on_standard_output() {
    let dir = site_pack();
    let run = hiveward(dir.path(), &["rules", "doc", "site"]);
    run.assert_code(0);
    let markdown = run.stdout_text();
    assert!(
        markdown.starts_with("# hiveward rule catalogue"),
        "{markdown}"
    );
    assert!(markdown.contains("from the pack(s) `site`"), "{markdown}");
    assert!(markdown.contains("## Pack `site`"), "{markdown}");
    for id in ["SITE-SMB-001", "SITE-SMB-002"] {
        assert!(markdown.contains(id), "no {id} in:\n{markdown}");
    }
    assert!(
        !markdown.contains("HW-"),
        "the built-in packs are left out:\n{markdown}"
    );
    assert!(
        !dir.path().join("docs").exists(),
        "nothing is written to docs/"
    );
}

#[test]
fn a_custom_catalogue_goes_to_the_file_given() {
    let dir = site_pack();
    let run = hiveward(dir.path(), &["rules", "doc", "site", "-o", "out/site.md"]);
    run.assert_code(0);
    assert!(
        run.stdout_text().contains("wrote out/site.md"),
        "{}",
        run.stdout_text()
    );
    let written = fs::read_to_string(dir.path().join("out/site.md")).unwrap();
    assert!(written.contains("SITE-SMB-001"), "{written}");
    // The same text as on standard output.
    let printed = hiveward(dir.path(), &["rules", "doc", "site", "-o", "-"]);
    printed.assert_code(0);
    assert_eq!(printed.stdout_text(), written);
}

#[test]
fn without_a_folder_the_built_in_catalogue_is_unchanged() {
    let run = hiveward(&root(), &["rules", "doc", "-o", "-"]);
    run.assert_code(0);
    let committed = fs::read_to_string(root().join("docs/rules.md")).unwrap();
    assert!(
        run.stdout_text() == committed,
        "docs/rules.md differs from `hiveward rules doc -o -`"
    );
    // The default output is docs/rules.md, relative to the working directory.
    let dir = tempfile::tempdir().unwrap();
    let run = hiveward(dir.path(), &["rules", "doc"]);
    run.assert_code(0);
    assert!(
        run.stdout_text().contains("wrote docs/rules.md"),
        "{}",
        run.stdout_text()
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("docs/rules.md")).unwrap(),
        committed
    );
}

#[test]
fn a_pack_that_does_not_load_is_a_diagnostic_with_exit_2() {
    let dir = site_pack();
    let rule = dir.path().join("site/SITE-SMB-001.rhai");
    let text = fs::read_to_string(&rule).unwrap();
    fs::write(
        &rule,
        text.replacen("severity: \"", "severity: \"urgent", 1),
    )
    .unwrap();
    let run = hiveward(dir.path(), &["rules", "doc", "site"]);
    run.assert_code(2);
    let place = format!("{}:", Path::new("site").join("SITE-SMB-001.rhai").display());
    assert!(run.stderr.contains(&place), "{place}:\n{}", run.stderr);
    assert!(run.stderr.contains("severity"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "no catalogue is written");
    // A folder that does not exist.
    let run = hiveward(dir.path(), &["rules", "doc", "missing"]);
    run.assert_code(2);
    assert!(run.stderr.contains("missing"), "{}", run.stderr);
}
