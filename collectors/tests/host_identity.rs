//! Host identity from the evidence alone: event logs are always read for the computers their
//! records name, whatever events the rules select, so the same bundle gives the same hosts;
//! two computers are never merged into one host, and a log that names another computer than
//! its file name or folder suggests goes to that computer's host, with a warning.

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_collectors::{
    collect, discover, CollectOptions, Collection, DiscoverOptions, EventNeedFilter,
    EventSelection, EvtxReadOptions, FileStatus, Host, NameSource, Notice, NoticeLevel,
};
use hiveward_evtxwriter::{security_4624, Event, EvtxWriter};
use hiveward_testkit::hive_from_reg;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const OTHER_COMPUTER: &str = "hiveward::bundle::log_of_other_computer";
const SEVERAL_COMPUTERS: &str = "hiveward::bundle::log_of_several_computers";
const SPLIT: &str = "hiveward::bundle::split_by_computer";

/// A SYSTEM hive recording `computer_name`.
fn system_hive(computer_name: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"{computer_name}\"\r\n"
    ))
}

/// A Security log with one logon per computer in `computers`, in that order.
fn security_log(computers: &[&str]) -> Vec<u8> {
    let mut log = EvtxWriter::new();
    for (index, computer) in computers.iter().enumerate() {
        log.push(
            security_4624("bob", 3, "NTLM", "NTLM V2")
                .computer(computer)
                .unix_time(1_700_000_000 + index as i64),
        );
    }
    log.to_bytes()
}

/// A System log of `records` service events; those from `switch_at` on name `later`, the
/// others `first`. Ten records fill a chunk, so the log has several.
fn system_log(records: usize, first: &str, later: &str, switch_at: usize) -> Vec<u8> {
    let mut log = EvtxWriter::new().records_per_chunk(10);
    for index in 0..records {
        let computer = if index < switch_at { first } else { later };
        log.push(
            Event::new("System", "Service Control Manager", 7036)
                .computer(computer)
                .unix_time(1_700_000_000 + index as i64)
                .data("param1", "Windows Update")
                .data("param2", "running"),
        );
    }
    log.to_bytes()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
        .expect("create fixture folder");
    fs::write(path, bytes).expect("write fixture file");
    path.to_path_buf()
}

/// The three selections a scan can make, the last read with two threads per file.
fn selections() -> Vec<(&'static str, CollectOptions)> {
    let options = |events: EventSelection, threads: usize| CollectOptions {
        events,
        evtx: EvtxReadOptions { threads },
        ..CollectOptions::default()
    };
    vec![
        ("nothing", options(EventSelection::Nothing, 1)),
        (
            "one Security event",
            options(
                EventSelection::Matching(vec![EventNeedFilter::new("Security", [4624])]),
                1,
            ),
        ),
        ("everything", options(EventSelection::Everything, 2)),
    ]
}

fn run(inputs: &[PathBuf], options: &CollectOptions) -> Collection {
    collect(discover(inputs, &DiscoverOptions::default()), options)
}

/// Each host's name, name source and files, in order.
fn hosts(collection: &Collection) -> Vec<(String, NameSource, Vec<String>)> {
    collection
        .hosts
        .iter()
        .map(|host| {
            let files = host.files.iter().map(|file| file.path.clone()).collect();
            (host.name.clone(), host.name_source, files)
        })
        .collect()
}

/// Collects `inputs` with every selection, checks they give the same hosts, and returns the
/// collection made with nothing selected.
fn collect_all_ways(inputs: &[PathBuf]) -> Collection {
    let mut expected = None;
    let mut first = None;
    for (label, options) in selections() {
        let collection = run(inputs, &options);
        let found = hosts(&collection);
        match &expected {
            None => expected = Some(found),
            Some(expected) => assert_eq!(&found, expected, "hosts differ when reading {label}"),
        }
        first.get_or_insert(collection);
    }
    first.expect("at least one selection")
}

fn host<'c>(collection: &'c Collection, name: &str) -> &'c Host {
    collection
        .hosts
        .iter()
        .find(|host| host.name == name)
        .unwrap_or_else(|| panic!("no host {name:?} in {:?}", hosts(collection)))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn file_paths(host: &Host) -> Vec<String> {
    host.files.iter().map(|file| file.path.clone()).collect()
}

