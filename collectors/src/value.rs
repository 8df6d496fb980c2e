//! Typed registry values, decoded the same way whether they come from a hive or a `.reg` export.

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

/// The registry type of a value, as stored in its `vk` record or written in a `.reg` export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegType {
    /// `REG_NONE` (0).
    None,
    /// `REG_SZ` (1).
    Sz,
    /// `REG_EXPAND_SZ` (2).
    ExpandSz,
    /// `REG_BINARY` (3).
    Binary,
    /// `REG_DWORD` (4), little-endian.
    Dword,
    /// `REG_DWORD_BIG_ENDIAN` (5).
    DwordBigEndian,
    /// `REG_LINK` (6).
    Link,
    /// `REG_MULTI_SZ` (7).
    MultiSz,
    /// `REG_RESOURCE_LIST` (8).
    ResourceList,
    /// `REG_FULL_RESOURCE_DESCRIPTOR` (9).
    FullResourceDescriptor,
    /// `REG_RESOURCE_REQUIREMENTS_LIST` (10).
    ResourceRequirementsList,
    /// `REG_QWORD` (11), little-endian.
    Qword,
    /// Any other type code; the data is kept as raw bytes.
    Unknown(u32),
}

impl RegType {
    /// Maps a raw type code to its type.
    pub fn from_code(code: u32) -> RegType {
        match code {
            0 => RegType::None,
            1 => RegType::Sz,
            2 => RegType::ExpandSz,
            3 => RegType::Binary,
            4 => RegType::Dword,
            5 => RegType::DwordBigEndian,
            6 => RegType::Link,
            7 => RegType::MultiSz,
            8 => RegType::ResourceList,
            9 => RegType::FullResourceDescriptor,
            10 => RegType::ResourceRequirementsList,
            11 => RegType::Qword,
            other => RegType::Unknown(other),
        }
    }

    /// The raw type code.
    pub fn code(self) -> u32 {
        match self {
            RegType::None => 0,
            RegType::Sz => 1,
            RegType::ExpandSz => 2,
            RegType::Binary => 3,
            RegType::Dword => 4,
            RegType::DwordBigEndian => 5,
            RegType::Link => 6,
            RegType::MultiSz => 7,
            RegType::ResourceList => 8,
            RegType::FullResourceDescriptor => 9,
            RegType::ResourceRequirementsList => 10,
            RegType::Qword => 11,
            RegType::Unknown(code) => code,
        }
    }

    /// The name Windows tools print, such as `REG_DWORD`; unknown codes print as `REG_UNKNOWN_0x1234`.
    pub fn name(self) -> String {
        let fixed = match self {
            RegType::None => "REG_NONE",
            RegType::Sz => "REG_SZ",
            RegType::ExpandSz => "REG_EXPAND_SZ",
            RegType::Binary => "REG_BINARY",
            RegType::Dword => "REG_DWORD",
            RegType::DwordBigEndian => "REG_DWORD_BIG_ENDIAN",
            RegType::Link => "REG_LINK",
            RegType::MultiSz => "REG_MULTI_SZ",
            RegType::ResourceList => "REG_RESOURCE_LIST",
            RegType::FullResourceDescriptor => "REG_FULL_RESOURCE_DESCRIPTOR",
            RegType::ResourceRequirementsList => "REG_RESOURCE_REQUIREMENTS_LIST",
            RegType::Qword => "REG_QWORD",
            RegType::Unknown(code) => return format!("REG_UNKNOWN_{code:#x}"),
        };
        fixed.to_string()
    }
}

impl std::fmt::Display for RegType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for RegType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl JsonSchema for RegType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RegType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Registry type name such as REG_DWORD; unknown codes appear as REG_UNKNOWN_0x<hex>.",
            "type": "string",
            "pattern": "^REG_[A-Z_]+(0x[0-9a-f]+)?$"
        })
    }
}

/// Decoded value data. Integers stay integers, strings stay strings, and bytes are kept raw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum RegData {
    /// `REG_NONE` without data.
    Empty,
    /// `REG_DWORD`, `REG_DWORD_BIG_ENDIAN` and `REG_QWORD`.
    Integer(u64),
    /// `REG_SZ`, `REG_EXPAND_SZ` and `REG_LINK`.
    String(String),
    /// `REG_MULTI_SZ`.
    MultiString(Vec<String>),
    /// `REG_BINARY`, resource lists, unknown types, and integer types whose data has the wrong size.
    /// Serialised as lower-case hex.
    Bytes(
        #[serde(serialize_with = "hex_bytes")]
        #[schemars(with = "String")]
        Vec<u8>,
    ),
}

fn hex_bytes<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&to_hex(bytes))
}

