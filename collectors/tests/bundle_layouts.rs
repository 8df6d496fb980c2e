//! Discovery and host grouping on bundles built in the test: the flat `REG SAVE` bundle, one
//! folder per host, triage trees, folders of unrelated hives, a dirty hive given by its own
//! path, `.reg` exports, the files that are passed over, symbolic links, and the order of
//! everything. Ends with a property test that damaged hives never panic the reader.

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_collectors::{
    collect, discover, CollectOptions, Collection, DiscoverOptions, Discovery, FileKind,
    FileStatus, GroupLayout, HiveFile, HiveKind, Host, NameSource,
};
use hiveward_testkit::hive_from_reg;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// A SYSTEM hive; with `computer_name`, it records that name under `ControlSet001`.
fn system_hive(computer_name: Option<&str>) -> Vec<u8> {
    let mut text = format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
         \"Current\"=dword:00000001\r\n\"Default\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000001\r\n"
    );
    if let Some(name) = computer_name {
        text.push_str(&format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"{name}\"\r\n"
        ));
    }
    hive_from_reg(&text)
}

/// A SOFTWARE hive whose product name is `product`.
fn software_hive(product: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n\
         \"ProductName\"=\"{product}\"\r\n\"CurrentBuildNumber\"=\"17763\"\r\n"
    ))
}

/// A `REG SAVE HKCU\Software` hive holding `marker` under `Microsoft\Hiveward`.
fn hkcu_software_hive(marker: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_CURRENT_USER\\Software\\Microsoft\\Hiveward]\r\n\"Marker\"=\"{marker}\"\r\n"
    ))
}

/// A whole user profile hive (`NTUSER.DAT`) holding `marker` under `Software\Hiveward`.
fn ntuser_hive(marker: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_CURRENT_USER\\Software\\Hiveward]\r\n\"Marker\"=\"{marker}\"\r\n\r\n\
         [HKEY_CURRENT_USER\\Control Panel\\Desktop]\r\n\"Wallpaper\"=\"\"\r\n"
    ))
}

/// A new-format transaction log: `regf` with file type 6 at 0x1c.
fn new_format_log() -> Vec<u8> {
    let mut bytes = vec![0u8; 512];
    bytes[..4].copy_from_slice(b"regf");
    bytes[0x1c..0x20].copy_from_slice(&6u32.to_le_bytes());
    bytes
}

/// A Security log of one logon, recorded by `computer`.
fn security_log(computer: &str) -> Vec<u8> {
    let mut log = hiveward_evtxwriter::EvtxWriter::new();
    log.push(hiveward_evtxwriter::security_4624("bob", 3, "NTLM", "NTLM V2").computer(computer));
    log.to_bytes()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    fs::create_dir_all(path.parent().expect("fixture paths have a parent"))
        .expect("create fixture folder");
    fs::write(path, bytes).expect("write fixture file");
    path.to_path_buf()
}

fn run(inputs: &[PathBuf]) -> Collection {
    run_with(inputs, &DiscoverOptions::default())
}

fn run_with(inputs: &[PathBuf], options: &DiscoverOptions) -> Collection {
    collect(discover(inputs, options), &CollectOptions::default())
}

fn host<'c>(collection: &'c Collection, name: &str) -> &'c Host {
    collection
        .hosts
        .iter()
        .find(|host| host.name == name)
        .unwrap_or_else(|| panic!("no host {name:?} in {:?}", host_names(collection)))
}

fn host_names(collection: &Collection) -> Vec<String> {
    collection
        .hosts
        .iter()
        .map(|host| host.name.clone())
        .collect()
}

