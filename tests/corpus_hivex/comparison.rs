//! The comparison.

use super::*;

/// What hivex cannot read in one hive. Only there may the readers differ, and what each does
/// instead is asserted.
struct HivexLimits {
    /// hivex refuses to open the hive unless given `--unsafe` (its hbin chain is broken).
    needs_unsafe: bool,
    /// Keys, relative to the hive root, that hivex cannot reach even with `--unsafe`, because a
    /// cell on the way is damaged. hiveward must report a damaged-hive error for them (and no
    /// values); if it ever learns to read past the damage, another oracle is needed.
    unreachable: &'static [&'static str],
    /// hivex cannot tell that `ControlSetNNN\Services\HivewardNoSuchService` is absent in the
    /// first control set: it compares the name with every subkey of `Services`, and one of them
    /// is damaged. hiveward (nt-hive) binary-searches the sorted subkey index instead, touches
    /// only readable key cells on the way, and must report the key absent without an error.
    absent_lookup_damaged: bool,
}

const CLEAN_FOR_HIVEX: HivexLimits = HivexLimits {
    needs_unsafe: false,
    unreachable: &[],
    absent_lookup_damaged: false,
};

/// Compares one key's values: `hivex` from the export, `hiveward` from the `values` array.
/// Returns how many values were compared by type and data.
fn compare_values(
    context: &str,
    hivex: &[HivexValue],
    hiveward: &[Value],
    problems: &mut Vec<String>,
) -> usize {
    let mut theirs: BTreeMap<&str, &HivexValue> = BTreeMap::new();
    for value in hivex {
        if theirs.insert(&value.name, value).is_some() {
            problems.push(format!(
                "{context}: hivex lists value {:?} twice",
                value.name
            ));
        }
    }
    let mut ours: BTreeMap<&str, &Value> = BTreeMap::new();
    for value in hiveward {
        let name = value["name"]
            .as_str()
            .unwrap_or_else(|| panic!("{context}: value without a name: {value}"));
        if ours.insert(name, value).is_some() {
            problems.push(format!("{context}: hiveward lists value {name:?} twice"));
        }
    }
    let their_names: BTreeSet<&str> = theirs.keys().copied().collect();
    let our_names: BTreeSet<&str> = ours.keys().copied().collect();
    if their_names != our_names {
        problems.push(format!(
            "{context}: value names differ: only hivex {:?}, only hiveward {:?}",
            their_names.difference(&our_names).collect::<Vec<_>>(),
            our_names.difference(&their_names).collect::<Vec<_>>(),
        ));
    }
    let mut compared = 0;
    for (name, expected) in &theirs {
        let Some(actual) = ours.get(name) else {
            continue;
        };
        compared += 1;
        let expected_type = type_name(expected.type_code);
        let expected_data = expected_data(expected.type_code, &expected.bytes);
        if actual["type"] != json!(expected_type) || actual["data"] != expected_data {
            problems.push(format!(
                "{context}: value {name:?}: hivex reads {expected_type} {expected_data} (raw {}), \
                 hiveward reads {} {}",
                hex(&expected.bytes),
                actual["type"],
                actual["data"],
            ));
        }
    }
    compared
}

