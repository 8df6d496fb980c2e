//! Finds the cell offsets of HCELL_NIL (0xffffffff) in subkey and value lists before nt-hive
//! follows them: nt-hive 0.3 asserts that an offset it follows is not HCELL_NIL
//! (`Hive::cell_range_from_data_offset`, `hive.rs:117`), so such an entry, which only damage or
//! a hostile hive produces, would end the whole scan with a panic instead of one damaged file.
//!
//! The offsets nt-hive follows and that these checks cover: the items of `lf`, `lh` and `li`
//! lists (key nodes), the items of `ri` index roots (lists) and the items of those lists, and
//! the items of value lists. The root cell offset is checked in [`HiveFile::with_key`], value
//! data and big-data records in the `cells` module. A list nt-hive cannot read at all needs no
//! check: nt-hive returns its own error for it.
//!
//! Cells are read here exactly as nt-hive reads them, so that a check never refuses what
//! nt-hive reads without asserting, and never passes what it would assert on. The checks also
//! refuse a list that names the same cell twice, which Windows never writes and which would
//! let a small hive make nt-hive read the same cells without end.

use std::collections::HashSet;

use nt_hive::KeyNode;

use super::{HiveFile, BASE_BLOCK_SIZE};

/// The offset that stands for "no cell".
pub(super) const HCELL_NIL: u32 = u32::MAX;
/// Offsets of the fields of a key node (`nk`) record, from its signature.
const NK_PARENT: usize = 0x10;
const NK_SUBKEYS_LIST: usize = 0x1C;
const NK_VALUES_COUNT: usize = 0x24;
const NK_VALUES_LIST: usize = 0x28;
pub(super) const NK_NAME_LENGTH: usize = 0x48;
pub(super) const NK_NAME: usize = 0x4C;

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// An offset relative to the hive bins, as reports give it: from the start of the file.
pub(super) fn absolute(offset: u32) -> u64 {
    BASE_BLOCK_SIZE as u64 + u64::from(offset)
}

impl HiveFile {
    /// The offset in the hive bytes of the `nk` record of `key`, found through the name nt-hive
    /// hands out, which is a slice of the hive at offset 0x4C of the record; the signature and
    /// the stored name length are checked. `None` when the record cannot be located that way.
    pub(super) fn key_node_offset(&self, key: &KeyNode<&[u8]>) -> Option<usize> {
        let name = key.name().ok()?;
        let (nt_hive::NtHiveNameString::Latin1(slice) | nt_hive::NtHiveNameString::Utf16LE(slice)) =
            name;
        let node = (slice.as_ptr() as usize)
            .checked_sub(self.bytes().as_ptr() as usize)?
            .checked_sub(NK_NAME)?;
        let bytes = self.bytes();
        let signature_ok = bytes.get(node..node + 2) == Some(b"nk".as_slice());
        let length_ok = u16_at(bytes, node + NK_NAME_LENGTH).map(usize::from) == Some(slice.len());
        (signature_ok && length_ok).then_some(node)
    }

    /// The cell offset (relative to the hive bins) of the key node whose `nk` record is at
    /// `node` in the hive bytes: the cell starts with its 4-byte size, before the signature.
    fn node_cell(node: usize) -> Option<u32> {
        u32::try_from(node.checked_sub(BASE_BLOCK_SIZE + 4)?).ok()
    }

    /// When `subkey`, found in the subkey list of the key node at `parent` (an offset in the hive
    /// bytes), does not link back to it: its cell offset and the cell offset its parent field
    /// names instead, both relative to the hive bins. Windows keeps each key's parent field on
    /// the key whose list holds it and checks it when it loads a hive; only damage (a list entry
    /// that loops back or points at another key) breaks it. `None` when the link is good or
    /// cannot be read (the node cannot be located).
    ///
    /// A parent field of 0 records no link (offset 0 is the first bin's header, never a cell;
    /// hives written by hand for tests leave it so) and is not checked; an entry that is the
    /// key holding the list is a loop whatever its field holds.
    pub(super) fn unlinked_subkey(
        &self,
        subkey: &KeyNode<&[u8]>,
        parent: usize,
    ) -> Option<Unlinked> {
        let node = self.key_node_offset(subkey)?;
        let named = u32_at(self.bytes(), node + NK_PARENT)?;
        let expected = Self::node_cell(parent)?;
        if node != parent && (named == expected || named == 0) {
            return None;
        }
        Some(Unlinked {
            subkey: Self::node_cell(node)?,
            named,
            itself: node == parent,
        })
    }

    /// The data of the cell at `offset` (relative to the hive bins) read as nt-hive 0.3 reads
    /// it: `None` for HCELL_NIL, and wherever nt-hive returns an error instead of the cell
    /// (outside the bytes, unallocated, a size that is no multiple of 8).
    pub(super) fn nt_hive_cell(&self, offset: u32) -> Option<&[u8]> {
        if offset == HCELL_NIL {
            return None;
        }
        let data = self.bytes().get(BASE_BLOCK_SIZE..)?;
        let start = offset as usize;
        let size = i32::from_le_bytes(data.get(start..start.checked_add(4)?)?.try_into().ok()?);
        if size > 0 {
            return None;
        }
        let size = size.unsigned_abs() as usize;
        if !size.is_multiple_of(8) {
            return None;
        }
        let length = size.checked_sub(4)?;
        data.get(start + 4..(start + 4).checked_add(length)?)
    }