/// Formats bytes as lower-case hex without separators.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// One registry value: its name (empty for the default value), its type and its decoded data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RegValue {
    /// The value name as stored; empty for the key's default value.
    pub name: String,
    /// The registry type.
    #[serde(rename = "type")]
    pub value_type: RegType,
    /// The decoded data.
    pub data: RegData,
    /// For a `REG_MULTI_SZ`, the strings stored after the empty string that ends its list
    /// (the empty ones between them kept, those at the end dropped). Windows' readers stop at
    /// that empty string, and so do `data` and the rules; these are listed so that no stored
    /// string goes unshown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_end: Vec<String>,
}

impl RegValue {
    /// Decodes raw value bytes according to their type code.
    ///
    /// Data that does not fit its type (a `REG_DWORD` of 3 bytes, say) is kept as
    /// [`RegData::Bytes`] rather than coerced, so that rules can report it.
    pub fn decode(name: impl Into<String>, type_code: u32, raw: &[u8]) -> RegValue {
        let value_type = RegType::from_code(type_code);
        let mut past_end = Vec::new();
        let data = match value_type {
            RegType::Dword if raw.len() == 4 => {
                RegData::Integer(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]).into())
            }
            RegType::DwordBigEndian if raw.len() == 4 => {
                RegData::Integer(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]).into())
            }
            RegType::Qword if raw.len() == 8 => {
                let mut le = [0u8; 8];
                le.copy_from_slice(raw);
                RegData::Integer(u64::from_le_bytes(le))
            }
            RegType::Sz | RegType::ExpandSz | RegType::Link => {
                RegData::String(first_utf16_string(raw))
            }
            RegType::MultiSz => {
                let (strings, tail) = utf16_multi_strings(raw);
                past_end = tail;
                RegData::MultiString(strings)
            }
            RegType::None if raw.is_empty() => RegData::Empty,
            _ => RegData::Bytes(raw.to_vec()),
        };
        RegValue {
            name: name.into(),
            value_type,
            data,
            past_end,
        }
    }

    /// The integer data, when the value is a well-formed DWORD or QWORD.
    pub fn as_integer(&self) -> Option<u64> {
        match self.data {
            RegData::Integer(value) => Some(value),
            _ => None,
        }
    }

    /// The string data, when the value is a string type.
    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            RegData::String(text) => Some(text),
            _ => None,
        }
    }

    /// A short human-readable rendering of the data, as `reg query` would print it.
    pub fn display_data(&self) -> String {
        match &self.data {
            RegData::Empty => String::new(),
            RegData::Integer(value) => format!("{value:#x} ({value})"),
            RegData::String(text) => text.clone(),
            RegData::MultiString(items) => items.join("\\0"),
            RegData::Bytes(bytes) => to_hex(bytes),
        }
    }
}

fn utf16_units(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
    raw.chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
}

/// A `REG_SZ` ends at its first NUL; anything stored after it is not part of the string.
fn first_utf16_string(raw: &[u8]) -> String {
    let units: Vec<u16> = utf16_units(raw).take_while(|&unit| unit != 0).collect();
    String::from_utf16_lossy(&units)
}

/// A `REG_MULTI_SZ` is a run of NUL-terminated strings closed by an empty string: the strings
/// of that list, and those stored after the empty string that ends it (empty ones at the end
/// dropped): `a\0\0b\0\0` gives `["a"]` and `["b"]`.
fn utf16_multi_strings(raw: &[u8]) -> (Vec<String>, Vec<String>) {
    let units: Vec<u16> = utf16_units(raw).collect();
    let mut parts = units.split(|&unit| unit == 0);
    let strings = parts
        .by_ref()
        .take_while(|part| !part.is_empty())
        .map(String::from_utf16_lossy)
        .collect();
    // `take_while` used up the empty string that ends the list, if there is one.
    let mut past_end: Vec<String> = parts.map(String::from_utf16_lossy).collect();
    while past_end.last().is_some_and(String::is_empty) {
        past_end.pop();
    }
    (strings, past_end)
}

