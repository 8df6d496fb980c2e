//! OS facts and hotfix inventory read from hives built in the test from `.reg` text, and from
//! the SYSTEM hives of the corpus.
//!
//! The result types are compared through their JSON form, which is what reports carry.

use std::path::Path;

use hiveward_collectors::{
    read_hotfixes, read_os_facts, HiveFile, HostRegistry, OsFacts, RegExport, RegistrySource, Role,
};
use hiveward_testkit::hive_from_reg;
use serde_json::{json, Value};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// A SYSTEM hive whose `ProductOptions\ProductType` is `product_type`.
fn system_text(product_type: &str) -> String {
    format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="{product_type}"
"#
    )
}

/// A SOFTWARE hive with `lines` as the values of `Windows NT\CurrentVersion`.
fn software_text(lines: &[&str]) -> String {
    format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n{}\r\n",
        lines.join("\r\n")
    )
}

fn hive(name: &str, text: &str) -> HiveFile {
    HiveFile::from_bytes(Path::new(name), hive_from_reg(text), &[]).expect("fixture hive opens")
}

fn registry(hives: &[(&str, &str)]) -> HostRegistry {
    let mut registry = HostRegistry::new();
    for (name, text) in hives {
        registry.add(RegistrySource::Hive(hive(name, text)));
    }
    registry
}

fn facts(hives: &[(&str, &str)]) -> OsFacts {
    read_os_facts(&registry(hives))
        .expect("fixture hives read")
        .expect("the fixture says something about the OS")
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialises")
}

#[test]
fn server_2019_member_server() {
    let software = software_text(&[
        r#""ProductName"="Windows Server 2019 Standard""#,
        r#""CurrentVersion"="6.3""#,
        r#""CurrentBuildNumber"="17763""#,
        r#""CurrentBuild"="17763""#,
        r#""UBR"=dword:00000d6a"#,
        r#""ReleaseId"="1809""#,
        r#""EditionID"="ServerStandard""#,
        r#""InstallationType"="Server""#,
    ]);
    let system = system_text("ServerNT");
    let facts = facts(&[
        ("FS01_SOFTWARE.HIV", &software),
        ("FS01_SYSTEM.HIV", &system),
    ]);
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2019"));
    assert_eq!(facts.build, Some(17763));
    assert_eq!(facts.ubr, Some(3434));
    assert_eq!(facts.os_build().as_deref(), Some("17763.3434"));
    assert_eq!(facts.display_version.as_deref(), Some("1809"));
    assert_eq!(facts.edition.as_deref(), Some("ServerStandard"));
    assert_eq!(facts.current_version.as_deref(), Some("6.3"));
    assert_eq!(facts.product_type.as_deref(), Some("ServerNT"));
    assert_eq!(facts.role, Role::Server);
    assert!(facts.is_server());
    assert_eq!(facts.service_pack, None);
    assert!(facts.ignored.is_empty());
    let value = to_json(&facts);
    assert_eq!(value["role"], "server");
    assert_eq!(value["role_basis"], "product_type");
    assert_eq!(value["platform"], "server");
    assert_eq!(value["platform_basis"], "product_type");
    // Each fact names the file it came from; ProductType comes from the SYSTEM hive at the
    // resolved control set.
    let sources = value["sources"].as_array().expect("sources list");
    let product_type = sources
        .iter()
        .find(|source| source["fact"] == "ProductType")
        .expect("ProductType has a source");
    assert_eq!(product_type["file"], "FS01_SYSTEM.HIV");
    assert_eq!(
        product_type["path"],
        r"HKLM\SYSTEM\ControlSet001\Control\ProductOptions"
    );
    let ubr = sources
        .iter()
        .find(|source| source["fact"] == "UBR")
        .expect("UBR has a source");
    assert_eq!(ubr["file"], "FS01_SOFTWARE.HIV");
}

#[test]
fn windows_7_sp1_client_from_csd_version() {
    let software = software_text(&[
        r#""ProductName"="Windows 7 Professional""#,
        r#""CurrentVersion"="6.1""#,
        r#""CurrentBuildNumber"="7601""#,
        r#""CSDVersion"="Service Pack 1""#,
        r#""EditionID"="Professional""#,
        r#""InstallationType"="Client""#,
    ]);
    let system = system_text("WinNT");
    let facts = facts(&[
        ("PC01_SOFTWARE.HIV", &software),
        ("PC01_SYSTEM.HIV", &system),
    ]);
    assert_eq!(facts.name.as_deref(), Some("Windows 7 SP1"));
    assert_eq!(facts.role, Role::Workstation);
    assert_eq!(facts.csd_version.as_deref(), Some("Service Pack 1"));
    assert_eq!(facts.ubr, None);
    assert_eq!(facts.display_version, None);
    let value = to_json(&facts);
    assert_eq!(
        value["service_pack"],
        json!({"number": 1, "basis": "csd_version"})
    );
    assert_eq!(value["platform"], "client");
    assert!(facts.notes.is_empty(), "{:?}", facts.notes);
}

