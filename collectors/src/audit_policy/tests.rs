//! Unit tests of `audit_policy`.

use super::*;
use proptest::prelude::*;

/// A value in the documented shape: header, settings, one spare u16, the counts.
fn blob(counts: &[u16], values: &[u16], spare: u16) -> Vec<u8> {
    let mut out = REVISION.to_vec();
    out.extend((counts.len() as u32).to_le_bytes());
    let offset = HEADER_LEN + 2 * values.len() + 2;
    out.extend((offset as u32).to_le_bytes());
    for value in values {
        out.extend(value.to_le_bytes());
    }
    out.extend(spare.to_le_bytes());
    for count in counts {
        out.extend(count.to_le_bytes());
    }
    out
}

fn layout(id: &str) -> &'static AuditLayout {
    LAYOUTS.iter().find(|layout| layout.id == id).unwrap()
}

/// A value of `id`'s layout with every setting 0 except `set` (subcategory name, setting).
fn policy_of(id: &str, set: &[(&str, u16)]) -> Vec<u8> {
    let layout = layout(id);
    let names: Vec<&str> = SUBCATEGORIES
        .iter()
        .filter(|(_, _, _, since)| *since <= layout.generation)
        .map(|(_, name, _, _)| *name)
        .collect();
    let mut values = vec![0u16; names.len()];
    for (name, value) in set {
        let index = names.iter().position(|known| known == name).unwrap();
        values[index] = *value;
    }
    blob(&layout.counts, &values, 0)
}

#[test]
fn every_layout_has_as_many_subcategories_as_its_counts() {
    for layout in &LAYOUTS {
        let positions = layout.positions();
        assert_eq!(positions.len(), layout.subcategory_count(), "{}", layout.id);
        for (category, count) in layout.counts.iter().enumerate() {
            let held = SUBCATEGORIES
                .iter()
                .filter(|(cat, _, _, since)| *cat == category && *since <= layout.generation)
                .count();
            assert_eq!(
                held,
                usize::from(*count),
                "{} {}",
                layout.id,
                CATEGORIES[category]
            );
        }
        for name in layout.undetermined {
            assert!(
                SUBCATEGORIES.iter().any(|(_, known, _, _)| known == name),
                "{name}"
            );
        }
    }
    let guids: std::collections::BTreeSet<&str> =
        SUBCATEGORIES.iter().map(|(_, _, guid, _)| *guid).collect();
    assert_eq!(guids.len(), SUBCATEGORIES.len());
}