/// Encodes a string as NUL-terminated UTF-16LE, the way `REG_SZ` data is stored.
pub fn encode_utf16_sz(text: &str) -> Vec<u8> {
    let mut out: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// A Windows FILETIME (100-ns intervals since 1601-01-01 UTC) as RFC 3339 UTC text with
/// microseconds, as event times are written (`2012-04-03T22:11:22.276846Z`); `None` for 0 and
/// for values outside the years 1601 to 9999.
pub fn filetime_to_rfc3339(filetime: u64) -> Option<String> {
    /// Seconds from 1601-01-01 to 1970-01-01.
    const EPOCH_GAP: i64 = 11_644_473_600;
    if filetime == 0 {
        return None;
    }
    let seconds = i64::try_from(filetime / 10_000_000).ok()? - EPOCH_GAP;
    let nanos = i32::try_from((filetime % 10_000_000) * 100).ok()?;
    let timestamp = jiff::Timestamp::new(seconds, nanos).ok()?;
    Some(timestamp.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// The FILETIME of an RFC 3339 time (`2026-11-22T01:38:58Z`), the inverse of
/// [`filetime_to_rfc3339`]; `None` for text that is not such a time or lies before 1601.
pub fn rfc3339_to_filetime(text: &str) -> Option<u64> {
    const EPOCH_GAP: i64 = 11_644_473_600;
    let timestamp: jiff::Timestamp = text.trim().parse().ok()?;
    let seconds = u64::try_from(timestamp.as_second().checked_add(EPOCH_GAP)?).ok()?;
    let nanos = u64::try_from(timestamp.subsec_nanosecond()).ok()?;
    seconds.checked_mul(10_000_000)?.checked_add(nanos / 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_and_filetime_round_trip() {
        let filetime = super::rfc3339_to_filetime("2026-11-22T01:38:58.877098Z").unwrap();
        assert_eq!(
            super::filetime_to_rfc3339(filetime).as_deref(),
            Some("2026-11-22T01:38:58.877098Z")
        );
        assert_eq!(super::rfc3339_to_filetime("yesterday"), None);
    }

    #[test]
    fn filetimes_become_rfc3339_microseconds() {
        // 2012-04-03T22:11:22.2768467Z, as regipy shows a MountPoints2 key of the corpus.
        assert_eq!(
            filetime_to_rfc3339(129_779_646_822_768_467).as_deref(),
            Some("2012-04-03T22:11:22.276846Z")
        );
        assert_eq!(
            filetime_to_rfc3339(116_444_736_000_000_000).as_deref(),
            Some("1970-01-01T00:00:00.000000Z")
        );
        assert_eq!(filetime_to_rfc3339(0), None);
        assert_eq!(filetime_to_rfc3339(u64::MAX), None);
    }

    use super::*;

    fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn dword_qword_and_big_endian_decode_to_integers() {
        assert_eq!(
            RegValue::decode("a", 4, &[2, 0, 0, 0]).as_integer(),
            Some(2)
        );
        assert_eq!(
            RegValue::decode("a", 5, &[0, 0, 0, 2]).as_integer(),
            Some(2)
        );
        assert_eq!(
            RegValue::decode("a", 11, &0x1_0000_0001u64.to_le_bytes()).as_integer(),
            Some(0x1_0000_0001)
        );
    }

    #[test]
    fn integer_types_with_wrong_size_stay_bytes() {
        let value = RegValue::decode("a", 4, &[1, 0, 0]);
        assert_eq!(value.value_type, RegType::Dword);
        assert_eq!(value.data, RegData::Bytes(vec![1, 0, 0]));
    }

    #[test]
    fn a_multi_string_lists_what_is_stored_past_its_end() {
        let decode = |text: &str| RegValue::decode("m", 7, &utf16(text));
        let gap = decode("COMNAP\0\0SPOOLSS\0\0");
        assert_eq!(gap.data, RegData::MultiString(vec!["COMNAP".into()]));
        assert_eq!(gap.past_end, ["SPOOLSS"]);
        let leading = decode("\0DFS$\0\0");
        assert_eq!(leading.data, RegData::MultiString(vec![]));
        assert_eq!(leading.past_end, ["DFS$"]);
        let inner = decode("a\0\0\0b\0\0\0");
        assert_eq!(inner.past_end, ["", "b"]);
        assert!(decode("a\0b\0\0").past_end.is_empty());
        assert!(decode("a\0b\0").past_end.is_empty());
        assert!(decode("").past_end.is_empty());
        assert!(RegValue::decode("s", 1, &utf16("a\0\0b\0"))
            .past_end
            .is_empty());
    }

    #[test]
    fn strings_stop_at_nul_and_multi_strings_split() {
        let mut raw = utf16("abc");
        raw.extend_from_slice(&[0, 0, b'x', 0]);
        assert_eq!(RegValue::decode("s", 1, &raw).as_str(), Some("abc"));
        let mut multi = utf16("one\0two\0\0");
        multi.extend_from_slice(&utf16("junk"));
        assert_eq!(
            RegValue::decode("m", 7, &multi).data,
            RegData::MultiString(vec!["one".into(), "two".into()])
        );
        assert_eq!(
            RegValue::decode("m", 7, &[]).data,
            RegData::MultiString(vec![])
        );
    }

    #[test]
    fn unknown_types_keep_raw_bytes_and_code() {
        let value = RegValue::decode("u", 0x1234, &[9, 8]);
        assert_eq!(value.value_type, RegType::Unknown(0x1234));
        assert_eq!(value.value_type.name(), "REG_UNKNOWN_0x1234");
        assert_eq!(value.data, RegData::Bytes(vec![9, 8]));
        assert_eq!(RegValue::decode("n", 0, &[]).data, RegData::Empty);
    }

    #[test]
    fn serialises_type_names_and_hex_bytes() {
        let json = serde_json::to_string(&RegValue::decode("b", 3, &[0xde, 0xad])).unwrap();
        assert_eq!(json, r#"{"name":"b","type":"REG_BINARY","data":"dead"}"#);
    }
}
