//! Defect 9: links and special files in packs.

use super::*;

const SECRET: &str = "root:$6$SECRET-HASH-LINE:19000:0:99999:7:::\nSECOND-SECRET-LINE\n";

/// A pack folder `dir/p` with one good rule, and a secret file outside it.
pub(super) fn pack_on_disk(dir: &Path) -> (PathBuf, PathBuf) {
    let folder = dir.join("p");
    std::fs::create_dir_all(folder.join("lib")).unwrap();
    std::fs::write(folder.join("pack.toml"), manifest_text("p", "0.1.0")).unwrap();
    std::fs::write(
        folder.join("T-OK-001.rhai"),
        rule("T-OK-001", "", "fn check(host) { [] }"),
    )
    .unwrap();
    let secret = dir.join("shadow");
    std::fs::write(&secret, SECRET).unwrap();
    (folder, secret)
}

fn assert_refused_link(result: Result<Vec<PackSource>, RuleLoadError>, link: &Path) {
    let error = match result {
        Ok(_) => panic!("a pack holding the link {} must not load", link.display()),
        Err(error) => error,
    };
    assert!(
        matches!(&error, RuleLoadError::Link { path } if path == link),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&link.display().to_string()), "{shown}");
    assert!(!shown.contains("SECRET"), "the target leaked: {shown}");
}

#[cfg(unix)]
#[test]
fn links_in_a_pack_are_refused_and_their_targets_never_read() {
    use std::os::unix::fs::symlink;
    type Place = fn(&Path) -> PathBuf;
    let places: [(&str, Place); 5] = [
        ("rule", |folder| folder.join("T-LINK-001.rhai")),
        ("lib module", |folder| folder.join("lib/helpers.rhai")),
        ("tests file", |folder| folder.join("T-OK-001.tests.toml")),
        ("manifest", |folder| folder.join("pack.toml")),
        ("lib folder", |folder| folder.join("lib")),
    ];
    for (what, place) in places {
        let dir = tempfile::tempdir().unwrap();
        let (folder, secret) = pack_on_disk(dir.path());
        let link = place(&folder);
        if link.is_dir() {
            std::fs::remove_dir(&link).unwrap();
            let elsewhere = dir.path().join("elsewhere");
            std::fs::create_dir(&elsewhere).unwrap();
            std::fs::copy(&secret, elsewhere.join("shadow.rhai")).unwrap();
            symlink(&elsewhere, &link).unwrap();
        } else {
            let _ = std::fs::remove_file(&link);
            symlink(&secret, &link).unwrap();
        }
        println!("{what}");
        assert_refused_link(PackSource::load_dir(&folder), &link);
    }
    // A link that stays inside the pack is refused too: packs hold no links at all.
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let link = folder.join("T-COPY-001.rhai");
    symlink(folder.join("T-OK-001.rhai"), &link).unwrap();
    assert_refused_link(PackSource::load_dir(&folder), &link);
}

#[cfg(unix)]
#[test]
fn a_linked_pack_in_a_folder_of_packs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let packs = dir.path().join("packs");
    std::fs::create_dir(&packs).unwrap();
    let link = packs.join("p");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    assert_refused_link(PackSource::load_dir(&packs), &link);
    // The folder named on the command line may itself be a link.
    let named = dir.path().join("named");
    std::os::unix::fs::symlink(&folder, &named).unwrap();
    assert_eq!(PackSource::load_dir(&named).unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_rule_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let fifo = folder.join("T-FIFO-001.rhai");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        println!("skipped: mkfifo is not available");
        return;
    }
    let error = PackSource::load_dir(&folder).expect_err("a FIFO is not a rule file");
    assert!(
        matches!(&error, RuleLoadError::SpecialFile { path, kind } if path == &fifo && kind == "FIFO"),
        "{error:?}"
    );
}
