//! Reads written logs back through the `evtx` crate, the parser hiveward itself uses, with
//! its checksum validation on: every record, System value and field must come back as
//! written, with the type it was written with.

mod common;

use common::*;
use evtx::{EvtxParser, ParserSettings};
use hiveward_evtxwriter::*;
use serde_json::{json, Value as Json};

fn parser(bytes: Vec<u8>) -> EvtxParser<std::io::Cursor<Vec<u8>>> {
    EvtxParser::from_buffer(bytes)
        .expect("the evtx crate opens the log")
        .with_configuration(
            ParserSettings::new()
                .num_threads(1)
                .validate_checksums(true),
        )
}

/// Every record of `bytes` as the `evtx` crate's JSON, asserting that it reports no error,
/// that the file header and every chunk pass their checksums, and that the chunks hold the
/// records in order.
fn read_all(bytes: Vec<u8>) -> (Vec<evtx::SerializedEvtxRecord<Json>>, usize) {
    let mut parser = parser(bytes);
    assert!(parser.header().validate_checksum(), "file header CRC-32");
    let mut chunks = 0;
    let mut next_id = None;
    for chunk in parser.chunks() {
        let chunk = chunk.expect("every chunk reads, with valid checksums");
        assert!(chunk.validate_checksum());
        assert!(chunk.validate_header_checksum() && chunk.validate_data_checksum());
        let header = &chunk.header;
        assert_eq!(header.header_size, 128);
        assert!(header.first_event_record_id <= header.last_event_record_id);
        if let Some(next) = next_id {
            assert_eq!(
                header.first_event_record_id, next,
                "chunks follow each other"
            );
        }
        assert_eq!(
            header.first_event_record_number,
            header.first_event_record_id
        );
        assert_eq!(header.last_event_record_number, header.last_event_record_id);
        next_id = Some(header.last_event_record_id + 1);
        chunks += 1;
    }
    let records = parser
        .records_json_value()
        .map(|record| record.expect("the evtx crate reports no error"))
        .collect();
    (records, chunks)
}

/// Asserts that `record` is `event`, written as record `id`.
fn assert_record(record: &evtx::SerializedEvtxRecord<Json>, event: &Event, id: u64) {
    let context = format!("record {id}");
    assert_eq!(record.event_record_id, id, "{context}");
    assert!(!record.recovered, "{context}");
    assert_eq!(
        record.timestamp.as_nanosecond(),
        filetime_to_unix_nanos(event.filetime()),
        "{context}: written time"
    );
    let system = &record.data["Event"]["System"];
    assert_eq!(
        record.data["Event"]["#attributes"]["xmlns"],
        json!(EVENT_NAMESPACE),
        "{context}"
    );
    assert_eq!(
        system["Provider"]["#attributes"]["Name"],
        json!(event.provider_name()),
        "{context}"
    );
    let event_id = match &system["EventID"] {
        Json::Object(with_qualifiers) => &with_qualifiers["#text"],
        plain => plain,
    };
    assert_eq!(event_id, &json!(event.event_id()), "{context}");
    assert_eq!(system["EventRecordID"], json!(id), "{context}");
    assert_eq!(system["Channel"], json!(event.channel_name()), "{context}");
    assert_eq!(
        system["Computer"],
        json!(event.computer_name()),
        "{context}"
    );
    let (time, ticks) = filetime_parts(event.filetime());
    assert_eq!(
        system["TimeCreated"]["#attributes"]["SystemTime"],
        json!(format!("{time}.{ticks:07}Z")),
        "{context}"
    );

    let fields = match event.user_data_element() {
        None => &record.data["Event"]["EventData"],
        Some((element, namespace)) => {
            let holder = &record.data["Event"]["UserData"][element];
            assert_eq!(
                holder["#attributes"]["xmlns"],
                json!(namespace),
                "{context}"
            );
            holder
        }
    };
    if event.fields().is_empty() && event.user_data_element().is_none() {
        // `<EventData/>`, which the evtx crate shows as null.
        assert_eq!(fields, &Json::Null, "{context}");
        return;
    }
    let mut names: Vec<&str> = fields
        .as_object()
        .unwrap_or_else(|| panic!("{context}: fields in {}", record.data))
        .keys()
        .map(String::as_str)
        .filter(|name| *name != "#attributes")
        .collect();
    let mut written: Vec<&str> = event.fields().iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    written.sort_unstable();
    assert_eq!(names, written, "{context}: field names");
    for (name, value) in event.fields() {
        assert_eq!(
            fields[name],
            evtx_json(value, event.user_data_element().is_some()),
            "{context}: field {name} ({value:?})"
        );
    }
}

