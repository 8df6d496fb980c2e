//! Layouts: the flat REG SAVE bundle, one folder per host, triage trees.

use super::*;

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

#[test]
fn every_users_hive_answers_an_hkcu_listing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case/HOSTA/C");
    write(
        &root.join("Windows/System32/config/SYSTEM"),
        &system_hive(Some("WKS-0042")),
    );
    let mounts = |user: &str, shares: &[&str]| {
        let mut text = format!(
            "{HEADER}[HKEY_CURRENT_USER\\Software\\Hiveward]\r\n\"Marker\"=\"{user}\"\r\n\r\n\
             [HKEY_CURRENT_USER\\Control Panel\\Desktop]\r\n\"Wallpaper\"=\"\"\r\n"
        );
        for share in shares {
            text.push_str(&format!(
                "\r\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\{share}]\r\n\"_LabelFromReg\"=\"{user}\"\r\n"
            ));
        }
        hive_from_reg(&text)
    };
    let alice = write(
        &root.join("Users/alice/NTUSER.DAT"),
        &mounts("alice", &["##fs01#data", "##FS02#home"]),
    );
    let bob = write(
        &root.join("Users/bob/NTUSER.DAT"),
        &mounts("bob", &["##fs02#HOME", "##10.0.0.5#scans"]),
    );
    // A user who mounted nothing holds no MountPoints2 key.
    let carol = write(&root.join("Users/carol/NTUSER.DAT"), &mounts("carol", &[]));

    let collection = run(&[dir.path().join("case")]);
    let hosta = host(&collection, "WKS-0042");
    assert_eq!(
        hive_kinds(hosta)[..3],
        [
            Some(HiveKind::Ntuser),
            Some(HiveKind::Ntuser),
            Some(HiveKind::Ntuser)
        ]
    );
    let path = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2";
    let listing = hosta.registry.subkeys(path).unwrap().unwrap();
    // Every user's mounts, each share once (names match without regard to case).
    assert_eq!(
        listing.data,
        ["##fs01#data", "##FS02#home", "##10.0.0.5#scans"]
    );
    assert_eq!(listing.file, alice);
    assert_eq!(
        hosta.registry.user_sources_holding(path),
        [alice, bob.clone()]
    );
    // Reads below the listing find the user whose hive holds the key.
    let label = hosta
        .registry
        .value(&format!(r"{path}\##10.0.0.5#scans"), "_LabelFromReg")
        .unwrap()
        .unwrap();
    assert_eq!((label.data.as_str(), label.file), (Some("bob"), bob));
    // A value is read from the first user's hive that holds it, as before.
    let marker = hosta
        .registry
        .value(r"HKCU\Software\Hiveward", "Marker")
        .unwrap()
        .unwrap();
    assert_eq!(marker.data.as_str(), Some("alice"));
    assert!(hosta
        .registry
        .subkeys(&format!(r"{path}\none"))
        .unwrap()
        .is_none());
    assert!(hosta
        .registry
        .user_sources_holding(r"HKLM\SYSTEM\Select")
        .is_empty());
    let _ = carol;
}

#[test]
fn registry_backups_and_windows_old_are_passed_over_unless_given() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("case");
    let root = case.join("HOSTA/C");
    let config = root.join("Windows/System32/config");
    let system = write(&config.join("SYSTEM"), &system_hive(Some("WKS-0042")));
    // Windows 10 1803 and later leave RegBack empty; older systems keep stale copies, and an
    // upgrade keeps the replaced installation's hives in Windows.old.
    let empty_backup = write(&config.join("RegBack/SYSTEM"), b"");
    let stale_backup = write(
        &config.join("RegBack/SOFTWARE"),
        &software_hive("Windows 8.1 Pro"),
    );
    let old_system = write(
        &root.join("Windows.old/Windows/System32/config/SYSTEM"),
        &system_hive(Some("OLD-NAME")),
    );

    let collection = run(std::slice::from_ref(&case));
    assert_eq!(host_names(&collection), ["WKS-0042"]);
    assert_eq!(
        file_paths(host(&collection, "WKS-0042")),
        [display(&system)]
    );
    let reasons = passed_over_reasons(&collection);
    let regback = "registry backup copy in config\\RegBack: not the host's live configuration (Windows 10 1803 and later leave these files empty)";
    assert_eq!(
        reasons,
        [
            (
                display(&old_system),
                "in Windows.old, the installation an upgrade replaced: not the host's live configuration"
            ),
            (display(&stale_backup), regback),
            (display(&empty_backup), regback),
        ]
    );
    // The config folder given as the input: its RegBack is still a backup.
    let from_config = run(std::slice::from_ref(&config));
    assert_eq!(
        from_config.passed_over.len(),
        2,
        "{:?}",
        from_config.passed_over
    );
    // The backup folders given themselves are read as asked.
    let backups = run(&[config.join("RegBack"), root.join("Windows.old")]);
    assert!(backups.passed_over.is_empty(), "{:?}", backups.passed_over);
    let files: Vec<String> = backups
        .hosts
        .iter()
        .flat_map(|host| host.files.iter().map(|file| file.path.clone()))
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.contains(&display(&old_system)), "{files:?}");
}

#[test]
fn usrclass_and_amcache_stay_with_their_triage_host() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("case/HOSTA/C");
    let system = write(
        &root.join("Windows/System32/config/SYSTEM"),
        &system_hive(Some("WKS-0042")),
    );
    // What KAPE's RegistryHives target copies beside the machine and profile hives.
    let other = |key: &str| {
        hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\{key}]\r\n\"Marker\"=\"x\"\r\n"
        ))
    };
    let usrclass = write(
        &root.join("Users/bob/AppData/Local/Microsoft/Windows/UsrClass.dat"),
        &other("Local Settings\\Software"),
    );
    let amcache = write(
        &root.join("Windows/AppCompat/Programs/Amcache.hve"),
        &other("Root\\InventoryApplication"),
    );

    let collection = run(&[dir.path().join("case")]);
    assert_eq!(host_names(&collection), ["WKS-0042"]);
    let hosta = host(&collection, "WKS-0042");
    assert_eq!(
        file_paths(hosta),
        [display(&usrclass), display(&amcache), display(&system)]
    );
    assert_eq!(
        hive_kinds(hosta),
        [
            Some(HiveKind::Other),
            Some(HiveKind::Other),
            Some(HiveKind::System)
        ]
    );
    assert!(
        collection.passed_over.is_empty(),
        "{:?}",
        collection.passed_over
    );
}
