//! Hostile rule packs and evidence against the engine (issue 12): fix templates and finding
//! text that would flood the report, pack files that are links or special files, packs too big
//! or too costly to compile, event record ids beyond the integer range, fleet rules that name
//! hosts the bundle does not hold, every file accounted for in SARIF and JUnit, and the run's
//! `--timeout`.
//!
//! Nothing here measures time: the timeout tests assert on outcomes only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions, EventRecord};
use hiveward_engine::{
    context_map, junit_xml, run_scan, to_sarif, Evaluation, Finding, HostFacts, HostHandle, Limits,
    Outcome, PackSource, RuleLoadError, RuleSet, RunDeadline, SarifOptions, ScanSettings, Timeout,
    EXIT_INCOMPLETE,
};
use hiveward_testkit::hive_from_reg;
use serde_json::Value;

mod every_file;
mod fix_text_bounds;
mod fleet_hosts;
mod pack_bounds;
mod pack_links;
mod record_ids;
mod timeout;

use every_file::mixed_bundle;
use pack_links::pack_on_disk;

#[path = "../common/mod.rs"]
mod common;
use common::{evaluate, host_from_reg, load_with, manifest_text, pack_source};

/// A pack named `name` with `rules` as (id, text).
fn pack(name: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_source(name, &manifest_text(name, "0.1.0"), rules, &[])
}

/// A rule file of pack `p` with `extra` metadata fields and `body` after the `RULE` map.
fn rule(id: &str, extra: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: \"f\"{extra} }};\n{body}\n"
    )
}

/// A rule whose fix is `fix` (written as a Rhai backtick string).
fn rule_with_fix(id: &str, fix: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: `{fix}` }};\n{body}\n"
    )
}

fn host(name: &str) -> HostHandle {
    host_from_reg(
        name,
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n",
    )
}

fn only_finding(evaluation: &Evaluation) -> &Finding {
    assert!(
        evaluation.rule_errors.is_empty(),
        "no rule error: {:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.findings.len(), 1, "{:?}", evaluation.findings);
    &evaluation.findings[0]
}

fn json_len(finding: &Finding) -> usize {
    serde_json::to_vec(finding).unwrap().len()
}
