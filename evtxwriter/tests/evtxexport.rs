//! Reads written logs back through libyal's `evtxexport` (Debian's `libevtx-utils`), a
//! reader written independently of the `evtx` crate, and compares, record by record, what
//! both readers say with each other and with what was written.
//!
//! `evtxexport` is an oracle: without it these tests print "skipped" and pass, unless
//! HIVEWARD_REQUIRE_ORACLES=1 makes them fail.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use evtx::{EvtxParser, ParserSettings};
use hiveward_evtxwriter::*;
use hiveward_testkit::oracle_available;
use serde_json::Value as Json;

/// A file in the temporary directory that is removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let path = std::env::temp_dir().join(format!(
            "hiveward-evtxwriter-{}-{name}.evtx",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `evtxexport ARGS FILE`'s standard output, asserting that it succeeded and complained of
/// nothing.
fn evtxexport(args: &[&str], file: &TempFile) -> String {
    let output = Command::new("evtxexport")
        .args(args)
        .arg(&file.0)
        .output()
        .expect("evtxexport runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "evtxexport {args:?}: {stderr}");
    assert!(stderr.trim().is_empty(), "evtxexport {args:?}: {stderr}");
    String::from_utf8(output.stdout).expect("evtxexport prints UTF-8")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// One line of `evtxexport -f xml`, which puts every element on a line of its own.
#[derive(Debug, Default)]
struct Tag {
    name: String,
    attributes: BTreeMap<String, String>,
    /// The text of `<a>text</a>`; `None` for `<a>` (children follow) and `<a/>`.
    text: Option<String>,
    closing: bool,
    empty: bool,
}

fn parse_tag(line: &str) -> Option<Tag> {
    let line = line.trim();
    if let Some(name) = line.strip_prefix("</") {
        return Some(Tag {
            name: name.trim_end_matches('>').to_owned(),
            closing: true,
            ..Tag::default()
        });
    }
    let rest = line.strip_prefix('<')?;
    let name_end = rest.find([' ', '>', '/']).unwrap_or(rest.len());
    let mut tag = Tag {
        name: rest[..name_end].to_owned(),
        ..Tag::default()
    };
    let mut rest = &rest[name_end..];
    loop {
        rest = rest.trim_start();
        if rest.starts_with("/>") {
            tag.empty = true;
            return Some(tag);
        }
        if let Some(after) = rest.strip_prefix('>') {
            let close = format!("</{}>", tag.name);
            tag.text = after.strip_suffix(close.as_str()).map(unescape);
            return Some(tag);
        }
        let (key, after) = rest.split_once("=\"")?;
        let (value, after) = after.split_once('"')?;
        tag.attributes.insert(key.to_owned(), unescape(value));
        rest = after;
    }
}

/// A record as `evtxexport -f xml` shows it.
#[derive(Debug, Default)]
struct XmlRecord {
    event_attributes: BTreeMap<String, String>,
    /// Attributes of the System elements that have them, by element.
    attributes: BTreeMap<String, BTreeMap<String, String>>,
    /// Text of the System elements that have it, by element.
    system: BTreeMap<String, String>,
    /// The UserData element and its attributes.
    user_data: Option<(String, BTreeMap<String, String>)>,
    /// The fields in order: `<Data Name=…>` or the UserData element's children.
    fields: Vec<(String, String)>,
}

fn parse_xml(output: &str) -> Vec<XmlRecord> {
    #[derive(PartialEq)]
    enum In {
        Nothing,
        System,
        EventData,
        UserData,
        UserDataElement,
    }
    let mut records = Vec::new();
    let mut record = XmlRecord::default();
    let mut section = In::Nothing;
    for line in output
        .lines()
        .filter(|line| line.trim_start().starts_with('<'))
    {
        let tag = parse_tag(line).unwrap_or_else(|| panic!("an XML line: {line}"));
        match (tag.name.as_str(), tag.closing) {
            ("Event", false) => {
                record = XmlRecord {
                    event_attributes: tag.attributes,
                    ..XmlRecord::default()
                }
            }
            ("Event", true) => records.push(std::mem::take(&mut record)),
            ("System", false) => section = In::System,
            ("EventData", false) if !tag.empty => section = In::EventData,
            ("UserData", false) if !tag.empty => section = In::UserData,
            ("System" | "EventData" | "UserData", _) => section = In::Nothing,
            (name, false) if section == In::UserData => {
                record.user_data = Some((name.to_owned(), tag.attributes));
                section = In::UserDataElement;
            }
            (_, true) if section == In::UserDataElement => section = In::UserData,
            (name, false) if section == In::UserDataElement => {
                record
                    .fields
                    .push((name.to_owned(), tag.text.unwrap_or_default()));
            }
            ("Data", false) if section == In::EventData => {
                let name = tag.attributes["Name"].clone();
                record.fields.push((name, tag.text.unwrap_or_default()));
            }
            (name, false) if section == In::System => {
                if !tag.attributes.is_empty() {
                    record
                        .attributes
                        .insert(name.to_owned(), tag.attributes.clone());
                }
                if let Some(text) = tag.text {
                    record.system.insert(name.to_owned(), text);
                }
            }
            (name, closing) => panic!(
                "unexpected <{}{name}> in {line}",
                if closing { "/" } else { "" }
            ),
        }
    }
    records
}

/// A record as `evtxexport`'s text output shows it: `Key\t\t: value` lines, and the values
/// of the fields as `String: N` lines.
#[derive(Debug, Default)]
struct TextRecord {
    values: BTreeMap<String, String>,
    strings: Vec<String>,
}

fn parse_text(output: &str) -> Vec<TextRecord> {
    let mut records: Vec<TextRecord> = Vec::new();
    for line in output.lines() {
        let Some((key, value)) = line.split_once("\t: ") else {
            continue;
        };
        let key = key.trim_end_matches('\t');
        if key == "Event number" {
            records.push(TextRecord::default());
        }
        let record = records.last_mut().expect("a record starts with its number");
        if key.starts_with("String: ") {
            record.strings.push(value.to_owned());
        } else {
            record.values.insert(key.to_owned(), value.to_owned());
        }
    }
    records
}

/// `Jan 01, 2024 00:00:00.000000000 UTC`, as `evtxexport` shows a record's written time.
fn written_time(filetime: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (text, ticks) = filetime_parts(filetime);
    let month: usize = text[5..7].parse().unwrap();
    format!(
        "{} {}, {} {}.{:09} UTC",
        MONTHS[month - 1],
        &text[8..10],
        &text[..4],
        &text[11..],
        ticks * 100
    )
}

/// Writes `log`, reads it with both readers, and compares every record.
fn compare_readers(name: &str, log: &EvtxWriter) {
    let bytes = log.to_bytes();
    let file = TempFile::new(name, &bytes);
    let xml = parse_xml(&evtxexport(&["-f", "xml"], &file));
    let text = parse_text(&evtxexport(&[], &file));
    let json: Vec<_> = EvtxParser::from_buffer(bytes)
        .unwrap()
        .with_configuration(
            ParserSettings::new()
                .num_threads(1)
                .validate_checksums(true),
        )
        .records_json_value()
        .map(|record| record.expect("the evtx crate reports no error"))
        .collect();
    assert_eq!(xml.len(), log.len(), "evtxexport -f xml records");
    assert_eq!(text.len(), log.len(), "evtxexport records");
    assert_eq!(json.len(), log.len(), "evtx crate records");

    for (index, event) in log.events().iter().enumerate() {
        let id = log.record_id(index);
        let context = format!("{name}: record {id}");
        let (xml, text, json) = (&xml[index], &text[index], &json[index].data["Event"]);
        let system = &json["System"];

        // Record identifier, provider, event identifier, channel, computer: both readers
        // give what was written.
        assert_eq!(text.values["Event number"], id.to_string(), "{context}");
        assert_eq!(xml.system["EventRecordID"], id.to_string(), "{context}");
        assert_eq!(
            json_text(&system["EventRecordID"]),
            id.to_string(),
            "{context}"
        );
        assert_eq!(xml.event_attributes["xmlns"], EVENT_NAMESPACE, "{context}");
        let provider = &xml.attributes["Provider"];
        assert_eq!(provider["Name"], event.provider_name(), "{context}");
        assert_eq!(
            json_text(&system["Provider"]["#attributes"]["Name"]),
            event.provider_name(),
            "{context}"
        );
        // evtxexport's "source name" is the EventSourceName where there is one.
        assert_eq!(
            text.values["Source name"],
            event.event_source().unwrap_or(event.provider_name()),
            "{context}"
        );
        assert_eq!(
            provider.get("EventSourceName").map(String::as_str),
            event.event_source(),
            "{context}"
        );
        assert_eq!(
            xml.system["EventID"],
            event.event_id().to_string(),
            "{context}"
        );
        assert!(
            text.values["Event identifier"].ends_with(&format!("({})", event.event_id())),
            "{context}: {}",
            text.values["Event identifier"]
        );
        let json_event_id = match &system["EventID"] {
            Json::Object(with_qualifiers) => {
                assert_eq!(
                    xml.attributes["EventID"]["Qualifiers"],
                    json_text(&with_qualifiers["#attributes"]["Qualifiers"]),
                    "{context}"
                );
                &with_qualifiers["#text"]
            }
            plain => {
                assert!(!xml.attributes.contains_key("EventID"), "{context}");
                plain
            }
        };
        assert_eq!(
            json_text(json_event_id),
            event.event_id().to_string(),
            "{context}"
        );
        for (reader, channel) in [
            ("evtxexport", xml.system["Channel"].as_str()),
            ("evtx", system["Channel"].as_str().unwrap()),
        ] {
            assert_eq!(channel, event.channel_name(), "{context}: {reader}");
        }
        assert_eq!(xml.system["Computer"], event.computer_name(), "{context}");
        assert_eq!(
            text.values["Computer name"],
            event.computer_name(),
            "{context}"
        );
        assert_eq!(
            json_text(&system["Computer"]),
            event.computer_name(),
            "{context}"
        );

        // Times: the record's written time and TimeCreated. evtxexport shows nine fractional
        // digits, the evtx crate seven; both are the FILETIME written.
        assert_eq!(
            text.values["Written time"],
            written_time(event.filetime()),
            "{context}"
        );
        let filetime = Value::FileTime(event.filetime());
        let created = &xml.attributes["TimeCreated"]["SystemTime"];
        assert_eq!(
            Some(created),
            evtxexport_text(&filetime).as_ref(),
            "{context}"
        );
        assert_eq!(
            normalise(&filetime, created),
            normalise(
                &filetime,
                &json_text(&system["TimeCreated"]["#attributes"]["SystemTime"])
            ),
            "{context}"
        );

        // The other System values: the readers agree (Keywords is hex, which evtxexport pads).
        for element in ["Version", "Level", "Task", "Opcode", "Keywords"] {
            let as_type = if element == "Keywords" {
                Value::Hex64(0)
            } else {
                Value::UInt32(0)
            };
            assert_eq!(
                normalise(&as_type, &xml.system[element]),
                normalise(&as_type, &json_text(&system[element])),
                "{context}: {element}"
            );
        }
        assert!(
            text.values["Event level"].ends_with(&format!("({})", xml.system["Level"])),
            "{context}"
        );
        for attribute in ["ProcessID", "ThreadID"] {
            assert_eq!(
                xml.attributes["Execution"][attribute],
                json_text(&system["Execution"]["#attributes"][attribute]),
                "{context}: {attribute}"
            );
        }
        let user_id = xml
            .attributes
            .get("Security")
            .and_then(|attributes| attributes.get("UserID"));
        assert_eq!(
            user_id,
            text.values.get("User security identifier"),
            "{context}"
        );
        match user_id {
            Some(sid) => assert_eq!(
                json_text(&system["Security"]["#attributes"]["UserID"]),
                *sid,
                "{context}"
            ),
            None => assert_eq!(system["Security"], Json::Null, "{context}"),
        }

        // The fields: EventData or UserData, in the order written.
        let json_fields = match event.user_data_element() {
            None => {
                assert_eq!(xml.user_data, None, "{context}");
                &json["EventData"]
            }
            Some((element, namespace)) => {
                let (name, attributes) = xml.user_data.as_ref().expect("a UserData element");
                assert_eq!(name, element, "{context}");
                assert_eq!(attributes["xmlns"], namespace, "{context}");
                &json["UserData"][element]
            }
        };
        // evtxexport leaves out the element of a null value (MS-EVEN6: an optional
        // substitution of a NULL value removes its element); the evtx crate keeps it empty.
        let present: Vec<(String, String)> = event
            .fields()
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), evtxexport_text(value)?)))
            .collect();
        assert_eq!(xml.fields, present, "{context}: evtxexport -f xml fields");
        let strings: Vec<String> = present.iter().map(|(_, text)| text.clone()).collect();
        assert_eq!(text.strings, strings, "{context}: evtxexport strings");
        for (name, value) in event.fields() {
            let json_value = &json_fields[name];
            assert_eq!(
                json_value,
                &evtx_json(value, event.user_data_element().is_some()),
                "{context}: evtx field {name}"
            );
            match xml.fields.iter().find(|(field, _)| field == name) {
                Some((_, exported)) => assert_eq!(
                    normalise(value, exported),
                    normalise(value, &json_text(json_value)),
                    "{context}: the readers disagree on {name} ({value:?})"
                ),
                None => {
                    assert_eq!(*value, Value::Null, "{context}: {name} is missing");
                    assert_eq!(json_text(json_value), "", "{context}: {name}");
                }
            }
        }
    }
}

