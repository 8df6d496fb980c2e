//! Structure-aware generators for the inputs plain byte mutation rarely builds: `.reg` text
//! (sections, every value form, escapes, continuation lines, non-ASCII type words, lines long
//! enough to put a diagnostic past column 65,535, UTF-8 and UTF-16LE) and rule metadata maps
//! (every field, wrong types, nested `needs`, placeholders in `fix`).
//!
//! The property is the fuzz targets' own (`fuzz/src/harness.rs`, compiled here as a module):
//! parsing and loading never panic, and every error renders and names its file. Generated
//! structures are bounded in size so that each case ends; nothing here asserts on time. A
//! failure is shrunk by proptest and printed; keep the shrunk input as a file under
//! `fuzz/regressions/<target>/` so that `tests/fuzz_regressions.rs` replays it for good.

use std::collections::BTreeMap;

use hiveward_engine::{Limits, RuleSet};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[path = "../fuzz/src/harness.rs"]
#[allow(dead_code)] // only the `.reg` and rule-pack harnesses are used here
mod harness;

/// Stack for the runner thread: the nested strategy types of a debug build need more than a
/// test thread's 2 MiB.
const STACK: usize = 256 * 1024 * 1024;

/// The name of the threads properties run on; their panics are reported once, shrunk, in the
/// test's failure message instead of at every shrinking step.
const PROPERTY_THREAD: &str = "property";

/// Runs `property` on `cases` values of the strategy `make` builds, on a thread with a big
/// stack, and fails with the shrunk counterexample. Failures persist nowhere, so the
/// repository stays clean.
fn check<S>(cases: u32, make: fn() -> S, property: fn(S::Value))
where
    S: Strategy + 'static,
    S::Value: 'static,
{
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(PROPERTY_THREAD) {
                default(info);
            }
        }));
    });
    let outcome = std::thread::Builder::new()
        .name(PROPERTY_THREAD.to_string())
        .stack_size(STACK)
        .spawn(move || {
            let config = Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            };
            let mut runner = TestRunner::new(config);
            runner
                .run(&make(), |value| {
                    property(value);
                    Ok(())
                })
                .map_err(|error| error.to_string())
        })
        .expect("the property thread starts")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    if let Err(error) = outcome {
        panic!("{error}");
    }
}

// ---------------------------------------------------------------------------------------------
// .reg text

/// A key or value name: ordinary, anything printable, or a word the parser knows.
fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9 _.-]{1,12}",
        2 => "[^\\\\\r\n]{1,8}",
        1 => Just("CurrentControlSet".to_string()),
        1 => Just("ControlSet001".to_string()),
        1 => Just("Select".to_string()),
    ]
}

/// A quoted string with the escapes `.reg` files use (`\\`, `\"`) and control characters.
fn quoted() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => "[^\"\\\\\r\n]{1,6}",
            1 => Just("\\\\".to_string()),
            1 => Just("\\\"".to_string()),
            1 => Just("\u{1b}]0;title\u{7}".to_string()),
        ],
        0..8,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// A well-formed hex byte list, split over continuation lines every `per_line` bytes.
fn hex_list() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(any::<u8>(), 0..48),
        1usize..20,
        any::<bool>(),
    )
        .prop_map(|(bytes, per_line, upper)| {
            let mut text = String::new();
            for (index, byte) in bytes.iter().enumerate() {
                if index > 0 {
                    text.push(',');
                    if index % per_line == 0 {
                        text.push_str("\\\r\n  ");
                    }
                }
                if upper {
                    text.push_str(&format!("{byte:02X}"));
                } else {
                    text.push_str(&format!("{byte:02x}"));
                }
            }
            text
        })
}

/// A well-formed key line (sometimes a deletion).
fn section_line() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.1),
        prop_oneof![
            Just("HKEY_LOCAL_MACHINE\\SYSTEM"),
            Just("HKEY_LOCAL_MACHINE\\SOFTWARE"),
            Just("HKEY_CURRENT_USER\\Software"),
            Just("HKLM\\SYSTEM"),
            Just("HKEY_USERS\\S-1-5-21"),
        ],
        prop::collection::vec(name_text(), 0..8),
    )
        .prop_map(|(delete, root, parts)| {
            let mut line = String::from(if delete { "[-" } else { "[" });
            line.push_str(root);
            for part in parts {
                line.push('\\');
                line.push_str(&part);
            }
            line.push(']');
            line
        })
}

