//! Defect 14 (b): SARIF and JUnit account for every file.

use super::*;

fn system_hive(computer: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{computer}\"\n"
    ))
}

/// A bundle with a clean hive, a dirty hive without logs, an empty hive file and a file that
/// is not evidence, scanned with one rule.
pub(super) fn mixed_bundle(
    dir: &Path,
    deadline: Option<RunDeadline>,
    rules: &RuleSet,
) -> hiveward_engine::ScanReport {
    let bundle = dir.join("bundle");
    for (folder, bytes) in [
        ("FS01", system_hive("FS01")),
        (
            "WS02",
            hiveward_testkit::dirty_primary(&system_hive("WS02"), 7),
        ),
        ("HOSTB", Vec::new()),
    ] {
        std::fs::create_dir_all(bundle.join(folder)).unwrap();
        std::fs::write(bundle.join(folder).join("SYSTEM"), bytes).unwrap();
    }
    std::fs::write(bundle.join("notes.txt"), "not evidence\n").unwrap();
    let collection = collect(
        discover(std::slice::from_ref(&bundle), &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(
        collection,
        rules,
        &ScanSettings {
            inputs: vec![bundle],
            profile: "cis".to_string(),
            deadline,
            ..ScanSettings::default()
        },
    )
}

#[test]
fn sarif_artifacts_and_junit_name_every_file_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let text = rule("T-ANY-001", "", "fn check(host) { [] }");
    let rules = load_with(vec![pack("p", &[("T-ANY-001", &text)])], Limits::default());
    let report = mixed_bundle(dir.path(), None, &rules);
    let mut files: Vec<(String, &str)> = Vec::new();
    for host in &report.hosts {
        for file in &host.files {
            let status = serde_json::to_value(file.status).unwrap();
            files.push((
                file.path.clone(),
                if status == "read" {
                    "read"
                } else if status == "partial" {
                    "partial"
                } else {
                    "unreadable"
                },
            ));
        }
    }
    let statuses: Vec<&str> = files.iter().map(|(_, status)| *status).collect();
    for wanted in ["read", "partial", "unreadable"] {
        assert!(
            statuses.contains(&wanted),
            "the fixture has a {wanted} file: {files:?}"
        );
    }
    assert_eq!(report.passed_over.len(), 1);

    let options = SarifOptions {
        source_root: Some(dir.path().to_path_buf()),
        ..SarifOptions::default()
    };
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &options)).unwrap();
    let artifacts = sarif["runs"][0]["artifacts"].as_array().expect("artifacts");
    let listed: BTreeMap<String, (String, Value)> = artifacts
        .iter()
        .map(|artifact| {
            (
                artifact["location"]["uri"].as_str().unwrap().to_string(),
                (
                    artifact["properties"]["status"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    artifact["roles"].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(listed.len(), files.len() + 1, "{listed:?}");
    for (path, status) in &files {
        let uri = Path::new(path)
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let (found, roles) = &listed[&uri];
        assert_eq!(found, status, "{uri}");
        assert_eq!(roles, &serde_json::json!(["analysisTarget"]));
    }
    assert_eq!(listed["bundle/notes.txt"].0, "passed_over");

    let junit = junit_xml(&report);
    let document = roxmltree::Document::parse(&junit).unwrap();
    let properties: Vec<(String, String)> = document
        .descendants()
        .filter(|node| node.has_tag_name("property"))
        .map(|node| {
            (
                node.attribute("name").unwrap().to_string(),
                node.attribute("value").unwrap().to_string(),
            )
        })
        .collect();
    for (path, status) in &files {
        assert!(
            properties.contains(&(status.to_string(), path.clone())),
            "{path} ({status}) in {properties:?}"
        );
    }
    assert!(properties
        .iter()
        .any(|(name, value)| name == "passed over" && value.contains("notes.txt")));
    // The evidence suites hold no testcases: the totals still count the rules' cases only.
    let root = document.root_element();
    let cases = document
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .count();
    assert_eq!(root.attribute("tests").unwrap(), cases.to_string());
}