fn file_paths(host: &Host) -> Vec<String> {
    host.files.iter().map(|file| file.path.clone()).collect()
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn hive_kinds(host: &Host) -> Vec<Option<HiveKind>> {
    host.files.iter().map(|file| file.hive_kind).collect()
}

/// A string value read through the host's registry view.
fn reg_str(host: &Host, key: &str, value: &str) -> Option<String> {
    host.registry
        .value(key, value)
        .unwrap_or_else(|error| panic!("{}: {key}\\{value}: {error}", host.name))
        .and_then(|found| found.data.as_str().map(str::to_string))
}

const CURRENT_VERSION: &str = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";

#[test]
fn flat_reg_save_bundle_groups_by_prefix_and_names_hosts_from_computer_name() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("TEMP");
    let fs01_system = write(
        &bundle.join("FS01_SYSTEM.HIV"),
        &system_hive(Some("FILESRV01")),
    );
    let fs01_software = write(
        &bundle.join("FS01_SOFTWARE.HIV"),
        &software_hive("Windows Server 2019 Standard"),
    );
    let fs01_hkcu = write(
        &bundle.join("FS01_HKCU.HIV"),
        &hkcu_software_hive("fs01-user"),
    );
    let pc7_system = write(&bundle.join("PC7_SYSTEM.HIV"), &system_hive(Some("PC7")));
    let pc7_hkcu = write(
        &bundle.join("PC7_HKCU.HIV"),
        &hkcu_software_hive("pc7-user"),
    );

    let discovery = discover(std::slice::from_ref(&bundle), &DiscoverOptions::default());
    assert!(
        discovery.passed_over.is_empty(),
        "{:?}",
        discovery.passed_over
    );
    let groups: Vec<(GroupLayout, &str, usize)> = discovery
        .groups
        .iter()
        .map(|group| {
            (
                group.layout.clone(),
                group.suggested_name.as_str(),
                group.files.len(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (GroupLayout::FlatPrefix, "FS01", 3),
            (GroupLayout::FlatPrefix, "PC7", 2)
        ]
    );
    assert!(discovery
        .groups
        .iter()
        .flat_map(|group| &group.files)
        .all(|file| file.kind == FileKind::Hive && file.logs.is_empty()));

    let collection = collect(discovery, &CollectOptions::default());
    assert_eq!(host_names(&collection), ["FILESRV01", "PC7"]);
    assert!(collection.diagnostics.is_empty());

    // The prefix said FS01; the SYSTEM hive says FILESRV01, and the hive wins.
    let fs01 = host(&collection, "FILESRV01");
    assert_eq!(fs01.name_source, NameSource::ComputerName);
    assert_eq!(fs01.layout, GroupLayout::FlatPrefix);
    assert_eq!(
        file_paths(fs01),
        [
            display(&fs01_hkcu),
            display(&fs01_software),
            display(&fs01_system)
        ]
    );
    assert_eq!(
        hive_kinds(fs01),
        [
            Some(HiveKind::HkcuSoftware),
            Some(HiveKind::Software),
            Some(HiveKind::System)
        ]
    );
    assert!(fs01
        .files
        .iter()
        .all(|file| file.status == FileStatus::Read));
    assert_eq!(
        reg_str(fs01, CURRENT_VERSION, "productname").as_deref(),
        Some("Windows Server 2019 Standard")
    );
    assert_eq!(
        reg_str(fs01, r"HKCU\Software\Microsoft\Hiveward", "Marker").as_deref(),
        Some("fs01-user")
    );

    let pc7 = host(&collection, "PC7");
    assert_eq!(pc7.name_source, NameSource::ComputerName);
    assert_eq!(file_paths(pc7), [display(&pc7_hkcu), display(&pc7_system)]);
    assert_eq!(
        reg_str(pc7, r"hkcu\software\microsoft\hiveward", "marker").as_deref(),
        Some("pc7-user")
    );
    // PC7 has no SOFTWARE hive, and FS01's is not lent to it.
    assert_eq!(reg_str(pc7, CURRENT_VERSION, "ProductName"), None);
}

#[test]
fn flat_bundle_host_without_system_hive_is_named_by_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("TEMP");
    write(
        &bundle.join("FS01_SYSTEM.HIV"),
        &system_hive(Some("FILESRV01")),
    );
    write(
        &bundle.join("LAPTOP3_SOFTWARE.HIV"),
        &software_hive("Windows 11 Pro"),
    );
    write(&bundle.join("LAPTOP3_HKCU.HIV"), &hkcu_software_hive("l3"));
    // A SYSTEM hive without ComputerName: the prefix is all there is.
    write(&bundle.join("web-02_SYSTEM.HIV"), &system_hive(None));

    let collection = run(&[bundle]);
    assert_eq!(host_names(&collection), ["FILESRV01", "LAPTOP3", "web-02"]);
    let laptop = host(&collection, "LAPTOP3");
    assert_eq!(laptop.name_source, NameSource::FilePrefix);
    assert_eq!(laptop.layout, GroupLayout::FlatPrefix);
    assert_eq!(laptop.files.len(), 2);
    assert_eq!(
        reg_str(laptop, CURRENT_VERSION, "ProductName").as_deref(),
        Some("Windows 11 Pro")
    );
    assert_eq!(
        host(&collection, "web-02").name_source,
        NameSource::FilePrefix
    );
    assert_eq!(
        host(&collection, "FILESRV01").name_source,
        NameSource::ComputerName
    );
}

#[test]
fn one_folder_per_host() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    let alpha_system = write(&hosts.join("alpha/SYSTEM"), &system_hive(Some("ALPHA-DC")));
    let alpha_software = write(
        &hosts.join("alpha/SOFTWARE"),
        &software_hive("Windows Server 2022 Datacenter"),
    );
    // beta's SYSTEM hive does not record a ComputerName, so the folder names the host.
    let beta_system = write(&hosts.join("beta/SYSTEM"), &system_hive(None));

    let discovery = discover(std::slice::from_ref(&hosts), &DiscoverOptions::default());
    let groups: Vec<(GroupLayout, &str, usize)> = discovery
        .groups
        .iter()
        .map(|group| {
            (
                group.layout.clone(),
                group.suggested_name.as_str(),
                group.files.len(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (GroupLayout::Directory, "alpha", 2),
            (GroupLayout::Directory, "beta", 1)
        ]
    );

    let collection = collect(discovery, &CollectOptions::default());
    assert_eq!(host_names(&collection), ["ALPHA-DC", "beta"]);
    let alpha = host(&collection, "ALPHA-DC");
    assert_eq!(alpha.name_source, NameSource::ComputerName);
    assert_eq!(alpha.layout, GroupLayout::Directory);
    assert_eq!(
        file_paths(alpha),
        [display(&alpha_software), display(&alpha_system)]
    );
    assert_eq!(
        hive_kinds(alpha),
        [Some(HiveKind::Software), Some(HiveKind::System)]
    );
    assert_eq!(
        reg_str(alpha, CURRENT_VERSION, "ProductName").as_deref(),
        Some("Windows Server 2022 Datacenter")
    );
    let beta = host(&collection, "beta");
    assert_eq!(beta.name_source, NameSource::Directory);
    assert_eq!(file_paths(beta), [display(&beta_system)]);
    assert_eq!(
        beta.registry
            .value(
                r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
                "SmbServerNameHardeningLevel"
            )
            .unwrap()
            .unwrap()
            .data
            .as_integer(),
        Some(1)
    );
}

#[test]
fn triage_tree_is_one_host_with_logs_paired_to_their_hive() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let root = case.join("HOSTA/C");
    let config = root.join("Windows/System32/config");
    let system = write(&config.join("SYSTEM"), &system_hive(Some("WKS-0042")));
    let software = write(
        &config.join("SOFTWARE"),
        &software_hive("Windows 10 Enterprise"),
    );
    let log1 = write(&config.join("SYSTEM.LOG1"), &new_format_log());
    let ntuser = write(&root.join("Users/bob/NTUSER.DAT"), &ntuser_hive("bob"));
    // The log names the host by its full name: it stays with the SYSTEM hive's WKS-0042.
    let evtx = write(
        &root.join("Windows/System32/winevt/Logs/Security.evtx"),
        &security_log("WKS-0042.corp.example"),
    );
    // A second machine in the same case folder stays apart.
    let hostb_system = write(
        &case.join("HOSTB/C/Windows/System32/config/SYSTEM"),
        &system_hive(None),
    );

    let discovery = discover(std::slice::from_ref(&case), &DiscoverOptions::default());
    assert!(
        discovery.passed_over.is_empty(),
        "{:?}",
        discovery.passed_over
    );
    assert_eq!(discovery.groups.len(), 2, "{:?}", discovery.groups);
    let hosta_group = &discovery.groups[0];
    assert_eq!(hosta_group.layout, GroupLayout::TriageTree);
    assert_eq!(hosta_group.suggested_name, "HOSTA");
    let files: Vec<(&Path, FileKind, Vec<PathBuf>)> = hosta_group
        .files
        .iter()
        .map(|file| (file.path.as_path(), file.kind, file.logs.clone()))
        .collect();
    assert_eq!(
        files,
        [
            (ntuser.as_path(), FileKind::Hive, vec![]),
            (software.as_path(), FileKind::Hive, vec![]),
            (system.as_path(), FileKind::Hive, vec![log1.clone()]),
            (evtx.as_path(), FileKind::Evtx, vec![]),
        ]
    );
    assert_eq!(discovery.groups[1].suggested_name, "HOSTB");
    assert_eq!(discovery.groups[1].files[0].path, hostb_system);

    let collection = collect(discovery, &CollectOptions::default());
    assert_eq!(host_names(&collection), ["HOSTB", "WKS-0042"]);
    let hosta = host(&collection, "WKS-0042");
    assert_eq!(hosta.name_source, NameSource::ComputerName);
    assert_eq!(hosta.layout, GroupLayout::TriageTree);
    assert_eq!(
        file_paths(hosta),
        [
            display(&ntuser),
            display(&software),
            display(&system),
            display(&evtx)
        ]
    );
    assert_eq!(
        hive_kinds(hosta),
        [
            Some(HiveKind::Ntuser),
            Some(HiveKind::Software),
            Some(HiveKind::System),
            None
        ]
    );
    // The log is read even though no event is selected: the computers it names decide its
    // host. It is counted, and no record is returned.
    let statuses: Vec<FileStatus> = hosta.files.iter().map(|file| file.status).collect();
    assert_eq!(statuses, [FileStatus::Read; 4]);
    let summary = hosta.files[3].events.as_ref().expect("the log was read");
    assert_eq!(summary.computers, ["WKS-0042.corp.example"]);
    assert_eq!((summary.records_read, summary.records_rendered), (1, 0));
    assert!(hosta.events.is_empty());
    assert!(
        hosta.files[3].notices.is_empty(),
        "{:?}",
        hosta.files[3].notices
    );
    let system_record = &hosta.files[2];
    assert_eq!(system_record.logs, [display(&log1)]);
    assert!(hosta.files[0].logs.is_empty() && hosta.files[1].logs.is_empty());
    // HKCU\Software maps to the Software key of NTUSER.DAT.
    let marker = hosta
        .registry
        .value(r"HKCU\Software\Hiveward", "Marker")
        .unwrap()
        .unwrap();
    assert_eq!(marker.data.as_str(), Some("bob"));
    assert_eq!(marker.file, ntuser);
    let hostb = host(&collection, "HOSTB");
    assert_eq!(hostb.name_source, NameSource::Directory);
    assert_eq!(hostb.layout, GroupLayout::TriageTree);
}

/// The hardening level as a dirty hive's states record it, with `FS01` as its ComputerName.
fn hardening_state(level: u32) -> Vec<u8> {
    hiveward_testkit::state_hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:{level:08x}\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"FS01\"\r\n"
    ))
}

