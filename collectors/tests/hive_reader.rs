//! The hive reader and host registry on hives built in the test from `.reg` text.

use std::path::Path;

use hiveward_collectors::{
    HiveFile, HiveKind, HiveState, HostRegistry, RegData, RegType, RegistrySource,
};
use hiveward_testkit::{hive_from_reg, value_record};

const SYSTEM: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000000

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\LanmanServer\Parameters]
"SMBServerNameHardeningLevel"=dword:00000002
"SrvAllowedServerNames"=hex(7):66,00,69,00,6c,00,65,00,73,00,00,00,00,00
"Dword"=dword:0000002a
"Qword"=hex(b):00,00,00,00,01,00,00,00
"Sz"="text"
"ExpandSz"=hex(2):25,00,53,00,59,00,53,00,25,00,00,00
"Binary"=hex:01,02,03
"None"=hex(0):
"Odd"=hex(1234):aa,bb
"ShortDword"=hex(4):01,00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Control\ComputerName\ComputerName]
"ComputerName"="FS01"
"#;

fn open(name: &str, text: &str) -> HiveFile {
    HiveFile::from_bytes(Path::new(name), hive_from_reg(text), &[]).expect("fixture hive opens")
}

fn registry(hives: Vec<HiveFile>) -> HostRegistry {
    let mut registry = HostRegistry::new();
    for hive in hives {
        registry.add(RegistrySource::Hive(hive));
    }
    registry
}

#[test]
fn every_value_type_decodes() {
    let hive = open("FS01_SYSTEM.HIV", SYSTEM);
    assert_eq!(hive.kind(), HiveKind::System);
    assert_eq!(hive.state(), &HiveState::Clean);
    let key = ["ControlSet002", "Services", "LanmanServer", "Parameters"];
    let value = |name: &str| hive.value(&key, name).unwrap().unwrap();
    assert_eq!(value("Dword").value_type, RegType::Dword);
    assert_eq!(value("Dword").data, RegData::Integer(42));
    assert_eq!(value("Qword").value_type, RegType::Qword);
    assert_eq!(value("Qword").data, RegData::Integer(1 << 32));
    assert_eq!(value("Sz").data, RegData::String("text".into()));
    assert_eq!(value("ExpandSz").value_type, RegType::ExpandSz);
    assert_eq!(value("ExpandSz").data, RegData::String("%SYS%".into()));
    assert_eq!(
        value("SrvAllowedServerNames").data,
        RegData::MultiString(vec!["files".into()])
    );
    assert_eq!(value("Binary").data, RegData::Bytes(vec![1, 2, 3]));
    assert_eq!(value("None").value_type, RegType::None);
    assert_eq!(value("None").data, RegData::Empty);
    assert_eq!(value("Odd").value_type, RegType::Unknown(0x1234));
    assert_eq!(value("Odd").data, RegData::Bytes(vec![0xaa, 0xbb]));
    assert_eq!(value("ShortDword").value_type, RegType::Dword);
    assert_eq!(value("ShortDword").data, RegData::Bytes(vec![1, 0]));
    assert_eq!(hive.values(&key).unwrap().unwrap().len(), 10);
}