/// The byte offsets RegRipper's auditpol plugin reads each subcategory at, for the layouts
/// where it and the stored order agree.
#[test]
fn offsets_match_regripper() {
    type Offsets = &'static [(&'static str, usize)];
    let cases: [(&str, usize, Offsets); 4] = [
        (
            "win7",
            138,
            &[
                ("Logon", 0x16),
                ("Other Logon/Logoff Events", 0x24),
                ("File System", 0x28),
                ("Other Object Access Events", 0x30),
                ("File Share", 0x38),
                ("Detailed File Share", 0x3e),
                ("Sensitive Privilege Use", 0x40),
                ("Kerberos Authentication Service", 0x74),
            ],
        ),
        (
            "win8",
            0x90,
            &[
                ("Special Logon", 0x1e),
                ("User / Device Claims", 0x28),
                ("File Share", 0x3a),
                ("Detailed File Share", 0x40),
                ("Central Policy Staging", 0x44),
                ("RPC Events", 0x52),
                ("Kerberos Authentication Service", 0x7a),
            ],
        ),
        (
            "win8.1",
            0x92,
            &[
                ("File Share", 0x3a),
                ("Detailed File Share", 0x40),
                ("Plug and Play Events", 0x54),
                ("Kerberos Authentication Service", 0x7c),
            ],
        ),
        (
            "win10-1607",
            0x96,
            &[
                ("Special Logon", 0x1e),
                ("Group Membership", 0x2a),
                ("File System", 0x2c),
                ("Other Object Access Events", 0x34),
                ("File Share", 0x3c),
                ("Detailed File Share", 0x42),
                ("Token Right Adjusted Events", 0x58),
                ("Kerberos Authentication Service", 0x80),
            ],
        ),
    ];
    for (id, len, offsets) in cases {
        for (name, offset) in offsets {
            let mut bytes = policy_of(id, &[]);
            assert_eq!(bytes.len(), len, "{id}");
            bytes[*offset] = 2;
            let policy = AuditPolicy::decode(&bytes).unwrap();
            assert_eq!(policy.layout().id, id);
            let hits: Vec<&str> = policy
                .subcategories()
                .iter()
                .filter(|item| item.failure)
                .map(|item| item.name)
                .collect();
            assert_eq!(hits, [*name], "{id} offset {offset:#x}");
        }
    }
    // Windows 10 before 1607: the positions RegRipper and dissect.target agree on.
    for (name, offset) in [
        ("Group Membership", 0x2a),
        ("Detailed File Share", 0x42),
        ("Removable Storage", 0x44),
        ("Plug and Play Events", 0x56),
        ("Kerberos Authentication Service", 0x7e),
    ] {
        let mut bytes = policy_of("win10-1507", &[]);
        assert_eq!(bytes.len(), 148);
        bytes[offset] = 2;
        let policy = AuditPolicy::decode(&bytes).unwrap();
        let hits: Vec<&str> = policy
            .subcategories()
            .iter()
            .filter(|item| item.failure)
            .map(|item| item.name)
            .collect();
        assert_eq!(hits, [name], "win10-1507 offset {offset:#x}");
    }
    // The word at byte 8 is the counts' offset, as RegRipper tells layouts apart by it.
    for (id, offset) in [
        ("win7", 0x78u8),
        ("win8", 0x7e),
        ("win8.1", 0x80),
        ("win10-1507", 0x82),
        ("win10-1607", 0x84),
    ] {
        assert_eq!(policy_of(id, &[])[8], offset, "{id}");
    }
}

#[test]
fn detailed_file_share_failure_in_every_layout() {
    for layout in &LAYOUTS {
        for (value, success, failure) in [
            (0, false, false),
            (1, true, false),
            (2, false, true),
            (3, true, true),
        ] {
            let bytes = policy_of(layout.id, &[("Detailed File Share", value)]);
            let policy = AuditPolicy::decode(&bytes).unwrap();
            let dfs = policy.subcategory("detailed file share").unwrap();
            assert_eq!(
                (dfs.success, dfs.failure),
                (success, failure),
                "{}",
                layout.id
            );
            assert_eq!(dfs.category, "Object Access");
            assert_eq!(dfs.guid, "{0CCE9244-69AE-11D9-BED3-505054503030}");
            assert_eq!(
                policy.subcategory("0cce9244-69ae-11d9-bed3-505054503030"),
                Some(dfs)
            );
            let others = policy
                .subcategories()
                .iter()
                .filter(|item| item.success || item.failure)
                .count();
            assert_eq!(others, usize::from(value != 0), "{}", layout.id);
        }
    }
}

#[test]
fn undetermined_positions_are_not_named() {
    let policy = AuditPolicy::decode(&policy_of("win10-1507", &[("File Share", 3)])).unwrap();
    assert!(policy.subcategory("File Share").is_none());
    assert!(policy.undetermined().contains(&"File Share"));
    assert_eq!(policy.subcategories().len(), 58 - 10);
    assert!(policy.subcategories().iter().all(|item| !item.success));
    assert_eq!(
        policy.subcategory("Detailed File Share").unwrap().position,
        5 + 11 + 12
    );
    let win7 = AuditPolicy::decode(&policy_of("win7", &[])).unwrap();
    assert!(win7.subcategory("Special Logon").is_none());
    assert!(win7.subcategory("File Share").is_some());
    assert!(win7.subcategory("Removable Storage").is_none());
    assert!(!win7.undetermined().is_empty());
    let latest = AuditPolicy::decode(&policy_of("win11-26200", &[("Access Rights", 1)])).unwrap();
    assert!(latest.subcategory("Access Rights").unwrap().success);
    assert_eq!(latest.subcategories().len(), 60);
    assert!(latest.undetermined().is_empty());
}

