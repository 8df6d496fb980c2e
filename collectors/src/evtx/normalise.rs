//! Turns the evtx crate's JSON for one record into an [`EventRecord`].
//!
//! The JSON is parsed into a light tree of its own ([`Node`]): strings borrow from the rendered
//! bytes unless they hold escapes, objects are plain lists, and only the values that end up in
//! [`EventRecord::data`] become [`serde_json::Value`]s. Objects keep the first place and the last
//! value of a key that occurs twice, as a `serde_json` map does, so that the record is the same
//! as when the whole document was parsed into a `serde_json::Value`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::EventRecord;

/// Why a record's JSON could not be read, as the evtx crate words it.
pub(super) const INVALID_UTF8: &str = "Record data contains invalid UTF-8";
/// The same, for JSON that does not parse.
pub(super) const INVALID_JSON: &str = "`serde_json` failed";

/// A JSON value as the renderer wrote it.
#[derive(Debug, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Members in order, each key once (first place, last value).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The member `key` of an object.
    fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(value) => Value::Bool(value),
            Node::Number(number) => Value::Number(number),
            Node::Str(text) => Value::String(text.into_owned()),
            Node::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Object(members) => {
                let mut map = Map::with_capacity(members.len());
                for (name, value) in members {
                    map.insert(name.into_owned(), value.into_value());
                }
                Value::Object(map)
            }
        }
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text.to_string())))
            }
            fn visit_string<E>(self, text: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Builds a [`Node`] from what `serde_json` reads, as `serde_json::Value` does.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node<'de>, E> {
        Ok(Number::from_f64(value).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(text.to_string())))
    }

    fn visit_string<E>(self, text: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(text)))
    }

    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        while let Some(Key(name)) = map.next_key()? {
            let value: Node<'de> = map.next_value()?;
            match members.iter_mut().find(|(known, _)| *known == name) {
                Some((_, slot)) => *slot = value,
                None => members.push((name, value)),
            }
        }
        Ok(Node::Object(members))
    }
}

/// Turns the JSON the evtx crate rendered for one record into an [`EventRecord`]; the error says
/// why it cannot be read, in the evtx crate's words. `header_time` is the record header's time,
/// for a record without `System/TimeCreated`.
pub(super) fn normalise_json(
    json: &[u8],
    record_id: u64,
    header_time: &dyn Fn() -> String,
    file: &str,
) -> Result<EventRecord, &'static str> {
    match serde_json::from_slice::<Node<'_>>(json) {
        Ok(root) => Ok(normalise(root, record_id, header_time, file)),
        Err(_) if std::str::from_utf8(json).is_err() => Err(INVALID_UTF8),
        Err(_) => Err(INVALID_JSON),
    }
}

