//! The text report as a user reads it: the summary first (totals, a table of hosts, the findings
//! grouped by rule with each rule's fix once, the verdict on the last line), `--quiet`,
//! `--detail` (the per-finding layout, unchanged), colour (`--color`, `NO_COLOR`,
//! `CLICOLOR_FORCE`), JUnit failures against `--fail-on`, and a reader that closes the pipe.

mod support;

use std::fs;
use std::path::Path;
use std::process::Stdio;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::{root, Run};

impl Run {
    /// The last line of standard output.
    fn last_line(&self) -> &str {
        self.stdout_str().lines().last().unwrap_or_default()
    }
}

/// The binary, run in `dir`, with the colour variables of the environment removed.
fn command(dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::cargo_bin("hiveward").expect("the binary is built");
    command.current_dir(dir).args(args);
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"] {
        command.env_remove(variable);
    }
    command
}

/// Runs `command` to the end.
fn run(mut command: std::process::Command) -> Run {
    Run::from_output(command.output().expect("hiveward runs"))
}

/// Runs `hiveward ARGS` in `dir`, with the colour variables of the environment removed.
fn hiveward(dir: &Path, args: &[&str]) -> Run {
    run(command(dir, args))
}

/// A pack of three rules: a high one whose fix names the host and a value that differ between
/// hosts, a medium one with a fixed fix, and a low one that needs a Security log (not applicable
/// everywhere here).
const PACK: &[(&str, &str)] = &[
    (
        "pack.toml",
        r#"name = "texttest"
version = "1.0.0"
description = "Rules for the text report tests."
min_hiveward = "0.1.0"
"#,
    ),
    (
        "TT-SIGN-001.rhai",
        r#"export const RULE = #{
    id: "TT-SIGN-001",
    pack: "texttest",
    title: "SMB server does not require signing",
    description: "The SMB server must refuse unsigned sessions.",
    severity: "high",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`] },
    fix: `Require signing on {{host}} (it is {{seen}}): set {{path}}\RequireSecuritySignature to 1.

    Set-SmbServerConfiguration -RequireSecuritySignature $true -Force`,
};

fn check(host) {
    let path = `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`;
    let signing = host.setting(path, "RequireSecuritySignature", 0);
    if signing.value == 1 {
        return [];
    }
    signing.expected = 1;
    [#{
        message: `RequireSecuritySignature on ${host.name} is ${signing.value}; it must be 1.`,
        evidence: [signing],
        fix_values: #{ host: host.name, path: path, seen: if signing.present { `set to ${signing.value}` } else { "not set" } },
    }]
}
"#,
    ),
    (
        "TT-CLIENT-002.rhai",
        r#"export const RULE = #{
    id: "TT-CLIENT-002",
    pack: "texttest",
    title: "SMB client does not require signing",
    description: "The SMB client must sign.",
    severity: "medium",
    needs: #{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] },
    fix: `Set RequireSecuritySignature of the SMB client to 1.`,
};

fn check(host) {
    let signing = host.setting(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`, "RequireSecuritySignature", 0);
    if signing.value == 1 {
        return [];
    }
    signing.expected = 1;
    [#{ message: `The SMB client on ${host.name} does not require signing.`, evidence: [signing] }]
}
"#,
    ),
    (
        "TT-LOG-003.rhai",
        r#"export const RULE = #{
    id: "TT-LOG-003",
    pack: "texttest",
    title: "Logons seen",
    description: "Reads the Security log.",
    severity: "low",
    needs: #{ events: [#{ channel: "Security", ids: [4624] }] },
    fix: `Nothing to do.`,
};

fn check(host) {
    []
}
"#,
    ),
];

/// A server whose SMB server does not require signing (the value is 0).
const SRV9: &str = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName]\r\n\"ComputerName\"=\"SRV9\"\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ProductOptions]\r\n\"ProductType\"=\"ServerNT\"\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters]\r\n\"RequireSecuritySignature\"=dword:00000001\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\"RequireSecuritySignature\"=dword:00000000\r\n";