#[test]
fn a_dirty_hive_given_by_its_path_is_recovered_from_the_logs_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("x");
    let (before, mid, after) = (hardening_state(0), hardening_state(1), hardening_state(2));
    let system = write(
        &folder.join("SYSTEM"),
        &hiveward_testkit::dirty_primary(&before, 10),
    );
    // LOG2 holds the earlier entry, LOG1 the later one; the extension's case does not matter.
    let log1 = write(
        &folder.join("SYSTEM.LOG1"),
        &hiveward_testkit::new_format_log(&[&mid, &after], 12),
    );
    let log2 = write(
        &folder.join("SYSTEM.log2"),
        &hiveward_testkit::new_format_log(&[&before, &mid], 11),
    );
    // Neither another hive's log nor another hive beside it is read.
    write(&folder.join("SOFTWARE.LOG1"), &new_format_log());
    write(
        &folder.join("SOFTWARE"),
        &software_hive("Windows Server 2019"),
    );

    let level = |host: &Host| {
        host.registry
            .value(
                r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
                "SmbServerNameHardeningLevel",
            )
            .unwrap()
            .unwrap()
            .data
            .as_integer()
    };
    let by_folder = run(std::slice::from_ref(&folder));
    let by_path = run(std::slice::from_ref(&system));
    assert!(by_path.passed_over.is_empty(), "{:?}", by_path.passed_over);
    assert_eq!(host_names(&by_path), ["FS01"]);
    let fs01 = host(&by_path, "FS01");
    assert_eq!(file_paths(fs01), [display(&system)]);
    let record = &fs01.files[0];
    assert_eq!(record.logs, [display(&log1), display(&log2)]);
    assert_eq!(record.status, FileStatus::Read);
    assert!(
        matches!(
            &record.hive_state,
            Some(hiveward_collectors::HiveState::Recovered { applied: 2, .. })
        ),
        "{:?}",
        record.hive_state
    );
    assert_eq!(level(fs01), Some(2));
    // Exactly as when the folder is given.
    let from_folder = host(&by_folder, "FS01");
    let system_record = from_folder
        .files
        .iter()
        .find(|file| file.path == display(&system))
        .expect("the SYSTEM hive is read from the folder too");
    assert_eq!(system_record, record);
    assert_eq!(level(from_folder), Some(2));

    // Given by a relative path, from inside its folder.
    let relative = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "relative_hive_path_probe",
            "--nocapture",
            "--include-ignored",
        ])
        .env("HIVEWARD_PROBE_DIR", &folder)
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&relative.stdout);
    assert!(
        relative.status.success() && output.contains("test relative_hive_path_probe ... ok"),
        "{output}"
    );
}

