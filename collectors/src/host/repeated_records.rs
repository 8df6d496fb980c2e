//! Counts a record once when two logs of one host hold it: copies of one log, such as a live
//! log and its shadow copy in a triage collection, would otherwise count every event twice.

use std::collections::BTreeMap;

use crate::error::Notice;
use crate::evtx::EventRecord;

/// The notice code for records that more than one log of a host holds.
pub(crate) const REPEATED_RECORDS_CODE: &str = "hiveward::evtx::repeated_records";

/// Keeps, of `events` (sorted by time, record ID and file), one of each record that several
/// files hold: the same channel, provider, event ID, record ID, time, computer and fields. The
/// first file in that order keeps it. A file that holds a record twice keeps both (only a
/// second file's copy is a repeat). Each pair of files with repeats gets a note.
pub(super) fn drop_repeated_records(
    events: Vec<EventRecord>,
    notices: &mut Vec<Notice>,
) -> Vec<EventRecord> {
    let mut kept: Vec<EventRecord> = Vec::with_capacity(events.len());
    // Where the records of the current (time, record ID) begin in `kept`.
    let mut group_start = 0;
    // (file dropped from, file kept) -> records dropped.
    let mut repeats: BTreeMap<(String, String), usize> = BTreeMap::new();
    for event in events {
        let same_group = kept
            .get(group_start)
            .is_some_and(|first| first.time == event.time && first.record_id == event.record_id);
        if !same_group {
            group_start = kept.len();
        }
        let twin = kept[group_start..]
            .iter()
            .find(|other| other.file != event.file && same_record(other, &event));
        match twin {
            Some(twin) => {
                *repeats
                    .entry((event.file.clone(), twin.file.clone()))
                    .or_default() += 1;
            }
            None => kept.push(event),
        }
    }
    for ((dropped, from), count) in repeats {
        notices.push(Notice::note(
            REPEATED_RECORDS_CODE,
            Some(std::path::Path::new(&dropped)),
            format!(
                "{dropped}: {count} record(s) repeat records of {from} (the same channel, record ID, time and content: copies of one log, such as a live log and its shadow copy); each counts once, from {from}"
            ),
        ));
    }
    kept
}

/// Whether two records are one event, whatever file they were read from.
fn same_record(left: &EventRecord, right: &EventRecord) -> bool {
    left.record_id == right.record_id
        && left.time == right.time
        && left.id == right.id
        && left.channel == right.channel
        && left.provider == right.provider
        && left.computer == right.computer
        && left.data == right.data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(file: &str, record_id: u64, time: &str, user: &str) -> EventRecord {
        EventRecord {
            channel: "Security".to_string(),
            provider: "Microsoft-Windows-Security-Auditing".to_string(),
            id: 4624,
            time: time.to_string(),
            record_id,
            computer: "FS01.corp.example".to_string(),
            data: [("TargetUserName".to_string(), serde_json::json!(user))]
                .into_iter()
                .collect(),
            file: file.to_string(),
        }
    }

    fn sorted(mut events: Vec<EventRecord>) -> Vec<EventRecord> {
        events.sort_by(|a, b| {
            (a.time.as_str(), a.record_id, a.file.as_str()).cmp(&(
                b.time.as_str(),
                b.record_id,
                b.file.as_str(),
            ))
        });
        events
    }

    #[test]
    fn a_shadow_copy_of_a_log_counts_once_with_a_note() {
        let live = ["live/Security.evtx"; 3];
        let mut events = Vec::new();
        for (index, file) in live.iter().enumerate() {
            let time = format!("2024-01-01T00:00:0{index}.000000Z");
            events.push(record(file, index as u64 + 1, &time, "alice"));
            events.push(record(
                "vss1/Security.evtx",
                index as u64 + 1,
                &time,
                "alice",
            ));
        }
        // The live log goes on after the copy was taken.
        events.push(record(live[0], 4, "2024-01-01T00:00:04.000000Z", "bob"));
        let mut notices = Vec::new();
        let kept = drop_repeated_records(sorted(events), &mut notices);
        assert_eq!(kept.len(), 4);
        assert!(kept.iter().all(|event| event.file == "live/Security.evtx"));
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].code, REPEATED_RECORDS_CODE);
        assert_eq!(notices[0].file.as_deref(), Some("vss1/Security.evtx"));
        assert!(
            notices[0]
                .message
                .contains("3 record(s) repeat records of live/Security.evtx"),
            "{}",
            notices[0].message
        );
    }

    #[test]
    fn records_that_differ_in_anything_but_their_file_all_count() {
        let time = "2024-01-01T00:00:00.000000Z";
        let events = vec![
            // Same record ID and time, other content: two computers' logs.
            record("a/Security.evtx", 7, time, "alice"),
            record("b/Security.evtx", 7, time, "bob"),
            // One file holding a record twice keeps both.
            record("a/Security.evtx", 8, time, "carol"),
            record("a/Security.evtx", 8, time, "carol"),
        ];
        let mut notices = Vec::new();
        let kept = drop_repeated_records(sorted(events), &mut notices);
        assert_eq!(kept.len(), 4);
        assert!(notices.is_empty());
    }
}
