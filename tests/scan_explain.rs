//! `hiveward scan --trace RULE` (rule output per host on standard error, the report unchanged)
//! and `hiveward scan --explain RULE --host NAME` (what the rule read on one host, the defaults
//! it applied, its events queries, its `needs` verdict, output and outcome; unknown rules and
//! hosts exit 2 naming the nearest).

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_evtxwriter::{security_4624, EvtxWriter};
use support::hiveward;

const MANIFEST: &str = "name = \"site\"\nversion = \"1.0.0\"\ndescription = \"Site rules.\"\nmin_hiveward = \"0.1.0\"\n";

/// Reads a value, an absent value with a default, and the Security 4624 records; prints.
const RULE: &str = r#"//! Signing and logons.
export const RULE = #{
    id: "SITE-001",
    pack: "site",
    title: "Signing not required",
    description: "Reads signing and logons.",
    severity: "medium",
    needs: #{ any: [#{ events: [#{ channel: "Security", ids: [4624] }] }, #{ hives: ["SYSTEM"] }] },
    fix: "Require signing.",
};

fn check(host) {
    let params = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let level = host.setting(params, "SmbServerNameHardeningLevel", 0);
    let signing = host.setting(params, "RequireSecuritySignature", 0);
    let logons = host.events(#{ channel: "Security", ids: [4624] });
    print(`${host.name}: signing ${signing.value}, ${logons.len()} logon(s)`);
    if signing.value == 1 { return []; }
    [#{ message: `signing is ${signing.value} on ${host.name}`, evidence: [signing] }]
}
"#;

/// Another rule that prints, which `--trace SITE-001` leaves out.
const OTHER: &str = r#"//! Prints.
export const RULE = #{
    id: "SITE-002",
    pack: "site",
    title: "Other",
    description: "Prints.",
    severity: "low",
    fix: "None.",
};

fn check(host) { print(`other on ${host.name}`); [] }
"#;

fn system(name: &str, level: u32) -> String {
    format!(
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{name}\"\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n\"SmbServerNameHardeningLevel\"=dword:{level:08x}\n"
    )
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// A pack and a bundle of FS01 (SYSTEM hive and a Security log of three logons) and WKS7.
fn setup(root: &Path) -> (PathBuf, PathBuf) {
    let pack = root.join("site");
    write(&pack.join("pack.toml"), MANIFEST.as_bytes());
    write(&pack.join("SITE-001.rhai"), RULE.as_bytes());
    write(&pack.join("SITE-002.rhai"), OTHER.as_bytes());
    let bundle = root.join("bundle");
    write(
        &bundle.join("FS01_SYSTEM.HIV"),
        &hiveward_testkit::hive_from_reg(&system("FS01", 1)),
    );
    write(
        &bundle.join("WKS7_SYSTEM.HIV"),
        &hiveward_testkit::hive_from_reg(&system("WKS7", 2)),
    );
    let mut security = EvtxWriter::new();
    for (user, time) in [
        ("alice", 1_700_000_000),
        ("bob", 1_700_000_100),
        ("carol", 1_700_000_200),
    ] {
        security.push(security_4624(user, 3, "NTLM", "NTLM V2").unix_time(time));
    }
    write(&bundle.join("logs/Security.evtx"), &security.to_bytes());
    (pack, bundle)
}

fn args<'a>(pack: &'a Path, bundle: &'a Path, more: &[&'a str]) -> Vec<&'a std::ffi::OsStr> {
    let mut all: Vec<&std::ffi::OsStr> = vec![
        "scan".as_ref(),
        bundle.as_os_str(),
        "--no-builtin".as_ref(),
        "--rules".as_ref(),
        pack.as_os_str(),
    ];
    all.extend(more.iter().map(|item| std::ffi::OsStr::new(*item)));
    all
}

