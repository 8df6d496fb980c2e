//! Bad evidence never panics `hiveward inspect`: each damaged, empty, unreadable or misnamed
//! file gets a diagnostic on stderr that names the file and the problem, the good files beside
//! it are still read, and the exit code says whether anything could be read.

mod support;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use hiveward_collectors::{
    base_block_checksum, collect, discover, CollectOptions, Collection, DiscoverOptions, FileStatus,
};
use hiveward_testkit::hive_from_reg;
use serde_json::Value;
use support::{root, Run};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const GOOD_HOST: &str = "GOODHOST";
const GOOD_FILE: &str = "GOOD_SYSTEM.HIV";

/// A SYSTEM hive that names its machine `computer_name`.
fn system_hive(computer_name: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
         \"Current\"=dword:00000001\r\n\"Default\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000002\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"{computer_name}\"\r\n"
    ))
}

impl Run {
    /// stderr with line breaks and the frame characters of miette's layout taken out, so that a
    /// message wrapped over several lines can be searched as one.
    fn stderr_joined(&self) -> String {
        self.stderr
            .lines()
            .map(|line| {
                line.trim_start_matches(|c: char| c.is_whitespace() || "│├╰╭─×⚠☞▶·┬┴".contains(c))
                    .trim_end()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs `hiveward ARGS` in the workspace root, through [`checked`].
fn hiveward(args: &[&OsStr]) -> Run {
    checked(support::hiveward(&root(), args), args)
}

/// `run` (of `hiveward ARGS`) after checking that it exited without a panic, with its exit code
/// and stderr printed for the test's log.
fn checked(run: Run, args: &[&OsStr]) -> Run {
    assert_ne!(run.code, -1, "hiveward exits, not killed");
    println!(
        "hiveward {:?} -> {}\n--- stderr ---\n{}",
        args, run.code, run.stderr
    );
    run.assert_no_panic();
    run
}

/// `hiveward inspect --format json FOLDER` run as the user `nobody` through `setpriv`, for
/// when the tests run as root (where file permissions do not stop reads). `None` when that is
/// not possible here.
fn inspect_json_as_nobody(folder: &Path) -> Option<Run> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|path| Path::new(path).is_file())?;
    let binary = assert_cmd::cargo::cargo_bin("hiveward");
    let probe = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .arg("--version")
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    let mut command = Command::new(setpriv);
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["inspect", "--format", "json"])
        .arg(folder);
    let output = command.output().expect("hiveward runs");
    Some(checked(Run::from_output(output), &[folder.as_os_str()]))
}

fn inspect_json(paths: &[&Path]) -> Run {
    let mut args: Vec<&OsStr> = vec!["inspect".as_ref(), "--format".as_ref(), "json".as_ref()];
    args.extend(paths.iter().map(|path| path.as_os_str()));
    hiveward(&args)
}

/// The JSON record of `path` among every host's files, with its host's name.
fn file_record<'v>(report: &'v Value, path: &Path) -> Option<(&'v str, &'v Value)> {
    let wanted = path.display().to_string();
    report["hosts"].as_array()?.iter().find_map(|host| {
        host["files"]
            .as_array()?
            .iter()
            .find(|file| file["path"] == wanted.as_str())
            .map(|file| (host["name"].as_str().unwrap_or_default(), file))
    })
}

/// A folder holding the good hive and one bad file.
struct Case {
    _dir: tempfile::TempDir,
    folder: PathBuf,
    good: PathBuf,
    bad: PathBuf,
}

fn case(bad_name: &str, bad_bytes: &[u8]) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("bundle");
    fs::create_dir_all(&folder).unwrap();
    let good = folder.join(GOOD_FILE);
    fs::write(&good, system_hive(GOOD_HOST)).unwrap();
    let bad = folder.join(bad_name);
    fs::write(&bad, bad_bytes).unwrap();
    Case {
        _dir: dir,
        folder,
        good,
        bad,
    }
}

/// The good hive's host is in the report with its file read.
fn assert_good_host_read(report: &Value, good: &Path) {
    let (host, record) = file_record(report, good)
        .unwrap_or_else(|| panic!("{} is not in the report:\n{report:#}", good.display()));
    assert_eq!(host, GOOD_HOST, "{report:#}");
    assert_eq!(record["status"], "read", "{record:#}");
}

