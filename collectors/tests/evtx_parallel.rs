//! Reading one log's chunks in parallel, and rendering only the wanted records: the output is
//! the same for any thread count and pool, and the same records come back as when everything
//! is rendered, whatever is around them in their chunk.

use std::path::{Path, PathBuf};

use hiveward_collectors::{
    read_evtx, read_evtx_with, EventNeedFilter, EventRecord, EventSelection, EvtxReadOptions,
    EvtxSummary,
};
use hiveward_evtxwriter::{
    break_records_crc, corrupt_chunk_magic, record_offset, security_4624, security_5168,
    smb_server_551, zero_record_size, Event, EvtxWriter, Value, CHUNK_SIZE, FILE_HEADER_SIZE,
    RECORD_MAGIC,
};
use rayon::prelude::*;

type Read = (EvtxSummary, Vec<EventRecord>);

/// A Security log of several chunks in which the 4624 and 5168 events the SMB packs read are
/// scattered among others: first and last in their chunk, alone, and in runs.
fn mixed_security_log() -> EvtxWriter {
    let mut log = EvtxWriter::new().records_per_chunk(40);
    for n in 0..400u32 {
        let event = match n % 23 {
            0..=2 => security_4624("alice", 3, "NTLM", "NTLM V1"),
            7 => security_5168("cifs/files", 0xC000_0022),
            _ => other_event(n),
        };
        log.push(event.unix_time(1_700_000_000 + i64::from(n)));
    }
    log
}

/// An event no SMB rule reads, with a field whose value changes.
fn other_event(n: u32) -> Event {
    Event::new("Security", "Microsoft-Windows-Security-Auditing", 4672)
        .computer("FS01.corp.example")
        .data("SubjectUserName", format!("user{n}"))
        .data("PrivilegeList", "SeBackupPrivilege")
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn smb_needs() -> EventSelection {
    EventSelection::Matching(vec![
        EventNeedFilter::new("Security", [5168, 4624]),
        EventNeedFilter::new("Microsoft-Windows-SMBServer/Security", [551]),
        EventNeedFilter::new("System", [4]),
    ])
}

/// The selections a scan uses: counting only, the rules' needs, another channel, everything.
fn selections() -> Vec<EventSelection> {
    vec![
        EventSelection::Matching(Vec::new()),
        smb_needs(),
        EventSelection::Matching(vec![EventNeedFilter::new("Security", [4672])]),
        EventSelection::Matching(vec![EventNeedFilter::new("System", [7036])]),
        EventSelection::Everything,
    ]
}

fn read_in_pool(path: &Path, selection: &EventSelection, threads: usize, pool: usize) -> Read {
    rayon::ThreadPoolBuilder::new()
        .num_threads(pool)
        .build()
        .unwrap()
        .install(|| read_evtx_with(path, selection, &EvtxReadOptions { threads }).unwrap())
}

/// What `selection` returns when every record is rendered and then filtered.
fn expected_records(everything: &[EventRecord], selection: &EventSelection) -> Vec<EventRecord> {
    everything
        .iter()
        .filter(|event| selection.wants(&event.channel, &event.provider, event.id))
        .cloned()
        .collect()
}

/// Checks that `selection` returns exactly what rendering everything and filtering returns,
/// with the same counts, rendering only the records it returns.
fn check_against_everything(path: &Path, selection: &EventSelection) {
    let (all_summary, all) = read_evtx(path, &EventSelection::Everything).unwrap();
    for threads in [1, 2] {
        let (summary, records) =
            read_evtx_with(path, selection, &EvtxReadOptions { threads }).unwrap();
        assert_eq!(
            records,
            expected_records(&all, selection),
            "{threads} thread(s)"
        );
        assert_eq!(summary.counts, all_summary.counts);
        assert_eq!(summary.computers, all_summary.computers);
        assert_eq!(summary.records_read, all_summary.records_read);
        assert_eq!(summary.records_rendered, summary.records_matched);
    }
}

#[test]
fn the_output_is_the_same_for_any_thread_count_and_pool() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = mixed_security_log().to_bytes();
    let chunks = (bytes.len() - FILE_HEADER_SIZE) / CHUNK_SIZE;
    assert!(chunks >= 8, "{chunks} chunks");
    let clean = write(&dir, "Security.evtx", &bytes);
    // And a damaged copy, whose damage notice lists reasons from several chunks in order.
    break_records_crc(&mut bytes, 1);
    corrupt_chunk_magic(&mut bytes, 3);
    zero_record_size(&mut bytes, 250);
    let damaged = write(&dir, "damaged.evtx", &bytes);
    for path in [&clean, &damaged] {
        for selection in selections() {
            let single = read_evtx(path, &selection).unwrap();
            for (threads, pool) in [(1, 2), (2, 1), (2, 2), (4, 3)] {
                assert_eq!(
                    read_in_pool(path, &selection, threads, pool),
                    single,
                    "{}: {threads} thread(s) in a pool of {pool}, {selection:?}",
                    path.display()
                );
            }
        }
    }
    let (damaged_summary, _) = read_evtx(&damaged, &smb_needs()).unwrap();
    assert!(damaged_summary.chunks_skipped == 1 && damaged_summary.records_skipped > 0);
}

