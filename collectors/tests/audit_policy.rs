//! The audit policy of the corpus SECURITY hive (`Policy\PolAdtEv`), read through the host
//! registry the way the engine reads it, and its bytes checked against two independent hive
//! readers: hivex (`hivexregedit --export`, the whole value) and regipy (`regipy-dump`, which
//! prints the first 128 bytes of binary data). The decoded settings themselves are checked in
//! the unit tests of `audit_policy.rs` against dissect.target's reading of the same value.
//!
//! The corpus and the oracle tools missing skip the tests, unless `HIVEWARD_REQUIRE_ORACLES=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use hiveward_collectors::{
    AuditPolicy, HiveFile, HostRegistry, RegData, RegExport, RegistrySource, POL_ADT_EV_KEY,
};

fn corpus_security() -> Option<PathBuf> {
    Some(hiveward_testkit::corpus_dir()?.join("hives/regipy/SECURITY"))
}

/// The PolAdtEv bytes as the engine reads them: the hive mounted in a host registry, the
/// default value of `HKLM\SECURITY\Policy\PolAdtEv`.
fn registry_bytes(path: &Path) -> (Vec<u8>, String) {
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Hive(
        HiveFile::open(path, &[]).expect("the corpus SECURITY hive opens"),
    ));
    let found = registry
        .value(POL_ADT_EV_KEY, "")
        .expect("PolAdtEv reads")
        .expect("the corpus SECURITY hive has a PolAdtEv default value");
    let RegData::Bytes(bytes) = found.data.data else {
        panic!("PolAdtEv is not binary: {:?}", found.data);
    };
    assert_eq!(found.data.value_type.name(), "REG_NONE");
    (bytes, found.resolved_path)
}

#[test]
fn the_engine_path_reads_the_corpus_policy() {
    let Some(path) = corpus_security() else {
        return;
    };
    let (bytes, resolved) = registry_bytes(&path);
    assert_eq!(resolved, r"HKLM\SECURITY\Policy\PolAdtEv");
    let policy = AuditPolicy::decode(&bytes).expect("the corpus PolAdtEv decodes");
    assert_eq!(policy.layout().id, "win10-1607");
    let dfs = policy.subcategory("Detailed File Share").unwrap();
    assert!(!dfs.failure, "Detailed File Share failure auditing is off");
    println!(
        "corpus PolAdtEv: {} bytes, layout {}, Detailed File Share: {}",
        bytes.len(),
        policy.layout().id,
        dfs.setting()
    );
}

#[test]
fn hivex_reads_the_same_policy() {
    let Some(path) = corpus_security() else {
        return;
    };
    if !hiveward_testkit::oracle_available("hivexregedit") {
        return;
    }
    let output = Command::new("hivexregedit")
        .arg("--export")
        .arg(&path)
        .arg(r"\Policy\PolAdtEv")
        .output()
        .expect("hivexregedit runs");
    assert!(output.status.success(), "hivexregedit failed");
    // hivex writes keys relative to the hive root: mount them where Windows has them.
    let text = String::from_utf8_lossy(&output.stdout).replace(
        r"[\Policy\PolAdtEv]",
        r"[HKEY_LOCAL_MACHINE\SECURITY\Policy\PolAdtEv]",
    );
    let export =
        RegExport::parse(Path::new("hivex.reg"), text.as_bytes()).expect("hivex's export parses");
    let theirs = export
        .value(&["HKLM", "SECURITY", "Policy", "PolAdtEv"], "")
        .expect("hivex's line reads")
        .expect("hivex exports the default value");
    let RegData::Bytes(theirs) = theirs.data else {
        panic!("hivex's PolAdtEv is not binary: {theirs:?}");
    };
    let (ours, _) = registry_bytes(&path);
    assert_eq!(ours, theirs, "hiveward and hivex read different bytes");
    assert_eq!(
        AuditPolicy::decode(&ours),
        AuditPolicy::decode(&theirs),
        "the same bytes decode the same"
    );
}

#[test]
fn regipy_reads_the_same_leading_bytes() {
    let Some(path) = corpus_security() else {
        return;
    };
    if !hiveward_testkit::oracle_available("regipy-dump") {
        return;
    }
    let output = Command::new("regipy-dump")
        .arg(&path)
        .args(["-p", r"\Policy\PolAdtEv"])
        .output()
        .expect("regipy-dump runs");
    assert!(output.status.success(), "regipy-dump failed");
    let text = String::from_utf8_lossy(&output.stdout);
    // regipy prints one JSON object per key, then a line of its own.
    let key = serde_json::Deserializer::from_str(&text)
        .into_iter::<serde_json::Value>()
        .next()
        .expect("regipy prints the key")
        .expect("regipy's output is JSON");
    let value = key["values"]
        .as_array()
        .and_then(|values| values.iter().find(|value| value["name"] == "(default)"))
        .expect("regipy lists the default value");
    assert_eq!(value["value_type"], "REG_NONE");
    let hex = value["value"].as_str().expect("hex data");
    let (ours, _) = registry_bytes(&path);
    // regipy cuts binary data to its first 128 bytes when it prints it.
    let ours_hex = hiveward_collectors::to_hex(&ours);
    assert!(
        hex.len() >= 256 && ours_hex.starts_with(hex),
        "regipy's {hex} is not the start of hiveward's {ours_hex}"
    );
}
