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

mod build_inference;
mod corpus_roles;
mod hotfixes;
mod release;

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
