//! A dirty hive given by its own path, recovered from the logs beside it.

use super::*;

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
            "dirty_by_path::relative_hive_path_probe",
            "--nocapture",
            "--include-ignored",
        ])
        .env("HIVEWARD_PROBE_DIR", &folder)
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&relative.stdout);
    assert!(
        relative.status.success()
            && output.contains("test dirty_by_path::relative_hive_path_probe ... ok"),
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
