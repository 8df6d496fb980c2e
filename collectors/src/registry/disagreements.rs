//! Values that two sources of one host's registry hold differently.
//!
//! A host may come with a hive and a `.reg` export of some of its keys (collection scripts
//! often take both), or with two exports. Reads take the first source that holds a value (a
//! hive before an export), so when the copies were taken at different times the other one
//! would go unseen. Each key of an export is compared with every other source that holds the
//! same key, and each value they hold differently is a [`SourceDisagreement`]: the host gets a
//! warning naming the files, and the engine marks a verdict that read such a value as inferred,
//! since which copy is current cannot be told. A value a hive lacks while another source holds
//! it counts (a hive holds its keys whole); one a `.reg` file lacks does not, since such a file
//! may set only some values of a key.
//!
//! Only keys under `HKLM` are compared: the user hives of one host (`HKCU`) are different
//! users' settings, which differ by right.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{HostRegistry, RegPath, RegistrySource};
use crate::error::Notice;
use crate::value::{to_hex, RegData, RegValue};

/// The code of the warning that names the values two sources hold differently.
pub const SOURCES_DISAGREE_CODE: &str = "hiveward::registry::sources_disagree";

/// How many values one warning names before it counts the rest.
const NAMED_PER_NOTICE: usize = 5;

/// A value two sources of one host hold differently: the copy reads take, and the other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceDisagreement {
    /// The key as reads resolve it in the source they take (`HKLM\SYSTEM\ControlSet001\...`).
    pub key: String,
    /// The value's name (empty for the key's default value).
    pub value: String,
    /// The file reads take the value from.
    pub read_file: String,
    /// What that file holds, such as `0 (REG_DWORD)`.
    pub read: String,
    /// The other file that holds the key.
    pub other_file: String,
    /// What the other file holds, or `absent`.
    pub other: String,
}

impl SourceDisagreement {
    /// The value's name as messages give it: `(Default)` for the key's default value.
    pub fn shown_name(&self) -> &str {
        if self.value.is_empty() {
            "(Default)"
        } else {
            &self.value
        }
    }

    /// The value's full path: key and name, `(Default)` for the default value.
    pub fn value_path(&self) -> String {
        format!("{}\\{}", self.key, self.shown_name())
    }
}

/// A value as messages show it: the data, then the type.
fn shown(value: Option<&RegValue>) -> String {
    let Some(value) = value else {
        return "absent".to_string();
    };
    let data = match &value.data {
        RegData::Empty => "empty".to_string(),
        RegData::Integer(number) => number.to_string(),
        RegData::String(text) => format!("{text:?}"),
        RegData::MultiString(items) => format!("{items:?}"),
        RegData::Bytes(bytes) if bytes.len() > 32 => {
            format!("{}... ({} bytes)", to_hex(&bytes[..32]), bytes.len())
        }
        RegData::Bytes(bytes) => to_hex(bytes),
    };
    format!("{data} ({})", value.value_type.name())
}

impl HostRegistry {
    /// Compares every `HKLM` key of each `.reg` export with the other sources that hold it,
    /// keeps what they hold differently for [`HostRegistry::value_disagreements`], and returns one
    /// warning per pair of files. Call it once the host's sources are all added.
    pub fn find_disagreements(&mut self) -> Vec<Notice> {
        let mut found: BTreeMap<(String, String, String), SourceDisagreement> = BTreeMap::new();
        for export in self.sources.iter().filter_map(|source| match source {
            RegistrySource::Export(export) => Some(export),
            RegistrySource::Hive(_) => None,
        }) {
            for key in export.keys() {
                let path = RegPath::parse(&key.path);
                if !path
                    .components()
                    .first()
                    .is_some_and(|root| root.eq_ignore_ascii_case("HKLM"))
                {
                    continue;
                }
                self.compare_key(&path, &mut found);
            }
        }
        let disagreements: Vec<SourceDisagreement> = found.into_values().collect();
        let notices = notices_for(&disagreements);
        // With three or more sources a value can differ in several of them: every pair is
        // kept, in order of the other file.
        self.disagreements.clear();
        for item in disagreements {
            self.disagreements
                .entry((item.key.to_lowercase(), item.value.to_lowercase()))
                .or_default()
                .push(item);
        }
        notices
    }

