//! Hostile input against what hiveward prints, through the binary: a diagnostic about a file
//! with a line of 70,000 characters never panics and quotes only a window of it; control
//! sequences from evidence, rule packs and waivers are shown escaped in every human-facing
//! output (and carried raw in JSON); file names with line feeds or bytes that are not UTF-8 keep
//! their identity in text and JSON.

mod support;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use hiveward_evtxwriter::{Event, EvtxWriter};
use serde_json::Value;
use support::{root, Run};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";
/// Longer than the 65,535 columns miette can pad to.
const LONG: usize = 70_000;

/// A SYSTEM hive naming its machine `computer_name`, with a `Comment` value under the Server
/// service's parameters.
fn system_hive(computer_name: &str, comment: &str) -> Vec<u8> {
    hiveward_testkit::hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
         \"Current\"=dword:00000001\r\n\"Default\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000002\r\n\
         \"Comment\"=\"{comment}\"\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"{computer_name}\"\r\n"
    ))
}

/// Runs `hiveward ARGS` in the workspace root, prints its exit code and the start of its stderr
/// for the test's log, and checks that it exited without a panic.
fn hiveward<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let run = support::hiveward(&root(), args);
    assert_ne!(run.code, -1, "hiveward exits, not killed");
    let shown: Vec<_> = args.iter().map(|arg| arg.as_ref().to_owned()).collect();
    println!(
        "hiveward {shown:?} -> {}\n--- stderr ({} bytes) ---\n{}",
        run.code,
        run.stderr.len(),
        run.stderr.chars().take(20_000).collect::<String>()
    );
    run.assert_no_panic();
    run
}

fn os(text: impl AsRef<OsStr>) -> OsString {
    text.as_ref().to_owned()
}

