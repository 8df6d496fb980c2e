//! Parsing of `.reg` text: every data form, encodings, syntax errors, and lines skipped.

use super::*;
use crate::value::{RegData, RegType};

const SAMPLE: &str = "Windows Registry Editor Version 5.00\r\n\r\n\
; exported for the test\r\n\
[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
\"SmbServerNameHardeningLevel\"=dword:00000002\r\n\
\"SrvAllowedServerNames\"=hex(7):66,00,73,00,00,00,\\\r\n  61,00,00,00,00,00\r\n\
\"Description\"=\"say \\\"hi\\\" C:\\\\temp\"\r\n\
@=\"default\"\r\n\
\"Blob\"=hex:de,ad,\\\r\n    be,ef\r\n\
\"Big\"=hex(b):01,00,00,00,00,00,00,00\r\n\
\"Gone\"=dword:1\r\n\
\"Gone\"=-\r\n\
\r\n\
[HKEY_LOCAL_MACHINE\\SYSTEM\\Deleted\\Child]\r\n\
[-HKEY_LOCAL_MACHINE\\SYSTEM\\Deleted]\r\n";

fn parse(text: &str) -> Result<RegExport, EvidenceError> {
    RegExport::parse(Path::new("sample.reg"), text.as_bytes())
}

#[test]
fn parses_every_data_form_with_continuations() {
    let export = parse(SAMPLE).unwrap();
    let key = [
        "HKLM",
        "SYSTEM",
        "CurrentControlSet",
        "Services",
        "LanmanServer",
        "Parameters",
    ];
    let level = export
        .value(&key, "smbservernamehardeninglevel")
        .unwrap()
        .unwrap();
    assert_eq!(level.value_type, RegType::Dword);
    assert_eq!(level.as_integer(), Some(2));
    assert_eq!(
        export
            .value(&key, "SrvAllowedServerNames")
            .unwrap()
            .unwrap()
            .data,
        RegData::MultiString(vec!["fs".into(), "a".into()])
    );
    assert_eq!(
        export.value(&key, "Description").unwrap().unwrap().as_str(),
        Some("say \"hi\" C:\\temp")
    );
    assert_eq!(
        export.value(&key, "").unwrap().unwrap().as_str(),
        Some("default")
    );
    assert_eq!(
        export.value(&key, "Blob").unwrap().unwrap().data,
        RegData::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
    );
    assert_eq!(
        export.value(&key, "Big").unwrap().unwrap().as_integer(),
        Some(1)
    );
    assert!(export.value(&key, "Gone").unwrap().is_none());
    assert!(!export.key_exists(&["HKLM", "SYSTEM", "Deleted"]));
    assert!(export.key_exists(&["hklm", "system", "currentcontrolset"]));
    assert_eq!(
        export.subkeys(&["HKLM", "SYSTEM", "CurrentControlSet", "Services"]),
        Some(vec!["LanmanServer".to_string()])
    );
}

#[test]
fn utf16_and_regedit4_exports_parse_alike() {
    let mut utf16 = vec![0xff, 0xfe];
    utf16.extend(SAMPLE.encode_utf16().flat_map(u16::to_le_bytes));
    let export = RegExport::parse(Path::new("u.reg"), &utf16).unwrap();
    assert_eq!(export.keys().len(), 1);
    let regedit4 = "REGEDIT4\n\n[HKEY_CURRENT_USER\\Software\\X]\n\"M\"=hex(7):61,62,00,63,00,00\n\"S\"=\"v\"\n";
    let export = parse(regedit4).unwrap();
    assert_eq!(
        export
            .value(&["HKCU", "Software", "X"], "M")
            .unwrap()
            .unwrap()
            .data,
        RegData::MultiString(vec!["ab".into(), "c".into()])
    );
    assert_eq!(
        export
            .value(&["HKCU", "Software", "X"], "S")
            .unwrap()
            .unwrap()
            .as_str(),
        Some("v")
    );
}