#[test]
fn trace_prints_the_rule_output_per_host_on_stderr_and_leaves_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, bundle) = setup(dir.path());
    let plain = hiveward(dir.path(), &args(&pack, &bundle, &["--format", "json"]));
    plain.assert_code(0);
    assert!(!plain.stderr.contains("trace "), "{}", plain.stderr);
    let traced = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--format", "json", "--trace", "SITE-001"]),
    );
    traced.assert_code(0);
    let trace: Vec<&str> = traced
        .stderr
        .lines()
        .filter(|line| line.starts_with("trace "))
        .collect();
    assert_eq!(
        trace,
        [
            "trace SITE-001 FS01: FS01: signing 0, 3 logon(s)",
            "trace SITE-001 WKS7: WKS7: signing 0, 0 logon(s)",
        ],
        "{}",
        traced.stderr
    );
    // The report is the same, apart from when it was made.
    let strip = |mut json: serde_json::Value| {
        json.as_object_mut().unwrap().remove("generated_at");
        json.as_object_mut().unwrap().remove("tool");
        json
    };
    assert_eq!(
        strip(plain.json())["findings"],
        strip(traced.json())["findings"]
    );
    assert_eq!(plain.json()["summary"], traced.json()["summary"]);

    let globbed = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--trace", "SITE-*", "--quiet"]),
    );
    globbed.assert_code(0);
    assert!(
        globbed
            .stderr
            .contains("trace SITE-002 WKS7: other on WKS7"),
        "{}",
        globbed.stderr
    );

    let unknown = hiveward(dir.path(), &args(&pack, &bundle, &["--trace", "SITE-01"]));
    unknown.assert_code(2);
    assert!(
        unknown
            .stderr
            .contains("--trace SITE-01: no rule of this scan matches it; the nearest: `SITE-001`"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn explain_shows_reads_defaults_events_and_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, bundle) = setup(dir.path());
    let run = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--explain", "site-001", "--host", "fs01"]),
    );
    run.assert_code(0);
    let text = run.stdout_text();
    for expected in [
        "explain SITE-001 on FS01: Signing not required (host rule)",
        "FS01_SYSTEM.HIV  hive (SYSTEM), read",
        "Security.evtx  evtx, read",
        "needs: applicable",
        "1. host.setting HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\SmbServerNameHardeningLevel = 0x1 (1) (REG_DWORD) [",
        "2. host.setting HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\RequireSecuritySignature: absent; default applied: 0",
        "3. host.events Security ids [4624]: 3 record(s) (record ids 1, 2, 3)",
        "  | FS01: signing 0, 3 logon(s)",
        "outcome: findings",
        "MEDIUM   signing is 0 on FS01",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    assert!(!text.contains("WKS7"), "only FS01 is explained:\n{text}");

    let json = hiveward(
        dir.path(),
        &args(
            &pack,
            &bundle,
            &[
                "--explain",
                "SITE-001",
                "--host",
                "WKS7",
                "--format",
                "json",
            ],
        ),
    );
    json.assert_code(0);
    let json = json.json();
    assert_eq!(json["format"], "hiveward-explain");
    assert_eq!(json["host"], "WKS7");
    assert_eq!(json["needs"], "applicable");
    assert_eq!(json["reads"][1]["kind"], "value");
    assert_eq!(json["reads"][1]["found"], serde_json::Value::Null);
    assert_eq!(json["reads"][1]["default_applied"], "0");
    assert_eq!(json["reads"][2]["kind"], "events");
    assert_eq!(json["reads"][2]["returned"], 0);
    assert_eq!(json["outcome"], "findings");
    assert_eq!(json["findings"][0]["severity"], "medium");
}

#[test]
fn explain_of_an_unknown_rule_or_host_names_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, bundle) = setup(dir.path());
    let run = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--explain", "SITE-01", "--host", "FS01"]),
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("unknown rule `SITE-01`; the nearest: `SITE-001`, `SITE-002`"),
        "{}",
        run.stderr
    );
    let run = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--explain", "SITE-001", "--host", "FS1"]),
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("unknown host `FS1`; the nearest: `FS01`"),
        "{}",
        run.stderr
    );
    // --explain needs --host.
    let run = hiveward(
        dir.path(),
        &args(&pack, &bundle, &["--explain", "SITE-001"]),
    );
    run.assert_code(2);
}
