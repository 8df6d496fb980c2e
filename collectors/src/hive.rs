//! Opens one hive file over a memory map, recovers it from its transaction logs when dirty,
//! decides its type from the root key layout, and answers key and value lookups through nt-hive.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nt_hive::{Hive, KeyNode, NtHiveError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{EvidenceError, Notice, NoticeLevel};
use crate::recovery::{self, TransactionLogInput};
use crate::value::RegValue;

mod base_block;
mod cells;
mod key_cache;
mod layers;
mod lists;
mod lookup;
mod profile;

pub use base_block::{
    base_block_checksum, BaseBlock, Truncation, BASE_BLOCK_SIZE, DIFFERENCING_HIVE_CODE,
    TRUNCATED_HIVE_CODE,
};

/// What follows the description of a subkey list entry that does not link back.
const UNLINKED_CONSEQUENCE: &str = "the list is damaged (a loop or a misplaced entry), and Windows checks these links when it loads a hive, so what it reads there cannot be known";

/// What a hive holds, decided from the layout under its root key.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HiveKind {
    /// `HKLM\SYSTEM`: `Select` plus `ControlSet00N`.
    System,
    /// `HKLM\SOFTWARE`: `Microsoft\Windows NT\CurrentVersion` with the product values.
    Software,
    /// A `REG SAVE HKCU\Software`: the Software subtree of one user.
    HkcuSoftware,
    /// A whole user profile hive (`NTUSER.DAT`): `Software` plus `Control Panel` or `Environment`.
    Ntuser,
    /// A user profile hive of no interactive user: the default profile (`config\DEFAULT`), the
    /// new-profile template (`Users\Default`) or a service account's (`config\systemprofile`,
    /// `ServiceProfiles\*`). Not read as `HKCU`.
    AccountProfile,
    /// `HKLM\SAM`.
    Sam,
    /// `HKLM\SECURITY`.
    Security,
    /// Anything else.
    Other,
}

impl HiveKind {
    /// The registry path the hive's root stands for, when it has one.
    pub fn mount_path(self) -> Option<&'static str> {
        match self {
            HiveKind::System => Some(r"HKLM\SYSTEM"),
            HiveKind::Software => Some(r"HKLM\SOFTWARE"),
            HiveKind::HkcuSoftware => Some(r"HKCU\Software"),
            HiveKind::Ntuser => Some("HKCU"),
            HiveKind::AccountProfile => None,
            HiveKind::Sam => Some(r"HKLM\SAM"),
            HiveKind::Security => Some(r"HKLM\SECURITY"),
            HiveKind::Other => None,
        }
    }

    /// Whether a host can hold only one hive of this kind.
    pub fn is_machine_hive(self) -> bool {
        matches!(
            self,
            HiveKind::System | HiveKind::Software | HiveKind::Sam | HiveKind::Security
        )
    }
}

/// Whether the hive was written cleanly, and what was done about it if not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HiveState {
    /// The sequence numbers match and the checksum is good.
    Clean,
    /// The hive is dirty and was read as it is, because no usable log sits beside it.
    Dirty {
        /// Why it counts as dirty.
        reasons: Vec<String>,
    },
    /// The hive was dirty and has been recovered in memory from its transaction logs.
    Recovered {
        /// Why it counted as dirty.
        reasons: Vec<String>,
        /// The logs that were applied, in the order they were applied.
        logs: Vec<String>,
        /// How many log entries (new format) or dirty pages (old format) were written back.
        applied: u32,
    },
}

/// The bytes a hive is read from: the file itself, or a recovered copy of it.
pub enum HiveBytes {
    /// The file, memory-mapped read-only.
    Mapped(memmap2::Mmap),
    /// A copy in memory, after transaction logs were applied.
    Owned(Vec<u8>),
}

impl Deref for HiveBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            HiveBytes::Mapped(map) => map,
            HiveBytes::Owned(bytes) => bytes,
        }
    }
}

