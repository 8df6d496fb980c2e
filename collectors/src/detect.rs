//! Recognises evidence files by their content, never by their name alone.

use std::fs::{File, FileType};
use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Offset of the file-type field in a `regf` base block.
const BASE_BLOCK_FILE_TYPE_OFFSET: usize = 0x1c;
/// How many leading bytes are enough to tell every supported kind apart.
pub(crate) const SNIFF_LEN: usize = 512;

/// What a file holds, judged from its first bytes.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
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

/// Reads the first bytes of `path` and says what it holds. Only a regular file (after
/// symbolic links) is opened, and at most 512 bytes of it are read; anything else is an error
/// of kind [`std::io::ErrorKind::InvalidInput`] that says what it is.
pub fn sniff_file(path: &Path) -> std::io::Result<FileKind> {
    Ok(sniff_bytes(&read_head(path, SNIFF_LEN)?))
}

/// What a file that is not a regular file is, for messages: `a FIFO`, `a character device`.
pub(crate) fn special_file_kind(file_type: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

fn not_regular(file_type: &FileType) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("it is {}, not a regular file", special_file_kind(file_type)),
    )
}

/// Opens `path` for reading when it is a regular file, after symbolic links. The type is
/// checked before opening, so a FIFO is never opened (opening one waits for a writer), and
/// again on the opened file, so a device put in its place meanwhile is not read either. On Unix
/// the open is non-blocking, so a FIFO swapped in between the check and the open cannot block
/// it either (the flag changes nothing for regular files).
pub(crate) fn open_regular(path: &Path) -> std::io::Result<File> {
    let target = std::fs::metadata(path)?;
    if !target.is_file() {
        return Err(not_regular(&target.file_type()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(not_regular(&opened.file_type()));
    }
    Ok(file)
}

/// Reads at most `limit` bytes from the start of the regular file at `path`.
pub(crate) fn read_head(path: &Path, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(limit.min(SNIFF_LEN));
    open_regular(path)?
        .take(limit as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Reads the whole regular file at `path`.
pub(crate) fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
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

/// The file format other than the supported ones that `head` (a file's first bytes) shows,
/// named for messages; `None` when it is none of those below. Triage collections hold many
/// files of these formats under names like evidence (`index.dat`, `WebCacheV01.dat`,
/// `SRUDB.dat`), and none of them can be a damaged hive: a hive's first bytes are its base
/// block, never another format's header or text.
pub(crate) fn other_format(head: &[u8]) -> Option<&'static str> {
    const ESE_SIGNATURE: [u8; 4] = [0xef, 0xcd, 0xab, 0x89];
    const OLE_SIGNATURE: [u8; 8] = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
    if head.starts_with(b"Client UrlCache MMF") {
        return Some("an Internet Explorer cache index (index.dat)");
    }
    if head.get(4..8) == Some(&ESE_SIGNATURE[..]) {
        return Some("an ESE database (such as WebCacheV01.dat or SRUDB.dat)");
    }
    if head.starts_with(b"SQLite format 3\0") {
        return Some("an SQLite database");
    }
    if head.starts_with(&OLE_SIGNATURE) {
        return Some("an OLE compound file");
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("a ZIP archive");
    }
    if is_legacy_event_log(head) {
        return Some(LEGACY_EVENT_LOG);
    }
    is_text(head).then_some("a text file")
}

/// How messages name a legacy event log, with the way to convert it.
const LEGACY_EVENT_LOG: &str = "a legacy event log of Windows 2000, XP or Server 2003 (.evt, signature LfLe), which hiveward does not read: convert it to EVTX on Windows with `wevtutil epl FILE.evt FILE.evtx /lf:true`";

/// Whether `head` starts a legacy event log: its header record is 0x30 bytes long and carries
/// the signature `LfLe` after the length.
fn is_legacy_event_log(head: &[u8]) -> bool {
    head.get(..8) == Some(&b"\x30\0\0\0LfLe"[..])
}

/// Whether `head` is the start of a text file: UTF-8 (a character cut off at the end aside)
/// with no control characters but tab, line feed, form feed and carriage return.
fn is_text(head: &[u8]) -> bool {
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Only a character cut off by the end of `head`.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    !text.is_empty()
        && text.chars().all(|character| {
            !character.is_control() || matches!(character, '\t' | '\n' | '\x0c' | '\r')
        })
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

    #[test]
    fn other_formats_are_named_and_hives_and_damage_are_not() {
        let mut ese = vec![0x12, 0x34, 0x56, 0x78, 0xef, 0xcd, 0xab, 0x89];
        ese.extend_from_slice(&[0; 32]);
        let cases: [(&[u8], Option<&str>); 10] = [
            (
                b"Client UrlCache MMF Ver 5.2\0",
                Some("an Internet Explorer cache index (index.dat)"),
            ),
            (
                &ese,
                Some("an ESE database (such as WebCacheV01.dat or SRUDB.dat)"),
            ),
            (b"SQLite format 3\0\x10\0", Some("an SQLite database")),
            (
                &[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0],
                Some("an OLE compound file"),
            ),
            (b"PK\x03\x04\x14\0", Some("a ZIP archive")),
            (b"\x30\0\0\0LfLe\x01\0\0\0", Some(LEGACY_EVENT_LOG)),
            // Text, with a multi-byte character cut off by the end of the head.
            (b"http://example.test/\r\n\xc3", Some("a text file")),
            // A zeroed or garbled base block may be a damaged hive: no format is named.
            (&[0; 64], None),
            (b"rexf\0\0\x01\0\x07v\xb2q", None),
            (b"", None),
        ];
        for (head, expected) in cases {
            assert_eq!(other_format(head), expected, "{head:?}");
        }
    }

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

    #[test]
    fn only_regular_files_are_opened_and_heads_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big");
        std::fs::write(&file, vec![b'x'; 4096]).unwrap();
        assert_eq!(read_head(&file, 8).unwrap(), b"xxxxxxxx");
        assert_eq!(sniff_file(&file).unwrap(), FileKind::Unknown);
        let error = sniff_file(dir.path()).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
    }
}
