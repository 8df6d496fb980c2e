//! `hiveward rules definitions DIR`: the Rhai definition files the language server reads, with
//! every function of the host API named and documented.

mod support;

use std::fs;

use support::{hiveward, root};

#[test]
fn the_definition_files_name_and_document_every_host_api_function() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("editor").join("definitions");
    let run = hiveward(&root(), &["rules", "definitions", target.to_str().unwrap()]);
    run.assert_code(0);
    assert!(
        run.stdout_text().contains("4 written"),
        "{}",
        run.stdout_text()
    );
    let mut names: Vec<String> = fs::read_dir(&target)
        .expect("the folder is created")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "__builtin-operators__.d.rhai",
            "__builtin__.d.rhai",
            "__static__.d.rhai",
            "hiveward.d.rhai"
        ]
    );
    let host = fs::read_to_string(target.join("hiveward.d.rhai")).unwrap();
    assert!(
        host.starts_with("module static;"),
        "the language server reads it as definitions"
    );
    let lines: Vec<&str> = host.lines().collect();
    let registered = hiveward_engine::host_api_names();
    assert!(registered.len() >= 30, "{registered:?}");
    for name in &registered {
        let written = format!("fn {name}(");
        let at = lines
            .iter()
            .position(|line| line.starts_with(&written))
            .unwrap_or_else(|| panic!("hiveward.d.rhai does not name `{name}`:\n{host}"));
        assert!(
            at > 0 && lines[at - 1].starts_with("/// "),
            "`{name}` has no documentation:\n{host}"
        );
    }
    for documented in [
        "/// `host.setting(path, name)` / `host.setting(path, name, default)`: an evidence map",
        "fn setting(host: Host, path: string, name: string, default: ?) -> map;",
        "fn by(fleet: Fleet, field: string, value: ?) -> FleetSelection;",
        "fn not_applicable(reason: string) -> NotApplicable;",
    ] {
        assert!(host.contains(documented), "no `{documented}` in:\n{host}");
    }
    // The standard library comes with Rhai's own documentation.
    let standard = fs::read_to_string(target.join("__static__.d.rhai")).unwrap();
    assert!(standard.contains("fn starts_with("), "{}", &standard[..200]);
}

#[test]
fn running_it_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("defs");
    hiveward(&root(), &["rules", "definitions", target.to_str().unwrap()]).assert_code(0);
    let first: Vec<(String, Vec<u8>)> = read_all(&target);
    let again = hiveward(&root(), &["rules", "definitions", target.to_str().unwrap()]);
    again.assert_code(0);
    assert!(
        again.stdout_text().contains("0 written, 4 unchanged"),
        "{}",
        again.stdout_text()
    );
    assert_eq!(read_all(&target), first);
    // A file edited by hand is written back.
    fs::write(target.join("hiveward.d.rhai"), "module static;\n").unwrap();
    let repaired = hiveward(&root(), &["rules", "definitions", target.to_str().unwrap()]);
    repaired.assert_code(0);
    assert!(
        repaired.stdout_text().contains("1 written"),
        "{}",
        repaired.stdout_text()
    );
    assert_eq!(read_all(&target), first);
}

#[test]
fn a_folder_that_cannot_be_written_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, "not a folder").unwrap();
    let target = file.join("defs");
    let run = hiveward(&root(), &["rules", "definitions", target.to_str().unwrap()]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("cannot create the definitions folder")
            && run.stderr.contains(target.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    // A definitions file that is a folder cannot be written either.
    let blocked = dir.path().join("blocked");
    fs::create_dir_all(blocked.join("hiveward.d.rhai")).unwrap();
    let run = hiveward(
        &root(),
        &["rules", "definitions", blocked.to_str().unwrap()],
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("cannot write") && run.stderr.contains("hiveward.d.rhai"),
        "{}",
        run.stderr
    );
}

fn read_all(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}
