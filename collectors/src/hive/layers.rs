//! Reads the layered-key marks of a differencing hive: what a key node or value of one layer
//! says about the keys and values of the layers below it, which the bundle does not have.
//!
//! Windows 10 1607 and later build the registry of a container or an application silo from a
//! stack of hives: each differencing hive holds only what its layer changed. A key node of such
//! a hive carries a "layer semantics" field (the low two bits of the byte at offset 0x0D, in the
//! key node's former access-bits field) and a value a tombstone flag (0x0002 of its flags):
//!
//! | semantics | the key in the merged view |
//! |---|---|
//! | 0 | this layer's values and subkeys over those of the layers below |
//! | 1, tombstone | deleted: no values, no subkeys, whatever the layers below hold |
//! | 2, supersede local | this layer's values only; its subkeys still merge with those below |
//! | 3, supersede tree | this layer's key and subtree only (its subkeys carry 3 or 1 too) |
//!
//! A tombstone value is deleted whatever the layers below hold. So in a differencing hive a key
//! or value it does not hold is absent only where a tombstone or a superseding key says so;
//! elsewhere it is unknown. nt-hive does not read these fields; they are read here by hand from
//! the record bytes (format: M. Suhanov, "Windows registry file format specification", its
//! sections on layered keys and on key value flags).

use nt_hive::KeyNode;

use super::HiveFile;
use crate::error::EvidenceError;

/// Offset in a key node (from its `nk` signature) of the layered-key bit fields.
const NK_LAYER_BITS: usize = 0x0D;

/// The layer semantics bits of [`NK_LAYER_BITS`].
const LAYER_SEMANTICS_MASK: u8 = 0x03;

/// The flag of a tombstone value, in a value record's flags.
pub(super) const VALUE_TOMBSTONE: u16 = 0x0002;

/// What a key node of a differencing hive says of the same key in the layers below.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LayerSemantics {
    /// Merged with the layers below.
    Merged,
    /// Deleted in this layer.
    Tombstone,
    /// Its values replace those below; its subkeys merge.
    SupersedeLocal,
    /// The key and its subtree replace those below.
    SupersedeTree,
}

impl LayerSemantics {
    fn from_bits(bits: u8) -> LayerSemantics {
        match bits & LAYER_SEMANTICS_MASK {
            0 => LayerSemantics::Merged,
            1 => LayerSemantics::Tombstone,
            2 => LayerSemantics::SupersedeLocal,
            _ => LayerSemantics::SupersedeTree,
        }
    }

    /// Whether the values this layer holds for the key are all the key's values.
    pub(super) fn values_complete(self) -> bool {
        !matches!(self, LayerSemantics::Merged)
    }

    /// Whether the subkeys this layer holds for the key are all the key's subkeys.
    pub(super) fn subkeys_complete(self) -> bool {
        matches!(
            self,
            LayerSemantics::Tombstone | LayerSemantics::SupersedeTree
        )
    }
}

impl HiveFile {
    /// The layer semantics of `key` in a differencing hive; `None` in any other hive. A key node
    /// that cannot be located reads as merged, the answer that claims the least.
    pub(super) fn layer_of(&self, key: &KeyNode<&[u8]>) -> Option<LayerSemantics> {
        if !self.layered {
            return None;
        }
        let bits = self
            .key_node_offset(key)
            .and_then(|node| self.bytes().get(node + NK_LAYER_BITS).copied())
            .unwrap_or(0);
        Some(LayerSemantics::from_bits(bits))
    }

    /// Whether `key` is deleted by this layer (a tombstone key node of a differencing hive).
    pub(super) fn is_tombstone_key(&self, key: &KeyNode<&[u8]>) -> bool {
        self.layer_of(key) == Some(LayerSemantics::Tombstone)
    }

    /// Whether `value` is deleted by this layer (a tombstone value of a differencing hive).
    pub(super) fn is_tombstone_value(&self, value: &nt_hive::KeyValue<&[u8]>) -> bool {
        self.layered
            && value
                .name()
                .ok()
                .and_then(|name| self.value_header(&name))
                .is_some_and(|header| header.flags() & VALUE_TOMBSTONE != 0)
    }

    /// `Ok` when the subkeys `key` lists are all its subkeys, so that a name missing from the
    /// list is absent: in any hive but a differencing one, and there under a tombstone or a
    /// superseding tree. Otherwise the error for the read at `place`.
    pub(super) fn subkeys_known(
        &self,
        key: &KeyNode<&[u8]>,
        place: impl FnOnce() -> String,
    ) -> Result<(), EvidenceError> {
        self.known_unless(key, LayerSemantics::subkeys_complete, place)
    }

    /// `Ok` when `key`'s node alone makes the key (its values, its last-write time): in any hive
    /// but a differencing one, and there on a key that a tombstone or a superseding key node
    /// cuts off from the layers below. Otherwise the error for the read at `place`.
    pub(super) fn node_alone_known(
        &self,
        key: &KeyNode<&[u8]>,
        place: impl FnOnce() -> String,
    ) -> Result<(), EvidenceError> {
        self.known_unless(key, LayerSemantics::values_complete, place)
    }

    /// `Ok` unless `key` is a key node of a differencing hive whose layer semantics do not make
    /// `complete`; then the not-in-layer error for the read at `place`.
    fn known_unless(
        &self,
        key: &KeyNode<&[u8]>,
        complete: fn(LayerSemantics) -> bool,
        place: impl FnOnce() -> String,
    ) -> Result<(), EvidenceError> {
        match self.layer_of(key) {
            Some(layer) if !complete(layer) => Err(EvidenceError::NotInLayer {
                path: self.path.clone(),
                place: place(),
            }),
            _ => Ok(()),
        }
    }
}
