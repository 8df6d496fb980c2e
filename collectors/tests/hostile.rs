//! Hostile evidence, built in the test: hives whose lists and values give the offset 0xffffffff
//! with a valid checksum or name one cell twice, `.reg` text with non-ASCII type words, very
//! deep keys and very many sections, symbolic links to FIFOs and devices, large files that are
//! not evidence, and files that the operating system refuses to read. None may panic, hang,
//! read without bound or lose the other files; each gets a diagnostic that names it.
//!
//! Memory is asserted with an allocator that tracks the bytes each thread holds, never with
//! timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};

use hiveward_collectors::{
    collect, discover, CollectOptions, Collection, DiscoverOptions, Discovery, EvidenceError,
    FileKind, FileStatus, HiveFile, RegExport,
};
use hiveward_testkit::hive_from_reg;

#[path = "hostile/hand_hive.rs"]
mod hand_hive;
use hand_hive::{key_node, leaf, value_node, HandHive, NIL};

/// Tracks, per thread, the bytes allocated and not yet freed, and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(change: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + change);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; counting touches only
// thread-local `Cell`s, which need no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `work` and returns its result with the most memory this thread held meanwhile beyond
/// what it held before (what `work` returns included).
fn peak_memory_of<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let result = work();
    let peak = PEAK.with(Cell::get);
    (result, (peak - before).max(0) as usize)
}

const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const MIB: usize = 1 << 20;

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn run(inputs: &[PathBuf], options: &DiscoverOptions) -> Collection {
    collect(discover(inputs, options), &CollectOptions::default())
}

fn follow_links() -> DiscoverOptions {
    DiscoverOptions { follow_links: true }
}

/// A SYSTEM hive of the computer `name`.
fn system_hive(name: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
         \"ComputerName\"=\"{name}\"\r\n\r\n\
         [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
         \"SmbServerNameHardeningLevel\"=dword:00000001\r\n"
    ))
}

/// The file record at `path` among every host's files.
fn record<'c>(
    collection: &'c Collection,
    path: &Path,
) -> Option<&'c hiveward_collectors::FileRecord> {
    let wanted = path.display().to_string();
    collection
        .hosts
        .iter()
        .flat_map(|host| &host.files)
        .find(|file| file.path == wanted)
}

