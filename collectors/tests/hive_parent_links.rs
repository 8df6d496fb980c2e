//! Windows keeps each key node's parent field on the key whose subkey list holds it, and checks
//! it when it loads a hive. A list entry that points elsewhere (at the key itself, a loop, as in
//! artemis' `NTUSER_Bad.DAT`, or at another key) is damage: a read through it, a miss in its
//! list and a listing of it report the damage, never "found" or "absent".

use std::path::Path;

use hiveward_collectors::{HiveFile, RegData};
use hiveward_testkit::{corpus_dir, hive_from_reg};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
/// Where the hive bins start in the file.
const BINS: usize = 0x1000;
/// Offsets in a key node (`nk`) record, from its signature.
const NK_PARENT: usize = 0x10;
const NK_SUBKEYS_LIST: usize = 0x1C;
const NK_NAME_LENGTH: usize = 0x48;
const NK_NAME: usize = 0x4C;

/// A SYSTEM hive whose `Parent` key has five subkeys, each with a value, and an `Other` key.
fn fixture() -> Vec<u8> {
    let mut text = format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n"
    );
    for name in ["A1", "B2", "C3", "D4", "E5"] {
        text.push_str(&format!(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\Parent\\{name}]\r\n\"Marker\"=\"{name}\"\r\n\r\n"
        ));
    }
    text.push_str("[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control]\r\n\r\n");
    text.push_str("[HKEY_LOCAL_MACHINE\\SYSTEM\\Other\\Inner]\r\n\"Marker\"=\"Other\"\r\n\r\n");
    hive_from_reg(&text)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The file offset of the `nk` signature of the only key node named `name` (stored as Latin-1).
