//! Reads the values the OS facts come from one at a time, so that damage in one key or hive
//! never discards what the others say.
//!
//! Each read either gives a value, finds none, or meets damage. Damage is remembered under the
//! name of the value (or source) that could not be read, and treated as absent for the fact it
//! feeds; other values can still give the fact (the role from `InstallationType` when
//! `ProductType` is damaged, say). Once the facts are decided, [`FactReader::finish`] lists in
//! [`OsFacts::unreadable`] each fact that stayed unknown *because* a value it comes from is
//! damaged, and turns the damage that did not cost a fact into notes.

use std::path::PathBuf;

use crate::error::EvidenceError;
use crate::os::{FactSource, IgnoredValue, OsFacts, Role, UnreadableFact};
use crate::registry::{HostRegistry, Located};
use crate::value::{RegType, RegValue};

/// The source name under which damage met while reading the in-box drivers is remembered.
pub(crate) const INBOX_DRIVERS: &str = "in-box drivers";

/// The values (or sources) each fact comes from, in the order they are tried. A fact that stays
/// unknown cites the first of them that was damaged.
const BUILD_SOURCES: [&str; 4] = [
    "CurrentBuildNumber",
    "CurrentBuild",
    "TaskOsBuildNumber",
    INBOX_DRIVERS,
];
const PLATFORM_SOURCES: [&str; 4] = [
    "ProductType",
    "InstallationType",
    "EditionID",
    "ProductName",
];

/// Damage met while reading one value.
#[derive(Clone, Debug)]
struct Damage {
    /// The value or source that could not be read.
    source: String,
    file: PathBuf,
    path: String,
    message: String,
}

/// Reads OS facts value by value, remembering sources, ignored values and damage.
pub(crate) struct FactReader<'a> {
    pub(crate) registry: &'a HostRegistry,
    /// The facts gathered so far: sources, ignored values and notes are filled as values are read.
    pub(crate) facts: OsFacts,
    /// Whether any value was found or any damage met.
    pub(crate) anything: bool,
    damage: Vec<Damage>,
}