#[test]
fn evtxexport_and_the_evtx_crate_agree_over_several_chunks() {
    if !oracle_available("evtxexport") {
        return;
    }
    let log = catalogue();
    assert!(log.to_bytes().len() > FILE_HEADER_SIZE + 2 * CHUNK_SIZE);
    compare_readers("catalogue", &log);
}

#[test]
fn evtxexport_reads_every_value_type_and_both_forms() {
    if !oracle_available("evtxexport") {
        return;
    }
    let mut log = EvtxWriter::new().first_record_id(4242).records_per_chunk(2);
    log.push(every_type_event_data());
    log.push(every_type_user_data());
    for event in rule_events() {
        log.push(event);
    }
    log.push(Event::new("System", "Minimal", 1));
    compare_readers("types", &log);
}

#[test]
fn evtxexport_renders_values_as_the_comparison_expects() {
    if !oracle_available("evtxexport") {
        return;
    }
    // Spelled out once, so that a change in evtxexport or in `evtxexport_text` shows.
    let mut log = EvtxWriter::new();
    log.push(every_type_event_data());
    let file = TempFile::new("spelled-out", &log.to_bytes());
    let xml = evtxexport(&["-f", "xml"], &file);
    for line in [
        "<Provider Name=\"Hiveward-Test\" Guid=\"{0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9}\"/>",
        "<EventID Qualifiers=\"16384\">1000</EventID>",
        "<Keywords>0x0080000000000001</Keywords>",
        "<TimeCreated SystemTime=\"2024-01-01T00:00:00.000000100Z\"/>",
        "<Security UserID=\"S-1-5-21-1004336348-1177238915-682003330-1105\"/>",
        "<Data Name=\"Byte\">200</Data>",
        "<Data Name=\"Quad\">18446744073709551615</Data>",
        "<Data Name=\"Hex\">0xc0000022</Data>",
        "<Data Name=\"SmallHex\">0x0000001f</Data>",
        "<Data Name=\"WideHex\">0x000000000015a3c2</Data>",
        "<Data Name=\"Guid\">{0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9}</Data>",
        "<Data Name=\"WellKnownSid\">S-1-5-18</Data>",
        "<Data Name=\"When\">2024-01-01T00:00:12.345670000Z</Data>",
        "<Data Name=\"SystemTime\">2024-02-29T23:59:58.007Z</Data>",
        "<Data Name=\"Bytes\">0A000015FF</Data>",
        "<Data Name=\"Empty\"/>",
        "<Data Name=\"Escaped\">a &amp; b &lt;c&gt; \"d\" 'e'</Data>",
        "<Data Name=\"Unicode\">Jürgen Øster ✓ 日本</Data>",
    ] {
        assert!(
            xml.lines().any(|l| l.trim() == line),
            "evtxexport shows {line}:\n{xml}"
        );
    }
    assert!(!xml.contains("\"Missing\""), "a null value has no element");
}