/// A folder with the pack (`texttest`) and a bundle (`bundle`) of FS01 and PC22 from the sample
/// bundle and SRV9.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("texttest");
    fs::create_dir_all(&pack).unwrap();
    for (name, text) in PACK {
        fs::write(pack.join(name), text).unwrap();
    }
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    for name in ["FS01_SYSTEM.HIV", "FS01_SOFTWARE.HIV", "PC22_smb.reg"] {
        fs::copy(root().join("examples/bundle").join(name), bundle.join(name)).unwrap();
    }
    fs::write(bundle.join("SRV9_smb.reg"), SRV9).unwrap();
    dir
}

/// `scan --no-builtin --rules texttest bundle` and `extra`.
fn scan_pack(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--no-builtin", "--rules", "texttest", "bundle"];
    args.extend_from_slice(extra);
    hiveward(dir, &args)
}

/// The per-finding layout, as every release before the summary printed it for this bundle.
const DETAIL: &str = r"FS01 (Windows Server 2019, build 17763.5458): checked 2 of 3 rule(s)
  MEDIUM   TT-CLIENT-002  SMB client does not require signing
      The SMB client on FS01 does not require signing.
      evidence: HKLM\SYSTEM\ControlSet001\Services\LanmanWorkstation\Parameters\RequireSecuritySignature = 0 (REG_DWORD); expected 1  [bundle/FS01_SYSTEM.HIV]
      fix:
        Set RequireSecuritySignature of the SMB client to 1.
  not applicable: no Security log: TT-LOG-003

PC22 (Windows 11 23H2, build 22631.3340): checked 2 of 3 rule(s)
  HIGH     TT-SIGN-001  SMB server does not require signing
      RequireSecuritySignature on PC22 is 0; it must be 1.
      evidence: HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature = not set, default 0; expected 1  [bundle/PC22_smb.reg]
      fix:
        Require signing on PC22 (it is not set): set HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature to 1.

            Set-SmbServerConfiguration -RequireSecuritySignature $true -Force
  not applicable: no Security log: TT-LOG-003

SRV9: checked 2 of 3 rule(s)
  HIGH     TT-SIGN-001  SMB server does not require signing
      RequireSecuritySignature on SRV9 is 0; it must be 1.
      evidence: HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature = 0 (REG_DWORD); expected 1  [bundle/SRV9_smb.reg]
      fix:
        Require signing on SRV9 (it is set to 0): set HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature to 1.

            Set-SmbServerConfiguration -RequireSecuritySignature $true -Force
  not applicable: no Security log: TT-LOG-003

3 finding(s): 0 critical, 2 high, 1 medium, 0 low, 0 info; 3 host(s), 3 rule(s), profile cis; 4 file(s) read, 0 partly, 0 unreadable; 0 rule error(s)
coverage: 6 rule × host check(s) made (3 passed), 3 not applicable, 0 not checked; 0 of 3 host(s) with nothing checked
";

/// The totals and the table of hosts.
const TOTALS: &str = r"hosts:        3 scanned with 3 rule(s), profile cis
findings:     3: 0 critical, 2 high, 1 medium, 0 low, 0 info; 0 waived, 0 baselined
files:        4 read, 0 partly, 0 unreadable; 0 passed over
checks:       6 made (3 passed), 3 not applicable, 0 not checked (rule × host); 0 of 3 host(s) with nothing checked
rule errors:  0

Hosts (CHECKED: rules that judged the host, N/A: rules not applicable, NOT CHECKED: rules stopped by damaged or incomplete evidence or --timeout):
HOST  OS                                ROLE         CRIT  HIGH  MED  LOW  INFO  CHECKED  N/A  NOT CHECKED
----------------------------------------------------------------------------------------------------------
FS01  Windows Server 2019 (17763.5458)  server          0     0    1    0     0        2    1            0
PC22  Windows 11 23H2 (22631.3340)      workstation     0     1    0    0     0        2    1            0
SRV9  -                                 server          0     1    0    0     0        2    1            0
";

