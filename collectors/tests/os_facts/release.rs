//! Release, edition, service pack and role from SOFTWARE and SYSTEM.

use super::*;

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