#[test]
fn server_2008_r2_sp1_inferred_from_build_without_csd_version() {
    let software = software_text(&[
        r#""ProductName"="Windows Server 2008 R2 Enterprise""#,
        r#""CurrentBuild"="7601""#,
        r#""InstallationType"="Server""#,
    ]);
    // No SYSTEM hive: the role falls back to InstallationType, and the build comes from
    // CurrentBuild because CurrentBuildNumber is missing.
    let facts = facts(&[("S01_SOFTWARE.HIV", &software)]);
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2008 R2 SP1"));
    assert_eq!(facts.build, Some(7601));
    assert_eq!(facts.role, Role::Server);
    let value = to_json(&facts);
    assert_eq!(
        value["service_pack"],
        json!({"number": 1, "basis": "build"})
    );
    assert_eq!(value["role_basis"], "installation_type");
    assert_eq!(value["platform_basis"], "installation_type");
    assert_eq!(value["product_type"], Value::Null);
}

#[test]
fn windows_7_rtm_is_service_pack_0() {
    let software = software_text(&[
        r#""ProductName"="Windows 7 Enterprise""#,
        r#""CurrentVersion"="6.1""#,
        r#""CurrentBuildNumber"="7600""#,
        r#""InstallationType"="Client""#,
    ]);
    let facts = facts(&[("PC02_SOFTWARE.HIV", &software)]);
    assert_eq!(facts.build, Some(7600));
    assert_eq!(facts.name.as_deref(), Some("Windows 7"));
    assert_eq!(facts.csd_version, None);
    assert_eq!(
        to_json(&facts)["service_pack"],
        json!({"number": 0, "basis": "build"})
    );
}

#[test]
fn csd_version_contradicting_the_build_is_noted() {
    let software = software_text(&[
        r#""ProductName"="Windows 7 Enterprise""#,
        r#""CurrentBuildNumber"="7600""#,
        r#""CSDVersion"="Service Pack 1""#,
    ]);
    let facts = facts(&[("PC03_SOFTWARE.HIV", &software)]);
    assert_eq!(
        to_json(&facts)["service_pack"],
        json!({"number": 1, "basis": "csd_version"})
    );
    assert_eq!(facts.notes.len(), 1, "{:?}", facts.notes);
    assert!(facts.notes[0].contains("build 7600"), "{:?}", facts.notes);
    // Neither ProductType nor InstallationType: the platform comes from ProductName, the role
    // stays unknown.
    assert_eq!(facts.role, Role::Unknown);
    assert_eq!(to_json(&facts)["platform_basis"], "product_name");
    assert_eq!(facts.name.as_deref(), Some("Windows 7 SP1"));
}

#[test]
fn windows_11_is_named_from_the_build_not_product_name() {
    let software = software_text(&[
        r#""ProductName"="Windows 10 Pro""#,
        r#""CurrentVersion"="6.3""#,
        r#""CurrentBuildNumber"="22631""#,
        r#""CurrentBuild"="22631""#,
        r#""UBR"=dword:00000ce0"#,
        r#""DisplayVersion"="23H2""#,
        r#""ReleaseId"="2009""#,
        r#""EditionID"="Professional""#,
        r#""InstallationType"="Client""#,
    ]);
    let system = system_text("WinNT");
    let facts = facts(&[
        ("PC04_SOFTWARE.HIV", &software),
        ("PC04_SYSTEM.HIV", &system),
    ]);
    assert_eq!(facts.product_name.as_deref(), Some("Windows 10 Pro"));
    assert_eq!(facts.name.as_deref(), Some("Windows 11 23H2"));
    assert_eq!(facts.display_version.as_deref(), Some("23H2"));
    assert_eq!(facts.os_build().as_deref(), Some("22631.3296"));
    assert_eq!(facts.role, Role::Workstation);
}

#[test]
fn windows_10_and_server_share_builds_and_differ_by_installation_type() {
    let client = software_text(&[
        r#""ProductName"="Windows 10 Enterprise LTSC 2019""#,
        r#""CurrentBuildNumber"="17763""#,
        r#""InstallationType"="Client""#,
    ]);
    assert_eq!(
        facts(&[("C_SOFTWARE.HIV", &client)]).name.as_deref(),
        Some("Windows 10 1809")
    );
    let core = software_text(&[
        r#""ProductName"="Windows Server 2016 Datacenter""#,
        r#""CurrentBuildNumber"="14393""#,
        r#""InstallationType"="Server Core""#,
    ]);
    let facts = facts(&[("S_SOFTWARE.HIV", &core)]);
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2016"));
    assert_eq!(facts.role, Role::Server);
}