/// Run by the test above in a process of its own, since it changes the working folder.
#[test]
#[ignore = "run by a_dirty_hive_given_by_its_path_is_recovered_from_the_logs_beside_it"]
fn relative_hive_path_probe() {
    let Some(folder) = std::env::var_os("HIVEWARD_PROBE_DIR") else {
        return;
    };
    std::env::set_current_dir(folder).unwrap();
    let collection = run(&[PathBuf::from("SYSTEM")]);
    let record = &collection.hosts[0].files[0];
    assert_eq!(record.logs, ["SYSTEM.LOG1", "SYSTEM.log2"]);
    assert!(matches!(
        record.hive_state,
        Some(hiveward_collectors::HiveState::Recovered { .. })
    ));
}

#[test]
fn folder_of_unrelated_system_hives_gives_one_host_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let a = write(&corpus.join("SYSTEM_A"), &system_hive(Some("CORP-A")));
    let b = write(&corpus.join("SYSTEM_B"), &system_hive(Some("CORP-B")));
    let c = write(&corpus.join("SYSTEM_C"), &system_hive(None));
    // The same ComputerName twice: two machines (or two copies), never merged into one.
    let d = write(&corpus.join("SYSTEM_D"), &system_hive(Some("corp-a")));

    let discovery = discover(std::slice::from_ref(&corpus), &DiscoverOptions::default());
    assert_eq!(discovery.groups.len(), 1);
    assert_eq!(discovery.groups[0].layout, GroupLayout::Directory);
    assert_eq!(discovery.groups[0].files.len(), 4);

    let collection = collect(discovery, &CollectOptions::default());
    assert_eq!(collection.hosts.len(), 4, "{:?}", host_names(&collection));
    let mut every_file: Vec<String> = collection
        .hosts
        .iter()
        .flat_map(|host| {
            assert_eq!(host.files.len(), 1, "{}: {:?}", host.name, file_paths(host));
            file_paths(host)
        })
        .collect();
    every_file.sort();
    assert_eq!(
        every_file,
        [display(&a), display(&b), display(&c), display(&d)]
    );
    assert_eq!(file_paths(host(&collection, "CORP-B")), [display(&b)]);
    let unnamed = host(&collection, "SYSTEM_C");
    assert_eq!(unnamed.name_source, NameSource::FileName);
    // Both CORP-A hives are kept, under distinct names.
    let corp_a: Vec<&Host> = collection
        .hosts
        .iter()
        .filter(|host| host.name.to_ascii_lowercase().starts_with("corp-a"))
        .collect();
    assert_eq!(corp_a.len(), 2);
    assert_ne!(corp_a[0].name, corp_a[1].name);
    assert!(corp_a
        .iter()
        .all(|host| host.name_source == NameSource::ComputerName));
    for host in &collection.hosts {
        let record = &host.files[0];
        assert_eq!(record.status, FileStatus::Read);
        assert!(
            record
                .notices
                .iter()
                .any(|notice| notice.code == "hiveward::bundle::ungrouped"),
            "{}: {:?}",
            record.path,
            record.notices
        );
    }
}

