//! Helpers shared by the integration tests that scan evidence built or chosen in the test.

// Each test binary uses some of these helpers.
#![allow(dead_code)]

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

/// `hiveward scan bundle --format FORMAT --fail-on never EXTRA`, run in `dir`: what it printed,
/// after checking that it exited 0.
pub fn scan_bundle_in(dir: &Path, format: &str, extra: &[&str]) -> String {
    let output = std::process::Command::cargo_bin("hiveward")
        .expect("binary builds")
        .current_dir(dir)
        // The sample bundle's PC22 `.reg` export leaves some checks unknown.
        .args([
            "scan",
            "bundle",
            "--format",
            format,
            "--fail-on",
            "never",
            "--allow-partial",
        ])
        .args(extra)
        .output()
        .expect("hiveward runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    String::from_utf8(output.stdout).expect("the report is UTF-8")
}