/// The notices of `code` on the file at `path`.
fn notices<'c>(collection: &'c Collection, path: &Path, code: &str) -> Vec<&'c Notice> {
    collection
        .hosts
        .iter()
        .flat_map(|host| &host.files)
        .filter(|file| file.path == display(path))
        .flat_map(|file| &file.notices)
        .filter(|notice| notice.code == code)
        .collect()
}

#[test]
fn a_folder_of_logs_from_many_computers_gives_one_host_each() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("logs");
    let mut logs = Vec::new();
    for number in 1..=12 {
        // Some name their computer by its full name, some by the bare name.
        let computer = if number % 2 == 0 {
            format!("PC{number:02}.corp.example")
        } else {
            format!("PC{number:02}")
        };
        logs.push(write(
            &folder.join(format!("Security-{number:02}.evtx")),
            &security_log(&[&computer]),
        ));
    }
    // A second log of PC03, by its full name: the same computer.
    let pc03_full = write(
        &folder.join("Security-03b.evtx"),
        &security_log(&["pc03.corp.example"]),
    );
    // One first label, two full names: two computers.
    let lab = write(
        &folder.join("Security-13-lab.evtx"),
        &security_log(&["PC13.lab.example"]),
    );
    let corp = write(
        &folder.join("Security-13-corp.evtx"),
        &security_log(&["PC13.corp.example"]),
    );
    // A log whose records name no computer stays with the folder.
    let anonymous = write(&folder.join("Anonymous.evtx"), &security_log(&[""]));

    let collection = collect_all_ways(std::slice::from_ref(&folder));
    let names: Vec<&str> = collection
        .hosts
        .iter()
        .map(|host| host.name.as_str())
        .collect();
    // PC03 is named as its full name spells it.
    let pc = |number: i32| match number {
        3 => "pc03".to_string(),
        _ => format!("PC{number:02}"),
    };
    let mut expected: Vec<String> = (1..=12).map(pc).collect();
    expected.insert(0, "logs".to_string());
    expected.extend(["PC13".to_string(), "PC13#2".to_string()]);
    assert_eq!(names, expected);

    for (number, log) in (1..=12).zip(&logs) {
        let host = host(&collection, &pc(number));
        assert_eq!(host.name_source, NameSource::EventComputer);
        if number == 3 {
            assert_eq!(file_paths(host), [display(log), display(&pc03_full)]);
        } else {
            assert_eq!(file_paths(host), [display(log)]);
        }
        assert_eq!(host.files[0].status, FileStatus::Read);
        // No file name or folder claimed another computer: a note, not a warning.
        let split = notices(&collection, log, SPLIT);
        assert_eq!(split.len(), 1, "{log:?}");
        assert_eq!(split[0].level, NoticeLevel::Note);
        assert!(notices(&collection, log, OTHER_COMPUTER).is_empty());
    }
    let pc13: Vec<Vec<String>> = ["PC13", "PC13#2"]
        .iter()
        .map(|name| file_paths(host(&collection, name)))
        .collect();
    assert_eq!(pc13, [vec![display(&corp)], vec![display(&lab)]]);
    let folder_host = host(&collection, "logs");
    assert_eq!(folder_host.name_source, NameSource::Directory);
    assert_eq!(file_paths(folder_host), [display(&anonymous)]);
    assert!(folder_host.files[0].notices.is_empty());
}

