//! `--only`, `--exclude` and `--profile` as a user writes them: rule ids, id globs, pack names
//! and severity bounds select the same rules the rule list shows, and a selector or profile
//! that matches nothing is an error naming it.

mod support;

use serde_json::Value;
use support::{hiveward, root};

/// The ids, packs and severities of the built-in rules, from `rules list --format json`.
fn builtin_rules() -> Vec<(String, String, String)> {
    let run = hiveward(&root(), &["rules", "list", "--format", "json"]);
    run.assert_code(0);
    let listed = run.json();
    let rules = listed
        .as_array()
        .or_else(|| listed["rules"].as_array())
        .expect("a list of rules")
        .clone();
    rules
        .iter()
        .map(|rule| {
            let text = |field: &str| rule[field].as_str().unwrap_or_default().to_string();
            (text("id"), text("pack"), text("severity"))
        })
        .collect()
}

/// The rule ids a scan of the sample bundle ran, with `args` added.
fn scanned_rules(args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "scan",
        "examples/bundle",
        "--format",
        "json",
        "--fail-on",
        "never",
    ];
    all.extend_from_slice(args);
    let run = hiveward(&root(), &all);
    assert!(
        run.code == 0 || run.code == 3,
        "scan {args:?} exits {}: {}",
        run.code,
        run.stderr
    );
    let report: Value = run.json();
    let mut ids: Vec<String> = report["rules"]
        .as_array()
        .expect("the report lists its rules")
        .iter()
        .map(|rule| rule["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[test]
fn a_glob_selects_the_ids_it_matches() {
    let expected = sorted(
        builtin_rules()
            .into_iter()
            .filter(|(id, _, _)| id.starts_with("HW-ALIAS-"))
            .map(|(id, _, _)| id)
            .collect(),
    );
    assert!(expected.len() >= 3, "{expected:?}");
    assert_eq!(scanned_rules(&["--only", "hw-alias-*"]), expected);
}

#[test]
fn a_pack_name_selects_its_rules_and_exclude_takes_them_out() {
    let rules = builtin_rules();
    let in_pack = sorted(
        rules
            .iter()
            .filter(|(_, pack, _)| pack == "smb1")
            .map(|(id, _, _)| id.clone())
            .collect(),
    );
    assert!(!in_pack.is_empty());
    assert_eq!(scanned_rules(&["--only", "smb1"]), in_pack);
    assert_eq!(scanned_rules(&["--only", "pack:SMB1"]), in_pack);
    let rest = scanned_rules(&["--exclude", "smb1"]);
    assert!(rest.iter().all(|id| !in_pack.contains(id)), "{rest:?}");
    assert!(!rest.is_empty());
}

#[test]
fn a_severity_bound_selects_by_severity() {
    let rank = |severity: &str| {
        ["info", "low", "medium", "high", "critical"]
            .iter()
            .position(|known| *known == severity)
            .expect("a known severity")
    };
    let rules = builtin_rules();
    let high = sorted(
        rules
            .iter()
            .filter(|(_, _, severity)| rank(severity) >= rank("high"))
            .map(|(id, _, _)| id.clone())
            .collect(),
    );
    assert!(!high.is_empty());
    assert_eq!(scanned_rules(&["--only", "severity>=high"]), high);
    let below = scanned_rules(&["--exclude", "severity>=high"]);
    assert!(below.iter().all(|id| !high.contains(id)));
    // Selectors combine: the high rules of one pack.
    let combined = scanned_rules(&["--only", "cname-spn", "--exclude", "severity<high"]);
    let expected = sorted(
        rules
            .iter()
            .filter(|(_, pack, severity)| pack == "cname-spn" && rank(severity) >= rank("high"))
            .map(|(id, _, _)| id.clone())
            .collect(),
    );
    assert_eq!(combined, expected);
}

#[test]
fn selectors_and_profiles_that_match_nothing_are_errors() {
    for (args, said) in [
        (
            vec!["--only", "HW-NOPE-001"],
            "`HW-NOPE-001` is neither a rule id nor a pack name",
        ),
        (vec!["--only", "XX-*"], "`XX-*` matches no loaded rule"),
        (vec!["--exclude", "pack:nope"], "no pack `nope` is loaded"),
        (vec!["--only", "severity>=urgent"], "names no severity"),
        (
            vec!["--profile", "stig-2099"],
            "unknown profile `stig-2099`: the loaded rules know cis, stig-2012",
        ),
    ] {
        let mut all = vec!["scan", "examples/bundle", "--format", "json"];
        all.extend_from_slice(&args);
        let run = hiveward(&root(), &all);
        run.assert_code(2);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: no report is written");
    }
}
