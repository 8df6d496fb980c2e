//! Value data read by hand from the mapped hive bytes, where nt-hive 0.3 gets it wrong.
//!
//! * In hives of format 1.3 (minor version below 4: NT 4, XP, and many `NTUSER.DAT` files)
//!   there are no big-data (`db`) records: a value over 16,344 bytes is stored in one cell, and
//!   Windows reads it as one cell (`CmpIsHKeyValueBig` is false below 1.4). nt-hive expects a
//!   `db` record whatever the version and reports the key as damaged, so such a cell is read
//!   here.
//! * Empty data: Windows reads no cell, and the data offset is often HCELL_NIL (0xffffffff), on
//!   which nt-hive asserts (a panic).
//! * A data offset, or a big-data list or segment offset, of HCELL_NIL with data to read is
//!   damage; nt-hive would assert on it too. So is a big-data record that names one segment
//!   twice, which Windows never writes.
//!
//! Everything else goes through nt-hive. nt-hive does not expose a value's record offset, so
//! the `vk` header is found through the value's name, which nt-hive hands out as a slice of the
//! hive right after the 20-byte header; its signature and name length are checked first.

use super::lists::HCELL_NIL;
use super::{HiveFile, BASE_BLOCK_SIZE};

/// From format 1.4 on, value data longer than this is stored in a big-data (`db`) record
/// (`CM_KEY_VALUE_BIG` in Windows); before 1.4 it is stored in one cell.
const BIG_DATA_THRESHOLD: usize = 16_344;
/// Size of a `vk` record before its name.
const VALUE_HEADER: usize = 0x14;
/// Bit 31 of a value's data size: the data (at most 4 bytes) sits in the data-offset field.
const DATA_INLINE: u32 = 0x8000_0000;

/// The data fields and flags of a value's `vk` record.
#[derive(Clone, Copy, Debug)]
pub(super) struct ValueHeader {
    /// The data size, with bit 31 set when the data sits in the data-offset field.
    data_size: u32,
    /// The offset of the data cell (or of the big-data record), relative to the hive bins.
    data_offset: u32,
    /// The record's flags: 0x0001 a Latin-1 name, 0x0002 a tombstone (see the `layers` module).
    flags: u16,
}

impl ValueHeader {
    /// The record's flags.
    pub(super) fn flags(&self) -> u16 {
        self.flags
    }
}

/// One value as stored: its name's bytes (and whether they are UTF-16), its type code and its
/// data bytes. Two keys with equal lists of these hold equal values, so comparing them needs no
/// decoding.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StoredValue {
    name: Vec<u8>,
    utf16: bool,
    type_code: u32,
    data: Vec<u8>,
}

impl HiveFile {
    /// Every value of the key as stored, in stored order, or `None` when the key does not
    /// exist. It reads the fields [`HiveFile::values`] decodes, so a key whose values decode
    /// reads here without error; callers go to `values` for the wording of any damage.
    pub(crate) fn stored_values(
        &self,
        components: &[&str],
    ) -> Result<Option<Vec<StoredValue>>, crate::error::EvidenceError> {
        self.each_value(components, |value, shown| {
            let at = |detail: &dyn std::fmt::Display| {
                self.damaged(&format!("the values of {shown}"), detail)
            };
            let stored_name = value.name().map_err(|error| at(&error))?;
            let header = self.value_header(&stored_name);
            let (name, utf16) = match stored_name {
                nt_hive::NtHiveNameString::Latin1(bytes) => (bytes.to_vec(), false),
                nt_hive::NtHiveNameString::Utf16LE(bytes) => (bytes.to_vec(), true),
            };
            let type_code = match value.data_type() {
                Ok(data_type) => data_type as u32,
                Err(nt_hive::NtHiveError::UnsupportedKeyValueDataType { actual, .. }) => actual,
                Err(error) => return Err(at(&error)),
            };
            let data = self
                .value_data(value, header)
                .map_err(|detail| at(&detail))?;
            Ok(StoredValue {
                name,
                utf16,
                type_code,
                data,
            })
        })
    }

    /// The data size and data offset of a value's `vk` record, found through its name the way
    /// [`HiveFile::key_last_written`] finds a key node: the name nt-hive hands out is a slice of
    /// the hive that starts right after the 20-byte record header. `None` when the header cannot
    /// be found there (then nt-hive alone reads the data).
    pub(super) fn value_header(&self, name: &nt_hive::NtHiveNameString<'_>) -> Option<ValueHeader> {
        let (nt_hive::NtHiveNameString::Latin1(slice) | nt_hive::NtHiveNameString::Utf16LE(slice)) =
            *name;
        let node = (slice.as_ptr() as usize)
            .checked_sub(self.bytes().as_ptr() as usize)?
            .checked_sub(VALUE_HEADER)?;
        let header = self.bytes().get(node..node + VALUE_HEADER)?;
        let u16_at = |at: usize| usize::from(u16::from_le_bytes([header[at], header[at + 1]]));
        let u32_at = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        (header.starts_with(b"vk") && u16_at(2) == slice.len()).then(|| ValueHeader {
            data_size: u32_at(4),
            data_offset: u32_at(8),
            flags: u16::from_le_bytes([header[16], header[17]]),
        })
    }

