//! Copies of one log in two folders of a host (a live log and its shadow copy) count each
//! record once, with a note naming both files.
//!
//! A file the inputs reach by two paths (`x.evtx` and `./x.evtx`, a folder given as `.` and
//! by its absolute path) is read once: its records are not counted twice, and the other path
//! is passed over, naming the one read.

mod support;

use hiveward_evtxwriter::{Event, EvtxWriter};
use serde_json::Value;

/// A SMBServer/Security log of `refusals` SPN rejections (event 551) on FS01.
fn rejections_log(refusals: i64) -> Vec<u8> {
    let mut log = EvtxWriter::new();
    for second in 0..refusals {
        log.push(
            Event::new(
                "Microsoft-Windows-SMBServer/Security",
                "Microsoft-Windows-SMBServer",
                551,
            )
            .computer("FS01.corp.example")
            .data("Status", "0xC0000022")
            .data("SPN", "cifs/alias.corp.example")
            .unix_time(1_700_000_000 + second),
        );
    }
    log.to_bytes()
}

fn inspect_events(dir: &std::path::Path, paths: &[&str]) -> Value {
    let mut args = vec!["inspect", "--events", "--format", "json"];
    args.extend_from_slice(paths);
    let run = support::hiveward(dir, &args);
    run.json()
}

/// The number of records of event 551 the report counts over every host's files.
fn count_551(report: &Value) -> u64 {
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|host| host["files"].as_array().unwrap())
        .flat_map(|file| {
            file["events"]["counts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|count| count["id"] == 551)
        .map(|count| count["count"].as_u64().unwrap())
        .sum()
}

#[test]
fn a_file_reached_by_two_paths_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("SMBServer-Security.evtx");
    std::fs::write(&log, rejections_log(3)).unwrap();

    let once = inspect_events(dir.path(), &["SMBServer-Security.evtx"]);
    assert_eq!(count_551(&once), 3, "{once:#}");

    let absolute = dir.path().display().to_string();
    for paths in [
        vec!["SMBServer-Security.evtx", "./SMBServer-Security.evtx"],
        vec![".", absolute.as_str()],
    ] {
        let twice = inspect_events(dir.path(), &paths);
        assert_eq!(count_551(&twice), 3, "{paths:?}: {twice:#}");
        let passed_over = twice["passed_over"].as_array().unwrap();
        assert_eq!(passed_over.len(), 1, "{paths:?}: {twice:#}");
        let reason = passed_over[0]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the same file as ") && reason.contains("SMBServer-Security.evtx"),
            "{reason}"
        );
    }
}

#[test]
fn copies_of_one_log_count_each_record_once_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("FS01/live");
    let shadow = dir.path().join("FS01/vss1");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::create_dir_all(&shadow).unwrap();
    std::fs::write(live.join("SMBServer-Security.evtx"), rejections_log(3)).unwrap();
    std::fs::write(shadow.join("SMBServer-Security.evtx"), rejections_log(3)).unwrap();
    let run = support::hiveward(
        dir.path(),
        &[
            "scan",
            "--only",
            "HW-SMBEVT-001,HW-HARD-005",
            "--format",
            "json",
            "--fail-on",
            "never",
            ".",
        ],
    );
    let report = run.json();
    let hosts = report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{report:#}");
    let notes: Vec<&Value> = hosts[0]["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|notice| notice["code"] == "hiveward::evtx::repeated_records")
        .collect();
    assert_eq!(notes.len(), 1, "{report:#}");
    let message = notes[0]["message"].as_str().unwrap();
    assert!(
        message.contains("vss1")
            && message.contains("3 record(s) repeat records of")
            && message.contains("live"),
        "{message}"
    );
    // Every finding counts the three rejections, never six.
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty(), "{report:#}");
    for finding in findings {
        let text = finding["message"].as_str().unwrap();
        assert!(!text.contains("6 time") && !text.contains("×6"), "{text}");
    }
    assert!(
        findings
            .iter()
            .any(|finding| finding["message"].as_str().unwrap().contains("×3")),
        "{report:#}"
    );
}
