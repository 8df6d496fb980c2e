//! `examples/bundle/` is what `make-sample-bundle` makes from `examples/bundle-src/`, and
//! `hiveward inspect` reads it as the README shows.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hiveward_collectors::{HiveFile, RegExport};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every key and value of every source is in the committed file, with the same type and data.
#[test]
fn committed_bundle_matches_its_sources() {
    let sources = root().join("examples/bundle-src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&sources).unwrap() {
        let source = entry.unwrap().path();
        let name = source.file_name().unwrap().to_str().unwrap().to_string();
        let Some(stem) = name.strip_suffix(".reg") else {
            continue;
        };
        let expected = RegExport::parse(&source, &std::fs::read(&source).unwrap()).unwrap();
        match stem.strip_suffix(".export") {
            Some(export) => {
                let path = root().join(format!("examples/bundle/{export}.reg"));
                let bytes = std::fs::read(&path).unwrap();
                assert!(bytes.starts_with(&[0xff, 0xfe]), "reg export is UTF-16LE");
                let actual = RegExport::parse(&path, &bytes).unwrap();
                assert_eq!(actual.keys(), expected.keys(), "{}", path.display());
                checked += 1;
            }
            None => {
                let path = root().join(format!("examples/bundle/{stem}.HIV"));
                // The generator pins every timestamp, so the committed hive is exactly what
                // the sources give.
                let mut regenerated =
                    hiveward_testkit::hive_from_reg(&std::fs::read_to_string(&source).unwrap());
                hiveward_testkit::pin_hive_times(
                    &mut regenerated,
                    hiveward_testkit::SAMPLE_BUNDLE_TIME,
                );
                assert!(
                    std::fs::read(&path).unwrap() == regenerated,
                    "{} differs from what its source gives: run `cargo run -p hiveward-testkit --bin make-sample-bundle`",
                    path.display()
                );
                let hive = HiveFile::open(&path, &[]).unwrap();
                for key in expected.keys() {
                    let components: Vec<&str> = key.path.split('\\').collect();
                    let skip = match (components[0], components[1].to_ascii_uppercase().as_str()) {
                        ("HKLM", _) | ("HKCU", "SOFTWARE") => 2,
                        _ => 1,
                    };
                    let inner = &components[skip..];
                    for value in &key.values {
                        let read = hive.value(inner, &value.name).unwrap();
                        assert_eq!(
                            read,
                            Some(value.decode()),
                            "{} {}",
                            path.display(),
                            key.path
                        );
                    }
                    assert!(hive.key_exists(inner).unwrap(), "{}", key.path);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} keys checked");
}

#[test]
fn inspect_reads_the_sample_bundle() {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(root())
        .args(["inspect", "examples/bundle", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let hosts: Vec<&str> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host["name"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["FS01", "PC22", "WKS7"]);
    assert_eq!(report["summary"]["files_read"], 6);
    assert_eq!(report["summary"]["files_unreadable"], 0);
}

#[test]
fn inspect_key_shows_typed_values_and_the_control_set() {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .current_dir(root())
        .args([
            "inspect",
            "examples/bundle",
            "--key",
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(r"key HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters"),
        "{text}"
    );
    assert!(
        text.contains(r"CurrentControlSet = ControlSet001 (Select\Current)"),
        "{text}"
    );
    let level = text
        .lines()
        .find(|line| line.trim_start().starts_with("SmbServerNameHardeningLevel"))
        .unwrap();
    assert!(
        level.contains("REG_DWORD") && level.contains("0x2 (2)"),
        "{level}"
    );
    assert!(
        text.contains("OptionalNames") && text.contains("REG_MULTI_SZ"),
        "{text}"
    );
    assert!(Path::new(&root())
        .join("examples/bundle/FS01_SYSTEM.HIV")
        .is_file());
}
