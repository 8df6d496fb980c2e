//! hivex.

use super::*;

/// One run of `hivexregedit --export`.
pub(super) struct HivexRun {
    pub(super) success: bool,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `hivexregedit [--unsafe] --export --max-depth DEPTH HIVE KEY`.
pub(super) fn hivexregedit(hive: &Path, key: &str, depth: u32, unsafe_mode: bool) -> HivexRun {
    let mut command = StdCommand::new("hivexregedit");
    if unsafe_mode {
        command.arg("--unsafe");
    }
    let output = command
        .arg("--export")
        .arg("--max-depth")
        .arg(depth.to_string())
        .arg(hive)
        .arg(key)
        .output()
        .unwrap_or_else(|error| panic!("cannot run hivexregedit: {error}"));
    HivexRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One value as hivex exports it: the name as stored, the raw type code and the raw bytes.
#[derive(Debug)]
pub(super) struct HivexValue {
    pub(super) name: String,
    pub(super) type_code: u32,
    pub(super) bytes: Vec<u8>,
}

/// One `[key]` section of a hivex export.
#[derive(Debug)]
pub(super) struct HivexKey {
    pub(super) path: String,
    pub(super) values: Vec<HivexValue>,
}

/// Parses what `hivexregedit --export` writes (without `--unsafe-printable-strings`): a header
/// line, then `[\path]` sections whose values are one line each, `"name"=` (with `\"` and `\\`
/// escaped) or `@=` for the default value, followed by `dword:%08x` (a REG_DWORD of exactly four
/// bytes) or `hex(%x):` and comma-separated bytes (everything else, the type code in hex).
pub(super) fn parse_hivex_export(text: &str) -> Vec<HivexKey> {
    let mut rest = text
        .strip_prefix("Windows Registry Editor Version 5.00\n")
        .unwrap_or_else(|| panic!("hivex export without its header:\n{text}"));
    let mut keys: Vec<HivexKey> = Vec::new();
    loop {
        rest = rest.trim_start_matches('\n');
        if rest.is_empty() {
            return keys;
        }
        if let Some(section) = rest.strip_prefix('[') {
            let end = section
                .find("]\n")
                .unwrap_or_else(|| panic!("unterminated section in hivex export: {rest}"));
            keys.push(HivexKey {
                path: section[..end].to_string(),
                values: Vec::new(),
            });
            rest = &section[end + 2..];
            continue;
        }
        let (name, after_name) = match rest.strip_prefix("@=") {
            Some(after) => (String::new(), after),
            None => parse_quoted_name(rest),
        };
        let line_end = after_name.find('\n').unwrap_or(after_name.len());
        let (type_code, bytes) = parse_hivex_data(&after_name[..line_end]);
        rest = &after_name[line_end..];
        keys.last_mut()
            .unwrap_or_else(|| panic!("hivex value {name:?} before any section"))
            .values
            .push(HivexValue {
                name,
                type_code,
                bytes,
            });
    }
}

/// Reads `"name"=` and returns the unescaped name and what follows the `=`.
pub(super) fn parse_quoted_name(text: &str) -> (String, &str) {
    let mut chars = text
        .strip_prefix('"')
        .unwrap_or_else(|| panic!("hivex value line does not start with a quote: {text}"))
        .char_indices();
    let mut name = String::new();
    while let Some((index, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, escaped) = chars
                    .next()
                    .unwrap_or_else(|| panic!("dangling escape in hivex value name: {text}"));
                name.push(escaped);
            }
            '"' => {
                let after = &text[1 + index + 1..];
                let data = after
                    .strip_prefix('=')
                    .unwrap_or_else(|| panic!("no `=` after hivex value name: {text}"));
                return (name, data);
            }
            other => name.push(other),
        }
    }
    panic!("unterminated hivex value name: {text}")
}

/// Decodes `dword:0000000f` or `hex(7):43,00,..` into a type code and raw bytes.
pub(super) fn parse_hivex_data(data: &str) -> (u32, Vec<u8>) {
    if let Some(digits) = data.strip_prefix("dword:") {
        let dword = u32::from_str_radix(digits, 16)
            .unwrap_or_else(|error| panic!("bad hivex dword {data:?}: {error}"));
        return (4, dword.to_le_bytes().to_vec());
    }
    let typed = data
        .strip_prefix("hex(")
        .unwrap_or_else(|| panic!("unexpected hivex value data {data:?}"));
    let (code, bytes) = typed
        .split_once("):")
        .unwrap_or_else(|| panic!("unexpected hivex value data {data:?}"));
    let type_code = u32::from_str_radix(code, 16)
        .unwrap_or_else(|error| panic!("bad hivex type code in {data:?}: {error}"));
    let bytes = if bytes.is_empty() {
        Vec::new()
    } else {
        bytes
            .split(',')
            .map(|byte| {
                u8::from_str_radix(byte, 16)
                    .unwrap_or_else(|error| panic!("bad hivex byte in {data:?}: {error}"))
            })
            .collect()
    };
    (type_code, bytes)
}

/// The `type` name hiveward must print for a raw type code.
pub(super) fn type_name(code: u32) -> String {
    let name = match code {
        0 => "REG_NONE",
        1 => "REG_SZ",
        2 => "REG_EXPAND_SZ",
        3 => "REG_BINARY",
        4 => "REG_DWORD",
        5 => "REG_DWORD_BIG_ENDIAN",
        6 => "REG_LINK",
        7 => "REG_MULTI_SZ",
        8 => "REG_RESOURCE_LIST",
        9 => "REG_FULL_RESOURCE_DESCRIPTOR",
        10 => "REG_RESOURCE_REQUIREMENTS_LIST",
        11 => "REG_QWORD",
        other => return format!("REG_UNKNOWN_{other:#x}"),
    };
    name.to_string()
}

pub(super) fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The JSON `data` hiveward must print for raw bytes of a type: integers for well-sized DWORD
/// and QWORD data, UTF-16LE up to the first NUL for strings, the strings before the first empty
/// one for REG_MULTI_SZ, `null` for an empty REG_NONE, lower-case hex for everything else.
pub(super) fn expected_data(type_code: u32, bytes: &[u8]) -> Value {
    match (type_code, bytes.len()) {
        (4, 4) => json!(u32::from_le_bytes(bytes.try_into().unwrap())),
        (5, 4) => json!(u32::from_be_bytes(bytes.try_into().unwrap())),
        (11, 8) => json!(u64::from_le_bytes(bytes.try_into().unwrap())),
        (1 | 2 | 6, _) => {
            let units: Vec<u16> = utf16_units(bytes)
                .into_iter()
                .take_while(|&unit| unit != 0)
                .collect();
            json!(String::from_utf16_lossy(&units))
        }
        (7, _) => {
            let units = utf16_units(bytes);
            let strings: Vec<String> = units
                .split(|&unit| unit == 0)
                .take_while(|part| !part.is_empty())
                .map(String::from_utf16_lossy)
                .collect();
            json!(strings)
        }
        (0, 0) => Value::Null,
        _ => json!(hex(bytes)),
    }
}