#[test]
fn domain_controller_from_lanmannt() {
    let software = software_text(&[
        r#""ProductName"="Windows Server 2022 Datacenter""#,
        r#""CurrentBuildNumber"="20348""#,
        r#""InstallationType"="Server""#,
        r#""EditionID"="ServerDatacenter""#,
    ]);
    let system = system_text("LanmanNT");
    let facts = facts(&[
        ("DC01_SOFTWARE.HIV", &software),
        ("DC01_SYSTEM.HIV", &system),
    ]);
    assert_eq!(facts.role, Role::DomainController);
    assert_eq!(facts.product_type.as_deref(), Some("LanmanNT"));
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2022"));
    let value = to_json(&facts);
    assert_eq!(value["role"], "domain_controller");
    assert_eq!(value["role_basis"], "product_type");
}

#[test]
fn product_type_follows_the_current_control_set() {
    let system = format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000002
"Default"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="WinNT"

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Control\ProductOptions]
"ProductType"="ServerNT"
"#
    );
    let facts = facts(&[("CS_SYSTEM.HIV", &system)]);
    assert_eq!(facts.role, Role::Server);
    assert_eq!(
        to_json(&facts)["sources"][0]["path"],
        r"HKLM\SYSTEM\ControlSet002\Control\ProductOptions"
    );
}

#[test]
fn product_type_beats_installation_type_for_the_role() {
    // A DC whose SOFTWARE says only "Server": the SYSTEM hive decides.
    let software = software_text(&[
        r#""CurrentBuildNumber"="17763""#,
        r#""InstallationType"="Server""#,
    ]);
    let system = system_text("lanmannt");
    let dc = facts(&[
        ("DC02_SOFTWARE.HIV", &software),
        ("DC02_SYSTEM.HIV", &system),
    ]);
    assert_eq!(dc.role, Role::DomainController);
    // Unknown ProductType strings are kept raw and the role falls back.
    let odd = system_text("Terminal");
    let fallback = facts(&[("X_SOFTWARE.HIV", &software), ("X_SYSTEM.HIV", &odd)]);
    assert_eq!(fallback.product_type.as_deref(), Some("Terminal"));
    assert_eq!(fallback.role, Role::Server);
    assert_eq!(to_json(&fallback)["role_basis"], "installation_type");
    assert!(fallback.notes.iter().any(|note| note.contains("Terminal")));
}

#[test]
fn values_of_the_wrong_type_are_ignored_and_listed() {
    let software = software_text(&[
        r#""ProductName"="Windows Server 2019 Datacenter""#,
        r#""CurrentBuildNumber"="17763""#,
        r#""UBR"="3434""#,
        r#""EditionID"=dword:00000001"#,
        r#""InstallationType"="Server""#,
    ]);
    let facts = facts(&[("W_SOFTWARE.HIV", &software)]);
    assert_eq!(facts.ubr, None);
    assert_eq!(facts.edition, None);
    assert_eq!(facts.os_build(), None);
    assert_eq!(facts.build, Some(17763));
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2019"));
    let ignored = to_json(&facts)["ignored"].clone();
    let ignored = ignored.as_array().expect("ignored list");
    assert_eq!(ignored.len(), 2, "{ignored:?}");
    let ubr = ignored
        .iter()
        .find(|entry| entry["name"] == "UBR")
        .expect("UBR listed");
    assert_eq!(ubr["found_type"], "REG_SZ");
    assert_eq!(ubr["found"], "3434");
    assert_eq!(ubr["expected"], "REG_DWORD");
    assert_eq!(ubr["file"], "W_SOFTWARE.HIV");
    let edition = ignored
        .iter()
        .find(|entry| entry["name"] == "EditionID")
        .expect("EditionID listed");
    assert_eq!(edition["found_type"], "REG_DWORD");
}

#[test]
fn a_build_number_that_is_not_a_number_falls_back_to_current_build() {
    let software = software_text(&[
        r#""CurrentBuildNumber"="77x""#,
        r#""CurrentBuild"="9600""#,
        r#""InstallationType"="Server""#,
    ]);
    let facts = facts(&[("B_SOFTWARE.HIV", &software)]);
    assert_eq!(facts.build, Some(9600));
    assert_eq!(facts.name.as_deref(), Some("Windows Server 2012 R2"));
    assert_eq!(to_json(&facts)["ignored"][0]["name"], "CurrentBuildNumber");
}

#[test]
fn absent_software_still_gives_the_role() {
    let system = system_text("ServerNT");
    let facts = facts(&[("FS02_SYSTEM.HIV", &system)]);
    assert_eq!(facts.role, Role::Server);
    assert_eq!(facts.product_type.as_deref(), Some("ServerNT"));
    assert_eq!(facts.product_name, None);
    assert_eq!(facts.build, None);
    assert_eq!(facts.name, None);
    assert_eq!(to_json(&facts)["platform"], "server");
}

#[test]
fn nothing_known_gives_none() {
    assert!(read_os_facts(&HostRegistry::new()).unwrap().is_none());
    // A SYSTEM hive without ProductOptions says nothing about the OS.
    let system = format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SMB1"=dword:00000000
"#
    );
    assert!(read_os_facts(&registry(&[("E_SYSTEM.HIV", &system)]))
        .unwrap()
        .is_none());
}