/// `text` holds no terminal control character but line feeds.
fn assert_no_control(what: &str, text: &str) {
    let bad: Vec<(usize, char)> = text
        .char_indices()
        .filter(|(_, c)| {
            *c != '\n'
                && matches!(*c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what} holds raw control characters {bad:?}:\n{text:?}"
    );
}

/// `text` without the SGR colour sequences (`ESC [` digits and `;` `m`) the report adds.
fn without_colour(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let sgr = after.strip_prefix('[').and_then(|params| {
            params
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == ';')
                .strip_prefix('m')
        });
        match sgr {
            Some(tail) => rest = tail,
            None => {
                // Not colour: keep it, so that the check for raw control characters sees it.
                out.push('\u{1b}');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The columns of `file:LINE:COLUMN` places stderr names for `file`.
fn columns_named(stderr: &str, file: &str) -> Vec<usize> {
    let needle = format!("{file}:");
    stderr
        .match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &stderr[at + needle.len()..];
            let (_line, rest) = rest.split_once(':')?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

/// The diagnostic names `file` at a column past 65,535 (so miette alone would have panicked),
/// says `problem`, and quotes only a window of the long line.
fn assert_windowed_diagnostic(run: &Run, file: &Path, problem: &str) {
    let file = file.display().to_string();
    let columns = columns_named(&run.stderr, &file);
    assert!(
        columns.iter().any(|column| *column > 65_535),
        "no place past column 65,535 named for {file} ({columns:?}):\n{}",
        run.stderr
    );
    assert!(run.stderr.contains(problem), "{problem:?}:\n{}", run.stderr);
    assert!(
        run.stderr.contains('…'),
        "the cut is not marked:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.len() < 8_000,
        "{} bytes of diagnostics for one line",
        run.stderr.len()
    );
    // The quoted lines of the file (`N │ text`) are windows, not the whole line.
    for line in run.stderr.lines() {
        let quoted = line
            .trim_start()
            .split_once(" │ ")
            .is_some_and(|(number, _)| number.chars().all(|c| c.is_ascii_digit()));
        assert!(
            !quoted || line.chars().count() < 300,
            "a quoted line of {} characters",
            line.chars().count()
        );
    }
    assert_no_control("stderr", &run.stderr);
}

/// A pack folder `name` with `pack.toml` and the rule files given.
fn write_pack(root: &Path, name: &str, manifest: &str, rules: &[(&str, &str)]) -> PathBuf {
    let pack = root.join(name);
    fs::create_dir_all(&pack).unwrap();
    fs::write(pack.join("pack.toml"), manifest).unwrap();
    for (file, text) in rules {
        fs::write(pack.join(file), text).unwrap();
    }
    pack
}

fn manifest(name: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"Test pack.\"\nmin_hiveward = \"0.1.0\"\n"
    )
}

/// A healthy bundle folder: one SYSTEM hive of GOODHOST.
fn good_bundle(root: &Path) -> PathBuf {
    let bundle = root.join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    fs::write(
        bundle.join("GOOD_SYSTEM.HIV"),
        system_hive("GOODHOST", "file server"),
    )
    .unwrap();
    bundle
}

// --- 2. Diagnostics about lines longer than 65,535 columns ---------------------------------

#[test]
fn a_reg_error_past_column_65535_is_reported_and_the_other_host_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let long = bundle.join("FS02_policy.reg");
    fs::write(
        &long,
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Hiveward]\r\n\"{}\"=bogus:1\r\n\"Fine\"=dword:00000001\r\n",
            "a".repeat(LONG)
        ),
    )
    .unwrap();
    let run = hiveward(&[
        os("scan"),
        os("--format"),
        os("json"),
        bundle.clone().into(),
    ]);
    assert_windowed_diagnostic(&run, &long, "unknown data form");
    let report = run.json();
    // The line is skipped and the rest of the file read. No rule reads the lost value: the
    // checks left unknown on FS02 are those of keys its export does not hold (exit 3), and
    // none of them for the lost line.
    assert_eq!(run.code, 3, "{}", run.stderr);
    let hosts = report["hosts"].as_array().expect("hosts");
    let unknown: Vec<&str> = hosts
        .iter()
        .flat_map(|host| host["outcomes"].as_array().into_iter().flatten())
        .filter(|outcome| outcome["outcome"] == "not_checked")
        .filter_map(|outcome| outcome["reason"].as_str())
        .collect();
    assert!(!unknown.is_empty(), "{report:#}");
    assert!(
        unknown
            .iter()
            .all(|reason| reason.contains("is not in this .reg export")
                && !reason.contains("line 4")),
        "{unknown:#?}"
    );
    let good = hosts
        .iter()
        .find(|host| host["name"] == "GOODHOST")
        .unwrap_or_else(|| panic!("GOODHOST is not in the report:\n{report:#}"));
    assert!(good["coverage"]["checked"].as_u64() > Some(0), "{good:#}");
    let bad = hosts
        .iter()
        .flat_map(|host| host["files"].as_array().into_iter().flatten())
        .find(|file| file["path"] == long.display().to_string().as_str())
        .unwrap_or_else(|| panic!("the .reg file is not in the report:\n{report:#}"));
    assert_eq!(bad["status"], "partial", "{bad:#}");

    // The text report too, and with --allow-partial the run succeeds on the good host.
    let run = hiveward(&[
        os("scan"),
        os("--allow-partial"),
        os("--fail-on"),
        os("never"),
        bundle.into(),
    ]);
    assert_windowed_diagnostic(&run, &long, "unknown data form");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout_str()
            .lines()
            .any(|line| line.starts_with("GOODHOST ")),
        "the table of hosts has a row for GOODHOST:\n{}",
        run.stdout_str()
    );
}

