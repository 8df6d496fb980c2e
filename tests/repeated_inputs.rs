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
