//! Damage degrades what is read and never drops the rest: hives built in the test from `.reg`
//! text, with one value, key or values list made unreadable in the bytes, give every fact the
//! other values still hold, say which facts are unknown because of the damage, and word each
//! problem the same way wherever it is met so that it is reported once per host.

use std::collections::BTreeSet;
use std::path::Path;

use hiveward_collectors::{
    collect, discover, read_hotfixes, read_os_facts, CollectOptions, DiscoverOptions, HiveFile,
    HostRegistry, KbStatus, Notice, OsFacts, Platform, RegistrySource, Role,
};
use hiveward_testkit::{damage_value_data, hive_from_reg};
use serde_json::json;

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const PRODUCT_OPTIONS: &str = r"HKLM\SYSTEM\ControlSet001\Control\ProductOptions";

/// A SYSTEM hive of the workstation `WKS7` with a `ProductOptions` key of three values.
fn system_text() -> String {
    format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ComputerName\ComputerName]
"ComputerName"="WKS7"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="WinNT"
"ProductSuite"=hex(7):00,00
"Position"="first"
"#
    )
}

/// The SOFTWARE hive of a Windows 7 SP1 Professional client, with or without
/// `InstallationType`.
fn windows_7_software(installation_type: bool) -> String {
    let mut text = format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 7 Professional"
"CurrentVersion"="6.1"
"CurrentBuildNumber"="7601"
"CSDVersion"="Service Pack 1"
"EditionID"="Professional"
"#
    );
    if installation_type {
        text.push_str("\"InstallationType\"=\"Client\"\r\n");
    }
    text
}

/// The absolute offset of the `nk` record of the key `name`, which must be unique in the hive.
fn key_record(bytes: &[u8], name: &str) -> usize {
    let found: Vec<usize> = (0..bytes.len().saturating_sub(0x4c + name.len()))
        .filter(|&at| {
            bytes[at..at + 2] == *b"nk"
                && usize::from(u16::from_le_bytes([bytes[at + 0x48], bytes[at + 0x49]]))
                    == name.len()
                && bytes[at + 0x4c..at + 0x4c + name.len()] == *name.as_bytes()
        })
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0]
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Points the values list of key `name` past the end of the hive bins.
fn damage_values_list(bytes: &mut [u8], name: &str) {
    let record = key_record(bytes, name);
    bytes[record + 0x28..record + 0x2c].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
}

/// Breaks the signature of the first value of the key `name`.
fn damage_first_value_of(bytes: &mut [u8], name: &str) {
    let record = key_record(bytes, name);
    let list = 4096 + u32_at(bytes, record + 0x28) as usize + 4;
    let value = 4096 + u32_at(bytes, list) as usize + 4;
    assert_eq!(&bytes[value..value + 2], b"vk");
    bytes[value..value + 2].copy_from_slice(b"xx");
}

fn damaged_system() -> Vec<u8> {
    let mut bytes = hive_from_reg(&system_text());
    damage_value_data(&mut bytes, "ProductType");
    bytes
}

fn open(name: &str, bytes: Vec<u8>) -> HiveFile {
    let hive = HiveFile::from_bytes(Path::new(name), bytes, &[]).expect("the hive opens");
    assert_eq!(
        hive.state(),
        &hiveward_collectors::HiveState::Clean,
        "{name}"
    );
    hive
}

fn registry(hives: Vec<HiveFile>) -> HostRegistry {
    let mut registry = HostRegistry::new();
    for hive in hives {
        registry.add(RegistrySource::Hive(hive));
    }
    registry
}

fn os_facts(registry: &HostRegistry) -> OsFacts {
    read_os_facts(registry)
        .expect("damage is not an error")
        .expect("the hives say something about the OS")
}

#[test]
fn the_fixture_damage_is_real() {
    let hive = open("WKS7_SYSTEM.HIV", damaged_system());
    let key = ["ControlSet001", "Control", "ProductOptions"];
    let error = hive.value(&key, "ProductType").unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            r#"WKS7_SYSTEM.HIV: damaged hive: value "ProductType" of {PRODUCT_OPTIONS}: "#
        )),
        "{error}"
    );
    // The other values of the key still read one by one.
    assert_eq!(
        hive.value(&key, "Position").unwrap().unwrap().as_str(),
        Some("first")
    );
}