fn normalise(
    root: Node<'_>,
    record_id: u64,
    header_time: &dyn Fn() -> String,
    file: &str,
) -> EventRecord {
    let Node::Object(root) = root else {
        return empty_record(record_id, header_time, file);
    };
    let Some(Node::Object(event)) = root
        .into_iter()
        .find(|(name, _)| name == "Event")
        .map(|(_, event)| event)
    else {
        return empty_record(record_id, header_time, file);
    };
    let system = event
        .iter()
        .find(|(name, _)| name == "System")
        .map(|(_, system)| system);
    let text = |value: Option<&Node<'_>>| -> String {
        match value {
            Some(Node::Str(text)) => text.to_string(),
            Some(Node::Number(number)) => number.to_string(),
            _ => String::new(),
        }
    };
    let field = |name: &str| system.and_then(|system| system.get(name));
    let attribute = |element: &str, name: &str| {
        field(element)
            .and_then(|element| element.get("#attributes"))
            .and_then(|attributes| attributes.get(name))
    };
    let time = match attribute("TimeCreated", "SystemTime") {
        Some(Node::Str(text)) => rfc3339_micros(text),
        _ => None,
    }
    .unwrap_or_else(|| {
        let header_time = header_time();
        rfc3339_micros(&header_time).unwrap_or(header_time)
    });
    // The record's own `EventRecordID`: in a chunk caught while it was being reused, the
    // record header can already carry the ID of the record that is overwriting it.
    let record_id = match field("EventRecordID") {
        Some(Node::Number(number)) => number.as_u64(),
        Some(Node::Str(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(record_id);
    let channel = text(field("Channel"));
    let provider = text(attribute("Provider", "Name"));
    let id = event_id(field("EventID"));
    let computer = text(field("Computer"));

    let mut fields = Fields::default();
    for (name, value) in event {
        match name.as_ref() {
            "#attributes" | "System" | "RenderingInfo" => {}
            "EventData" => flatten_event_data(value, &mut fields),
            _ => flatten_user_data(name, value, &mut fields),
        }
    }
    let data = fields.into_map();
    EventRecord {
        channel,
        provider,
        id,
        time,
        record_id,
        computer,
        data,
        file: file.to_string(),
    }
}

fn empty_record(record_id: u64, header_time: &dyn Fn() -> String, file: &str) -> EventRecord {
    let header_time = header_time();
    EventRecord {
        channel: String::new(),
        provider: String::new(),
        id: 0,
        time: rfc3339_micros(&header_time).unwrap_or(header_time),
        record_id,
        computer: String::new(),
        data: BTreeMap::new(),
        file: file.to_string(),
    }
}

/// The number in `EventID`, which is a number, a numeric string or
/// `{"#attributes": {"Qualifiers": …}, "#text": number}`; 0 when there is none.
fn event_id(value: Option<&Node<'_>>) -> u32 {
    match value {
        Some(Node::Number(number)) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        Some(Node::Str(text)) => text.trim().parse().unwrap_or(0),
        Some(object @ Node::Object(_)) => event_id(object.get("#text")),
        _ => 0,
    }
}

/// An event's fields, in the order they come; a field keeps the value of its first occurrence.
#[derive(Default)]
struct Fields<'a> {
    fields: Vec<(Cow<'a, str>, Node<'a>)>,
}

impl<'a> Fields<'a> {
    fn add(&mut self, name: Cow<'a, str>, value: Node<'a>) {
        self.fields.push((name, value));
    }

    /// The fields by name, built in one go from the sorted fields rather than one insertion at a
    /// time.
    fn into_map(mut self) -> BTreeMap<String, Value> {
        // Stable: of the fields with one name, the first stays first, and is the one kept.
        self.fields.sort_by(|(left, _), (right, _)| left.cmp(right));
        self.fields
            .dedup_by(|(later, _), (earlier, _)| later == earlier);
        self.fields
            .into_iter()
            .map(|(name, value)| (name.into_owned(), value.into_value()))
            .collect()
    }
}

/// `EventData`: its children by name (the evtx crate already turns `<Data Name="X">` into
/// `X`); unnamed `Data` elements become one `Data` entry (a value or an array).
fn flatten_event_data<'a>(value: Node<'a>, data: &mut Fields<'a>) {
    match value {
        Node::Object(fields) => {
            for (name, field) in fields {
                if name == "#attributes" {
                    continue;
                }
                let field = match field {
                    Node::Object(inner)
                        if name == "Data" && inner.iter().any(|(key, _)| key == "#text") =>
                    {
                        inner
                            .into_iter()
                            .find(|(key, _)| key == "#text")
                            .map_or(Node::Null, |(_, text)| text)
                    }
                    other => other,
                };
                data.add(name, field);
            }
        }
        Node::Null => {}
        other => data.add(Cow::Borrowed("EventData"), other),
    }
}