#[test]
fn settings_read_as_auditpol_words_them() {
    let bytes = policy_of(
        "win10-1607",
        &[("File Share", 1), ("Detailed File Share", 3)],
    );
    let policy = AuditPolicy::decode(&bytes).unwrap();
    assert_eq!(
        policy.subcategory("File Share").unwrap().setting(),
        "Success"
    );
    assert_eq!(
        policy.subcategory("Detailed File Share").unwrap().setting(),
        "Success and Failure"
    );
    assert_eq!(policy.subcategory("SAM").unwrap().setting(), "No Auditing");
    assert!(policy.subcategory("No Such Subcategory").is_none());
}

#[test]
fn shapes_that_are_not_documented_are_errors() {
    let good = policy_of("win10-1607", &[]);
    assert_eq!(
        AuditPolicy::decode(&good[..11]),
        Err(AuditPolicyError::TooShort { len: 11 })
    );
    // Windows XP / Server 2003: auditing on, then one DWORD per category.
    let mut legacy = vec![1u8, 0, 0, 0];
    for _ in 0..9 {
        legacy.extend(3u32.to_le_bytes());
    }
    legacy.extend(9u32.to_le_bytes());
    assert!(matches!(
        AuditPolicy::decode(&legacy),
        Err(AuditPolicyError::UnknownRevision { found }) if found == "01 00 00 00"
    ));
    let mut categories = good.clone();
    categories[4] = 10;
    assert_eq!(
        AuditPolicy::decode(&categories),
        Err(AuditPolicyError::UnknownCategoryCount { categories: 10 })
    );
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(
        AuditPolicy::decode(&longer),
        Err(AuditPolicyError::CountsMisplaced { .. })
    ));
    let mut counts = good.clone();
    let at = counts.len() - 18;
    counts[at] = 6; // System: 6 instead of 5
    assert!(matches!(
        AuditPolicy::decode(&counts),
        Err(AuditPolicyError::CountsDisagree { total: 60, .. })
    ));
    // Same total as a known layout, other split.
    let odd = blob(&[6, 10, 14, 3, 6, 6, 6, 4, 4], &[0; 59], 0);
    assert!(matches!(
        AuditPolicy::decode(&odd),
        Err(AuditPolicyError::UnknownLayout { total: 59, .. })
    ));
    let bad = policy_of("win10-1607", &[("Detailed File Share", 4)]);
    let error = AuditPolicy::decode(&bad).unwrap_err();
    assert_eq!(
        error,
        AuditPolicyError::BadSetting {
            position: 28,
            name: "Detailed File Share".to_string(),
            value: 4
        }
    );
    assert!(error
        .to_string()
        .contains("setting 28 (Detailed File Share) is 4"));
    let undetermined = policy_of("win10-1507", &[("File Share", 9)]);
    assert!(matches!(
        AuditPolicy::decode(&undetermined),
        Err(AuditPolicyError::BadSetting { name, value: 9, .. }) if name == "undetermined subcategory"
    ));
    // The spare value is not a setting.
    let mut spare = good.clone();
    let spare_at = spare.len() - 20;
    spare[spare_at] = 0xff;
    assert!(AuditPolicy::decode(&spare).is_ok());
}