#[test]
fn logs_read_in_parallel_inside_a_shared_pool_read_as_alone() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = (0..6)
        .map(|n| {
            let mut log = mixed_security_log();
            log.push(smb_server_551("bob", "WKS7", "cifs/files", 0xC000_0022, n));
            write(&dir, &format!("log{n}.evtx"), &log.to_bytes())
        })
        .collect();
    let selection = smb_needs();
    let alone: Vec<Read> = paths
        .iter()
        .map(|path| read_evtx(path, &selection).unwrap())
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let together: Vec<Read> = pool.install(|| {
        paths
            .par_iter()
            .map(|path| read_evtx_with(path, &selection, &EvtxReadOptions { threads: 2 }).unwrap())
            .collect()
    });
    assert_eq!(together, alone);
}

#[test]
fn wanted_records_come_back_as_when_everything_is_rendered() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "Security.evtx", &mixed_security_log().to_bytes());
    for selection in [
        smb_needs(),
        EventSelection::Matching(vec![EventNeedFilter::new("Security", [4672])]),
        EventSelection::Matching(vec![EventNeedFilter::new("security", [])]),
        EventSelection::Matching(vec![EventNeedFilter::new("Security", [4624])
            .with_provider("microsoft-windows-security-auditing")]),
    ] {
        check_against_everything(&path, &selection);
    }
    // Counting only renders nothing, and counts what rendering everything counts.
    let (all, _) = read_evtx(&path, &EventSelection::Everything).unwrap();
    let (counted, none) = read_evtx(&path, &EventSelection::Matching(Vec::new())).unwrap();
    assert!(none.is_empty());
    assert_eq!(counted.records_rendered, 0);
    assert_eq!(counted.counts, all.counts);
    assert_eq!(counted.computers, all.computers);
}

/// The bytes of a record laid out as one: signature, size, ID, a time, and the copy of the
/// size at its end.
fn record_lookalike(size: u32, id: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; size as usize];
    bytes[..4].copy_from_slice(&RECORD_MAGIC);
    bytes[4..8].copy_from_slice(&size.to_le_bytes());
    bytes[8..16].copy_from_slice(&id.to_le_bytes());
    bytes[16..24].copy_from_slice(&0x01d9_0000_0000_0000u64.to_le_bytes());
    let end = size as usize;
    bytes[end - 4..].copy_from_slice(&size.to_le_bytes());
    bytes
}

#[test]
fn a_record_lookalike_inside_a_record_not_wanted_changes_nothing() {
    // Records that are not wanted are hidden from the evtx crate by spoiling their signature;
    // the crate then looks for the next one, and must not take a lookalike for it.
    let dir = tempfile::tempdir().unwrap();
    let mut log = EvtxWriter::new();
    for n in 0..30u64 {
        let event = if n % 5 == 4 {
            security_4624("alice", 3, "NTLM", "NTLM V1")
        } else {
            // Claims to be record 3, 5 or 7 of this chunk, and ends inside the chunk.
            other_event(n as u32).data("Blob", Value::Binary(record_lookalike(120, 3 + n % 3 * 2)))
        };
        log.push(event.unix_time(1_700_000_000 + n as i64));
    }
    let path = write(&dir, "Security.evtx", &log.to_bytes());
    check_against_everything(&path, &smb_needs());
    let (summary, records) = read_evtx(&path, &smb_needs()).unwrap();
    assert_eq!(records.len(), 6);
    assert_eq!(summary.records_read, 30);
}

#[test]
fn wanted_records_after_hidden_ones_are_found_whatever_the_chunk_header_says() {
    // The chunk header's offset of its last record bounds where the evtx crate looks for a
    // record after one it cannot read; a wrong one must not lose wanted records.
    let dir = tempfile::tempdir().unwrap();
    let mut log = EvtxWriter::new();
    for n in 0..20u32 {
        let event = if n % 4 == 3 {
            security_5168("cifs/files", 0xC000_0022)
        } else {
            other_event(n)
        };
        log.push(event.unix_time(1_700_000_000 + i64::from(n)));
    }
    let mut bytes = log.to_bytes();
    let first = record_offset(&bytes, 2).unwrap() as u32 - FILE_HEADER_SIZE as u32;
    bytes[FILE_HEADER_SIZE + 44..FILE_HEADER_SIZE + 48].copy_from_slice(&first.to_le_bytes());
    let path = write(&dir, "Security.evtx", &bytes);
    check_against_everything(&path, &smb_needs());
    let (_, records) = read_evtx(&path, &smb_needs()).unwrap();
    assert_eq!(records.len(), 5);
}

#[test]
fn corpus_logs_read_the_same_on_any_thread_count() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let dir = corpus.join("evtx/museum/Win2012R2/StolenSzechuan");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: no {}", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "evtx"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in &paths {
        for selection in selections() {
            let single = read_evtx(path, &selection).unwrap();
            let parallel = read_in_pool(path, &selection, 2, 2);
            assert_eq!(parallel, single, "{}: {selection:?}", path.display());
        }
        // Counting only renders nothing on these logs.
        let (counted, _) = read_evtx(path, &EventSelection::Matching(Vec::new())).unwrap();
        assert_eq!(counted.records_rendered, 0, "{}", path.display());
        check_against_everything(path, &smb_needs());
    }
}
