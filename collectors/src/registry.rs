//! One host's registry: hives and `.reg` exports mounted at the paths Windows gives them,
//! with `CurrentControlSet` resolved and names matched without regard to case.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{EvidenceError, Notice, NoticeLevel};
use crate::hive::{HiveFile, HiveKind};
use crate::regtext::RegExport;
use crate::value::RegValue;

mod coverage;
mod disagreements;

use coverage::{Answers, ReadKind};

pub use disagreements::{SourceDisagreement, SOURCES_DISAGREE_CODE};

/// Where the registry reads of one host come from.
pub enum RegistrySource {
    /// A hive file, mounted at the path its kind stands for.
    Hive(HiveFile),
    /// A `.reg` export, whose keys carry their full paths.
    Export(RegExport),
}

impl RegistrySource {
    /// The file behind this source.
    pub fn path(&self) -> &Path {
        match self {
            RegistrySource::Hive(hive) => hive.path(),
            RegistrySource::Export(export) => export.path(),
        }
    }

    fn key_exists(&self, components: &[&str]) -> Result<bool, EvidenceError> {
        match self {
            RegistrySource::Hive(hive) => hive.key_exists(components),
            RegistrySource::Export(export) => Ok(export.key_exists(components)),
        }
    }

    fn value(&self, components: &[&str], name: &str) -> Result<Option<RegValue>, EvidenceError> {
        match self {
            RegistrySource::Hive(hive) => hive.value(components, name),
            RegistrySource::Export(export) => export.value(components, name),
        }
    }

    fn values(&self, components: &[&str]) -> Result<Option<Vec<RegValue>>, EvidenceError> {
        match self {
            RegistrySource::Hive(hive) => hive.values(components),
            RegistrySource::Export(export) => export.values(components),
        }
    }

    fn subkeys(&self, components: &[&str]) -> Result<Option<Vec<String>>, EvidenceError> {
        match self {
            RegistrySource::Hive(hive) => hive.subkeys(components),
            RegistrySource::Export(export) => Ok(export.subkeys(components)),
        }
    }

    /// `Some(last write time)` when the key exists; a `.reg` export records no time.
    fn key_last_written(&self, components: &[&str]) -> Result<Option<Option<u64>>, EvidenceError> {
        match self {
            RegistrySource::Hive(hive) => Ok(hive.key_last_written(components)?.map(Some)),
            RegistrySource::Export(export) => Ok(export.key_exists(components).then_some(None)),
        }
    }
}

/// Which `ControlSet00N` stands for `CurrentControlSet`, and how that was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ControlSetChoice {
    /// The key name, such as `ControlSet001`.
    pub name: String,
    /// How it was chosen: `Select\Current`, `Select\Default`, `first present`, or `literal` when
    /// a `.reg` export carries `CurrentControlSet` itself.
    pub chosen_by: String,
}

/// Data found in the registry, with where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    /// What was read.
    pub data: T,
    /// The evidence file it came from.
    pub file: PathBuf,
    /// The full path it was read at, with `CurrentControlSet` replaced by the set used.
    pub resolved_path: String,
}

/// A registry path split into components, with its root key in short form (`HKLM`, `HKCU`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegPath {
    components: Vec<String>,
}

impl RegPath {
    /// Parses `HKLM\SYSTEM\...` or `HKEY_LOCAL_MACHINE\SYSTEM\...`; empty components are dropped.
    pub fn parse(path: &str) -> RegPath {
        RegPath {
            components: RegPath::split(path)
                .into_iter()
                .map(str::to_string)
                .collect(),
        }
    }

    /// The components [`RegPath::parse`] makes of `path`, borrowed from it (the root in short
    /// form).
    pub fn split(path: &str) -> Vec<&str> {
        let mut components: Vec<&str> = path.split('\\').filter(|part| !part.is_empty()).collect();
        if let Some(first) = components.first_mut() {
            *first = short_root_name(first);
        }
        components
    }

    /// The components, root first.
    pub fn components(&self) -> Vec<&str> {
        self.components.iter().map(String::as_str).collect()
    }

    /// Whether the path is under `HKCU`, where a host may hold one hive per user.
    pub fn is_current_user(&self) -> bool {
        self.components.first().is_some_and(|root| root == "HKCU")
    }
}

