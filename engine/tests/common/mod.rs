//! Builders shared by the engine's integration tests: packs and hosts made in memory.
// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hiveward_collectors::{read_hotfixes, read_os_facts, HiveFile, HostRegistry, RegistrySource};
use hiveward_engine::{
    context_map, Evaluation, HostFacts, HostHandle, Limits, PackSource, RuleSet, SourceFile,
};

/// A source file at `folder/file_name`.
pub fn source(folder: &str, file_name: &str, text: &str) -> SourceFile {
    SourceFile {
        origin: format!("{folder}/{file_name}"),
        file_name: file_name.to_string(),
        text: text.to_string(),
    }
}

/// Where pack `name` is said to live.
pub fn pack_folder(name: &str) -> String {
    format!("/packs/{name}")
}

/// The origin a rule file of `pack` is reported under.
pub fn rule_origin(pack: &str, id: &str) -> String {
    format!("{}/{id}.rhai", pack_folder(pack))
}

/// A `pack.toml` for pack `name`.
pub fn manifest_text(name: &str, min_hiveward: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"engine tests\"\nmin_hiveward = \"{min_hiveward}\"\n"
    )
}

/// A pack named `name` with `manifest`, `rules` as (id, text) stored as `ID.rhai`, and `libs`
/// as (module, text) stored under `lib/`.
pub fn pack_source(
    name: &str,
    manifest: &str,
    rules: &[(&str, &str)],
    libs: &[(&str, &str)],
) -> PackSource {
    let folder = pack_folder(name);
    PackSource {
        origin: folder.clone(),
        builtin: false,
        manifest: source(&folder, "pack.toml", manifest),
        rules: rules
            .iter()
            .map(|(id, text)| source(&folder, &format!("{id}.rhai"), text))
            .collect(),
        libs: libs
            .iter()
            .map(|(module, text)| source(&format!("{folder}/lib"), &format!("{module}.rhai"), text))
            .collect(),
        tests: vec![],
    }
}

/// Loads `packs`, panicking with every load error when they do not load.
pub fn load_with(packs: Vec<PackSource>, limits: Limits) -> RuleSet {
    match RuleSet::load(packs, limits) {
        Ok(rules) => rules,
        Err(errors) => panic!(
            "the packs must load: {}",
            errors
                .iter()
                .map(|error| error.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// Runs `rules` on `hosts` under the `cis` profile without parameters.
pub fn evaluate(rules: &RuleSet, hosts: &[HostHandle]) -> Evaluation {
    rules.evaluate(hosts, &context_map("cis", &BTreeMap::new()))
}

/// A host whose SYSTEM hive (file `NAME_SYSTEM.HIV`) is built from `.reg` text.
pub fn host_from_reg(name: &str, reg: &str) -> HostHandle {
    let bytes = hiveward_testkit::hive_from_reg(reg);
    let hive = HiveFile::from_bytes(Path::new(&format!("{name}_SYSTEM.HIV")), bytes, &[])
        .expect("the fixture hive opens");
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Hive(hive));
    let os = read_os_facts(&registry).expect("os facts");
    let hotfixes = read_hotfixes(&registry).expect("hotfixes");
    HostHandle(Arc::new(HostFacts {
        name: name.to_string(),
        registry,
        os,
        hotfixes,
        files: vec![],
        events: vec![],
        log_channels: vec![],
        memo: Default::default(),
    }))
}

/// A host with no evidence but its name, whose event logs `log_channels` were collected and
/// hold no records.
pub fn bare_host_with_logs(name: &str, log_channels: &[&str]) -> HostHandle {
    HostHandle(Arc::new(HostFacts {
        name: name.to_string(),
        registry: HostRegistry::new(),
        os: None,
        hotfixes: hiveward_collectors::HotfixInventory::default(),
        files: vec![],
        events: vec![],
        log_channels: log_channels
            .iter()
            .map(|channel| channel.to_string())
            .collect(),
        memo: Default::default(),
    }))
}

/// A host with no evidence but its name.
pub fn bare_host(name: &str) -> HostHandle {
    bare_host_with_logs(name, &[])
}
