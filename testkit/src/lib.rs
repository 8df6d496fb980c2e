//! Test fixtures for hiveward, built the way real evidence is: hives from `.reg` text through
//! the `regf` crate's hive writer.
//!
//! # Example
//!
//! ```
//! let bytes = hiveward_testkit::hive_from_reg(
//!     "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n",
//! );
//! assert!(bytes.starts_with(b"regf"));
//! ```
#![deny(missing_docs)]

use std::path::Path;

use hiveward_collectors::RegExport;
use regf::{HiveBuilder, KeyTreeNode, KeyTreeValue};

/// Builds a primary hive from `.reg` text. The hive's root stands for the deepest key that is
/// common to every section and is a machine or user root (`HKLM\SYSTEM`, `HKLM\SOFTWARE`,
/// `HKCU\Software`, `HKCU`), so `[HKEY_LOCAL_MACHINE\SYSTEM\Select]` lands at `Select`.
///
/// Panics on malformed text: fixtures are written by the tests themselves.
pub fn hive_from_reg(text: &str) -> Vec<u8> {
    let export = RegExport::parse(Path::new("fixture.reg"), text.as_bytes())
        .unwrap_or_else(|error| panic!("fixture .reg text does not parse: {error}"));
    let mut root = KeyTreeNode::new("ROOT");
    for key in export.keys() {
        let relative = strip_mount(&key.path);
        let node = root.get_or_create_path(&relative);
        for value in &key.values {
            node.values.push(KeyTreeValue {
                name: value.name.clone(),
                data_type: regf::DataType::from(value.type_code),
                data: value.bytes.clone(),
            });
        }
    }
    let mut builder = HiveBuilder::from_tree_with_version(root, 1, 5)
        .unwrap_or_else(|error| panic!("regf cannot lay out the fixture hive: {error}"));
    builder
        .build()
        .unwrap_or_else(|error| panic!("regf cannot write the fixture hive: {error}"))
}

/// The mount points a fixture's keys are stripped of, longest first.
const MOUNTS: [&str; 7] = [
    r"HKLM\SYSTEM",
    r"HKLM\SOFTWARE",
    r"HKLM\SAM",
    r"HKLM\SECURITY",
    r"HKCU\Software",
    "HKCU",
    "HKLM",
];

fn strip_mount(path: &str) -> String {
    let parsed = hiveward_collectors::RegPath::parse(path);
    let components = parsed.components();
    for mount in MOUNTS {
        let mount_parts: Vec<&str> = mount.split('\\').collect();
        if components.len() >= mount_parts.len()
            && components
                .iter()
                .zip(&mount_parts)
                .all(|(left, right)| left.eq_ignore_ascii_case(right))
        {
            return components[mount_parts.len()..].join("\\");
        }
    }
    components.join("\\")
}