/// The findings by rule and what did not apply.
const BY_RULE: &str = r"
Findings by rule, most severe first (2 rule(s); each rule's fix once, then its hosts and evidence):

HIGH     TT-SIGN-001  SMB server does not require signing  (2 finding(s) on 2 host(s))
  fix (for each host below, with its own <host>, <seen>):
    Require signing on <host> (it is <seen>): set HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature to 1.

        Set-SmbServerConfiguration -RequireSecuritySignature $true -Force
  PC22
    - RequireSecuritySignature on PC22 is 0; it must be 1.
      evidence: HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature = not set, default 0; expected 1  [bundle/PC22_smb.reg]
      in the fix: <seen> = not set
  SRV9
    - RequireSecuritySignature on SRV9 is 0; it must be 1.
      evidence: HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\RequireSecuritySignature = 0 (REG_DWORD); expected 1  [bundle/SRV9_smb.reg]
      in the fix: <seen> = set to 0

MEDIUM   TT-CLIENT-002  SMB client does not require signing  (1 finding(s) on 1 host(s))
  fix:
    Set RequireSecuritySignature of the SMB client to 1.
  FS01
    - The SMB client on FS01 does not require signing.
      evidence: HKLM\SYSTEM\ControlSet001\Services\LanmanWorkstation\Parameters\RequireSecuritySignature = 0 (REG_DWORD); expected 1  [bundle/FS01_SYSTEM.HIV]

Not applicable: 3 rule × host outcome(s) by reason, most common first (--detail lists each host's):
      3  no Security log: TT-LOG-003
";

const FAIL_HIGH: &str = "FAIL: 2 finding(s) at or above high (--fail-on high): TT-SIGN-001 on PC22, TT-SIGN-001 on SRV9";

#[test]
fn the_summary_comes_first_and_each_fix_is_shown_once() {
    let dir = workspace();
    let run = scan_pack(dir.path(), &[]);
    run.assert_code(1);
    assert_eq!(
        run.stdout_str(),
        format!("{TOTALS}{BY_RULE}\n{FAIL_HIGH}\n"),
        "the summary layout changed"
    );
    // The fix text of TT-SIGN-001 is shown once for its two hosts, and once per host in
    // the per-finding layout.
    let detail = scan_pack(dir.path(), &["--detail"]);
    for (text, times) in [(run.stdout_str(), 1), (detail.stdout_str(), 2)] {
        assert_eq!(
            text.matches("Set-SmbServerConfiguration -RequireSecuritySignature")
                .count(),
            times,
            "{text}"
        );
    }
}

#[test]
fn detail_is_the_per_finding_layout_unchanged() {
    let dir = workspace();
    let run = scan_pack(dir.path(), &["--detail"]);
    run.assert_code(1);
    assert_eq!(run.stdout_str(), DETAIL);
    // The same in a file, and with colour turned off.
    let written = scan_pack(dir.path(), &["--detail", "-o", "report.txt"]);
    written.assert_code(1);
    assert!(written.stdout.is_empty(), "{}", written.stdout_str());
    assert_eq!(
        fs::read_to_string(dir.path().join("report.txt")).unwrap(),
        DETAIL
    );
    assert_eq!(
        scan_pack(dir.path(), &["--detail", "--color", "never"]).stdout_str(),
        DETAIL
    );
}

#[test]
fn quiet_prints_the_totals_the_table_and_the_verdict_only() {
    let dir = workspace();
    let run = scan_pack(dir.path(), &["--quiet"]);
    run.assert_code(1);
    assert_eq!(run.stdout_str(), format!("{TOTALS}\n{FAIL_HIGH}\n"));
    // --quiet and --detail exclude each other.
    scan_pack(dir.path(), &["--quiet", "--detail"]).assert_code(2);
}

#[test]
fn the_verdict_says_what_tripped_fail_on_or_why_the_run_passed() {
    let dir = workspace();
    for (fail_on, code, verdict) in [
        ("high", 1, FAIL_HIGH.to_string()),
        (
            "medium",
            1,
            "FAIL: 3 finding(s) at or above medium (--fail-on medium): TT-SIGN-001 on PC22, TT-SIGN-001 on SRV9, TT-CLIENT-002 on FS01".to_string(),
        ),
        (
            "critical",
            0,
            "PASS: no finding at or above critical (--fail-on critical); 3 finding(s) below it"
                .to_string(),
        ),
        (
            "never",
            0,
            "PASS: findings do not fail the run (--fail-on never); 3 finding(s) reported"
                .to_string(),
        ),
    ] {
        for layout in [&[][..], &["--quiet"][..]] {
            let mut args = vec!["--fail-on", fail_on];
            args.extend_from_slice(layout);
            let run = scan_pack(dir.path(), &args);
            run.assert_code(code);
            assert_eq!(run.last_line(), verdict, "--fail-on {fail_on} {layout:?}");
        }
    }

    // Waived findings are marked, counted, and never trip the gate.
    fs::write(
        dir.path().join("waivers.toml"),
        "[[waiver]]\nrule = \"TT-SIGN-001\"\nhost = \"*\"\njustification = \"servers are replaced in May\"\n",
    )
    .unwrap();
    let run = scan_pack(dir.path(), &["--waivers", "waivers.toml"]);
    run.assert_code(0);
    assert!(
        run.stdout_str().contains(
            "findings:     3: 0 critical, 2 high, 1 medium, 0 low, 0 info; 2 waived, 0 baselined"
        ),
        "{}",
        run.stdout_str()
    );
    assert!(
        run.stdout_str()
            .contains("(2 finding(s) on 2 host(s), 2 waived or baselined)\n"),
        "{}",
        run.stdout_str()
    );
    assert!(
        run.stdout_str().contains(
            "    - [waived: servers are replaced in May] RequireSecuritySignature on SRV9"
        ),
        "{}",
        run.stdout_str()
    );
    assert_eq!(
        run.last_line(),
        "PASS: no finding at or above high (--fail-on high); 1 finding(s) below it, 2 waived or baselined"
    );

    // Incomplete results say so, whatever the findings.
    let run = scan_pack(
        dir.path(),
        &["--fail-on", "critical", "--require", "security"],
    );
    run.assert_code(3);
    assert!(
        run.stdout_str().contains("MISSING REQUIRED EVIDENCE on 3 host(s): FS01 (SECURITY hive), PC22 (SECURITY hive), SRV9 (SECURITY hive)"),
        "{}",
        run.stdout_str()
    );
    assert_eq!(
        run.last_line(),
        "INCOMPLETE (exit 3): 3 host(s) lack evidence --require demands; no finding at or above critical (--fail-on critical)"
    );
}

/// The host table's rows, by host name: the numbers at the end of each row.
fn table_rows(text: &str, hosts: &[String]) -> Vec<(String, Vec<u64>)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("HOST "))
        .expect("a table of hosts")
        + 2;
    let rows: Vec<&str> = lines[start..]
        .iter()
        .copied()
        .take_while(|line| !line.is_empty())
        .collect();
    assert_eq!(rows.len(), hosts.len(), "one row per host:\n{text}");
    hosts
        .iter()
        .map(|host| {
            let row = rows
                .iter()
                .find(|row| {
                    row.strip_prefix(host.as_str())
                        .is_some_and(|rest| rest.starts_with("  "))
                })
                .unwrap_or_else(|| panic!("no row for {host}:\n{text}"));
            let numbers: Vec<u64> = row
                .split_whitespace()
                .rev()
                .take(8)
                .map(|word| word.parse().unwrap_or_else(|_| panic!("{row}")))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            (host.clone(), numbers)
        })
        .collect()
}