#[test]
fn folders_naming_the_same_host_merge_unless_both_hold_a_system_hive() {
    let dir = tempfile::tempdir().unwrap();
    // One folder holds the SYSTEM hive, another the SOFTWARE hive and an export that spells
    // the ComputerName in lower case.
    let system = write(
        &dir.path().join("machine/SYSTEM"),
        &system_hive(Some("FS02")),
    );
    let software = write(
        &dir.path().join("later/SOFTWARE"),
        &software_hive("Windows Server 2016 Standard"),
    );
    let export = write(
        &dir.path().join("later/name.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"fs02\"\r\n"
        )
        .as_bytes(),
    );
    // Two other folders both with a SYSTEM hive of FS03: two hosts, not one.
    let fs03_one = write(&dir.path().join("one/SYSTEM"), &system_hive(Some("FS03")));
    let fs03_two = write(&dir.path().join("two/SYSTEM"), &system_hive(Some("fs03")));

    let collection = run(&[dir.path().to_path_buf()]);
    assert_eq!(collection.hosts.len(), 3, "{:?}", host_names(&collection));
    let fs02: Vec<&Host> = collection
        .hosts
        .iter()
        .filter(|host| host.name.eq_ignore_ascii_case("FS02"))
        .collect();
    assert_eq!(fs02.len(), 1, "{:?}", host_names(&collection));
    let fs02 = fs02[0];
    assert_eq!(fs02.name_source, NameSource::ComputerName);
    assert_eq!(
        file_paths(fs02),
        [display(&software), display(&export), display(&system)]
    );
    assert_eq!(
        reg_str(fs02, CURRENT_VERSION, "ProductName").as_deref(),
        Some("Windows Server 2016 Standard")
    );

    let mut fs03: Vec<(String, Vec<String>)> = collection
        .hosts
        .iter()
        .filter(|host| host.name.to_ascii_lowercase().starts_with("fs03"))
        .map(|host| (host.name.clone(), file_paths(host)))
        .collect();
    fs03.sort_by(|left, right| left.1.cmp(&right.1));
    assert_eq!(fs03.len(), 2, "{:?}", host_names(&collection));
    assert_ne!(fs03[0].0.to_lowercase(), fs03[1].0.to_lowercase());
    assert_eq!(fs03[0].1, [display(&fs03_one)]);
    assert_eq!(fs03[1].1, [display(&fs03_two)]);
}

/// The `hiveward::bundle::joined_by_name` notices of `host`'s files, as (file, level).
fn joined_by_name(host: &Host) -> Vec<(String, String)> {
    host.files
        .iter()
        .flat_map(|file| {
            file.notices
                .iter()
                .filter(|notice| notice.code == "hiveward::bundle::joined_by_name")
                .map(|notice| (file.path.clone(), format!("{:?}", notice.level)))
        })
        .collect()
}

#[test]
fn folders_joined_only_by_their_names_say_so() {
    let dir = tempfile::tempdir().unwrap();
    // Two sites' folders named PC01, each with a user profile: nothing names the computer, so
    // they are joined by the folder name alone, with a warning that names both folders.
    let site_a = write(&dir.path().join("siteA/PC01/NTUSER.DAT"), &ntuser_hive("a"));
    let site_b = write(&dir.path().join("siteB/PC01/NTUSER.DAT"), &ntuser_hive("b"));
    // A folder named like the computer its SYSTEM hive names: joined, with a note.
    write(
        &dir.path().join("hives/FS01/SYSTEM"),
        &system_hive(Some("FS01")),
    );
    let profile = write(
        &dir.path().join("profiles/FS01/NTUSER.DAT"),
        &ntuser_hive("c"),
    );
    // A folder whose logs and hive name the same computer: content joins them, no notice.
    write(
        &dir.path().join("hives/FS02/SYSTEM"),
        &system_hive(Some("FS02")),
    );
    write(
        &dir.path().join("logs/any/Security.evtx"),
        &security_log("FS02"),
    );
    // One folder of PC03 files: nothing to join.
    write(&dir.path().join("PC03/NTUSER.DAT"), &ntuser_hive("d"));
    write(&dir.path().join("PC03/HKCU.HIV"), &hkcu_software_hive("d"));

    let collection = run(&[dir.path().to_path_buf()]);
    let pc01 = host(&collection, "PC01");
    assert_eq!(file_paths(pc01), [display(&site_a), display(&site_b)]);
    assert_eq!(
        joined_by_name(pc01),
        [(display(&site_b), "Warning".to_string())]
    );
    let message = &pc01.files[1].notices[0].message;
    assert!(
        message.contains("siteA") && message.contains("siteB") && message.contains("HOST_"),
        "{message}"
    );
    let fs01 = host(&collection, "FS01");
    assert_eq!(fs01.files.len(), 2);
    assert_eq!(
        joined_by_name(fs01),
        [(display(&profile), "Note".to_string())]
    );
    assert_eq!(joined_by_name(host(&collection, "FS02")), []);
    assert_eq!(host(&collection, "FS02").files.len(), 2);
    assert_eq!(joined_by_name(host(&collection, "PC03")), []);
}