impl std::fmt::Display for RegPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.components.join("\\"))
    }
}

/// Maps `HKEY_LOCAL_MACHINE` to `HKLM` and the like; other names come back unchanged.
pub fn short_root_name(root: &str) -> &str {
    const ROOTS: [(&str, &str); 5] = [
        ("HKEY_LOCAL_MACHINE", "HKLM"),
        ("HKEY_CURRENT_USER", "HKCU"),
        ("HKEY_USERS", "HKU"),
        ("HKEY_CLASSES_ROOT", "HKCR"),
        ("HKEY_CURRENT_CONFIG", "HKCC"),
    ];
    for (long, short) in ROOTS {
        if root.eq_ignore_ascii_case(long) || root.eq_ignore_ascii_case(short) {
            return short;
        }
    }
    root
}

fn starts_with_ignore_case(components: &[&str], prefix: &[&str]) -> bool {
    components.len() >= prefix.len()
        && components
            .iter()
            .zip(prefix)
            .all(|(left, right)| left.eq_ignore_ascii_case(right))
}

const CURRENT_CONTROL_SET: &str = "CurrentControlSet";

/// Whether a key name under `HKEY_USERS` is an interactive user's profile: a domain or local
/// account SID (`S-1-5-21-...`), not `.DEFAULT`, the service accounts (`S-1-5-18`, `-19`,
/// `-20`) or a user's classes (`S-1-5-21-..._Classes`).
fn is_user_sid(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("S-1-5-21-") && !upper.ends_with("_CLASSES")
}

/// The registry of one host, assembled from its hives and exports.
#[derive(Default)]
pub struct HostRegistry {
    sources: Vec<RegistrySource>,
    control_set: Option<ControlSetChoice>,
    /// Key LastWriteTimes stated for keys of `.reg` sources, which record none (rule test
    /// cases state them), by case-folded path as given.
    stated_key_times: Vec<(String, u64)>,
    /// Values already read, by case-folded path and name ([`folded_key`]): rules read the same
    /// few values many times, and each read walks the hive from its root. Shared, so that a
    /// read hands out the value without copying it.
    value_cache: Mutex<CacheMap<CachedValue>>,
    /// Whether a key exists, by case-folded path, as [`HostRegistry::key_exists`] found it.
    key_cache: Mutex<CacheMap<bool>>,
    /// Where an absent value would be read, by case-folded path ([`HostRegistry::locate`]).
    place_cache: Mutex<CacheMap<Option<Located<()>>>>,
    /// The control set `CurrentControlSet` means in each SYSTEM hive, by the hive's address
    /// among the sources (the cache is cleared when a source is added): finding it lists the
    /// hive's root keys, and nearly every path goes through it.
    hive_sets: Mutex<HashMap<usize, Option<String>>>,
    /// Values two sources hold differently, by case-folded key (as reads resolve it) and name,
    /// as [`HostRegistry::find_disagreements`] found them.
    disagreements: std::collections::BTreeMap<(String, String), Vec<SourceDisagreement>>,
}

/// A value read once, as [`HostRegistry::value_shared`] found it (errors are not kept).
type CachedValue = Option<Arc<Located<RegValue>>>;

/// A read cache by case-folded key. Its keys are the host's own paths, and a rule reads a few
/// hundred of them per host: a fast hash (aHash, already under Rhai) is enough here and costs a
/// fraction of SipHash's time on paths of 60 characters.
type CacheMap<V> = HashMap<String, V, ahash::RandomState>;

