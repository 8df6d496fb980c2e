//! What the read-back tests share: the logs they write, and how each reader shows a value.

#![allow(dead_code)]

use hiveward_evtxwriter::*;

/// A GUID whose fields are all different, so that a byte order mistake shows.
pub const GUID: &str = "{0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9}";

/// One field of every value type, in an order that puts each type between two others.
pub fn every_type() -> Vec<(&'static str, Value)> {
    vec![
        ("Text", Value::String("cifs/files.corp.example".into())),
        ("Byte", Value::UInt8(200)),
        ("Short", Value::UInt16(65_535)),
        ("Long", Value::UInt32(4_000_000_000)),
        ("Quad", Value::UInt64(u64::MAX)),
        ("Hex", Value::Hex32(0xC000_0022)),
        ("SmallHex", Value::Hex32(0x1F)),
        ("WideHex", Value::Hex64(0x0000_0000_0015_A3C2)),
        ("Guid", Value::Guid(parse_guid(GUID).unwrap())),
        (
            "Sid",
            Value::Sid("S-1-5-21-1004336348-1177238915-682003330-512".into()),
        ),
        ("WellKnownSid", Value::Sid("S-1-5-18".into())),
        ("When", Value::FileTime(133_485_408_123_456_700)),
        (
            "SystemTime",
            Value::SysTime([2024, 2, 4, 29, 23, 59, 58, 7]),
        ),
        ("Bytes", Value::Binary(vec![0x0a, 0x00, 0x00, 0x15, 0xff])),
        ("Missing", Value::Null),
        ("Empty", Value::String(String::new())),
        ("Escaped", Value::String("a & b <c> \"d\" 'e'".into())),
        ("Unicode", Value::String("Jürgen Øster ✓ 日本".into())),
        ("Last", Value::UInt32(0)),
    ]
}

/// An event with every value type as EventData, with every optional System value set.
pub fn every_type_event_data() -> Event {
    every_type().into_iter().fold(
        Event::new("Application", "Hiveward-Test", 1000)
            .provider_guid(parse_guid(GUID).unwrap())
            .qualifiers(16384)
            .version(3)
            .level(3)
            .task(7)
            .opcode(2)
            .keywords(0x0080_0000_0000_0001)
            .execution(1234, 5678)
            .user_id("S-1-5-21-1004336348-1177238915-682003330-1105")
            .computer("WS042.corp.example")
            .time(133_485_408_000_000_001),
        |event, (name, value)| event.data(name, value),
    )
}

/// The same fields in the UserData form.
pub fn every_type_user_data() -> Event {
    every_type().into_iter().fold(
        Event::new("Setup", "Hiveward-Test", 2)
            .user_data("TestRecord", "http://example.com/hiveward/test")
            .computer("FS01.corp.example")
            .unix_time(1_600_000_000),
        |event, (name, value)| event.data(name, value),
    )
}

/// The events hiveward's rules read, one of each.
pub fn rule_events() -> Vec<Event> {
    vec![
        security_5168("cifs/files.corp.example", 0xC000_0022),
        smb_server_551("alice", "WS042", "cifs/alias.corp.example", 0xC000_006D, 2),
        kerberos_system_4("FS01$", "cifs/alias.corp.example"),
        security_4624("alice", 3, "NTLM", "NTLM V1"),
        servicing_setup_2("KB5034441", "Installed", 0x8024_200B, "UpdateAgentLCU"),
        smb_server_operational_1003("\\\\*\\Finance", "WS042", "CORP\\alice"),
    ]
}

/// A log of several chunks: the rule events and the every-type events first, then hundreds of
/// logons and servicing events at one-second steps, then the every-type events again (so that
/// a later chunk defines their templates anew).
pub fn catalogue() -> EvtxWriter {
    let mut log = EvtxWriter::new();
    for event in rule_events() {
        log.push(event);
    }
    log.push(every_type_event_data());
    log.push(every_type_user_data());
    for i in 0..400u32 {
        let time = 1_700_000_000 + i64::from(i);
        let event = if i % 5 == 4 {
            servicing_setup_2(&format!("KB50{i:05}"), "Staged", i, "WindowsUpdateAgent")
        } else {
            security_4624(&format!("user{i:03}"), 2 + i % 9, "NTLM", "NTLM V2")
                .data("IpPort", Value::String(format!("{}", 49152 + i)))
        };
        log.push(event.unix_time(time));
    }
    log.push(every_type_event_data());
    log.push(every_type_user_data());
    log
}