fn key_node(bytes: &[u8], name: &str) -> usize {
    let found: Vec<usize> = (0..bytes.len() - NK_NAME - name.len())
        .filter(|&node| {
            &bytes[node..node + 2] == b"nk"
                && usize::from(u16::from_le_bytes([
                    bytes[node + NK_NAME_LENGTH],
                    bytes[node + NK_NAME_LENGTH + 1],
                ])) == name.len()
                && &bytes[node + NK_NAME..node + NK_NAME + name.len()] == name.as_bytes()
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "key node {name:?} occurs {} times",
        found.len()
    );
    found[0]
}

/// The cell offset (relative to the hive bins) of the key node whose signature is at `node`.
fn cell(node: usize) -> u32 {
    u32::try_from(node - BINS - 4).unwrap()
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn open(bytes: Vec<u8>) -> HiveFile {
    HiveFile::from_bytes(Path::new("FS01_SYSTEM.HIV"), bytes, &[]).expect("the fixture opens")
}

#[track_caller]
fn assert_damage(
    result: Result<impl std::fmt::Debug, hiveward_collectors::EvidenceError>,
    needles: &[&str],
) {
    let error = match result {
        Ok(read) => panic!("read {read:?} through a damaged list"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(message.contains("FS01_SYSTEM.HIV"), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} is not in: {message}");
    }
}

#[test]
fn a_subkey_whose_parent_link_names_another_key_is_damage() {
    let mut bytes = fixture();
    let c3 = key_node(&bytes, "C3");
    let other = key_node(&bytes, "Other");
    set_u32(&mut bytes, c3 + NK_PARENT, cell(other));
    let hive = open(bytes);
    let entry = format!("lists the key node at offset {:#010x},", c3 - 4);
    let named = format!("parent link names the key at {:#010x} instead", other - 4);
    // Twice: nothing read through the damaged step is remembered.
    for _ in 0..2 {
        assert_damage(
            hive.key_exists(&["Parent", "C3"]),
            &[
                "key HKLM\\SYSTEM\\Parent\\C3: the subkey list of HKLM\\SYSTEM\\Parent",
                &entry,
                &named,
                "a loop or a misplaced entry",
                "Windows checks these links when it loads a hive",
            ],
        );
        assert_damage(hive.value(&["Parent", "c3"], "Marker"), &[&named]);
        assert_damage(hive.key_exists(&["Parent", "C3", "Below"]), &[&named]);
        // A miss in the list cannot be final: the damaged entry may stand for the key.
        assert_damage(
            hive.key_exists(&["Parent", "F6"]),
            &[&entry, &named, "whether \"F6\" exists cannot be told"],
        );
        assert_damage(
            hive.subkeys(&["Parent"]),
            &["the subkeys of HKLM\\SYSTEM\\Parent", &entry, &named],
        );
    }
    // The keys that link back read as before, and so does the rest of the hive.
    for name in ["A1", "B2", "D4", "E5"] {
        let marker = hive.value(&["Parent", name], "Marker").unwrap().unwrap();
        assert_eq!(marker.data, RegData::String(name.to_string()));
    }
    assert_eq!(hive.subkeys(&["Other"]).unwrap().unwrap(), ["Inner"]);
    assert!(!hive.key_exists(&["Other", "Missing"]).unwrap());
    assert!(hive.key_exists(&["Select"]).unwrap());
}

#[test]
fn a_subkey_list_entry_that_loops_back_to_its_key_is_damage() {
    let mut bytes = fixture();
    let parent = key_node(&bytes, "Parent");
    let e5 = key_node(&bytes, "E5");
    // As in artemis' NTUSER_Bad.DAT: one entry of the key's own `lh` list names the key, and
    // the names still sort ("PARENT" after "D4").
    let list = BINS + u32_at(&bytes, parent + NK_SUBKEYS_LIST) as usize + 4;
    assert_eq!(&bytes[list..list + 2], b"lh");
    let items = (0..usize::from(u16::from_le_bytes([bytes[list + 2], bytes[list + 3]])))
        .map(|index| list + 4 + index * 8);
    let item = items
        .into_iter()
        .find(|&at| u32_at(&bytes, at) == cell(e5))
        .expect("E5 is listed");
    set_u32(&mut bytes, item, cell(parent));
    let hive = open(bytes);
    let entry = format!(
        "the subkey list of HKLM\\SYSTEM\\Parent lists the key node at offset {:#010x} (the key itself),",
        parent - 4
    );
    // The entry reads as a key named "Parent" under Parent, again and again.
    assert_damage(hive.key_exists(&["Parent", "Parent"]), &[&entry]);
    assert_damage(
        hive.key_exists(&["Parent", "Parent", "Parent", "Parent"]),
        &[&entry],
    );
    assert_damage(hive.value(&["Parent", "Parent", "A1"], "Marker"), &[&entry]);
    // The key the entry stood for, or any other name, is neither found nor absent.
    for name in ["E5", "F6", "0"] {
        assert_damage(
            hive.key_exists(&["Parent", name]),
            &[&entry, &format!("whether {name:?} exists cannot be told")],
        );
    }
    assert_damage(hive.subkeys(&["Parent"]), &[&entry]);
    // The other entries still read.
    for name in ["A1", "B2", "C3", "D4"] {
        assert!(hive.key_exists(&["Parent", name]).unwrap(), "{name}");
    }
    assert!(hive.key_exists(&["Other", "Inner"]).unwrap());
}

#[test]
fn a_damaged_link_under_the_root_is_damage_and_the_hive_still_opens() {
    let mut bytes = fixture();
    let other = key_node(&bytes, "Other");
    let select = key_node(&bytes, "Select");
    set_u32(&mut bytes, other + NK_PARENT, cell(select));
    let hive = open(bytes);
    assert!(hive
        .notices()
        .iter()
        .any(|notice| notice.message.contains("parent link names the key at")));
    assert_damage(hive.key_exists(&["Other", "Inner"]), &["parent link"]);
    assert!(hive.key_exists(&["Parent", "A1"]).unwrap());
}

#[test]
fn a_clean_hive_reads_as_before() {
    let bytes = fixture();
    // The root's own parent field is no key of the hive, and is not checked.
    let root = key_node(&bytes, "ROOT");
    let mut patched = bytes.clone();
    set_u32(&mut patched, root + NK_PARENT, 0x1234_5678);
    for bytes in [bytes, patched] {
        let hive = open(bytes);
        assert!(hive.notices().is_empty(), "{:?}", hive.notices());
        assert_eq!(
            hive.subkeys(&["Parent"]).unwrap().unwrap(),
            ["A1", "B2", "C3", "D4", "E5"]
        );
        for name in ["A1", "B2", "C3", "D4", "E5"] {
            let marker = hive.value(&["Parent", name], "Marker").unwrap().unwrap();
            assert_eq!(marker.data, RegData::String(name.to_string()));
        }
        assert!(!hive.key_exists(&["Parent", "F6"]).unwrap());
        assert!(!hive.key_exists(&["Parent", "Parent"]).unwrap());
        assert!(!hive.key_exists(&["Parent", "A1", "A1"]).unwrap());
        assert!(hive.key_exists(&["Other", "Inner"]).unwrap());
    }
}

#[test]
fn every_key_of_the_corpus_hives_links_back_to_its_parent() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let mut files = Vec::new();
    for entry in walk(&corpus.join("hives")) {
        let Ok(hive) = HiveFile::open(&entry, &[]) else {
            continue;
        };
        let mut stack: Vec<Vec<String>> = vec![Vec::new()];
        let mut keys = 0;
        while let Some(key) = stack.pop() {
            let parts: Vec<&str> = key.iter().map(String::as_str).collect();
            let subkeys = match hive.subkeys(&parts) {
                Ok(subkeys) => subkeys.expect("a listed key exists"),
                Err(error) => {
                    // Other damage (the corpus holds damaged hives) is not this test's concern.
                    assert!(
                        !error.to_string().contains("parent link"),
                        "{}: {error}",
                        entry.display()
                    );
                    continue;
                }
            };
            keys += 1;
            for subkey in subkeys {
                let mut child = key.clone();
                child.push(subkey);
                stack.push(child);
            }
        }
        files.push((entry, keys));
    }
    assert!(files.len() >= 10, "{files:?}");
}

/// The files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}