#[test]
fn merged_host_name_comes_from_the_system_hive_whichever_folder_sorts_first() {
    // The SYSTEM hive spells the name `FS02`, a `.reg` export beside a SOFTWARE hive in another
    // folder spells it `fs02`. The merged host must have one name, whatever the folders are
    // called: ARCHITECTURE.md §1 ranks the SYSTEM hive's ComputerName first.
    for (system_folder, export_folder) in [("a_machine", "b_extra"), ("b_machine", "a_extra")] {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join(system_folder).join("SYSTEM"),
            &system_hive(Some("FS02")),
        );
        write(
            &dir.path().join(export_folder).join("SOFTWARE"),
            &software_hive("Windows Server 2016 Standard"),
        );
        write(
            &dir.path().join(export_folder).join("name.reg"),
            format!(
                "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName]\r\n\
                 \"ComputerName\"=\"fs02\"\r\n"
            )
            .as_bytes(),
        );
        let collection = run(&[dir.path().to_path_buf()]);
        assert_eq!(
            host_names(&collection),
            ["FS02"],
            "SYSTEM hive in {system_folder}/, export in {export_folder}/"
        );
    }
}

#[test]
fn reg_exports_are_grouped_like_hives_and_answer_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    // Flat layout: a prefixed export beside a prefixed hive of the same host.
    let web_software = write(
        &bundle.join("WEB01_SOFTWARE.HIV"),
        &software_hive("Windows Server 2019 Datacenter"),
    );
    let web_export = write(
        &bundle.join("WEB01_lanman.reg"),
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
             \"SmbServerNameHardeningLevel\"=dword:00000002\r\n\
             \"SrvAllowedServerNames\"=hex(7):66,00,69,00,6c,00,65,00,73,00,00,00,00,00\r\n"
        )
        .as_bytes(),
    );
    // Folder layout: an export alone, UTF-16 as `reg export` writes it, naming its host.
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(
        format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"GAMMA\"\r\n\r\n\
             [HKEY_CURRENT_USER\\Software\\Policies\\Hiveward]\r\n\"Marker\"=\"g\"\r\n"
        )
        .encode_utf16()
        .flat_map(u16::to_le_bytes),
    );
    let gamma_export = write(&bundle.join("hosts/gamma-folder/export.reg"), &utf16);

    let discovery = discover(std::slice::from_ref(&bundle), &DiscoverOptions::default());
    let kinds: Vec<(&Path, FileKind)> = discovery
        .groups
        .iter()
        .flat_map(|group| &group.files)
        .map(|file| (file.path.as_path(), file.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (web_software.as_path(), FileKind::Hive),
            (web_export.as_path(), FileKind::RegExport),
            (gamma_export.as_path(), FileKind::RegExport),
        ]
    );
    let collection = collect(discovery, &CollectOptions::default());
    assert_eq!(host_names(&collection), ["GAMMA", "WEB01"]);

    let web = host(&collection, "WEB01");
    assert_eq!(web.name_source, NameSource::FilePrefix);
    assert_eq!(
        file_paths(web),
        [display(&web_software), display(&web_export)]
    );
    assert!(web.files.iter().all(|file| file.status == FileStatus::Read));
    assert_eq!(web.files[1].kind, FileKind::RegExport);
    assert_eq!(web.files[1].hive_kind, None);
    let level = web
        .registry
        .value(
            r"HKLM\System\CurrentControlSet\Services\LanmanServer\Parameters",
            "smbservernamehardeninglevel",
        )
        .unwrap()
        .unwrap();
    assert_eq!(level.data.as_integer(), Some(2));
    assert_eq!(level.file, web_export);
    assert_eq!(
        reg_str(web, CURRENT_VERSION, "ProductName").as_deref(),
        Some("Windows Server 2019 Datacenter")
    );

    let gamma = host(&collection, "GAMMA");
    assert_eq!(gamma.name_source, NameSource::ComputerName);
    assert_eq!(gamma.layout, GroupLayout::Directory);
    assert_eq!(
        reg_str(gamma, r"HKCU\Software\Policies\Hiveward", "Marker").as_deref(),
        Some("g")
    );
}