#[test]
fn a_damaged_product_type_beside_a_healthy_software_keeps_the_os() {
    let registry = registry(vec![
        open("WKS7_SYSTEM.HIV", damaged_system()),
        open(
            "WKS7_SOFTWARE.HIV",
            hive_from_reg(&windows_7_software(true)),
        ),
    ]);
    let facts = os_facts(&registry);
    assert_eq!(facts.name.as_deref(), Some("Windows 7 SP1"));
    assert_eq!(facts.build, Some(7601));
    assert_eq!(
        facts.product_name.as_deref(),
        Some("Windows 7 Professional")
    );
    assert_eq!(facts.edition.as_deref(), Some("Professional"));
    let value = serde_json::to_value(&facts).unwrap();
    assert_eq!(
        value["service_pack"],
        json!({"number": 1, "basis": "csd_version"})
    );
    assert_eq!(value["build_basis"], "current_version");
    // ProductType cannot be read; InstallationType gives the role and the platform.
    assert_eq!(facts.product_type, None);
    assert_eq!(facts.role, Role::Workstation);
    assert_eq!(value["role_basis"], "installation_type");
    assert_eq!(facts.platform, Some(Platform::Client));
    assert_eq!(value["platform_basis"], "installation_type");
    // Nothing is unknown because of the damage, so nothing is listed; the damage is noted.
    assert!(facts.unreadable.is_empty(), "{:?}", facts.unreadable);
    assert_eq!(value["unreadable"], json!([]));
    assert!(facts.unreadable_fact("role").is_none());
    assert!(
        facts
            .notes
            .iter()
            .any(|note| note.starts_with("ProductType could not be read")
                && note.contains("WKS7_SYSTEM.HIV: damaged hive")),
        "{:?}",
        facts.notes
    );
}

#[test]
fn a_role_only_the_damaged_value_gives_is_listed_as_unreadable() {
    let registry = registry(vec![
        open("WKS7_SYSTEM.HIV", damaged_system()),
        open(
            "WKS7_SOFTWARE.HIV",
            hive_from_reg(&windows_7_software(false)),
        ),
    ]);
    let facts = os_facts(&registry);
    assert_eq!(facts.build, Some(7601));
    assert_eq!(facts.name.as_deref(), Some("Windows 7 SP1"));
    assert_eq!(facts.role, Role::Unknown);
    // The platform still comes from ProductName.
    assert_eq!(facts.platform, Some(Platform::Client));
    let facts_listed: Vec<&str> = facts.unreadable.iter().map(|f| f.fact.as_str()).collect();
    assert_eq!(facts_listed, ["role"]);
    let role = facts.unreadable_fact("role").expect("role is unreadable");
    assert_eq!(role.file, Path::new("WKS7_SYSTEM.HIV"));
    assert_eq!(role.path, PRODUCT_OPTIONS);
    assert!(
        role.message.starts_with(&format!(
            r#"WKS7_SYSTEM.HIV: damaged hive: value "ProductType" of {PRODUCT_OPTIONS}: "#
        )),
        "{}",
        role.message
    );
    assert_eq!(
        serde_json::to_value(role).unwrap()["fact"],
        "role",
        "serialised with its field name"
    );
    assert!(facts.unreadable_fact("build").is_none());
}

#[test]
fn without_software_the_damage_makes_the_system_facts_unreadable_not_absent() {
    let registry = registry(vec![open("WKS7_SYSTEM.HIV", damaged_system())]);
    // Before, the first damaged read made the whole OS unknown (an error); now the facts say
    // why they are unknown.
    let facts = os_facts(&registry);
    assert_eq!(facts.role, Role::Unknown);
    assert_eq!(facts.platform, None);
    let listed: BTreeSet<&str> = facts.unreadable.iter().map(|f| f.fact.as_str()).collect();
    assert_eq!(listed, BTreeSet::from(["role", "platform", "name"]));
    // One problem behind them all.
    let notices: BTreeSet<Notice> = facts.unreadable.iter().map(|f| f.notice()).collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
}