#[test]
fn issue_logs_naming_different_computers_are_not_one_host() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("attachments");
    let logs = [
        write(
            &folder.join("issue_38.evtx"),
            &security_log(&["DC01.corp.example"]),
        ),
        write(&folder.join("issue_39.evtx"), &security_log(&["WKS-17"])),
        write(
            &folder.join("issue_43.evtx"),
            &security_log(&["sql02.corp.example"]),
        ),
    ];
    let discovery = discover(std::slice::from_ref(&folder), &DiscoverOptions::default());
    // The file names make one `issue_` group…
    assert_eq!(discovery.groups.len(), 1);
    assert_eq!(discovery.groups[0].suggested_name, "issue");

    // …which the logs split into their three computers, whatever is selected.
    let collection = collect_all_ways(std::slice::from_ref(&folder));
    let found: Vec<(String, Vec<String>)> = collection
        .hosts
        .iter()
        .map(|host| (host.name.clone(), file_paths(host)))
        .collect();
    assert_eq!(
        found,
        [
            ("DC01".to_string(), vec![display(&logs[0])]),
            ("sql02".to_string(), vec![display(&logs[2])]),
            ("WKS-17".to_string(), vec![display(&logs[1])]),
        ]
    );
    assert!(collection
        .hosts
        .iter()
        .all(|host| host.name_source == NameSource::EventComputer));
}

#[test]
fn a_log_of_another_computer_goes_to_that_computers_host_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("TEMP");
    let fs01_system = write(&bundle.join("FS01_SYSTEM.HIV"), &system_hive("FS01"));
    // FS01's own log, by its full name, stays.
    let fs01_system_log = write(
        &bundle.join("FS01_System.evtx"),
        &system_log(3, "FS01.corp.example", "FS01.corp.example", 3),
    );
    // FS02's Security log, saved under FS01's name.
    let misnamed = write(
        &bundle.join("FS01_Security.evtx"),
        &security_log(&["FS02.corp.example"]),
    );
    // Forwarded events name several computers: they stay, with a warning.
    let forwarded = write(
        &bundle.join("FS01_ForwardedEvents.evtx"),
        &security_log(&["WKS7.corp.example", "WKS9.corp.example"]),
    );

    let collection = collect_all_ways(std::slice::from_ref(&bundle));
    let fs01 = host(&collection, "FS01");
    assert_eq!(fs01.name_source, NameSource::ComputerName);
    assert_eq!(
        file_paths(fs01),
        [
            display(&forwarded),
            display(&fs01_system),
            display(&fs01_system_log)
        ]
    );
    let fs02 = host(&collection, "FS02");
    assert_eq!(fs02.name_source, NameSource::EventComputer);
    assert_eq!(file_paths(fs02), [display(&misnamed)]);
    assert_eq!(collection.hosts.len(), 2);

    let warnings = notices(&collection, &misnamed, OTHER_COMPUTER);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0];
    assert_eq!(warning.level, NoticeLevel::Warning);
    assert_eq!(warning.file.as_deref(), Some(display(&misnamed).as_str()));
    assert!(
        warning.message.contains("FS02.corp.example")
            && warning.message.contains("suggests host FS01")
            && warning.message.contains("FS01_SYSTEM.HIV"),
        "{}",
        warning.message
    );
    let several = notices(&collection, &forwarded, SEVERAL_COMPUTERS);
    assert_eq!(several.len(), 1);
    assert_eq!(several[0].level, NoticeLevel::Warning);
    assert!(
        several[0]
            .message
            .contains("WKS7.corp.example, WKS9.corp.example"),
        "{}",
        several[0].message
    );
    assert!(notices(&collection, &fs01_system_log, OTHER_COMPUTER).is_empty());

    // With FS02's own SYSTEM hive in the bundle, the log joins that host.
    let fs02_system = write(&bundle.join("FS02_SYSTEM.HIV"), &system_hive("FS02"));
    let collection = collect_all_ways(std::slice::from_ref(&bundle));
    let fs02 = host(&collection, "FS02");
    assert_eq!(fs02.name_source, NameSource::ComputerName);
    assert_eq!(
        file_paths(fs02),
        [display(&misnamed), display(&fs02_system)]
    );
    assert_eq!(file_paths(host(&collection, "FS01")).len(), 3);
    assert_eq!(notices(&collection, &misnamed, OTHER_COMPUTER).len(), 1);
}