#[test]
fn passed_over_files_are_listed_with_reasons_and_links_are_not_followed_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let pc9_system = write(&bundle.join("PC9/SYSTEM"), &system_hive(Some("PC9")));
    let shared_software = write(
        &bundle.join("store/software.hiv"),
        &software_hive("Windows 10 Pro"),
    );
    let notes = write(&bundle.join("PC9/notes.txt"), b"collected by J. Smith\n");
    let readme = write(&bundle.join("PC9/readme"), b"");
    let orphan_log = write(&bundle.join("PC9/SAM.LOG1"), &new_format_log());
    let link = bundle.join("PC9/SOFTWARE");
    std::os::unix::fs::symlink("../store/software.hiv", &link).unwrap();

    let inputs = [bundle.clone()];
    let default = run(&inputs);
    let reasons: Vec<(String, &str)> = default
        .passed_over
        .iter()
        .map(|passed| (passed.path.clone(), passed.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                display(&orphan_log),
                "transaction log with no hive of the same name beside it"
            ),
            (
                display(&link),
                "symbolic link not followed (use --follow-links to read it)"
            ),
            (
                display(&notes),
                "content is not a registry hive, .reg export or EVTX log"
            ),
            (display(&readme), "empty file"),
        ]
    );
    assert_eq!(host_names(&default), ["PC9", "store"]);
    let pc9 = host(&default, "PC9");
    assert_eq!(file_paths(pc9), [display(&pc9_system)]);
    assert_eq!(reg_str(pc9, CURRENT_VERSION, "ProductName"), None);
    assert_eq!(
        file_paths(host(&default, "store")),
        [display(&shared_software)]
    );

    let followed = run_with(&inputs, &DiscoverOptions { follow_links: true });
    let passed: Vec<&str> = followed
        .passed_over
        .iter()
        .map(|passed| passed.path.as_str())
        .collect();
    assert_eq!(
        passed,
        [display(&orphan_log), display(&notes), display(&readme)]
    );
    assert_eq!(host_names(&followed), ["PC9", "store"]);
    let pc9 = host(&followed, "PC9");
    assert_eq!(file_paths(pc9), [display(&link), display(&pc9_system)]);
    assert_eq!(pc9.files[0].hive_kind, Some(HiveKind::Software));
    assert_eq!(pc9.files[0].status, FileStatus::Read);
    assert_eq!(
        reg_str(pc9, CURRENT_VERSION, "ProductName").as_deref(),
        Some("Windows 10 Pro")
    );

    // A log given by its own path, its hive beside it but not given: the reason names the hive.
    let system_log = write(&bundle.join("PC9/system.LOG1"), &new_format_log());
    let alone = run(std::slice::from_ref(&system_log));
    let reasons: Vec<(String, String)> = alone
        .passed_over
        .iter()
        .map(|passed| (passed.path.clone(), passed.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [(
            display(&system_log),
            format!(
                "transaction log of the hive {} beside it, which is not among the inputs: give the hive (or its folder) to read it with its logs",
                display(&pc9_system)
            )
        )]
    );
}

/// A bundle mixing every layout, for the order tests.
fn mixed_bundle(root: &Path) -> Vec<PathBuf> {
    let flat = root.join("flat");
    write(
        &flat.join("FS01_SYSTEM.HIV"),
        &system_hive(Some("FILESRV01")),
    );
    write(&flat.join("FS01_HKCU.HIV"), &hkcu_software_hive("x"));
    write(&flat.join("PC7_HKCU.HIV"), &hkcu_software_hive("y"));
    write(&flat.join("zz.txt"), b"not evidence");
    let hosts = root.join("hosts");
    write(&hosts.join("beta/SYSTEM"), &system_hive(None));
    write(
        &hosts.join("alpha/SOFTWARE"),
        &software_hive("Windows 11 Pro"),
    );
    write(&hosts.join("alpha/SYSTEM"), &system_hive(Some("ALPHA")));
    let corpus = root.join("corpus");
    write(&corpus.join("SYSTEM_1"), &system_hive(Some("SAME")));
    write(&corpus.join("SYSTEM_2"), &system_hive(Some("SAME")));
    write(&corpus.join("SYSTEM_3"), &system_hive(None));
    let case = root.join("case/HOSTA/C");
    write(
        &case.join("Windows/System32/config/SYSTEM"),
        &system_hive(Some("WKS-0042")),
    );
    write(
        &case.join("Windows/System32/config/SYSTEM.LOG1"),
        &new_format_log(),
    );
    write(&case.join("Users/bob/NTUSER.DAT"), &ntuser_hive("bob"));
    vec![flat, hosts, corpus, root.join("case")]
}

/// Host names with their files, in order, with the temporary folder cut off.
fn layout_summary(collection: &Collection, root: &Path) -> Vec<(String, NameSource, Vec<String>)> {
    let relative = |path: &str| {
        Path::new(path)
            .strip_prefix(root)
            .unwrap_or_else(|_| panic!("{path} is outside {}", root.display()))
            .display()
            .to_string()
    };
    collection
        .hosts
        .iter()
        .map(|host| {
            let files = host
                .files
                .iter()
                .flat_map(|file| {
                    std::iter::once(relative(&file.path))
                        .chain(file.logs.iter().map(|log| format!("log {}", relative(log))))
                })
                .collect();
            (host.name.clone(), host.name_source, files)
        })
        .collect()
}

#[test]
fn discovery_is_deterministic_across_runs_and_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = mixed_bundle(dir.path());
    let options = DiscoverOptions::default();

    let first: Discovery = discover(&inputs, &options);
    let second = discover(&inputs, &options);
    assert_eq!(first, second);
    let mut reversed_inputs = inputs.clone();
    reversed_inputs.reverse();
    let reversed = discover(&reversed_inputs, &options);
    assert_eq!(first, reversed);
    // The same files reached twice (a folder and a file inside it) are read once.
    let mut overlapping = reversed_inputs.clone();
    overlapping.push(inputs[0].join("FS01_SYSTEM.HIV"));
    overlapping.push(inputs[1].clone());
    assert_eq!(first, discover(&overlapping, &options));

    let expected = layout_summary(&collect(first, &CollectOptions::default()), dir.path());
    let names: Vec<&str> = expected.iter().map(|(name, ..)| name.as_str()).collect();
    assert_eq!(names.len(), 8, "{expected:#?}");
    for name in ["ALPHA", "FILESRV01", "PC7", "SYSTEM_3", "beta", "WKS-0042"] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert_eq!(
        names
            .iter()
            .filter(|name| name.to_ascii_uppercase().starts_with("SAME"))
            .count(),
        2
    );
    let mut sorted = names.clone();
    sorted.sort_by_key(|name| name.to_lowercase());
    assert_eq!(names, sorted, "hosts are sorted by name");

    for inputs in [&inputs, &reversed_inputs, &overlapping] {
        for _ in 0..2 {
            let again = collect(discover(inputs, &options), &CollectOptions::default());
            assert_eq!(layout_summary(&again, dir.path()), expected, "{inputs:?}");
        }
    }
    // The whole folder as one input gives the same hosts as its parts.
    let whole = collect(
        discover(&[dir.path().to_path_buf()], &options),
        &CollectOptions::default(),
    );
    assert_eq!(layout_summary(&whole, dir.path()), expected);
}