/// A well-formed value line of any type.
fn value_line() -> impl Strategy<Value = String> {
    let data = prop_oneof![
        3 => quoted(),
        2 => any::<u32>().prop_map(|number| format!("dword:{number:08x}")),
        2 => hex_list().prop_map(|list| format!("hex:{list}")),
        3 => (0u32..12, hex_list()).prop_map(|(kind, list)| format!("hex({kind:x}):{list}")),
        1 => Just("-".to_string()),
    ];
    (prop_oneof![4 => quoted(), 1 => Just("@".to_string())], data)
        .prop_map(|(name, data)| format!("{name}={data}"))
}

/// A type word that is not what the parser expects, often not ASCII.
fn odd_word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ab耀".to_string()),
        Just("耀".to_string()),
        Just("dwörd:1".to_string()),
        Just("hexé:00".to_string()),
        Just("hex(耀):00".to_string()),
        Just("hex(ÿ".to_string()),
        Just("DWORD:ÿÿ".to_string()),
        "\\PC{1,6}",
        "[a-z]{1,4}[^\\x00-\\x7f]{1,3}",
    ]
}

/// A line the parser must reject or take apart carefully.
fn odd_line() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (quoted(), odd_word()).prop_map(|(name, word)| format!("{name}={word}")),
        1 => "[0-9a-fA-F]{0,12}".prop_map(|digits| format!("\"v\"=dword:{digits}")),
        1 => (hex_list(), prop_oneof![Just(",,"), Just("zz"), Just(",\\"), Just("\\")])
            .prop_map(|(list, tail)| format!("\"v\"=hex:{list}{tail}")),
        1 => "[0-9a-fA-F]{0,12}".prop_map(|kind| format!("\"v\"=hex({kind}):00")),
        1 => quoted().prop_map(|name| name.to_string()),
        1 => quoted().prop_map(|text| format!("\"v\"={text}x")),
        1 => Just("\"unterminated=\"x\"".to_string()),
        1 => section_line().prop_map(|line| line.trim_end_matches(']').to_string()),
        1 => Just("[]".to_string()),
        1 => "\\PC{1,30}",
        1 => Just("\\".to_string()),
    ]
}

/// A run long enough that a diagnostic after it lies past column 65,535 (tabs and wide
/// characters count several columns), put where the parser keeps going over it: indentation,
/// a value's name or string data, or a key path.
fn huge_line() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just('\t'), Just(' '), Just('a'), Just('耀'), Just('😀')],
        16_400usize..70_000,
        0u8..4,
        odd_line(),
    )
        .prop_map(|(filler, count, place, odd)| {
            let run: String = std::iter::repeat_n(filler, count).collect();
            match place {
                0 if filler.is_whitespace() => format!("{run}{odd}"),
                0 | 1 => format!("\"{run}\"{}", odd.trim_start_matches(|c| c != '=')),
                2 => format!("\"v\"=\"{run}\"x"),
                _ => format!("[HKEY_LOCAL_MACHINE\\SYSTEM\\{run}"),
            }
        })
}

/// The bytes of a generated `.reg` file, shown as text when a case fails.
#[derive(Clone)]
struct RegBytes(Vec<u8>);

impl std::fmt::Debug for RegBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.strip_prefix(&[0xff, 0xfe]) {
            Some(utf16) => {
                let units: Vec<u16> = utf16
                    .chunks_exact(2)
                    .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
                    .collect();
                write!(f, "UTF-16LE {:?}", String::from_utf16_lossy(&units))
            }
            None => write!(f, "UTF-8 {:?}", String::from_utf8_lossy(&self.0)),
        }
    }
}

/// A whole `.reg` file: header, keys with values (most lines well-formed, so that parsing
/// reaches the odd line, as it stops at the first error), line ends and encoding.
fn reg_file() -> impl Strategy<Value = RegBytes> {
    let line = prop_oneof![
        17 => value_line(),
        2 => odd_line(),
        1 => "\\PC{0,20}".prop_map(|text| format!(";{text}")),
    ];
    let key = (
        prop_oneof![19 => section_line(), 1 => odd_line()],
        prop::collection::vec(line, 0..8),
    );
    (
        prop_oneof![
            8 => Just("Windows Registry Editor Version 5.00".to_string()),
            3 => Just("REGEDIT4".to_string()),
            1 => "\\PC{0,12}",
        ],
        prop::collection::vec(key, 1..8),
        prop::option::weighted(0.2, huge_line()),
        prop_oneof![Just("\r\n"), Just("\n")],
        0u8..3,
    )
        .prop_map(|(header, keys, huge, newline, encoding)| {
            let mut lines = vec![header, String::new()];
            for (index, (section, values)) in keys.into_iter().enumerate() {
                lines.push(section);
                if index == 0 {
                    lines.extend(huge.clone());
                }
                lines.extend(values);
                lines.push(String::new());
            }
            let text = lines.join(newline);
            RegBytes(match encoding {
                0 => text.into_bytes(),
                1 => [b"\xef\xbb\xbf".as_slice(), text.as_bytes()].concat(),
                _ => {
                    let mut bytes = vec![0xff, 0xfe];
                    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                    bytes
                }
            })
        })
}

