//! The EVTX reader against the real logs of the corpus, with libyal's `evtxexport` as the
//! oracle for what each file holds, and against damaged copies made here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hiveward_collectors::{
    read_evtx, read_evtx_with, EventNeedFilter, EventRecord, EventSelection, EvidenceError,
    EvtxReadOptions, EvtxSummary, NoticeLevel, EVTX_DAMAGED_CODE,
};
use hiveward_testkit::{element_text, evtxexport_xml, unescape};

/// Every `.evtx` file under `dir`, sorted.
fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("evtx"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn corpus_evtx() -> Option<PathBuf> {
    let dir = hiveward_testkit::corpus_dir()?.join("evtx");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: no evtx folder in the corpus");
        None
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// One record as `evtxexport -f xml` prints it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct OracleRecord {
    record_id: u64,
    channel: String,
    id: u32,
}

/// What `evtxexport` exported from a file, and whether it got through the whole file (it stops
/// at the first record its XML reader rejects and exits with status 1).
struct Oracle {
    complete: bool,
    records: Vec<OracleRecord>,
}

fn evtxexport(path: &Path) -> Oracle {
    let export = evtxexport_xml(path);
    let records = export
        .records
        .iter()
        .map(|block| OracleRecord {
            record_id: element_text(block, "EventRecordID")
                .and_then(|id| id.trim().parse().ok())
                .unwrap_or_else(|| panic!("{}: a record without EventRecordID", path.display())),
            channel: unescape(element_text(block, "Channel").unwrap_or("")),
            id: element_text(block, "EventID")
                .and_then(|id| id.trim().parse().ok())
                .unwrap_or_else(|| panic!("{}: a record without EventID", path.display())),
        })
        .collect();
    Oracle {
        complete: export.complete,
        records,
    }
}

fn count_by_key<'a>(keys: impl Iterator<Item = (&'a str, u32)>) -> BTreeMap<(String, u32), u64> {
    let mut counts = BTreeMap::new();
    for (channel, id) in keys {
        *counts.entry((channel.to_string(), id)).or_default() += 1;
    }
    counts
}

fn summary_counts(summary: &EvtxSummary) -> BTreeMap<(String, u32), u64> {
    summary
        .counts
        .iter()
        .map(|count| ((count.channel.clone(), count.id), count.count))
        .collect()
}

fn damage_notice(summary: &EvtxSummary) -> Option<&hiveward_collectors::Notice> {
    summary
        .notices
        .iter()
        .find(|notice| notice.code == EVTX_DAMAGED_CODE)
}

/// Where hiveward and `evtxexport` are expected to differ, and why.
enum Expected {
    /// The same records per channel and event ID.
    Same,
    /// `evtxexport` stops early (exit status 1) on a record its XML reader rejects; everything it
    /// exported before that is also in hiveward's output, which has `total` records.
    OracleAborts { total: u64 },
    /// Both read the whole file, but hiveward recovers `extra` more records, all with record
    /// IDs that `evtxexport` does not list: libevtx stops reading a chunk at the first damaged
    /// record, while the evtx crate resynchronises on the next record whose header, size and
    /// ID check out.
    MoreRecovered { extra: u64 },
}

