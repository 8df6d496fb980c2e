//! End-to-end tests of `hiveward scan`: the findings on the sample bundle, exit codes, rule
//! selection, profiles, `-o`, determinism across thread counts, the text layout, custom packs,
//! broken rules, unreadable or missing evidence, the corpus, and the shape of the JSON report
//! against `schemas/findings.schema.json`.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::path::Path;

use hiveward_testkit::hive_from_reg;
use serde_json::Value;
use support::{hiveward, root, Run};

mod corpus;
mod custom_packs;
mod determinism;
mod sample_bundle;
mod schema_check;
mod timings;
mod unreadable;

use custom_packs::{system_hive, write_pack};
use schema_check::assert_matches_schema;

/// Runs `hiveward scan examples/bundle --format json EXTRA` from the repository root.
/// The sample bundle scanned with the two starter rules these tests were written around (unless
/// the test picks its own rules), so that adding built-in rules does not change their subject.
fn scan_bundle_json(extra: &[&str]) -> Run {
    let mut args = vec!["scan", "examples/bundle", "--format", "json"];
    if !extra.contains(&"--only") && !extra.contains(&"--exclude") {
        args.extend(["--only", "HW-STRICT-001,HW-HARD-003"]);
    }
    args.extend_from_slice(extra);
    hiveward(&root(), &args)
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings is an array")
}

/// `(rule, host)` of every finding, in report order.
fn rule_hosts(report: &Value) -> Vec<(String, String)> {
    findings(report)
        .iter()
        .map(|finding| {
            (
                finding["rule"].as_str().unwrap().to_string(),
                finding["host"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(rule, host)| (rule.to_string(), host.to_string()))
        .collect()
}

fn rule_ids(report: &Value) -> Vec<String> {
    report["rules"]
        .as_array()
        .expect("rules is an array")
        .iter()
        .map(|rule| rule["id"].as_str().unwrap().to_string())
        .collect()
}

fn assert_no_rule_errors(report: &Value) {
    assert_eq!(
        report["rule_errors"],
        Value::Array(Vec::new()),
        "rule errors in the report"
    );
    assert_eq!(report["summary"]["rule_errors"], 0);
}
