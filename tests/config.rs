//! The site configuration `hiveward.toml`: where it is found, what it sets, that the command
//! line wins, and that mistakes in it are refused naming the file and the key.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{hiveward, root, Run};

/// The sample bundle, by absolute path (the scans run in temporary folders).
fn bundle() -> String {
    root().join("examples/bundle").display().to_string()
}

/// A temporary folder with `hiveward.toml` holding `text`.
fn site(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("hiveward.toml"), text).unwrap();
    dir
}

fn scan(dir: &Path, extra: &[&str]) -> Run {
    let bundle = bundle();
    let mut args = vec!["scan", bundle.as_str()];
    args.extend_from_slice(extra);
    // PC22's `.reg` export leaves some checks unknown; these tests are about the settings.
    if !args.contains(&"--allow-partial") {
        args.push("--allow-partial");
    }
    hiveward(dir, &args)
}

/// The severity of the findings of `rule` in a JSON report.
fn severities(report: &Value, rule: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["rule"] == rule)
        .map(|finding| finding["severity"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_file_in_the_working_directory_sets_the_defaults() {
    let dir = site("[report]\nformat = \"json\"\nfail_on = \"never\"\n");
    let run = scan(dir.path(), &[]);
    run.assert_code(0);
    assert!(run.json()["findings"]
        .as_array()
        .is_some_and(|f| !f.is_empty()));
}

#[test]
fn config_names_another_file_and_no_config_ignores_the_local_one() {
    let dir = site("[report]\nformat = \"json\"\nfail_on = \"never\"\n");
    // --no-config: the defaults of the command line (text, --fail-on high).
    let run = scan(dir.path(), &["--no-config"]);
    run.assert_code(1);
    assert!(
        run.stdout_text().contains("FAIL: "),
        "{}",
        run.stdout_text()
    );
    // --config FILE, before or after the subcommand, wins over the local file.
    fs::create_dir(dir.path().join("ci")).unwrap();
    fs::write(
        dir.path().join("ci/strict.toml"),
        "[report]\nformat = \"sarif\"\nfail_on = \"info\"\n",
    )
    .unwrap();
    let run = scan(dir.path(), &["--config", "ci/strict.toml"]);
    run.assert_code(1);
    assert_eq!(run.json()["version"], "2.1.0");
    let bundle = bundle();
    let run = hiveward(
        dir.path(),
        &["--config", "ci/strict.toml", "scan", bundle.as_str()],
    );
    run.assert_code(1);
    assert_eq!(run.json()["version"], "2.1.0");
    // A file that is not there is an error, not silently nothing.
    let run = scan(dir.path(), &["--config", "ci/missing.toml"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("missing.toml") && run.stderr.contains("cannot read"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_command_line_wins_over_the_file() {
    let dir = site(
        "[report]\nformat = \"json\"\nfail_on = \"never\"\n\n[rules]\nonly = [\"HW-SMB1-001\"]\n",
    );
    let run = scan(dir.path(), &["--format", "text", "--fail-on", "high"]);
    run.assert_code(1);
    assert!(
        run.stdout_text().contains("HW-SMB1-001"),
        "{}",
        run.stdout_text()
    );
    assert!(serde_json::from_slice::<Value>(&run.stdout).is_err());
    // Lists are replaced, not merged: --only on the command line drops the file's.
    let run = scan(dir.path(), &["--only", "HW-PATCH-001", "--allow-partial"]);
    run.assert_code(0);
    let report = run.json();
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["rule"].as_str().unwrap())
        .collect();
    assert!(
        !rules.is_empty() && rules.iter().all(|rule| *rule == "HW-PATCH-001"),
        "{rules:?}"
    );
}

#[test]
fn a_severity_override_changes_every_format_and_the_exit_code() {
    // The three findings at or above high, lowered to medium: the run passes.
    let dir = site(
        "[report]\nformat = \"json\"\n\n[severity]\n\"HW-SMB1-001\" = \"medium\"\n\"HW-HARD-002\" = \"medium\"\nhw-patch-001 = \"medium\"\n",
    );
    let run = scan(dir.path(), &[]);
    run.assert_code(0);
    let report = run.json();
    for rule in ["HW-SMB1-001", "HW-HARD-002", "HW-PATCH-001"] {
        let found = severities(&report, rule);
        assert!(
            !found.is_empty() && found.iter().all(|s| s == "medium"),
            "{rule}: {found:?}"
        );
    }
    // Without the file, the same scan fails.
    scan(dir.path(), &["--no-config", "--format", "json"]).assert_code(1);

    // Raised to critical: SARIF carries it on the result and the rule, and --fail-on critical
    // trips on it.
    let dir = site("[severity]\n\"HW-SMB1-001\" = \"critical\"\n");
    let run = scan(dir.path(), &["--format", "sarif", "--fail-on", "critical"]);
    run.assert_code(1);
    let sarif = run.json();
    let sarif_run = &sarif["runs"][0];
    let rule = sarif_run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["id"] == "HW-SMB1-001")
        .expect("the rule is described");
    assert_eq!(rule["properties"]["severity"], "critical");
    let result = sarif_run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|result| result["ruleId"] == "HW-SMB1-001")
        .expect("the finding is reported");
    assert_eq!(result["properties"]["severity"], "critical");
    assert_eq!(result["level"], "error");
    let plain = scan(dir.path(), &["--no-config", "--fail-on", "critical"]);
    plain.assert_code(0);
    // Severity selections see the new severity.
    let run = scan(
        dir.path(),
        &[
            "--only",
            "severity>=critical",
            "--format",
            "json",
            "--fail-on",
            "never",
        ],
    );
    run.assert_code(0);
    let report = run.json();
    let rules: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"HW-SMB1-001"), "{rules:?}");
}

#[test]
fn an_unknown_key_is_refused_naming_the_file_and_the_key() {
    let dir = site("[report]\nformat = \"json\"\nfromat = \"sarif\"\n");
    let run = scan(dir.path(), &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("hiveward.toml:3:1")
            && run.stderr.contains("unknown field `fromat`")
            && run.stderr.contains("format"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "nothing was scanned");
    let dir = site("[scann]\njobs = 2\n");
    let run = scan(dir.path(), &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("unknown field `scann`"),
        "{}",
        run.stderr
    );
    // Other commands do not read it.
    hiveward(dir.path(), &["rules", "list"]).assert_code(0);
}

#[test]
fn an_override_of_an_unknown_rule_names_the_nearest_ids() {
    let dir = site("[severity]\n\"HW-SMB1-01\" = \"low\"\n");
    let run = scan(dir.path(), &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("hiveward.toml:2:1")
            && run.stderr.contains("unknown rule id `HW-SMB1-01`")
            && run.stderr.contains("HW-SMB1-001"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn params_from_the_file_reach_the_rules_and_a_param_flag_wins_per_key() {
    // FS01 is build 17763.5458: a minimum above it is a finding of HW-PATCH-004.
    let dir = site(
        "[report]\nformat = \"json\"\nfail_on = \"never\"\n\n[params]\n\"min_ubr.17763\" = \"9999\"\nmin_lm_compatibility_level = \"3\"\n",
    );
    let run = scan(dir.path(), &[]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["params"]["min_ubr.17763"], "9999");
    assert_eq!(severities(&report, "HW-PATCH-004").len(), 1);
    let run = scan(dir.path(), &["--param", "min_ubr.17763=5458"]);
    run.assert_code(0);
    let report = run.json();
    assert_eq!(report["params"]["min_ubr.17763"], "5458");
    assert_eq!(report["params"]["min_lm_compatibility_level"], "3");
    assert!(severities(&report, "HW-PATCH-004").is_empty());
}

#[test]
fn relative_paths_are_read_from_the_file_s_folder() {
    let dir = tempfile::tempdir().unwrap();
    let site_dir: PathBuf = dir.path().join("site");
    fs::create_dir(&site_dir).unwrap();
    hiveward(
        &site_dir,
        &["rules", "new", "custom/SITE-SMB-001", "--dir", "packs"],
    )
    .assert_code(0);
    fs::write(
        site_dir.join("waivers.toml"),
        "[[waiver]]\nrule = \"HW-SMB1-001\"\nhost = \"*\"\njustification = \"retired next month\"\n",
    )
    .unwrap();
    fs::write(
        site_dir.join("hiveward.toml"),
        "[report]\nformat = \"json\"\nfail_on = \"never\"\nwaivers = \"waivers.toml\"\n\n[rules]\ndirs = [\"packs\"]\n",
    )
    .unwrap();
    // Run from the parent folder: the paths are found beside the file, not in the working
    // directory.
    let run = scan(dir.path(), &["--config", "site/hiveward.toml"]);
    run.assert_code(0);
    let report = run.json();
    let findings = report["findings"].as_array().unwrap();
    let smb1: Vec<&Value> = findings
        .iter()
        .filter(|finding| finding["rule"] == "HW-SMB1-001")
        .collect();
    assert!(
        !smb1.is_empty()
            && smb1
                .iter()
                .all(|finding| finding["suppression"].is_object()),
        "{smb1:?}"
    );
    let rules: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"SITE-SMB-001"), "{rules:?}");
}

#[test]
fn a_shard_and_its_merge_must_share_the_overrides() {
    let dir =
        site("[severity]\n\"HW-SMB1-001\" = \"critical\"\n\n[report]\nwaivers = \"absent.toml\"\n");
    // The file's waivers belong to the finished report: a shard's scan leaves them to merge.
    let run = scan(dir.path(), &["--shard", "1/1", "--partial", "part.json"]);
    run.assert_code(0);
    let run = hiveward(
        dir.path(),
        &["--no-config", "merge", "part.json", "--format", "json"],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("differ"), "{}", run.stderr);
    fs::write(
        dir.path().join("hiveward.toml"),
        "[severity]\n\"HW-SMB1-001\" = \"critical\"\n",
    )
    .unwrap();
    let run = hiveward(dir.path(), &["merge", "part.json", "--format", "json"]);
    run.assert_code(1);
    assert_eq!(severities(&run.json(), "HW-SMB1-001"), ["critical"]);
}