fn expectation(name: &str) -> Expected {
    match name {
        // libfwevt rejects these files' first record ("invalid binary XML token - unsupported
        // type: 0x05" in an attribute) and exports nothing. They were re-written by a tool that
        // stores plain BinXML trees with literal string values rather than template instances;
        // the evtx crate reads them (and `plain_binxml_logs_are_read` checks what they hold).
        "ID4799-4624-Local admin group enumerated by SharpHound.evtx" => {
            Expected::OracleAborts { total: 55 }
        }
        "ID5140-5145-Bloodhound-SharpHound enumeration via SMB.evtx" => {
            Expected::OracleAborts { total: 91 }
        }
        // A forwarded-events (WEC) log; same libfwevt failure on its only record.
        "MSExchange_Management_wec.evtx" => Expected::OracleAborts { total: 1 },
        // CAPI2 UserData holds entity references inside attribute values ("invalid binary XML
        // sub token - unsupported type: 0x49"); evtxexport stops at the first such record,
        // after 24 and 89 records.
        "E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx" => {
            Expected::OracleAborts { total: 340 }
        }
        "E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx" => {
            Expected::OracleAborts { total: 459 }
        }
        // Damaged samples where the evtx crate resynchronises after the damage (see
        // `Expected::MoreRecovered`). The skipped spots are in the warning, checked below.
        "sample_with_a_bad_chunk_magic.evtx" => Expected::MoreRecovered { extra: 31 },
        "sample-with-zero-data-size-event.evtx" => Expected::MoreRecovered { extra: 114 },
        // Chunk 1 of this shadow copy was being reused: past a damaged record, the evtx crate
        // finds 21 more. (Three of its records carry the next pass's ID in their record header;
        // both readers report their own `EventRecordID`.)
        "2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx" => {
            Expected::MoreRecovered { extra: 21 }
        }
        _ => Expected::Same,
    }
}

/// Reads a file with everything selected and with a selection that matches nothing (so that
/// the counts come from the pre-filter alone), and checks what must hold for every file.
fn read_both_ways(path: &Path) -> (EvtxSummary, Vec<EventRecord>) {
    let (summary, records) = read_evtx(path, &EventSelection::Everything)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(summary.parsed);
    assert_eq!(summary.records_matched, records.len() as u64);
    assert_eq!(
        summary.records_read,
        records.len() as u64,
        "{}",
        path.display()
    );
    // Records that fail to render are rendered, but count as skipped.
    assert!(summary.records_rendered >= summary.records_read);
    let rendered_counts = count_by_key(records.iter().map(|r| (r.channel.as_str(), r.id)));
    assert_eq!(
        summary_counts(&summary),
        rendered_counts,
        "{}",
        path.display()
    );
    let channels: BTreeSet<String> = records
        .iter()
        .map(|r| r.channel.clone())
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(summary.channels, channels.into_iter().collect::<Vec<_>>());
    assert!(
        records
            .windows(2)
            .all(|pair| (pair[0].time.as_str(), pair[0].record_id)
                <= (pair[1].time.as_str(), pair[1].record_id)),
        "{}: records are not sorted by time, then record ID",
        path.display()
    );

    // The pre-filter alone: a selection of the log's own channels with an event ID no record
    // has renders nothing it can read without rendering, and must count exactly what rendering
    // found. (A selection of other channels would stop after the first chunk.)
    let decoy = EventSelection::Matching(
        summary
            .channels
            .iter()
            .map(|channel| EventNeedFilter::new(channel.clone(), [u32::MAX]))
            .collect(),
    );
    let (prefiltered, none) = read_evtx(path, &decoy).unwrap();
    assert!(none.is_empty());
    assert_eq!(
        summary_counts(&prefiltered),
        rendered_counts,
        "{}: the pre-filter's channels and event IDs differ from the rendered ones",
        path.display()
    );
    assert_eq!(prefiltered.channels, summary.channels, "{}", path.display());
    assert_eq!(
        prefiltered.computers,
        summary.computers,
        "{}",
        path.display()
    );
    assert_eq!(prefiltered.records_read, summary.records_read);
    (summary, records)
}