fn messages(file: &hiveward_collectors::FileRecord) -> String {
    file.notices
        .iter()
        .map(|notice| notice.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------
// 1. Hive offsets of 0xffffffff.

/// A hive whose root `ROOT` has the subkey `A`, whose subkeys and values `build` writes: it
/// gets the offset of a key node `B` to list, and returns `(count, list offset)` of the subkeys
/// and of the values of `A`.
fn hive_below_a(build: impl FnOnce(&mut HandHive, u32) -> ((u32, u32), (u32, u32))) -> Vec<u8> {
    let mut hive = HandHive::new();
    let b = hive.cell(&key_node("B", false, (0, NIL), (0, NIL)));
    let (subkeys, values) = build(&mut hive, b);
    let a = hive.cell(&key_node("A", false, subkeys, values));
    let root_list = hive.cell(&leaf(b"lf", &[a]));
    let root = hive.cell(&key_node("ROOT", true, (1, root_list), (0, NIL)));
    hive.finish(root)
}

/// Writes a subkey list for `A` given the offset of its key `B`; returns the list's offset.
type BuildList = fn(&mut HandHive, u32) -> u32;
/// Writes the values of `A`; returns their count and the offset of their list.
type BuildValues = fn(&mut HandHive) -> (u32, u32);

fn open_hand(name: &str, bytes: Vec<u8>) -> HiveFile {
    HiveFile::from_bytes(Path::new(name), bytes, &[]).expect("the root and its list are sound")
}

fn assert_damaged<T: std::fmt::Debug>(result: Result<T, EvidenceError>, file: &str, place: &str) {
    match result {
        Err(error @ EvidenceError::CorruptHive { .. }) => {
            let message = error.to_string();
            assert!(message.starts_with(file), "{message}");
            assert!(message.contains(place), "{message}");
            assert!(message.contains("0xffffffff"), "{message}");
        }
        other => panic!("{file} {place}: expected a damaged hive, got {other:?}"),
    }
}

#[test]
fn nil_key_nodes_in_every_kind_of_subkey_list_are_damage() {
    // The second item is 0xffffffff: listing the subkeys reaches it, and so does looking up a
    // name that sorts after `B`.
    let lists: [(&str, BuildList); 5] = [
        ("lf", |hive, b| hive.cell(&leaf(b"lf", &[b, NIL]))),
        ("lh", |hive, b| hive.cell(&leaf(b"lh", &[b, NIL]))),
        ("li", |hive, b| hive.cell(&leaf(b"li", &[b, NIL]))),
        ("ri of lf", |hive, b| {
            let inner = hive.cell(&leaf(b"lf", &[b, NIL]));
            hive.cell(&leaf(b"ri", &[inner]))
        }),
        ("ri of nothing", |hive, b| {
            let inner = hive.cell(&leaf(b"li", &[b]));
            hive.cell(&leaf(b"ri", &[inner, NIL]))
        }),
    ];
    for (kind, build) in lists {
        let bytes = hive_below_a(|hive, b| ((2, build(hive, b)), (0, NIL)));
        let file = format!("{kind}.hiv");
        let hive = open_hand(&file, bytes);
        assert_eq!(hive.subkeys(&[]).unwrap(), Some(vec!["A".to_string()]));
        assert!(hive.key_exists(&["A"]).unwrap(), "{kind}");
        assert_damaged(hive.subkeys(&["A"]), &file, "the subkeys of A");
        assert_damaged(hive.key_exists(&["A", "Z"]), &file, "key A\\Z");
        assert_damaged(hive.value(&["A", "Z"], "x"), &file, "key A\\Z");
        assert_damaged(hive.key_last_written(&["A", "Z"]), &file, "key A\\Z");
    }
}

#[test]
fn nil_values_and_value_data_are_damage() {
    let with_values = |build: BuildValues| hive_below_a(|hive, _| ((0, NIL), build(hive)));
    let cases: [(&str, BuildValues, &str); 4] = [
        (
            "value list",
            |hive| {
                let good = hive.cell(&value_node("good", 4, 0x8000_0004, 1));
                (
                    2,
                    hive.cell(&[good.to_le_bytes(), NIL.to_le_bytes()].concat()),
                )
            },
            "value list",
        ),
        (
            "data cell",
            |hive| {
                let value = hive.cell(&value_node("x", 3, 10, NIL));
                (1, hive.cell(&value.to_le_bytes()))
            },
            "no data cell",
        ),
        (
            "big-data list",
            |hive| {
                let record = hive
                    .cell(&[b"db".as_slice(), &2u16.to_le_bytes(), &NIL.to_le_bytes()].concat());
                let value = hive.cell(&value_node("x", 3, 20_000, record));
                (1, hive.cell(&value.to_le_bytes()))
            },
            "big-data record",
        ),
        (
            "big-data segment",
            |hive| {
                let segment = hive.cell(&vec![0x41; 16_344]);
                let segments = hive.cell(&[segment.to_le_bytes(), NIL.to_le_bytes()].concat());
                let record = hive.cell(
                    &[
                        b"db".as_slice(),
                        &2u16.to_le_bytes(),
                        &segments.to_le_bytes(),
                    ]
                    .concat(),
                );
                let value = hive.cell(&value_node("x", 3, 20_000, record));
                (1, hive.cell(&value.to_le_bytes()))
            },
            "big-data record",
        ),
    ];
    for (case, build, detail) in cases {
        let file = format!("{case}.hiv");
        let hive = open_hand(&file, with_values(build));
        assert_damaged(hive.values(&["A"]), &file, " of A: ");
        assert_damaged(hive.value(&["A"], "x"), &file, " of A: ");
        let message = hive.values(&["A"]).unwrap_err().to_string();
        assert!(message.contains(detail), "{case}: {message}");
        assert_eq!(hive.subkeys(&[]).unwrap(), Some(vec!["A".to_string()]));
    }
}

/// Windows never lists one cell twice; a hive that does could make a small file expand into
/// billions of items or a gigabyte of value data.
#[test]
fn lists_that_name_one_cell_twice_are_damage() {
    let shared_leaf = hive_below_a(|hive, b| {
        let inner = hive.cell(&leaf(b"lf", &[b]));
        ((2, hive.cell(&leaf(b"ri", &[inner, inner]))), (0, NIL))
    });
    let shared_value = hive_below_a(|hive, _| {
        let value = hive.cell(&value_node("x", 4, 0x8000_0004, 1));
        ((0, NIL), (2, hive.cell(&[value.to_le_bytes(); 2].concat())))
    });
    let shared_segment = hive_below_a(|hive, _| {
        let segment = hive.cell(&vec![0x41; 16_344]);
        let segments = hive.cell(&[segment.to_le_bytes(); 2].concat());
        let record = hive.cell(
            &[
                b"db".as_slice(),
                &2u16.to_le_bytes(),
                &segments.to_le_bytes(),
            ]
            .concat(),
        );
        let value = hive.cell(&value_node("x", 3, 20_000, record));
        ((0, NIL), (1, hive.cell(&value.to_le_bytes())))
    });
    let cases = [
        (
            "shared leaf",
            shared_leaf,
            "lists the subkey list at offset",
        ),
        ("shared value", shared_value, "lists the value at offset"),
        (
            "shared segment",
            shared_segment,
            "lists the segment at offset",
        ),
    ];
    for (case, bytes, detail) in cases {
        let file = format!("{case}.hiv");
        let hive = open_hand(&file, bytes);
        let error = match case {
            "shared leaf" => hive.subkeys(&["A"]).unwrap_err(),
            _ => hive.values(&["A"]).unwrap_err(),
        };
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{file}: damaged hive: ")),
            "{message}"
        );
        assert!(
            message.contains(detail) && message.ends_with(" twice"),
            "{message}"
        );
    }
}

#[test]
fn a_nil_root_cell_with_a_valid_checksum_is_damage() {
    let mut bytes = hand_hive::minimal_hive();
    bytes[0x24..0x28].copy_from_slice(&NIL.to_le_bytes());
    hand_hive::fix_checksum(&mut bytes);
    let error = HiveFile::from_bytes(Path::new("root.hiv"), bytes, &[]).unwrap_err();
    assert!(
        matches!(error, EvidenceError::CorruptHive { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("no root cell"), "{error}");
}

/// The hive of the upstream report: nt-hive 0.3 asserts on it, hiveward reports it damaged.
#[test]
fn the_minimal_hive_of_the_upstream_report_is_damaged_not_fatal() {
    let bytes = hand_hive::minimal_hive();
    let hive = nt_hive::Hive::new(bytes.as_slice()).expect("the base block is valid");
    let root = hive.root_key_node().expect("the root key node is valid");
    let walk = std::panic::catch_unwind(|| {
        let subkeys = root.subkeys().expect("the root has a subkey list").unwrap();
        subkeys.map(|key| key.is_ok()).collect::<Vec<_>>()
    });
    assert!(
        walk.is_err(),
        "nt-hive no longer asserts on a subkey list item of 0xffffffff: \
         docs/upstream/nt-hive-offset-assertion.md can be closed and the checks kept as cheap guards"
    );
    let error = HiveFile::from_bytes(Path::new("minimal.hiv"), bytes, &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "minimal.hiv: damaged hive: the subkeys of the root key: the subkey list at offset \
         0x00001020 gives no cell for its item 1 (offset 0xffffffff)"
    );
}

#[test]
fn one_hostile_hive_leaves_the_other_hosts_and_the_rest_of_its_own_hive() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    write(&bundle.join("FS01_SYSTEM.HIV"), &system_hive("FS01"));
    let minimal = write(&bundle.join("BAD_SYSTEM.HIV"), &hand_hive::minimal_hive());
    // A real SYSTEM hive whose `Services` subkey list gives 0xffffffff for LanmanServer.
    let mut damaged = system_hive("WKS7");
    hand_hive::nil_first_subkey_of(&mut damaged, "Services");
    let partly = write(&bundle.join("WKS7_SYSTEM.HIV"), &damaged);

    let collection = run(std::slice::from_ref(&bundle), &DiscoverOptions::default());
    let names: Vec<&str> = collection
        .hosts
        .iter()
        .map(|host| host.name.as_str())
        .collect();
    assert_eq!(names, ["BAD", "FS01", "WKS7"]);
    let bad = record(&collection, &minimal).unwrap();
    assert_eq!(bad.status, FileStatus::Unreadable);
    assert!(
        messages(bad).contains("BAD_SYSTEM.HIV: damaged hive"),
        "{}",
        messages(bad)
    );
    let wks7 = collection
        .hosts
        .iter()
        .find(|host| host.name == "WKS7")
        .unwrap();
    assert_eq!(
        record(&collection, &partly).unwrap().status,
        FileStatus::Partial
    );
    let parameters = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";
    let error = wks7
        .registry
        .value(parameters, "SmbServerNameHardeningLevel")
        .unwrap_err();
    assert!(error.to_string().contains("0xffffffff"), "{error}");
    assert!(collection.hosts.iter().any(|host| host.name == "FS01"
        && host
            .registry
            .value(parameters, "SmbServerNameHardeningLevel")
            .is_ok()));
}

// ---------------------------------------------------------------------------------------------
// 3. Non-ASCII where the `.reg` parser expects a type word.

fn parse(text: &str) -> Result<RegExport, EvidenceError> {
    RegExport::parse(Path::new("hostile.reg"), text.as_bytes())
}

#[test]
fn non_ascii_type_words_are_syntax_errors_that_lose_their_value() {
    for data in [
        "ab耀",
        "耀",
        "dwor耀",
        "dword耀",
        "he耀",
        "hex耀",
        "hex(耀):00",
        "hex(2耀):00",
        "hex(2)耀:00",
        "hex:耀",
        "dword:耀",
        "\"unterminated耀",
        "\"x\"耀",
    ] {
        let text = format!("REGEDIT4\n[HKEY_LOCAL_MACHINE\\X]\n\"a\"={data}\n");
        // The line is skipped with a diagnostic naming it; the value it would set is lost.
        match RegExport::parse_with_skipped(Path::new("hostile.reg"), text.as_bytes()) {
            Ok((export, skipped)) => {
                assert!(
                    matches!(
                        &skipped[..],
                        [EvidenceError::RegLineSkipped { line: 3, .. }]
                    ),
                    "{data}: {skipped:?}"
                );
                assert!(export.value(&["HKLM", "X"], "a").is_err(), "{data}");
            }
            other => panic!("{data}: {other:?}"),
        }
    }
}

#[test]
fn deleting_a_key_whose_name_ends_inside_another_character_is_char_safe() {
    // `HKLM\a` is one byte shorter than `HKLM\é`: its end falls inside the `é`.
    let export =
        parse("REGEDIT4\n[HKEY_LOCAL_MACHINE\\é]\n\"v\"=dword:1\n[-HKEY_LOCAL_MACHINE\\a]\n")
            .unwrap();
    assert!(export.key_exists(&["HKLM", "é"]));
    let export = parse("REGEDIT4\n[HKLM\\é\\x]\n[HKLM\\ÉTÉ]\n[-hklm\\É]\n").unwrap();
    assert!(!export.key_exists(&["HKLM", "é"]));
    assert!(export.key_exists(&["HKLM", "été"]));
}

#[test]
fn a_hostile_reg_file_leaves_the_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("FS01");
    write(&bundle.join("SYSTEM"), &system_hive("FS01"));
    let reg = write(
        &bundle.join("lanman.reg"),
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\X]\r\n\"a\"=ab耀\r\n"
            .as_bytes(),
    );
    let collection = run(&[bundle], &DiscoverOptions::default());
    assert_eq!(collection.hosts.len(), 1);
    let file = record(&collection, &reg).unwrap();
    assert_eq!(file.status, FileStatus::Partial);
    assert!(
        messages(file).contains("syntax error on line 4"),
        "{}",
        messages(file)
    );
    assert!(collection.hosts[0].has_readable_evidence());
}