#[test]
fn truncated_and_mutated_values_never_panic() {
    for layout in &LAYOUTS {
        let good = policy_of(layout.id, &[("Detailed File Share", 2), ("Logon", 3)]);
        for end in 0..good.len() {
            assert!(
                AuditPolicy::decode(&good[..end]).is_err(),
                "{} cut at {end}",
                layout.id
            );
        }
        for index in 0..good.len() {
            for byte in [0u8, 1, 2, 3, 4, 0x7f, 0x80, 0xfe, 0xff] {
                let mut mutated = good.clone();
                mutated[index] = byte;
                let _ = AuditPolicy::decode(&mutated);
            }
        }
    }
    // Offsets and counts at their extremes.
    let mut huge = REVISION.to_vec();
    huge.extend(9u32.to_le_bytes());
    huge.extend(u32::MAX.to_le_bytes());
    huge.extend([0xff; 18]);
    assert!(AuditPolicy::decode(&huge).is_err());
    let mut counts_max = REVISION.to_vec();
    counts_max.extend(9u32.to_le_bytes());
    counts_max.extend(14u32.to_le_bytes());
    counts_max.extend([0, 0]);
    counts_max.extend([0xff; 18]);
    assert!(matches!(
        AuditPolicy::decode(&counts_max),
        Err(AuditPolicyError::CountsDisagree { .. })
    ));
}

proptest! {
    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = AuditPolicy::decode(&bytes);
    }

    #[test]
    fn any_header_and_counts_decode_or_fail_cleanly(
        counts in proptest::collection::vec(0u16..20, 9),
        values in proptest::collection::vec(0u16..6, 0..80),
        spare in any::<u16>(),
    ) {
        let bytes = blob(&counts, &values, spare);
        if let Ok(policy) = AuditPolicy::decode(&bytes) {
            prop_assert_eq!(policy.layout().counts.to_vec(), counts);
            prop_assert!(values.iter().all(|&value| value <= 3));
        }
    }
}

/// The corpus SECURITY hive (regipy's test data, a Windows 10 client): checked against
/// dissect.target 3.25.1's auditpol plugin, which printed the same 59 settings, and against
/// Microsoft's documented Windows 10 client defaults (Logon success and failure, Special
/// Logon success, Network Policy Server success and failure, nothing in Object Access).
#[test]
fn the_corpus_security_hive() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let path = corpus.join("hives/regipy/SECURITY");
    let hive = crate::HiveFile::open(&path, &[]).expect("the corpus SECURITY hive opens");
    assert_eq!(hive.kind(), crate::HiveKind::Security);
    let value = hive
        .value(&["Policy", "PolAdtEv"], "")
        .expect("PolAdtEv reads")
        .expect("PolAdtEv has a default value");
    let crate::RegData::Bytes(bytes) = &value.data else {
        panic!("PolAdtEv is not binary: {value:?}");
    };
    assert_eq!(bytes.len(), 150);
    let policy = AuditPolicy::decode(bytes).expect("the corpus PolAdtEv decodes");
    assert_eq!(policy.layout().id, "win10-1607");
    let set: Vec<(&str, &str)> = policy
        .subcategories()
        .iter()
        .filter(|item| item.success || item.failure)
        .map(|item| (item.name, item.setting()))
        .collect();
    assert_eq!(
        set,
        [
            ("Security State Change", "Success"),
            ("System Integrity", "Success and Failure"),
            ("Other System Events", "Success and Failure"),
            ("Logon", "Success and Failure"),
            ("Logoff", "Success"),
            ("Account Lockout", "Success"),
            ("Special Logon", "Success"),
            ("Network Policy Server", "Success and Failure"),
            ("Audit Policy Change", "Success"),
            ("Authentication Policy Change", "Success"),
            ("User Account Management", "Success"),
            ("Security Group Management", "Success"),
        ]
    );
    assert_eq!(policy.subcategories().len(), 59);
    let dfs = policy.subcategory("Detailed File Share").unwrap();
    assert!(!dfs.failure && !dfs.success);
    let share = policy.subcategory("File Share").unwrap();
    assert!(!share.failure && !share.success);
    println!(
        "corpus PolAdtEv: layout {}, Detailed File Share {}",
        policy.layout().id,
        dfs.setting()
    );
}