#[test]
fn every_corpus_log_matches_evtxexport() {
    let Some(dir) = corpus_evtx() else { return };
    if !hiveward_testkit::oracle_available("evtxexport") {
        return;
    }
    let files = evtx_files(&dir);
    assert!(
        files.len() > 100,
        "the corpus has {} EVTX files",
        files.len()
    );
    // Two threads: the machine has two cores, and the files are independent.
    let halves: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2)).collect();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = halves
            .into_iter()
            .map(|half| {
                scope.spawn(move || {
                    half.iter()
                        .filter_map(|path| check_against_oracle(path))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compares one file with `evtxexport`; returns what differs unexpectedly.
fn check_against_oracle(path: &Path) -> Option<String> {
    let (summary, records) = read_both_ways(path);
    let oracle = evtxexport(path);
    let ours = count_by_key(records.iter().map(|r| (r.channel.as_str(), r.id)));
    let theirs = count_by_key(oracle.records.iter().map(|r| (r.channel.as_str(), r.id)));
    let our_ids: BTreeSet<(u64, &str, u32)> = records
        .iter()
        .map(|r| (r.record_id, r.channel.as_str(), r.id))
        .collect();
    let name = file_name(path);
    let problem = |what: String| Some(format!("{}: {what}", path.display()));
    let all_theirs_in_ours = || {
        oracle
            .records
            .iter()
            .all(|r| our_ids.contains(&(r.record_id, r.channel.as_str(), r.id)))
    };
    match expectation(name) {
        Expected::Same => {
            if !oracle.complete {
                return problem("evtxexport did not read the whole file".into());
            }
            if ours != theirs {
                return problem(format!(
                    "counts differ: hiveward {ours:?}, evtxexport {theirs:?}"
                ));
            }
        }
        Expected::OracleAborts { total } => {
            if oracle.complete {
                return problem("evtxexport now reads the whole file".into());
            }
            if !all_theirs_in_ours() || summary.records_read != total {
                return problem(format!(
                    "expected all of evtxexport's {} records among hiveward's {total}, got {}",
                    oracle.records.len(),
                    summary.records_read
                ));
            }
        }
        Expected::MoreRecovered { extra } => {
            // Compare as multisets of (record ID, channel, event ID): a log caught while a
            // chunk was being reused can hold the same record ID twice.
            let mut left = BTreeMap::<(u64, &str, u32), i64>::new();
            for r in &records {
                *left
                    .entry((r.record_id, r.channel.as_str(), r.id))
                    .or_default() += 1;
            }
            for r in &oracle.records {
                *left
                    .entry((r.record_id, r.channel.as_str(), r.id))
                    .or_default() -= 1;
            }
            let missing = left.values().filter(|n| **n < 0).count();
            let extra_found: i64 = left.values().filter(|n| **n > 0).sum();
            if !oracle.complete || missing > 0 || extra_found as u64 != extra {
                return problem(format!(
                    "expected evtxexport's {} records plus {extra} recovered, got {} ({missing} of theirs missing, {extra_found} extra)",
                    oracle.records.len(),
                    summary.records_read,
                ));
            }
        }
    }
    None
}

/// A file of the corpus, or `None` (after saying so) when the corpus is absent.
fn corpus_file(relative: &str) -> Option<PathBuf> {
    let path = corpus_evtx()?.join(relative);
    assert!(
        path.is_file(),
        "{} is missing from the corpus",
        path.display()
    );
    Some(path)
}

fn everything(path: &Path) -> (EvtxSummary, Vec<EventRecord>) {
    read_evtx(path, &EventSelection::Everything)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn matching(path: &Path, filters: Vec<EventNeedFilter>) -> (EvtxSummary, Vec<EventRecord>) {
    read_evtx(path, &EventSelection::Matching(filters))
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn count_of(summary: &EvtxSummary, channel: &str, id: u32) -> u64 {
    summary
        .counts
        .iter()
        .find(|count| count.channel == channel && count.id == id)
        .map_or(0, |count| count.count)
}

#[test]
fn smb_server_551_events_keep_their_spn() {
    let Some(path) = corpus_file(
        "museum/Win10/BelkasoftCTF_InsiderThreat/Microsoft-Windows-SMBServer%4Security.evtx",
    ) else {
        return;
    };
    let (summary, records) = everything(&path);
    // The channel comes from the records, not from the `%4` in the file name.
    assert_eq!(summary.channels, ["Microsoft-Windows-SMBServer/Security"]);
    assert_eq!(summary.computers, ["DESKTOP-23PS6ES"]);
    let events: Vec<&EventRecord> = records.iter().filter(|r| r.id == 551).collect();
    assert!(!events.is_empty());
    assert_eq!(
        events.len() as u64,
        count_of(&summary, "Microsoft-Windows-SMBServer/Security", 551)
    );
    for event in &events {
        assert_eq!(event.channel, "Microsoft-Windows-SMBServer/Security");
        assert_eq!(event.provider, "Microsoft-Windows-SMBServer");
        assert_eq!(event.computer, "DESKTOP-23PS6ES");
        let spn = event.data.get("SPN").and_then(|spn| spn.as_str());
        assert!(spn.is_some_and(|spn| !spn.is_empty()), "{event:?}");
        // UserData is flattened: the fields of its one child element, numbers as numbers.
        assert!(event.data["ClientAddressLength"].is_u64(), "{event:?}");
        assert!(event.data["Status"].is_string());
        assert!(!event.data.contains_key("EventData"));
        assert!(!event.data.contains_key("#attributes"));
    }
    assert_eq!(
        events[0].data["SPN"],
        "session setup failed before the SPN could be queried"
    );
    assert_eq!(events[0].time, "2020-08-01T21:50:17.170403Z");
    assert_eq!(events[0].record_id, 1);

    // The same events through the pre-filter: channel in another case, all IDs.
    let (filtered, matched) = matching(
        &path,
        vec![
            EventNeedFilter::new("microsoft-windows-smbserver/security", [551])
                .with_provider("Microsoft-Windows-SMBServer"),
        ],
    );
    assert_eq!(matched.len(), events.len());
    assert_eq!(filtered.records_rendered, filtered.records_matched);
}

#[test]
fn matching_selects_only_the_wanted_events_without_rendering_the_rest() {
    let Some(path) = corpus_file("omerbenamram-evtx/security.evtx") else {
        return;
    };
    let (all_summary, all) = everything(&path);
    let logons = count_of(&all_summary, "Security", 4624);
    assert!(logons > 0);
    assert!(all_summary.records_read > logons);

    let (summary, records) = matching(&path, vec![EventNeedFilter::new("Security", [4624])]);
    assert!(records
        .iter()
        .all(|r| r.id == 4624 && r.channel == "Security"));
    assert_eq!(records.len() as u64, logons);
    assert_eq!(summary.records_matched, logons);
    // Every other record was rejected by the pre-filter, without rendering.
    assert_eq!(summary.records_rendered, logons);
    // The counts still cover every record of the file.
    assert_eq!(summary.counts, all_summary.counts);
    assert_eq!(summary.records_read, all_summary.records_read);
    // The same events, with the same data, as with everything selected.
    let expected: Vec<&EventRecord> = all.iter().filter(|r| r.id == 4624).collect();
    assert_eq!(records.iter().collect::<Vec<_>>(), expected);
    let first = &records[0];
    assert!(first.data.contains_key("LogonType"), "{first:?}");
    assert!(first.data.contains_key("AuthenticationPackageName"));
    assert_eq!(first.provider, "Microsoft-Windows-Security-Auditing");

    // The channel ignores case; a provider, when given, must match (ignoring case too).
    let (_, upper) = matching(&path, vec![EventNeedFilter::new("SECURITY", [4624])]);
    assert_eq!(upper.len() as u64, logons);
    let (_, provider) = matching(
        &path,
        vec![EventNeedFilter::new("security", [4624])
            .with_provider("microsoft-windows-security-auditing")],
    );
    assert_eq!(provider.len() as u64, logons);
    let (other_summary, other) = matching(
        &path,
        vec![EventNeedFilter::new("Security", [4624]).with_provider("Microsoft-Windows-Eventlog")],
    );
    assert!(other.is_empty());
    assert_eq!(other_summary.records_matched, 0);

    // Another channel, or an ID the log lacks: nothing.
    let (_, system) = matching(&path, vec![EventNeedFilter::new("System", [4624])]);
    assert!(system.is_empty());
    let (_, absent) = matching(&path, vec![EventNeedFilter::new("Security", [5168])]);
    assert!(absent.is_empty());

    // Empty IDs: every event of the channel; several filters: the union.
    let (_, whole) = matching(&path, vec![EventNeedFilter::new("Security", [])]);
    assert_eq!(whole, all);
    let privileges = count_of(&all_summary, "Security", 4672);
    let (_, both) = matching(
        &path,
        vec![
            EventNeedFilter::new("Security", [4624]),
            EventNeedFilter::new("Security", [4672]),
        ],
    );
    assert_eq!(both.len() as u64, logons + privileges);
    assert!(both.iter().all(|r| r.id == 4624 || r.id == 4672));

    // An empty list parses and counts but returns nothing.
    let (counted, none) = matching(&path, Vec::new());
    assert!(none.is_empty() && counted.parsed);
    assert_eq!(counted.counts, all_summary.counts);
    assert_eq!(counted.records_rendered, 0);
}

#[test]
fn nothing_selected_means_the_file_is_not_parsed() {
    let Some(path) = corpus_file("omerbenamram-evtx/security.evtx") else {
        return;
    };
    let (summary, records) = read_evtx(&path, &EventSelection::Nothing).unwrap();
    assert!(records.is_empty());
    assert!(!summary.parsed);
    assert_eq!(summary.records_read, 0);
    assert!(summary.counts.is_empty() && summary.channels.is_empty());
    assert_eq!(
        EventSelection::from_needs(Vec::new()),
        EventSelection::Nothing
    );
    // Not even opened.
    let (missing, none) = read_evtx(
        Path::new("/nonexistent/Security.evtx"),
        &EventSelection::Nothing,
    )
    .unwrap();
    assert!(none.is_empty() && !missing.parsed);
}

#[test]
fn records_are_sorted_by_time_then_record_id() {
    // A log that wrapped around: its oldest records are in chunk 10 of 16.
    let Some(path) = corpus_file(
        "omerbenamram-evtx/2-vss_0-Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
    ) else {
        return;
    };
    let (_, records) = everything(&path);
    assert!(records.len() > 1000);
    for record in &records {
        // RFC 3339 UTC with microseconds: 2018-07-31T06:42:06.513459Z.
        assert_eq!(record.time.len(), 27, "{}", record.time);
        assert!(record.time.ends_with('Z') && record.time.as_bytes()[19] == b'.');
    }
    for pair in records.windows(2) {
        assert!(
            (pair[0].time.as_str(), pair[0].record_id)
                <= (pair[1].time.as_str(), pair[1].record_id),
            "{} {} before {} {}",
            pair[0].time,
            pair[0].record_id,
            pair[1].time,
            pair[1].record_id
        );
    }
    // Not simply file order: the first record is not the first of the file's first chunk.
    assert_ne!(records[0].record_id, 462823);
}

#[test]
fn threads_inside_a_file_do_not_change_the_output() {
    let Some(path) = corpus_file("omerbenamram-evtx/2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx") else {
        return;
    };
    let single = everything(&path);
    for threads in [2, 3] {
        let options = EvtxReadOptions { threads };
        let parallel = read_evtx_with(&path, &EventSelection::Everything, &options).unwrap();
        assert_eq!(parallel, single, "{threads} threads");
        let filters = vec![EventNeedFilter::new(
            "Microsoft-Windows-RemoteDesktopServices-RdpCoreTS/Operational",
            [131],
        )];
        let one = read_evtx(&path, &EventSelection::Matching(filters.clone())).unwrap();
        let many = read_evtx_with(&path, &EventSelection::Matching(filters), &options).unwrap();
        assert!(!one.1.is_empty());
        assert_eq!(one, many);
    }
}

#[test]
fn damaged_samples_are_read_as_far_as_possible_with_a_warning() {
    let Some(dir) = corpus_evtx() else { return };
    let dir = dir.join("omerbenamram-evtx");
    let read = |name: &str| everything(&dir.join(name));

    // Two chunks (6 and 10) have a zeroed header: skipped, with the other chunks read. Three
    // records end without the copy of their size (written in part) and one record header is
    // zeroed; the evtx crate finds the records after it.
    let (summary, records) = read("sample_with_a_bad_chunk_magic.evtx");
    let notice = damage_notice(&summary).expect("a damage warning");
    assert_eq!(notice.level, NoticeLevel::Warning);
    assert_eq!(summary.chunks_skipped, 2);
    assert_eq!(summary.records_skipped, 4);
    assert_eq!(summary.records_read, 298);
    assert_eq!(records.len(), 298);
    for expected in [
        "sample_with_a_bad_chunk_magic.evtx",
        "298 records read, 4 records skipped, 2 chunks skipped",
        "chunk 6: bad chunk signature",
        "chunk 10: bad chunk signature",
        "chunk 7, offset 0x2060: damaged record header",
        "chunk 9, record 45933: incomplete",
        "records checksum mismatch",
    ] {
        assert!(
            notice.message.contains(expected),
            "{expected:?} not in {}",
            notice.message
        );
    }
    assert_eq!(notice.file.as_deref(), Some(summary.path.as_str()));

    // A record whose size is zero: skipped, and the rest of its chunk is still read.
    let (summary, _) = read("sample-with-zero-data-size-event.evtx");
    let notice = damage_notice(&summary).expect("a damage warning");
    assert_eq!((summary.records_read, summary.records_skipped), (449, 1));
    assert!(notice
        .message
        .contains("chunk 0, offset 0x820: zero-size record"));

    // A damaged chunk header checksum (and string table): every record is still read, and is
    // the same as in the intact copy of the log.
    let (bad, bad_records) = read("security_bad_string_cache.evtx");
    let (good, good_records) = read("security.evtx");
    let notice = damage_notice(&bad).expect("a damage warning");
    assert!(notice.message.contains("chunk 0: header checksum mismatch"));
    assert_eq!(bad.records_skipped, 0);
    assert_eq!(bad.counts, good.counts);
    assert_eq!(bad_records.len(), good_records.len());
    assert!(damage_notice(&good).is_none());

    // No CRC32 at all, as the flags say: not damage.
    let (summary, records) = read("Application_no_crc32.evtx");
    assert!(summary.notices.is_empty(), "{:?}", summary.notices);
    assert_eq!(records.len(), 17);

    // Garbage after the last used chunk (the header counts one chunk, the file holds 17).
    let (summary, _) = read("sysmon.evtx");
    assert_eq!((summary.records_read, summary.chunks_skipped), (358, 8));
    assert!(damage_notice(&summary).is_some());

    // Logs copied while a record was being written: its header is there, its end is not.
    for name in [
        "Microsoft-Windows-LanguagePackSetup%4Operational.evtx",
        "Microsoft-Windows-HelloForBusiness%4Operational.evtx",
    ] {
        let (summary, records) = read(name);
        let notice = damage_notice(&summary).expect("a damage warning");
        assert_eq!(summary.records_skipped, 1, "{name}");
        assert!(
            notice.message.contains(": incomplete"),
            "{}",
            notice.message
        );
        // None of the half-written records' zeroed values show up.
        assert!(records
            .iter()
            .all(|r| !r.channel.is_empty() && r.record_id > 0));
    }

    // Records whose content does not parse.
    let (summary, _) =
        read("2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx");
    assert_eq!(summary.records_skipped, 4);
    let notice = damage_notice(&summary).expect("a damage warning");
    assert!(notice.message.contains("content does not parse"));
}

/// Writes `bytes` to a temporary file named `name`.
fn temp_log(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn truncated_and_rewritten_copies_are_read_as_far_as_possible() {
    let Some(path) = corpus_file("omerbenamram-evtx/security.evtx") else {
        return;
    };
    let original = std::fs::read(&path).unwrap();
    let (full, full_records) = everything(&path);
    let dir = tempfile::tempdir().unwrap();

    // Cut in the middle of chunk 3: chunks 0-2 in full, chunk 3 up to the cut.
    let cut = 4096 + 3 * 65536 + 30000;
    let truncated = temp_log(&dir, "Security-truncated.evtx", &original[..cut]);
    let (summary, records) = everything(&truncated);
    let notice = damage_notice(&summary).expect("a damage warning");
    assert!(notice.message.contains("cut short"), "{}", notice.message);
    assert!(summary.records_read < full.records_read);
    assert!(summary.records_read > 3 * 80, "{}", summary.records_read);
    assert!(
        summary.records_skipped > 0,
        "records lost past the cut are counted"
    );
    // Chunks counted by the header but missing from the file.
    assert_eq!(summary.chunks_skipped, 26 - 4);
    let full_ids: BTreeSet<u64> = full_records.iter().map(|r| r.record_id).collect();
    assert!(records.iter().all(|r| full_ids.contains(&r.record_id)));

    // A file header whose checksum no longer matches: everything is still read.
    let mut dirty = original.clone();
    dirty[24] ^= 0x01; // next record ID
    let dirty_path = temp_log(&dir, "Security-header.evtx", &dirty);
    let (summary, records) = everything(&dirty_path);
    let notice = damage_notice(&summary).expect("a damage warning");
    assert!(notice
        .message
        .contains("file header's checksum does not match"));
    assert_eq!(records, {
        let mut expected = full_records.clone();
        let file = dirty_path.display().to_string();
        expected.iter_mut().for_each(|r| r.file = file.clone());
        expected
    });

    // A chunk overwritten with garbage: skipped; every other chunk read.
    let mut garbage = original.clone();
    let mut state = 0x2545_f491_u32;
    for byte in &mut garbage[4096 + 65536..4096 + 2 * 65536] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *byte = state as u8;
    }
    let garbage_path = temp_log(&dir, "Security-garbage.evtx", &garbage);
    let (summary, records) = everything(&garbage_path);
    assert_eq!(summary.chunks_skipped, 1);
    assert!(damage_notice(&summary)
        .unwrap()
        .message
        .contains("chunk 1: bad chunk signature"));
    let chunk_one = full_records
        .iter()
        .filter(|r| (92..=177).contains(&r.record_id))
        .count();
    assert_eq!(records.len(), full_records.len() - chunk_one);

    // Only the header block, cut short.
    let header_only = temp_log(&dir, "Security-header-only.evtx", &original[..1000]);
    let (summary, records) = everything(&header_only);
    assert!(records.is_empty());
    assert!(damage_notice(&summary)
        .unwrap()
        .message
        .contains("cut short"));
}

#[test]
fn files_that_are_not_logs_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = temp_log(&dir, "Empty.evtx", b"");
    match read_evtx(&empty, &EventSelection::Everything) {
        Err(error @ EvidenceError::EmptyFile { .. }) => assert_eq!(error.path(), empty),
        other => panic!("{other:?}"),
    }
    let text = temp_log(
        &dir,
        "Text.evtx",
        &b"not an event log at all, just text\n".repeat(20),
    );
    match read_evtx(&text, &EventSelection::Everything) {
        Err(error @ EvidenceError::NotAnEvtx { .. }) => {
            assert_eq!(error.path(), text);
            assert_eq!(error.code_name(), "hiveward::evtx::not_a_log");
            let message = error.to_string();
            assert!(
                message.contains("Text.evtx") && message.contains("not an EVTX event log"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let missing = dir.path().join("Missing.evtx");
    assert!(matches!(
        read_evtx(&missing, &EventSelection::Everything),
        Err(EvidenceError::Io { .. })
    ));
}

#[test]
fn garbled_logs_never_panic() {
    let Some(path) = corpus_file("omerbenamram-evtx/Security_short_selected.evtx") else {
        return;
    };
    let original = std::fs::read(&path).unwrap();
    let (_, full) = everything(&path);
    assert!(!full.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("Garbled.evtx");
    let selections = [
        EventSelection::Everything,
        EventSelection::Matching(vec![EventNeedFilter::new("Security", [4624])]),
    ];
    // Every 61st byte of the file header, the chunk header and the records, set to 0xff or
    // 0x00; then cuts at many lengths.
    let used = 4096 + 512 + 12000;
    for position in (0..used).step_by(61) {
        for value in [0xff, 0x00] {
            let mut garbled = original.clone();
            garbled[position] = value;
            std::fs::write(&target, &garbled).unwrap();
            for selection in &selections {
                if let Ok((summary, records)) = read_evtx(&target, selection) {
                    assert_eq!(summary.records_matched, records.len() as u64);
                }
            }
        }
    }
    for length in (0..used).step_by(331) {
        std::fs::write(&target, &original[..length]).unwrap();
        let _ = read_evtx(&target, &EventSelection::Everything);
    }
}

#[test]
fn plain_binxml_logs_are_read() {
    // Logs whose records are plain BinXML trees (no templates), which evtxexport cannot read:
    // the events are those the file names announce, read by the pre-filter without rendering.
    for (relative, ids) in [
        (
            "evtx-to-mitre-attack/TA0007-Discovery/T1069-Permission Groups Discovery/ID4799-4624-Local admin group enumerated by SharpHound.evtx",
            &[4624, 4799][..],
        ),
        (
            "evtx-to-mitre-attack/TA0007-Discovery/T1135.xxx-Network Share Discovery/ID5140-5145-Bloodhound-SharpHound enumeration via SMB.evtx",
            &[5140, 5145][..],
        ),
    ] {
        let Some(path) = corpus_file(relative) else {
            return;
        };
        let (summary, records) = everything(&path);
        assert_eq!(summary.channels, ["Security"]);
        for id in ids {
            assert!(count_of(&summary, "Security", *id) > 0, "{relative}: no {id}");
        }
        let (filtered, matched) = matching(&path, vec![EventNeedFilter::new("Security", ids.to_vec())]);
        assert_eq!(filtered.records_rendered, filtered.records_matched);
        assert_eq!(
            matched.len(),
            records.iter().filter(|r| ids.contains(&r.id)).count()
        );
        // Their values are literal strings, and stay strings.
        let logon = records.iter().find(|r| r.id == ids[0]).unwrap();
        assert!(logon.data.values().all(|value| value.is_string() || value.is_null()));
    }
}

#[test]
fn logs_of_channels_no_rule_reads_stop_after_their_first_chunk() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let log = corpus.join("evtx/museum/Win2012R2/StolenSzechuan/System.evtx");
    let security_only = EventSelection::Matching(vec![EventNeedFilter::new("Security", [4624])]);
    let (skipped, records) = read_evtx(&log, &security_only).unwrap();
    assert!(records.is_empty());
    assert_eq!(skipped.channels, ["System"]);
    assert!(skipped.chunks_not_needed > 0, "{skipped:?}");
    assert!(skipped
        .notices
        .iter()
        .any(|notice| notice.code == "hiveward::evtx::channel_not_needed"));
    let system = EventSelection::Matching(vec![EventNeedFilter::new("system", [7036])]);
    let (full, _) = read_evtx(&log, &system).unwrap();
    assert_eq!(full.chunks_not_needed, 0);
    assert!(full.records_read > skipped.records_read);
    let (everything, _) = read_evtx(&log, &EventSelection::Everything).unwrap();
    assert_eq!(full.counts, everything.counts);
}