mod reg_text_properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever follows `=` or sits in a section line, parsing ends with keys or a syntax
        /// error on a line of the text.
        #[test]
        fn any_value_or_section_text_parses_or_fails_cleanly(
            data in "\\PC{0,24}",
            section in "[-\\\\a-zé耀 ]{0,12}",
            continued in any::<bool>(),
        ) {
            let tail = if continued { "\\\n  00" } else { "" };
            let text = format!(
                "REGEDIT4\n[HKLM\\{section}]\n\"a\"={data}{tail}\n[-HKLM\\{section}]\n"
            );
            match parse(&text) {
                Ok(_) => {}
                Err(EvidenceError::RegSyntax { line, .. }) => prop_assert!((1..=5).contains(&line)),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. `.reg` parsing linear in memory.

/// An export with one key `depth` levels deep.
fn deep_key(depth: usize) -> String {
    format!(
        "{HEADER}[HKEY_LOCAL_MACHINE\\{}]\r\n\"v\"=dword:1\r\n",
        vec!["k"; depth].join("\\")
    )
}

#[test]
fn a_deep_key_costs_memory_in_proportion_to_its_line() {
    let parse_deep = |depth: usize| {
        let text = deep_key(depth);
        let (export, bytes) = peak_memory_of(|| parse(&text).unwrap());
        let components = vec!["k"; depth];
        let mut path = vec!["HKLM"];
        path.extend(&components);
        assert!(export.key_exists(&path[..depth / 2]));
        assert_eq!(
            export.value(&path, "v").unwrap().unwrap().as_integer(),
            Some(1)
        );
        (text.len(), bytes)
    };
    let (short_text, short) = parse_deep(4_000);
    let (long_text, long) = parse_deep(8_000);
    // Storing every ancestor's path took memory in the square of the depth: about 4 times as
    // much for twice the depth, 64 MB here, and 468 MB for one line of 194 KB. The key tree
    // takes about 130 bytes per byte of such a line (a node per one-letter component).
    assert!(long < short * 5 / 2, "{short} then {long} bytes");
    assert!(
        long < 200 * long_text,
        "{long} bytes for {long_text} of text"
    );
    assert!(
        short < 200 * short_text,
        "{short} bytes for {short_text} of text"
    );
}

#[test]
fn many_sections_repeats_and_deletions_merge_in_file_order() {
    let sections = 40_000;
    let mut text = String::from(HEADER);
    for n in 0..sections {
        text.push_str(&format!(
            "[HKEY_LOCAL_MACHINE\\S\\k{n}]\r\n\"v\"=dword:{n:x}\r\n"
        ));
    }
    for n in (0..sections).step_by(2) {
        text.push_str(&format!("[hklm\\s\\K{n}]\r\n\"w\"=dword:1\r\n\"V\"=-\r\n"));
    }
    for n in (0..sections).step_by(4) {
        text.push_str(&format!("[-HKLM\\S\\k{n}]\r\n"));
    }
    let (export, bytes) = peak_memory_of(|| parse(&text).unwrap());
    assert!(
        bytes < 32 * text.len(),
        "{bytes} bytes for {} of text",
        text.len()
    );
    assert_eq!(export.keys().len(), sections - sections / 4);
    let subkeys = export.subkeys(&["HKLM", "S"]).unwrap();
    assert_eq!(subkeys.len(), sections - sections / 4);
    assert_eq!(subkeys[..2], ["k1".to_string(), "k2".to_string()]);
    assert!(!export.key_exists(&["HKLM", "S", "k0"]));
    let two = export.values(&["HKLM", "S", "K2"]).unwrap().unwrap();
    let names: Vec<&str> = two.iter().map(|value| value.name.as_str()).collect();
    assert_eq!(names, ["w"]);
    assert_eq!(
        export
            .value(&["HKLM", "S", "k3"], "v")
            .unwrap()
            .unwrap()
            .as_integer(),
        Some(3)
    );
}

// ---------------------------------------------------------------------------------------------
// 6. and 11. Special files, and files that are not evidence, are never read without bound.

#[cfg(unix)]
mod special_files {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
    }

    /// Discovers `inputs` on another thread. Should it block on `fifo`, the FIFO is opened for
    /// writing and closed to free it, and the test fails.
    fn discover_or_fail(inputs: Vec<PathBuf>, options: DiscoverOptions, fifo: &Path) -> Discovery {
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || send.send(discover(&inputs, &options)));
        match receive.recv_timeout(Duration::from_secs(30)) {
            Ok(discovery) => discovery,
            Err(_) => {
                drop(fs::OpenOptions::new().write(true).open(fifo));
                panic!("discovery blocked on the FIFO {}", fifo.display());
            }
        }
    }

    fn passed_over_reason<'d>(discovery: &'d Discovery, path: &Path) -> &'d str {
        let wanted = path.display().to_string();
        discovery
            .passed_over
            .iter()
            .find(|passed| passed.path == wanted)
            .map(|passed| passed.reason.as_str())
            .unwrap_or_else(|| panic!("{wanted} is not passed over: {discovery:#?}"))
    }

    #[test]
    fn links_to_a_fifo_are_passed_over_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let bundle = dir.path().join("bundle");
        write(&bundle.join("FS01_SOFTWARE.HIV"), &system_hive("FS01"));
        let in_bundle = bundle.join("FS01_SYSTEM.HIV");
        symlink(&fifo, &in_bundle).unwrap();
        let given = dir.path().join("SYSTEM");
        symlink(&fifo, &given).unwrap();

        let discovery = discover_or_fail(vec![given.clone()], DiscoverOptions::default(), &fifo);
        assert_eq!(
            passed_over_reason(&discovery, &given),
            "symbolic link to a FIFO, not to a regular file"
        );
        assert!(discovery.groups.is_empty());

        let discovery = discover_or_fail(vec![bundle.clone()], follow_links(), &fifo);
        assert_eq!(
            passed_over_reason(&discovery, &in_bundle),
            "symbolic link to a FIFO, not to a regular file"
        );
        assert_eq!(discovery.groups.len(), 1);
        assert_eq!(discovery.groups[0].files.len(), 1);

        let discovery = discover_or_fail(vec![fifo.clone()], DiscoverOptions::default(), &fifo);
        assert_eq!(
            passed_over_reason(&discovery, &fifo),
            "not a regular file: it is a FIFO"
        );
    }

    #[test]
    fn a_device_named_like_a_hive_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        fs::create_dir(&bundle).unwrap();
        let in_bundle = bundle.join("SYSTEM");
        symlink("/dev/zero", &in_bundle).unwrap();
        let given = dir.path().join("SOFTWARE");
        symlink("/dev/zero", &given).unwrap();
        for (inputs, options, link) in [
            (vec![given.clone()], DiscoverOptions::default(), &given),
            (vec![bundle.clone()], follow_links(), &in_bundle),
        ] {
            let discovery = discover(&inputs, &options);
            assert_eq!(
                passed_over_reason(&discovery, link),
                "symbolic link to a character device, not to a regular file"
            );
            assert!(discovery.groups.is_empty(), "{discovery:#?}");
        }
    }
}