// ---------------------------------------------------------------------------------------------
// Damaged hives never panic the reader.

mod damaged_hives {
    use super::*;
    use proptest::prelude::*;

    fn good_hive() -> Vec<u8> {
        static GOOD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        GOOD.get_or_init(build_good_hive).clone()
    }

    fn build_good_hive() -> Vec<u8> {
        hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\
             \"Current\"=dword:00000001\r\n\"Default\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
             \"SmbServerNameHardeningLevel\"=dword:00000001\r\n\
             \"SrvAllowedServerNames\"=hex(7):66,00,69,00,6c,00,65,00,73,00,00,00,00,00\r\n\
             \"Big\"=hex:{}\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"FS01\"\r\n",
            // Past 16 KiB, so the value is stored as a big-data cell.
            vec!["ab"; 17_000].join(",")
        ))
    }

    const KEYS: [&[&str]; 4] = [
        &[],
        &["Select"],
        &["ControlSet001", "Services", "LanmanServer", "Parameters"],
        &["ControlSet001", "Control", "ComputerName", "ComputerName"],
    ];

    /// 512 cases each, or `PROPTEST_CASES` when it is set.
    fn config() -> ProptestConfig {
        match std::env::var_os("PROPTEST_CASES") {
            Some(_) => ProptestConfig::default(),
            None => ProptestConfig::with_cases(512),
        }
    }

    /// Opens the bytes and reads a few keys; any result is fine, a panic is not.
    fn exercise(bytes: Vec<u8>) {
        let Ok(hive) = HiveFile::from_bytes(Path::new("fuzz_SYSTEM"), bytes, &[]) else {
            return;
        };
        for key in KEYS {
            let _ = hive.values(key);
            let _ = hive.subkeys(key);
            let _ = hive.value(key, "ComputerName");
        }
    }

    #[test]
    fn the_fixture_reads_cleanly() {
        let hive =
            HiveFile::from_bytes(Path::new("SYSTEM"), good_hive(), &[]).expect("fixture opens");
        assert_eq!(hive.kind(), HiveKind::System);
        for key in KEYS {
            assert!(hive.values(key).unwrap().is_some(), "{key:?}");
        }
        let big = hive
            .value(KEYS[2], "Big")
            .unwrap()
            .expect("big-data value present");
        assert_eq!(
            big.data,
            hiveward_collectors::RegData::Bytes(vec![0xab; 17_000])
        );
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn single_byte_corruption_never_panics(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = good_hive();
            let index = position.index(bytes.len());
            bytes[index] = byte;
            exercise(bytes);
        }

        #[test]
        fn corruption_in_the_cells_never_panics(offset in 0usize..8192, byte in any::<u8>()) {
            // Concentrate on the first hive bins, where the root key and its lists sit.
            let mut bytes = good_hive();
            let index = (4096 + offset).min(bytes.len() - 1);
            bytes[index] = byte;
            exercise(bytes);
        }

        #[test]
        fn truncation_never_panics(position in any::<prop::sample::Index>()) {
            let mut bytes = good_hive();
            let len = position.index(bytes.len());
            bytes.truncate(len);
            exercise(bytes);
        }

        #[test]
        fn truncation_with_a_matching_declared_size_never_panics(position in any::<prop::sample::Index>()) {
            // Cut the bins and shrink the declared size to match (and fix the checksum), so the
            // truncation check passes and the cell reader meets the missing data.
            let mut bytes = good_hive();
            let len = 4096 + position.index(bytes.len() - 4096);
            bytes.truncate(len);
            let size = u32::try_from(len - 4096).unwrap();
            bytes[0x28..0x2c].copy_from_slice(&size.to_le_bytes());
            let checksum = hiveward_collectors::base_block_checksum(&bytes);
            bytes[0x1fc..0x200].copy_from_slice(&checksum.to_le_bytes());
            exercise(bytes);
        }
    }

    #[test]
    fn every_byte_of_the_first_bin_set_to_0xff_or_0x00() {
        // A deterministic sweep beside the random cases: each byte of the base block's fields
        // and the first 4 KiB of cells, set to the values most likely to break size arithmetic.
        let good = good_hive();
        let mut panics = Vec::new();
        for index in (0..0x30).chain(4096..8192.min(good.len())) {
            for byte in [0x00, 0xff, 0x80] {
                let mut bytes = good.clone();
                bytes[index] = byte;
                if std::panic::catch_unwind(|| exercise(bytes)).is_err() {
                    panics.push(format!("byte {index:#x} set to {byte:#04x}"));
                }
            }
        }
        assert!(panics.is_empty(), "the reader panicked on: {panics:?}");
    }
}