    /// Every value of `path` in each source that holds the key, compared with the copy reads
    /// take (the first source that holds the value).
    fn compare_key(
        &self,
        path: &RegPath,
        found: &mut BTreeMap<(String, String, String), SourceDisagreement>,
    ) {
        // Each source that holds the key, with its values by case-folded name. A key whose
        // values cannot all be read (damage, a lost `.reg` line) is left out.
        let mut holders: Vec<(&RegistrySource, String, HashMap<String, RegValue>)> = Vec::new();
        for (source, inner) in self.candidates(path) {
            let components: Vec<&str> = inner.iter().map(String::as_str).collect();
            // An export that does not hold the key itself knows none of its values.
            if !source.knows(&components, super::ReadKind::Content) {
                continue;
            }
            if holders
                .iter()
                .any(|(held, _, _)| std::ptr::eq(*held, source))
            {
                continue;
            }
            let Ok(Some(values)) = source.values(&components) else {
                continue;
            };
            let values = values
                .into_iter()
                .map(|value| (value.name.to_lowercase(), value))
                .collect();
            holders.push((source, Self::resolved(source, &inner), values));
        }
        if holders.len() < 2 {
            return;
        }
        let mut names: Vec<&String> = holders
            .iter()
            .flat_map(|(_, _, values)| values.keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let Some((read_source, read_key, read_values)) = holders
                .iter()
                .find(|(_, _, values)| values.contains_key(name))
            else {
                continue;
            };
            let read = &read_values[name];
            for (other_source, _, other_values) in &holders {
                if std::ptr::eq(*other_source, *read_source) {
                    continue;
                }
                let other = other_values.get(name);
                let differs = match other {
                    Some(other) => other.value_type != read.value_type || other.data != read.data,
                    // A hive holds its keys whole, so a value it lacks is absent there; a `.reg`
                    // file may set only some values of a key (one written to apply a setting),
                    // so a value it lacks says nothing.
                    None => matches!(other_source, RegistrySource::Hive(_)),
                };
                if !differs {
                    continue;
                }
                let other_file = crate::path_text(other_source.path());
                let entry = SourceDisagreement {
                    key: read_key.clone(),
                    value: read.name.clone(),
                    read_file: crate::path_text(read_source.path()),
                    read: shown(Some(read)),
                    other_file: other_file.clone(),
                    other: shown(other),
                };
                found
                    .entry((read_key.to_lowercase(), name.clone(), other_file))
                    .or_insert(entry);
            }
        }
    }

    /// How the other sources of the host hold the value at `key` (as reads resolve it) named
    /// `value`, where [`HostRegistry::find_disagreements`] found that they hold it differently
    /// from the copy reads take: one entry per other source, none when all agree.
    pub fn value_disagreements(&self, key: &str, value: &str) -> &[SourceDisagreement] {
        if self.disagreements.is_empty() {
            return &[];
        }
        self.disagreements
            .get(&(key.to_lowercase(), value.to_lowercase()))
            .map_or(&[], Vec::as_slice)
    }

    /// The values of the key at `key` (as reads resolve it) that another source holds
    /// differently, where `file` holds one of the two copies: what a listing of that key read
    /// from `file` shows, or leaves out.
    pub fn key_disagreements<'a>(
        &'a self,
        key: &'a str,
        file: &'a str,
    ) -> impl Iterator<Item = &'a SourceDisagreement> + 'a {
        self.disagreements().filter(move |item| {
            item.key.eq_ignore_ascii_case(key)
                && (item.read_file == file || item.other_file == file)
        })
    }

    /// Every value two sources of the host hold differently, in order of case-folded key and
    /// name.
    pub fn disagreements(&self) -> impl Iterator<Item = &SourceDisagreement> {
        self.disagreements.values().flatten()
    }
}

/// One warning per pair of files (the one read, the other), naming the first values.
fn notices_for(disagreements: &[SourceDisagreement]) -> Vec<Notice> {
    let mut by_pair: BTreeMap<(&str, &str), Vec<&SourceDisagreement>> = BTreeMap::new();
    for item in disagreements {
        by_pair
            .entry((item.read_file.as_str(), item.other_file.as_str()))
            .or_default()
            .push(item);
    }
    by_pair
        .into_iter()
        .map(|((read_file, other_file), items)| {
            let mut named: Vec<String> = items
                .iter()
                .take(NAMED_PER_NOTICE)
                .map(|item| format!("{} {} against {}", item.value_path(), item.read, item.other))
                .collect();
            if items.len() > NAMED_PER_NOTICE {
                named.push(format!("and {} more", items.len() - NAMED_PER_NOTICE));
            }
            Notice::warning(
                SOURCES_DISAGREE_CODE,
                std::path::Path::new(read_file),
                format!(
                    "{read_file} and {other_file} hold {} value(s) of the same keys differently ({read_file}'s first): {}. Reads take the values of {read_file} (a hive answers before a .reg export, and exports answer in path order); which copy is current cannot be told, so a verdict that read one of these values is inferred",
                    items.len(),
                    named.join("; "),
                ),
            )
        })
        .collect()
}