/// Runs the binary on the case's folder and checks the bad file was reported, not fatal:
/// exit 0 (the good hive was read), a diagnostic naming the file and `problem` on stderr, and
/// the bad file in the report as unreadable with the same message.
fn assert_reported(case: &Case, problem: &str) -> Run {
    let run = inspect_json(&[&case.folder]);
    check_reported(case, run, problem)
}

fn check_reported(case: &Case, run: Run, problem: &str) -> Run {
    assert_eq!(run.code, 0, "the good hive was readable:\n{}", run.stderr);
    let stderr = run.stderr_joined();
    let bad = case.bad.display().to_string();
    assert!(
        stderr.contains(&format!("{bad}: ")),
        "stderr does not name {bad}:\n{}",
        run.stderr
    );
    assert!(
        stderr.contains(problem),
        "stderr does not say {problem:?}:\n{}",
        run.stderr
    );
    let report = run.json();
    assert_good_host_read(&report, &case.good);
    let (_, record) = file_record(&report, &case.bad)
        .unwrap_or_else(|| panic!("{bad} is not in the report:\n{report:#}"));
    assert_eq!(record["status"], "unreadable", "{record:#}");
    let notices = record["notices"].as_array().expect("notices");
    assert!(
        notices.iter().any(|notice| notice["level"] == "error"
            && notice["file"] == bad.as_str()
            && notice["message"]
                .as_str()
                .is_some_and(|message| message.contains(problem))),
        "{record:#}"
    );
    assert!(report["summary"]["files_unreadable"].as_u64() >= Some(1));
    run
}

/// The same case through the library: one diagnostic, for the bad file, with `code`.
fn assert_library_diagnostic(case: &Case, code: &str) -> Collection {
    let collection = collect(
        discover(
            std::slice::from_ref(&case.folder),
            &DiscoverOptions::default(),
        ),
        &CollectOptions::default(),
    );
    let diagnostics: Vec<(PathBuf, String)> = collection
        .diagnostics
        .iter()
        .map(|error| (error.path().to_path_buf(), error.code_name()))
        .collect();
    assert_eq!(diagnostics, [(case.bad.clone(), code.to_string())]);
    assert!(collection.anything_readable());
    let good = collection
        .hosts
        .iter()
        .find(|host| host.name == GOOD_HOST)
        .expect("the good host is collected");
    assert_eq!(good.files.len(), 1);
    assert_eq!(good.files[0].status, FileStatus::Read);
    collection
}

fn with_fixed_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let checksum = base_block_checksum(&bytes);
    bytes[0x1fc..0x200].copy_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn truncated_hive() {
    let mut bytes = system_hive("HALFHOST");
    let half = bytes.len() / 2;
    bytes.truncate(half);
    let case = case("HALF_SYSTEM.HIV", &bytes);
    assert_reported(&case, "truncated");
    let collection = assert_library_diagnostic(&case, "hiveward::hive::truncated");
    // The file still forms a host of its own, named by its prefix.
    assert!(collection.hosts.iter().any(|host| host.name == "HALF"
        && host.files[0].status == FileStatus::Unreadable
        && !host.has_readable_evidence()));
}

#[test]
fn zero_length_system_file() {
    let case = case("SYSTEM", b"");
    assert_reported(&case, "empty");
    assert_library_diagnostic(&case, "hiveward::empty_file");
}

#[test]
fn text_file_with_a_hive_name() {
    let case = case(
        "FS01_SYSTEM.HIV",
        b"The operation completed successfully.\r\n",
    );
    assert_reported(&case, "not a registry hive");
    assert_library_diagnostic(&case, "hiveward::hive::not_a_hive");
}

#[test]
fn text_file_with_an_event_log_name() {
    // A symbolic link stored by git as a text file (plaso's `link_to_System.evtx`).
    let case = case("link_to_System.evtx", b"System.evtx");
    assert_reported(&case, "not an EVTX event log");
    assert_library_diagnostic(&case, "hiveward::evtx::not_a_log");
}

