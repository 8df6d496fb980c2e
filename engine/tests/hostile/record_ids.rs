//! Defect 12: record ids beyond the integer range.

use super::*;

fn event(record_id: u64, time: &str) -> EventRecord {
    EventRecord {
        channel: "Security".to_string(),
        provider: "Microsoft-Windows-Security-Auditing".to_string(),
        id: 4624,
        time: time.to_string(),
        record_id,
        computer: "FS01.corp.example".to_string(),
        data: BTreeMap::new(),
        file: "Security.evtx".to_string(),
    }
}

fn host_with_events(events: Vec<EventRecord>) -> HostHandle {
    let base = host("FS01");
    let base = Arc::try_unwrap(base.0).ok().expect("only handle");
    HostHandle(Arc::new(HostFacts {
        events,
        log_channels: vec!["Security".to_string()],
        memo: Default::default(),
        ..base
    }))
}

#[test]
fn record_ids_beyond_the_integer_range_stay_exact() {
    let huge: u64 = (1 << 63) + 5;
    let body = "fn check(host) {\n    let events = host.events(#{ channel: \"Security\" });\n    let ids = [];\n    for e in events { ids.push(`${e.record_id}:${type_of(e.record_id)}`); }\n    [#{ message: ids.reduce(|all, id| all + \" \" + id, \"\"), evidence: [event_evidence(events), #{ kind: \"event\", channel: \"Security\", record_ids: [events[1].record_id, events[0].record_id] }] }]\n}";
    let text = rule(
        "T-EVT-001",
        ", needs: #{ events: [#{ channel: \"Security\", ids: [4624] }] }",
        body,
    );
    let rules = load_with(vec![pack("p", &[("T-EVT-001", &text)])], Limits::default());
    let facts = host_with_events(vec![
        event(7, "2026-01-01T00:00:00Z"),
        event(huge, "2026-01-02T00:00:00Z"),
    ]);
    let evaluation = evaluate(&rules, &[facts]);
    let finding = only_finding(&evaluation);
    assert_eq!(
        finding.message,
        format!(" 7:i64 {huge}:string"),
        "small ids are integers, the others exact text"
    );
    assert_eq!(finding.evidence[0].record_ids, vec![7, huge]);
    assert_eq!(finding.evidence[1].record_ids, vec![huge, 7]);
    let json = serde_json::to_string(finding).unwrap();
    assert!(json.contains("9223372036854775813"), "{json}");
    assert!(!json.contains("-9223372036854775"), "{json}");
}
