//! End-to-end tests of sharded scans: `hiveward scan --shard K/N --partial FILE` and
//! `hiveward merge`. The merged JSON and SARIF must be byte-identical to one scan of the whole
//! bundle, and merging what does not belong together must be refused.

mod support;

use std::fs;
use std::path::Path;

use hiveward_testkit::hive_from_reg;
use serde_json::Value;
use support::{hiveward, hiveward_env, root, Run};

/// A SYSTEM hive of host `name`: a file server that lists `optional` as OptionalNames, with
/// signing and SMB settings that differ by `variant`.
fn system_hive(name: &str, variant: u32, optional: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\
         \"Current\"=dword:00000001\n\"Default\"=dword:00000001\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\
         \"ComputerName\"=\"{name}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa]\n\
         \"LmCompatibilityLevel\"=dword:{level:08x}\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n\
         \"SmbServerNameHardeningLevel\"=dword:{variant:08x}\n\
         \"RequireSecuritySignature\"=dword:{sign:08x}\n\
         \"OptionalNames\"=\"{optional}\"\n\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanWorkstation\\Parameters]\n\
         \"EnablePlainTextPassword\"=dword:{plain:08x}\n\
         \"RequireSecuritySignature\"=dword:{sign:08x}\n",
        level = variant + 2,
        sign = variant % 2,
        plain = u32::from(variant.is_multiple_of(3)),
        variant = variant % 3,
    ))
}

/// A client's HKCU hive that mapped `\\server\share`.
fn hkcu_hive(server: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n\
         [HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##{server}#share]\n\
         \"_LabelFromReg\"=\"share\"\n"
    ))
}

/// A bundle of `hosts` folders: servers, and clients that reach them by real names and by
/// aliases no host owns, so that fleet rules have something to judge across shards.
fn write_fleet(folder: &Path, hosts: usize) {
    for index in 0..hosts {
        let name = format!("HOST{index:03}");
        let dir = folder.join(&name);
        fs::create_dir_all(&dir).unwrap();
        let alias = format!("ALIAS{}", index % 4);
        let system = system_hive(&name, index as u32, &alias);
        // Every seventh host's SYSTEM hive is dirty, with no log beside it: its findings are
        // inferred, fleet rules' included, whichever shard judged it.
        let system = if index % 7 == 2 {
            hiveward_testkit::dirty_primary(&system, 41)
        } else {
            system
        };
        fs::write(dir.join("SYSTEM"), system).unwrap();
        if index % 3 == 1 {
            let target = match index % 2 {
                0 => format!("HOST{:03}", (index + 5) % hosts),
                _ => format!("CNAME{}", index % 5),
            };
            fs::write(dir.join("NTUSER.DAT"), hkcu_hive(&target)).unwrap();
        }
    }
}

/// A scan of `input` in one process, as JSON and SARIF bytes.
fn single_scan(dir: &Path, input: &str) -> (Vec<u8>, Vec<u8>) {
    let run = hiveward(
        dir,
        &[
            "scan",
            input,
            "--format",
            "json",
            "-o",
            "single.json",
            "--output-format",
            "sarif:single.sarif",
            "--fail-on",
            "never",
            "--allow-partial",
        ],
    );
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    (
        fs::read(dir.join("single.json")).unwrap(),
        fs::read(dir.join("single.sarif")).unwrap(),
    )
}

/// Scans every shard of `count` into `partial-K.json` and returns their names.
fn scan_shards(dir: &Path, input: &str, count: usize, extra: &[&str]) -> Vec<String> {
    (1..=count)
        .map(|index| {
            let file = format!("partial-{index}.json");
            let shard = format!("{index}/{count}");
            let mut args = vec!["scan", input, "--shard", &shard, "--partial", &file];
            args.extend_from_slice(extra);
            let run = hiveward(dir, &args);
            run.assert_code(0);
            assert!(
                run.stderr.contains(&format!("shard {shard}")),
                "{}",
                run.stderr
            );
            file
        })
        .collect()
}

