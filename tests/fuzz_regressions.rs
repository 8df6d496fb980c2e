//! Replays every input kept in `fuzz/regressions/<target>/` — the minimised crashes and hangs
//! the fuzz targets found — through that target's harness, as an ordinary stable test without
//! libFuzzer: no input may panic, and each must end in a result or in an error that renders and
//! names the file. The harnesses are `fuzz/src/harness.rs`, compiled here as a module, so the
//! replay runs exactly the code the fuzzer ran.
//!
//! Each input runs on its own thread with a generous watchdog, so that an input that used to
//! hang makes the test fail with its name instead of blocking the suite. The watchdog is a hang
//! detector, not a timing assertion.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

#[path = "../fuzz/src/harness.rs"]
#[allow(dead_code)] // the seed builders (`join`, `join_pack`) serve the fuzz crate only
mod harness;

/// Regression inputs are small by rule (they are committed).
const MAX_INPUT: usize = 64 * 1024;
/// How long one input may run before it counts as a hang (debug build, shared machine).
const WATCHDOG: Duration = Duration::from_secs(300);
/// Stack for each replay: the fuzzer runs on a main thread (8 MiB) of an optimised build, and
/// a debug build needs more per frame.
const STACK: usize = 64 * 1024 * 1024;

thread_local! {
    /// Where the last panic on this thread happened.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records each panic's location for [`replay`], then reports it as usual.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()));
            PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
            default(info);
        }));
    });
}

/// Runs `harness` on `bytes`; `Err` says how it panicked or that it did not return.
fn replay(harness: harness::Harness, bytes: Vec<u8>) -> Result<(), String> {
    install_panic_hook();
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| harness(&bytes)).map_err(|payload| {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_string());
                let location = PANIC_LOCATION
                    .with(|slot| slot.borrow_mut().take())
                    .unwrap_or_else(|| "an unknown place".to_string());
                format!("panicked at {location}: {message}")
            });
            let _ = sender.send(outcome);
        })
        .expect("a replay thread starts");
    receiver.recv_timeout(WATCHDOG).unwrap_or_else(|_| {
        Err(format!(
            "did not return within {} s (a hang)",
            WATCHDOG.as_secs()
        ))
    })
}

fn regressions_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// The input files of `target`, sorted; notes (`*.md`) and hidden files are not inputs.
fn inputs(target: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(regressions_root().join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("the regression folder lists").path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            path.is_file() && !name.starts_with('.') && !name.ends_with(".md")
        })
        .collect();
    files.sort();
    files
}

/// Replays every input of `target` and fails with the list of those that panic or hang.
fn replay_target(target: &str) {
    let harness = harness::target(target).expect("a known fuzz target");
    let mut failures = Vec::new();
    let files = inputs(target);
    for file in &files {
        let bytes = std::fs::read(file).expect("the regression input reads");
        let shown = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(file)
            .display()
            .to_string();
        assert!(
            bytes.len() <= MAX_INPUT,
            "{shown} has {} bytes; regression inputs stay under {MAX_INPUT} (minimise it with `cargo fuzz tmin`)",
            bytes.len()
        );
        if let Err(problem) = replay(harness, bytes) {
            failures.push(format!("{shown}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} `{target}` regression input(s) fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay_target(stringify!($target));
            }
        )*

        /// Every target has a replay test above, and every folder of regressions is a target.
        #[test]
        fn every_target_and_regression_folder_is_replayed() {
            let tested = [$(stringify!($target)),*];
            for (name, _) in harness::TARGETS {
                assert!(tested.contains(name), "fuzz target {name} has no replay test");
            }
            for entry in std::fs::read_dir(regressions_root()).expect("fuzz/regressions lists") {
                let path = entry.expect("fuzz/regressions lists").path();
                if path.is_dir() {
                    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("");
                    assert!(
                        tested.contains(&name),
                        "fuzz/regressions/{name} is not a fuzz target, so nothing replays it"
                    );
                }
            }
        }
    };
}

replay_tests!(
    hive_walk,
    hive_recovery,
    evtx_read,
    reg_parse,
    waivers,
    baseline,
    rule_pack,
    partial,
    site_config
);

/// The replay reports a panic with its place, so a failing input is never mistaken for a
/// passing one.
#[test]
fn a_panicking_harness_is_reported() {
    fn panics(_: &[u8]) {
        panic!("deliberate");
    }
    let problem = replay(panics, Vec::new()).expect_err("a panic is reported");
    assert!(
        problem.contains("deliberate") && problem.contains("fuzz_regressions.rs"),
        "{problem}"
    );
}

/// The sample bundle's partial result, scanned as the only shard by the binary.
fn sample_partial() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("shard.partial.json");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_hiveward"))
        .arg("scan")
        .arg(hiveward_testkit::workspace_root().join("examples/bundle"))
        .args(["--shard", "1/1", "--partial"])
        .arg(&file)
        .status()
        .expect("hiveward runs");
    assert_eq!(
        status.code(),
        Some(0),
        "the sample bundle's shard is written"
    );
    std::fs::read(&file).expect("the partial result is written")
}

/// Well-formed inputs built here pass through every harness without a failure: the harnesses'
/// own checks hold on good evidence, packs, waivers and baselines.
#[test]
fn harnesses_accept_well_formed_inputs() {
    let reg = "Windows Registry Editor Version 5.00\r\n\r\n\
        [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
        [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
        \"ComputerName\"=\"FUZZHOST\"\r\n";
    let hive = hiveward_testkit::hive_from_reg(reg);
    let manifest = "name = \"fuzz-pack\"\nversion = \"0.1.0\"\ndescription = \"d\"\nmin_hiveward = \"0.1.0\"\n";
    let rule = "export const RULE = #{ id: \"FZ-001\", pack: \"fuzz-pack\", title: \"t\", \
        description: \"d\", severity: \"low\", fix: \"f {{name}}\" };\nfn check(host) { [] }\n";
    let waiver = "[[waiver]]\nrule = \"HW-STRICT-001\"\nhost = \"*\"\njustification = \"j\"\n";
    let baseline = "{\"version\": 1, \"tool\": \"hiveward\", \"fingerprints\": []}";
    let config = "[report]\nformat = \"sarif\"\nwaivers = \"waivers.toml\"\n\n[rules]\ndirs = [\"packs\"]\n\n[params]\n\"min_ubr.17763\" = \"5458\"\n";
    let recovery = harness::RecoveryInput {
        flags: 3,
        primary: hive.clone(),
        log1: Vec::new(),
        log2: Vec::new(),
    };
    assert_eq!(harness::RecoveryInput::split(&recovery.join()), recovery);
    let pack = harness::join_pack(manifest, &[rule], &[("util", "fn one() { 1 }")]);
    let split = harness::split_pack(&pack);
    assert_eq!((split.rules.len(), split.libs.len()), (1, 1));
    assert_eq!(split.libs[0].file_name, "util.rhai");
    for (target, bytes) in [
        ("hive_walk", hive.clone()),
        ("hive_recovery", recovery.join()),
        ("reg_parse", reg.as_bytes().to_vec()),
        ("waivers", waiver.as_bytes().to_vec()),
        ("baseline", baseline.as_bytes().to_vec()),
        ("rule_pack", pack),
        ("evtx_read", b"ElfFile\0".to_vec()),
        ("partial", sample_partial()),
        ("site_config", config.as_bytes().to_vec()),
    ] {
        let harness = harness::target(target).expect("a known target");
        if let Err(problem) = replay(harness, bytes) {
            panic!("{target}: {problem}");
        }
    }
}