#[test]
fn reg_exports_are_read_the_same_way() {
    let text = format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"ProductName"="Windows 10 Enterprise"
"CurrentBuildNumber"="19045"
"UBR"=dword:00000f9b
"DisplayVersion"="22H2"
"InstallationType"="Client"

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ProductOptions]
"ProductType"="WinNT"
"#
    );
    let export =
        RegExport::parse(Path::new("PC05_os.reg"), text.as_bytes()).expect("export parses");
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    let facts = read_os_facts(&registry).unwrap().expect("facts");
    assert_eq!(facts.name.as_deref(), Some("Windows 10 22H2"));
    assert_eq!(facts.os_build().as_deref(), Some("19045.3995"));
    assert_eq!(facts.role, Role::Workstation);
}

const CBS: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

/// A SOFTWARE hive with one CBS package per `(identity, CurrentState line)`.
fn cbs_text(packages: &[(&str, &str)]) -> String {
    let mut text = software_text(&[r#""CurrentBuildNumber"="7601""#]);
    for (identity, state) in packages {
        text.push_str(&format!("\r\n[{CBS}\\{identity}]\r\n{state}\r\n"));
    }
    text
}

fn hotfix_registry() -> HostRegistry {
    let text = cbs_text(&[
        // Installed, with a superseded sibling: installed wins.
        (
            "Package_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.3",
            r#""CurrentState"=dword:00000070"#,
        ),
        (
            "Package_for_KB2775511_SP1~31bf3856ad364e35~amd64~~6.1.1.3",
            r#""CurrentState"=dword:00000050"#,
        ),
        // Permanent through a numbered package.
        (
            "Package_1_for_KB2732673~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000080"#,
        ),
        // Superseded only.
        (
            "Package_for_KB2728738~31bf3856ad364e35~amd64~~6.1.1.1",
            r#""CurrentState"=dword:00000050"#,
        ),
        // Install pending, and an uninstall pending.
        (
            "Package_for_KB2878378~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000060"#,
        ),
        (
            "Package_for_KB3000000_SP1~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000005"#,
        ),
        // Installed KB5000802: KB5000 must not match it.
        (
            "Package_for_KB5000802~31bf3856ad364e35~amd64~~10.0.1.8",
            r#""CurrentState"=dword:00000070"#,
        ),
        // Staged only: not installed.
        (
            "Package_for_KB4000000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"=dword:00000040"#,
        ),
        // An unknown code and a CurrentState of the wrong type.
        (
            "Package_for_KB4100000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"=dword:00000099"#,
        ),
        (
            "Package_for_KB4200000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"="112""#,
        ),
        // A cumulative update identified by build.UBR, and a non-KB package.
        (
            "Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3296.1.10",
            r#""CurrentState"=dword:00000070"#,
        ),
        (
            "Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.1.7601.17514",
            r#""CurrentState"=dword:00000070"#,
        ),
    ]);
    registry(&[("H_SOFTWARE.HIV", &text)])
}

fn status(inventory: &hiveward_collectors::HotfixInventory, kb: &str) -> Value {
    to_json(&inventory.status(kb))
}

#[test]
fn kb_status_follows_the_package_states() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    assert_eq!(inventory.packages.len(), 12);
    assert_eq!(status(&inventory, "KB2775511"), "installed");
    assert_eq!(status(&inventory, "KB2732673"), "installed");
    assert_eq!(status(&inventory, "KB2728738"), "superseded");
    assert_eq!(status(&inventory, "KB2878378"), "pending_reboot");
    assert_eq!(status(&inventory, "KB3000000"), "pending_reboot");
    assert_eq!(status(&inventory, "KB4000000"), "absent");
    assert_eq!(status(&inventory, "KB4100000"), "absent");
    assert_eq!(status(&inventory, "KB4200000"), "absent");
    assert_eq!(status(&inventory, "KB9999999"), "absent");
}

#[test]
fn kb_matches_only_as_a_whole_number() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    assert_eq!(status(&inventory, "KB5000802"), "installed");
    assert_eq!(status(&inventory, "KB5000"), "absent");
    assert_eq!(status(&inventory, "KB500080"), "absent");
    assert!(inventory.packages_for("KB5000").is_empty());
    // Case and prefix do not matter; the _SP1 suffix still names KB2775511.
    assert_eq!(status(&inventory, "kb2775511"), "installed");
    assert_eq!(status(&inventory, "2775511"), "installed");
    assert_eq!(inventory.packages_for("2775511").len(), 2);
    assert_eq!(status(&inventory, "KB3000000"), "pending_reboot");
    // Not a KB number at all.
    assert_eq!(status(&inventory, "KB"), "absent");
    assert_eq!(status(&inventory, "RollupFix"), "absent");
}

