//! The engine on hives built in the tests: the host API (case, absent values, types),
//! fleet rules, rule errors, metadata validation, findings and their fingerprints,
//! determinism and rule selection.

use std::collections::BTreeMap;

use hiveward_engine::{
    context_map, Evaluation, Evidence, Finding, HostHandle, JsonValue, Limits, PackSource, RuleSet,
    Selection, Severity,
};
use serde_json::json;

#[path = "../common/mod.rs"]
mod common;
use common::{evaluate, host_from_reg, load_with, manifest_text, pack_source, rule_origin};

mod determinism;
mod findings;
mod fleet_rules;
mod host_api;
mod metadata;

const PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";

/// A pack named `name` whose rules are (id, text); each is stored as `ID.rhai`.
fn pack(name: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_with_manifest(name, &manifest_text(name, "0.1.0"), rules)
}

fn pack_with_manifest(name: &str, manifest: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_source(name, manifest, rules, &[])
}

/// A rule file: the `RULE` map on line 1 (with `extra` metadata fields), `body` from line 2 on.
fn rule_text(id: &str, pack: &str, extra: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"{pack}\", title: \"Title of {id}\", description: \"d\", severity: \"low\", fix: \"Fix {id}.\"{extra} }};\n{body}\n"
    )
}

fn load(packs: Vec<PackSource>) -> RuleSet {
    load_with(packs, Limits::default())
}

fn host(name: &str, reg: &str) -> HostHandle {
    host_from_reg(name, reg)
}

/// `.reg` text for a SYSTEM hive whose current set is ControlSet002; `values` go into its
/// `Services\LanmanServer\Parameters`. ControlSet001 (not current) holds level 1.
fn system_reg(values: &str) -> String {
    format!(
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000002
"LastKnownGood"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\LanmanServer\Parameters]
"EnableSecuritySignature"=dword:00000001
{values}
"#
    )
}

fn level_host(name: &str, level: u32) -> HostHandle {
    host(
        name,
        &system_reg(&format!(
            "\"SmbServerNameHardeningLevel\"=dword:{level:08x}"
        )),
    )
}

fn messages(evaluation: &Evaluation) -> Vec<(&str, &str, &str)> {
    evaluation
        .findings
        .iter()
        .map(|finding| {
            (
                finding.rule.as_str(),
                finding.host.as_str(),
                finding.message.as_str(),
            )
        })
        .collect()
}

fn no_rule_errors(evaluation: &Evaluation) {
    assert!(
        evaluation.rule_errors.is_empty(),
        "unexpected rule errors: {:?}",
        evaluation.rule_errors
    );
}

fn json_value(value: serde_json::Value) -> Option<JsonValue> {
    Some(JsonValue(value))
}