#[test]
fn every_record_reads_back_as_written_over_several_chunks() {
    let log = catalogue();
    let (records, chunks) = read_all(log.to_bytes());
    assert!(chunks > 2, "the catalogue spans several chunks ({chunks})");
    assert_eq!(records.len(), log.len());
    for (index, (record, event)) in records.iter().zip(log.events()).enumerate() {
        assert_record(record, event, log.record_id(index));
    }
}

#[test]
fn file_header_describes_the_chunks() {
    let log = catalogue();
    let bytes = log.to_bytes();
    let chunk_count = (bytes.len() - FILE_HEADER_SIZE) / CHUNK_SIZE;
    assert_eq!((bytes.len() - FILE_HEADER_SIZE) % CHUNK_SIZE, 0);
    let parser = parser(bytes);
    let header = parser.header();
    assert_eq!(header.first_chunk_number, 0);
    assert_eq!(header.last_chunk_number, chunk_count as u64 - 1);
    assert_eq!(usize::from(header.chunk_count), chunk_count);
    assert_eq!(header.next_record_id, log.len() as u64 + 1);
    assert_eq!(header.header_size, 128);
    assert_eq!((header.major_version, header.minor_version), (3, 1));
    assert_eq!(usize::from(header.header_block_size), FILE_HEADER_SIZE);
    assert!(header.flags.is_empty());
}

#[test]
fn system_values_read_back() {
    let mut log = EvtxWriter::new().first_record_id(7001);
    log.push(every_type_event_data());
    log.push(kerberos_system_4("FS01$", "cifs/alias.corp.example"));
    log.push(Event::new("System", "Minimal", 1));
    let (records, _) = read_all(log.to_bytes());
    assert_eq!(records.len(), 3);
    for (index, (record, event)) in records.iter().zip(log.events()).enumerate() {
        assert_record(record, event, 7001 + index as u64);
    }

    let system = &records[0].data["Event"]["System"];
    assert_eq!(
        system["Provider"]["#attributes"]["Guid"],
        json!(GUID.to_lowercase())
    );
    assert_eq!(
        system["EventID"],
        json!({"#attributes": {"Qualifiers": 16384}, "#text": 1000})
    );
    assert_eq!(system["Version"], json!(3));
    assert_eq!(system["Level"], json!(3));
    assert_eq!(system["Task"], json!(7));
    assert_eq!(system["Opcode"], json!(2));
    assert_eq!(system["Keywords"], json!("0x80000000000001"));
    assert_eq!(
        system["Execution"]["#attributes"],
        json!({"ProcessID": 1234, "ThreadID": 5678})
    );
    assert_eq!(
        system["Security"]["#attributes"]["UserID"],
        json!("S-1-5-21-1004336348-1177238915-682003330-1105")
    );
    assert_eq!(
        system["TimeCreated"]["#attributes"]["SystemTime"],
        json!("2024-01-01T00:00:00.0000001Z")
    );

    let kerberos = &records[1].data["Event"]["System"];
    assert_eq!(
        kerberos["Provider"]["#attributes"],
        json!({"Name": "Microsoft-Windows-Security-Kerberos", "EventSourceName": "Kerberos"})
    );

    // Without the optional values: no Guid, no Qualifiers, an empty Security.
    let minimal = &records[2].data["Event"]["System"];
    assert_eq!(
        minimal["Provider"],
        json!({"#attributes": {"Name": "Minimal"}})
    );
    assert_eq!(minimal["EventID"], json!(1));
    assert_eq!(minimal["Security"], Json::Null);
    assert_eq!(minimal["Correlation"], Json::Null);
    assert_eq!(
        minimal["TimeCreated"]["#attributes"]["SystemTime"],
        json!("2024-01-01T00:00:00.0000000Z")
    );
    assert_eq!(records[2].data["Event"]["EventData"], Json::Null);
}

