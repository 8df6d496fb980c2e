//! Typed substitution values and their binary XML encodings (value type byte and data).

/// A typed value for an event field: one entry of a record's substitution array.
///
/// Each variant is written with its own binary XML value type, so a reader sees the same type
/// Windows would have logged (a number stays a number, a hex value renders as `0x…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A UTF-16 string (value type `0x01`), stored without a terminating NUL.
    String(String),
    /// An unsigned 8-bit integer (value type `0x04`).
    UInt8(u8),
    /// An unsigned 16-bit integer (value type `0x06`).
    UInt16(u16),
    /// An unsigned 32-bit integer (value type `0x08`).
    UInt32(u32),
    /// An unsigned 64-bit integer (value type `0x0a`).
    UInt64(u64),
    /// A 32-bit integer that readers show in hexadecimal, `0x…` (value type `0x14`).
    Hex32(u32),
    /// A 64-bit integer that readers show in hexadecimal, `0x…` (value type `0x15`).
    Hex64(u64),
    /// A GUID (value type `0x0f`), as its 16 bytes are stored: the first three fields
    /// little-endian, the last eight bytes as they are. [`parse_guid`] makes one from the
    /// `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` text form.
    Guid([u8; 16]),
    /// A security identifier in its text form, `S-1-5-21-…` (value type `0x13`), written as a
    /// binary SID. Writing a string that is no SID panics.
    Sid(String),
    /// A FILETIME: 100-nanosecond intervals since 1601-01-01 UTC (value type `0x11`).
    FileTime(u64),
    /// A SYSTEMTIME (value type `0x12`): year, month, day of week, day, hour, minute, second,
    /// milliseconds.
    SysTime([u16; 8]),
    /// Binary data (value type `0x0e`).
    Binary(Vec<u8>),
    /// No value (value type `0x00`): the field is written with an empty substitution, so that
    /// readers show it as absent or empty.
    Null,
}

impl Value {
    /// The binary XML value type byte of this value.
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            Value::Null => 0x00,
            Value::String(_) => 0x01,
            Value::UInt8(_) => 0x04,
            Value::UInt16(_) => 0x06,
            Value::UInt32(_) => 0x08,
            Value::UInt64(_) => 0x0a,
            Value::Binary(_) => 0x0e,
            Value::Guid(_) => 0x0f,
            Value::FileTime(_) => 0x11,
            Value::SysTime(_) => 0x12,
            Value::Sid(_) => 0x13,
            Value::Hex32(_) => 0x14,
            Value::Hex64(_) => 0x15,
        }
    }

    /// The value type a template declares for a field holding this value. A [`Value::Null`]
    /// field is declared as a string, as Windows declares an absent string.
    pub(crate) fn declared_type_byte(&self) -> u8 {
        match self {
            Value::Null => 0x01,
            other => other.type_byte(),
        }
    }

    /// The bytes of this value in a substitution array.
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Value::Null => Vec::new(),
            Value::String(text) => utf16le(text),
            Value::UInt8(n) => vec![*n],
            Value::UInt16(n) => n.to_le_bytes().to_vec(),
            Value::UInt32(n) | Value::Hex32(n) => n.to_le_bytes().to_vec(),
            Value::UInt64(n) | Value::Hex64(n) | Value::FileTime(n) => n.to_le_bytes().to_vec(),
            Value::Binary(bytes) => bytes.clone(),
            Value::Guid(bytes) => bytes.to_vec(),
            Value::SysTime(fields) => fields.iter().flat_map(|f| f.to_le_bytes()).collect(),
            Value::Sid(text) => {
                encode_sid(text).unwrap_or_else(|| panic!("`{text}` is not a SID (S-1-5-…)"))
            }
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}

/// UTF-16LE bytes of `text`, without a terminating NUL.
pub(crate) fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The binary form of a SID written as `S-R-A-S1-S2-…`: revision, sub-authority count, the
/// 48-bit identifier authority big-endian, then each sub-authority as a little-endian u32.
/// `None` when `text` is no SID.
pub fn encode_sid(text: &str) -> Option<Vec<u8>> {
    let mut parts = text
        .strip_prefix("S-")
        .or(text.strip_prefix("s-"))?
        .split('-');
    let revision: u8 = parts.next()?.parse().ok()?;
    let authority_text = parts.next()?;
    let authority: u64 = match authority_text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => authority_text.parse().ok()?,
    };
    if authority >= 1 << 48 {
        return None;
    }
    let sub_authorities = parts
        .map(|part| part.parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()?;
    if sub_authorities.len() > 15 {
        return None;
    }
    let mut bytes = vec![revision, sub_authorities.len() as u8];
    bytes.extend_from_slice(&authority.to_be_bytes()[2..]);
    for sub in sub_authorities {
        bytes.extend_from_slice(&sub.to_le_bytes());
    }
    Some(bytes)
}