#[test]
fn inventory_serialises_sorted_with_codes_and_rollups() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    let value = to_json(&inventory);
    let identities: Vec<String> = value["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| package["identity"].as_str().expect("identity").to_string())
        .collect();
    let mut sorted = identities.clone();
    sorted.sort_by_key(|identity| identity.to_ascii_lowercase());
    assert_eq!(identities, sorted);

    let kbs: Vec<&str> = value["kbs"]
        .as_array()
        .expect("kbs")
        .iter()
        .map(|kb| kb["kb"].as_str().expect("kb"))
        .collect();
    assert_eq!(
        kbs,
        [
            "KB2728738",
            "KB2732673",
            "KB2775511",
            "KB2878378",
            "KB3000000",
            "KB4000000",
            "KB4100000",
            "KB4200000",
            "KB5000802"
        ]
    );
    let summary = value["kbs"]
        .as_array()
        .expect("kbs")
        .iter()
        .find(|kb| kb["kb"] == "KB2775511")
        .expect("KB2775511 summary")
        .clone();
    assert_eq!(
        summary,
        json!({"kb": "KB2775511", "status": "installed", "package_count": 2,
               "states": ["superseded", "installed"]})
    );

    let package = |prefix: &str| {
        value["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|package| {
                package["identity"]
                    .as_str()
                    .is_some_and(|identity| identity.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("{prefix} listed"))
            .clone()
    };
    let unknown = package("Package_for_KB4100000");
    assert_eq!(unknown["state"], "unknown_0x99");
    assert_eq!(unknown["state_code"], 0x99);
    let permanent = package("Package_1_for_KB2732673");
    assert_eq!(permanent["kb"], "KB2732673");
    assert_eq!(permanent["state"], "permanent");
    assert_eq!(permanent["state_code"], 0x80);
    let wrong = package("Package_for_KB4200000");
    assert_eq!(wrong["state"], Value::Null);
    assert_eq!(wrong["state_code"], Value::Null);
    assert_eq!(value["ignored"][0]["name"], "CurrentState");
    assert_eq!(value["ignored"][0]["found_type"], "REG_SZ");
    let rollup = package("Package_for_RollupFix");
    assert_eq!(rollup["kb"], Value::Null);
    assert_eq!(rollup["rollup"], json!({"build": 22621, "ubr": 3296}));
    let foundation = package("Microsoft-Windows-Foundation-Package");
    assert_eq!(foundation["kb"], Value::Null);
    assert_eq!(foundation["rollup"], Value::Null);

    let rollup = inventory.installed_rollup().expect("installed rollup");
    assert_eq!((rollup.build, rollup.ubr), (22621, 3296));
    assert_eq!(value["source"]["file"], "H_SOFTWARE.HIV");

    // Reading twice gives the same JSON.
    let again = to_json(&read_hotfixes(&hotfix_registry()).expect("hotfixes read"));
    assert_eq!(value, again);
}

#[test]
fn no_servicing_key_gives_an_empty_inventory() {
    let software = software_text(&[r#""CurrentBuildNumber"="17763""#]);
    let inventory = read_hotfixes(&registry(&[("N_SOFTWARE.HIV", &software)])).unwrap();
    assert!(inventory.packages.is_empty());
    assert!(inventory.kbs.is_empty());
    assert!(inventory.source.is_none());
    assert_eq!(status(&inventory, "KB2775511"), "absent");
    let empty = read_hotfixes(&HostRegistry::new()).unwrap();
    assert!(empty.packages.is_empty());
}

#[test]
fn corpus_system_hives_take_the_role_from_product_type() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let names = [
        "dfwinreg/SYSTEM",
        "regipy/SYSTEM",
        "regipy/SYSTEM_2",
        "regipy/SYSTEM_WIN_10_1709",
    ];
    let mut present = 0;
    let mut checked = 0;
    for name in names {
        let path = corpus.join("hives").join(name);
        if !path.is_file() {
            println!("skipped: {} is not in the corpus", path.display());
            continue;
        }
        present += 1;
        let bytes = std::fs::read(&path).expect("corpus file reads");
        let mut registry = HostRegistry::new();
        registry.add(RegistrySource::Hive(
            HiveFile::from_bytes(&path, bytes.clone(), &[]).expect("corpus hive opens"),
        ));
        // The registry resolves CurrentControlSet through Select; read the same set directly.
        let chosen = registry
            .control_set()
            .map_or_else(|| "ControlSet001".to_string(), |choice| choice.name.clone());
        let direct_hive = HiveFile::from_bytes(&path, bytes, &[]).expect("corpus hive opens");
        let direct = direct_hive
            .value(
                &[chosen.as_str(), "Control", "ProductOptions"],
                "ProductType",
            )
            .expect("ProductType reads")
            .and_then(|value| value.as_str().map(str::to_string));
        let facts = read_os_facts(&registry).expect("corpus hive reads");
        // A SYSTEM hive holds no servicing packages, and reading them must not fail.
        assert!(read_hotfixes(&registry).expect("reads").packages.is_empty());
        let Some(direct) = direct else {
            println!("{name}: no ProductType in {chosen}");
            continue;
        };
        let facts = facts.unwrap_or_else(|| panic!("{name}: ProductType present but no facts"));
        println!(
            "{name}: ProductType {direct:?} in {chosen}, role {:?}",
            facts.role
        );
        assert_eq!(
            facts.product_type.as_deref(),
            Some(direct.as_str()),
            "{name}"
        );
        let expected = Role::from_product_type(&direct).unwrap_or(Role::Unknown);
        assert_eq!(facts.role, expected, "{name}");
        if expected != Role::Unknown {
            assert_eq!(to_json(&facts)["role_basis"], "product_type", "{name}");
        }
        assert_eq!(
            facts
                .sources
                .iter()
                .find(|source| source.fact == "ProductType")
                .map(|source| source.path.clone()),
            Some(format!(r"HKLM\SYSTEM\{chosen}\Control\ProductOptions")),
            "{name}"
        );
        checked += 1;
    }
    println!("checked {checked} of {present} corpus SYSTEM hives");
    if present > 0 {
        assert!(checked > 0, "no corpus SYSTEM hive had a ProductType");
    }
}

/// A SYSTEM hive of a workstation without SOFTWARE whose `Control\Class` holds the given
/// `(provider, version)` drivers, and whose `ProductOptions` holds `extra` lines.
fn system_with_drivers(drivers: &[(&str, &str)], extra: &str) -> String {
    let mut text = format!(
        r#"{HEADER}[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\ProductOptions]
"ProductType"="WinNT"
{extra}
"#
    );
    for (index, (provider, version)) in drivers.iter().enumerate() {
        // Spread the drivers over two device classes, as Windows does.
        let class = if index % 2 == 0 {
            "{4d36e967-e325-11ce-bfc1-08002be10318}"
        } else {
            "{4d36e97d-e325-11ce-bfc1-08002be10318}"
        };
        text.push_str(&format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Class\\{class}\\{index:04}]\r\n\"ProviderName\"=\"{provider}\"\r\n\"DriverVersion\"=\"{version}\"\r\n"
        ));
    }
    text
}