/// Merges `partials` into JSON and SARIF; returns the run and the bytes.
fn merge(dir: &Path, partials: &[String]) -> (Run, Vec<u8>, Vec<u8>) {
    let mut args = vec!["merge"];
    args.extend(partials.iter().map(String::as_str));
    args.extend([
        "--format",
        "json",
        "-o",
        "merged.json",
        "--output-format",
        "sarif:merged.sarif",
        "--fail-on",
        "never",
        "--allow-partial",
    ]);
    let run = hiveward(dir, &args);
    let json = fs::read(dir.join("merged.json")).unwrap_or_default();
    let sarif = fs::read(dir.join("merged.sarif")).unwrap_or_default();
    (run, json, sarif)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

#[test]
fn merged_shards_equal_a_single_scan_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 24);
    let (single_json, single_sarif) = single_scan(dir.path(), "fleet");
    let report = json(&single_json);
    assert_eq!(report["summary"]["hosts"], 24);
    assert_eq!(report["summary"]["rule_errors"], 0, "{report:#}");
    let fleet_findings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| finding["rule"] == "HW-ALIAS-001")
        .count();
    assert!(
        fleet_findings > 0,
        "the fleet rule judged aliases across hosts"
    );
    let dirty_rules: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| {
            finding["inferred"] == true
                && finding["message"]
                    .as_str()
                    .unwrap()
                    .contains("was read as a dirty hive")
        })
        .map(|finding| finding["rule"].as_str().unwrap())
        .collect();
    for rule in ["HW-SIGN-001", "HW-HARD-002"] {
        assert!(
            dirty_rules.contains(rule),
            "{rule} (a {} rule) marks its findings from dirty hives: {dirty_rules:?}",
            if rule == "HW-HARD-002" {
                "fleet"
            } else {
                "host"
            }
        );
    }

    for count in [1, 3, 5] {
        let partials = scan_shards(dir.path(), "fleet", count, &[]);
        let mut hosts_per_shard = Vec::new();
        for file in &partials {
            let partial = json(&fs::read(dir.path().join(file)).unwrap());
            assert_eq!(partial["format"], "hiveward-partial");
            assert_eq!(partial["version"], 1);
            hosts_per_shard.push(partial["hosts"].as_array().unwrap().len());
        }
        assert_eq!(
            hosts_per_shard.iter().sum::<usize>(),
            24,
            "{hosts_per_shard:?}"
        );
        if count > 1 {
            assert!(
                hosts_per_shard.iter().all(|hosts| *hosts < 24),
                "every shard scans a part: {hosts_per_shard:?}"
            );
        }
        let (run, merged_json, merged_sarif) = merge(dir.path(), &partials);
        run.assert_code(0);
        assert!(
            merged_json == single_json,
            "merged JSON differs from the single scan with {count} shard(s)"
        );
        assert!(
            merged_sarif == single_sarif,
            "merged SARIF differs from the single scan with {count} shard(s)"
        );
    }
}

#[test]
fn the_sample_bundle_merges_to_the_same_reports_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let bundle = bundle.to_str().unwrap();
    let single = hiveward(dir.path(), &["scan", bundle, "--format", "json"]);
    let partials = scan_shards(dir.path(), bundle, 2, &[]);
    let mut args = vec!["merge", &partials[0], &partials[1], "--format", "json"];
    let merged = hiveward(dir.path(), &args);
    assert_eq!(merged.code, single.code, "{}", merged.stderr);
    assert!(merged.stdout == single.stdout, "merged JSON differs");
    // Report options apply at the merge: the waivers of the sample bundle.
    let waivers = root().join("examples/waivers.toml");
    let waivers = waivers.to_str().unwrap();
    args.extend(["--waivers", waivers]);
    let waived = hiveward(dir.path(), &args);
    let report = json(&waived.stdout);
    assert!(
        report["summary"]["suppressed"].as_u64().unwrap() > 0,
        "{}",
        waived.stderr
    );
}

#[test]
fn a_missing_shard_makes_the_merge_incomplete_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 9);
    let partials = scan_shards(dir.path(), "fleet", 4, &[]);
    let given = [
        partials[0].clone(),
        partials[2].clone(),
        partials[3].clone(),
    ];
    let (run, _, _) = merge(dir.path(), &given);
    run.assert_code(3);
    assert!(
        run.stderr.contains("shard(s) 2 of 4 missing"),
        "{}",
        run.stderr
    );
    assert!(
        !dir.path().join("merged.json").exists(),
        "no report from an incomplete merge"
    );

    let twice = [
        partials[0].clone(),
        partials[1].clone(),
        partials[1].clone(),
        partials[2].clone(),
        partials[3].clone(),
    ];
    let (run, _, _) = merge(dir.path(), &twice);
    run.assert_code(2);
    assert!(
        run.stderr.contains("shard 2/4 is given twice"),
        "{}",
        run.stderr
    );
}