#[test]
fn a_host_folder_keeps_its_own_logs_and_names_a_stranger() {
    // One folder per host, without hives: the folder's name is borne out by a log naming it,
    // so a log of another computer in it is flagged.
    let dir = tempfile::tempdir().unwrap();
    let hosts_dir = dir.path().join("hosts");
    let own = write(
        &hosts_dir.join("web01/Security.evtx"),
        &security_log(&["WEB01.corp.example"]),
    );
    let stranger = write(
        &hosts_dir.join("web01/System.evtx"),
        &system_log(2, "DB07", "DB07", 2),
    );
    let collection = collect_all_ways(std::slice::from_ref(&hosts_dir));
    assert_eq!(file_paths(host(&collection, "WEB01")), [display(&own)]);
    assert_eq!(file_paths(host(&collection, "DB07")), [display(&stranger)]);
    let warnings = notices(&collection, &stranger, OTHER_COMPUTER);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .message
            .contains("its folder suggests host WEB01"),
        "{}",
        warnings[0].message
    );
}

#[test]
fn computers_named_only_after_the_first_chunk_still_count() {
    // A System log whose first chunks name one computer and whose later ones name another
    // (the machine was renamed). With only Security events selected the log is counted from
    // its first chunk alone, but its computers must still all be known, so it is seen to name
    // two computers with any selection.
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("host");
    let renamed = write(
        &folder.join("System.evtx"),
        &system_log(35, "OLDNAME", "NEWNAME", 30),
    );
    let security = write(&folder.join("Security.evtx"), &security_log(&["NEWNAME"]));

    let collection = collect_all_ways(std::slice::from_ref(&folder));
    assert_eq!(collection.hosts.len(), 1, "{:?}", hosts(&collection));
    let newname = host(&collection, "NEWNAME");
    assert_eq!(file_paths(newname), [display(&security), display(&renamed)]);
    assert_eq!(notices(&collection, &renamed, SEVERAL_COMPUTERS).len(), 1);

    let (_, options) = selections().swap_remove(1);
    let partly = run(std::slice::from_ref(&folder), &options);
    let summary = partly.hosts[0].files[1]
        .events
        .as_ref()
        .expect("the log was read");
    assert!(summary.chunks_not_needed > 0, "{summary:?}");
    assert_eq!(summary.computers, ["NEWNAME", "OLDNAME"]);
    assert_eq!(summary.channels, ["System"]);
}

#[test]
fn identity_does_not_depend_on_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    write(&a.join("FS01_SYSTEM.HIV"), &system_hive("FS01"));
    write(&a.join("FS01_Security.evtx"), &security_log(&["FS02"]));
    write(
        &b.join("Security.evtx"),
        &security_log(&["fs02.corp.example"]),
    );
    write(&b.join("System.evtx"), &system_log(2, "FS03", "FS03", 2));
    let forward = vec![a.clone(), b.clone()];
    let backward = vec![b, a];
    let options = CollectOptions::default();
    let expected = hosts(&run(&forward, &options));
    assert_eq!(
        expected
            .iter()
            .map(|(name, ..)| name.as_str())
            .collect::<Vec<_>>(),
        ["FS01", "FS02", "FS03"]
    );
    assert_eq!(expected[1].2.len(), 2, "{expected:?}");
    for inputs in [&forward, &backward] {
        assert_eq!(hosts(&run(inputs, &options)), expected);
    }
}

#[test]
fn the_corpus_gives_the_same_hosts_whatever_events_are_selected() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let collection = collect_all_ways(&[corpus]);
    assert!(!collection.hosts.is_empty());
    // Every log was read for its computers, and none is merely listed.
    let logs: Vec<_> = collection
        .hosts
        .iter()
        .flat_map(|host| &host.files)
        .filter(|file| file.kind == hiveward_collectors::FileKind::Evtx)
        .collect();
    assert!(!logs.is_empty());
    assert!(logs.iter().all(|file| file.status != FileStatus::Listed));
    // No host holds logs of two computers that are not flagged as naming several.
    for host in &collection.hosts {
        let mut labels: Vec<String> = host
            .files
            .iter()
            .filter(|file| {
                !file
                    .notices
                    .iter()
                    .any(|notice| notice.code == SEVERAL_COMPUTERS)
            })
            .filter_map(|file| file.events.as_ref())
            .flat_map(|summary| &summary.computers)
            .map(|computer| {
                computer
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .filter(|label| !label.is_empty())
            .collect();
        labels.sort();
        labels.dedup();
        assert!(labels.len() <= 1, "{}: {labels:?}", host.name);
    }
}