#[test]
fn without_software_the_build_is_inferred_from_the_inbox_drivers() {
    let system = system_with_drivers(
        &[
            ("Microsoft", "10.0.19041.1"),
            ("Microsoft", "10.0.19041.1806"),
            ("Microsoft", "10.0.19041.3636"),
            ("Microsoft", "10.0.17763.1"),
            // Third-party drivers never decide, whatever their version says.
            ("Intel", "10.0.22621.1"),
            ("Intel", "10.0.22621.1"),
            ("Intel", "10.0.22621.1"),
            ("Intel", "10.0.22621.1"),
        ],
        r#""OSProductPfn"="Microsoft.Windows.48.X19-98843_8wekyb3d8bbwe""#,
    );
    let facts = facts(&[("WKS_SYSTEM.HIV", &system)]);
    // Windows 10 2004 to 22H2 (19041-19045) all carry 10.0.19041 drivers: the build is the
    // lowest of them, the range says which builds the host may run, and the name covers them.
    assert_eq!(facts.build, Some(19041));
    assert_eq!(facts.build_range, Some((19041, 19045)));
    let json = to_json(&facts);
    assert_eq!(json["build_basis"], "inbox_drivers");
    assert_eq!(json["build_range"], json!([19041, 19045]));
    assert_eq!(facts.name.as_deref(), Some("Windows 10 2004-22H2"));
    assert!(
        facts.notes.iter().any(|note| note.contains(
            "build 19041-19045 (the in-box drivers carry 10.0.19041, shared by 19041-19045)"
        )),
        "{:?}",
        facts.notes
    );
    assert_eq!(facts.sku, Some(48));
    assert_eq!(facts.edition.as_deref(), Some("Professional"));
    assert_eq!(json["edition_basis"], "product_sku");
    assert!(
        facts
            .notes
            .iter()
            .any(|note| note.contains("3 of 4 drivers from Microsoft carry 10.0.19041")),
        "{:?}",
        facts.notes
    );

    // With SOFTWARE present, CurrentBuildNumber and EditionID decide; the drivers are not read.
    let software = software_text(&[
        r#""CurrentBuildNumber"="19045""#,
        r#""EditionID"="Enterprise""#,
    ]);
    let facts = self::facts(&[("WKS_SYSTEM.HIV", &system), ("WKS_SOFTWARE.HIV", &software)]);
    assert_eq!(facts.build, Some(19045));
    assert_eq!(facts.build_range, None);
    assert_eq!(to_json(&facts)["build_basis"], "current_version");
    assert_eq!(facts.edition.as_deref(), Some("Enterprise"));
    assert_eq!(to_json(&facts)["edition_basis"], "edition_id");
    assert_eq!(facts.sku, Some(48));
}

#[test]
fn too_few_inbox_drivers_or_unknown_skus_infer_nothing() {
    let system = system_with_drivers(
        &[("Microsoft", "6.1.7601.17514"), ("Microsoft", "6.1.7601.1")],
        r#""OSProductPfn"="Microsoft.Windows.9999.X""#,
    );
    let facts = facts(&[("WKS_SYSTEM.HIV", &system)]);
    assert_eq!(facts.build, None);
    assert_eq!(facts.build_basis, None);
    assert_eq!(facts.edition, None);
    assert_eq!(facts.sku, Some(9999));
    assert!(facts
        .notes
        .iter()
        .any(|note| note.contains("product type 9999")));
}