/// The text an unsigned value of a hex type has in `0x…`, parsed.
fn parse_hex(text: &str) -> u64 {
    u64::from_str_radix(text.trim_start_matches("0x"), 16)
        .unwrap_or_else(|_| panic!("{text} is hex"))
}

/// Year, month, day of `days` since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A FILETIME as `YYYY-MM-DDTHH:MM:SS` and the 100-nanosecond ticks past that second.
pub fn filetime_parts(filetime: u64) -> (String, u64) {
    let unix = (filetime / 10_000_000) as i64 - 11_644_473_600;
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let text = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    (text, filetime % 10_000_000)
}

/// Unix nanoseconds of a FILETIME.
pub fn filetime_to_unix_nanos(filetime: u64) -> i128 {
    (i128::from(filetime) - 116_444_736_000_000_000) * 100
}

/// How the `evtx` crate's JSON shows `value`: unsigned integers as numbers, hex as `0x…`
/// without leading zeros, GUIDs lower-case in braces, times with seven fractional digits,
/// binary as upper-case hex. A field without text (a null value or an empty string) is an
/// empty string in EventData (where the `<Data>` element is named by its attribute) and null
/// in UserData (where the element has neither text nor attributes).
pub fn evtx_json(value: &Value, user_data: bool) -> serde_json::Value {
    use serde_json::json;
    let empty = matches!(value, Value::Null) || *value == Value::String(String::new());
    if empty && user_data {
        return serde_json::Value::Null;
    }
    match value {
        Value::String(text) | Value::Sid(text) => json!(text),
        Value::UInt8(n) => json!(n),
        Value::UInt16(n) => json!(n),
        Value::UInt32(n) => json!(n),
        Value::UInt64(n) => json!(n),
        Value::Hex32(n) => json!(format!("{n:#x}")),
        Value::Hex64(n) => json!(format!("{n:#x}")),
        Value::Guid(bytes) => json!(format_guid(bytes).to_lowercase()),
        Value::FileTime(filetime) => {
            let (text, ticks) = filetime_parts(*filetime);
            json!(format!("{text}.{ticks:07}Z"))
        }
        Value::SysTime([y, mo, _, d, h, mi, s, ms]) => json!(format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:07}Z",
            u32::from(*ms) * 10_000
        )),
        Value::Binary(bytes) => json!(bytes.iter().map(|b| format!("{b:02X}")).collect::<String>()),
        Value::Null => json!(""),
    }
}

/// How libyal's `evtxexport` shows `value`, `None` for a value it leaves out. It differs from
/// the `evtx` crate in: hex padded to the type's width (`0x%08x`, `0x%016x`), GUIDs
/// upper-case, FILETIMEs with nine fractional digits, SYSTEMTIMEs with milliseconds, and a
/// null value dropping its element (MS-EVEN6: an optional substitution of a NULL value
/// removes the element), where the `evtx` crate keeps the element, empty.
pub fn evtxexport_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(text) | Value::Sid(text) => text.clone(),
        Value::UInt8(n) => n.to_string(),
        Value::UInt16(n) => n.to_string(),
        Value::UInt32(n) => n.to_string(),
        Value::UInt64(n) => n.to_string(),
        Value::Hex32(n) => format!("0x{n:08x}"),
        Value::Hex64(n) => format!("0x{n:016x}"),
        Value::Guid(bytes) => format_guid(bytes),
        Value::FileTime(filetime) => {
            let (text, ticks) = filetime_parts(*filetime);
            format!("{text}.{:09}Z", ticks * 100)
        }
        Value::SysTime([y, mo, _, d, h, mi, s, ms]) => {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
        }
        Value::Binary(bytes) => bytes.iter().map(|b| format!("{b:02X}")).collect(),
        Value::Null => return None,
    })
}

/// One reader's text for a value of `value`'s type, in a form both readers share: hex as
/// `0x` and the number without leading zeros, GUIDs upper-case, times without trailing zeros
/// in the fraction. What differs after this is a real disagreement.
pub fn normalise(value: &Value, text: &str) -> String {
    match value {
        Value::Hex32(_) | Value::Hex64(_) => format!("{:#x}", parse_hex(text)),
        Value::Guid(_) => text.to_uppercase(),
        Value::FileTime(_) | Value::SysTime(_) => {
            let (whole, fraction) = text
                .trim_end_matches('Z')
                .split_once('.')
                .unwrap_or((text, ""));
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{whole}Z")
            } else {
                format!("{whole}.{fraction}Z")
            }
        }
        _ => text.to_owned(),
    }
}

/// A JSON scalar as the text a reader would print.
pub fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}