#[test]
fn hive_with_a_damaged_hbin_signature() {
    // What happens: the reader does not check bin headers (nt-hive is opened without
    // validation), so the cells are still found through their offsets and the hive is read:
    // the host is named from the ComputerName stored in the damaged bin. A reader that checks
    // bins may instead mark the file partial or unreadable, but then it must say so.
    let mut bytes = system_hive("BADBIN");
    assert_eq!(&bytes[4096..4100], b"hbin");
    bytes[4096..4100].copy_from_slice(b"XXXX");
    let case = case("DAMAGED_SYSTEM.HIV", &bytes);
    let run = inspect_json(&[&case.folder]);
    assert_eq!(run.code, 0);
    let report = run.json();
    assert_good_host_read(&report, &case.good);
    let (host, record) = file_record(&report, &case.bad).expect("the damaged hive is reported");
    let bad = case.bad.display().to_string();
    match record["status"].as_str() {
        Some("read") => {
            assert_eq!(record["hive_kind"], "SYSTEM");
            assert_eq!(host, "BADBIN", "the name comes from the damaged bin");
        }
        Some("partial") => {
            assert_eq!(host, "BADBIN", "the name comes from the damaged bin");
            assert!(
                record["notices"]
                    .as_array()
                    .is_some_and(|notices| notices.iter().any(|n| n["file"] == bad.as_str())),
                "{record:#}"
            );
        }
        Some("unreadable") => assert!(run.stderr_joined().contains(&format!("{bad}: "))),
        other => panic!("unexpected status {other:?}: {record:#}"),
    }
}

#[test]
fn hive_whose_root_cell_offset_points_nowhere() {
    let mut bytes = system_hive("ROOTLESS");
    bytes[0x24..0x28].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    let bytes = with_fixed_checksum(bytes);
    let case = case("ROOTLESS_SYSTEM.HIV", &bytes);
    let run = assert_reported(&case, "damaged hive");
    assert!(run.stderr_joined().contains("root key"), "{}", run.stderr);
    assert_library_diagnostic(&case, "hiveward::hive::corrupt");
}

#[test]
fn file_that_cannot_be_read() {
    use std::os::unix::fs::PermissionsExt;
    let case = case("LOCKED_SYSTEM.HIV", &system_hive("LOCKED"));
    fs::set_permissions(&case.bad, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&case.bad).is_err() {
        assert_reported(&case, "cannot read the file");
        assert_library_diagnostic(&case, "hiveward::io");
        return;
    }
    // Running as root: chmod 000 does not stop our reads, so run the binary as `nobody`.
    for folder in [case._dir.path(), case.folder.as_path()] {
        fs::set_permissions(folder, fs::Permissions::from_mode(0o755)).unwrap();
    }
    match inspect_json_as_nobody(&case.folder) {
        Some(run) => {
            check_reported(&case, run, "cannot read the file");
        }
        None => println!(
            "skipped: {} is still readable after chmod 000 (running as root) and the binary \
             cannot be run as another user here",
            case.bad.display()
        ),
    }
}

