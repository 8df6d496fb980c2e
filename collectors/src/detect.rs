//! Recognises evidence files by their content, never by their name alone.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

/// Offset of the file-type field in a `regf` base block.
const BASE_BLOCK_FILE_TYPE_OFFSET: usize = 0x1c;
/// How many leading bytes are enough to tell every supported kind apart.
const SNIFF_LEN: usize = 512;

/// What a file holds, judged from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A primary registry hive (`regf`, file type 0).
    Hive,
    /// A hive transaction log (`regf` with file type 1 or 2: old format with a dirty vector).
    TransactionLogOld,
    /// A hive transaction log (`regf` with file type 6: new format with `HvLE` entries).
    TransactionLogNew,
    /// A `reg export` file (`Windows Registry Editor Version 5.00` or `REGEDIT4`).
    RegExport,
    /// A Windows XML event log (`ElfFile\0`).
    Evtx,
    /// A zero-length file.
    Empty,
    /// Anything else.
    Unknown,
}

impl FileKind {
    /// Whether the file is a hive transaction log of either format.
    pub fn is_transaction_log(self) -> bool {
        matches!(
            self,
            FileKind::TransactionLogOld | FileKind::TransactionLogNew
        )
    }
}

/// Reads the first bytes of `path` and says what it holds.
pub fn sniff_file(path: &Path) -> std::io::Result<FileKind> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    File::open(path)?
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)?;
    Ok(sniff_bytes(&head))
}

/// Says what a file holds from its leading bytes.
pub fn sniff_bytes(head: &[u8]) -> FileKind {
    if head.is_empty() {
        return FileKind::Empty;
    }
    if head.starts_with(b"regf") {
        let file_type = head
            .get(BASE_BLOCK_FILE_TYPE_OFFSET..BASE_BLOCK_FILE_TYPE_OFFSET + 4)
            .map(|raw| u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]));
        return match file_type {
            Some(1) | Some(2) => FileKind::TransactionLogOld,
            Some(6) => FileKind::TransactionLogNew,
            _ => FileKind::Hive,
        };
    }
    if head.starts_with(b"ElfFile\0") {
        return FileKind::Evtx;
    }
    if is_reg_export(head) {
        return FileKind::RegExport;
    }
    FileKind::Unknown
}

const REG5_HEADER: &str = "Windows Registry Editor Version 5.00";
const REG4_HEADER: &str = "REGEDIT4";

fn is_reg_export(head: &[u8]) -> bool {
    let text = if let Some(utf16) = head.strip_prefix(&[0xff, 0xfe]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .take(64)
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        let utf8 = head.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(head);
        String::from_utf8_lossy(&utf8[..utf8.len().min(64)]).into_owned()
    };
    let text = text.trim_start();
    text.starts_with(REG5_HEADER) || text.starts_with(REG4_HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regf_with_type(file_type: u32) -> Vec<u8> {
        let mut head = vec![0u8; 64];
        head[..4].copy_from_slice(b"regf");
        head[0x1c..0x20].copy_from_slice(&file_type.to_le_bytes());
        head
    }

    #[test]
    fn hives_and_both_log_formats_are_told_apart() {
        assert_eq!(sniff_bytes(&regf_with_type(0)), FileKind::Hive);
        assert_eq!(sniff_bytes(&regf_with_type(1)), FileKind::TransactionLogOld);
        assert_eq!(sniff_bytes(&regf_with_type(2)), FileKind::TransactionLogOld);
        assert_eq!(sniff_bytes(&regf_with_type(6)), FileKind::TransactionLogNew);
        assert_eq!(sniff_bytes(b"regf"), FileKind::Hive);
    }

    #[test]
    fn reg_exports_in_utf16_utf8_and_regedit4() {
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(
            "Windows Registry Editor Version 5.00\r\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        assert_eq!(sniff_bytes(&utf16), FileKind::RegExport);
        assert_eq!(
            sniff_bytes(b"\xef\xbb\xbfWindows Registry Editor Version 5.00\n"),
            FileKind::RegExport
        );
        assert_eq!(sniff_bytes(b"REGEDIT4\r\n\r\n[HKEY"), FileKind::RegExport);
    }

    #[test]
    fn evtx_empty_and_unknown() {
        assert_eq!(sniff_bytes(b"ElfFile\0\0\0"), FileKind::Evtx);
        assert_eq!(sniff_bytes(b""), FileKind::Empty);
        assert_eq!(sniff_bytes(b"MZ\x90\0"), FileKind::Unknown);
        assert_eq!(sniff_bytes(b"Windows Registry"), FileKind::Unknown);
    }
}
