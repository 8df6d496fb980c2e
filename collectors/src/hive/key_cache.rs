//! Holds a hive's bytes together with the key nodes its reads have found, so that each key path
//! is walked from the root once per file rather than once per read.
//!
//! nt-hive hands out a key node only as a borrow of its `Hive`, which borrows the bytes, and
//! offers no way to get a node back from an offset. Keeping found nodes therefore means keeping
//! the bytes, the `Hive` and the nodes in one value; `self_cell` builds that without `unsafe`
//! here (two cells: the bytes with the `Hive`, then that pair with the nodes).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nt_hive::{Hive, KeyNode};

use super::HiveBytes;

/// nt-hive's view of the bytes, `None` when it refuses them (`Hive::without_validation`
/// checks only their size, which opening a hive has checked already).
type HiveView<'a> = Option<Hive<&'a [u8]>>;

self_cell::self_cell!(
    /// The bytes and nt-hive's view of them.
    struct MappedHive {
        owner: HiveBytes,
        #[covariant]
        dependent: HiveView,
    }
);

/// A key node as a cached path leads to it, with the key as reports name it.
pub(super) type FoundKey<'a> = (KeyNode<'a, &'a [u8]>, String);

/// The key nodes found so far in one hive.
pub(super) struct KeyNodes<'a> {
    /// nt-hive's view of the bytes.
    pub(super) hive: Option<&'a Hive<&'a [u8]>>,
    /// By path (the components as the read gave them, joined by `\`; the root is ""): the
    /// node, or `None` for a path that does not exist. Damage is never kept: a read that meets
    /// it walks again and reports it again.
    found: Mutex<HashMap<Box<str>, Option<FoundKey<'a>>>>,
}

self_cell::self_cell!(
    /// A hive's bytes with nt-hive's view of them and the key nodes found so far.
    pub(super) struct HiveData {
        owner: MappedHive,
        #[not_covariant]
        dependent: KeyNodes,
    }
);

impl HiveData {
    /// Holds `bytes`; no key is found yet.
    pub(super) fn hold(bytes: HiveBytes) -> HiveData {
        let mapped = MappedHive::new(bytes, |bytes| Hive::without_validation(&bytes[..]).ok());
        HiveData::new(mapped, |mapped| KeyNodes {
            hive: mapped.borrow_dependent().as_ref(),
            found: Mutex::new(HashMap::new()),
        })
    }

    /// The hive's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        self.borrow_owner().borrow_owner()
    }

    /// Runs `read` with the hive's view and the nodes found so far.
    pub(super) fn with_nodes<R>(&self, read: impl for<'a, 'b> FnOnce(&'b KeyNodes<'a>) -> R) -> R {
        self.with_dependent(|_, nodes| read(nodes))
    }
}

impl<'a> KeyNodes<'a> {
    fn found(&self) -> MutexGuard<'_, HashMap<Box<str>, Option<FoundKey<'a>>>> {
        self.found.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The longest prefix of a path that was looked up before. `path` is the components joined
    /// by `\` and `ends[i]` the end in `path` of the first `i + 1` components. Returns how many
    /// components the prefix spans and what it led to; `None` when no prefix is known.
    pub(super) fn longest_known(
        &self,
        path: &str,
        ends: &[usize],
    ) -> Option<(usize, Option<FoundKey<'a>>)> {
        let found = self.found();
        (0..ends.len()).rev().find_map(|index| {
            found
                .get(&path[..ends[index]])
                .map(|known| (index + 1, known.clone()))
        })
    }

    /// Keeps what the path (components joined by `\`) leads to: a node, or `None` when it does
    /// not exist.
    pub(super) fn remember(&self, path: &str, key: Option<FoundKey<'a>>) {
        self.found().insert(path.into(), key);
    }
}
