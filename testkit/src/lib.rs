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

mod dirty;
mod evtxexport;
mod layers;
pub use dirty::*;
pub use evtxexport::{data_field, element_text, evtxexport_xml, unescape, EvtxExport};
pub use layers::{key_record, mark_differencing, set_key_layer, set_value_tombstone, KeyLayer};

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
    let mount = common_mount(export.keys().iter().map(|key| key.path.as_str()));
    for key in export.keys() {
        let relative = strip_mount(&key.path, mount);
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

fn under_mount(path: &str, mount: &str) -> bool {
    let parsed = hiveward_collectors::RegPath::parse(path);
    let components = parsed.components();
    let mount_parts: Vec<&str> = mount.split('\\').collect();
    components.len() >= mount_parts.len()
        && components
            .iter()
            .zip(&mount_parts)
            .all(|(left, right)| left.eq_ignore_ascii_case(right))
}

/// The longest mount point that holds every key of the fixture.
fn common_mount<'p>(mut paths: impl Iterator<Item = &'p str> + Clone) -> Option<&'static str> {
    MOUNTS
        .into_iter()
        .find(|mount| paths.clone().all(|path| under_mount(path, mount)))
        .filter(|_| paths.next().is_some())
}

fn strip_mount(path: &str, mount: Option<&str>) -> String {
    let parsed = hiveward_collectors::RegPath::parse(path);
    let components = parsed.components();
    let skip = mount.map_or(0, |mount| mount.split('\\').count());
    components[skip.min(components.len())..].join("\\")
}

/// The SYSTEM hives of the corpus, relative to its `hives/` folder: the clean ones, the dirty
/// ones with and without their logs, and a corrupted one. `tests/corpus_hivex` checks that
/// these are exactly the corpus's SYSTEM hives.
pub const CORPUS_SYSTEM_HIVES: [&str; 6] = [
    "dfwinreg/SYSTEM",
    "regipy/SYSTEM",
    "regipy/SYSTEM_2",
    "regipy/SYSTEM_B",
    "regipy/SYSTEM_WIN_10_1709",
    "regipy/corrupted_system_hive",
];

/// The corpus of real hives and logs, from `HIVEWARD_CORPUS` (default `../shared/corpus`
/// relative to the workspace root).
///
/// Returns `None` after printing why when it is absent, so the calling test can skip. With
/// `HIVEWARD_REQUIRE_ORACLES=1` an absent corpus panics instead, so CI cannot pass by skipping.
pub fn corpus_dir() -> Option<std::path::PathBuf> {
    let configured = std::env::var_os("HIVEWARD_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus"));
    let resolved = if configured.is_relative() {
        workspace_root().join(&configured)
    } else {
        configured
    };
    if resolved.is_dir() {
        return Some(resolved);
    }
    skip_or_fail(&format!(
        "corpus not found at {} (set HIVEWARD_CORPUS)",
        resolved.display()
    ));
    None
}

/// The corpus file at `relative` (such as `hives/regipy/SYSTEM`), or `None` after saying why
/// when the corpus is absent (see [`corpus_dir`]). Panics when the corpus is there but the file
/// is not.
pub fn corpus_file(relative: &str) -> Option<std::path::PathBuf> {
    let path = corpus_dir()?.join(relative);
    assert!(
        path.is_file(),
        "{} is missing from the corpus",
        path.display()
    );
    Some(path)
}

/// Whether an outside oracle tool is on `PATH`. When it is not, prints why and returns `false`
/// so the calling test can skip; with `HIVEWARD_REQUIRE_ORACLES=1` it panics instead.
pub fn oracle_available(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()));
    if !found {
        skip_or_fail(&format!("oracle tool `{tool}` is not installed"));
    }
    found
}

/// Prints why a test skips; with `HIVEWARD_REQUIRE_ORACLES=1` it panics instead, so CI cannot
/// pass by skipping.
pub fn skip_or_fail(reason: &str) {
    if std::env::var("HIVEWARD_REQUIRE_ORACLES").as_deref() == Ok("1") {
        panic!("HIVEWARD_REQUIRE_ORACLES=1 but {reason}");
    }
    println!("skipped: {reason}");
}

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits one level below the workspace root")
        .to_path_buf()
}

/// Encodes `.reg` text the way `reg export` writes it: UTF-16LE with a byte-order mark and
/// CRLF line ends.
pub fn utf16_reg_export(text: &str) -> Vec<u8> {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(crlf.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}