#[test]
fn every_value_type_reads_back_with_its_type() {
    let mut log = EvtxWriter::new();
    log.push(every_type_event_data());
    log.push(every_type_user_data());
    let (records, _) = read_all(log.to_bytes());
    let data = &records[0].data["Event"]["EventData"];
    // Spelled out once, so that a change in either the writer or `evtx_json` shows.
    assert_eq!(data["Text"], json!("cifs/files.corp.example"));
    assert_eq!(data["Byte"], json!(200));
    assert_eq!(data["Short"], json!(65535));
    assert_eq!(data["Long"], json!(4_000_000_000u32));
    assert_eq!(data["Quad"], json!(u64::MAX));
    assert_eq!(data["Hex"], json!("0xc0000022"));
    assert_eq!(data["SmallHex"], json!("0x1f"));
    assert_eq!(data["WideHex"], json!("0x15a3c2"));
    assert_eq!(
        data["Guid"],
        json!("{0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}")
    );
    assert_eq!(
        data["Sid"],
        json!("S-1-5-21-1004336348-1177238915-682003330-512")
    );
    assert_eq!(data["WellKnownSid"], json!("S-1-5-18"));
    assert_eq!(data["When"], json!("2024-01-01T00:00:12.3456700Z"));
    assert_eq!(data["SystemTime"], json!("2024-02-29T23:59:58.0070000Z"));
    assert_eq!(data["Bytes"], json!("0A000015FF"));
    assert_eq!(data["Missing"], json!(""));
    assert_eq!(data["Empty"], json!(""));
    assert_eq!(data["Escaped"], json!("a & b <c> \"d\" 'e'"));
    assert_eq!(data["Unicode"], json!("Jürgen Øster ✓ 日本"));
    assert_eq!(data["Last"], json!(0));

    let user_data = &records[1].data["Event"]["UserData"]["TestRecord"];
    for (name, value) in every_type() {
        assert_eq!(
            user_data[name],
            evtx_json(&value, true),
            "UserData field {name}"
        );
        if !matches!(name, "Missing" | "Empty") {
            assert_eq!(user_data[name], data[name], "UserData field {name}");
        }
    }
    // An element without text is null in the evtx crate's JSON; a `<Data>` without text is
    // an empty string.
    assert_eq!(user_data["Missing"], Json::Null);
    assert_eq!(user_data["Empty"], Json::Null);
    // The typed values are what the template instance holds, not just how JSON shows them.
    let xml = parser(log.to_bytes())
        .records()
        .map(|record| record.unwrap().data)
        .collect::<Vec<_>>();
    assert!(
        xml[0].contains("<Data Name=\"Hex\">0xc0000022</Data>"),
        "{}",
        xml[0]
    );
    assert!(xml[1].contains("<Short>65535</Short>"), "{}", xml[1]);
    assert!(
        xml[1].contains("<TestRecord xmlns=\"http://example.com/hiveward/test\">"),
        "{}",
        xml[1]
    );
}

#[test]
fn rule_events_read_back_with_the_fields_rules_use() {
    let mut log = EvtxWriter::new();
    for event in rule_events() {
        log.push(event);
    }
    let (records, chunks) = read_all(log.to_bytes());
    assert_eq!(chunks, 1);
    let event = |i: usize| &records[i].data["Event"];

    let spn = &event(0)["EventData"];
    assert_eq!(event(0)["System"]["EventID"], json!(5168));
    assert_eq!(event(0)["System"]["Channel"], json!("Security"));
    assert_eq!(spn["SpnName"], json!("cifs/files.corp.example"));
    assert_eq!(spn["ErrorCode"], json!("0xc0000022"));
    for name in ["ServerNames", "ConfiguredNames", "IpAddresses"] {
        assert!(spn[name].is_string(), "{name}");
    }

    let smb = &event(1)["EventData"];
    assert_eq!(
        event(1)["System"]["Channel"],
        json!("Microsoft-Windows-SMBServer/Security")
    );
    assert_eq!(
        event(1)["System"]["Provider"]["#attributes"]["Name"],
        json!("Microsoft-Windows-SMBServer")
    );
    assert_eq!(smb["Status"], json!("0xc000006d"));
    assert_eq!(smb["SPN"], json!("cifs/alias.corp.example"));
    assert_eq!(smb["SPNValidationPolicy"], json!(2));
    assert!(smb["SessionGUID"].as_str().unwrap().starts_with('{'));
    for name in ["ConnectionGUID", "ClientAddress", "UserName", "ClientName"] {
        assert!(smb[name].is_string(), "{name}");
    }

    let kerberos = &event(2)["EventData"];
    assert_eq!(event(2)["System"]["Channel"], json!("System"));
    assert_eq!(kerberos["Server"], json!("FS01$"));
    assert_eq!(kerberos["Targetname"], json!("cifs/alias.corp.example"));
    assert_eq!(kerberos["TargetRealm"], json!("CORP.EXAMPLE"));
    assert_eq!(kerberos["ClientRealm"], json!("CORP.EXAMPLE"));

    let logon = &event(3)["EventData"];
    assert_eq!(logon["TargetUserName"], json!("alice"));
    assert_eq!(logon["LogonType"], json!(3));
    assert_eq!(logon["AuthenticationPackageName"], json!("NTLM"));
    assert_eq!(logon["LmPackageName"], json!("NTLM V1"));
    assert_eq!(logon["WorkstationName"], json!("WS042"));
    assert_eq!(logon["IpAddress"], json!("10.0.0.21"));

    let setup = &event(4)["UserData"]["CbsPackageChangeState"];
    assert_eq!(event(4)["System"]["Channel"], json!("Setup"));
    assert_eq!(
        event(4)["System"]["Provider"]["#attributes"]["Name"],
        json!("Microsoft-Windows-Servicing")
    );
    assert_eq!(setup["PackageIdentifier"], json!("KB5034441"));
    assert_eq!(setup["IntendedPackageState"], json!("Installed"));
    assert_eq!(setup["ErrorCode"], json!("0x8024200b"));
    assert_eq!(setup["Client"], json!("UpdateAgentLCU"));

    let share = &event(5)["EventData"];
    assert_eq!(
        event(5)["System"]["Channel"],
        json!("Microsoft-Windows-SMBServer/Operational")
    );
    assert_eq!(share["ShareName"], json!("\\\\*\\Finance"));
    assert_eq!(share["UserName"], json!("CORP\\alice"));
    assert_eq!(share["ClientName"], json!("WS042"));
    assert_eq!(share["ClientAddress"], json!("10.0.0.21"));
    assert!(share["SessionID"].is_u64());
}

