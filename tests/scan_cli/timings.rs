//! `scan --timings` and `merge --timings`: each rule's time and operations by phase, on
//! standard error, with the report unchanged.

use super::*;

/// A host rule that takes a known number of loop steps, one that takes none, and a fleet rule.
const BUSY_RULE: &str = r#"export const RULE = #{
    id: "E2E-BUSY-001", pack: "e2e-site", title: "Busy", description: "Loops.",
    severity: "low", tags: ["test"], references: ["test"], scope: "host",
    needs: #{ hives: ["SYSTEM"] }, fix: "Nothing.",
};

fn check(host) {
    let total = 0;
    for step in 0..2000 { total += step; }
    []
}
"#;

const IDLE_RULE: &str = r#"export const RULE = #{
    id: "E2E-IDLE-001", pack: "e2e-site", title: "Idle", description: "Returns at once.",
    severity: "low", tags: ["test"], references: ["test"], scope: "host",
    needs: #{ hives: ["SYSTEM"] }, fix: "Nothing.",
};

fn check(host) { [] }
"#;

const FLEET_RULE: &str = r#"export const RULE = #{
    id: "E2E-FLEET-001", pack: "e2e-site", title: "Fleet", description: "Counts hosts.",
    severity: "low", tags: ["test"], references: ["test"], scope: "fleet",
    needs: #{ hives: ["SYSTEM"] }, fix: "Nothing.",
};

fn summarize(host) { #{ name: host.name } }

fn check(fleet) { [] }
"#;

/// One row of the table: rule, phase, calls, operations per call.
#[derive(Debug, PartialEq)]
struct Row {
    rule: String,
    phase: String,
    calls: u64,
    operations: u64,
}

/// The rows of the timings table in `stderr`, in order.
fn rows(stderr: &str) -> Vec<Row> {
    let mut lines = stderr
        .lines()
        .skip_while(|line| !line.starts_with("timings: "));
    assert!(lines.next().is_some(), "no timings table in:\n{stderr}");
    let header = lines.next().expect("a header line");
    assert!(header.starts_with("RULE "), "{header}");
    lines
        .take_while(|line| line.starts_with("E2E-") || line.starts_with("HW-"))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            // RULE PHASE... CALLS TOTAL ms MEAN µs SHARE OPS
            let n = words.len();
            Row {
                rule: words[0].to_string(),
                phase: words[1..n - 7].join(" "),
                calls: words[n - 7].parse().unwrap(),
                operations: words[n - 1].parse().unwrap(),
            }
        })
        .collect()
}

fn setup(dir: &Path) {
    write_pack(
        &dir.join("pack"),
        &[
            ("E2E-BUSY-001.rhai", BUSY_RULE),
            ("E2E-IDLE-001.rhai", IDLE_RULE),
            ("E2E-FLEET-001.rhai", FLEET_RULE),
        ],
    );
    let bundle = dir.join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    for name in ["ALPHA", "BRAVO", "CHARLIE"] {
        fs::write(
            bundle.join(format!("{name}_SYSTEM.HIV")),
            system_hive(name, 0),
        )
        .unwrap();
    }
}

#[test]
fn timings_count_each_rule_s_calls_and_operations_by_phase_and_leave_the_report_alone() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "bundle",
            "--no-builtin",
            "--rules",
            "pack",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        hiveward(dir.path(), &args)
    };
    let plain = scan(&[]);
    let timed = scan(&["--timings", "--jobs", "2"]);
    plain.assert_code(0);
    timed.assert_code(0);
    assert_eq!(plain.stdout, timed.stdout, "--timings changed the report");
    assert!(!plain.stderr.contains("timings:"), "{}", plain.stderr);

    let rows = rows(&timed.stderr);
    let find = |rule: &str, phase: &str| {
        rows.iter()
            .find(|row| row.rule == rule && row.phase == phase)
            .unwrap_or_else(|| panic!("no {rule} {phase} row in {rows:?}"))
    };
    assert_eq!(rows.len(), 4, "{rows:?}");
    // The busy rule took the longest, so it comes first.
    assert_eq!(rows[0].rule, "E2E-BUSY-001");
    let busy = find("E2E-BUSY-001", "check");
    assert_eq!(busy.calls, 3);
    assert!(busy.operations >= 2_000, "{busy:?}");
    let idle = find("E2E-IDLE-001", "check");
    assert_eq!(idle.calls, 3);
    assert!(idle.operations < 50, "{idle:?}");
    assert_eq!(find("E2E-FLEET-001", "summarize").calls, 3);
    assert_eq!(find("E2E-FLEET-001", "fleet check").calls, 1);
}

#[test]
fn a_merge_times_the_fleet_checks_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    for shard in ["1/2", "2/2"] {
        let partial = format!("part-{}.json", &shard[..1]);
        hiveward(
            dir.path(),
            &[
                "scan",
                "bundle",
                "--no-builtin",
                "--rules",
                "pack",
                "--shard",
                shard,
                "--partial",
                &partial,
            ],
        )
        .assert_code(0);
    }
    let merged = hiveward(
        dir.path(),
        &[
            "merge",
            "part-1.json",
            "part-2.json",
            "--format",
            "json",
            "--timings",
        ],
    );
    merged.assert_code(0);
    let rows = rows(&merged.stderr);
    assert_eq!(
        rows,
        [Row {
            rule: "E2E-FLEET-001".to_string(),
            phase: "fleet check".to_string(),
            calls: 1,
            operations: rows[0].operations,
        }]
    );
}