#[test]
fn a_large_file_that_is_no_evidence_is_quoted_from_its_first_bytes_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SYSTEM");
    fs::write(&path, b"MZ\x90\0PE\0\0\0 and more").unwrap();
    // Sparse: 256 MiB that take no room on disk.
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(256 * MIB as u64)
        .unwrap();
    let discovery = discover(std::slice::from_ref(&path), &DiscoverOptions::default());
    assert_eq!(discovery.groups[0].files[0].kind, FileKind::Unknown);
    let (collection, bytes) = peak_memory_of(|| collect(discovery, &CollectOptions::default()));
    assert!(bytes < 8 * MIB, "{bytes} bytes allocated to describe it");
    let file = record(&collection, &path).unwrap();
    assert_eq!(file.status, FileStatus::Unreadable);
    let quoted = format!(
        "it starts with {:?})",
        String::from_utf8_lossy(b"MZ\x90\0PE\0\0")
    );
    assert!(messages(file).contains(&quoted), "{}", messages(file));
}

#[test]
fn a_windows_9x_registry_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SYSTEM.DAT");
    let mut bytes = b"CREG\0\0\x01\0".to_vec();
    bytes.resize(4096, 0);
    fs::write(&path, bytes).unwrap();
    let collection = collect(
        discover(std::slice::from_ref(&path), &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    let file = record(&collection, &path).unwrap();
    assert_eq!(file.status, FileStatus::Unreadable);
    let message = messages(file);
    assert!(
        message.contains("Windows 95/98/Me registry file (signature CREG)"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// 13. Read errors are reported as such, with the operating system's error.

/// `/proc/self/mem` opens as a regular file, and reading it at offset 0 fails with EIO.
#[cfg(target_os = "linux")]
#[test]
fn a_file_that_cannot_be_read_is_unreadable_with_the_os_error() {
    use std::os::unix::fs::symlink;
    let io_error = std::io::Error::from_raw_os_error(5).to_string();
    let dir = tempfile::tempdir().unwrap();
    let named_like_a_hive = dir.path().join("SYSTEM");
    symlink("/proc/self/mem", &named_like_a_hive).unwrap();
    let named_like_nothing = dir.path().join("notes.bin");
    symlink("/proc/self/mem", &named_like_nothing).unwrap();
    for given in [&named_like_a_hive, &named_like_nothing] {
        let collection = run(std::slice::from_ref(given), &DiscoverOptions::default());
        assert!(
            collection.passed_over.is_empty(),
            "{:?}",
            collection.passed_over
        );
        let file = record(&collection, given).unwrap_or_else(|| panic!("{}", given.display()));
        assert_eq!(file.status, FileStatus::Unreadable);
        let message = messages(file);
        assert!(message.contains("cannot read the file"), "{message}");
        assert!(message.contains(&io_error), "{message}");
        assert!(!message.contains("starts with"), "{message}");
    }
}

#[test]
fn files_gone_or_dangling_are_unreadable_with_the_os_error() {
    let dir = tempfile::tempdir().unwrap();
    let hive = write(
        &dir.path().join("FS01").join("SYSTEM"),
        &system_hive("FS01"),
    );
    let other = write(
        &dir.path().join("FS01").join("SOFTWARE"),
        b"not evidence at all",
    );
    let discovery = discover(&[dir.path().join("FS01")], &DiscoverOptions::default());
    fs::remove_file(&hive).unwrap();
    fs::remove_file(&other).unwrap();
    let collection = collect(discovery, &CollectOptions::default());
    for path in [&hive, &other] {
        let file = record(&collection, path).unwrap();
        assert_eq!(file.status, FileStatus::Unreadable);
        assert!(
            messages(file).contains("cannot read the file: No such file"),
            "{}",
            messages(file)
        );
    }
    #[cfg(unix)]
    {
        let dangling = dir.path().join("gone.bin");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let collection = run(std::slice::from_ref(&dangling), &DiscoverOptions::default());
        let file = record(&collection, &dangling).unwrap();
        assert!(
            messages(file).contains("cannot read the file: No such file"),
            "{}",
            messages(file)
        );
    }
}