#[test]
fn current_control_set_follows_select_current_and_names_match_without_case() {
    let registry = registry(vec![open("FS01_SYSTEM.HIV", SYSTEM)]);
    let choice = registry.control_set().unwrap();
    assert_eq!(choice.name, "ControlSet002");
    assert_eq!(choice.chosen_by, r"Select\Current");
    let found = registry
        .value(
            r"hklm\system\currentcontrolset\SERVICES\lanmanserver\parameters",
            "smbservernamehardeninglevel",
        )
        .unwrap()
        .unwrap();
    assert_eq!(found.data.as_integer(), Some(2));
    assert_eq!(
        found.resolved_path,
        r"HKLM\SYSTEM\ControlSet002\SERVICES\lanmanserver\parameters"
    );
    assert_eq!(found.data.name, "SMBServerNameHardeningLevel");
    assert!(registry
        .value(r"HKLM\SYSTEM\CurrentControlSet\Services\Nope", "X")
        .unwrap()
        .is_none());
    assert!(registry
        .key_exists(r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001")
        .unwrap());
}

#[test]
fn control_set_falls_back_to_default_then_first_present() {
    let no_current = SYSTEM.replace("\"Current\"=dword:00000002\n", "");
    let registry_default = registry(vec![open("S.HIV", &no_current)]);
    let choice = registry_default.control_set().unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.chosen_by.as_str()),
        ("ControlSet001", r"Select\Default")
    );
    let dangling = SYSTEM
        .replace("\"Current\"=dword:00000002", "\"Current\"=dword:00000009")
        .replace("\"Default\"=dword:00000001", "\"Default\"=dword:00000008");
    let registry_first = registry(vec![open("S.HIV", &dangling)]);
    let choice = registry_first.control_set().unwrap();
    assert_eq!(
        (choice.name.as_str(), choice.chosen_by.as_str()),
        ("ControlSet001", "first present")
    );
}

#[test]
fn differing_control_sets_are_reported() {
    let registry = registry(vec![open("FS01_SYSTEM.HIV", SYSTEM)]);
    let notices = registry.control_set_differences(&[r"Services\LanmanServer\Parameters"]);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].message.contains("ControlSet001"));
    assert!(notices[0]
        .message
        .to_lowercase()
        .contains("smbservernamehardeninglevel: reg_dword 0x2 (2) here, reg_dword 0x0 (0) there"));
    assert!(registry
        .control_set_differences(&[r"Services\Absent"])
        .is_empty());
}

#[test]
fn control_sets_equal_in_bytes_or_only_in_order_are_not_reported() {
    let sets = |first: &str, second: &str| {
        format!(
            "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\n{first}\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Services\\LanmanServer\\Parameters]\n{second}\n"
        )
    };
    let key = [r"Services\LanmanServer\Parameters"];
    let a = "\"RequireSecuritySignature\"=dword:00000001\n\"Sz\"=\"text\"\n";
    let b = "\"Sz\"=\"text\"\n\"RequireSecuritySignature\"=dword:00000001\n";
    // The same values in the same order, then in another order: neither is a difference.
    for (first, second) in [(a, a), (a, b)] {
        let registry = registry(vec![open("S.HIV", &sets(first, second))]);
        let notices = registry.control_set_differences(&key);
        assert!(notices.is_empty(), "{first:?} / {second:?}: {notices:?}");
    }
    // One byte of data apart: reported, worded from the decoded values.
    let c = "\"RequireSecuritySignature\"=dword:00000000\n\"Sz\"=\"text\"\n";
    let registry = registry(vec![open("S.HIV", &sets(a, c))]);
    let notices = registry.control_set_differences(&key);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]
            .message
            .to_lowercase()
            .contains("requiresecuritysignature: reg_dword 0x1 (1) here, reg_dword 0x0 (0) there"),
        "{}",
        notices[0].message
    );
}

#[test]
fn hkcu_paths_map_to_hkcu_software_saves_and_ntuser_hives() {
    let software_save = open(
        "PC1_HKCU.HIV",
        "REGEDIT4\n\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fs-alias#share]\n\"BaseClass\"=\"Drive\"\n",
    );
    assert_eq!(software_save.kind(), HiveKind::HkcuSoftware);
    let ntuser = open(
        "NTUSER.DAT",
        "REGEDIT4\n\n[HKEY_CURRENT_USER\\Control Panel\\Desktop]\n\"Wallpaper\"=\"\"\n\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fs01#data]\n\"BaseClass\"=\"Drive\"\n",
    );
    assert_eq!(ntuser.kind(), HiveKind::Ntuser);
    let path = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2";
    let from_save = registry(vec![software_save])
        .subkeys(path)
        .unwrap()
        .unwrap();
    assert_eq!(from_save.data, vec!["##fs-alias#share".to_string()]);
    let from_ntuser = registry(vec![ntuser]).subkeys(path).unwrap().unwrap();
    assert_eq!(from_ntuser.data, vec!["##fs01#data".to_string()]);
    assert_eq!(
        from_ntuser.resolved_path,
        r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2"
    );
}