#[test]
fn a_waiver_error_past_column_65535_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let waivers = dir.path().join("waivers.toml");
    fs::write(
        &waivers,
        format!(
            "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"GOODHOST\"\njustification = \"{}\" stray\n",
            "a".repeat(LONG)
        ),
    )
    .unwrap();
    let run = hiveward(&[
        os("scan"),
        os("--waivers"),
        waivers.clone().into(),
        bundle.into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_windowed_diagnostic(&run, &waivers, "expected newline");
}

#[test]
fn a_baseline_error_past_column_65535_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let baseline = dir.path().join("baseline.json");
    fs::write(
        &baseline,
        format!(
            "{{\"version\": 1, \"tool\": \"hiveward\", \"fingerprints\": [{{\"fingerprint\": \"0123456789abcdef0123456789abcdef\", \"rule\": \"HW-STRICT-001\", \"host\": \"{}\"}} stray]}}\n",
            "a".repeat(LONG)
        ),
    )
    .unwrap();
    let run = hiveward(&[
        os("scan"),
        os("--baseline"),
        baseline.clone().into(),
        bundle.into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_windowed_diagnostic(&run, &baseline, "expected");
}

#[test]
fn a_pack_toml_error_past_column_65535_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let pack = write_pack(
        dir.path(),
        "longpack",
        &format!(
            "name = \"longpack\"\nversion = \"0.1.0\"\ndescription = \"{}\" stray\nmin_hiveward = \"0.1.0\"\n",
            "a".repeat(LONG)
        ),
        &[],
    );
    let run = hiveward(&[
        os("scan"),
        os("--rules"),
        pack.clone().into(),
        bundle.into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_windowed_diagnostic(&run, &pack.join("pack.toml"), "expected newline");
}

#[test]
fn a_rule_file_error_past_column_65535_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    // The error (the rule names another pack) sits after a comment of 70,000 characters.
    let rule = format!(
        "export const RULE = #{{ /* {} */ pack: \"elsewhere\", id: \"LONG-001\", title: \"t\", description: \"d\", severity: \"low\", fix: \"f\" }};\nfn check(host) {{ [] }}\n",
        "a".repeat(LONG)
    );
    let pack = write_pack(
        dir.path(),
        "longrule",
        &manifest("longrule"),
        &[("LONG-001.rhai", &rule)],
    );
    let run = hiveward(&[
        os("scan"),
        os("--rules"),
        pack.clone().into(),
        bundle.into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_windowed_diagnostic(&run, &pack.join("LONG-001.rhai"), "elsewhere");
}

/// `inspect --key` pads value names to one width: a name of 70,000 characters must not become a
/// formatting width (over 65,535 panics), and the names beside it stay aligned.
#[test]
fn inspect_key_lists_a_value_name_longer_than_65535_characters() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    let long_name = "n".repeat(LONG);
    fs::write(
        bundle.join("FS09_lanman.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"{long_name}\"=dword:00000001\r\n\"Short\"=dword:00000002\r\n\"Longer name\"=dword:00000003\r\n"
        ),
    )
    .unwrap();
    let run = hiveward(&[os("inspect"), os("--key"), os(PARAMETERS), bundle.into()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout_str()
            .contains(&format!("    {long_name}  REG_DWORD")),
        "the long name is not listed"
    );
    assert!(
        run.stdout_str()
            .contains("    Short        REG_DWORD      0x2 (2)")
            && run
                .stdout_str()
                .contains("    Longer name  REG_DWORD      0x3 (3)"),
        "{}",
        run.stdout_str()
            .lines()
            .filter(|line| line.len() < 500)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// --- 7. Terminal control sequences ---------------------------------------------------------

/// Sequences that retitle the terminal, clear it, colour or blink text, move the cursor back,
/// or reverse the reading direction.
const TITLE: &str = "\u{1b}]0;pwned\u{7}";
const CLEAR: &str = "\u{1b}[2J\u{1b}[H";
const CSI_C1: &str = "\u{9b}31m";
const BIDI: &str = "\u{202e}";

/// A rule whose title, description, message and fix text carry control sequences (written as
/// Rhai escapes), reading the `Comment` value as evidence.
fn evil_rule() -> String {
    format!(
        r#"export const RULE = #{{
    id: "EVIL-001",
    pack: "evil",
    title: "Title \x1b]0;pwned\x07 end",
    description: "Description \x1b[2J end",
    severity: "high",
    fix: "Step one \x1b[2J\nStep two \r\u009b31m end\nStep \u202e three",
}};

fn check(host) {{
    let comment = host.setting(`{PARAMETERS}`, "Comment");
    [#{{ message: "Host " + host.name + " says \x1b[5mhello\x07", evidence: [comment] }}]
}}
"#
    )
}

/// The hostile pack, with a test file whose case name carries control sequences and fails.
fn evil_pack(root: &Path) -> PathBuf {
    let tests = "[[case]]\nname = \"case \\u001b]0;pwned\\u0007 \\u202e end\"\nexpect = []\nreg = '''\nWindows Registry Editor Version 5.00\n'''\n";
    write_pack(
        root,
        "evil",
        &manifest("evil"),
        &[
            ("EVIL-001.rhai", &evil_rule()),
            ("EVIL-001.tests.toml", tests),
        ],
    )
}

fn evil_name() -> String {
    format!("FS01{TITLE}{CLEAR}")
}

fn evil_comment() -> String {
    format!("note {CLEAR}{CSI_C1}{BIDI} end\u{7}")
}

/// A bundle whose hive names its machine with control sequences and whose `Comment` value holds
/// more; the hive's file name has one too.
fn evil_bundle(root: &Path) -> PathBuf {
    let bundle = root.join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    fs::write(
        bundle.join("FS01\u{1b}[2J_SYSTEM.HIV"),
        system_hive(&evil_name(), &evil_comment()),
    )
    .unwrap();
    bundle
}

#[test]
fn scan_text_shows_control_sequences_from_evidence_rules_and_waivers_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = evil_bundle(dir.path());
    let pack = evil_pack(dir.path());
    let waivers = dir.path().join("waivers.toml");
    fs::write(
        &waivers,
        "[[waiver]]\nrule = \"EVIL-001\"\nhost = \"*\"\njustification = \"accepted \\u001b]0;pwned\\u0007 \\u009b2J \\u202e end\"\n",
    )
    .unwrap();
    let args = |format: &str| {
        vec![
            os("scan"),
            os("--no-builtin"),
            os("--rules"),
            pack.clone().into(),
            os("--waivers"),
            waivers.clone().into(),
            os("--format"),
            os(format),
            bundle.clone().into(),
        ]
    };
    let run = hiveward(&[args("text"), vec![os("--detail")]].concat());
    assert_eq!(run.code, 0, "the finding is waived:\n{}", run.stderr);
    assert_no_control("scan text", run.stdout_str());
    assert_no_control("stderr", &run.stderr);
    for shown in [
        r"FS01\x1b]0;pwned\x07\x1b[2J\x1b[H: checked 1 of 1 rule(s)",
        r"EVIL-001  Title \x1b]0;pwned\x07 end",
        r"[waived: accepted \x1b]0;pwned\x07 \u{9b}2J \u{202e} end]",
        r"Host FS01\x1b]0;pwned\x07\x1b[2J\x1b[H says \x1b[5mhello\x07",
        r"Comment = note \x1b[2J\x1b[H\u{9b}31m\u{202e} end\x07 (REG_SZ)",
        r"FS01\x1b[2J_SYSTEM.HIV]",
        "        Step one \\x1b[2J\n        Step two \\r\\u{9b}31m end\n        Step \\u{202e} three\n",
    ] {
        assert!(run.stdout_str().contains(shown), "{shown:?} not in:\n{}", run.stdout_str());
    }

    // The summary layout, in colour: only the report's own colour sequences reach the
    // terminal, everything from the evidence, the pack and the waiver is escaped.
    let run = hiveward(&[args("text"), vec![os("--color"), os("always")]].concat());
    assert_eq!(run.code, 0, "the finding is waived:\n{}", run.stderr);
    let plain = without_colour(run.stdout_str());
    assert_no_control("scan text in colour", &plain);
    for shown in [
        r"FS01\x1b]0;pwned\x07\x1b[2J\x1b[H  ",
        r"EVIL-001  Title \x1b]0;pwned\x07 end",
        r"[waived: accepted \x1b]0;pwned\x07 \u{9b}2J \u{202e} end]",
        r"Host FS01\x1b]0;pwned\x07\x1b[2J\x1b[H says \x1b[5mhello\x07",
        r"Comment = note \x1b[2J\x1b[H\u{9b}31m\u{202e} end\x07 (REG_SZ)",
        r"FS01\x1b[2J_SYSTEM.HIV]",
        "    Step one \\x1b[2J\n    Step two \\r\\u{9b}31m end\n    Step \\u{202e} three\n",
    ] {
        assert!(plain.contains(shown), "{shown:?} not in:\n{plain}");
    }

    // JSON carries the strings as they are.
    let report = hiveward(&args("json")).json();
    assert_eq!(
        report["hosts"][0]["name"],
        evil_name().as_str(),
        "{report:#}"
    );
    let finding = &report["findings"][0];
    assert_eq!(
        finding["suppression"]["justification"],
        format!("accepted {TITLE} \u{9b}2J {BIDI} end").as_str(),
        "{finding:#}"
    );
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|message| message.contains(&evil_name())),
        "{finding:#}"
    );
}

#[test]
fn inspect_text_shows_names_and_values_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = evil_bundle(dir.path());
    let run = hiveward(&[
        os("inspect"),
        os("--key"),
        os(PARAMETERS),
        bundle.clone().into(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_control("inspect text", run.stdout_str());
    for shown in [
        r"host FS01\x1b]0;pwned\x07\x1b[2J\x1b[H (name from ComputerName)",
        r"FS01\x1b[2J_SYSTEM.HIV  [SYSTEM hive",
        r"REG_SZ         note \x1b[2J\x1b[H\u{9b}31m\u{202e} end\x07",
    ] {
        assert!(
            run.stdout_str().contains(shown),
            "{shown:?} not in:\n{}",
            run.stdout_str()
        );
    }
    let report = hiveward(&[os("inspect"), os("--format"), os("json"), bundle.into()]).json();
    assert_eq!(
        report["hosts"][0]["name"],
        evil_name().as_str(),
        "{report:#}"
    );
}

#[test]
fn event_fields_are_escaped_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("logs");
    fs::create_dir_all(&bundle).unwrap();
    let computer = format!("EVT{TITLE}{BIDI}");
    let mut log = EvtxWriter::new();
    log.push(
        Event::new("System", "Microsoft-Windows-Kernel-General", 12)
            .computer(&computer)
            .unix_time(1_700_000_000),
    );
    fs::write(bundle.join("System.evtx"), log.to_bytes()).unwrap();
    let run = hiveward(&[os("inspect"), os("--events"), bundle.clone().into()]);
    assert_no_control("inspect text", run.stdout_str());
    assert!(
        run.stdout_str()
            .contains(r"host EVT\x1b]0;pwned\x07\u{202e}"),
        "{}",
        run.stdout_str()
    );
    assert!(
        run.stdout_str()
            .contains(r"computer EVT\x1b]0;pwned\x07\u{202e}"),
        "{}",
        run.stdout_str()
    );
    let run = hiveward(&[os("scan"), os("--fail-on"), os("never"), bundle.into()]);
    assert_no_control("scan text", run.stdout_str());
    assert_no_control("stderr", &run.stderr);
    assert!(
        run.stdout_str().contains(r"EVT\x1b]0;pwned\x07\u{202e}"),
        "{}",
        run.stdout_str()
    );
}

#[test]
fn rules_list_show_and_test_show_pack_text_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let pack = evil_pack(dir.path());
    let run = hiveward(&[os("rules"), os("list"), os("--rules"), pack.clone().into()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_control("rules list", run.stdout_str());
    assert!(
        run.stdout_str().contains(r"Title \x1b]0;pwned\x07 end"),
        "{}",
        run.stdout_str()
    );

    let run = hiveward(&[
        os("rules"),
        os("show"),
        os("EVIL-001"),
        os("--rules"),
        pack.clone().into(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_control("rules show", run.stdout_str());
    for shown in [
        r"EVIL-001  Title \x1b]0;pwned\x07 end",
        r"Description \x1b[2J end",
        "Step one \\x1b[2J\nStep two \\r\\u{9b}31m end\nStep \\u{202e} three",
    ] {
        assert!(
            run.stdout_str().contains(shown),
            "{shown:?} not in:\n{}",
            run.stdout_str()
        );
    }

    let run = hiveward(&[os("rules"), os("test"), pack.into()]);
    assert_eq!(run.code, 1, "the case fails:\n{}", run.stdout_str());
    assert_no_control("rules test", run.stdout_str());
    assert!(
        run.stdout_str()
            .contains(r"FAIL EVIL-001 case \x1b]0;pwned\x07 \u{202e} end"),
        "{}",
        run.stdout_str()
    );
}

#[test]
fn diagnostics_and_notices_on_stderr_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    // A .reg export whose bad line (skipped, with a warning) and file name carry control
    // sequences, and in a folder of its own a file named like a hive of host `EVIL<ESC>...`
    // that holds none, so that host cannot be checked.
    fs::write(
        bundle.join("FS02\u{1b}]0;pwned\u{7}_policy.reg"),
        format!("{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n\"a\"=\u{1b}[2Jbogus\u{9b}\r\n"),
    )
    .unwrap();
    fs::create_dir_all(bundle.join("evil")).unwrap();
    fs::write(
        bundle.join("evil").join("EVIL\u{1b}[2J_SYSTEM.HIV"),
        b"not a hive at all",
    )
    .unwrap();
    let run = hiveward(&[os("scan"), bundle.into()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_no_control("stderr", &run.stderr);
    assert_no_control("scan text", run.stdout_str());
    for shown in [r"FS02\x1b]0;pwned\x07_policy.reg", r"\x1b[2Jbogus\u{9b}"] {
        assert!(
            run.stderr.contains(shown),
            "{shown:?} not in:\n{}",
            run.stderr
        );
    }
    // The notice that the files' host could not be checked names them, escaped.
    assert!(
        run.stderr.lines().any(|line| line.starts_with("error: ")
            && line.contains("no rule could check anything")
            && line.contains(r"EVIL\x1b[2J_SYSTEM.HIV")),
        "{}",
        run.stderr
    );
}

// --- 8. File names -------------------------------------------------------------------------

#[test]
fn a_line_feed_in_a_file_name_stays_on_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let hive_name = "FS03\nINJECTED: fake line_SYSTEM.HIV";
    fs::write(bundle.join(hive_name), system_hive("FS03", "x")).unwrap();
    let junk_name = "notes\nINJECTED: passed over.txt";
    fs::write(bundle.join(junk_name), "just some notes").unwrap();

    let runs = [
        ("inspect", hiveward(&[os("inspect"), bundle.clone().into()])),
        (
            "scan",
            hiveward(&[
                os("scan"),
                os("--fail-on"),
                os("never"),
                bundle.clone().into(),
            ]),
        ),
    ];
    for (command, run) in runs {
        assert_eq!(run.code, 0, "{command}:\n{}", run.stderr);
        assert_no_control(command, run.stdout_str());
        assert!(
            !run.stdout_str()
                .lines()
                .any(|line| line.starts_with("INJECTED")),
            "{command}:\n{}",
            run.stdout_str()
        );
        assert!(
            run.stdout_str()
                .contains(r"notes\nINJECTED: passed over.txt"),
            "{command}:\n{}",
            run.stdout_str()
        );
    }
    let run = hiveward(&[os("inspect"), bundle.clone().into()]);
    assert!(
        run.stdout_str()
            .contains(r"FS03\nINJECTED: fake line_SYSTEM.HIV  [SYSTEM hive"),
        "{}",
        run.stdout_str()
    );

    // JSON keeps the real name, line feed and all.
    let report = hiveward(&[
        os("inspect"),
        os("--format"),
        os("json"),
        bundle.clone().into(),
    ])
    .json();
    let paths = all_paths(&report);
    for name in [hive_name, junk_name] {
        let wanted = bundle.join(name).display().to_string();
        assert!(paths.contains(&wanted), "{wanted:?} not in {paths:#?}");
    }
}

/// Every file path the report lists: hosts' files and files passed over.
fn all_paths(report: &Value) -> Vec<String> {
    let files = report["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|host| host["files"].as_array().into_iter().flatten())
        .chain(report["passed_over"].as_array().into_iter().flatten());
    files
        .filter_map(|file| file["path"].as_str().map(str::to_string))
        .collect()
}

#[cfg(unix)]
#[test]
fn names_that_differ_only_in_invalid_utf8_stay_distinct() {
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().unwrap();
    let bundle = good_bundle(dir.path());
    let name = |bytes: &[u8]| bundle.join(OsStr::from_bytes(bytes));
    fs::write(name(b"X\xff_SYSTEM.HIV"), b"not a hive").unwrap();
    fs::write(name(b"X\xfe_SYSTEM.HIV"), b"not a hive either").unwrap();
    fs::write(name(b"notes\xff.txt"), "notes").unwrap();
    fs::write(name(b"notes\xfe.txt"), "notes").unwrap();
    fs::write(name(br"notes\xff.txt"), "a name with a real backslash").unwrap();
    let root = bundle.display().to_string();
    // Each name as it is on disk, and as reports must give it.
    let names: [(&[u8], &str); 5] = [
        (b"X\xff_SYSTEM.HIV", r"X\xff_SYSTEM.HIV"),
        (b"X\xfe_SYSTEM.HIV", r"X\xfe_SYSTEM.HIV"),
        (b"notes\xff.txt", r"notes\xff.txt"),
        (b"notes\xfe.txt", r"notes\xfe.txt"),
        (br"notes\xff.txt", r"notes\\xff.txt"),
    ];
    for (bytes, shown) in names {
        // The form reads back as the very file.
        let text = format!("{root}/{shown}");
        let back = hiveward_collectors::path_from_text(&text).expect("a path text");
        assert_eq!(
            back.as_os_str().as_bytes(),
            name(bytes).as_os_str().as_bytes()
        );
    }
    let expected: Vec<String> = names
        .iter()
        .map(|(_, shown)| format!("{root}/{shown}"))
        .collect();

    for command in ["inspect", "scan"] {
        let report = hiveward(&[
            os(command),
            os("--format"),
            os("json"),
            bundle.clone().into(),
        ])
        .json();
        let paths = all_paths(&report);
        for wanted in &expected {
            assert!(
                paths.contains(wanted),
                "{command}: {wanted:?} not in {paths:#?}"
            );
        }
    }

    let run = hiveward(&[os("inspect"), bundle.into()]);
    assert_no_control("inspect text", run.stdout_str());
    for wanted in &expected {
        assert!(
            run.stdout_str().contains(wanted.as_str()),
            "{wanted:?} not in:\n{}",
            run.stdout_str()
        );
    }
}

/// A finding's evidence cites its file in the same lossless form as the host's file list, so
/// the two stay joinable for names that are not UTF-8.
#[cfg(unix)]
#[test]
fn evidence_files_keep_the_identity_of_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    let hive = hiveward_testkit::hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"DisableStrictNameChecking\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"FS01\"\r\n"
    ));
    fs::write(bundle.join(OsStr::from_bytes(b"FS01_SYSTEM\xff.HIV")), hive).unwrap();
    let report = hiveward(&[
        os("scan"),
        os("--only"),
        os("HW-HARD-004,HW-STRICT-001"),
        os("--format"),
        os("json"),
        os("--fail-on"),
        os("never"),
        bundle.clone().into(),
    ])
    .json();
    let listed = report["hosts"][0]["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(listed.ends_with(r"FS01_SYSTEM\xff.HIV"), "{listed}");
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "HW-STRICT-001", "{report:#}");
    assert_eq!(
        finding["evidence"][0]["file"].as_str(),
        Some(listed.as_str())
    );
    // Every evidence file a rule can cite comes from the registry read: the same form.
    let run = hiveward(&[
        os("inspect"),
        os("--format"),
        os("json"),
        os("--key"),
        os(r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"),
        bundle.into(),
    ])
    .json();
    assert_eq!(
        run["hosts"][0]["key"]["file"].as_str(),
        Some(listed.as_str())
    );
}