/// One opened hive file.
pub struct HiveFile {
    path: PathBuf,
    /// The bytes, with the key nodes reads have found in them.
    data: key_cache::HiveData,
    /// The base block's minor version, which decides how big values are stored.
    minor_version: u32,
    /// Where the hive bins the base block declares end, within `bytes`.
    bins_end: usize,
    kind: HiveKind,
    state: HiveState,
    notices: Vec<Notice>,
    /// The key nodes (offsets in `bytes`) whose subkey lists were found free of offsets that
    /// nt-hive asserts on, so that a path walk checks each list once.
    subkey_lists_checked: Mutex<HashSet<usize>>,
    /// The same for value lists.
    value_lists_checked: Mutex<HashSet<usize>>,
    /// Set when the file is shorter than its base block declares.
    truncation: Option<Truncation>,
    /// Set on a differencing hive (see the `layers` module): a key or value it does not hold
    /// is unknown rather than absent, except where its layer marks say otherwise.
    layered: bool,
    /// By key node: the shape of its subkey list, read when a lookup in it first finds nothing.
    subkey_list_shapes: Mutex<HashMap<usize, lookup::ListShape>>,
}

impl std::fmt::Debug for HiveFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HiveFile")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl HiveFile {
    /// Opens `path` with a read-only memory map and, when it is dirty, applies `logs`.
    ///
    /// The file is never written. Recovery works on a copy in memory.
    pub fn open(path: &Path, logs: &[PathBuf]) -> Result<HiveFile, EvidenceError> {
        let io_error = |source| EvidenceError::Io {
            path: path.to_path_buf(),
            error: source,
        };
        // Only a regular file: a FIFO or a device in its place is refused before it is read.
        let file = crate::detect::open_regular(path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        if len == 0 {
            return Err(EvidenceError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: the map is read-only; evidence files are not expected to change during a
        // scan, and a change would only give wrong data, which the parser bounds-checks.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_error)?;
        let mut log_inputs = Vec::new();
        for log in logs {
            match crate::detect::read_regular(log) {
                Ok(bytes) => log_inputs.push(TransactionLogInput {
                    path: log.clone(),
                    bytes,
                }),
                Err(source) => {
                    let error = EvidenceError::Io {
                        path: log.clone(),
                        error: source,
                    };
                    log_inputs.clear();
                    return Self::from_hive_bytes(path, HiveBytes::Mapped(map), &[]).map(
                        |mut hive| {
                            hive.notices
                                .push(error.to_notice(crate::error::NoticeLevel::Warning));
                            hive
                        },
                    );
                }
            }
        }
        Self::from_hive_bytes(path, HiveBytes::Mapped(map), &log_inputs)
    }

    /// Opens a hive held in memory; `path` is used for naming only. Used by tests and by
    /// callers that already hold the bytes.
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        logs: &[TransactionLogInput],
    ) -> Result<HiveFile, EvidenceError> {
        if bytes.is_empty() {
            return Err(EvidenceError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        Self::from_hive_bytes(path, HiveBytes::Owned(bytes), logs)
    }

    fn from_hive_bytes(
        path: &Path,
        bytes: HiveBytes,
        logs: &[TransactionLogInput],
    ) -> Result<HiveFile, EvidenceError> {
        if !bytes.starts_with(b"regf") {
            return Err(EvidenceError::NotAHive {
                path: path.to_path_buf(),
                detail: format!(
                    "the file starts with {:?} instead of the signature \"regf\"",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(4)])
                ),
            });
        }
        let truncated = |declared: u64| EvidenceError::TruncatedHive {
            path: path.to_path_buf(),
            declared,
            available: bytes.len() as u64,
        };
        let Some(base) = BaseBlock::parse(&bytes) else {
            return Err(truncated(BASE_BLOCK_SIZE as u64));
        };
        if base.file_type != 0 {
            return Err(EvidenceError::NotAHive {
                path: path.to_path_buf(),
                detail: format!(
                    "the base block has file type {}, which marks a transaction log, not a primary hive",
                    base.file_type
                ),
            });
        }
        // Measured on the file itself: recovery pads a short primary with zeros up to the size
        // its logs declare, which must not hide that the file was cut short.
        let file_len = bytes.len() as u64;
        let declared = BASE_BLOCK_SIZE as u64 + u64::from(base.hive_bins_data_size);
        let mut notices = Vec::new();
        let mut reasons = Vec::new();
        if !base.sequences_match() {
            reasons.push(format!(
                "sequence numbers differ ({} != {})",
                base.primary_sequence, base.secondary_sequence
            ));
        }
        if !base.checksum_ok() {
            reasons.push(format!(
                "base block checksum is {:#010x} but the bytes give {:#010x}",
                base.stored_checksum, base.computed_checksum
            ));
        }
        let (bytes, state) = if reasons.is_empty() {
            (bytes, HiveState::Clean)
        } else if logs.is_empty() {
            notices.push(Notice::warning(
                "hiveward::hive::dirty",
                path,
                format!(
                    "{}: the hive is dirty ({}) and no .LOG1/.LOG2 sits beside it; it was read as it is, so recent changes may be missing",
                    path.display(),
                    reasons.join("; ")
                ),
            ));
            (bytes, HiveState::Dirty { reasons })
        } else {
            match recovery::recover(&bytes, logs) {
                Ok(recovered) => {
                    notices.extend(recovered.skipped.iter().map(|skip| {
                        Notice::note(
                            "hiveward::hive::log_skipped",
                            Some(&skip.path),
                            format!("{}: {}", skip.path.display(), skip.reason),
                        )
                    }));
                    notices.push(Notice::note(
                        "hiveward::hive::recovered",
                        Some(path),
                        format!(
                            "{}: dirty hive recovered in memory from {}",
                            path.display(),
                            recovered
                                .applied_logs
                                .iter()
                                .map(|log| log.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    (
                        HiveBytes::Owned(recovered.bytes),
                        HiveState::Recovered {
                            reasons,
                            logs: recovered
                                .applied_logs
                                .iter()
                                .map(|log| crate::path_text(log))
                                .collect(),
                            applied: recovered.applied_units,
                        },
                    )
                }
                Err(error) => {
                    notices.push(Notice::warning(
                        "hiveward::hive::log_not_applied",
                        path,
                        format!(
                            "{}: the hive is dirty ({}) and its transaction logs could not be applied ({error}); it was read as it is",
                            path.display(),
                            reasons.join("; ")
                        ),
                    ));
                    (bytes, HiveState::Dirty { reasons })
                }
            }
        };
        // A copy cut short is read as far as it goes: a cell inside the part present reads as
        // usual, and a read that needs a cell past the end fails as damage naming the file,
        // never as an absent key or value.
        let truncation = (declared > file_len).then_some(Truncation {
            declared,
            available: file_len,
        });
        if let Some(cut) = &truncation {
            notices.push(Notice::warning(
                TRUNCATED_HIVE_CODE,
                path,
                format!(
                    "{}: the hive is truncated: it needs {} bytes (base block and hive bins) but the file has {}; the part present was read{}, and keys and values stored past its end cannot be",
                    path.display(),
                    cut.declared,
                    cut.available,
                    if matches!(state, HiveState::Recovered { .. }) {
                        " with the pages its transaction logs supply"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let layered = base.is_differencing();
        if layered {
            notices.push(Notice::warning(
                DIFFERENCING_HIVE_CODE,
                path,
                format!(
                    "{}: a differencing hive (a layer of a Windows container image or application silo): it holds only what its layer changed over the hive below it, which is not in the bundle; the keys and values it holds are read, and a key or value it does not hold is unknown rather than absent",
                    path.display()
                ),
            ));
        }
        // Recovery may have rewritten the base block: take the version from the bytes read.
        let minor_version =
            BaseBlock::parse(&bytes).map_or(base.minor_version, |block| block.minor_version);
        let bins_end = usize::try_from(declared).map_or(bytes.len(), |end| end.min(bytes.len()));
        let mut hive = HiveFile {
            path: path.to_path_buf(),
            data: key_cache::HiveData::hold(bytes),
            minor_version,
            bins_end,
            kind: HiveKind::Other,
            state,
            notices,
            subkey_lists_checked: Mutex::new(HashSet::new()),
            value_lists_checked: Mutex::new(HashSet::new()),
            truncation,
            layered,
            subkey_list_shapes: Mutex::new(HashMap::new()),
        };
        let detected = match (hive.detect_kind(), &hive.truncation) {
            (Ok(kind), _) => kind,
            // Not even the root key lies in the part present: nothing can be read.
            (Err(_), Some(cut)) => {
                return Err(EvidenceError::TruncatedHive {
                    path: path.to_path_buf(),
                    declared: cut.declared,
                    available: cut.available,
                })
            }
            (Err(error), None) => return Err(error),
        };
        hive.kind = match detected {
            HiveKind::Ntuser if profile::is_account_profile(path) => HiveKind::AccountProfile,
            kind => kind,
        };
        Ok(hive)
    }

    /// How far the file falls short of the size its base block declares, if it does. Such a
    /// hive is read as far as it goes.
    pub fn truncation(&self) -> Option<Truncation> {
        self.truncation
    }

    /// The file this hive was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hive type, from its root key layout.
    pub fn kind(&self) -> HiveKind {
        self.kind
    }

    /// Whether it was clean, dirty or recovered.
    pub fn state(&self) -> &HiveState {
        &self.state
    }

    /// Warnings and notes gathered while opening it.
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }

    fn corrupt(&self, error: NtHiveError) -> EvidenceError {
        EvidenceError::CorruptHive {
            path: self.path.clone(),
            detail: error.to_string(),
        }
    }

    /// Damage found at `place` (such as `value "ProductType" of HKLM\SYSTEM\...`). Every
    /// reader words the same damage the same way, so a problem met by two reads (the control-set
    /// comparison and the OS facts, say) is one problem and is reported once.
    fn damaged(&self, place: &str, error: impl std::fmt::Display) -> EvidenceError {
        let cut = match &self.truncation {
            Some(cut) => format!(
                " (the file is truncated: it ends at byte {} of the {} its base block declares)",
                cut.available, cut.declared
            ),
            None => String::new(),
        };
        EvidenceError::CorruptHive {
            path: self.path.clone(),
            detail: format!("{place}: {error}{cut}"),
        }
    }

    /// A key as reports name it: its mount path (`HKLM\SYSTEM`) followed by the components.
    fn key_display(&self, components: &[&str]) -> String {
        let mut parts: Vec<&str> = self
            .kind
            .mount_path()
            .map(|mount| mount.split('\\').collect())
            .unwrap_or_default();
        parts.extend(components.iter().filter(|part| !part.is_empty()));
        if parts.is_empty() {
            "the root key".to_string()
        } else {
            parts.join("\\")
        }
    }

    /// The bytes the hive is read from.
    fn bytes(&self) -> &[u8] {
        self.data.bytes()
    }

    /// Runs `read` on the key at `components` (relative to the hive root), `Ok(None)` when it
    /// does not exist. Every read of the hive goes through here: the offsets nt-hive would
    /// assert on are checked before it follows them (see the `lists` module), and any panic
    /// left in nt-hive is caught and reported as damage to this file.
    fn with_key<R>(
        &self,
        components: &[&str],
        read: impl FnOnce(&KeyNode<&[u8]>, &str) -> Result<R, EvidenceError>,
    ) -> Result<Option<R>, EvidenceError> {
        match crate::guard::isolate(|| self.with_key_unguarded(components, read)) {
            Ok(result) => result,
            Err(panic) => Err(self.damaged(
                &self.key_display(components),
                format!("the hive reader stopped on damaged data ({panic})"),
            )),
        }
    }

    fn with_key_unguarded<R>(
        &self,
        components: &[&str],
        read: impl FnOnce(&KeyNode<&[u8]>, &str) -> Result<R, EvidenceError>,
    ) -> Result<Option<R>, EvidenceError> {
        let parts: Vec<&str> = components
            .iter()
            .copied()
            .filter(|part| !part.is_empty())
            .collect();
        // The path, and where each prefix of it ends, to look the prefixes up without copies.
        let mut path = String::new();
        let mut ends = Vec::with_capacity(parts.len());
        for (index, part) in parts.iter().enumerate() {
            if index > 0 {
                path.push('\\');
            }
            path.push_str(part);
            ends.push(path.len());
        }
        self.data.with_nodes(|nodes| {
            let Some(hive) = nodes.hive else {
                return Err(match Hive::without_validation(self.bytes()) {
                    Err(error) => self.corrupt(error),
                    Ok(_) => self.damaged("the root key", "the hive reader refused the file"),
                });
            };
            // Walk on from the longest prefix a read has walked before.
            let (walked, mut key, mut shown) = match nodes.longest_known(&path, &ends) {
                Some((_, None)) => return Ok(None),
                Some((walked, Some((key, shown)))) => (walked, key, shown),
                None => {
                    // nt-hive asserts that a cell offset is not HCELL_NIL (0xffffffff); a
                    // damaged base block must not get that far.
                    if self.bytes().get(0x24..0x28) == Some(&[0xff; 4][..]) {
                        return Err(EvidenceError::CorruptHive {
                            path: self.path.clone(),
                            detail:
                                "the root key cannot be read: the base block gives no root cell"
                                    .to_string(),
                        });
                    }
                    let root =
                        hive.root_key_node()
                            .map_err(|error| EvidenceError::CorruptHive {
                                path: self.path.clone(),
                                detail: format!("the root key cannot be read: {error}"),
                            })?;
                    (0, root, self.key_display(&[]))
                }
            };
            for (index, component) in parts.iter().enumerate().skip(walked) {
                let place = || format!("key {}", self.key_display(&parts[..=index]));
                self.guard_subkey_list(&key)
                    .map_err(|detail| self.damaged(&place(), detail))?;
                let found = match key.subkey(component) {
                    None => self
                        .confirm_missing_subkey(&key, &shown, component)
                        .map_err(|detail| self.damaged(&place(), detail))?
                        .map(Ok),
                    Some(Err(error)) => Some(
                        self.find_readable_subkey(&key, |stored| stored == component)
                            .ok_or(error),
                    ),
                    found => found,
                };
                match found {
                    None => {
                        self.subkeys_known(&key, place)?;
                        nodes.remember(&path[..ends[index]], None);
                        return Ok(None);
                    }
                    // A key a layer deletes is absent, whatever the layers below hold.
                    Some(Ok(child)) if self.is_tombstone_key(&child) => {
                        nodes.remember(&path[..ends[index]], None);
                        return Ok(None);
                    }
                    Some(Ok(child)) => {
                        // One read per step: the key found must link back to the key whose
                        // list holds it, or the list is damaged and the key is not known to be
                        // there. Nothing is remembered past such a step.
                        if let Some(unlinked) = self
                            .key_node_offset(&key)
                            .and_then(|parent| self.unlinked_subkey(&child, parent))
                        {
                            return Err(self.damaged(
                                &place(),
                                format!("{}: {UNLINKED_CONSEQUENCE}", unlinked.describe(&shown)),
                            ));
                        }
                        key = child;
                        shown = self.key_display(&parts[..=index]);
                        nodes.remember(&path[..ends[index]], Some((key.clone(), shown.clone())));
                    }
                    Some(Err(error)) => return Err(self.damaged(&place(), error)),
                }
            }
            read(&key, &shown).map(Some)
        })
    }

    /// Checks the subkey list of `key` for offsets nt-hive would assert on, once per key.
    fn guard_subkey_list(&self, key: &KeyNode<&[u8]>) -> Result<(), String> {
        let Some(node) = self.key_node_offset(key) else {
            return Ok(());
        };
        let checked = || {
            self.subkey_lists_checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if checked().contains(&node) {
            return Ok(());
        }
        self.check_subkey_list(node)?;
        checked().insert(node);
        Ok(())
    }

    /// Checks the value list of `key` for offsets nt-hive would assert on, once per key.
    fn guard_value_list(&self, key: &KeyNode<&[u8]>) -> Result<(), String> {
        let Some(node) = self.key_node_offset(key) else {
            return Ok(());
        };
        let checked = || {
            self.value_lists_checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if checked().contains(&node) {
            return Ok(());
        }
        self.check_value_list(node)?;
        checked().insert(node);
        Ok(())
    }

    /// The key's LastWriteTime (a FILETIME: 100-ns intervals since 1601-01-01 UTC), or `None`
    /// when the key does not exist.
    ///
    /// nt-hive does not expose it, so it is read here from the key node's bytes: the node is
    /// found through the name nt-hive hands out, which is a slice of the hive at offset 0x4C of
    /// the node (after its `nk` signature); the signature and the stored name length are checked
    /// before the timestamp at offset 4 is read.
    pub fn key_last_written(&self, components: &[&str]) -> Result<Option<u64>, EvidenceError> {
        self.with_key(components, |key, shown| {
            key.name()
                .map_err(|error| self.damaged(&format!("key {shown}"), error))?;
            // A layered key was last written when its latest layer was.
            self.node_alone_known(key, || format!("the last-write time of key {shown}"))?;
            let timestamp = self.key_node_offset(key).and_then(|node| {
                let raw = self.bytes().get(node + 4..node + 12)?;
                Some(u64::from_le_bytes(raw.try_into().ok()?))
            });
            timestamp.ok_or_else(|| EvidenceError::CorruptHive {
                path: self.path.clone(),
                detail: format!(
                    "the key node of {} cannot be located to read its last-write time",
                    components.join("\\")
                ),
            })
        })
    }

    /// Whether the key at `components` (relative to the hive root) exists.
    pub fn key_exists(&self, components: &[&str]) -> Result<bool, EvidenceError> {
        Ok(self.with_key(components, |_, _| Ok(()))?.is_some())
    }

    /// The names of the subkeys of the key, in stored order (a name repeated in a damaged list
    /// once), or `None` when it does not exist.
    pub fn subkeys(&self, components: &[&str]) -> Result<Option<Vec<String>>, EvidenceError> {
        self.with_key(components, |key, shown| {
            self.subkeys_known(key, || format!("the subkeys of {shown}"))?;
            self.listed_subkeys(key, shown)
        })
    }

    /// The names of the subkeys the file holds for the key, as [`HiveFile::subkeys`] gives
    /// them, except that in a differencing hive they may be only some of the key's subkeys
    /// (those its layer changed), where `subkeys` refuses to answer.
    pub fn subkeys_held(&self, components: &[&str]) -> Result<Option<Vec<String>>, EvidenceError> {
        self.with_key(components, |key, shown| self.listed_subkeys(key, shown))
    }

    /// The names `key`'s list holds, each once, or the first damage met in it.
    fn listed_subkeys(
        &self,
        key: &KeyNode<&[u8]>,
        shown: &str,
    ) -> Result<Vec<String>, EvidenceError> {
        let (mut names, damage) = self.readable_subkey_names(key, shown)?;
        if let Some(damage) = damage {
            return Err(damage);
        }
        lookup::drop_repeated_names(&mut names);
        Ok(names)
    }

    /// The names of `key`'s subkeys that can be read, in stored order, and the first damage met
    /// on the others; a list that cannot be read at all is an error.
    fn readable_subkey_names(
        &self,
        key: &KeyNode<&[u8]>,
        shown: &str,
    ) -> Result<(Vec<String>, Option<EvidenceError>), EvidenceError> {
        let at = |error: NtHiveError| self.damaged(&format!("the subkeys of {shown}"), error);
        self.guard_subkey_list(key)
            .map_err(|detail| self.damaged(&format!("the subkeys of {shown}"), detail))?;
        let mut names = Vec::new();
        let mut damage = None;
        let node = self.key_node_offset(key);
        if let Some(subkeys) = key.subkeys() {
            for subkey in subkeys.map_err(at)? {
                let subkey = match subkey {
                    Ok(subkey) => subkey,
                    Err(error) => {
                        damage.get_or_insert_with(|| at(error));
                        continue;
                    }
                };
                // An entry that does not link back is damage, as an unreadable one is.
                if let Some(unlinked) = node.and_then(|node| self.unlinked_subkey(&subkey, node)) {
                    damage.get_or_insert_with(|| {
                        self.damaged(
                            &format!("the subkeys of {shown}"),
                            format!("{}: {UNLINKED_CONSEQUENCE}", unlinked.describe(shown)),
                        )
                    });
                    continue;
                }
                if self.is_tombstone_key(&subkey) {
                    continue;
                }
                match subkey.name() {
                    Ok(name) => names.push(name.to_string_lossy()),
                    Err(error) => {
                        damage.get_or_insert_with(|| at(error));
                    }
                }
            }
        }
        Ok((names, damage))
    }

    /// Every value of the key, in stored order, or `None` when the key does not exist.
    pub fn values(&self, components: &[&str]) -> Result<Option<Vec<RegValue>>, EvidenceError> {
        self.each_value(components, |value, shown| self.decode_value(value, shown))
    }

    /// Every value of the key, in stored order, as `read` gives it (from the value and the key
    /// as shown in messages), or `None` when the key does not exist.
    fn each_value<T>(
        &self,
        components: &[&str],
        read: impl Fn(&nt_hive::KeyValue<&[u8]>, &str) -> Result<T, EvidenceError>,
    ) -> Result<Option<Vec<T>>, EvidenceError> {
        self.with_key(components, |key, shown| {
            let at = |error: NtHiveError| self.damaged(&format!("the values of {shown}"), error);
            self.guard_value_list(key)
                .map_err(|detail| self.damaged(&format!("the values of {shown}"), detail))?;
            self.node_alone_known(key, || format!("the values of {shown}"))?;
            let mut values = Vec::new();
            if let Some(list) = key.values() {
                for value in list.map_err(at)? {
                    let value = value.map_err(at)?;
                    if self.is_tombstone_value(&value) {
                        continue;
                    }
                    values.push(read(&value, shown)?);
                }
            }
            Ok(values)
        })
    }

    /// One value of the key, matched without regard to case. `Ok(None)` when the key or the
    /// value is absent.
    pub fn value(
        &self,
        components: &[&str],
        name: &str,
    ) -> Result<Option<RegValue>, EvidenceError> {
        Ok(self
            .with_key(components, |key, shown| {
                self.guard_value_list(key)
                    .map_err(|detail| self.damaged(&format!("the values of {shown}"), detail))?;
                let found = match key.value(name) {
                    None => self
                        .find_value_by_shown_name(key, name)
                        .map_err(|detail| self.damaged(&format!("the values of {shown}"), detail))?
                        .map(Ok),
                    other => other,
                };
                match found {
                    None => {
                        self.node_alone_known(key, || format!("value {name:?} of {shown}"))?;
                        Ok(None)
                    }
                    // A value a layer deletes is absent, whatever the layers below hold.
                    Some(Ok(value)) if self.is_tombstone_value(&value) => Ok(None),
                    Some(Ok(value)) => self.decode_value(&value, shown).map(Some),
                    Some(Err(error)) => Err(self.damaged(&format!("the values of {shown}"), error)),
                }
            })?
            .flatten())
    }

    fn decode_value(
        &self,
        value: &nt_hive::KeyValue<&[u8]>,
        key: &str,
    ) -> Result<RegValue, EvidenceError> {
        let stored_name = value
            .name()
            .map_err(|error| self.damaged(&format!("the values of {key}"), error))?;
        let header = self.value_header(&stored_name);
        let name = stored_name.to_string_lossy();
        let at = |error: &dyn std::fmt::Display| {
            self.damaged(&format!("value {name:?} of {key}"), error)
        };
        let type_code = match value.data_type() {
            Ok(data_type) => data_type as u32,
            Err(NtHiveError::UnsupportedKeyValueDataType { actual, .. }) => actual,
            Err(error) => return Err(at(&error)),
        };
        let raw = self
            .value_data(value, header)
            .map_err(|detail| at(&detail))?;
        Ok(RegValue::decode(name, type_code, &raw))
    }

    /// The names of the root key's subkeys that can be read, and the damage met on the others:
    /// the type of a hive is read from the keys that are there, so one damaged key under the
    /// root does not make the whole file unreadable (reads through it report the damage).
    fn readable_root_subkeys(&self) -> Result<(Vec<String>, Option<EvidenceError>), EvidenceError> {
        let read = self.with_key(&[], |key, shown| self.readable_subkey_names(key, shown))?;
        Ok(read.unwrap_or_default())
    }

    fn detect_kind(&mut self) -> Result<HiveKind, EvidenceError> {
        let (root, damage) = self.readable_root_subkeys()?;
        if let Some(damage) = damage {
            self.notices.push(damage.to_notice(NoticeLevel::Warning));
        }
        let has = |name: &str| root.iter().any(|key| key.eq_ignore_ascii_case(name));
        let control_sets = root
            .iter()
            .any(|key| crate::registry::is_control_set_name(key));
        if has("Select") && control_sets {
            return Ok(HiveKind::System);
        }
        if has("SAM") && !has("Policy") && root.len() <= 2 {
            return Ok(HiveKind::Sam);
        }
        if has("Policy") && (has("RXACT") || has("Cache") || has("SAM")) {
            return Ok(HiveKind::Security);
        }
        if has("Software") && (has("Control Panel") || has("Environment") || has("AppEvents")) {
            return Ok(HiveKind::Ntuser);
        }
        if has("Microsoft") {
            let current_version = ["Microsoft", "Windows NT", "CurrentVersion"];
            // Damage in the product values must not make the whole hive unreadable: a value
            // that cannot be read in an existing CurrentVersion key counts as recorded, and the
            // reads that need it report the damage.
            let key_there = matches!(self.key_exists(&current_version), Ok(true));
            let recorded = |name: &str| match self.value(&current_version, name) {
                Ok(found) => found.is_some(),
                Err(_) => key_there,
            };
            let product = recorded("ProductName") || recorded("CurrentBuildNumber");
            let servicing = matches!(
                self.key_exists(&[
                    "Microsoft",
                    "Windows",
                    "CurrentVersion",
                    "Component Based Servicing",
                ]),
                Ok(true)
            );
            if product || servicing {
                return Ok(HiveKind::Software);
            }
            return Ok(HiveKind::HkcuSoftware);
        }
        Ok(HiveKind::Other)
    }
}

#[cfg(test)]
mod tests;
