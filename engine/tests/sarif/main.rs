//! The SARIF 2.1.0 reporter, on reports made by running real rules on evidence built here and on
//! the repository's `examples/bundle`.
//!
//! `tests/data/sarif-schema-2.1.0.json` is the OASIS SARIF 2.1.0 JSON schema, published by the
//! OASIS Static Analysis Results Interchange Format (SARIF) TC
//! (https://github.com/oasis-tcs/sarif-spec, `Schemata/sarif-schema-2.1.0.json`), as shipped in
//! the MIT-licensed `serde-sarif` 0.8.0 crate. OASIS makes its schemas available under the
//! OASIS IPR policy; it is vendored unchanged so the tests need no network.

use std::path::{Path, PathBuf};
use std::process::Command;

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
use hiveward_engine::{
    run_scan, sarif_bytes, security_severity, to_sarif, Limits, PackSource, RuleSet, SarifOptions,
    ScanReport, ScanSettings, Severity, Suppression, SuppressionKind, SRCROOT,
};
use hiveward_testkit::{hive_from_reg, workspace_root};
use serde_json::Value;

mod driver;
mod limits;
mod notifications;
mod results;
mod validation;

const SMB_PARAMETERS: &str = r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters";
const STRICT_NAME_VALUE: &str =
    r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters\DisableStrictNameChecking";
const EVTX_NAME: &str = "Microsoft-Windows-SMBServer%4Security.evtx";

fn system_hive(computer: &str, lanman: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{computer}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n{lanman}"
    ))
}

fn rule_text(id: &str, severity: &str, body: &str) -> String {
    format!(
        "//! A test rule.\n\
         export const RULE = #{{\n\
         \x20   id: \"{id}\",\n\
         \x20   pack: \"sarif-test\",\n\
         \x20   title: \"Test rule {id} fired ({severity})\",\n\
         \x20   description: \"A rule the SARIF tests use.\",\n\
         \x20   severity: \"{severity}\",\n\
         \x20   tags: [\"test\"],\n\
         \x20   fix: \"Nothing to fix on {{{{host}}}}.\",\n\
         }};\n\
         \n\
         fn check(host) {{\n{body}\n}}\n"
    )
}

/// Evidence and rules written to a temporary folder:
///
/// - `Triage Copy/FS01`: a triage tree whose SYSTEM hive turns strict name checking off and
///   leaves SPN validation at 0, and an empty (so unreadable) `Microsoft-Windows-SMBServer%4Security.evtx`;
/// - `Triage Copy/AAA`: a SYSTEM hive with no SMB settings, so it sorts first;
/// - `packs/sarif-test`: a high rule that fires on FS01 only and has no evidence, a low rule
///   that fires everywhere, and a rule that fails on FS01.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rules: RuleSet,
    report: ScanReport,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = dir.path().to_path_buf();
        let triage = root.join("Triage Copy");
        let fs01 = triage.join("FS01/Windows/System32");
        std::fs::create_dir_all(fs01.join("config")).unwrap();
        std::fs::create_dir_all(fs01.join("winevt/Logs")).unwrap();
        std::fs::write(
            fs01.join("config/SYSTEM"),
            system_hive(
                "FS01",
                "\"DisableStrictNameChecking\"=dword:00000001\n\"SmbServerNameHardeningLevel\"=dword:00000000\n",
            ),
        )
        .unwrap();
        std::fs::write(fs01.join("winevt/Logs").join(EVTX_NAME), b"").unwrap();
        let aaa = triage.join("AAA/Windows/System32/config");
        std::fs::create_dir_all(&aaa).unwrap();
        std::fs::write(
            aaa.join("SYSTEM"),
            system_hive("AAA", "\"Comment\"=\"none\"\n"),
        )
        .unwrap();

        let pack = root.join("packs/sarif-test");
        std::fs::create_dir_all(&pack).unwrap();
        std::fs::write(
            pack.join("pack.toml"),
            "name = \"sarif-test\"\nversion = \"0.1.0\"\ndescription = \"Rules for the SARIF tests.\"\nmin_hiveward = \"0.1.0\"\n",
        )
        .unwrap();
        for (id, severity, body) in [
            (
                "T-HIGH-001",
                "high",
                "    if host.name != \"FS01\" { return []; }\n    [#{ message: `High-severity finding on ${host.name}` }]",
            ),
            (
                "T-LOW-001",
                "low",
                "    [#{ message: `Low-severity finding on ${host.name}.` }]",
            ),
            (
                "T-FAIL-001",
                "medium",
                "    if host.name == \"FS01\" {\n        throw \"cannot decide\";\n    }\n    []",
            ),
        ] {
            std::fs::write(
                pack.join(format!("{id}.rhai")),
                rule_text(id, severity, body),
            )
            .unwrap();
        }
        let mut packs = PackSource::builtin();
        packs.extend(PackSource::load_dir(&pack).expect("test pack loads"));
        let rules = RuleSet::load(packs, Limits::default()).expect("rules load");
        let report = scan(&[triage], &rules);
        Fixture {
            _dir: dir,
            root,
            rules,
            report,
        }
    }

    fn options(&self) -> SarifOptions {
        SarifOptions {
            source_root: Some(self.root.clone()),
            ..SarifOptions::default()
        }
    }

    fn sarif(&self, options: &SarifOptions) -> Value {
        sarif_json(&self.report, &self.rules, options)
    }
}

fn scan(inputs: &[PathBuf], rules: &RuleSet) -> ScanReport {
    let collection = collect(
        discover(inputs, &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(
        collection,
        rules,
        &ScanSettings {
            inputs: inputs.to_vec(),
            profile: "cis".to_string(),
            ..ScanSettings::default()
        },
    )
}

fn builtin_rules() -> RuleSet {
    RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs load")
}

fn bundle_report(rules: &RuleSet) -> ScanReport {
    scan(&[workspace_root().join("examples/bundle")], rules)
}

fn workspace_options() -> SarifOptions {
    SarifOptions {
        source_root: Some(workspace_root()),
        ..SarifOptions::default()
    }
}

fn sarif_json(report: &ScanReport, rules: &RuleSet, options: &SarifOptions) -> Value {
    let bytes = sarif_bytes(report, rules, options);
    assert!(bytes.ends_with(b"}\n"), "pretty JSON ending in a newline");
    serde_json::from_slice(&bytes).expect("SARIF output is JSON")
}

fn run(sarif: &Value) -> &Value {
    let runs = sarif["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    &runs[0]
}

fn results(sarif: &Value) -> &Vec<Value> {
    run(sarif)["results"].as_array().expect("results")
}

fn driver_rules(sarif: &Value) -> &Vec<Value> {
    run(sarif)["tool"]["driver"]["rules"]
        .as_array()
        .expect("driver rules")
}

fn notifications(sarif: &Value) -> &Vec<Value> {
    run(sarif)["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("toolExecutionNotifications")
}

fn result_for<'a>(sarif: &'a Value, rule: &str, host: &str) -> &'a Value {
    results(sarif)
        .iter()
        .find(|result| result["ruleId"] == rule && result["properties"]["host"] == host)
        .unwrap_or_else(|| panic!("no {rule} result for {host}"))
}

fn uri(location: &Value) -> &str {
    location["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("artifactLocation.uri")
}
