//! The build inferred without SOFTWARE: inbox drivers and the TPM task.

use super::*;

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