#[test]
fn syntax_errors_outside_value_lines_name_the_line_and_stop_the_parse() {
    let cases = [
        ("REGEDIT5\n[HKLM\\X]\n", 1, "first line"),
        (
            "REGEDIT4\n\n\"orphan\"=dword:1\n",
            3,
            "must follow a `[key]`",
        ),
        ("REGEDIT4\n[HKLM\\X\n", 2, "must end with `]`"),
        ("", 1, "no header"),
    ];
    for (text, line, needle) in cases {
        match parse(text) {
            Err(EvidenceError::RegSyntax {
                line: got, message, ..
            }) => {
                assert_eq!(got, line, "{text:?}: {message}");
                assert!(message.contains(needle), "{text:?}: {message}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn a_bad_value_line_loses_its_value_only() {
    // (text, line, what the message says, the value it loses: `None` for every value).
    let cases = [
        ("\"a\"=dword:xyz", "dword", Some("a")),
        ("\"a\"=dword:123456789", "1 to 8 hex digits", Some("a")),
        ("\"a\"=hex:0g", "hex byte", Some("a")),
        ("@=expand:\"x\"", "unknown data form", Some("")),
        ("\"a\" 1", "expected `=`", Some("a")),
        ("\"a=1", "closing quote", None),
        ("junk", "expected a `[key]`", None),
    ];
    for (line, needle, lost) in cases {
        let text = format!("REGEDIT4\n[HKLM\\X]\n\"before\"=dword:1\n{line}\n\"after\"=dword:2\n[HKLM\\Y]\n\"y\"=dword:3\n");
        let (export, skipped) =
            RegExport::parse_with_skipped(Path::new("sample.reg"), text.as_bytes())
                .unwrap_or_else(|error| panic!("{line:?}: {error}"));
        let [EvidenceError::RegLineSkipped {
            line: 4, message, ..
        }] = &skipped[..]
        else {
            panic!("{line:?}: {skipped:?}");
        };
        assert!(message.contains(needle), "{line:?}: {message}");
        assert_eq!(export.skipped_lines().len(), 1);
        assert!(export.skipped_lines()[0].message.contains("line 4"));
        // The other key and the key itself are read.
        assert_eq!(
            export
                .value(&["HKLM", "Y"], "y")
                .unwrap()
                .unwrap()
                .as_integer(),
            Some(3)
        );
        assert!(export.key_exists(&["HKLM", "X"]));
        // The lost value, and the whole key's values, fail; a value named elsewhere in
        // the key reads unless the line lost every value of the key.
        let key = ["HKLM", "X"];
        assert!(export.values(&key).is_err(), "{line:?}");
        match lost {
            Some(name) => {
                let error = export.value(&key, name).expect_err(line);
                assert!(error.to_string().contains("line 4"), "{error}");
                assert_eq!(
                    export.value(&key, "after").unwrap().unwrap().as_integer(),
                    Some(2)
                );
            }
            None => {
                assert!(export.value(&key, "after").is_err(), "{line:?}");
                assert!(export.value(&key, "anything").is_err(), "{line:?}");
            }
        }
    }
}

#[test]
fn a_later_line_that_sets_or_deletes_a_lost_value_decides_it() {
    let text = "REGEDIT4\n[HKLM\\X]\n\"a\"=dword:xyz\n\"a\"=dword:5\n\"b\"=hex:zz\n\"B\"=-\n";
    let export = parse(text).unwrap();
    assert_eq!(export.skipped_lines().len(), 2);
    let key = ["HKLM", "X"];
    assert_eq!(
        export.value(&key, "a").unwrap().unwrap().as_integer(),
        Some(5)
    );
    assert!(export.value(&key, "b").unwrap().is_none());
    assert_eq!(export.values(&key).unwrap().unwrap().len(), 1);
    // A bad line after a good one leaves the value in doubt.
    let text = "REGEDIT4\n[HKLM\\X]\n\"a\"=dword:5\n\"a\"=dword:xyz\n";
    assert!(parse(text).unwrap().value(&key, "a").is_err());
}

#[test]
fn repeated_sections_merge() {
    let text = "REGEDIT4\n[HKLM\\A]\n\"x\"=dword:1\n[HKLM\\B]\n[hklm\\a]\n\"y\"=dword:2\n";
    let export = parse(text).unwrap();
    assert_eq!(export.values(&["HKLM", "A"]).unwrap().unwrap().len(), 2);
}

#[test]
fn hex_lists_take_one_or_two_digits_per_item_and_nothing_else() {
    assert_eq!(parse_hex_list(" 01,a, FF ,0c,"), Ok(vec![1, 10, 255, 12]));
    assert_eq!(parse_hex_list(""), Ok(Vec::new()));
    // A sign is no hex digit, though `u8::from_str_radix` would take it.
    assert_eq!(
        parse_hex_list("01,+f"),
        Err("`+f` is not a hex byte".to_string())
    );
    assert_eq!(
        parse_hex_list("01,,02"),
        Err("`` is not a hex byte (bytes are two hex digits separated by commas)".to_string())
    );
    assert_eq!(
        parse_hex_list("100"),
        Err("`100` is not a hex byte (bytes are two hex digits separated by commas)".to_string())
    );
}

mod hex_lists {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_lists_are_read_a_byte_at_a_time_and_others_item_by_item() {
        assert_eq!(
            plain_hex_list(b"de,ad, be ,\tef"),
            Some(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(plain_hex_list(b"1,0a,"), Some(vec![1, 10]));
        // Anything else is left to the item-by-item reader, which names the bad item.
        for odd in ["01,,02", ",", "0x1", "123", "01;02", "01,02,,"] {
            assert_eq!(plain_hex_list(odd.as_bytes()), None, "{odd}");
        }
        assert_eq!(parse_hex_list("01,02,,"), Ok(vec![1, 2]));
        assert_eq!(
            parse_hex_list("01,,02"),
            Err("`` is not a hex byte (bytes are two hex digits separated by commas)".to_string())
        );
    }

    proptest! {
        /// The byte-at-a-time reader gives what the item-by-item one gives, on any list it
        /// takes.
        #[test]
        fn the_fast_reader_agrees_with_the_item_reader(list in "[0-9a-fA-Fg ,\t]{0,24}") {
            let trimmed = list.trim();
            if let Some(bytes) = plain_hex_list(trimmed.as_bytes()) {
                prop_assert_eq!(Ok(bytes), hex_items(trimmed));
            }
        }
    }
}

mod key_tree {
    use super::*;
    use proptest::prelude::*;

    /// Paths over a small alphabet, in mixed case, so that sections repeat, nest and delete
    /// each other.
    fn path() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(
            proptest::sample::select(&["A", "a", "B", "b", "C"][..]),
            1..4,
        )
    }

    proptest! {
        /// The tree the parse builds as it reads (with `[-KEY]` deletions pruning it) answers
        /// as a tree built afresh from the keys that survive.
        #[test]
        fn the_parsed_tree_equals_one_built_from_the_surviving_keys(
            lines in proptest::collection::vec((any::<bool>(), path()), 0..24)
        ) {
            let mut text = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
            for (number, (delete, parts)) in lines.iter().enumerate() {
                let minus = if *delete { "-" } else { "" };
                text.push_str(&format!("[{minus}HKEY_LOCAL_MACHINE\\{}]\r\n", parts.join("\\")));
                if !*delete {
                    text.push_str(&format!("\"N\"=dword:{number:08x}\r\n"));
                }
            }
            let parsed = parse(&text).unwrap();
            let fresh = RegExport::from_keys(Path::new("sample.reg"), parsed.keys().to_vec());
            let mut probes: Vec<Vec<&str>> = vec![vec!["HKLM"]];
            for first in ["A", "B", "C"] {
                probes.push(vec!["HKLM", first]);
                for second in ["a", "b", "c"] {
                    probes.push(vec!["HKLM", first, second]);
                    for third in ["A", "B", "C"] {
                        probes.push(vec!["HKLM", first, second, third]);
                    }
                }
            }
            for probe in &probes {
                prop_assert_eq!(parsed.key_exists(probe), fresh.key_exists(probe), "{:?}", probe);
                // The same keys; their spelling and order may differ. The parse names and
                // orders keys as first written, as regedit creates them on import, even where
                // the section that wrote one first was deleted later.
                let folded = |names: Option<Vec<String>>| {
                    names.map(|names| {
                        let mut names: Vec<String> =
                            names.iter().map(|name| name.to_uppercase()).collect();
                        names.sort();
                        names
                    })
                };
                prop_assert_eq!(
                    folded(parsed.subkeys(probe)),
                    folded(fresh.subkeys(probe)),
                    "{:?}",
                    probe
                );
                prop_assert_eq!(
                    parsed.value(probe, "n").unwrap(),
                    fresh.value(probe, "n").unwrap(),
                    "{:?}",
                    probe
                );
            }
        }
    }
}
