//! Discovery and host grouping on bundles built in the test: the flat `REG SAVE` bundle, one
//! folder per host, triage trees, folders of unrelated hives, a dirty hive given by its own
//! path, `.reg` exports, the files that are passed over, symbolic links, and the order of
//! everything. Ends with a property test that damaged hives never panic the reader.

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_collectors::{
    collect, discover, CollectOptions, Collection, DiscoverOptions, Discovery, FileKind,
    FileStatus, GroupLayout, HiveKind, Host, NameSource,
};
use hiveward_testkit::hive_from_reg;

mod damaged_hives;
mod determinism;
mod dirty_by_path;
mod disagreements;
mod exports;
mod layouts;
mod merging;

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

/// The files passed over, each with its reason.
fn passed_over_reasons(collection: &Collection) -> Vec<(String, &str)> {
    collection
        .passed_over
        .iter()
        .map(|passed| (passed.path.clone(), passed.reason.as_str()))
        .collect()
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
