//! An event log read only in part (chunks cut off or unreadable) may have lost the records a
//! rule looks for: a rule that finds nothing in what was read is not checked, with a reason
//! that names the log, and one that finds records in it still reports them.

use std::path::Path;

use hiveward_evtxwriter::{security_4624, EvtxWriter, CHUNK_SIZE, FILE_HEADER_SIZE};
use serde_json::Value as Json;

mod common;

/// A Security log of two chunks, one logon each: NTLM V2 in the first, `second` in the second.
fn two_chunk_log(second: &str) -> Vec<u8> {
    let mut log = EvtxWriter::new().records_per_chunk(1);
    log.push(security_4624("alice", 3, "NTLM", "NTLM V2").unix_time(1_700_000_000));
    log.push(security_4624("bob", 3, "NTLM", second).unix_time(1_700_000_001));
    let bytes = log.to_bytes();
    assert_eq!(bytes.len(), FILE_HEADER_SIZE + 2 * CHUNK_SIZE, "two chunks");
    bytes
}

/// The first chunk only, as a copy cut short leaves it.
fn cut_after_first_chunk(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.truncate(FILE_HEADER_SIZE + CHUNK_SIZE);
    bytes
}

/// HW-NTLM-002's outcome on the one host of a bundle holding `log` as `Security.evtx`.
fn ntlm_v1_outcome(dir: &Path, log: &[u8]) -> (Json, Json) {
    std::fs::create_dir_all(dir).expect("bundle folder");
    std::fs::write(dir.join("Security.evtx"), log).expect("log written");
    let report = common::scan_json(dir, "HW-NTLM-002");
    assert_eq!(report["summary"]["rule_errors"], 0, "{report:#}");
    let hosts = report["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "one host: {report:#}");
    let outcome = hosts[0]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .find(|outcome| outcome["rule"] == "HW-NTLM-002")
        .cloned()
        .expect("an outcome of HW-NTLM-002");
    (outcome, report)
}

#[test]
fn a_log_cut_short_before_the_records_sought_leaves_the_rule_not_checked() {
    let dir = tempfile::tempdir().expect("temp dir");

    // The whole log: the NTLM V1 logon in the second chunk is found.
    let (whole, _) = ntlm_v1_outcome(&dir.path().join("whole"), &two_chunk_log("NTLM V1"));
    assert_eq!(whole["outcome"], "findings", "{whole:#}");

    // A whole log without NTLM V1: passed.
    let (clean, _) = ntlm_v1_outcome(&dir.path().join("clean"), &two_chunk_log("NTLM V2"));
    assert_eq!(clean["outcome"], "passed", "{clean:#}");

    // Cut after the first chunk: the logon is lost, and nothing in what is left proves its
    // absence.
    let (cut, report) = ntlm_v1_outcome(
        &dir.path().join("cut"),
        &cut_after_first_chunk(two_chunk_log("NTLM V1")),
    );
    assert_eq!(cut["outcome"], "not_checked", "{cut:#}");
    let reason = cut["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("Security log read only in part: ")
            && reason.contains("Security.evtx")
            && reason.contains("may be among those lost"),
        "{reason}"
    );
    // Every format lists it: the JSON report's unchecked list and its summary count.
    let unchecked = report["unchecked"].as_array().expect("unchecked");
    assert!(
        unchecked
            .iter()
            .any(|item| item["rule"] == "HW-NTLM-002" && item["message"] == reason),
        "{report:#}"
    );
}

#[test]
fn records_found_in_a_log_read_in_part_are_still_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The NTLM V1 logon in the first chunk, the second chunk cut off.
    let mut log = EvtxWriter::new().records_per_chunk(1);
    log.push(security_4624("carol", 3, "NTLM", "NTLM V1").unix_time(1_700_000_000));
    log.push(security_4624("dave", 3, "NTLM", "NTLM V2").unix_time(1_700_000_001));
    let (outcome, report) = ntlm_v1_outcome(
        &dir.path().join("cut"),
        &cut_after_first_chunk(log.to_bytes()),
    );
    assert_eq!(outcome["outcome"], "findings", "{outcome:#}");
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(1));
}

#[test]
fn zero_padding_after_the_last_chunk_is_not_a_chunk_cut_short() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A copy made in whole clusters: the log, then 4 KiB of zeros.
    let mut padded = two_chunk_log("NTLM V2");
    padded.extend(std::iter::repeat_n(0u8, 4096));
    let (outcome, report) = ntlm_v1_outcome(&dir.path().join("padded"), &padded);
    assert_eq!(outcome["outcome"], "passed", "{outcome:#}");
    assert_eq!(report["summary"]["files_partial"], 0, "{report:#}");
    let text = report.to_string();
    assert!(!text.contains("cut short"), "{report:#}");

    // The same length of anything but zeros is a chunk cut short, read in part.
    let mut torn = two_chunk_log("NTLM V2");
    torn.extend(std::iter::repeat_n(0x41u8, 4096));
    let (outcome, report) = ntlm_v1_outcome(&dir.path().join("torn"), &torn);
    assert_eq!(outcome["outcome"], "not_checked", "{outcome:#}");
    assert!(
        report
            .to_string()
            .contains("cut short: its last chunk (2) has 4096 of"),
        "{report:#}"
    );
}