/// `HKLM\SYSTEM\ControlSet001\Services\TPM\WMI` holding `TaskOsBuildNumber`.
fn tpm_task(value: &str) -> String {
    format!(
        "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\TPM\\WMI]\r\n\"TaskOsBuildNumber\"={value}\r\n"
    )
}

const DRIVERS_19041: [(&str, &str); 3] = [
    ("Microsoft", "10.0.19041.1"),
    ("Microsoft", "10.0.19041.1806"),
    ("Microsoft", "10.0.19041.3636"),
];

#[test]
fn task_os_build_number_gives_the_exact_build() {
    // The drivers allow 19041-19045; the TPM task recorded 19044 (0x4a64): Windows 10 21H2.
    let system = system_with_drivers(&DRIVERS_19041, "") + &tpm_task("dword:00004a64");
    let facts = facts(&[("PC21_SYSTEM.HIV", &system)]);
    assert_eq!(facts.build, Some(19044));
    assert_eq!(facts.build_range, None);
    let json = to_json(&facts);
    assert_eq!(json["build_basis"], "tpm_task_os_build");
    assert_eq!(facts.name.as_deref(), Some("Windows 10 21H2"));
    let source = facts
        .sources
        .iter()
        .find(|source| source.fact == "TaskOsBuildNumber")
        .expect("TaskOsBuildNumber has a source");
    assert_eq!(source.path, r"HKLM\SYSTEM\ControlSet001\Services\TPM\WMI");
    assert!(
        facts
            .notes
            .iter()
            .any(|note| note.contains("build 19044 from TaskOsBuildNumber")
                && note.contains("carry 10.0.19041")),
        "{:?}",
        facts.notes
    );

    // Without drivers to check it against, a Windows 10 build still counts, also as a string.
    let alone = system_with_drivers(&[], "") + &tpm_task(r#""19045""#);
    let facts = self::facts(&[("PC22_SYSTEM.HIV", &alone)]);
    assert_eq!(facts.build, Some(19045));
    assert_eq!(to_json(&facts)["build_basis"], "tpm_task_os_build");

    // SOFTWARE's CurrentBuildNumber still comes first.
    let software = software_text(&[r#""CurrentBuildNumber"="19045""#]);
    let facts = self::facts(&[
        ("PC21_SYSTEM.HIV", &system),
        ("PC21_SOFTWARE.HIV", &software),
    ]);
    assert_eq!(facts.build, Some(19045));
    assert_eq!(to_json(&facts)["build_basis"], "current_version");
}

#[test]
fn a_task_os_build_number_the_drivers_rule_out_is_not_used() {
    // 18363 predates the feature update that brought the 10.0.19041 drivers: the TPM task has
    // not run since. The drivers decide, as a range.
    let system = system_with_drivers(&DRIVERS_19041, "") + &tpm_task("dword:000047bb");
    let facts = facts(&[("PC23_SYSTEM.HIV", &system)]);
    assert_eq!(facts.build, Some(19041));
    assert_eq!(facts.build_range, Some((19041, 19045)));
    assert_eq!(to_json(&facts)["build_basis"], "inbox_drivers");
    let ignored = to_json(&facts)["ignored"].clone();
    assert_eq!(ignored[0]["name"], "TaskOsBuildNumber", "{ignored:#}");
    assert_eq!(ignored[0]["found"], "0x47bb (18363)");
    assert!(facts
        .notes
        .iter()
        .any(|note| note.contains("TaskOsBuildNumber 18363") && note.contains("19041-19045")));
    // A value that is no build at all is ignored the same way.
    let odd = system_with_drivers(&DRIVERS_19041, "") + &tpm_task("hex:01,02");
    let facts = self::facts(&[("PC24_SYSTEM.HIV", &odd)]);
    assert_eq!(to_json(&facts)["build_basis"], "inbox_drivers");
    assert_eq!(to_json(&facts)["ignored"][0]["found_type"], "REG_BINARY");
}

#[test]
fn a_server_narrows_the_driver_range() {
    // Server releases shared 10.0.19041 drivers only up to 20H2 (19042), and 10.0.26100 not at
    // all (Server 2025 is 26100).
    let server = |build: &str| {
        system_with_drivers(
            &[
                ("Microsoft", &format!("10.0.{build}.1")),
                ("Microsoft", &format!("10.0.{build}.2")),
                ("Microsoft", &format!("10.0.{build}.3")),
            ],
            "",
        )
        .replace("\"WinNT\"", "\"ServerNT\"")
    };
    let facts_19041 = facts(&[("S1_SYSTEM.HIV", &server("19041"))]);
    assert_eq!(facts_19041.build_range, Some((19041, 19042)));
    let facts_26100 = facts(&[("S2_SYSTEM.HIV", &server("26100"))]);
    assert_eq!(facts_26100.build, Some(26100));
    assert_eq!(facts_26100.build_range, None);
    assert_eq!(facts_26100.name.as_deref(), Some("Windows Server 2025"));
}

/// What a corpus SYSTEM hive says about its OS.
struct CorpusBuild {
    name: &'static str,
    build: u32,
    /// The builds the in-box drivers allow, when they are shared.
    range: Option<(u32, u32)>,
    edition: Option<&'static str>,
    release: &'static str,
}

/// The corpus SYSTEM hives carry no SOFTWARE hive. Their builds and editions as SYSTEM records
/// them, each corroborated by a second, independent SYSTEM value:
///
/// * `Setup\BuildUpdate\SourceOSVersion` (a QWORD `major.minor.build.revision`, written by
///   Windows 10 servicing) on the Windows 10 hives;
/// * `Control\Windows\CSDVersion` (0x100 = service pack 1) on the Windows 7 hive;
/// * `Setup\CloneTag`, the image build date: 13 Jul 2009 (7600 RTM image), 18 Mar 2014
///   (9600 Update), 29 Sep 2017 (16299), 18 Mar 2019 (18362). `SYSTEM_WIN_10_1709` is named for
///   the release it was installed with; its `Setup\Source OS` keys show it was upgraded to
///   1803 and then to 18362. Its drivers carry 10.0.18362, which 1903 (18362) and 1909 (18363,
///   an enablement package) share, and it records no TaskOsBuildNumber, so its build is the
///   range 18362-18363 (a Shared Fax driver at 10.0.18362.449, October 2019, shows it was
///   serviced until 1909 came out).
const CORPUS_BUILDS: [CorpusBuild; 6] = [
    CorpusBuild {
        name: "dfwinreg/SYSTEM",
        build: 2600,
        range: None,
        edition: None,
        release: "Windows XP",
    },
    CorpusBuild {
        name: "regipy/SYSTEM",
        build: 7601,
        range: None,
        edition: Some("Ultimate"),
        release: "Windows 7 SP1",
    },
    CorpusBuild {
        name: "regipy/SYSTEM_2",
        build: 9600,
        range: None,
        edition: Some("Enterprise"),
        release: "Windows 8.1",
    },
    CorpusBuild {
        name: "regipy/SYSTEM_B",
        build: 16299,
        range: None,
        edition: Some("Education"),
        release: "Windows 10 1709",
    },
    CorpusBuild {
        name: "regipy/SYSTEM_WIN_10_1709",
        build: 18362,
        range: Some((18362, 18363)),
        edition: Some("Professional"),
        release: "Windows 10 1903-1909",
    },
    CorpusBuild {
        name: "regipy/corrupted_system_hive",
        build: 2600,
        range: None,
        edition: None,
        release: "Windows XP",
    },
];

#[test]
fn corpus_system_hives_give_their_build_and_edition() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    for CorpusBuild {
        name,
        build,
        range,
        edition,
        release,
    } in CORPUS_BUILDS
    {
        let path = corpus.join("hives").join(name);
        if !path.is_file() {
            hiveward_testkit::skip_or_fail(&format!("{} is not in the corpus", path.display()));
            continue;
        }
        let bytes = std::fs::read(&path).expect("corpus file reads");
        let hive = HiveFile::from_bytes(&path, bytes.clone(), &[]).expect("corpus hive opens");
        let mut registry = HostRegistry::new();
        registry.add(RegistrySource::Hive(hive));
        let facts = read_os_facts(&registry)
            .expect("corpus hive reads")
            .unwrap_or_else(|| panic!("{name}: no OS facts"));
        assert_eq!(facts.build, Some(build), "{name}: {:?}", facts.notes);
        assert_eq!(facts.build_range, range, "{name}");
        assert_eq!(to_json(&facts)["build_basis"], "inbox_drivers", "{name}");
        assert_eq!(facts.edition.as_deref(), edition, "{name}");
        assert_eq!(facts.name.as_deref(), Some(release), "{name}");

        // The independent corroboration, read straight from the hive.
        let direct = HiveFile::from_bytes(&path, bytes, &[]).expect("corpus hive opens");
        let source_os = direct
            .value(&["Setup", "BuildUpdate"], "SourceOSVersion")
            .ok()
            .flatten()
            .and_then(|value| value.as_integer());
        if let Some(version) = source_os {
            assert_eq!(((version >> 16) & 0xffff) as u32, build, "{name}");
        }
        let csd = direct
            .value(&["ControlSet001", "Control", "Windows"], "CSDVersion")
            .ok()
            .flatten()
            .and_then(|value| value.as_integer());
        if build == 7601 {
            assert_eq!(csd, Some(0x100), "{name}: SP1");
        }
        println!("{name}: build {build}, edition {edition:?} (SourceOSVersion {source_os:?}, CSDVersion {csd:?})");
    }
}