thread_local! {
    /// The buffer cache keys are folded into, so that a cache hit allocates nothing.
    static FOLDED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs `look` with the key of `parts`: each case-folded (as `str::to_lowercase` folds them)
/// and preceded by its folded length, so that no two lists of parts give one key whatever
/// characters a name read from a hive holds. The key is built in a buffer kept per thread.
fn folded_key<R>(parts: &[&str], look: impl FnOnce(&str) -> R) -> R {
    use std::fmt::Write as _;
    // Taken out while in use, so that a read nested in `look` folds into a buffer of its own.
    let mut key = FOLDED.with(|buffer| std::mem::take(&mut *buffer.borrow_mut()));
    key.clear();
    for part in parts {
        if part.is_ascii() {
            let _ = write!(key, "{}:", part.len());
            let start = key.len();
            key.push_str(part);
            key[start..].make_ascii_lowercase();
        } else {
            let folded = part.to_lowercase();
            let _ = write!(key, "{}:", folded.len());
            key.push_str(&folded);
        }
    }
    let result = look(&key);
    FOLDED.with(|buffer| *buffer.borrow_mut() = key);
    result
}

/// Locks one of the caches; a cache whose lock was poisoned is still consistent (each entry
/// is written whole), so it is used as it is.
fn lock<T>(cache: &Mutex<T>) -> MutexGuard<'_, T> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HostRegistry {
    /// An empty registry.
    pub fn new() -> HostRegistry {
        HostRegistry::default()
    }

    /// Adds a source. Hives answer before exports; otherwise the first added answers first.
    pub fn add(&mut self, source: RegistrySource) {
        lock(&self.value_cache).clear();
        lock(&self.key_cache).clear();
        lock(&self.place_cache).clear();
        lock(&self.hive_sets).clear();
        self.disagreements.clear();
        self.sources.push(source);
        self.sources
            .sort_by_key(|source| matches!(source, RegistrySource::Export(_)));
        self.control_set = self.choose_control_set();
    }

    /// Takes the sources back out, hives first.
    pub fn into_sources(self) -> Vec<RegistrySource> {
        self.sources
    }

    /// The sources, hives first.
    pub fn sources(&self) -> &[RegistrySource] {
        &self.sources
    }

    /// The hive files.
    pub fn hives(&self) -> impl Iterator<Item = &HiveFile> {
        self.sources.iter().filter_map(|source| match source {
            RegistrySource::Hive(hive) => Some(hive),
            RegistrySource::Export(_) => None,
        })
    }

    /// The set `CurrentControlSet` resolves to, when a SYSTEM hive or export is present.
    pub fn control_set(&self) -> Option<&ControlSetChoice> {
        self.control_set.as_ref()
    }

    /// The places `path` can be read from, best first: (source, components inside it).
    fn candidates(&self, path: &RegPath) -> Vec<(&RegistrySource, Vec<String>)> {
        let query = path.components();
        let mut found = Vec::new();
        for source in &self.sources {
            match source {
                RegistrySource::Hive(hive) => {
                    let Some(mount) = hive.kind().mount_path() else {
                        continue;
                    };
                    let mount: Vec<&str> = mount.split('\\').collect();
                    if !starts_with_ignore_case(&query, &mount) {
                        continue;
                    }
                    let mut inner: Vec<String> =
                        query[mount.len()..].iter().map(|s| s.to_string()).collect();
                    if hive.kind() == HiveKind::System {
                        if let Some(first) = inner.first_mut() {
                            if first.eq_ignore_ascii_case(CURRENT_CONTROL_SET) {
                                match self.hive_control_set(hive) {
                                    Some(set) => *first = set,
                                    None => continue,
                                }
                            }
                        }
                    }
                    found.push((source, inner));
                }
                RegistrySource::Export(export) => {
                    let literal: Vec<String> = query.iter().map(|s| s.to_string()).collect();
                    found.push((source, literal.clone()));
                    // `reg export HKU`: each interactive user's key under HKEY_USERS is that
                    // user's HKCU.
                    if path.is_current_user() {
                        let users = export.subkeys(&["HKU"]).unwrap_or_default();
                        for sid in users.into_iter().filter(|sid| is_user_sid(sid)) {
                            let mut mapped = vec!["HKU".to_string(), sid];
                            mapped.extend(literal.iter().skip(1).cloned());
                            found.push((source, mapped));
                        }
                    }
                    let is_ccs = starts_with_ignore_case(&query, &["HKLM", "SYSTEM"])
                        && query
                            .get(2)
                            .is_some_and(|part| part.eq_ignore_ascii_case(CURRENT_CONTROL_SET));
                    if let (true, Some(choice)) = (is_ccs, &self.control_set) {
                        if choice.chosen_by != "literal" {
                            let mut mapped = literal;
                            mapped[2] = choice.name.clone();
                            found.push((source, mapped));
                        }
                    }
                }
            }
        }
        found
    }

    fn resolved(source: &RegistrySource, inner: &[String]) -> String {
        let mut parts: Vec<&str> = Vec::new();
        if let RegistrySource::Hive(hive) = source {
            if let Some(mount) = hive.kind().mount_path() {
                parts.extend(mount.split('\\'));
            }
        }
        parts.extend(inner.iter().map(String::as_str));
        parts.join("\\")
    }

    /// The first source that holds `path` and what `read` found there. `None` when every
    /// source that can answer says the key (or value) is absent; an error when none can answer
    /// but a `.reg` export holds other keys of that hive, since a key it does not write is
    /// unknown, not absent.
    fn first_hit<T>(
        &self,
        path: &str,
        kind: ReadKind,
        mut read: impl FnMut(&RegistrySource, &[&str]) -> Result<Option<T>, EvidenceError>,
    ) -> Result<Option<Located<T>>, EvidenceError> {
        let mut answers = Answers::default();
        for (source, inner) in self.candidates(&RegPath::parse(path)) {
            let components: Vec<&str> = inner.iter().map(String::as_str).collect();
            if !answers.admits(source, &components, kind) {
                continue;
            }
            if let Some(data) = read(source, &components)? {
                return Ok(Some(Located {
                    data,
                    file: source.path().to_path_buf(),
                    resolved_path: Self::resolved(source, &inner),
                }));
            }
        }
        answers.settle(path, None)
    }

    /// Where a path would be read: the file and resolved path of the first source that holds
    /// the key, else of the first source whose mount covers the path. Evidence for an absent
    /// value cites it.
    pub fn locate(&self, path: &str) -> Option<Located<()>> {
        folded_key(&[path], |key| {
            if let Some(place) = lock(&self.place_cache).get(key) {
                return place.clone();
            }
            let place = self.locate_uncached(path);
            lock(&self.place_cache).insert(key.to_string(), place.clone());
            place
        })
    }

    fn locate_uncached(&self, path: &str) -> Option<Located<()>> {
        let candidates = self.candidates(&RegPath::parse(path));
        candidates
            .iter()
            .find(|(source, inner)| {
                let components: Vec<&str> = inner.iter().map(String::as_str).collect();
                source.key_exists(&components).unwrap_or(false)
            })
            .or(candidates.first())
            .map(|(source, inner)| Located {
                data: (),
                file: source.path().to_path_buf(),
                resolved_path: Self::resolved(source, inner),
            })
    }

    /// Reads one value; key and value names match without regard to case.
    pub fn value(
        &self,
        path: &str,
        name: &str,
    ) -> Result<Option<Located<RegValue>>, EvidenceError> {
        Ok(self
            .value_shared(path, name)?
            .map(|found| Located::clone(&found)))
    }

    /// Reads one value as [`HostRegistry::value`] does, shared with the host's cache of reads
    /// rather than copied: what the rules' reads go through.
    pub fn value_shared(
        &self,
        path: &str,
        name: &str,
    ) -> Result<Option<Arc<Located<RegValue>>>, EvidenceError> {
        folded_key(&[path, name], |key| {
            if let Some(found) = lock(&self.value_cache).get(key) {
                return Ok(found.clone());
            }
            let found = self
                .first_hit(path, ReadKind::Content, |source, components| {
                    source.value(components, name)
                })?
                .map(Arc::new);
            lock(&self.value_cache).insert(key.to_string(), found.clone());
            Ok(found)
        })
    }

    /// Reads every value of a key.
    pub fn values(&self, path: &str) -> Result<Option<Located<Vec<RegValue>>>, EvidenceError> {
        self.first_hit(path, ReadKind::Content, |source, components| {
            source.values(components)
        })
    }

    /// Lists the subkeys of a key. Under `HKCU` a host holds one hive per user (a triage
    /// collection copies every profile's `NTUSER.DAT`), so the listing there is the union over
    /// every user hive and export that holds the key, in the order of the sources, each name
    /// once (without regard to case); `Located::file` is the first of them, and
    /// [`HostRegistry::user_sources_holding`] names them all. Elsewhere the first source that
    /// holds the key answers, as for every other read.
    pub fn subkeys(&self, path: &str) -> Result<Option<Located<Vec<String>>>, EvidenceError> {
        let parsed = RegPath::parse(path);
        if !parsed.is_current_user() {
            return self.first_hit(path, ReadKind::Content, |source, components| {
                source.subkeys(components)
            });
        }
        let mut merged: Option<Located<Vec<String>>> = None;
        let mut seen = std::collections::HashSet::new();
        // As for every other read, a listing no source can answer is unknown; one that some
        // user's source answers is the union of those that can.
        let mut answers = Answers::default();
        for (source, inner) in self.candidates(&parsed) {
            let components: Vec<&str> = inner.iter().map(String::as_str).collect();
            if !answers.admits(source, &components, ReadKind::Content) {
                continue;
            }
            let Some(names) = source.subkeys(&components)? else {
                continue;
            };
            let located = merged.get_or_insert_with(|| Located {
                data: Vec::new(),
                file: source.path().to_path_buf(),
                resolved_path: Self::resolved(source, &inner),
            });
            for name in names {
                if seen.insert(name.to_lowercase()) {
                    located.data.push(name);
                }
            }
        }
        answers.settle(path, merged)
    }

    /// The files of every user hive or export that holds the `HKCU` key `path`, in the order
    /// of the sources (what [`HostRegistry::subkeys`] merged); empty for any other path, or
    /// when no source holds it or it cannot be read.
    pub fn user_sources_holding(&self, path: &str) -> Vec<PathBuf> {
        let parsed = RegPath::parse(path);
        if !parsed.is_current_user() {
            return Vec::new();
        }
        self.candidates(&parsed)
            .into_iter()
            .filter(|(source, inner)| {
                let components: Vec<&str> = inner.iter().map(String::as_str).collect();
                source.key_exists(&components).unwrap_or(false)
            })
            .map(|(source, _)| source.path().to_path_buf())
            .collect()
    }

    /// A key's LastWriteTime as a FILETIME (`None` inside when the source, a `.reg` export,
    /// records none), or `None` when the key does not exist.
    pub fn key_last_written(
        &self,
        path: &str,
    ) -> Result<Option<Located<Option<u64>>>, EvidenceError> {
        let mut found = self.first_hit(path, ReadKind::Existence, |source, components| {
            source.key_last_written(components)
        })?;
        if let Some(located) = found.as_mut().filter(|located| located.data.is_none()) {
            let wanted = path.to_lowercase();
            located.data = self
                .stated_key_times
                .iter()
                .find(|(known, _)| *known == wanted)
                .map(|(_, time)| *time);
        }
        Ok(found)
    }

    /// States the LastWriteTime (a FILETIME) of the key at `path` (written as rules write it)
    /// for a key that comes from a `.reg` source, which records none: rule test cases use it
    /// to give registry text the key times a hive would hold. It never overrides a hive's own
    /// time.
    pub fn state_key_time(&mut self, path: &str, filetime: u64) {
        let wanted = path.to_lowercase();
        self.stated_key_times.retain(|(known, _)| *known != wanted);
        self.stated_key_times.push((wanted, filetime));
    }

    /// Whether a key exists in any source.
    pub fn key_exists(&self, path: &str) -> Result<bool, EvidenceError> {
        folded_key(&[path], |key| {
            if let Some(exists) = lock(&self.key_cache).get(key) {
                return Ok(*exists);
            }
            let exists = self
                .first_hit(path, ReadKind::Existence, |source, components| {
                    Ok(source.key_exists(components)?.then_some(()))
                })?
                .is_some();
            lock(&self.key_cache).insert(key.to_string(), exists);
            Ok(exists)
        })
    }

    fn hive_control_set(&self, hive: &HiveFile) -> Option<String> {
        let address = std::ptr::from_ref(hive) as usize;
        if let Some(set) = lock(&self.hive_sets).get(&address) {
            return set.clone();
        }
        let set = control_set_of(&RegistrySource::borrowed_hive_reader(hive), &[])
            .map(|choice| choice.name);
        lock(&self.hive_sets).insert(address, set.clone());
        set
    }

    fn choose_control_set(&self) -> Option<ControlSetChoice> {
        for source in &self.sources {
            let choice = match source {
                RegistrySource::Hive(hive) if hive.kind() == HiveKind::System => {
                    control_set_of(&RegistrySource::borrowed_hive_reader(hive), &[])
                }
                RegistrySource::Export(export) => {
                    if export.key_exists(&["HKLM", "SYSTEM", CURRENT_CONTROL_SET]) {
                        Some(ControlSetChoice {
                            name: CURRENT_CONTROL_SET.to_string(),
                            chosen_by: "literal".to_string(),
                        })
                    } else {
                        control_set_of(
                            &|components: &[&str], name: Option<&str>| match name {
                                Some(name) => {
                                    ReadResult::Value(export.value(components, name).ok().flatten())
                                }
                                None => ReadResult::Keys(export.subkeys(components)),
                            },
                            &["HKLM", "SYSTEM"],
                        )
                    }
                }
                _ => None,
            };
            if choice.is_some() {
                return choice;
            }
        }
        None
    }

    /// Compares each key under `CurrentControlSet` named in `keys` (such as
    /// `Services\LanmanServer\Parameters`) across every `ControlSet00N` of each SYSTEM hive, and
    /// returns a note for each set whose values differ from the current one: a rollback to it
    /// would bring those values back.
    pub fn control_set_differences(&self, keys: &[&str]) -> Vec<Notice> {
        let mut notices = Vec::new();
        for hive in self.hives().filter(|hive| hive.kind() == HiveKind::System) {
            let Some(current) = self.hive_control_set(hive) else {
                continue;
            };
            let Ok(Some(root)) = hive.subkeys(&[]) else {
                continue;
            };
            let mut others: Vec<&String> = root
                .iter()
                .filter(|name| is_control_set_name(name) && !name.eq_ignore_ascii_case(&current))
                .collect();
            others.sort();
            for key in keys {
                let relative: Vec<&str> = key.split('\\').filter(|p| !p.is_empty()).collect();
                let read = |set: &str| {
                    let mut components = vec![set];
                    components.extend(&relative);
                    hive.values(&components).map(|found| {
                        found.map(|mut values| {
                            values.sort_by_key(|value| value.name.to_ascii_lowercase());
                            values
                        })
                    })
                };
                // Most sets hold the same bytes as the current one: compared as stored, they
                // need no decoding. Anything else (a difference, damage) is decoded and worded.
                let stored = |set: &str| {
                    let mut components = vec![set];
                    components.extend(&relative);
                    hive.stored_values(&components)
                };
                // The current set decoded, or `None` with its damage reported. `Control\Lsa` and
                // `Control\Lsa\MSV1_0` behind one damaged cell are one problem, worded the same
                // by the reader: reported once.
                let decode_current = |notices: &mut Vec<Notice>| match read(&current) {
                    Ok(values) => Some(values),
                    Err(error) => {
                        push_once(notices, error.to_notice(NoticeLevel::Warning));
                        None
                    }
                };
                let current_stored = stored(&current);
                let mut current_values = None;
                if current_stored.is_err() {
                    current_values = decode_current(&mut notices);
                    if current_values.is_none() {
                        continue;
                    }
                }
                for other in &others {
                    if let (Ok(here), Ok(there)) = (&current_stored, stored(other)) {
                        if *here == there {
                            continue;
                        }
                    }
                    // Read as stored without damage, so it decodes; should it not, the damage is
                    // reported as above.
                    if current_values.is_none() {
                        current_values = decode_current(&mut notices);
                    }
                    let Some(current_values) = &current_values else {
                        break;
                    };
                    // A damaged key in another set cannot be compared; say so rather than
                    // calling it absent.
                    let other_values = match read(other) {
                        Ok(values) => values,
                        Err(error) => {
                            let detail = error.to_string();
                            let prefix = format!("{}: ", hive.path().display());
                            push_once(
                                &mut notices,
                                Notice::warning(
                                    "hiveward::hive::corrupt",
                                    hive.path(),
                                    format!(
                                        "{prefix}{other}\\{key} cannot be compared with the current set: {}",
                                        detail.strip_prefix(&prefix).unwrap_or(&detail)
                                    ),
                                ),
                            );
                            continue;
                        }
                    };
                    if other_values == *current_values {
                        continue;
                    }
                    let changed =
                        describe_difference(current_values.as_deref(), other_values.as_deref());
                    notices.push(Notice::note(
                        "hiveward::hive::control_sets_differ",
                        Some(hive.path()),
                        format!(
                            "{}: {other}\\{key} differs from the current set {current}\\{key} ({changed}); a rollback to {other} would bring those values back",
                            hive.path().display()
                        ),
                    ));
                }
            }
        }
        notices
    }
}