#[test]
fn partials_of_different_rule_sets_bundles_or_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 6);
    write_fleet(&dir.path().join("other"), 7);
    let partials = scan_shards(dir.path(), "fleet", 2, &[]);

    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "fleet",
            "--shard",
            "2/2",
            "--partial",
            "excluded.json",
            "--exclude",
            "HW-SIGN-001",
        ],
    );
    run.assert_code(0);
    let (run, _, _) = merge(
        dir.path(),
        &[partials[0].clone(), "excluded.json".to_string()],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("different rule sets"), "{}", run.stderr);

    let run = hiveward(
        dir.path(),
        &["scan", "other", "--shard", "2/2", "--partial", "other.json"],
    );
    run.assert_code(0);
    let (run, _, _) = merge(dir.path(), &[partials[0].clone(), "other.json".to_string()]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("come from different scans"),
        "{}",
        run.stderr
    );

    let mut old: Value = json(&fs::read(dir.path().join(&partials[1])).unwrap());
    old["version"] = Value::from(0);
    fs::write(
        dir.path().join("old.json"),
        serde_json::to_vec(&old).unwrap(),
    )
    .unwrap();
    let (run, _, _) = merge(dir.path(), &[partials[0].clone(), "old.json".to_string()]);
    run.assert_code(2);
    assert!(run.stderr.contains("format version 0"), "{}", run.stderr);
    assert!(run.stderr.contains("old.json"), "{}", run.stderr);

    fs::write(dir.path().join("junk.json"), b"{\"hosts\": []}").unwrap();
    let (run, _, _) = merge(dir.path(), &[partials[0].clone(), "junk.json".to_string()]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("not a hiveward partial result"),
        "{}",
        run.stderr
    );
    // Partials are read as a stream: one cut short mid-host is refused as not a partial, one
    // of another version whose body no longer parses still gets the version error, and a
    // file that is not there is named as unreadable.
    let whole = fs::read(dir.path().join(&partials[1])).unwrap();
    fs::write(dir.path().join("cut.json"), &whole[..whole.len() * 2 / 3]).unwrap();
    let (run, _, _) = merge(dir.path(), &[partials[0].clone(), "cut.json".to_string()]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("cut.json: not a hiveward partial result"),
        "{}",
        run.stderr
    );
    let mut future = old.clone();
    future["version"] = Value::from(9);
    future["hosts"] = Value::from("kept elsewhere from version 9 on");
    fs::write(
        dir.path().join("future.json"),
        serde_json::to_vec(&future).unwrap(),
    )
    .unwrap();
    let (run, _, _) = merge(
        dir.path(),
        &[partials[0].clone(), "future.json".to_string()],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("format version 9"), "{}", run.stderr);
    let (run, _, _) = merge(dir.path(), &[partials[0].clone(), "gone.json".to_string()]);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("gone.json: cannot read the partial result"),
        "{}",
        run.stderr
    );
}

#[test]
fn shard_auto_takes_the_shard_from_the_scheduler() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 6);
    let shard_of = |file: &str| -> (u64, u64) {
        let partial = json(&fs::read(dir.path().join(file)).unwrap());
        (
            partial["shard"]["index"].as_u64().unwrap(),
            partial["shard"]["count"].as_u64().unwrap(),
        )
    };
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ];
    let run = hiveward_env(
        dir.path(),
        &[
            "scan",
            "fleet",
            "--shard",
            "auto",
            "--partial",
            "slurm.json",
        ],
        &slurm,
    );
    run.assert_code(0);
    assert_eq!(shard_of("slurm.json"), (2, 3));
    let run = hiveward_env(
        dir.path(),
        &[
            "scan",
            "fleet",
            "--shard",
            "auto/4",
            "--partial",
            "k8s.json",
        ],
        &[("JOB_COMPLETION_INDEX", "3")],
    );
    run.assert_code(0);
    assert_eq!(shard_of("k8s.json"), (4, 4));
    let run = hiveward_env(
        dir.path(),
        &[
            "scan",
            "fleet",
            "--shard",
            "auto",
            "--partial",
            "named.json",
        ],
        &[("HIVEWARD_SHARD", "1/2")],
    );
    run.assert_code(0);
    assert_eq!(shard_of("named.json"), (1, 2));
    let run = hiveward(
        dir.path(),
        &["scan", "fleet", "--shard", "auto", "--partial", "none.json"],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("no scheduler"), "{}", run.stderr);
}

