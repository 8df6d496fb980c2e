//! Turns a hive built from `.reg` text into a differencing hive, the kind a Windows container
//! image layer holds: the base block's layered-keys flag, and the layer marks of key nodes and
//! values (M. Suhanov, "Windows registry file format specification": base block flags, layered
//! keys, key value flags).

use crate::dirty::{fix_base_block_checksum, value_record};

/// Offset of the flags in a base block.
const BASE_BLOCK_FLAGS: usize = 0x90;
/// Offset of the layered-key bit fields in a key node, from its `nk` signature.
const NK_LAYER_BITS: usize = 0x0D;
/// Offsets of the stored name length and the name in a key node.
const NK_NAME_LENGTH: usize = 0x48;
const NK_NAME: usize = 0x4C;
/// Offset of the flags in a value record, and the tombstone flag.
const VK_FLAGS: usize = 0x10;
const VK_TOMBSTONE: u16 = 0x0002;

/// What a key node of a layer says of the same key in the layers below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyLayer {
    /// Merged with the layers below (0).
    Merged = 0,
    /// Deleted (1, IsTombstone).
    Tombstone = 1,
    /// Its values replace those below (2, IsSupersedeLocal).
    SupersedeLocal = 2,
    /// The key and its subtree replace those below (3, IsSupersedeTree).
    SupersedeTree = 3,
}

/// Sets the base block's layered-keys flag (0x2), as a differencing hive has it, and fixes
/// the checksum.
pub fn mark_differencing(hive: &mut [u8]) {
    let flags = u32::from_le_bytes(
        hive[BASE_BLOCK_FLAGS..BASE_BLOCK_FLAGS + 4]
            .try_into()
            .unwrap(),
    );
    hive[BASE_BLOCK_FLAGS..BASE_BLOCK_FLAGS + 4].copy_from_slice(&(flags | 0x2).to_le_bytes());
    fix_base_block_checksum(hive);
}

/// The absolute offset of the `nk` signature of the key node named `name` (an ASCII name),
/// which must be unique in the hive; panics otherwise.
pub fn key_record(bytes: &[u8], name: &str) -> usize {
    let found: Vec<usize> = (0..bytes.len().saturating_sub(NK_NAME + name.len()))
        .filter(|&at| {
            bytes[at..at + 2] == *b"nk"
                && usize::from(u16::from_le_bytes([
                    bytes[at + NK_NAME_LENGTH],
                    bytes[at + NK_NAME_LENGTH + 1],
                ])) == name.len()
                && bytes[at + NK_NAME..at + NK_NAME + name.len()] == *name.as_bytes()
        })
        .collect();
    assert_eq!(found.len(), 1, "key node {name}: {found:?}");
    found[0]
}

/// Sets the layer semantics of the key node named `name` (unique in the hive).
pub fn set_key_layer(hive: &mut [u8], name: &str, layer: KeyLayer) {
    let at = key_record(hive, name) + NK_LAYER_BITS;
    hive[at] = (hive[at] & !0x03) | layer as u8;
}

/// Marks the value named `name` (unique in the hive) as a tombstone, with the type, size and
/// data offset a tombstone value has (`REG_NONE`, 0, `0xFFFFFFFF`).
pub fn set_value_tombstone(hive: &mut [u8], name: &str) {
    let record = value_record(hive, name);
    hive[record + 4..record + 8].copy_from_slice(&0u32.to_le_bytes());
    hive[record + 8..record + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    hive[record + 12..record + 16].copy_from_slice(&0u32.to_le_bytes());
    let flags = u16::from_le_bytes([hive[record + VK_FLAGS], hive[record + VK_FLAGS + 1]]);
    hive[record + VK_FLAGS..record + VK_FLAGS + 2]
        .copy_from_slice(&(flags | VK_TOMBSTONE).to_le_bytes());
}