#[test]
fn dangling_symlink_given_as_an_input() {
    // A file that cannot be read even by root: a link given on the command line whose target
    // is gone. It is named like a hive, so it is reported as unreadable evidence.
    let case = case("unused.txt", b"");
    let link = case.folder.join("LOST_SYSTEM.HIV");
    std::os::unix::fs::symlink(case.folder.join("gone/SYSTEM"), &link).unwrap();
    let run = inspect_json(&[&case.good, &link]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_good_host_read(&report, &case.good);
    // It is in the report: as an unreadable file, or passed over with the reason.
    let wanted = link.display().to_string();
    let listed = file_record(&report, &link)
        .is_some_and(|(_, record)| record["status"] == "unreadable")
        || report["passed_over"].as_array().is_some_and(|passed| {
            passed.iter().any(|entry| {
                entry["path"] == wanted.as_str()
                    && entry["reason"]
                        .as_str()
                        .is_some_and(|reason| reason.contains("No such file"))
            })
        });
    assert!(listed, "{report:#}");
    // And, as an input the user named that could not be read, it gets a diagnostic.
    let stderr = run.stderr_joined();
    assert!(
        stderr.contains(&format!("{wanted}: ")) && stderr.contains("No such file"),
        "no diagnostic on stderr for {wanted}:\n{}",
        run.stderr
    );
}

#[test]
fn reg_export_with_a_syntax_error_on_line_4_loses_that_value_only() {
    let text = "Windows Registry Editor Version 5.00\r\n\r\n\
                [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Hiveward]\r\n\
                \"Broken\"=dword:not-a-number\r\n\
                \"Fine\"=dword:00000001\r\n";
    let case = case("FS01_policy.reg", text.as_bytes());
    let run = inspect_json(&[&case.folder]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A warning on stderr names the file, and its snippet the line (and column).
    let stderr = run.stderr_joined();
    let bad = case.bad.display().to_string();
    assert!(
        stderr.contains(&format!("{bad}: .reg syntax error on line 4")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&format!("{bad}:4:")), "{}", run.stderr);
    assert!(run.stderr.contains("not-a-number"), "{}", run.stderr);
    assert!(
        stderr.contains(
            r#"rules that read value "Broken" of HKLM\SOFTWARE\Policies\Hiveward are not checked"#
        ),
        "{}",
        run.stderr
    );
    // The report marks the file read in part, with the same warning.
    let report = run.json();
    assert_good_host_read(&report, &case.good);
    let (_, record) = file_record(&report, &case.bad).expect("the export is listed");
    assert_eq!(record["status"], "partial", "{record:#}");
    assert!(
        record["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|notice| notice["level"] == "warning"
                && notice["code"] == "hiveward::reg::syntax"
                && notice["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("line 4"))),
        "{record:#}"
    );
    assert_eq!(report["summary"]["files_partial"], 1);
    assert_eq!(report["summary"]["files_unreadable"], 0);

    // The other value reads; the broken one is an error naming the file and the line.
    let collection = assert_library_diagnostic(&case, "hiveward::reg::syntax");
    let host = collection
        .hosts
        .iter()
        .find(|host| host.name == "FS01")
        .expect("the export forms a host");
    let fine = host
        .registry
        .value(r"HKLM\SOFTWARE\Policies\Hiveward", "Fine")
        .expect("Fine reads")
        .expect("Fine is set");
    assert_eq!(fine.data.data, hiveward_collectors::RegData::Integer(1));
    let broken = host
        .registry
        .value(r"HKLM\SOFTWARE\Policies\Hiveward", "Broken")
        .expect_err("Broken was lost");
    assert!(
        broken.to_string().contains(&format!(
            r#"{bad}: value "Broken" of HKLM\SOFTWARE\Policies\Hiveward cannot be read: line 4"#
        )),
        "{broken}"
    );
}

#[test]
fn every_bad_file_in_one_run_is_reported_and_the_good_host_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("TEMP");
    fs::create_dir_all(bundle.join("triage/C/Windows/System32/config")).unwrap();
    let good = bundle.join(GOOD_FILE);
    fs::write(&good, system_hive(GOOD_HOST)).unwrap();
    let mut truncated = system_hive("HALF");
    truncated.truncate(truncated.len() / 2);
    let mut rootless = system_hive("ROOTLESS");
    rootless[0x24..0x28].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    // Each bad file, what stderr says of it, and how the report lists it.
    let bad: Vec<(PathBuf, Vec<u8>, &str, &str)> = vec![
        (
            bundle.join("HALF_SYSTEM.HIV"),
            truncated,
            "truncated",
            "unreadable",
        ),
        (
            bundle.join("triage/C/Windows/System32/config/SYSTEM"),
            Vec::new(),
            "empty",
            "unreadable",
        ),
        (
            bundle.join("FS01_SYSTEM.HIV"),
            b"Access is denied.\r\n".to_vec(),
            "not a registry hive",
            "unreadable",
        ),
        (
            bundle.join("ROOTLESS_SYSTEM.HIV"),
            with_fixed_checksum(rootless),
            "damaged hive",
            "unreadable",
        ),
        (
            bundle.join("WS1_x.reg"),
            format!("{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n\"a=1\r\n").into_bytes(),
            "syntax error on line 4",
            "partial",
        ),
    ];
    for (path, bytes, _, _) in &bad {
        fs::write(path, bytes).unwrap();
    }
    let run = inspect_json(&[&bundle]);
    assert_eq!(run.code, 0);
    let stderr = run.stderr_joined();
    let report = run.json();
    assert_good_host_read(&report, &good);
    for (path, _, problem, status) in &bad {
        let named = format!("{}: ", path.display());
        let at = stderr
            .find(&named)
            .unwrap_or_else(|| panic!("stderr does not name {}:\n{}", path.display(), run.stderr));
        assert!(
            stderr[at..].contains(problem),
            "{}: {problem:?} missing",
            path.display()
        );
        let (_, record) = file_record(&report, path).expect("bad file listed");
        assert_eq!(record["status"], *status, "{record:#}");
    }
    assert_eq!(report["summary"]["files_unreadable"], bad.len() - 1);
    assert_eq!(report["summary"]["files_partial"], 1);
    assert_eq!(report["summary"]["files_read"], 1);
}

#[test]
fn exit_code_3_when_nothing_could_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("SYSTEM");
    fs::write(&empty, b"").unwrap();
    let text = dir.path().join("PC1_SOFTWARE.HIV");
    fs::write(&text, b"not a hive").unwrap();
    let run = inspect_json(&[&empty, &text]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let stderr = run.stderr_joined();
    assert!(stderr.contains(&format!("{}: ", empty.display())));
    assert!(stderr.contains(&format!("{}: ", text.display())));
    assert!(
        stderr.contains("no evidence could be read"),
        "{}",
        run.stderr
    );
    // The report is still written.
    let report = run.json();
    assert_eq!(report["summary"]["files_read"], 0);
    assert_eq!(report["summary"]["files_unreadable"], 2);

    // Only passed-over files: nothing read either.
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, b"hello").unwrap();
    let run = inspect_json(&[&notes]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(
        run.json()["passed_over"][0]["path"],
        notes.display().to_string()
    );

    // The text format exits the same way.
    let run = hiveward(&["inspect".as_ref(), empty.as_os_str()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn exit_code_0_when_something_was_readable() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD_FILE);
    fs::write(&good, system_hive(GOOD_HOST)).unwrap();
    let run = inspect_json(&[&good]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_good_host_read(&run.json(), &good);
    let run = hiveward(&["inspect".as_ref(), good.as_os_str()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout_str().contains(GOOD_HOST), "{}", run.stdout_str());
}

#[test]
fn exit_code_2_for_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(GOOD_FILE);
    fs::write(&good, system_hive(GOOD_HOST)).unwrap();

    let run = hiveward(&[
        "inspect".as_ref(),
        "--no-such-flag".as_ref(),
        good.as_os_str(),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--no-such-flag"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    // A path that does not exist, even beside a good one.
    let missing = dir.path().join("no/such/bundle");
    let run = inspect_json(&[&good, &missing]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&missing.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout_str());

    // No paths, and an unknown format.
    assert_eq!(hiveward(&["inspect".as_ref()]).code, 2);
    let run = hiveward(&[
        "inspect".as_ref(),
        "--format".as_ref(),
        "xml".as_ref(),
        good.as_os_str(),
    ]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_rule_that_reads_a_value_lost_to_a_bad_reg_line_is_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("FS01_lanman.reg");
    fs::write(
        &export,
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:000000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanWorkstation\\Parameters]\r\n\
             \"RequireSecuritySignature\"=dword:00000000\r\n"
        ),
    )
    .unwrap();
    let args: Vec<&OsStr> = vec![
        OsStr::new("scan"),
        OsStr::new("--only"),
        OsStr::new("HW-SIGN-001,HW-SIGN-002"),
        OsStr::new("--format"),
        OsStr::new("json"),
        export.as_os_str(),
    ];
    let run = hiveward(&args);
    let report = run.json();
    let outcomes: Vec<(&str, &str, &str)> = report["hosts"][0]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|outcome| {
            (
                outcome["rule"].as_str().unwrap(),
                outcome["outcome"].as_str().unwrap(),
                outcome["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    // The server's value is on the bad line: its rule could not look. The client's reads.
    let (_, server, reason) = outcomes[0];
    assert_eq!(
        (outcomes[0].0, server),
        ("HW-SIGN-001", "not_checked"),
        "{outcomes:?}"
    );
    assert!(
        reason.contains(&format!(
            "{}: value \"RequireSecuritySignature\" of HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters cannot be read: line 4",
            export.display()
        )),
        "{reason}"
    );
    assert_eq!(outcomes[1].0, "HW-SIGN-002");
    assert_eq!(outcomes[1].1, "findings", "{outcomes:?}");
    // Incomplete: exit 3 without --allow-partial, as for any damaged evidence.
    assert_eq!(run.code, 3, "{}", run.stderr);
}
