//! A key that a listing shows never reads back as absent. nt-hive looks a subkey up by binary
//! search, which misses a key stored out of order and a name whose UTF-16 is broken; such a
//! miss is checked against the list, so the key is found (a broken name, spelled as listings
//! give it) or the read reports the damage (a list out of order). The same checks ran over every
//! key of the corpus hives without finding a list out of order. A damaged list that holds two
//! keys of one name lists the name once, as reads find one key by it.

use std::path::Path;

use hiveward_collectors::{HiveFile, RegData};
use hiveward_testkit::{corpus_dir, hive_from_reg};

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

/// A SYSTEM-like hive whose `Parent` key has five subkeys and a key with a Cyrillic name (stored
/// as UTF-16) holding a value with a Cyrillic name.
fn fixture() -> Vec<u8> {
    let mut text = format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n"
    );
    for name in ["A1", "B2", "C3", "D4", "E5"] {
        text.push_str(&format!(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\Parent\\{name}]\r\n\"Marker\"=\"{name}\"\r\n\r\n"
        ));
    }
    text.push_str("[HKEY_LOCAL_MACHINE\\SYSTEM\\Names\\Ключ1]\r\n\"Знач1\"=dword:00000007\r\n\r\n");
    hive_from_reg(&text)
}

/// Replaces the only occurrence of `from` in `bytes` with `to`, of the same length.
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let found: Vec<usize> = (0..=bytes.len() - from.len())
        .filter(|&at| &bytes[at..at + from.len()] == from)
        .collect();
    assert_eq!(found.len(), 1, "{from:?} occurs {} times", found.len());
    bytes[found[0]..found[0] + to.len()].copy_from_slice(to);
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `text`'s UTF-16 with its last code unit replaced by a lone high surrogate.
fn broken_utf16(text: &str) -> Vec<u8> {
    let mut bytes = utf16(text);
    let len = bytes.len();
    bytes[len - 2..].copy_from_slice(&0xD801u16.to_le_bytes());
    bytes
}

fn open(bytes: Vec<u8>) -> HiveFile {
    HiveFile::from_bytes(Path::new("FS01_SYSTEM.HIV"), bytes, &[]).expect("the fixture opens")
}

#[test]
fn a_key_stored_out_of_order_is_damage_not_absent() {
    let mut bytes = fixture();
    // The stored name of the first subkey now sorts last: a binary search for it looks in the
    // upper half of the list and misses it.
    patch(&mut bytes, b"A1", b"X1");
    let hive = open(bytes);
    let listed = hive.subkeys(&["Parent"]).unwrap().unwrap();
    assert_eq!(listed, ["X1", "B2", "C3", "D4", "E5"]);
    for path in [&["Parent", "X1"][..], &["Parent", "x1"][..]] {
        let error = hive
            .key_exists(path)
            .expect_err("a listed key is not absent");
        let message = error.to_string();
        assert!(
            message.contains("FS01_SYSTEM.HIV")
                && message.contains("the subkeys are not in the order Windows keeps them")
                && message.contains("\"X1\" is stored"),
            "{message}"
        );
        assert!(hive.value(path, "Marker").is_err());
    }
    // Each other key is what the search finds (it reads as before) or a miss the list shows
    // up (damage naming it); a name the list does not hold is absent, as the list holds every
    // subkey in whatever order.
    let mut found = 0;
    for name in ["B2", "C3", "D4", "E5"] {
        match hive.value(&["Parent", name], "Marker") {
            Ok(marker) => {
                assert_eq!(marker.unwrap().data, RegData::String(name.to_string()));
                found += 1;
            }
            Err(error) => assert!(
                error.to_string().contains(&format!("{name:?} is stored")),
                "{error}"
            ),
        }
    }
    assert!(found > 0);
    assert!(!hive.key_exists(&["Parent", "F6"]).unwrap());
    assert!(!hive.key_exists(&["Parent", "A1"]).unwrap());
}

#[test]
fn a_key_and_a_value_with_broken_utf16_names_read_back_as_listed() {
    let mut bytes = fixture();
    patch(&mut bytes, &utf16("Ключ1"), &broken_utf16("Ключ1"));
    patch(&mut bytes, &utf16("Знач1"), &broken_utf16("Знач1"));
    let hive = open(bytes);
    let listed = hive.subkeys(&["Names"]).unwrap().unwrap();
    assert_eq!(listed, ["Ключ\u{fffd}"]);
    let key = ["Names", listed[0].as_str()];
    assert!(hive.key_exists(&key).unwrap());
    // Case does not matter, as for any other name.
    assert!(hive.key_exists(&["Names", "КЛЮЧ\u{fffd}"]).unwrap());
    let values = hive.values(&key).unwrap().unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].name, "Знач\u{fffd}");
    let value = hive.value(&key, &values[0].name).unwrap().unwrap();
    assert_eq!(value.data, RegData::Integer(7));
    // A name with U+FFFD that no stored name spells is still absent.
    assert!(!hive.key_exists(&["Names", "Other\u{fffd}"]).unwrap());
    assert!(hive.value(&key, "Other\u{fffd}").unwrap().is_none());
}

#[test]
fn no_corpus_hive_has_a_list_out_of_order() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    for name in ["regipy/SYSTEM", "regipy/NTUSER.DAT", "dfwinreg/SYSTEM"] {
        let path = corpus.join("hives").join(name);
        let hive = HiveFile::open(&path, &[]).expect("the corpus hive opens");
        let mut stack: Vec<Vec<String>> = vec![Vec::new()];
        let mut keys = 0;
        while let Some(key) = stack.pop() {
            let parts: Vec<&str> = key.iter().map(String::as_str).collect();
            let subkeys = hive.subkeys(&parts).unwrap().expect("a listed key exists");
            keys += 1;
            // A miss makes the reader check the list's order (and, for a name with U+FFFD,
            // search it name by name).
            for missing in ["0000 not there", "zzzz not there \u{fffd}"] {
                let mut probe = parts.clone();
                probe.push(missing);
                assert!(
                    !hive.key_exists(&probe).unwrap(),
                    "{name}: {}",
                    key.join("\\")
                );
            }
            for subkey in subkeys {
                let mut child = key.clone();
                child.push(subkey);
                stack.push(child);
            }
        }
        assert!(keys > 1_000, "{name}: {keys} keys");
    }
}

#[test]
fn a_name_a_damaged_list_holds_twice_is_listed_once() {
    let mut bytes = fixture();
    // `C3` renamed `B2`: the list still sorts, and holds two keys named `B2`.
    patch(&mut bytes, b"C3", b"B2");
    let hive = open(bytes);
    assert_eq!(
        hive.subkeys(&["Parent"]).unwrap().unwrap(),
        ["A1", "B2", "D4", "E5"]
    );
    // The name reads back as one of the two keys stored under it.
    let marker = hive.value(&["Parent", "B2"], "Marker").unwrap().unwrap();
    let RegData::String(marker) = marker.data else {
        panic!("{marker:?}")
    };
    assert!(["B2", "C3"].contains(&marker.as_str()), "{marker}");
}
