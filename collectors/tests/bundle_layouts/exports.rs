//! .reg exports, files passed over and symbolic links.

use super::*;

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
    let reasons = passed_over_reasons(&default);
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

#[test]
fn dat_files_of_other_formats_are_passed_over_naming_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("triage/PC7");
    let system = write(&host_dir.join("SYSTEM"), &system_hive(Some("PC7")));
    // Files a triage collection holds beside the hives, under `.dat` names.
    let mut ese = vec![0x5a, 0x5a, 0x5a, 0x5a, 0xef, 0xcd, 0xab, 0x89];
    ese.resize(4096, 0);
    let mut index = b"Client UrlCache MMF Ver 5.2\0".to_vec();
    index.resize(4096, 0);
    let web_cache = write(&host_dir.join("WebCacheV01.dat"), &ese);
    let ie_index = write(&host_dir.join("History.IE5/index.dat"), &index);
    let history = write(
        &host_dir.join("global_history.dat"),
        b"http://example.test/\r\nhttp://example.test/share\r\n",
    );
    // Unknown bytes under a `.dat` name may be a damaged hive, and a hive's own name with
    // another format's content is damaged evidence: both stay unreadable evidence.
    let garbled = write(&host_dir.join("hkcu.dat"), b"rexf\0\0\x01\0\x07v\xb2q");
    let mut sqlite = b"SQLite format 3\0".to_vec();
    sqlite.resize(4096, 0);
    let ntuser = write(&host_dir.join("NTUSER.DAT"), &sqlite);

    let collection = run(&[dir.path().join("triage")]);
    // Sorted by path, byte by byte.
    let reasons = passed_over_reasons(&collection);
    assert_eq!(
        reasons,
        [
            (
                display(&ie_index),
                "content is an Internet Explorer cache index (index.dat), not a registry hive, .reg export or EVTX log"
            ),
            (
                display(&web_cache),
                "content is an ESE database (such as WebCacheV01.dat or SRUDB.dat), not a registry hive, .reg export or EVTX log"
            ),
            (
                display(&history),
                "content is a text file, not a registry hive, .reg export or EVTX log"
            ),
        ]
    );
    // The passed-over files make no host of their own.
    assert_eq!(host_names(&collection), ["PC7"]);
    let pc7 = host(&collection, "PC7");
    assert_eq!(
        file_paths(pc7),
        [display(&ntuser), display(&system), display(&garbled)]
    );
    let status: Vec<FileStatus> = pc7.files.iter().map(|file| file.status).collect();
    assert_eq!(
        status,
        [
            FileStatus::Unreadable,
            FileStatus::Read,
            FileStatus::Unreadable
        ]
    );
    let message = |index: usize| -> String {
        pc7.files[index]
            .notices
            .iter()
            .map(|notice| notice.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        message(2).contains(r#"it starts with "rexf\0\0\u{1}\0")"#),
        "{}",
        message(2)
    );
    assert!(
        message(0).contains(
            "its content is an SQLite database, not a registry hive, .reg export or EVTX log"
        ),
        "{}",
        message(0)
    );
}

#[test]
fn legacy_event_logs_are_named_with_the_way_to_convert_them() {
    let dir = tempfile::tempdir().unwrap();
    let host_dir = dir.path().join("PC8");
    let system = write(&host_dir.join("SYSTEM"), &system_hive(Some("PC8")));
    // The header record of a Windows XP event log: its size (0x30) and the signature `LfLe`.
    let mut legacy = b"\x30\0\0\0LfLe\x01\0\0\0\x01\0\0\0".to_vec();
    legacy.resize(4096, 0);
    let sys_event = write(&host_dir.join("SysEvent.Evt"), &legacy);
    let other_evt = write(&host_dir.join("notes.evt"), b"\x01\x02\x03\x04binary");
    // The same bytes under an EVTX name: evidence that cannot be read, naming what it is.
    let renamed = write(&host_dir.join("System.evtx"), &legacy);

    let collection = run(std::slice::from_ref(&host_dir));
    let convert = "a legacy event log of Windows 2000, XP or Server 2003 (.evt, signature LfLe), which hiveward does not read: convert it to EVTX on Windows with `wevtutil epl FILE.evt FILE.evtx /lf:true`";
    let legacy_reason =
        format!("content is {convert}, not a registry hive, .reg export or EVTX log");
    assert_eq!(
        passed_over_reasons(&collection),
        [
            (display(&sys_event), legacy_reason.as_str()),
            (
                display(&other_evt),
                "content is not a registry hive, .reg export or EVTX log"
            ),
        ]
    );
    let pc8 = host(&collection, "PC8");
    assert_eq!(file_paths(pc8), [display(&system), display(&renamed)]);
    assert_eq!(pc8.files[1].status, FileStatus::Unreadable);
    let message: Vec<&str> = pc8.files[1]
        .notices
        .iter()
        .map(|notice| notice.message.as_str())
        .collect();
    assert!(
        message
            .iter()
            .any(|message| message.contains(&format!("its content is {convert}"))),
        "{message:?}"
    );
}

#[test]
fn an_hku_export_stands_for_each_users_hkcu() {
    let dir = tempfile::tempdir().unwrap();
    let mp2 = r"Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2";
    // `reg export` writes each key as a section, the user's own key first.
    let user = |sid: &str, name: &str, share: &str| {
        format!(
            "[HKEY_USERS\\{sid}]\r\n\r\n\
             [HKEY_USERS\\{sid}\\Software\\Hiveward]\r\n\"User\"=\"{name}\"\r\n\r\n\
             [HKEY_USERS\\{sid}\\{mp2}\\{share}]\r\n\"_LabelFromReg\"=\"{name}\"\r\n\r\n"
        )
    };
    // `reg export HKU users.reg`: the default profile, LocalSystem, two users and one user's
    // classes.
    let text = format!(
        "{HEADER}{}{}{}{}{}",
        user(".DEFAULT", "default", "##default#x"),
        user("S-1-5-18", "system", "##10.9.9.9#svc"),
        user("S-1-5-21-1-2-3-1001", "alice", "##fs01#data"),
        user("S-1-5-21-1-2-3-1001_Classes", "classes", "##classes#x"),
        user("S-1-5-21-1-2-3-1002", "bob", "##10.0.0.5#data"),
    );
    let users = write(&dir.path().join("PC5/users.reg"), text.as_bytes());
    write(&dir.path().join("PC5/SYSTEM"), &system_hive(Some("PC5")));

    let collection = run(&[dir.path().to_path_buf()]);
    let pc5 = host(&collection, "PC5");
    let listing = pc5
        .registry
        .subkeys(&format!(r"HKCU\{mp2}"))
        .unwrap()
        .unwrap();
    assert_eq!(listing.data, ["##fs01#data", "##10.0.0.5#data"]);
    assert_eq!(listing.file, users);
    assert_eq!(
        listing.resolved_path,
        format!(r"HKU\S-1-5-21-1-2-3-1001\{mp2}")
    );
    let bob = pc5
        .registry
        .value(&format!(r"HKCU\{mp2}\##10.0.0.5#data"), "_LabelFromReg")
        .unwrap()
        .unwrap();
    assert_eq!(bob.data.as_str(), Some("bob"));
    assert_eq!(
        bob.resolved_path,
        format!(r"HKU\S-1-5-21-1-2-3-1002\{mp2}\##10.0.0.5#data")
    );
    assert!(pc5.registry.key_exists(r"HKCU\Software").unwrap());
}