/// The totals and the table of hosts say what the JSON report of the same run says.
fn assert_summary_matches_json(dir: &Path, input: &str) {
    let run = hiveward(
        dir,
        &[
            "scan",
            input,
            "--fail-on",
            "never",
            "--allow-partial",
            "--output-format",
            "json:report.json",
        ],
    );
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let summary = &report["summary"];
    let counts = &report["counts"];
    let number = |value: &Value| value.as_u64().unwrap();
    let suppressed = |kind: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|finding| finding["suppression"]["kind"] == kind)
            .count()
    };
    let hosts = report["hosts"].as_array().unwrap();
    let not_checked: u64 = hosts
        .iter()
        .map(|host| number(&host["coverage"]["not_checked"]))
        .sum();
    let listed = if number(&summary["files_listed"]) > 0 {
        format!(", {} listed but not read", summary["files_listed"])
    } else {
        String::new()
    };
    // Passes read from a hive read dirty, without its logs, are counted apart when there are any.
    let inferred = match summary["passed_inferred"].as_u64().unwrap_or(0) {
        0 => String::new(),
        inferred => format!(", {inferred} inferred"),
    };
    let mut checks = format!(
        "checks:       {} made ({} passed{inferred}), {} not applicable, {not_checked} not checked (rule × host); {} of {} host(s) with nothing checked",
        summary["checked"],
        summary["passed"],
        summary["not_applicable"],
        summary["hosts_not_checked"],
        summary["hosts"]
    );
    if number(&summary["unchecked"]) > 0 {
        checks.push_str(&format!(
            "; {} check(s) not made because evidence is damaged or incomplete",
            summary["unchecked"]
        ));
    }
    let expected = [
        format!(
            "hosts:        {} scanned with {} rule(s), profile {}",
            summary["hosts"],
            summary["rules"],
            report["profile"].as_str().unwrap()
        ),
        format!(
            "findings:     {}: {} critical, {} high, {} medium, {} low, {} info; {} waived, {} baselined",
            summary["findings"],
            counts["critical"],
            counts["high"],
            counts["medium"],
            counts["low"],
            counts["info"],
            suppressed("waiver"),
            suppressed("baseline")
        ),
        format!(
            "files:        {} read, {} partly, {} unreadable{listed}; {} passed over",
            summary["files_read"],
            summary["files_partial"],
            summary["files_unreadable"],
            summary["passed_over"]
        ),
        checks,
        format!("rule errors:  {}", summary["rule_errors"]),
    ];
    let lines: Vec<&str> = run.stdout_str().lines().take(expected.len()).collect();
    assert_eq!(lines, expected, "{input}");

    // Each host's row: findings by severity and its coverage.
    let names: Vec<String> = hosts
        .iter()
        .map(|host| host["name"].as_str().unwrap().to_string())
        .collect();
    let rows = table_rows(run.stdout_str(), &names);
    let mut totals = [0u64; 5];
    for ((name, numbers), host) in rows.iter().zip(hosts) {
        let mut expected = Vec::new();
        for (column, severity) in ["critical", "high", "medium", "low", "info"]
            .iter()
            .enumerate()
        {
            let found = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|finding| {
                    finding["host"] == name.as_str() && finding["severity"] == *severity
                })
                .count() as u64;
            totals[column] += found;
            expected.push(found);
        }
        for field in ["checked", "not_applicable", "not_checked"] {
            expected.push(number(&host["coverage"][field]));
        }
        assert_eq!(numbers, &expected, "{input}: the row of {name}");
    }
    assert_eq!(
        totals.to_vec(),
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .map(|severity| number(&counts[*severity]))
            .collect::<Vec<_>>(),
        "{input}: the rows add up to the totals"
    );
}

