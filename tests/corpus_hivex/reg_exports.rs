//! The same evidence as a hive and as a `.reg` export: every corpus SYSTEM hive that hivex reads
//! whole is exported by `hivexregedit --export` (under `HKEY_LOCAL_MACHINE\SYSTEM`, as
//! `reg export HKLM\SYSTEM` writes it) and both are scanned with every built-in rule. A `.reg`
//! export holds the same keys and values, so each host must get the same outcome, reason and
//! findings (message, fix, evidence) from both. The one allowed difference is the note a dirty
//! hive adds: read without logs, its verdicts are inferred and say why, and the export's are not.

use super::*;

/// The SYSTEM hives of the corpus that hivex reads whole, relative to `hives/`. Each is scanned
/// alone (a dirty one without its logs, as hivex reads it).
const EXPORTED: [&str; 5] = [
    "dfwinreg/SYSTEM",
    "regipy/SYSTEM",
    "regipy/SYSTEM_2",
    "regipy/SYSTEM_B",
    "regipy/SYSTEM_WIN_10_1709",
];

/// What a finding's message gains when it rests on a dirty hive read as it is.
fn dirty_message_note(file: &str) -> String {
    format!(
        " (Inferred: {file} was read as a dirty hive, with no transaction log that could bring it \
         up to date, so its latest changes may be missing.)"
    )
}

/// The reason a pass gets when it rests on a dirty hive read as it is.
fn dirty_pass_reason(file: &str) -> String {
    format!(
        "inferred: it read {file}, a hive read dirty with no transaction log that could bring it \
         up to date, so the latest changes to the settings it judged may be missing"
    )
}

/// Runs `hiveward scan DIR --format json` with every built-in rule and returns the report.
fn scan_all_rules(dir: &Path) -> Value {
    let output = Command::cargo_bin("hiveward")
        .unwrap()
        .args([
            "scan",
            "--no-config",
            "--format",
            "json",
            "--fail-on",
            "never",
        ])
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{}: {stderr}", dir.display());
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{}: no JSON report ({error}): {stderr}", dir.display()))
}

/// One host's outcomes and findings from one report, keyed by rule, with the host's one file
/// named `FILE` and, on a dirty hive, the dirty-hive notes taken out. Also says whether the file
/// was a dirty hive and how many notes were taken out.
struct HostVerdicts {
    outcomes: BTreeMap<String, (String, String, u64)>,
    findings: BTreeMap<String, Vec<String>>,
    inferred: BTreeMap<String, Vec<bool>>,
    dirty: bool,
    notes_removed: usize,
}

fn host_verdicts(report: &Value, host: &str) -> HostVerdicts {
    let entry = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == host)
        .unwrap_or_else(|| panic!("no host {host}"));
    let files = entry["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{host}: {files:#?}");
    let file = files[0]["path"].as_str().unwrap().to_string();
    let dirty = files[0]["hive_state"]["state"] == "dirty";
    let mut notes_removed = 0;
    let mut normalise = |text: &str| -> String {
        let mut text = text.to_string();
        if dirty {
            // A pass inferred for a reason of its own names the dirty hive after it.
            let after_own_reason = format!(
                "; and {}",
                dirty_pass_reason(&file).trim_start_matches("inferred: ")
            );
            for note in [
                dirty_message_note(&file),
                after_own_reason,
                dirty_pass_reason(&file),
            ] {
                notes_removed += text.matches(&note).count();
                text = text.replace(&note, "");
            }
        }
        text.replace(&file, "FILE")
    };
    let mut outcomes = BTreeMap::new();
    for outcome in entry["outcomes"].as_array().unwrap() {
        outcomes.insert(
            outcome["rule"].as_str().unwrap().to_string(),
            (
                outcome["outcome"].as_str().unwrap().to_string(),
                normalise(outcome["reason"].as_str().unwrap_or_default()),
                outcome["findings"].as_u64().unwrap_or_default(),
            ),
        );
    }
    let mut findings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut inferred: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    for finding in report["findings"].as_array().unwrap() {
        if finding["host"] != host {
            continue;
        }
        let rule = finding["rule"].as_str().unwrap().to_string();
        let mut compared = finding.clone();
        let object = compared.as_object_mut().unwrap();
        // The fingerprint hashes what the finding was read from; `inferred` is compared apart.
        object.remove("fingerprint");
        inferred
            .entry(rule.clone())
            .or_default()
            .push(object.remove("inferred") == Some(Value::Bool(true)));
        findings
            .entry(rule)
            .or_default()
            .push(normalise(&compared.to_string()));
    }
    HostVerdicts {
        outcomes,
        findings,
        inferred,
        dirty,
        notes_removed,
    }
}

#[test]
fn hivex_reg_exports_of_the_corpus_hives_give_the_hives_verdicts() {
    let Some(corpus) = corpus_with_hivex() else {
        return;
    };
    let hives_dir = tempfile::tempdir().unwrap();
    let exports_dir = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for relative in EXPORTED {
            let hive = corpus.join("hives").join(relative);
            let folder = relative.replace('/', "_");
            let (hives_dir, exports_dir) = (hives_dir.path(), exports_dir.path());
            scope.spawn(move || {
                std::fs::create_dir(hives_dir.join(&folder)).unwrap();
                std::fs::copy(&hive, hives_dir.join(&folder).join("SYSTEM")).unwrap();
                let output = StdCommand::new("hivexregedit")
                    .args(["--export", "--prefix", r"HKEY_LOCAL_MACHINE\SYSTEM"])
                    .arg(&hive)
                    .arg(r"\")
                    .output()
                    .unwrap_or_else(|error| panic!("cannot run hivexregedit: {error}"));
                assert!(
                    output.status.success(),
                    "{relative}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                std::fs::create_dir(exports_dir.join(&folder)).unwrap();
                std::fs::write(exports_dir.join(&folder).join("SYSTEM.reg"), &output.stdout)
                    .unwrap();
            });
        }
    });

    let from_hives = scan_all_rules(hives_dir.path());
    let from_exports = scan_all_rules(exports_dir.path());
    let host_names = |report: &Value| -> BTreeSet<String> {
        report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|host| host["name"].as_str().unwrap().to_string())
            .collect()
    };
    let names = host_names(&from_hives);
    assert_eq!(names.len(), EXPORTED.len(), "one host per hive: {names:?}");
    assert_eq!(host_names(&from_exports), names);

    let mut findings_compared = 0;
    let mut dirty_hosts = 0;
    for host in &names {
        let hive = host_verdicts(&from_hives, host);
        let export = host_verdicts(&from_exports, host);
        assert!(!export.dirty);
        assert_eq!(hive.outcomes, export.outcomes, "{host}: outcomes");
        assert_eq!(hive.findings, export.findings, "{host}: findings");
        findings_compared += hive.findings.values().map(Vec::len).sum::<usize>();
        if hive.dirty {
            dirty_hosts += 1;
            assert!(
                hive.notes_removed > 0,
                "{host}: no verdict says it is inferred"
            );
            for (rule, flags) in &hive.inferred {
                assert!(flags.iter().all(|&flag| flag), "{host} {rule}: {flags:?}");
            }
        } else {
            assert_eq!(hive.inferred, export.inferred, "{host}: inferred");
        }
    }
    println!(
        "{} hosts, {findings_compared} findings compared ({dirty_hosts} dirty hives)",
        names.len()
    );
    assert!(findings_compared > 0 && dirty_hosts > 0 && dirty_hosts < names.len());
}
