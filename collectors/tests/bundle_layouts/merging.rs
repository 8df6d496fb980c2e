//! Folders of unrelated hives, and folders naming the same host.

use super::*;

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
fn folders_joined_by_name_say_when_their_logs_name_several_computers() {
    let dir = tempfile::tempdir().unwrap();
    // Forwarded events: each log names two computers, so neither names its host, and both
    // folders' files are named `DE_...`.
    let forwarded = || {
        let mut log = hiveward_evtxwriter::EvtxWriter::new();
        log.push(
            hiveward_evtxwriter::security_4624("bob", 3, "NTLM", "NTLM V2").computer("IEWIN7"),
        );
        log.push(
            hiveward_evtxwriter::security_4624("eve", 3, "NTLM", "NTLM V2")
                .computer("PC01.example.corp"),
        );
        log.to_bytes()
    };
    write(&dir.path().join("a/DE_Security.evtx"), &forwarded());
    let second = write(&dir.path().join("b/DE_Security.evtx"), &forwarded());
    let collection = run(&[dir.path().join("a"), dir.path().join("b")]);
    let de = host(&collection, "DE");
    assert_eq!(
        joined_by_name(de),
        [(display(&second), "Warning".to_string())]
    );
    let message = de
        .files
        .iter()
        .flat_map(|file| &file.notices)
        .find(|notice| notice.code == "hiveward::bundle::joined_by_name")
        .map(|notice| notice.message.as_str())
        .unwrap();
    assert!(
        message.contains("only because the prefix of its file names matches")
            && message.contains("the event logs name several computers: IEWIN7, PC01.example.corp")
            && !message.contains("no event log"),
        "{message}"
    );
}

#[test]
fn a_host_numbered_for_a_shared_name_says_which_host_has_the_name() {
    let dir = tempfile::tempdir().unwrap();
    // Two domain controllers of two domains whose logs give the same short name, and one
    // SYSTEM hive copied into two folders.
    let first = write(
        &dir.path().join("a/Security.evtx"),
        &security_log("dc1.test.local"),
    );
    let second = write(
        &dir.path().join("b/Security.evtx"),
        &security_log("DC1.insecurebank.local"),
    );
    let hive_a = write(&dir.path().join("c/SYSTEM"), &system_hive(Some("WKS1")));
    let hive_b = write(&dir.path().join("d/SYSTEM"), &system_hive(Some("WKS1")));
    let collection = run(&[dir.path().to_path_buf()]);
    assert_eq!(host_names(&collection), ["dc1", "DC1#2", "WKS1", "WKS1#2"]);
    let shared = |name: &str| -> Vec<String> {
        host(&collection, name)
            .files
            .iter()
            .flat_map(|file| &file.notices)
            .filter(|notice| notice.code == "hiveward::bundle::name_shared")
            .map(|notice| notice.message.clone())
            .collect()
    };
    assert!(shared("dc1").is_empty());
    assert!(shared("WKS1").is_empty());
    let dc1 = shared("DC1#2");
    assert_eq!(dc1.len(), 1, "{dc1:?}");
    assert!(
        dc1[0].starts_with(&format!("{}: reported as host DC1#2: host dc1 (files from {})", display(&second), display(&first)))
            && dc1[0].contains("their logs name different computers (DC1.insecurebank.local here, dc1.test.local there)"),
        "{}",
        dc1[0]
    );
    let wks1 = shared("WKS1#2");
    assert_eq!(wks1.len(), 1, "{wks1:?}");
    assert!(
        wks1[0].contains(&format!("host WKS1 (files from {})", display(&hive_a)))
            && wks1[0].starts_with(&display(&hive_b))
            && wks1[0].contains("nothing in their files shows them to be one computer"),
        "{}",
        wks1[0]
    );
}