#[test]
fn the_totals_and_the_host_table_match_the_json_report() {
    let dir = workspace();
    assert_summary_matches_json(dir.path(), "bundle");
    let sample = root().join("examples/bundle");
    assert_summary_matches_json(dir.path(), sample.to_str().unwrap());
    if let Some(corpus) = hiveward_testkit::corpus_dir() {
        assert_summary_matches_json(dir.path(), corpus.to_str().unwrap());
    }
}

#[test]
fn the_verdict_counts_the_unsuppressed_findings_at_or_above_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("examples/bundle");
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            sample.to_str().unwrap(),
            "--fail-on",
            "medium",
            "--output-format",
            "json:report.json",
        ],
    );
    let report: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap()).unwrap();
    let at_or_above = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|finding| {
            finding["suppression"].is_null()
                && ["medium", "high", "critical"].contains(&finding["severity"].as_str().unwrap())
        })
        .count();
    assert!(at_or_above > 5, "the sample has many: {at_or_above}");
    run.assert_code(1);
    let verdict = run.last_line();
    assert!(
        verdict.starts_with(&format!(
            "FAIL: {at_or_above} finding(s) at or above medium (--fail-on medium): "
        )),
        "{verdict}"
    );
    // Five are named, the most severe first, and the rest counted.
    assert!(
        verdict.ends_with(&format!(", and {} more", at_or_above - 5)),
        "{verdict}"
    );
    assert_eq!(verdict.matches(" on ").count(), 5, "{verdict}");
}

const ESC: char = '\u{1b}';

