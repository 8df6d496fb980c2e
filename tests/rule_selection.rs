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

#[test]
fn a_param_no_loaded_rule_declares_is_refused() {
    let run = hiveward(
        &root(),
        &[
            "scan",
            "examples/bundle",
            "--format",
            "json",
            "--param",
            "min_ubr_17763=5458",
        ],
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains("unknown --param `min_ubr_17763`")
            && run.stderr.contains("min_ubr.* (HW-PATCH-004)")
            && run
                .stderr
                .contains("min_lm_compatibility_level (HW-NTLM-001)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    // Declared names, and names of a declared family, are taken.
    let run = hiveward(
        &root(),
        &[
            "scan",
            "examples/bundle",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--allow-partial",
            "--param",
            "min_ubr.17763=5458",
            "--param",
            "min_lm_compatibility_level=3",
        ],
    );
    run.assert_code(0);
    assert_eq!(run.json()["params"]["min_ubr.17763"], "5458");
}

#[test]
fn a_rule_test_case_with_an_undeclared_param_fails() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("site");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        pack.join("pack.toml"),
        "name = \"site\"\nversion = \"0.1.0\"\ndescription = \"d\"\nmin_hiveward = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("SITE-P-001.rhai"),
        r#"export const RULE = #{
    id: "SITE-P-001", pack: "site", title: "t", description: "d", severity: "low",
    params: #{ "limit": "the limit" },
    fix: "f",
};
fn check(host, ctx) {
    if ctx.params["limit"] == "1" { [#{ message: "over" }] } else { [] }
}
"#,
    )
    .unwrap();
    std::fs::write(
        pack.join("SITE-P-001.tests.toml"),
        r#"[[case]]
name = "the declared param"
expect = ["SITE-P-001"]
params = { limit = "1" }
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001
'''

[[case]]
name = "a typo in the param"
expect = []
params = { limt = "1" }
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001
'''
"#,
    )
    .unwrap();
    let run = hiveward(dir.path(), &["rules", "test", "site", "--case", "param"]);
    run.assert_code(1);
    let text = run.stdout_text();
    assert!(
        text.contains("PASS SITE-P-001 the declared param"),
        "{text}"
    );
    assert!(
        text.contains("FAIL SITE-P-001 a typo in the param")
            && text.contains("the case gives --param `limt`, which SITE-P-001 does not declare"),
        "{text}"
    );
}