    /// Checks the subkey list of the key node at `node` (an offset in the hive bytes) for
    /// HCELL_NIL items, through `ri` index roots. `Err` says what is wrong and where.
    pub(super) fn check_subkey_list(&self, node: usize) -> Result<(), String> {
        let Some(list_offset) = u32_at(self.bytes(), node + NK_SUBKEYS_LIST) else {
            return Ok(());
        };
        let Some(list) = self.nt_hive_cell(list_offset) else {
            return Ok(());
        };
        match list.get(..2) {
            Some(b"ri") => {
                let Some(items) = list_items(list, 4) else {
                    return Ok(());
                };
                let mut seen = HashSet::new();
                for (index, item) in items.enumerate() {
                    if item == HCELL_NIL {
                        return Err(nil_item("index root", list_offset, index));
                    }
                    // Windows never shares a list between two items. A hive that does would
                    // make every walk of the key visit the same list again and again (65,535
                    // items times 65,535 keys from a hive of under 1 MB).
                    if !seen.insert(item) {
                        return Err(format!(
                            "the index root at offset {:#010x} lists the subkey list at offset {:#010x} twice",
                            absolute(list_offset),
                            absolute(item)
                        ));
                    }
                    let Some(leaf) = self.nt_hive_cell(item) else {
                        continue;
                    };
                    if !matches!(leaf.get(..2), Some(b"lf" | b"lh" | b"li")) {
                        continue;
                    }
                    check_leaf(leaf, item)?;
                }
                Ok(())
            }
            Some(b"lf" | b"lh" | b"li") => check_leaf(list, list_offset),
            _ => Ok(()),
        }
    }

    /// Checks the value list of the key node at `node` (an offset in the hive bytes) for
    /// HCELL_NIL items.
    pub(super) fn check_value_list(&self, node: usize) -> Result<(), String> {
        let (Some(count), Some(list_offset)) = (
            u32_at(self.bytes(), node + NK_VALUES_COUNT),
            u32_at(self.bytes(), node + NK_VALUES_LIST),
        ) else {
            return Ok(());
        };
        let Some(list) = self.nt_hive_cell(list_offset) else {
            return Ok(());
        };
        // nt-hive refuses a list shorter than its count before reading any item.
        let Some(items) = (count as usize)
            .checked_mul(4)
            .and_then(|length| list.get(..length))
        else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for (index, item) in items.chunks_exact(4).enumerate() {
            let item = u32::from_le_bytes([item[0], item[1], item[2], item[3]]);
            if item == HCELL_NIL {
                return Err(format!(
                    "the value list at offset {:#010x} gives no cell for value {} of {count} (offset 0xffffffff)",
                    absolute(list_offset),
                    index + 1
                ));
            }
            // A value listed twice would be read twice: Windows never does it, and a hostile
            // list that names one large value many times would multiply the memory read.
            if !seen.insert(item) {
                return Err(format!(
                    "the value list at offset {:#010x} lists the value at offset {:#010x} twice",
                    absolute(list_offset),
                    absolute(item)
                ));
            }
        }
        Ok(())
    }
}

/// The offsets in a subkey list, `stride` bytes apart: `None` when nt-hive would refuse the list
/// for a count that does not fit.
fn list_items(list: &[u8], stride: usize) -> Option<impl Iterator<Item = u32> + '_> {
    let count = usize::from(u16_at(list, 2)?);
    let items = list.get(4..4 + count * stride)?;
    Some(
        items
            .chunks_exact(stride)
            .map(|item| u32::from_le_bytes([item[0], item[1], item[2], item[3]])),
    )
}

/// Checks an `lf`, `lh` or `li` list at `offset` for key-node items of HCELL_NIL.
fn check_leaf(list: &[u8], offset: u32) -> Result<(), String> {
    let stride = if list.starts_with(b"li") { 4 } else { 8 };
    let Some(items) = list_items(list, stride) else {
        return Ok(());
    };
    for (index, item) in items.enumerate() {
        if item == HCELL_NIL {
            return Err(nil_item("subkey list", offset, index));
        }
    }
    Ok(())
}

/// An entry of a subkey list whose key node does not link back to the key holding the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Unlinked {
    /// The entry's key node, as a cell offset relative to the hive bins.
    subkey: u32,
    /// What the node's parent field holds (a cell offset relative to the hive bins).
    named: u32,
    /// The entry is the key holding the list: a loop.
    itself: bool,
}

impl Unlinked {
    /// Says which entry of `key`'s subkey list it is and where its parent link points instead.
    pub(super) fn describe(&self, key: &str) -> String {
        format!(
            "the subkey list of {key} lists the key node at offset {:#010x}{}, whose parent link names the key at {:#010x} instead",
            absolute(self.subkey),
            if self.itself { " (the key itself)" } else { "" },
            absolute(self.named)
        )
    }
}

fn nil_item(what: &str, offset: u32, index: usize) -> String {
    format!(
        "the {what} at offset {:#010x} gives no cell for its item {} (offset 0xffffffff)",
        absolute(offset),
        index + 1
    )
}