#[test]
fn colour_only_on_request_or_on_a_terminal_and_never_in_files() {
    let dir = workspace();
    let args = ["scan", "--no-builtin", "--rules", "texttest", "bundle"];
    let coloured = |run: &Run| run.stdout_str().contains(ESC);

    // Piped, by default: no colour.
    assert!(!coloured(&hiveward(dir.path(), &args)));
    for layout in [&[][..], &["--quiet"][..], &["--detail"][..]] {
        let mut always = args.to_vec();
        always.extend_from_slice(layout);
        always.extend_from_slice(&["--color", "always"]);
        let run = hiveward(dir.path(), &always);
        run.assert_code(1);
        assert!(coloured(&run), "{layout:?}: {}", run.stdout_str());
        // Only colour was added: without the SGR sequences it is the plain text.
        let mut plain = args.to_vec();
        plain.extend_from_slice(layout);
        assert_eq!(
            strip_sgr(run.stdout_str()),
            hiveward(dir.path(), &plain).stdout_str(),
            "{layout:?}"
        );
        let mut never = plain.clone();
        never.extend_from_slice(&["--color", "never"]);
        assert!(!coloured(&hiveward(dir.path(), &never)));
    }
    let always = hiveward(dir.path(), &[&args[..], &["--color", "always"]].concat());
    // The severities and the verdict are coloured.
    assert!(
        always
            .stdout_str()
            .contains(&format!("{ESC}[31mHIGH    {ESC}[0m TT-SIGN-001")),
        "{}",
        always.stdout_str()
    );
    assert!(
        always
            .last_line()
            .starts_with(&format!("{ESC}[1m{ESC}[31mFAIL{ESC}[0m: ")),
        "{:?}",
        always.last_line()
    );

    // CLICOLOR_FORCE colours a pipe under auto; NO_COLOR wins over it; --color always wins
    // over NO_COLOR.
    let with_env = |extra: &[&str], env: &[(&str, &str)]| {
        let mut command = command(dir.path(), &[&args[..], extra].concat());
        command.envs(env.iter().copied());
        run(command)
    };
    assert!(coloured(&with_env(&[], &[("CLICOLOR_FORCE", "1")])));
    assert!(!coloured(&with_env(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    assert!(!coloured(&with_env(
        &["--color", "auto"],
        &[("NO_COLOR", "1")]
    )));
    assert!(coloured(&with_env(
        &["--color", "always"],
        &[("NO_COLOR", "1")]
    )));

    // Reports written to files never hold colour, even with --color always.
    let run = hiveward(
        dir.path(),
        &[
            &args[..],
            &[
                "--color",
                "always",
                "--output-format",
                "text:extra.txt",
                "--output-format",
                "json:extra.json",
            ],
        ]
        .concat(),
    );
    assert!(coloured(&run));
    for file in ["extra.txt", "extra.json"] {
        let text = fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(!text.contains(ESC), "{file}: {text}");
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("extra.txt")).unwrap(),
        strip_sgr(run.stdout_str())
    );
    hiveward(
        dir.path(),
        &[&args[..], &["--color", "always", "-o", "out.txt"]].concat(),
    )
    .assert_code(1);
    assert!(!fs::read_to_string(dir.path().join("out.txt"))
        .unwrap()
        .contains(ESC));
}

/// `text` without its SGR sequences (`ESC [ digits ; m`).
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(ESC) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let params = after
            .strip_prefix('[')
            .expect("only SGR sequences")
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == ';');
        rest = params.strip_prefix('m').expect("only SGR sequences");
    }
    out.push_str(rest);
    out
}

