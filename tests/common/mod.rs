//! Helpers shared by the integration tests that scan one evidence file at a time.

use std::path::Path;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value as Json;

/// `hiveward scan --only RULES --format json --fail-on never PATH`: the JSON report.
pub fn scan_json(path: &Path, rules: &str) -> Json {
    let output = std::process::Command::cargo_bin("hiveward")
        .expect("binary builds")
        .args([
            "scan",
            "--only",
            rules,
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .arg(path)
        .output()
        .expect("hiveward runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{}: no JSON report ({error}); stderr: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