impl<'a> FactReader<'a> {
    pub(crate) fn new(registry: &'a HostRegistry) -> FactReader<'a> {
        FactReader {
            registry,
            facts: OsFacts::default(),
            anything: false,
            damage: Vec::new(),
        }
    }

    /// Remembers that `source` could not be read at `path` (a registry path as requested, with
    /// `CurrentControlSet` resolved where the registry can tell).
    pub(crate) fn record_damage(&mut self, source: &str, path: &str, error: &EvidenceError) {
        // A key a `.reg` export or a differencing hive does not hold is no damage: like a hive
        // that was not collected, it gives nothing, and the facts it would give stay unknown.
        if error.is_unknown_in_file() {
            return;
        }
        self.anything = true;
        let resolved = self
            .registry
            .locate(path)
            .filter(|found| found.file == error.path())
            .map_or_else(|| path.to_string(), |found| found.resolved_path);
        self.damage.push(Damage {
            source: source.to_string(),
            file: error.path().to_path_buf(),
            path: resolved,
            message: error.to_string(),
        });
    }

    /// One value; damage is remembered under `name` and reads as absent.
    pub(crate) fn read(&mut self, path: &str, name: &str) -> Option<Located<RegValue>> {
        match self.registry.value(path, name) {
            Ok(found) => {
                self.anything |= found.is_some();
                found
            }
            Err(error) => {
                self.record_damage(name, path, &error);
                None
            }
        }
    }

    pub(crate) fn note_source(&mut self, fact: &str, located: &Located<RegValue>) {
        self.facts.sources.push(FactSource {
            fact: fact.to_string(),
            file: located.file.clone(),
            path: located.resolved_path.clone(),
        });
    }

    /// A `REG_SZ`/`REG_EXPAND_SZ` value; other types are recorded as ignored.
    pub(crate) fn string(&mut self, path: &str, name: &str) -> Option<String> {
        let located = self.read(path, name)?;
        match (located.data.value_type, located.data.as_str()) {
            (RegType::Sz | RegType::ExpandSz, Some(text)) => {
                let text = text.to_string();
                self.note_source(name, &located);
                Some(text)
            }
            _ => {
                self.facts
                    .ignored
                    .push(IgnoredValue::new(&located, "REG_SZ"));
                None
            }
        }
    }

    /// A string value holding a decimal number, such as `CurrentBuildNumber`.
    pub(crate) fn decimal_string(&mut self, path: &str, name: &str) -> Option<u32> {
        let located = self.read(path, name)?;
        match decimal_of(&located.data, false) {
            Some(number) => {
                self.note_source(name, &located);
                Some(number)
            }
            None => {
                self.facts.ignored.push(IgnoredValue::new(
                    &located,
                    "REG_SZ holding a decimal number",
                ));
                None
            }
        }
    }

    /// A well-formed `REG_DWORD`.
    pub(crate) fn dword(&mut self, path: &str, name: &str) -> Option<u32> {
        let located = self.read(path, name)?;
        let number = match located.data.value_type {
            RegType::Dword => located
                .data
                .as_integer()
                .and_then(|value| u32::try_from(value).ok()),
            _ => None,
        };
        match number {
            Some(number) => {
                self.note_source(name, &located);
                Some(number)
            }
            None => {
                self.facts
                    .ignored
                    .push(IgnoredValue::new(&located, "REG_DWORD"));
                None
            }
        }
    }

    /// A number stored as a `REG_DWORD` or as a `REG_SZ` holding a decimal number, with where
    /// it was found; the caller notes its source. Other types are recorded as ignored.
    pub(crate) fn number(&mut self, path: &str, name: &str) -> Option<(u32, Located<RegValue>)> {
        let located = self.read(path, name)?;
        match decimal_of(&located.data, true) {
            Some(number) => Some((number, located)),
            None => {
                self.facts.ignored.push(IgnoredValue::new(
                    &located,
                    "REG_DWORD or REG_SZ holding a decimal number",
                ));
                None
            }
        }
    }

    /// Lists the facts that stayed unknown because a value they come from is damaged, and notes
    /// the damage that did not cost a fact; then hands the facts over.
    pub(crate) fn finish(mut self) -> OsFacts {
        let facts = &self.facts;
        let build_below = |limit: u32| facts.build.is_some_and(|build| build < limit);
        let name_sources: Vec<&str> = BUILD_SOURCES
            .iter()
            .chain(&PLATFORM_SOURCES)
            .copied()
            .collect();
        let service_pack_sources: Vec<&str> =
            std::iter::once("CSDVersion").chain(BUILD_SOURCES).collect();
        // (fact, unknown, sources). UBR is written from Windows 8.1 on, DisplayVersion and
        // ReleaseId from Windows 10 on, and service packs ended with Windows 7, so a known build
        // outside those eras explains their absence without the damage.
        let checks: [(&str, bool, &[&str]); 10] = [
            ("name", facts.name.is_none(), &name_sources),
            (
                "product_name",
                facts.product_name.is_none(),
                &["ProductName"],
            ),
            (
                "current_version",
                facts.current_version.is_none(),
                &["CurrentVersion"],
            ),
            ("build", facts.build.is_none(), &BUILD_SOURCES),
            ("ubr", facts.ubr.is_none() && !build_below(9600), &["UBR"]),
            (
                "display_version",
                facts.display_version.is_none() && !build_below(10240),
                &["DisplayVersion", "ReleaseId"],
            ),
            (
                "edition",
                facts.edition.is_none(),
                &["EditionID", "ProductPolicy", "OSProductPfn"],
            ),
            (
                "service_pack",
                facts.service_pack.is_none() && facts.build.is_none_or(|build| build < 9200),
                &service_pack_sources,
            ),
            (
                "role",
                facts.role == Role::Unknown,
                &["ProductType", "InstallationType"],
            ),
            ("platform", facts.platform.is_none(), &PLATFORM_SOURCES),
        ];
        let mut unreadable = Vec::new();
        let mut cited = vec![false; self.damage.len()];
        for (fact, unknown, sources) in checks {
            if !unknown {
                continue;
            }
            let found = sources.iter().find_map(|source| {
                self.damage
                    .iter()
                    .position(|damage| damage.source == *source)
            });
            if let Some(index) = found {
                cited[index] = true;
                let damage = &self.damage[index];
                unreadable.push(UnreadableFact {
                    fact: fact.to_string(),
                    file: damage.file.clone(),
                    path: damage.path.clone(),
                    message: damage.message.clone(),
                });
            }
        }
        for (damage, cited) in self.damage.iter().zip(cited) {
            if !cited {
                self.facts.notes.push(format!(
                    "{} could not be read ({}); the facts it feeds were had from other values",
                    damage.source, damage.message
                ));
            }
        }
        self.facts.unreadable = unreadable;
        self.facts
    }
}

/// The number in a `REG_SZ`/`REG_EXPAND_SZ` holding a decimal number, or (when `dword_too`) in
/// a well-formed `REG_DWORD`.
fn decimal_of(value: &RegValue, dword_too: bool) -> Option<u32> {
    match (value.value_type, value.as_str()) {
        (RegType::Sz | RegType::ExpandSz, Some(text)) => text.trim().parse::<u32>().ok(),
        (RegType::Dword, _) if dword_too => value
            .as_integer()
            .and_then(|number| u32::try_from(number).ok()),
        _ => None,
    }
}
