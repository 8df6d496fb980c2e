//! Confirms a lookup that finds nothing before it counts as "absent".
//!
//! nt-hive finds a subkey by binary search over its parent's subkey list, which Windows keeps
//! sorted by upper-cased name. The search misses a key that is stored but out of order (only
//! damage or a hostile hive stores one; Windows checks the order when it loads a hive and
//! repairs or drops such keys), and a key or value whose stored UTF-16 name is broken (a lone
//! surrogate): listings give such a name with U+FFFD in its place, which no lookup can spell. A
//! miss in a list that is in order and holds no broken name is final; any other miss is checked
//! against the list name by name, so that a listed key never reads back as absent. A search
//! that meets a damaged entry is likewise retried name by name over the readable entries: a key
//! found there exists whatever the damaged entry holds. A list with an entry whose key node
//! does not link back to the list's key (a loop or a misplaced entry, which Windows checks for
//! when it loads a hive) may hold that entry in place of any name: a miss in it is damage.

use std::cmp::Ordering;

use nt_hive::{KeyNode, KeyValue, NtHiveNameString};

use super::lists::Unlinked;
use super::HiveFile;

/// What a subkey list holds that a binary search can miss, found once per list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ListShape {
    /// Every name sorts after the one before it, as nt-hive's search compares them.
    in_order: bool,
    /// Some name's stored UTF-16 is broken, so it reads back with U+FFFD.
    broken_names: bool,
    /// The first readable entry whose key node does not link back to the key holding the list
    /// (a loop or a misplaced entry): a search may have met it in place of the key searched for.
    unlinked: Option<Unlinked>,
}

/// An entry of a subkey list, or `None` when it or its name cannot be read.
fn readable<'h>(entry: nt_hive::Result<KeyNode<'h, &'h [u8]>>) -> Option<KeyNode<'h, &'h [u8]>> {
    entry.ok().filter(|node| node.name().is_ok())
}

/// Whether a stored name holds UTF-16 that does not decode (a lone surrogate).
fn is_broken(name: &NtHiveNameString<'_>) -> bool {
    match name {
        NtHiveNameString::Latin1(_) => false,
        NtHiveNameString::Utf16LE(bytes) => char::decode_utf16(
            bytes
                .chunks_exact(2)
                .map(|pair| u16::from_le_bytes([pair[0], pair[1]])),
        )
        .any(|unit| unit.is_err()),
    }
}

/// Whether `stored`, a broken name as listings give it, is the name `wanted` (a name with
/// U+FFFD, as a listing gave it), without regard to case.
fn broken_name_matches(stored: &NtHiveNameString<'_>, wanted: &str) -> bool {
    let shown = stored.to_string_lossy();
    shown == wanted || shown.to_lowercase() == wanted.to_lowercase()
}

