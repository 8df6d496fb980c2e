//! hiveward.

use super::*;

/// Runs `hiveward inspect ARGS --format json`, asserts exit 0 without a panic, and returns the
/// report.
pub(super) fn hiveward_inspect(args: &[&std::ffi::OsStr]) -> Value {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .arg("inspect")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "hiveward inspect {args:?} panicked:\n{stderr}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "hiveward inspect {args:?} failed:\n{stderr}"
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("hiveward inspect {args:?} wrote bad JSON: {error}"))
}

pub(super) fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap_or_else(|| panic!("no file name in {path}"))
        .to_string_lossy()
        .into_owned()
}

/// A copy of some corpus files alone in a fresh directory, so that `inspect` sees one host.
pub(super) struct Isolated {
    pub(super) dir: tempfile::TempDir,
}

impl Isolated {
    pub(super) fn new(files: &[PathBuf]) -> Isolated {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            assert!(file.is_file(), "{} is missing", file.display());
            std::fs::copy(file, dir.path().join(file.file_name().unwrap()))
                .unwrap_or_else(|error| panic!("cannot copy {}: {error}", file.display()));
        }
        Isolated { dir }
    }

    /// `inspect DIR --key KEY` on the copy: the one host's report, after checking that it holds
    /// exactly the file `hive_name`.
    pub(super) fn host_with_key(&self, hive_name: &str, key: &str) -> Value {
        let report =
            hiveward_inspect(&[self.dir.path().as_os_str(), "--key".as_ref(), key.as_ref()]);
        let hosts = report["hosts"].as_array().expect("hosts is an array");
        assert_eq!(
            hosts.len(),
            1,
            "{hive_name} alone makes one host: {report:#}"
        );
        let host = hosts[0].clone();
        let files = host["files"].as_array().expect("files is an array");
        assert_eq!(files.len(), 1, "{hive_name} alone makes one file: {host:#}");
        assert_eq!(
            file_name(files[0]["path"].as_str().unwrap()),
            hive_name,
            "{host:#}"
        );
        assert_eq!(files[0]["hive_kind"], "SYSTEM", "{hive_name}: {host:#}");
        host
    }
}

/// The names of `ControlSetNNN` keys among `names`.
pub(super) fn control_sets<'n>(names: impl IntoIterator<Item = &'n str>) -> BTreeSet<String> {
    names
        .into_iter()
        .filter(|name| {
            name.len() == "ControlSet001".len()
                && name[..10].eq_ignore_ascii_case("ControlSet")
                && name[10..].bytes().all(|byte| byte.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}