/// The `failures` attribute of `<testsuites>`, and how many `<failure` elements there are.
fn junit_failures(xml: &str) -> (usize, usize) {
    let head = xml
        .lines()
        .find(|line| line.starts_with("<testsuites "))
        .expect("a testsuites element");
    let attribute = head
        .split("failures=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|number| number.parse().ok())
        .expect("a failures attribute");
    (attribute, xml.matches("<failure ").count())
}

#[test]
fn junit_fails_only_the_findings_at_or_above_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("examples/bundle");
    for (fail_on, failing) in [
        ("info", &["info", "low", "medium", "high", "critical"][..]),
        ("medium", &["medium", "high", "critical"][..]),
        ("high", &["high", "critical"][..]),
        ("critical", &["critical"][..]),
        ("never", &[][..]),
    ] {
        hiveward(
            dir.path(),
            &[
                "scan",
                sample.to_str().unwrap(),
                "--fail-on",
                fail_on,
                "--format",
                "junit",
                "-o",
                "report.xml",
                "--output-format",
                "json:report.json",
            ],
        );
        let report: Value =
            serde_json::from_str(&fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        let findings = report["findings"].as_array().unwrap();
        // One testcase per rule and host: it fails when one of its findings does.
        let mut expected: Vec<(String, String)> = findings
            .iter()
            .filter(|finding| {
                finding["suppression"].is_null()
                    && failing.contains(&finding["severity"].as_str().unwrap())
            })
            .map(|finding| {
                (
                    finding["rule"].as_str().unwrap().to_string(),
                    finding["host"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        expected.sort();
        expected.dedup();
        let xml = fs::read_to_string(dir.path().join("report.xml")).unwrap();
        let (attribute, elements) = junit_failures(&xml);
        assert_eq!(attribute, expected.len(), "--fail-on {fail_on}");
        assert_eq!(elements, expected.len(), "--fail-on {fail_on}");
        // The findings below the threshold are passed testcases that still carry them.
        let below = findings.len() - {
            findings
                .iter()
                .filter(|finding| failing.contains(&finding["severity"].as_str().unwrap()))
                .count()
        };
        assert_eq!(
            xml.contains("<system-out>Reported"),
            below > 0,
            "--fail-on {fail_on}"
        );
        if fail_on == "never" {
            assert!(xml.contains("<system-out>Reported; --fail-on never, so not a failure:"));
        }
    }
}

/// Runs the binary with standard output on a pipe whose reading end is already closed: every
/// write to it fails with a broken pipe.
fn with_closed_stdout(dir: &Path, args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut command = command(dir, args);
    command.stdout(Stdio::from(writer)).stderr(Stdio::piped());
    let finished = run(command);
    (finished.code, finished.stderr)
}

#[test]
fn a_closed_pipe_ends_the_output_quietly_with_141() {
    let dir = workspace();
    let scan = ["scan", "--no-builtin", "--rules", "texttest", "bundle"];
    for args in [
        &scan[..],
        &[&scan[..], &["--detail"]].concat(),
        &[&scan[..], &["--format", "json"]].concat(),
        &[&scan[..], &["--format", "junit", "--color", "always"]].concat(),
        &[&scan[..], &["--format", "html"]].concat(),
        &[&scan[..], &["--format", "markdown"]].concat(),
        &[&scan[..], &["--format", "csv"]].concat(),
        &["rules", "list"][..],
        &["rules", "show", "HW-STRICT-001"][..],
    ] {
        let (code, stderr) = with_closed_stdout(dir.path(), args);
        assert_eq!(code, 141, "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed:\n{stderr}");
    }
}

#[test]
fn a_run_that_checked_nothing_never_reads_as_clean() {
    let dir = workspace();
    let run = scan_pack(dir.path(), &["--only", "TT-LOG-003"]);
    run.assert_code(3);
    for shown in [
        "\nNo findings, but nothing was checked: no rule could judge any host on the evidence given.\n",
        "\nNOTHING CHECKED on 3 host(s): no rule could judge them on the evidence given: FS01, PC22, SRV9\n",
        "\n      3  no Security log: TT-LOG-003\n",
    ] {
        assert!(run.stdout_str().contains(shown), "{shown:?} not in:\n{}", run.stdout_str());
    }
    assert!(!run.stdout_str().contains("PASS"), "{}", run.stdout_str());
    assert_eq!(
        run.last_line(),
        "INCOMPLETE (exit 3): nothing was checked: no rule could judge any host on the evidence given; no finding at or above high (--fail-on high)"
    );
    // With something checked and nothing found, the report says how much was looked at.
    let run = hiveward(
        dir.path(),
        &[
            "scan",
            "--no-builtin",
            "--rules",
            "texttest",
            "--only",
            "TT-SIGN-001,TT-LOG-003",
            "bundle/FS01_SYSTEM.HIV",
        ],
    );
    run.assert_code(0);
    assert!(
        run.stdout_str().contains(
            "\nNo findings in the 1 rule × host check(s) made (1 not applicable, 0 not checked).\n"
        ),
        "{}",
        run.stdout_str()
    );
    assert_eq!(
        run.last_line(),
        "PASS: no finding at or above high (--fail-on high)"
    );
}