impl HiveFile {
    /// The shape of `key`'s subkey list, from the cache or read once.
    fn list_shape(&self, key: &KeyNode<&[u8]>) -> Result<ListShape, String> {
        let node = self.key_node_offset(key);
        let shapes = || {
            self.subkey_list_shapes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(shape) = node.and_then(|node| shapes().get(&node).copied()) {
            return Ok(shape);
        }
        let mut shape = ListShape {
            in_order: true,
            broken_names: false,
            unlinked: None,
        };
        if let Some(subkeys) = key.subkeys() {
            // A damaged entry is passed over: the search touches only the entries it needs,
            // and a miss that never met the damaged one stands (the names around it are in
            // order, so it cannot hold the name searched for).
            let mut previous: Option<KeyNode<&[u8]>> = None;
            for subkey in subkeys.map_err(|error| error.to_string())? {
                let Some(subkey) = readable(subkey) else {
                    previous = None;
                    continue;
                };
                let name = subkey.name().map_err(|error| error.to_string())?;
                if let Some(before) = previous.as_ref().and_then(|before| before.name().ok()) {
                    if before.cmp(&name) != Ordering::Less {
                        shape.in_order = false;
                    }
                }
                shape.broken_names |= is_broken(&name);
                if shape.unlinked.is_none() {
                    shape.unlinked = node.and_then(|node| self.unlinked_subkey(&subkey, node));
                }
                previous = Some(subkey.clone());
            }
        }
        if let Some(node) = node {
            shapes().insert(node, shape);
        }
        Ok(shape)
    }

    /// After nt-hive's search found no subkey `name` under `key` (shown in messages as `shown`):
    /// the subkey after all, when it is stored under a broken name that `name` spells as
    /// listings give it; `Ok(None)` when the list holds no such key; an error when the key is
    /// stored out of order, or when the list holds an entry that does not link back to `key`,
    /// where what Windows reads cannot be known.
    pub(super) fn confirm_missing_subkey<'h>(
        &self,
        key: &KeyNode<'h, &'h [u8]>,
        shown: &str,
        name: &str,
    ) -> Result<Option<KeyNode<'h, &'h [u8]>>, String> {
        let shape = self.list_shape(key)?;
        let wants_broken = name.contains('\u{fffd}');
        // An entry that does not link back is damage in place of whatever key Windows wrote
        // there, which may be the one searched for.
        let unlinked = |shape: ListShape| {
            match shape.unlinked {
            Some(unlinked) => Err(format!(
                "{}: the list is damaged (a loop or a misplaced entry), so whether {name:?} exists cannot be told",
                unlinked.describe(shown)
            )),
            None => Ok(None),
        }
        };
        if shape.in_order && !(wants_broken && shape.broken_names) {
            return unlinked(shape);
        }
        if !shape.in_order {
            if let Some(stored) = self.find_readable_subkey(key, |stored| stored == name) {
                let stored = stored.name().map_err(|error| error.to_string())?;
                return Err(format!(
                    "the subkeys are not in the order Windows keeps them: {:?} is stored but a lookup cannot find it (Windows repairs or drops keys out of order when it loads a hive, so what it reads there cannot be known)",
                    stored.to_string_lossy()
                ));
            }
        }
        match wants_broken
            .then(|| {
                self.find_readable_subkey(key, |stored| {
                    is_broken(stored) && broken_name_matches(stored, name)
                })
            })
            .flatten()
        {
            Some(found) => Ok(Some(found)),
            None => unlinked(shape),
        }
    }

    /// The first readable entry of `key`'s subkey list whose stored name `matches`, searched
    /// name by name. After nt-hive's search for a subkey met a damaged entry, a key found this
    /// way exists whatever the damaged entries hold; when none is found, the damaged entry
    /// might be the one, and the caller reports the damage.
    pub(super) fn find_readable_subkey<'h>(
        &self,
        key: &KeyNode<'h, &'h [u8]>,
        matches: impl Fn(&NtHiveNameString<'_>) -> bool,
    ) -> Option<KeyNode<'h, &'h [u8]>> {
        key.subkeys()?
            .ok()?
            .filter_map(readable)
            .find(|subkey| subkey.name().is_ok_and(|stored| matches(&stored)))
    }

    /// After nt-hive found no value `name` in `key`: the value after all, when `name` spells a
    /// broken stored name as listings give it.
    pub(super) fn find_value_by_shown_name<'h>(
        &self,
        key: &KeyNode<'h, &'h [u8]>,
        name: &str,
    ) -> Result<Option<KeyValue<'h, &'h [u8]>>, String> {
        if !name.contains('\u{fffd}') {
            return Ok(None);
        }
        let Some(values) = key.values() else {
            return Ok(None);
        };
        for value in values.map_err(|error| error.to_string())? {
            let value = value.map_err(|error| error.to_string())?;
            let stored = value.name().map_err(|error| error.to_string())?;
            if is_broken(&stored) && broken_name_matches(&stored, name) {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

/// Drops a name listed again right after itself (without regard to case), keeping the first.
/// Windows keeps subkey names unique and sorted, so a repeat sits next to its twin: a damaged
/// list holding two keys of one name (yarp's `DuplicateSubkeysHive`) would otherwise show the
/// name twice, while a read of it finds one key.
pub(super) fn drop_repeated_names(names: &mut Vec<String>) {
    names.dedup_by(|later, earlier| {
        if later.is_ascii() && earlier.is_ascii() {
            later.eq_ignore_ascii_case(earlier)
        } else {
            later.to_uppercase() == earlier.to_uppercase()
        }
    });
}