    /// The raw data of a value: by hand for the cases the module documentation lists, else
    /// through nt-hive.
    pub(super) fn value_data(
        &self,
        value: &nt_hive::KeyValue<&[u8]>,
        header: Option<ValueHeader>,
    ) -> Result<Vec<u8>, String> {
        let through_nt_hive = || {
            value
                .data()
                .and_then(|data| data.into_vec())
                .map_err(|error| error.to_string())
        };
        let Some(header) = header else {
            return through_nt_hive();
        };
        if header.data_size & DATA_INLINE != 0 {
            return through_nt_hive();
        }
        let size = header.data_size as usize;
        if size == 0 {
            return Ok(Vec::new());
        }
        if header.data_offset == HCELL_NIL {
            return Err(format!(
                "the value declares {size} bytes of data but no data cell (offset 0xffffffff)"
            ));
        }
        if size <= BIG_DATA_THRESHOLD {
            return through_nt_hive();
        }
        if self.minor_version < 4 {
            let cell = self.cell(header.data_offset)?;
            return cell.get(..size).map(<[u8]>::to_vec).ok_or_else(|| {
                format!(
                    "the data cell at offset {:#010x} holds {} bytes but the value declares {size} (format 1.{} stores big values in one cell)",
                    BASE_BLOCK_SIZE as u64 + u64::from(header.data_offset),
                    cell.len(),
                    self.minor_version
                )
            });
        }
        self.check_big_data_offsets(header.data_offset, size)?;
        through_nt_hive()
    }

    /// Rejects a big-data record whose segment list, or one of the segments that hold the
    /// value's `size` bytes, is HCELL_NIL, or that names one segment twice. The cells are read as nt-hive reads them, so a record
    /// nt-hive cannot read is left to nt-hive's own error.
    fn check_big_data_offsets(&self, record: u32, size: usize) -> Result<(), String> {
        let Some(cell) = self.nt_hive_cell(record) else {
            return Ok(());
        };
        let (Some(count), Some(list)) = (cell.get(2..4), cell.get(4..8)) else {
            return Ok(());
        };
        let count = usize::from(u16::from_le_bytes([count[0], count[1]]));
        let list = u32::from_le_bytes([list[0], list[1], list[2], list[3]]);
        let segments = size.div_ceil(BIG_DATA_THRESHOLD).min(count);
        let at = BASE_BLOCK_SIZE as u64 + u64::from(record);
        let nil = || {
            format!("the big-data record at offset {at:#010x} lists no cell (offset 0xffffffff)")
        };
        if list == HCELL_NIL {
            return Err(nil());
        }
        let Some(entries) = self.nt_hive_cell(list) else {
            return Ok(());
        };
        let mut seen = std::collections::HashSet::new();
        for entry in entries
            .get(..count * 4)
            .unwrap_or_default()
            .chunks_exact(4)
            .take(segments)
        {
            let entry = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
            if entry == HCELL_NIL {
                return Err(nil());
            }
            // Windows never shares a segment; a record that names one segment many times
            // would turn a few hundred kilobytes of hive into up to 1 GiB of value data.
            if !seen.insert(entry) {
                return Err(format!(
                    "the big-data record at offset {at:#010x} lists the segment at offset {:#010x} twice",
                    BASE_BLOCK_SIZE as u64 + u64::from(entry)
                ));
            }
        }
        Ok(())
    }

    /// The data of the allocated cell at `offset` (relative to the hive bins), bounded by the
    /// hive bins the base block declares.
    fn cell(&self, offset: u32) -> Result<&[u8], String> {
        let start = BASE_BLOCK_SIZE + offset as usize;
        let absolute = start as u64;
        let size = self
            .bytes()
            .get(start..start + 4)
            .filter(|_| start + 4 <= self.bins_end)
            .map(|raw| i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
            .ok_or_else(|| {
                format!("the cell offset {absolute:#010x} lies outside the hive bins")
            })?;
        if size >= 0 {
            return Err(format!(
                "the cell at offset {absolute:#010x} with a size of {size} bytes is unallocated"
            ));
        }
        let length = size.unsigned_abs() as usize;
        if length < 4 || start + length > self.bins_end {
            return Err(format!(
                "the cell at offset {absolute:#010x} declares {length} bytes, which do not fit in the hive bins"
            ));
        }
        Ok(&self.bytes()[start + 4..start + length])
    }
}