#[test]
fn a_damaged_current_version_keeps_what_system_says() {
    let mut software = hive_from_reg(&format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows Server 2019 Standard"
"CurrentBuildNumber"="17763"
"UBR"=dword:00000d6a
"EditionID"="ServerStandard"
"#
    ));
    damage_values_list(&mut software, "CurrentVersion");
    let mut system = system_text().replace("\"WinNT\"", "\"ServerNT\"");
    for index in 0..3 {
        system.push_str(&format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Class\\{{4d36e97d-e325-11ce-bfc1-08002be10318}}\\{index:04}]\r\n\"ProviderName\"=\"Microsoft\"\r\n\"DriverVersion\"=\"10.0.17763.{index}\"\r\n"
        ));
    }
    // The SOFTWARE hive still opens as SOFTWARE: its damage is in the values it reads.
    let software = open("FS01_SOFTWARE.HIV", software);
    assert_eq!(software.kind(), hiveward_collectors::HiveKind::Software);
    let registry = registry(vec![
        open("FS01_SYSTEM.HIV", hive_from_reg(&system)),
        software,
    ]);
    let facts = os_facts(&registry);
    // SYSTEM gives the role and, from the drivers, the build.
    assert_eq!(facts.role, Role::Server);
    assert_eq!(facts.build, Some(17763));
    assert_eq!(
        serde_json::to_value(&facts).unwrap()["build_basis"],
        "inbox_drivers"
    );
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2019"));
    // What only SOFTWARE records is unknown because of the damage, and says so.
    let listed: BTreeSet<&str> = facts.unreadable.iter().map(|f| f.fact.as_str()).collect();
    assert_eq!(
        listed,
        BTreeSet::from([
            "product_name",
            "current_version",
            "ubr",
            "display_version",
            "edition"
        ])
    );
    for fact in &facts.unreadable {
        assert_eq!(fact.file, Path::new("FS01_SOFTWARE.HIV"));
        assert_eq!(
            fact.path,
            r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
        );
    }
    let notices: BTreeSet<Notice> = facts.unreadable.iter().map(|f| f.notice()).collect();
    assert_eq!(notices.len(), 1, "one damaged values list: {notices:?}");
}

#[test]
fn a_damaged_driver_key_leaves_the_other_drivers_to_infer_the_build() {
    let mut text = system_text();
    for index in 0..4 {
        text.push_str(&format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Class\\{{4d36e967-e325-11ce-bfc1-08002be10318}}\\{index:04}]\r\n\"DriverVersion\"=\"10.0.17763.{index}\"\r\n\"ProviderName\"=\"Microsoft\"\r\n"
        ));
    }
    let mut bytes = hive_from_reg(&text);
    damage_first_value_of(&mut bytes, "0002");
    let facts = os_facts(&registry(vec![open("S_SYSTEM.HIV", bytes)]));
    assert_eq!(facts.build, Some(17763));
    assert!(facts.unreadable.is_empty(), "{:?}", facts.unreadable);
    assert!(
        facts
            .notes
            .iter()
            .any(|note| note.contains("3 of 3 drivers")
                && note.contains("1 driver key(s) could not be read")),
        "{:?}",
        facts.notes
    );
}

const CBS: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

#[test]
fn a_damaged_package_keeps_the_others() {
    let mut text = windows_7_software(true);
    for (identity, state) in [
        (
            "Package_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.3",
            0x70,
        ),
        (
            "Package_for_KB2732673~31bf3856ad364e35~amd64~~6.1.1.0",
            0x70,
        ),
        (
            "Package_for_KB3000000~31bf3856ad364e35~amd64~~6.1.1.0",
            0x70,
        ),
    ] {
        text.push_str(&format!(
            "\r\n[{CBS}\\{identity}]\r\n\"CurrentState\"=dword:{state:08x}\r\n"
        ));
    }
    let mut bytes = hive_from_reg(&text);
    damage_first_value_of(
        &mut bytes,
        "Package_for_KB2732673~31bf3856ad364e35~amd64~~6.1.1.0",
    );
    let registry = registry(vec![open("WKS7_SOFTWARE.HIV", bytes)]);
    let inventory = read_hotfixes(&registry).expect("damage is not an error");
    assert_eq!(inventory.packages.len(), 3);
    assert_eq!(inventory.status("KB2775511"), KbStatus::Installed);
    assert_eq!(inventory.status("KB3000000"), KbStatus::Installed);
    let damaged = inventory.packages_for("KB2732673");
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].state, None);
    assert_eq!(inventory.unreadable.len(), 1, "{:?}", inventory.unreadable);
    let notice = &inventory.unreadable[0];
    assert_eq!(notice.code, "hiveward::hive::corrupt");
    assert_eq!(notice.file.as_deref(), Some("WKS7_SOFTWARE.HIV"));
    assert!(
        notice
            .message
            .starts_with("WKS7_SOFTWARE.HIV: damaged hive: ")
            && notice.message.contains("Package_for_KB2732673"),
        "{}",
        notice.message
    );
    // The OS facts of the same hive are untouched.
    assert!(os_facts(&registry).unreadable.is_empty());
}

