//! `hiveward inspect --key` against an independent reader, hivex (`hivexregedit --export`), on
//! the SYSTEM hives of the corpus: for every `ControlSet00N`, the values under
//! `Services\LanmanServer\Parameters`, `Services\LanmanWorkstation\Parameters`, `Control\Lsa`
//! and `Control\ComputerName\ComputerName` must have the same names, types and data in both, and
//! a key absent for one must be absent for the other.
//!
//! Also checks that `inspect` lists every file of `hives/` and exits 0 on all of them, and that
//! hivex's `.reg` export of each hive scans to the hive's own verdicts (`reg_exports`).
//!
//! The corpus comes from `hiveward_testkit::corpus_dir()` and hivex must be installed
//! (`libwin-hivex-perl`); either missing skips the tests, unless `HIVEWARD_REQUIRE_ORACLES=1`.
//!
//! hivex is an oracle only for what it reads without complaint. Where the two readers
//! legitimately differ, the difference is spelt out in [`HivexLimits`] and the tests assert
//! exactly that behaviour instead of skipping.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::{json, Value};

mod comparison;
mod hiveward;
mod hivex;
mod reg_exports;

use hiveward::*;
use hivex::*;

/// The SYSTEM hives of the corpus, relative to `hives/`. Their discovery by content is checked by
/// [`system_hive_list_matches_the_corpus`].
const SYSTEM_HIVES: [&str; 6] = hiveward_testkit::CORPUS_SYSTEM_HIVES;

/// The keys compared in every control set, relative to `ControlSet00N`.
const KEYS: [&str; 4] = [
    r"Services\LanmanServer\Parameters",
    r"Services\LanmanWorkstation\Parameters",
    r"Control\Lsa",
    r"Control\ComputerName\ComputerName",
];

/// The `hive_kind` values `inspect` may report.
const HIVE_KINDS: [&str; 7] = [
    "SYSTEM",
    "SOFTWARE",
    "HKCU_SOFTWARE",
    "NTUSER",
    "SAM",
    "SECURITY",
    "OTHER",
];

/// The corpus and hivex, or `None` (after a skip message) when either is absent.
fn corpus_with_hivex() -> Option<PathBuf> {
    let corpus = hiveward_testkit::corpus_dir()?;
    if !hiveward_testkit::oracle_available("hivexregedit") {
        return None;
    }
    Some(corpus)
}