/// The 16 stored bytes of a GUID written as `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` (braces
/// optional, either case): the first three fields little-endian, the rest as written. `None`
/// when `text` is no GUID.
pub fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let text = text.trim();
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if groups.len() != 5
        || groups.iter().zip(lengths).any(|(g, len)| g.len() != len)
        || !text.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    {
        return None;
    }
    let data1 = u32::from_str_radix(groups[0], 16).ok()?;
    let data2 = u16::from_str_radix(groups[1], 16).ok()?;
    let data3 = u16::from_str_radix(groups[2], 16).ok()?;
    let tail = format!("{}{}", groups[3], groups[4]);
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&data1.to_le_bytes());
    bytes[4..6].copy_from_slice(&data2.to_le_bytes());
    bytes[6..8].copy_from_slice(&data3.to_le_bytes());
    for (i, byte) in bytes[8..].iter_mut().enumerate() {
        *byte = u8::from_str_radix(&tail[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

/// The text form of a GUID's 16 stored bytes, upper-case in braces as Windows shows it:
/// `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`.
pub fn format_guid(bytes: &[u8; 16]) -> String {
    let data1 = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let data2 = u16::from_le_bytes([bytes[4], bytes[5]]);
    let data3 = u16::from_le_bytes([bytes[6], bytes[7]]);
    let tail: String = bytes[8..].iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{{{data1:08X}-{data2:04X}-{data3:04X}-{}-{}}}",
        &tail[..4],
        &tail[4..]
    )
}

/// 100-nanosecond intervals between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;

/// The FILETIME of `seconds` since the Unix epoch (1970-01-01 UTC). Panics before 1601.
pub fn filetime_from_unix(seconds: i64) -> u64 {
    let ticks = i128::from(seconds) * 10_000_000 + i128::from(UNIX_EPOCH_AS_FILETIME);
    u64::try_from(ticks).expect("a time after 1601-01-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_encode_as_windows_stores_them() {
        assert_eq!(
            encode_sid("S-1-5-18").unwrap(),
            [1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]
        );
        let domain = encode_sid("S-1-5-21-1004336348-1177238915-682003330-512").unwrap();
        assert_eq!(domain.len(), 8 + 5 * 4);
        assert_eq!(&domain[..8], &[1, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&domain[24..], &512u32.to_le_bytes());
        assert_eq!(encode_sid("S-1-0").unwrap(), [1, 0, 0, 0, 0, 0, 0, 0]);
        for bad in ["", "S-1", "X-1-5", "S-1-5-x", "S-1-281474976710656-1"] {
            assert_eq!(encode_sid(bad), None, "{bad}");
        }
    }

    #[test]
    fn guids_round_trip_through_text() {
        let text = "{54849625-5478-4994-A5BA-3E3B0328C30D}";
        let bytes = parse_guid(text).unwrap();
        assert_eq!(&bytes[..4], &[0x25, 0x96, 0x84, 0x54]);
        assert_eq!(&bytes[8..10], &[0xA5, 0xBA]);
        assert_eq!(format_guid(&bytes), text);
        assert_eq!(parse_guid(&text.to_lowercase()[1..37]), Some(bytes));
        assert_eq!(parse_guid("{54849625-5478-4994-A5BA-3E3B0328C30}"), None);
        assert_eq!(parse_guid("{5484962g-5478-4994-A5BA-3E3B0328C30D}"), None);
    }

    #[test]
    fn unix_seconds_convert_to_filetime() {
        assert_eq!(filetime_from_unix(0), UNIX_EPOCH_AS_FILETIME);
        assert_eq!(
            filetime_from_unix(1_700_000_000),
            UNIX_EPOCH_AS_FILETIME + 17_000_000_000_000_000
        );
    }
}
