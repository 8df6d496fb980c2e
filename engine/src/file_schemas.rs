//! JSON Schemas of the files users write: `pack.toml`, rule test files, waiver files and the
//! site configuration `hiveward.toml`.
//!
//! Editors with TOML schema support (Taplo / Even Better TOML: a `#:schema PATH` first line)
//! validate and complete these files with them. The schemas come from the same serde types the
//! loaders use: [`PackManifest`] is what `pack.toml` deserialises into, and [`WaiverFile`]
//! names exactly the keys the waiver loader accepts (a test keeps the two in step).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pack::PackManifest;

/// A waiver file: `[[waiver]]` tables and nothing else.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hiveward waiver file")]
pub struct WaiverFile {
    /// The waivers, each accepting the findings of one rule (or glob) on some hosts.
    #[serde(default)]
    pub waiver: Vec<WaiverEntry>,
}

/// One `[[waiver]]`: the findings it accepts stay in every report, marked as waived.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiverEntry {
    /// The rule id it waives, or a glob over rule ids (`HW-SMB1-*`); any case. It must match a
    /// loaded rule.
    #[schemars(length(min = 1))]
    pub rule: String,
    /// The host names it covers, or a glob (`FS*`, `*` for every host); any case.
    #[schemars(length(min = 1))]
    pub host: String,
    /// Only findings with an evidence item whose `path\\value_name` (or note) matches this
    /// glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub evidence: Option<String>,
    /// Why the finding is accepted; required.
    #[schemars(length(min = 1))]
    pub justification: String,
    /// Who accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub owner: Option<String>,
    /// The last day it applies (`2026-12-31`, written as a string here; a TOML date is
    /// accepted too); after it the findings count again and the scan says the waiver expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub expires: Option<String>,
}

/// The JSON Schema of a pack's `pack.toml`.
pub fn pack_schema() -> schemars::Schema {
    schemars::schema_for!(PackManifest)
}

/// The JSON Schema of a waiver file.
pub fn waivers_schema() -> schemars::Schema {
    schemars::schema_for!(WaiverFile)
}

/// The JSON Schema of the site configuration file `hiveward.toml`.
pub fn config_schema() -> schemars::Schema {
    schemars::schema_for!(crate::site_config::SiteConfig)
}

/// The JSON Schema of a rule's `*.tests.toml` file.
pub fn tests_file_schema() -> schemars::Schema {
    schemars::schema_for!(crate::rule_test::CaseFile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn properties(schema: &schemars::Schema, definition: &str) -> Vec<String> {
        let value = schema.as_value();
        let object = value["$defs"][definition]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no {definition} in {value:#}"));
        let mut names: Vec<String> = object.keys().cloned().collect();
        names.sort();
        names
    }

    #[test]
    fn the_waiver_schema_names_exactly_the_keys_the_loader_accepts() {
        let mut known: Vec<String> = crate::waiver::KEYS
            .iter()
            .map(|key| key.to_string())
            .collect();
        known.sort();
        assert_eq!(properties(&waivers_schema(), "WaiverEntry"), known);
    }

    #[test]
    fn the_pack_schema_requires_every_manifest_field() {
        let schema = pack_schema();
        let required = schema.as_value()["required"]
            .as_array()
            .expect("required fields")
            .clone();
        for field in ["name", "version", "description", "min_hiveward"] {
            assert!(required.iter().any(|name| name == field), "{field}");
        }
        assert_eq!(schema.as_value()["additionalProperties"], false);
    }

    /// TOML as JSON, with dates written as the strings the schema describes.
    fn toml_to_json(value: toml::Value) -> serde_json::Value {
        match value {
            toml::Value::Datetime(datetime) => serde_json::Value::String(datetime.to_string()),
            toml::Value::Array(items) => items.into_iter().map(toml_to_json).collect(),
            toml::Value::Table(table) => table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            other => serde_json::to_value(other).expect("a TOML scalar is JSON"),
        }
    }

    fn assert_valid(schema: &schemars::Schema, label: &str, text: &str) {
        let validator = jsonschema::validator_for(schema.as_value()).expect("the schema compiles");
        let instance = toml_to_json(toml::from_str(text).expect("TOML"));
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{label}: {errors:?}");
    }

    #[test]
    fn every_built_in_pack_toml_and_the_sample_waivers_are_valid() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let packs = std::fs::read_dir(root.join("rules")).expect("rules/");
        let mut checked = 0;
        for pack in packs {
            let manifest = pack.expect("a pack folder").path().join("pack.toml");
            if let Ok(text) = std::fs::read_to_string(&manifest) {
                assert_valid(&pack_schema(), &manifest.display().to_string(), &text);
                checked += 1;
            }
        }
        assert!(checked >= 9, "{checked} pack.toml checked");
        let mut test_files = 0;
        for pack in std::fs::read_dir(root.join("rules")).expect("rules/") {
            for file in std::fs::read_dir(pack.expect("a pack").path()).expect("a pack folder") {
                let path = file.expect("a file").path();
                if path.to_string_lossy().ends_with(".tests.toml") {
                    let text = std::fs::read_to_string(&path).expect("a test file");
                    assert_valid(&tests_file_schema(), &path.display().to_string(), &text);
                    test_files += 1;
                }
            }
        }
        assert!(test_files >= 40, "{test_files} test files checked");
        let waivers = std::fs::read_to_string(root.join("examples/waivers.toml")).expect("waivers");
        assert_valid(&waivers_schema(), "examples/waivers.toml", &waivers);
    }

    #[test]
    fn the_schemas_reject_what_the_loaders_reject() {
        let validator = jsonschema::validator_for(waivers_schema().as_value()).unwrap();
        for bad in [
            r#"[[waiver]]
rule = "HW-SMB1-001"
host = "*""#,
            r#"[[waiver]]
rule = "HW-SMB1-001"
host = "*"
justification = "j"
reason = "unknown key""#,
            r#"[[waiver]]
rule = ""
host = "*"
justification = "j""#,
        ] {
            let instance = toml_to_json(toml::from_str(bad).unwrap());
            assert!(!validator.is_valid(&instance), "{bad}");
        }
        let validator = jsonschema::validator_for(pack_schema().as_value()).unwrap();
        let instance = toml_to_json(toml::from_str("name = \"p\"\nversion = \"1\"").unwrap());
        assert!(!validator.is_valid(&instance));
    }
}