#[test]
fn hive_types_come_from_the_root_layout() {
    let software = open(
        "X.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n\"CurrentBuildNumber\"=\"17763\"\n",
    );
    assert_eq!(software.kind(), HiveKind::Software);
    let sam = open(
        "Y.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SAM\\SAM\\Domains\\Account]\n",
    );
    assert_eq!(sam.kind(), HiveKind::Sam);
    let security = open(
        "Z.HIV",
        "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\SECURITY\\Policy\\PolAdtEv]\n[HKEY_LOCAL_MACHINE\\SECURITY\\RXACT]\n",
    );
    assert_eq!(security.kind(), HiveKind::Security);
    let other = open("W.HIV", "REGEDIT4\n\n[HKEY_LOCAL_MACHINE\\Foo\\Bar]\n");
    assert_eq!(other.kind(), HiveKind::Other);
}

#[test]
fn exports_and_hives_answer_the_same_paths() {
    let export = hiveward_collectors::RegExport::parse(
        Path::new("FS01_lanman.reg"),
        SYSTEM
            .replace("ControlSet002", "CurrentControlSet")
            .as_bytes(),
    )
    .unwrap();
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    let found = registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
            "SmbServerNameHardeningLevel",
        )
        .unwrap()
        .unwrap();
    assert_eq!(found.data.as_integer(), Some(2));
    assert_eq!(found.file, Path::new("FS01_lanman.reg"));
}

/// `Software\...\Explorer\StartPage` of a user hive: a 20 KB `ProgramsCache` among small
/// siblings, the layout that made the whole key unreadable in format-1.3 hives.
const START_PAGE: &str = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartPage";

