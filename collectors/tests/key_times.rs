//! Key LastWriteTimes: read from the key node behind nt-hive's back (it has no accessor), and
//! checked against regipy's `regipy-dump` on the corpus NTUSER.DAT, whose MountPoints2 keys
//! date a user's share connections.

use std::path::Path;
use std::process::Command;

use hiveward_collectors::{filetime_to_rfc3339, HiveFile, HostRegistry, RegExport, RegistrySource};
use hiveward_testkit::hive_from_reg;

/// Microseconds since 1970 of an RFC 3339 UTC text with six fraction digits.
fn micros(text: &str) -> i64 {
    let trimmed = text.trim_end_matches('Z').trim_end_matches("+00:00");
    let (date, time) = trimmed.split_once('T').expect("date and time");
    let mut date_parts = date.split('-').map(|part| part.parse::<i64>().unwrap());
    let (year, month, day) = (
        date_parts.next().unwrap(),
        date_parts.next().unwrap(),
        date_parts.next().unwrap(),
    );
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut clock_parts = clock.split(':').map(|part| part.parse::<i64>().unwrap());
    let (hour, minute, second) = (
        clock_parts.next().unwrap(),
        clock_parts.next().unwrap(),
        clock_parts.next().unwrap(),
    );
    let fraction: i64 = format!("{fraction:0<6}")[..6].parse().unwrap();
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + hour * 3_600 + minute * 60 + second) * 1_000_000) + fraction
}

#[test]
fn explorer_key_times_match_regipy() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    if !hiveward_testkit::oracle_available("regipy-dump") {
        return;
    }
    let path = corpus.join("hives/regipy/NTUSER.DAT");
    let start = r"\Software\Microsoft\Windows\CurrentVersion\Explorer";
    let output = Command::new("regipy-dump")
        .arg(&path)
        .args(["-d", "-p", start])
        .output()
        .expect("regipy-dump runs");
    assert!(output.status.success(), "regipy-dump failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let hive = HiveFile::open(&path, &[]).expect("the corpus NTUSER.DAT opens");
    let mut checked = 0;
    let mut mount_points = 0;
    // regipy prints one JSON object per key, then a line of its own.
    for key in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        let Ok(key) = key else { break };
        let relative = key["path"].as_str().expect("path");
        let expected = key["timestamp"].as_str().expect("timestamp");
        let full = format!("{start}{relative}");
        let components: Vec<&str> = full.split('\\').filter(|part| !part.is_empty()).collect();
        let filetime = hive
            .key_last_written(&components)
            .unwrap_or_else(|error| panic!("{full}: {error}"))
            .unwrap_or_else(|| panic!("{full}: regipy lists it, hiveward finds no such key"));
        let ours = filetime_to_rfc3339(filetime).expect("a time");
        // regipy rounds to the microsecond; hiveward truncates.
        let difference = (micros(&ours) - micros(expected)).abs();
        assert!(
            difference <= 1,
            "{full}: hiveward {ours}, regipy {expected}"
        );
        checked += 1;
        if full.contains("MountPoints2\\##") {
            mount_points += 1;
        }
    }
    println!("{checked} key times agree with regipy, {mount_points} of them share keys");
    assert!(checked > 100, "only {checked} keys compared");
    assert!(mount_points > 0, "no MountPoints2 share key compared");
}

#[test]
fn absent_keys_and_reg_exports_have_no_time() {
    let text = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\MountPoints2\\##fs01#share]\r\n\"_LabelFromReg\"=\"share\"\r\n";
    let hive = HiveFile::from_bytes(Path::new("U_HKCU.HIV"), hive_from_reg(text), &[])
        .expect("fixture hive opens");
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Hive(hive));
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\MountPoints2\##fs01#share";
    let found = registry
        .key_last_written(key)
        .expect("reads")
        .expect("the key exists");
    assert!(found.data.is_some(), "a hive records a time for every key");
    assert!(found.resolved_path.ends_with("##fs01#share"));
    assert!(registry
        .key_last_written(r"HKCU\Software\Nothing\Here")
        .expect("reads")
        .is_none());

    let export = RegExport::parse(Path::new("U.reg"), text.as_bytes()).expect("parses");
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    let found = registry
        .key_last_written(key)
        .expect("reads")
        .expect("the key exists");
    assert_eq!(found.data, None, "a .reg export records no time");
}