#[test]
fn records_per_chunk_spreads_a_few_records_over_chunks() {
    let mut log = EvtxWriter::new().records_per_chunk(2);
    for event in rule_events() {
        log.push(event);
    }
    log.push(every_type_user_data());
    let (records, chunks) = read_all(log.to_bytes());
    assert_eq!(chunks, 4);
    for (index, (record, event)) in records.iter().zip(log.events()).enumerate() {
        assert_record(record, event, log.record_id(index));
    }
}

#[test]
fn replacing_a_field_keeps_its_place() {
    let event = security_5168("cifs/a", 1).data("SpnName", "cifs/b");
    let names: Vec<&str> = event.fields().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[4], "SpnName");
    assert_eq!(
        event.field("SpnName"),
        Some(&Value::String("cifs/b".into()))
    );
    let mut log = EvtxWriter::new();
    log.push(event);
    let (records, _) = read_all(log.to_bytes());
    assert_eq!(
        records[0].data["Event"]["EventData"]["SpnName"],
        json!("cifs/b")
    );
}

#[test]
fn an_empty_log_is_a_header_alone() {
    let bytes = EvtxWriter::new().to_bytes();
    assert_eq!(bytes.len(), FILE_HEADER_SIZE);
    let (records, chunks) = read_all(bytes);
    assert!(records.is_empty());
    assert_eq!(chunks, 0);
}

#[test]
fn a_full_chunk_moves_on_to_the_next() {
    // Events of about 2 KiB: a chunk holds a few dozen, and the writer fills each before
    // starting the next.
    let mut log = EvtxWriter::new();
    for i in 0..100 {
        log.push(security_5168(&"x".repeat(900 + i), i as u32));
    }
    let bytes = log.to_bytes();
    let chunks = (bytes.len() - FILE_HEADER_SIZE) / CHUNK_SIZE;
    assert!(chunks >= 3, "{chunks}");
    for chunk in 0..chunks - 1 {
        let at = FILE_HEADER_SIZE + chunk * CHUNK_SIZE;
        let free_space = u32::from_le_bytes(bytes[at + 48..at + 52].try_into().unwrap());
        assert!(
            CHUNK_SIZE - (free_space as usize) < 4096,
            "chunk {chunk} is full"
        );
    }
    let (records, _) = read_all(bytes);
    for (index, (record, event)) in records.iter().zip(log.events()).enumerate() {
        assert_record(record, event, log.record_id(index));
    }
}

#[test]
#[should_panic(expected = "too large for a chunk")]
fn an_event_larger_than_a_chunk_panics() {
    let mut log = EvtxWriter::new();
    log.push(Event::new("Application", "Big", 1).data("Blob", Value::Binary(vec![0; 65_000])));
    log.to_bytes();
}
