//! Unit tests of `identity`.

use super::*;

/// A draft named `name` holding hives of `kinds` (one file each, under `folder`).
fn draft(name: &str, fqdn: Option<&str>, kinds: &[HiveKind], folder: usize) -> Draft {
    let records = kinds
        .iter()
        .enumerate()
        .map(|(at, kind)| FileRecord {
            path: format!("/bundle/{folder:03}/{at}-{kind:?}"),
            kind: crate::detect::FileKind::Hive,
            hive_kind: Some(*kind),
            hive_state: None,
            logs: vec![],
            status: FileStatus::Read,
            events: None,
            notices: vec![],
        })
        .collect();
    Draft {
        name: name.to_string(),
        name_source: NameSource::ComputerName,
        name_from_hive: true,
        fqdn: fqdn.map(str::to_string),
        layout: GroupLayout::Directory,
        records,
        registry: None,
        events: vec![],
    }
}

/// The merge as first written: each draft joins the first kept draft it may merge with,
/// found by trying them all.
fn merge_by_trying_all(mut drafts: Vec<Draft>) -> Vec<Draft> {
    drafts.sort_by(|left, right| {
        left.name
            .to_lowercase()
            .cmp(&right.name.to_lowercase())
            .then_with(|| left.first_path().cmp(right.first_path()))
    });
    let mut merged: Vec<Draft> = Vec::new();
    for draft in drafts {
        match merged.iter().position(|kept| kept.can_merge(&draft)) {
            Some(at) => {
                let existing = &mut merged[at];
                if existing.fqdn.is_none() {
                    existing.fqdn = draft.fqdn;
                }
                existing.records.extend(draft.records);
            }
            None => merged.push(draft),
        }
    }
    merged
}

fn shape(drafts: &[Draft]) -> Vec<(String, Option<String>, Vec<String>)> {
    drafts
        .iter()
        .map(|draft| {
            let paths = draft.records.iter().map(|r| r.path.clone()).collect();
            (draft.name.clone(), draft.fqdn.clone(), paths)
        })
        .collect()
}

proptest::proptest! {
    #[test]
    fn the_indexed_merge_joins_what_trying_every_draft_joins(
        specs in proptest::collection::vec(
            (0..5usize, 0..4usize, proptest::collection::vec(0..5usize, 0..3)),
            0..40,
        )
    ) {
        // The last two are one name without regard to case, but not without regard to ASCII
        // case: sorted side by side, never merged.
        const NAMES: [&str; 5] = ["FS01", "fs01", "WEB", "ÉCOLE", "école"];
        const FQDNS: [Option<&str>; 4] =
            [None, Some("fs01.corp.example"), Some("FS01.CORP.EXAMPLE"), Some("fs01.lab.example")];
        const KINDS: [HiveKind; 5] =
            [HiveKind::System, HiveKind::Software, HiveKind::Sam, HiveKind::Ntuser, HiveKind::Security];
        let make = || -> Vec<Draft> {
            specs
                .iter()
                .enumerate()
                .map(|(folder, (name, fqdn, kinds))| {
                    let kinds: Vec<HiveKind> = kinds.iter().map(|at| KINDS[*at]).collect();
                    draft(NAMES[*name], FQDNS[*fqdn], &kinds, folder)
                })
                .collect()
        };
        proptest::prop_assert_eq!(shape(&merge_drafts(make())), shape(&merge_by_trying_all(make())));
    }
}

#[test]
fn a_thousand_clones_of_one_computer_stay_a_thousand_hosts() {
    let drafts: Vec<Draft> = (0..1_000)
        .map(|folder| {
            draft(
                "GOLDEN",
                None,
                &[HiveKind::System, HiveKind::Software],
                folder,
            )
        })
        .collect();
    let merged = merge_drafts(drafts);
    assert_eq!(merged.len(), 1_000);
    assert!(merged.iter().all(|draft| draft.records.len() == 2));
    // A lone SAM hive of that name joins the first of them.
    let mut drafts: Vec<Draft> = (0..3)
        .map(|folder| draft("GOLDEN", None, &[HiveKind::System], folder))
        .collect();
    drafts.push(draft("golden", None, &[HiveKind::Sam], 9));
    let merged = merge_drafts(drafts);
    assert_eq!(merged.len(), 3);
    assert_eq!(merged[0].records.len(), 2);
}

fn id(name: &str) -> ComputerId {
    ComputerId::parse(name).expect("a computer name")
}

fn keys(computers: &[ComputerId]) -> Vec<String> {
    computers
        .iter()
        .map(|computer| computer.fqdn.clone().unwrap_or(computer.label.clone()))
        .collect()
}

#[test]
fn names_parse_into_label_and_full_name() {
    let full = id(" fs01.Corp.example. ");
    assert_eq!(full.label, "fs01");
    assert_eq!(full.fqdn.as_deref(), Some("fs01.Corp.example"));
    let bare = id("FS01");
    assert_eq!((bare.label.as_str(), bare.fqdn), ("FS01", None));
    let ip = id("10.1.2.3");
    assert_eq!((ip.label.as_str(), ip.fqdn), ("10.1.2.3", None));
    assert!(ComputerId::parse("").is_none());
    assert!(ComputerId::parse(" . ").is_none());
    assert!(ComputerId::parse(".corp").is_none());
}

#[test]
fn same_computer_compares_labels_and_full_names_when_both_have_one() {
    assert!(id("FS01").same(&id("fs01.corp.example")));
    assert!(id("fs01.CORP.example").same(&id("FS01.corp.EXAMPLE")));
    assert!(!id("fs01.corp.example").same(&id("fs01.lab.example")));
    assert!(!id("FS01").same(&id("FS02")));
}

#[test]
fn distinct_computers_never_merge_two_full_names() {
    let one = distinct_computers([id("FS01"), id("fs01.corp.example"), id("fs01")]);
    assert_eq!(keys(&one), ["fs01.corp.example"]);
    let two = distinct_computers([
        id("fs01.lab.example"),
        id("FS01"),
        id("fs01.corp.example"),
        id("WKS7"),
    ]);
    assert_eq!(
        keys(&two),
        ["fs01.corp.example", "fs01.lab.example", "FS01", "WKS7"]
    );
    assert_eq!(
        computer_of(&two, &id("FS01.LAB.example")).map(|c| c.name.as_str()),
        Some("fs01.lab.example")
    );
    assert_eq!(
        computer_of(&two, &id("fs01")).map(|c| c.name.as_str()),
        Some("FS01")
    );
    assert_eq!(
        computer_of(&two, &id("wks7.corp.example")).map(|c| c.name.as_str()),
        Some("WKS7")
    );
    // The same in any order.
    let reversed = distinct_computers([
        id("WKS7"),
        id("fs01.corp.example"),
        id("FS01"),
        id("fs01.lab.example"),
    ]);
    assert_eq!(keys(&reversed), keys(&two));
}