/// Compares every control set's four keys of one hive, copied alone into a temporary directory
/// (for `SYSTEM_B` that leaves its logs behind, so both readers see the same primary bytes).
fn compare_system_hive(relative: &str, limits: &HivexLimits) {
    let Some(corpus) = corpus_with_hivex() else {
        return;
    };
    let source = corpus.join("hives").join(relative);
    assert!(
        source.is_file(),
        "{} is missing from the corpus",
        source.display()
    );
    let hive_name = file_name(relative);
    let isolated = Isolated::new(std::slice::from_ref(&source));
    let hive = isolated.dir.path().join(&hive_name);

    // Whether hivex opens the hive on its own.
    let select = hivexregedit(&hive, "Select", 1, false);
    if limits.needs_unsafe {
        assert!(
            !select.success
                && select.stderr.contains("hivex_open")
                && select.stderr.contains("Operation not supported"),
            "{relative}: hivex was expected to refuse the hive without --unsafe; stderr:\n{}",
            select.stderr
        );
    } else {
        assert!(
            select.success && select.stderr.is_empty(),
            "{relative}: hivex cannot export Select:\n{}",
            select.stderr
        );
    }
    let unsafe_mode = limits.needs_unsafe;

    // The control sets, read by both: every section directly below the root. At depth 2 hivex
    // also reads each root subkey's values and tries its children; with `--unsafe` it complains
    // on stderr about those it cannot read (in corrupted_system_hive: the children of
    // ControlSet003, a value of Setup), which does not make the list of root subkeys doubtful.
    // Only a failure to list the root's own children does.
    let root = hivexregedit(&hive, r"\", 2, unsafe_mode);
    assert!(
        root.success
            && !root
                .stderr
                .lines()
                .any(|line| line.starts_with(r"Could not get children of \ at")),
        "{relative}: hivex cannot list the root:\n{}",
        root.stderr
    );
    let root_keys = parse_hivex_export(&root.stdout);
    let hivex_sets = control_sets(
        root_keys
            .iter()
            .filter_map(|key| key.path.strip_prefix('\\'))
            .filter(|path| !path.is_empty() && !path.contains('\\')),
    );
    let host = isolated.host_with_key(&hive_name, r"HKLM\SYSTEM");
    assert_eq!(host["key"]["found"], true, "{relative}: {:#}", host["key"]);
    let hiveward_sets = control_sets(
        host["key"]["subkeys"]
            .as_array()
            .expect("subkeys is an array")
            .iter()
            .map(|name| name.as_str().unwrap()),
    );
    assert_eq!(
        hiveward_sets, hivex_sets,
        "{relative}: the control sets differ"
    );
    assert!(!hivex_sets.is_empty(), "{relative}: no control set");

    let mut problems = Vec::new();
    let mut compared = 0;
    let mut values_compared = 0;
    for set in &hivex_sets {
        for key in KEYS {
            let inner = format!(r"{set}\{key}");
            let requested = format!(r"HKLM\SYSTEM\{inner}");
            let context = format!("{relative} {inner}");
            let export = hivexregedit(&hive, &inner, 1, unsafe_mode);
            let report = isolated.host_with_key(&hive_name, &requested)["key"].clone();
            let found = report["found"].as_bool().expect("found is a boolean");
            let error = &report["error"];
            let values = report["values"].as_array().expect("values is an array");

            if limits.unreachable.contains(&inner.as_str()) {
                // hivex stops at a damaged cell on the way ("node_get_child: Bad address").
                if export.success || !export.stderr.contains("Bad address") {
                    problems.push(format!(
                        "{context}: hivex was expected to fail with `Bad address`; \
                         it exited {} with stderr {:?}",
                        export.success, export.stderr
                    ));
                }
                if found || error["code"] != "hiveward::hive::corrupt" || !values.is_empty() {
                    problems.push(format!(
                        "{context}: hivex cannot read the damaged path, so hiveward must report \
                         hiveward::hive::corrupt and no values; it reports {report:#}"
                    ));
                }
                continue;
            }
            if !export.success {
                // A key missing in the hive: both readers must say so, hiveward without error.
                if !export.stderr.contains("path not found in this hive") {
                    problems.push(format!(
                        "{context}: hivex fails unexpectedly: {}",
                        export.stderr
                    ));
                } else if found || !error.is_null() {
                    problems.push(format!(
                        "{context}: absent for hivex, but hiveward reports {report:#}"
                    ));
                }
                continue;
            }
            if !export.stderr.is_empty() {
                // With --unsafe hivex skips what it cannot read and says so on stderr.
                problems.push(format!(
                    "{context}: hivex read the key only in part: {}",
                    export.stderr
                ));
                continue;
            }
            let keys = parse_hivex_export(&export.stdout);
            let [exported] = keys.as_slice() else {
                problems.push(format!(
                    "{context}: hivex exported {} sections at depth 1",
                    keys.len()
                ));
                continue;
            };
            if !found || !error.is_null() {
                problems.push(format!(
                    "{context}: present for hivex ({}) but hiveward reports {report:#}",
                    exported.path
                ));
                continue;
            }
            let resolved = report["resolved_path"].as_str().unwrap_or_default();
            if !resolved.eq_ignore_ascii_case(&requested) {
                problems.push(format!(
                    "{context}: hiveward resolved the key to {resolved:?}"
                ));
            }
            values_compared += compare_values(&context, &exported.values, values, &mut problems);
            compared += 1;
        }
    }

    // A key that no hive holds, to show both readers report absence the same way.
    let first_set = hivex_sets.first().unwrap();
    let inner = format!(r"{first_set}\Services\HivewardNoSuchService\Parameters");
    let export = hivexregedit(&hive, &inner, 1, unsafe_mode);
    let hivex_says = if limits.absent_lookup_damaged {
        "Bad address"
    } else {
        "path not found in this hive"
    };
    assert!(
        !export.success && export.stderr.contains(hivex_says),
        "{relative} {inner}: hivex was expected to fail with {hivex_says:?}: {}",
        export.stderr
    );
    let report = &isolated.host_with_key(&hive_name, &format!(r"HKLM\SYSTEM\{inner}"))["key"];
    assert!(
        report["found"] == false && report["error"].is_null(),
        "{relative} {inner}: absent for hivex, but hiveward reports {report:#}"
    );

    assert!(
        problems.is_empty(),
        "{relative}: hiveward and hivex disagree:\n{}",
        problems.join("\n")
    );
    let expected_compared = hivex_sets.len() * KEYS.len() - limits.unreachable.len();
    println!(
        "{relative}: {compared} keys and {values_compared} values compared with hivex in \
         {hivex_sets:?}"
    );
    assert!(
        compared > 0 && compared <= expected_compared && values_compared > 0,
        "{relative}: {compared} keys compared"
    );
}

#[test]
fn dfwinreg_system_matches_hivex() {
    compare_system_hive("dfwinreg/SYSTEM", &CLEAN_FOR_HIVEX);
}

#[test]
fn regipy_system_matches_hivex() {
    compare_system_hive("regipy/SYSTEM", &CLEAN_FOR_HIVEX);
}

#[test]
fn regipy_system_2_matches_hivex() {
    compare_system_hive("regipy/SYSTEM_2", &CLEAN_FOR_HIVEX);
}

/// Dirty, with logs; copied alone, without them, so hiveward reads the same primary bytes as
/// hivex (which does not apply logs). The run with the logs is
/// [`regipy_system_b_with_its_logs`].
#[test]
fn regipy_system_b_primary_matches_hivex() {
    compare_system_hive("regipy/SYSTEM_B", &CLEAN_FOR_HIVEX);
}

/// Dirty, without logs: both readers read it as it is.
#[test]
fn regipy_system_win_10_1709_matches_hivex() {
    compare_system_hive("regipy/SYSTEM_WIN_10_1709", &CLEAN_FOR_HIVEX);
}

/// The hbin chain breaks after 25 pages (hivex: "trailing garbage at end of file (at 0x1a000,
/// after 25 pages)"), so hivex opens it only with `--unsafe`, and then cannot reach
/// `ControlSet001\Control\Lsa` nor anything in `ControlSet003` (a damaged cell on the way), nor
/// tell a missing service from a damaged one. The other keys of `ControlSet001` are still
/// compared value for value.
#[test]
fn regipy_corrupted_system_hive_matches_hivex_where_hivex_reads_it() {
    compare_system_hive(
        "regipy/corrupted_system_hive",
        &HivexLimits {
            needs_unsafe: true,
            unreachable: &[
                r"ControlSet001\Control\Lsa",
                r"ControlSet003\Services\LanmanServer\Parameters",
                r"ControlSet003\Services\LanmanWorkstation\Parameters",
                r"ControlSet003\Control\Lsa",
                r"ControlSet003\Control\ComputerName\ComputerName",
            ],
            absent_lookup_damaged: true,
        },
    );
}

/// `SYSTEM_B` with `SYSTEM_B.LOG1` and `.LOG2`: hiveward pairs the logs with the hive and either
/// applies them in memory or reads the hive as it is. hivex never applies logs, so it is an
/// oracle only in the second case; in the first, the recovered keys must still be found and read
/// without error.
#[test]
fn regipy_system_b_with_its_logs() {
    let Some(corpus) = corpus_with_hivex() else {
        return;
    };
    let dir = corpus.join("hives/regipy");
    let isolated = Isolated::new(&[
        dir.join("SYSTEM_B"),
        dir.join("SYSTEM_B.LOG1"),
        dir.join("SYSTEM_B.LOG2"),
    ]);
    let primary = isolated.dir.path().join("SYSTEM_B");
    let mut problems = Vec::new();
    for key in KEYS {
        let inner = format!(r"ControlSet001\{key}");
        let host = isolated.host_with_key("SYSTEM_B", &format!(r"HKLM\SYSTEM\{inner}"));
        let file = &host["files"][0];
        let logs: BTreeSet<String> = file["logs"]
            .as_array()
            .expect("logs is an array")
            .iter()
            .map(|log| file_name(log.as_str().unwrap()))
            .collect();
        assert_eq!(
            logs,
            BTreeSet::from(["SYSTEM_B.LOG1".to_string(), "SYSTEM_B.LOG2".to_string()]),
            "{file:#}"
        );
        let report = &host["key"];
        assert_eq!(report["found"], true, "{inner}: {report:#}");
        assert!(report["error"].is_null(), "{inner}: {report:#}");
        let values = report["values"].as_array().expect("values is an array");
        assert!(!values.is_empty(), "{inner}: {report:#}");
        match file["status"].as_str() {
            // Logs not applied: the hive was read as it is, which is what hivex reads, so the
            // values must match.
            Some("partial") => {
                assert!(
                    file["notices"]
                        .to_string()
                        .contains("hiveward::hive::log_not_applied"),
                    "a partial read beside logs must say why: {file:#}"
                );
                let compared = compare_values(
                    &format!("regipy/SYSTEM_B (with logs, not applied) {inner}"),
                    &hivex_primary_values(&primary, &inner),
                    values,
                    &mut problems,
                );
                assert_eq!(compared, values.len(), "{inner}: {}", problems.join("\n"));
            }
            // Logs applied: hivex has no view of the recovered hive, and recovery may change
            // these keys, so differences from the primary are printed, not asserted.
            Some("read") => {
                assert!(
                    file["notices"]
                        .to_string()
                        .contains("hiveward::hive::recovered"),
                    "a read of a dirty hive must say it was recovered: {file:#}"
                );
                let mut differences = Vec::new();
                compare_values(
                    &format!("regipy/SYSTEM_B (recovered) {inner}"),
                    &hivex_primary_values(&primary, &inner),
                    values,
                    &mut differences,
                );
                println!(
                    "regipy/SYSTEM_B: logs applied; {inner} differs from the primary in {} ways{}",
                    differences.len(),
                    differences
                        .iter()
                        .map(|difference| format!("\n  {difference}"))
                        .collect::<String>()
                );
            }
            other => panic!("unexpected status {other:?} for SYSTEM_B: {file:#}"),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// hivex's reading of one key of a primary hive that it reads without complaint.
fn hivex_primary_values(hive: &Path, key: &str) -> Vec<HivexValue> {
    let export = hivexregedit(hive, key, 1, false);
    assert!(
        export.success && export.stderr.is_empty(),
        "{key}: {}",
        export.stderr
    );
    let mut keys = parse_hivex_export(&export.stdout);
    assert_eq!(keys.len(), 1, "{key}: {}", export.stdout);
    keys.remove(0).values
}

/// The hard-coded [`SYSTEM_HIVES`] are exactly the files of `hives/` that are hives (they start
/// with `regf`) and hold a `Select` key that hivex can export, with `--unsafe` for damaged ones.
#[test]
fn system_hive_list_matches_the_corpus() {
    let Some(corpus) = corpus_with_hivex() else {
        return;
    };
    let hives = corpus.join("hives");
    let mut found = BTreeSet::new();
    for file in regular_files(&hives) {
        let mut magic = [0u8; 4];
        let is_hive = std::fs::File::open(&file)
            .and_then(|mut opened| std::io::Read::read_exact(&mut opened, &mut magic))
            .is_ok()
            && &magic == b"regf";
        if !is_hive {
            continue;
        }
        let select = hivexregedit(&file, "Select", 1, true);
        if select.success && select.stdout.contains(r"[\Select]") {
            let relative = file.strip_prefix(&hives).unwrap();
            found.insert(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    let listed: BTreeSet<String> = SYSTEM_HIVES.iter().map(|name| name.to_string()).collect();
    assert_eq!(found, listed);
}

/// Every regular file below `dir`, sorted.
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

fn is_transaction_log(path: &Path) -> bool {
    path.extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| {
            ["log1", "log2"]
                .iter()
                .any(|log| extension.eq_ignore_ascii_case(log))
        })
}

/// `inspect` on the whole of `hives/` exits 0, and lists every file but the transaction logs as
/// a host file with a known `hive_kind`; the SYSTEM hives are recognised as such. Reading the
/// four keys through `CurrentControlSet` on every host exits 0 as well.
#[test]
fn inspect_lists_every_corpus_hive() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let hives = corpus.join("hives");
    let report = hiveward_inspect(&[hives.as_os_str()]);
    // File names repeat across folders (`dfwinreg/SYSTEM`, `regipy/SYSTEM`): count them.
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for host in report["hosts"].as_array().expect("hosts is an array") {
        for file in host["files"].as_array().expect("files is an array") {
            let name = file_name(file["path"].as_str().unwrap());
            let kind = file["hive_kind"].as_str().unwrap_or_default().to_string();
            assert!(
                HIVE_KINDS.contains(&kind.as_str()),
                "{name}: unexpected hive_kind in {file:#}"
            );
            listed.entry(name).or_default().push(kind);
        }
    }
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for file in regular_files(&hives) {
        if !is_transaction_log(&file) {
            *expected
                .entry(file_name(&file.to_string_lossy()))
                .or_default() += 1;
        }
    }
    let listed_counts: BTreeMap<String, usize> = listed
        .iter()
        .map(|(name, kinds)| (name.clone(), kinds.len()))
        .collect();
    assert_eq!(
        listed_counts, expected,
        "inspect must list every file of hives/ but the logs, once; passed over: {:#}",
        report["passed_over"]
    );
    for relative in SYSTEM_HIVES {
        let name = file_name(relative);
        assert!(
            listed[&name].iter().all(|kind| kind == "SYSTEM"),
            "{relative}: {:?}",
            listed[&name]
        );
    }

    for key in KEYS {
        let key = format!(r"HKLM\SYSTEM\CurrentControlSet\{key}");
        let report = hiveward_inspect(&[hives.as_os_str(), "--key".as_ref(), key.as_ref()]);
        let hosts = report["hosts"].as_array().expect("hosts is an array");
        assert!(
            hosts
                .iter()
                .all(|host| host["key"]["requested"] == json!(key)),
            "{key}"
        );
    }
}
