//! Reads the `regf` base block: the sequence numbers and checksum that tell a clean hive from a
//! dirty one, and the hive-bins size that tells a whole file from one cut short.

/// Size of the `regf` base block that precedes the hive bins.
pub const BASE_BLOCK_SIZE: usize = 4096;

/// The base block flag of a hive that supports layered keys (a differencing hive).
const LAYERED_KEYS_FLAG: u32 = 0x2;
/// Every base block flag Windows defines: pending transactions (0x1) and layered keys (0x2).
const KNOWN_FLAGS: u32 = 0x3;

/// The fields of a `regf` base block that decide whether a hive is clean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseBlock {
    /// Incremented when a write starts.
    pub primary_sequence: u32,
    /// Set equal to the primary sequence when the write completes.
    pub secondary_sequence: u32,
    /// The format's major version (1).
    pub major_version: u32,
    /// The format's minor version: 3 (NT 4, XP and many user hives), 4 and later add big-data
    /// (`db`) records for values over 16,344 bytes, 5 (XP and later system hives) and 6.
    pub minor_version: u32,
    /// 0 for a primary hive, 1, 2 or 6 for transaction logs.
    pub file_type: u32,
    /// Offset of the root key cell, relative to the hive bins.
    pub root_cell_offset: u32,
    /// Size of the hive bins in bytes.
    pub hive_bins_data_size: u32,
    /// The flags at offset 0x90: bit 0x1 marks pending transactions, bit 0x2 a hive that
    /// supports layered keys (see [`BaseBlock::is_differencing`]).
    pub flags: u32,
    /// Checksum stored at offset 0x1fc.
    pub stored_checksum: u32,
    /// Checksum computed over the first 508 bytes.
    pub computed_checksum: u32,
}

impl BaseBlock {
    /// Parses the base block at the start of `bytes`, or `None` when there is no `regf` signature
    /// or fewer than 512 bytes.
    pub fn parse(bytes: &[u8]) -> Option<BaseBlock> {
        if bytes.len() < 512 || !bytes.starts_with(b"regf") {
            return None;
        }
        let field = |offset: usize| {
            u32::from_le_bytes([
                bytes[offset],
                bytes[offset + 1],
                bytes[offset + 2],
                bytes[offset + 3],
            ])
        };
        Some(BaseBlock {
            primary_sequence: field(0x04),
            secondary_sequence: field(0x08),
            major_version: field(0x14),
            minor_version: field(0x18),
            file_type: field(0x1c),
            root_cell_offset: field(0x24),
            hive_bins_data_size: field(0x28),
            flags: field(0x90),
            stored_checksum: field(0x1fc),
            computed_checksum: base_block_checksum(bytes),
        })
    }

    /// Whether the stored checksum matches the bytes.
    pub fn checksum_ok(&self) -> bool {
        self.stored_checksum == self.computed_checksum
    }

    /// Whether the last write completed.
    pub fn sequences_match(&self) -> bool {
        self.primary_sequence == self.secondary_sequence
    }

    /// Whether the hive is a differencing hive: a layer (of a Windows container image, or of an
    /// application silo) that holds only what it changed over the hive below it. Such hives set
    /// bit 0x2 of the flags (Windows 10 1607 and later, format 1.6 in container images). On
    /// Windows 8 and Server 2012 the same bit marks a defragmented hive being written out, so on
    /// a dirty hive of format 1.5 or older the bit is not taken as a layer; nor is it when the
    /// field holds bits no version of Windows defines (a damaged base block).
    pub fn is_differencing(&self) -> bool {
        self.flags & LAYERED_KEYS_FLAG != 0
            && self.flags & !KNOWN_FLAGS == 0
            && (self.minor_version >= 6 || self.sequences_match())
    }
}

/// The XOR-32 checksum of the first 508 bytes of a base block, with 0 and `u32::MAX` avoided.
pub fn base_block_checksum(bytes: &[u8]) -> u32 {
    let sum = bytes[..0x1fc].chunks_exact(4).fold(0u32, |acc, dword| {
        acc ^ u32::from_le_bytes([dword[0], dword[1], dword[2], dword[3]])
    });
    match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        other => other,
    }
}

/// The code of the warning that names a differencing hive (see [`BaseBlock::is_differencing`]).
pub const DIFFERENCING_HIVE_CODE: &str = "hiveward::hive::differencing";

/// The code of the warning a hive cut short and read as far as it goes carries (the same code
/// as the error of a hive cut short before its root key).
pub const TRUNCATED_HIVE_CODE: &str = "hiveward::hive::truncated";

/// How far a hive file falls short of the size its base block declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// Bytes the hive needs: the 4096-byte base block plus the hive-bins size it records.
    pub declared: u64,
    /// Bytes the file has.
    pub available: u64,
}