#[test]
fn shard_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 2);
    let run = hiveward(dir.path(), &["scan", "fleet", "--shard", "1/2"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--partial"), "{}", run.stderr);
    let run = hiveward(
        dir.path(),
        &["scan", "fleet", "--shard", "3/2", "--partial", "p.json"],
    );
    run.assert_code(2);
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "fleet",
            "--shard",
            "1/2",
            "--partial",
            "p.json",
            "--waivers",
            "w.toml",
        ],
    );
    run.assert_code(2);
    assert!(run.stderr.contains("hiveward merge"), "{}", run.stderr);
    assert!(!dir.path().join("p.json").exists());
}

#[test]
fn a_partial_merges_the_same_whatever_its_json_layout() {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(&dir.path().join("fleet"), 5);
    let partials = scan_shards(dir.path(), "fleet", 1, &[]);
    let written = fs::read(dir.path().join(&partials[0])).unwrap();
    // As written: the other members on the first line, then one host per line.
    let text = String::from_utf8(written.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("\"hosts\":["), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 5 + 1, "{text}");
    assert_eq!(lines[lines.len() - 1], "]}");
    let (run, as_written, sarif_as_written) = merge(dir.path(), &partials);
    run.assert_code(0);
    assert!(!as_written.is_empty());

    let value = json(&written);
    let crlf = text.replace('\n', "\r\n");
    let two_on_a_line = text.replacen(",\n", ",", 1);
    let layouts: [(&str, Vec<u8>); 4] = [
        ("compact", serde_json::to_vec(&value).unwrap()),
        ("pretty", serde_json::to_vec_pretty(&value).unwrap()),
        ("crlf", crlf.into_bytes()),
        ("two-on-a-line", two_on_a_line.into_bytes()),
    ];
    for (name, bytes) in layouts {
        let file = format!("{name}.json");
        fs::write(dir.path().join(&file), bytes).unwrap();
        let (run, merged, sarif) = merge(dir.path(), &[file]);
        run.assert_code(0);
        assert!(merged == as_written, "{name}: the JSON report differs");
        assert!(sarif == sarif_as_written, "{name}: the SARIF differs");
    }

    // Broken in ways the line reader could pass over, or naming a shard that cannot be: each
    // is refused, naming the file.
    let trailing_comma = text.replace("\n]}", ",\n]}");
    let missing_comma = text.replacen(",\n", "\n", 1);
    let bad_host = {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[2] = "{\"index\": \"not a number\"},".to_string();
        lines.join("\n")
    };
    let trailing_junk = format!("{text}{{}}");
    let no_such_shard = text.replacen(
        "\"shard\":{\"index\":1,\"count\":1}",
        "\"shard\":{\"index\":0,\"count\":1}",
        1,
    );
    assert_ne!(no_such_shard, text);
    for (name, bytes) in [
        ("no-such-shard", no_such_shard),
        ("trailing-comma", trailing_comma),
        ("missing-comma", missing_comma),
        ("bad-host", bad_host),
        ("trailing-junk", trailing_junk),
    ] {
        let file = format!("{name}.json");
        fs::write(dir.path().join(&file), bytes).unwrap();
        let (run, _, _) = merge(dir.path(), std::slice::from_ref(&file));
        run.assert_code(2);
        assert!(
            run.stderr
                .contains(&format!("{file}: not a hiveward partial result")),
            "{name}: {}",
            run.stderr
        );
    }
    // Another version laid out a host per line: refused from its first line, naming the file.
    let old_version = text.replacen("\"version\":1,", "\"version\":0,", 1);
    assert_ne!(old_version, text);
    fs::write(dir.path().join("old-version.json"), old_version).unwrap();
    let (run, _, _) = merge(dir.path(), &["old-version.json".to_string()]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("old-version.json") && run.stderr.contains("format version 0"),
        "{}",
        run.stderr
    );
}