#[test]
fn each_problem_is_reported_once_per_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("WKS7_SYSTEM.HIV"), damaged_system()).unwrap();
    std::fs::write(
        dir.path().join("WKS7_SOFTWARE.HIV"),
        hive_from_reg(&windows_7_software(false)),
    )
    .unwrap();
    let collection = collect(
        discover(&[dir.path().to_path_buf()], &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    let [host] = collection.hosts.as_slice() else {
        panic!("one host");
    };
    assert_eq!(host.name, "WKS7");
    // Collection compares ProductOptions across control sets and meets the damage once.
    let corrupt: Vec<&Notice> = host
        .notices
        .iter()
        .filter(|notice| notice.code == "hiveward::hive::corrupt")
        .collect();
    assert_eq!(corrupt.len(), 1, "{:?}", host.notices);
    assert!(corrupt[0].message.contains(r#"value "ProductType""#));
    // Reading the OS facts meets the same damage, worded the same, so a report that adds the
    // facts' warnings to the host's notices without repeats shows it once.
    let facts = os_facts(&host.registry);
    let role = facts.unreadable_fact("role").expect("role is unreadable");
    assert_eq!(&role.notice(), corrupt[0]);
    let hotfixes = read_hotfixes(&host.registry).unwrap();
    let mut all: Vec<Notice> = host.notices.clone();
    all.extend(facts.unreadable.iter().map(|fact| fact.notice()));
    all.extend(hotfixes.unreadable.iter().cloned());
    let distinct: BTreeSet<&Notice> = all
        .iter()
        .filter(|notice| notice.code == "hiveward::hive::corrupt")
        .collect();
    assert_eq!(distinct.len(), 1, "{distinct:?}");
}

#[test]
fn a_damaged_key_under_the_root_leaves_the_hive_readable() {
    let text = format!(
        "{}[HKEY_LOCAL_MACHINE\\SYSTEM\\MountedDevices]\r\n\"X\"=dword:1\r\n",
        system_text()
    );
    let mut bytes = hive_from_reg(&text);
    // The key node of MountedDevices loses its signature: nt-hive cannot read it.
    let record = key_record(&bytes, "MountedDevices");
    bytes[record..record + 2].copy_from_slice(b"xx");
    let hive = HiveFile::from_bytes(Path::new("WKS7_SYSTEM.HIV"), bytes, &[])
        .expect("one damaged key does not make the hive unreadable");
    // The type comes from the keys that are there.
    assert_eq!(hive.kind(), hiveward_collectors::HiveKind::System);
    let product_type = hive
        .value(
            &["ControlSet001", "Control", "ProductOptions"],
            "ProductType",
        )
        .unwrap()
        .unwrap();
    assert_eq!(product_type.as_str(), Some("WinNT"));
    // The damage is reported once, and a listing that meets it says so.
    let damage: Vec<&Notice> = hive
        .notices()
        .iter()
        .filter(|notice| notice.code == "hiveward::hive::corrupt")
        .collect();
    assert_eq!(damage.len(), 1, "{:?}", hive.notices());
    assert!(
        damage[0].message.contains("WKS7_SYSTEM.HIV")
            && damage[0].message.contains("the subkeys of the root key"),
        "{}",
        damage[0].message
    );
    assert!(hive.subkeys(&[]).is_err());
    assert!(hive.key_exists(&["MountedDevices"]).is_err());

    // Collected, the file is read in part and its host still named from the hive.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("WKS7_SYSTEM.HIV");
    let mut bytes = hive_from_reg(&text);
    let record = key_record(&bytes, "MountedDevices");
    bytes[record..record + 2].copy_from_slice(b"xx");
    std::fs::write(&path, bytes).unwrap();
    let collection = collect(
        discover(&[path], &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    assert_eq!(collection.hosts.len(), 1);
    let host = &collection.hosts[0];
    assert_eq!(host.name, "WKS7");
    assert_eq!(
        host.files[0].status,
        hiveward_collectors::FileStatus::Partial
    );
}