/// 20,480 bytes that differ from one position to the next, so that a shifted or truncated read
/// cannot match.
fn programs_cache() -> Vec<u8> {
    (0..20_480u32)
        .map(|at| (at.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// A user hive (root `Software` + `Control Panel`) holding [`START_PAGE`], written by regf in
/// format 1.`minor`. regf stores a value over 16,344 bytes the way Windows does for that
/// version: in one cell before 1.4, in a big-data record from 1.4 on.
fn start_page_hive(minor: u32) -> Vec<u8> {
    use regf::{DataType, HiveBuilder, KeyTreeNode, KeyTreeValue};
    let mut root = KeyTreeNode::new("CMI-CreateHive{6A1C4018-979D-4291-A7DC-7AED1C75B67C}");
    root.get_or_create_path(r"Control Panel\Desktop")
        .values
        .push(KeyTreeValue {
            name: "Wallpaper".to_string(),
            data_type: DataType::from(1u32),
            data: hiveward_collectors::encode_utf16_sz(""),
        });
    let key = root.get_or_create_path(START_PAGE);
    let value = |name: &str, type_code: u32, data: Vec<u8>| KeyTreeValue {
        name: name.to_string(),
        data_type: DataType::from(type_code),
        data,
    };
    key.values.push(value(
        "StartMenu_Start_Time",
        3,
        vec![0xc7, 0xe3, 0x7f, 0x56, 0xe6, 0x11, 0xcd, 0x01],
    ));
    key.values.push(value("ProgramsCache", 3, programs_cache()));
    key.values
        .push(value("FavoritesVersion", 4, 3u32.to_le_bytes().to_vec()));
    key.values.push(value(
        "StartMenu_Balloon_Time",
        1,
        hiveward_collectors::encode_utf16_sz("after the big value"),
    ));
    HiveBuilder::from_tree_with_version(root, 1, minor)
        .expect("regf lays out the hive")
        .build()
        .expect("regf writes the hive")
}

fn assert_start_page_reads_whole(hive: &HiveFile) {
    let key: Vec<&str> = START_PAGE.split('\\').collect();
    let cache = hive
        .value(&key, "ProgramsCache")
        .expect("the big value reads")
        .expect("the big value is there");
    assert_eq!(cache.value_type, RegType::Binary);
    let RegData::Bytes(bytes) = &cache.data else {
        panic!("ProgramsCache is not bytes: {cache:?}");
    };
    assert_eq!(bytes.len(), 20_480);
    assert!(*bytes == programs_cache(), "the data differs");
    let values = hive
        .values(&key)
        .expect("the key reads")
        .expect("the key is there");
    let names: Vec<&str> = values.iter().map(|value| value.name.as_str()).collect();
    assert_eq!(
        names.len(),
        4,
        "every value of the key is listed: {names:?}"
    );
    let find = |name: &str| {
        values
            .iter()
            .find(|value| value.name == name)
            .unwrap_or_else(|| panic!("{name} is listed"))
    };
    assert_eq!(find("ProgramsCache"), &cache);
    assert_eq!(
        find("StartMenu_Start_Time").data,
        RegData::Bytes(vec![0xc7, 0xe3, 0x7f, 0x56, 0xe6, 0x11, 0xcd, 0x01])
    );
    assert_eq!(find("FavoritesVersion").data, RegData::Integer(3));
    assert_eq!(
        find("StartMenu_Balloon_Time").data,
        RegData::String("after the big value".into())
    );
}

#[test]
fn a_big_value_in_a_format_1_3_hive_is_one_cell() {
    let bytes = start_page_hive(3);
    let block = hiveward_collectors::BaseBlock::parse(&bytes).expect("base block");
    assert_eq!((block.major_version, block.minor_version), (1, 3));
    assert!(block.checksum_ok());
    // Before 1.4 there are no big-data records: regf stored the data in one cell.
    assert!(
        !contains_big_data_record(&bytes),
        "a format-1.3 hive must not hold a db record"
    );
    let hive =
        HiveFile::from_bytes(Path::new("NTUSER.DAT"), bytes.clone(), &[]).expect("the hive opens");
    assert_eq!(hive.kind(), HiveKind::Ntuser);
    assert_eq!(hive.state(), &HiveState::Clean);
    assert_start_page_reads_whole(&hive);
    let registry = registry(vec![hive]);
    let found = registry
        .value(&format!(r"HKCU\{START_PAGE}"), "programscache")
        .expect("reads")
        .expect("found");
    assert_eq!(found.data.data, RegData::Bytes(programs_cache()));
}

#[test]
fn a_big_value_in_a_format_1_5_hive_is_a_big_data_record() {
    let bytes = start_page_hive(5);
    assert!(contains_big_data_record(&bytes));
    let hive = HiveFile::from_bytes(Path::new("NTUSER.DAT"), bytes, &[]).expect("the hive opens");
    assert_start_page_reads_whole(&hive);
}

/// Whether an allocated cell of the hive bins starts with the `db` signature.
fn contains_big_data_record(bytes: &[u8]) -> bool {
    cells(bytes).any(|(_, data)| data.starts_with(b"db"))
}

/// The allocated cells of a hive: (absolute offset of the cell, its data).
fn cells(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut bin = 4096;
    let mut found = Vec::new();
    while bytes.get(bin..bin + 4) == Some(b"hbin".as_slice()) {
        let size = u32::from_le_bytes(bytes[bin + 8..bin + 12].try_into().unwrap()) as usize;
        let mut cell = bin + 32;
        while cell + 4 <= bin + size {
            let raw = i32::from_le_bytes(bytes[cell..cell + 4].try_into().unwrap());
            let length = raw.unsigned_abs() as usize;
            if length < 8 {
                break;
            }
            if raw < 0 {
                found.push((cell, &bytes[cell + 4..cell + length]));
            }
            cell += length;
        }
        bin += size.max(4096);
    }
    found.into_iter()
}

#[test]
fn a_big_cell_shorter_than_its_value_is_reported_not_read_past() {
    let mut bytes = start_page_hive(3);
    let record = value_record(&bytes, "ProgramsCache");
    // Claim 40,000 bytes: more than the 20 KB cell holds.
    bytes[record + 4..record + 8].copy_from_slice(&40_000u32.to_le_bytes());
    let hive = HiveFile::from_bytes(Path::new("NTUSER.DAT"), bytes, &[]).expect("opens");
    let key: Vec<&str> = START_PAGE.split('\\').collect();
    let error = hive.value(&key, "ProgramsCache").unwrap_err().to_string();
    assert!(
        error.contains(r#"value "ProgramsCache" of HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartPage"#)
            && error.contains("declares 40000"),
        "{error}"
    );
    // The siblings still read one by one.
    assert_eq!(
        hive.value(&key, "FavoritesVersion").unwrap().unwrap().data,
        RegData::Integer(3)
    );
}

#[test]
fn empty_data_without_a_cell_reads_as_empty_and_a_missing_cell_is_damage() {
    let mut bytes = start_page_hive(5);
    let key: Vec<&str> = START_PAGE.split('\\').collect();
    // What Windows writes for empty data: size 0 and no cell (0xffffffff), which nt-hive
    // would assert on.
    let record = value_record(&bytes, "StartMenu_Start_Time");
    bytes[record + 4..record + 8].copy_from_slice(&0u32.to_le_bytes());
    bytes[record + 8..record + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    // A value with data but no cell is damage.
    let other = value_record(&bytes, "StartMenu_Balloon_Time");
    bytes[other + 8..other + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let hive = HiveFile::from_bytes(Path::new("NTUSER.DAT"), bytes, &[]).expect("opens");
    assert_eq!(
        hive.value(&key, "StartMenu_Start_Time")
            .unwrap()
            .unwrap()
            .data,
        RegData::Bytes(Vec::new())
    );
    let error = hive
        .value(&key, "StartMenu_Balloon_Time")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no data cell"), "{error}");
    assert!(hive.values(&key).is_err());
}

/// The corpus user hives of format 1.3 with values over 16,344 bytes, each checked against the
/// cell read independently (with a few lines of Python over the raw file): the length, the
/// first and last 16 bytes.
const CORPUS_BIG_VALUES: [(&str, &str, &str, usize, &str, &str); 3] = [
    (
        "regipy/NTUSER.DAT",
        r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartPage2",
        "ProgramsCache",
        73_315,
        "13000000c3535b6248abc14eba1fa1ef",
        "00780065000000000000001c00000002",
    ),
    (
        "regipy/ntuser_software_partial",
        r"HKCU\Software\Microsoft\Windows\CurrentVersion\Lock Screen\Creative",
        "CreativeJson",
        26_458,
        "7b002200630064006d0022003a007b00",
        "490054003d00500022007d007d000000",
    ),
    (
        "regipy/ntuser_software_partial",
        r"HKCU\Software\Microsoft\Windows\CurrentVersion\SettingSync\0003BFFDD03F4B47\PolicyDocument\PolicyBlob",
        "",
        47_170,
        "3eb800003ab800003153505305d5cdd5",
        "02000000300000000000000000000000",
    ),
];

#[test]
fn corpus_format_1_3_user_hives_read_their_big_values() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    for (file, key, name, length, head, tail) in CORPUS_BIG_VALUES {
        let path = corpus.join("hives").join(file);
        if !path.is_file() {
            hiveward_testkit::skip_or_fail(&format!("{} is not in the corpus", path.display()));
            continue;
        }
        let bytes = std::fs::read(&path).expect("corpus file reads");
        assert_eq!(
            hiveward_collectors::BaseBlock::parse(&bytes)
                .expect("base block")
                .minor_version,
            3,
            "{file}"
        );
        let registry = registry(vec![
            HiveFile::from_bytes(&path, bytes, &[]).expect("corpus hive opens")
        ]);
        let values = registry
            .values(key)
            .unwrap_or_else(|error| panic!("{file} {key}: {error}"))
            .unwrap_or_else(|| panic!("{file} {key} is absent"));
        let value = values
            .data
            .iter()
            .find(|value| value.name == name)
            .unwrap_or_else(|| panic!("{file} {key}: {name:?} is not listed"));
        let raw = match &value.data {
            RegData::Bytes(bytes) => bytes.clone(),
            // CreativeJson is a REG_SZ: compare its stored UTF-16 with the terminating NUL.
            RegData::String(text) => hiveward_collectors::encode_utf16_sz(text),
            other => panic!("{file} {key} {name:?}: {other:?}"),
        };
        assert_eq!(raw.len(), length, "{file} {key} {name:?}");
        assert_eq!(
            hiveward_collectors::to_hex(&raw[..16]),
            head,
            "{file} {name:?}"
        );
        assert_eq!(
            hiveward_collectors::to_hex(&raw[length - 16..]),
            tail,
            "{file} {name:?}"
        );
        println!(
            "{file} {key} {name:?}: {length} bytes among {} values",
            values.data.len()
        );
    }
}

/// Reads walk on from the keys earlier reads found: whatever order the reads come in, each
/// answers what a freshly opened hive answers, absent keys included.
#[test]
fn reads_in_any_order_answer_as_a_fresh_hive_does() {
    use regf::{DataType, HiveBuilder, KeyTreeNode, KeyTreeValue};
    let mut root = KeyTreeNode::new("ROOT");
    for (path, name, number) in [
        (r"A\B\C", "Deep", 3u32),
        (r"A\B", "Middle", 2),
        (r"A\D", "Side", 4),
        ("A", "Top", 1),
    ] {
        root.get_or_create_path(path).values.push(KeyTreeValue {
            name: name.to_string(),
            data_type: DataType::from(4u32),
            data: number.to_le_bytes().to_vec(),
        });
    }
    let bytes = HiveBuilder::from_tree_with_version(root, 1, 5)
        .expect("regf lays out the hive")
        .build()
        .expect("regf writes the hive");
    let open = || HiveFile::from_bytes(Path::new("cache.hiv"), bytes.clone(), &[]).unwrap();
    let reads: [(&str, &str); 9] = [
        (r"A\B\C", "Deep"),
        (r"A\B", "Middle"),
        (r"A\X\Y", "Nothing"),
        (r"A\X", "Nothing"),
        (r"a\b\c", "deep"),
        ("A", "Top"),
        (r"A\D", "Side"),
        (r"A\B\C\E", "Below"),
        (r"A\B\C", "Missing"),
    ];
    let answer = |hive: &HiveFile, (path, name): (&str, &str)| {
        let components: Vec<&str> = path.split('\\').collect();
        let value = hive
            .value(&components, name)
            .unwrap()
            .map(|value| value.data);
        let exists = hive.key_exists(&components).unwrap();
        (value, exists)
    };
    let fresh: Vec<_> = reads.iter().map(|read| answer(&open(), *read)).collect();
    assert_eq!(fresh[0], (Some(RegData::Integer(3)), true));
    assert_eq!(fresh[2], (None, false));
    assert_eq!(
        fresh[4],
        (Some(RegData::Integer(3)), true),
        "names match without case"
    );
    for order in [
        (0..reads.len()).collect::<Vec<_>>(),
        (0..reads.len()).rev().collect(),
        vec![2, 3, 7, 8, 0, 4, 1, 5, 6],
    ] {
        let hive = open();
        for _ in 0..2 {
            for &index in &order {
                assert_eq!(
                    answer(&hive, reads[index]),
                    fresh[index],
                    "{:?}",
                    reads[index]
                );
            }
        }
    }
}