/// `.reg` parsing never panics, and every error it gives renders and names the file.
#[test]
fn reg_text_never_panics() {
    check(192, reg_file, |bytes| harness::reg_parse(&bytes.0));
}

// ---------------------------------------------------------------------------------------------
// Rule metadata

const MANIFEST: &str = "name = \"fuzz-pack\"\nversion = \"0.1.0\"\ndescription = \"generated\"\nmin_hiveward = \"0.1.0\"\n";

/// A Rhai string literal holding `text`: quoted with escapes, or a back-tick literal.
fn rhai_string(text: &str, backtick: bool) -> String {
    if backtick && !text.contains('`') {
        return format!("`{text}`");
    }
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Free text, sometimes with `{{placeholders}}`, control characters or many lines.
fn free_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => "\\PC{1,12}",
            2 => "[a-z_]{1,8}".prop_map(|name| format!("{{{{{name}}}}}")),
            1 => Just("\n".to_string()),
            1 => Just("\u{1b}[2J\u{7}".to_string()),
            1 => Just("{{".to_string()),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// A string literal of free text.
fn text_literal() -> impl Strategy<Value = String> {
    (free_text(), any::<bool>()).prop_map(|(text, backtick)| rhai_string(&text, backtick))
}

/// Any literal value, nested to `depth`.
fn literal(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        3 => text_literal(),
        2 => any::<i64>().prop_map(|number| number.to_string()),
        1 => any::<i32>().prop_map(|number| format!("{number}.5")),
        1 => any::<bool>().prop_map(|flag| flag.to_string()),
        1 => Just("()".to_string()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        4 => leaf,
        1 => prop::collection::vec(literal(depth - 1), 0..6)
            .prop_map(|items| format!("[{}]", items.join(", "))),
        1 => prop::collection::vec(("[a-z_]{1,8}", literal(depth - 1)), 0..5)
            .prop_map(|entries| map_literal(&entries)),
    ]
    .boxed()
}

fn map_literal(entries: &[(String, String)]) -> String {
    let fields: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{key}: {value}"))
        .collect();
    format!("#{{ {} }}", fields.join(", "))
}

/// An array literal of `item`s.
fn array_of(item: impl Strategy<Value = String>, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(item, 0..max).prop_map(|items| format!("[{}]", items.join(", ")))
}

/// A `needs` map, with `any` nested to `depth`.
fn needs(depth: u32) -> BoxedStrategy<String> {
    let channel = prop_oneof![
        Just("\"Security\"".to_string()),
        Just("\"System\"".to_string()),
        Just("\"Microsoft-Windows-SMBServer/Security\"".to_string()),
        text_literal(),
    ];
    let ids = array_of(
        prop_oneof![
            4 => (0u32..70_000).prop_map(|id| id.to_string()),
            1 => any::<i64>().prop_map(|id| id.to_string()),
            1 => text_literal(),
        ],
        8,
    );
    let event =
        (channel, ids, prop::option::of(text_literal())).prop_map(|(channel, ids, provider)| {
            let mut entries = vec![("channel".to_string(), channel), ("ids".to_string(), ids)];
            if let Some(provider) = provider {
                entries.push(("provider".to_string(), provider));
            }
            map_literal(&entries)
        });
    let hive = prop_oneof![
        Just("\"SYSTEM\"".to_string()),
        Just("\"SOFTWARE\"".to_string()),
        Just("\"HKCU\"".to_string()),
        text_literal(),
    ];
    let key = prop_oneof![
        Just("`HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters`".to_string()),
        text_literal(),
    ];
    let any_of = if depth == 0 {
        Just("[]".to_string()).boxed()
    } else {
        array_of(needs(depth - 1), 4).boxed()
    };
    (
        prop::option::of(array_of(event, 6)),
        prop::option::of(array_of(hive, 4)),
        prop::option::of(array_of(key, 4)),
        prop::option::of(any_of),
        prop::option::of(literal(1)),
    )
        .prop_map(|(events, hives, keys, any_of, junk)| {
            let mut entries = Vec::new();
            for (name, value) in [
                ("events", events),
                ("hives", hives),
                ("keys", keys),
                ("any", any_of),
                ("junk", junk),
            ] {
                if let Some(value) = value {
                    entries.push((name.to_string(), value));
                }
            }
            map_literal(&entries)
        })
        .boxed()
}

/// One metadata field: the expected form most of the time, otherwise any literal.
fn field(expected: BoxedStrategy<String>) -> BoxedStrategy<Option<String>> {
    prop_oneof![
        8 => expected.prop_map(Some),
        1 => literal(2).prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// A rule's `RULE` map: every field of `RuleMeta`, sometimes wrong, sometimes missing, plus
/// unknown ones.
fn rule_meta() -> impl Strategy<Value = String> {
    let id = prop_oneof![
        4 => "[A-Z]{1,4}-[A-Z0-9]{1,5}(-[0-9]{1,3})?".prop_map(|id| format!("\"{id}\"")),
        1 => text_literal(),
        1 => (1usize..4_000).prop_map(|count| format!("\"A-{}\"", "B".repeat(count))),
    ]
    .boxed();
    let severity = prop_oneof![
        Just("\"info\""),
        Just("\"low\""),
        Just("\"medium\""),
        Just("\"high\""),
        Just("\"critical\""),
        Just("\"HIGH\""),
        Just("\"sévère\""),
    ]
    .prop_map(str::to_string)
    .boxed();
    let scope = prop_oneof![Just("\"host\""), Just("\"fleet\""), Just("\"both\"")]
        .prop_map(str::to_string)
        .boxed();
    let strings = array_of(text_literal(), 12).boxed();
    (
        (
            field(id),
            field(Just("\"fuzz-pack\"".to_string()).boxed()),
            field(text_literal().boxed()),
            field(text_literal().boxed()),
            field(severity),
            field(strings.clone()),
        ),
        (
            field(strings.clone()),
            field(scope),
            field(needs(2)),
            field(text_literal().boxed()),
            field(strings),
            field(text_literal().boxed()),
            field(any::<bool>().prop_map(|flag| flag.to_string()).boxed()),
        ),
        prop::collection::vec(("[a-z_]{1,10}", literal(1)), 0..2),
    )
        .prop_map(
            |(
                (id, pack, title, description, severity, tags),
                (references, scope, needs, fix, profiles, help_uri, inferred),
                extra,
            )| {
                let mut entries = Vec::new();
                for (name, value) in [
                    ("id", id),
                    ("pack", pack),
                    ("title", title),
                    ("description", description),
                    ("severity", severity),
                    ("tags", tags),
                    ("references", references),
                    ("scope", scope),
                    ("needs", needs),
                    ("fix", fix),
                    ("profiles", profiles),
                    ("help_uri", help_uri),
                    ("inferred", inferred),
                ] {
                    if let Some(value) = value {
                        entries.push((name.to_string(), value));
                    }
                }
                entries.extend(extra);
                map_literal(&entries)
            },
        )
}

/// A rule file around a generated `RULE` map.
fn rule_file() -> impl Strategy<Value = String> {
    (
        rule_meta(),
        prop_oneof![
            Just("fn check(host) { [] }"),
            Just("fn check(fleet, ctx) { [] }"),
            Just("fn check() { [] }"),
            Just(""),
        ],
        any::<bool>(),
    )
        .prop_map(|(meta, check, exported)| {
            let export = if exported { "export " } else { "" };
            format!("//! Generated.\n{export}const RULE = {meta};\n\n{check}\n")
        })
}

/// Values for the fix's placeholders: names and JSON values of bounded size.
fn fix_values() -> impl Strategy<Value = BTreeMap<String, serde_json::Value>> {
    let value = prop_oneof![
        "\\PC{0,64}".prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::collection::vec("\\PC{0,16}", 0..8).prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
    ];
    prop::collection::btree_map("[a-z_]{1,8}", value, 0..12)
}

/// Loading a pack never panics, whatever the rule's metadata map holds; an error renders and
/// names the file; a rule that loads renders its fix with any placeholder values.
#[test]
fn rule_metadata_never_panics() {
    check(
        160,
        || (rule_file(), fix_values()),
        |(rule, values)| {
            let bytes = harness::join_pack(MANIFEST, &[rule.as_str()], &[]);
            harness::rule_pack(&bytes);
            if let Ok(rules) = RuleSet::load(vec![harness::split_pack(&bytes)], Limits::default()) {
                for rule in rules.rules() {
                    let _ = rule.meta.render_fix(&values);
                }
            }
        },
    );
}