/// `UserData` (and any other payload element): the fields of its child element(s), flattened.
fn flatten_user_data<'a>(name: Cow<'a, str>, value: Node<'a>, data: &mut Fields<'a>) {
    match value {
        Node::Object(children) => {
            for (child_name, child) in children {
                if child_name == "#attributes" {
                    continue;
                }
                match child {
                    Node::Object(fields) => {
                        for (field_name, field) in fields {
                            if field_name != "#attributes" {
                                data.add(field_name, field);
                            }
                        }
                    }
                    Node::Null => {}
                    other => data.add(child_name, other),
                }
            }
        }
        Node::Null => {}
        other => data.add(name, other),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as RFC 3339 UTC with exactly six fractional digits
/// (truncated, not rounded, so that the order of times is kept).
pub(super) fn rfc3339_micros(text: &str) -> Option<String> {
    let text = text.trim().strip_suffix('Z')?;
    let (main, fraction) = text.split_once('.').unwrap_or((text, ""));
    let shape_ok = main.len() == 19
        && main.bytes().enumerate().all(|(index, byte)| match index {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            _ => byte.is_ascii_digit(),
        });
    if !shape_ok || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut out = String::with_capacity(27);
    out.push_str(main);
    out.push('.');
    out.extend(fraction.chars().take(6));
    while out.len() < 26 {
        out.push('0');
    }
    out.push('Z');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normalised(rendered: Value, record_id: u64, header_time: &str, file: &str) -> EventRecord {
        let text = rendered.to_string();
        normalise_json(
            text.as_bytes(),
            record_id,
            &|| header_time.to_string(),
            file,
        )
        .unwrap()
    }

    #[test]
    fn times_become_microseconds_utc() {
        assert_eq!(
            rfc3339_micros("2016-07-08T18:12:51.6816408Z").as_deref(),
            Some("2016-07-08T18:12:51.681640Z")
        );
        assert_eq!(
            rfc3339_micros("2020-08-01T21:50:17Z").as_deref(),
            Some("2020-08-01T21:50:17.000000Z")
        );
        assert_eq!(
            rfc3339_micros("2021-05-03T08:58:25.921033600Z").as_deref(),
            Some("2021-05-03T08:58:25.921033Z")
        );
        assert_eq!(
            rfc3339_micros("2021-05-03T08:58:25.9Z").as_deref(),
            Some("2021-05-03T08:58:25.900000Z")
        );
        assert_eq!(rfc3339_micros("2021-05-03 08:58:25Z"), None);
        assert_eq!(rfc3339_micros("2021-05-03T08:58:25+01:00"), None);
        assert_eq!(rfc3339_micros(""), None);
    }

    #[test]
    fn event_ids_with_qualifiers_and_strings() {
        let id = |value: Value| {
            let text = value.to_string();
            let node: Node<'_> = serde_json::from_str(&text).unwrap();
            event_id(Some(&node))
        };
        assert_eq!(id(json!(4624)), 4624);
        assert_eq!(
            id(json!({"#attributes": {"Qualifiers": 16384}, "#text": 7036})),
            7036
        );
        assert_eq!(id(json!("4799")), 4799);
        assert_eq!(id(json!(null)), 0);
        assert_eq!(id(json!(-1)), 0);
        assert_eq!(event_id(None), 0);
    }

    #[test]
    fn event_data_is_flattened_by_name() {
        let rendered = json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                "EventID": 4624,
                "TimeCreated": {"#attributes": {"SystemTime": "2016-07-08T18:12:51.6816408Z"}},
                "Channel": "Security",
                "Computer": "HOST",
            },
            "EventData": {"#attributes": {"Name": "x"}, "LogonType": 3, "LmPackageName": "NTLM V1", "Binary": null},
        }});
        let event = normalised(rendered, 7, "2000-01-01T00:00:00Z", "f.evtx");
        assert_eq!(event.channel, "Security");
        assert_eq!(event.provider, "Microsoft-Windows-Security-Auditing");
        assert_eq!(event.id, 4624);
        assert_eq!(event.time, "2016-07-08T18:12:51.681640Z");
        assert_eq!(event.record_id, 7);
        assert_eq!(event.computer, "HOST");
        assert_eq!(event.file, "f.evtx");
        assert_eq!(event.data["LogonType"], json!(3));
        assert_eq!(event.data["LmPackageName"], json!("NTLM V1"));
        assert_eq!(event.data["Binary"], Value::Null);
        assert!(!event.data.contains_key("#attributes"));
    }

    #[test]
    fn unnamed_data_and_user_data() {
        let rendered = json!({"Event": {
            "System": {"EventID": {"#attributes": {"Qualifiers": 0}, "#text": 6013}, "Channel": "System"},
            "EventData": {"Data": {"#text": ["10.00.", "17134"]}, "Binary": "E207"},
        }});
        let event = normalised(rendered, 1, "2018-07-31T06:42:06.5134595Z", "s.evtx");
        assert_eq!(event.id, 6013);
        assert_eq!(event.data["Data"], json!(["10.00.", "17134"]));
        assert_eq!(event.data["Binary"], json!("E207"));
        // No TimeCreated: the record header's time.
        assert_eq!(event.time, "2018-07-31T06:42:06.513459Z");

        let rendered = json!({"Event": {
            "System": {"EventID": 551, "EventRecordID": 99, "Channel": "Microsoft-Windows-SMBServer/Security"},
            "UserData": {"EventData": {"#attributes": {"xmlns": "Smb2Namespace"}, "SPN": "cifs/fs01", "UserNameLength": 0, "UserName": null}},
        }});
        let event = normalised(rendered, 2, "2020-08-01T21:50:17.1704031Z", "u.evtx");
        // The record's own EventRecordID wins over the header's.
        assert_eq!(event.record_id, 99);
        assert_eq!(event.data["SPN"], json!("cifs/fs01"));
        assert_eq!(event.data["UserNameLength"], json!(0));
        assert_eq!(event.data["UserName"], Value::Null);
        assert!(!event.data.contains_key("xmlns"));
    }

    #[test]
    fn repeated_keys_keep_the_first_place_and_the_last_value() {
        let text = r#"{"Event": {
            "EventData": {"A": 1, "B": {"x": 1, "y": 2, "x": 3}, "A": 2},
            "System": {"Channel": "One", "EventID": 5},
            "UserData": {"Child": {"A": 9, "C": "c\n\u00e9"}},
            "System": {"Channel": "Two", "EventID": 6}
        }}"#;
        let parsed: Value = serde_json::from_str(text).unwrap();
        let event = normalise_json(text.as_bytes(), 1, &|| "x".to_string(), "f").unwrap();
        assert_eq!(event.channel, "Two");
        assert_eq!(event.id, 6);
        assert_eq!(event.data["A"], json!(2));
        assert_eq!(event.data["B"], parsed["Event"]["EventData"]["B"]);
        assert_eq!(
            serde_json::to_string(&event.data["B"]).unwrap(),
            r#"{"x":3,"y":2}"#
        );
        assert_eq!(event.data["C"], json!("c\né"));
        // Not a record: only the header's time.
        let empty = normalise_json(b"[1]", 3, &|| "2020-08-01T21:50:17Z".to_string(), "f").unwrap();
        assert_eq!(empty.time, "2020-08-01T21:50:17.000000Z");
        assert_eq!(empty.record_id, 3);
        assert_eq!(
            normalise_json(b"{\"Event\": ", 1, &String::new, "f"),
            Err(INVALID_JSON)
        );
        assert_eq!(
            normalise_json(b"{\"Event\": \"\xff\"}", 1, &String::new, "f"),
            Err(INVALID_UTF8)
        );
    }
}