/// Adds `notice` unless the same notice (level, code, file and message) is already there.
fn push_once(notices: &mut Vec<Notice>, notice: Notice) {
    if !notices.contains(&notice) {
        notices.push(notice);
    }
}

fn describe_difference(current: Option<&[RegValue]>, other: Option<&[RegValue]>) -> String {
    match (current, other) {
        (Some(_), None) => "the key is absent there".to_string(),
        (None, Some(_)) => "the key exists only there".to_string(),
        (Some(current), Some(other)) => {
            let mut names: Vec<String> = current
                .iter()
                .chain(other)
                .map(|value| value.name.to_ascii_lowercase())
                .collect();
            names.sort();
            names.dedup();
            let find = |values: &[RegValue], name: &str| {
                values
                    .iter()
                    .find(|value| value.name.eq_ignore_ascii_case(name))
                    .cloned()
            };
            names
                .iter()
                .filter_map(|name| {
                    let here = find(current, name);
                    let there = find(other, name);
                    (here != there).then(|| {
                        let show = |value: Option<RegValue>| {
                            value.map_or("absent".to_string(), |value| {
                                format!("{} {}", value.value_type, value.display_data())
                            })
                        };
                        let label = here
                            .as_ref()
                            .or(there.as_ref())
                            .map(|value| value.name.clone())
                            .unwrap_or_default();
                        format!("{label}: {} here, {} there", show(here), show(there))
                    })
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
        (None, None) => String::new(),
    }
}

/// Whether `name` is `ControlSet` followed by three digits.
pub fn is_control_set_name(name: &str) -> bool {
    // Compared as bytes: a name of 13 bytes may hold characters of several bytes, and no
    // char boundary need fall after the tenth byte.
    let bytes = name.as_bytes();
    bytes.len() == 13
        && bytes[..10].eq_ignore_ascii_case(b"ControlSet")
        && bytes[10..].iter().all(u8::is_ascii_digit)
}

enum ReadResult {
    Value(Option<RegValue>),
    Keys(Option<Vec<String>>),
}

impl RegistrySource {
    fn borrowed_hive_reader(hive: &HiveFile) -> impl Fn(&[&str], Option<&str>) -> ReadResult + '_ {
        move |components: &[&str], name: Option<&str>| match name {
            Some(name) => ReadResult::Value(hive.value(components, name).ok().flatten()),
            // The sets a differencing hive holds are the ones it can point `Select` at.
            None => ReadResult::Keys(hive.subkeys_held(components).ok().flatten()),
        }
    }
}

/// Picks the control set through `Select\Current`, then `Select\Default`, then the first
/// `ControlSet00N` present. `prefix` is where the SYSTEM root sits in the reader's paths.
fn control_set_of(
    read: &dyn Fn(&[&str], Option<&str>) -> ReadResult,
    prefix: &[&str],
) -> Option<ControlSetChoice> {
    let mut select: Vec<&str> = prefix.to_vec();
    select.push("Select");
    let root_keys = match read(prefix, None) {
        ReadResult::Keys(Some(keys)) => keys,
        _ => Vec::new(),
    };
    let exists = |name: &str| root_keys.iter().any(|key| key.eq_ignore_ascii_case(name));
    for selector in ["Current", "Default"] {
        if let ReadResult::Value(Some(value)) = read(&select, Some(selector)) {
            if let Some(number) = value.as_integer() {
                let name = format!("ControlSet{number:03}");
                if exists(&name) {
                    return Some(ControlSetChoice {
                        name,
                        chosen_by: format!("Select\\{selector}"),
                    });
                }
            }
        }
    }
    let mut sets: Vec<&String> = root_keys
        .iter()
        .filter(|key| is_control_set_name(key))
        .collect();
    sets.sort();
    sets.first().map(|name| ControlSetChoice {
        name: name.to_string(),
        chosen_by: "first present".to_string(),
    })
}
