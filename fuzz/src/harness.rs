//! One harness function per fuzz target: each feeds raw bytes through the public API the
//! scanner itself uses and panics when the promise "bad input never panics, never hangs, and
//! each problem gets a clear diagnostic naming the file" is broken.
//!
//! `fuzz/fuzz_targets/*.rs` call these under libFuzzer; `tests/fuzz_regressions.rs` includes
//! this file with `#[path]` and replays every input kept in `fuzz/regressions/<target>/`
//! through the same function, as an ordinary stable test. Keep it free of anything that needs
//! nightly or libFuzzer.
//!
//! Every error is rendered the way the `hiveward` binary renders it
//! (`hiveward_engine::render_diagnostic_text`) and must name the file, reach the terminal with
//! no raw control character, and stay under [`MAX_DIAGNOSTIC`] bytes.
//! Walks are bounded (keys, depth, values per key), so a hive whose keys form a cycle still
//! ends.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hiveward_collectors::{
    collect, discover, read_evtx_with, read_hotfixes, read_os_facts, recover, BaseBlock,
    CollectOptions, DiscoverOptions, EventNeedFilter, EventSelection, EvtxReadOptions, HiveFile,
    HostRegistry, RegExport, RegPath, RegistrySource, TransactionLogInput,
    DEFAULT_CONTROL_SET_KEYS,
};
use hiveward_engine::{
    check_partials, escape_terminal, finish_scan, is_terminal_control, load_baseline, load_waivers,
    read_partial, render_diagnostic_text, rule_show_text, rules_list_text, rules_markdown,
    run_scan, Date, Finding, HostResults, Limits, LoadedSiteConfig, PackSource, RuleSet,
    ScanSettings, SourceFile,
};

/// A harness: takes one input and panics when a promise is broken.
pub type Harness = fn(&[u8]);

/// Every fuzz target: its name (the folder under `fuzz/regressions/` and `fuzz/corpus/`) and
/// its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("hive_walk", hive_walk),
    ("hive_recovery", hive_recovery),
    ("evtx_read", evtx_read),
    ("reg_parse", reg_parse),
    ("waivers", waivers),
    ("baseline", baseline),
    ("rule_pack", rule_pack),
    ("partial", partial),
    ("site_config", site_config),
];

/// The harness of the target called `name`.
pub fn target(name: &str) -> Option<Harness> {
    TARGETS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, harness)| *harness)
}

/// The name the hive targets give their input.
pub const HIVE_FILE: &str = "FUZZ_SYSTEM.HIV";
/// The name the EVTX target gives its input.
pub const EVTX_FILE: &str = "FUZZ_Security.evtx";
/// The name the `.reg` target gives its input.
pub const REG_FILE: &str = "FUZZ_export.reg";
/// The name the waiver target gives its input.
pub const WAIVER_FILE: &str = "fuzz-waivers.toml";
/// The name the baseline target gives its input.
pub const BASELINE_FILE: &str = "fuzz-baseline.json";
/// The name the site-configuration target gives its input.
pub const CONFIG_FILE: &str = "/fuzz/site/hiveward.toml";
/// The name the partial-result target gives its input.
pub const PARTIAL_FILE: &str = "fuzz-shard.partial.json";
/// The folder the rule-pack target's files are said to live in.
pub const PACK_FOLDER: &str = "/fuzz/packs/fuzz-pack";

/// Keys one walk visits at most.
const MAX_KEYS: usize = 2_000;
/// How deep a walk goes.
const MAX_DEPTH: usize = 24;
/// Values read one by one per key.
const MAX_VALUES_PER_KEY: usize = 64;
/// Files one rule-pack input is split into at most.
const MAX_PACK_FILES: usize = 16;

/// Registry paths the built-in rules and the OS and hotfix readers read.
const RULE_PATHS: [&str; 14] = [
    r"HKLM\SYSTEM\Select",
    r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters",
    r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters",
    r"HKLM\SYSTEM\CurrentControlSet\Services\mrxsmb10",
    r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa",
    r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa\MSV1_0",
    r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName",
    r"HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions",
    r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion",
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages",
    r"HKLM\SOFTWARE\Policies\Microsoft\Windows\LanmanWorkstation",
    r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer",
    r"HKLM\SAM\SAM\Domains\Account\Users",
    r"HKLM\SECURITY\Policy",
];

// ---------------------------------------------------------------------------------------------
// Diagnostics

/// The most a single rendered diagnostic may hold: it quotes a small window of its file,
/// never the file itself.
pub const MAX_DIAGNOSTIC: usize = 64 * 1024;

/// Renders `diagnostic` as the binary does (`render_diagnostic_text`) and checks that it names
/// `file`, that no control character reaches the terminal raw, and that it stays small.
pub fn check_diagnostic(diagnostic: &dyn miette::Diagnostic, file: &str) {
    let message = diagnostic.to_string();
    assert!(
        message.contains(file),
        "the diagnostic does not name the file {file}: {message}"
    );
    let rendered = render_diagnostic_text(diagnostic);
    if let Some(control) = rendered
        .chars()
        .find(|&c| c != '\n' && is_terminal_control(c))
    {
        panic!(
            "the rendered diagnostic holds the raw control character {control:?}: {}",
            escape_terminal(&rendered)
        );
    }
    assert!(
        rendered.len() <= MAX_DIAGNOSTIC,
        "the rendered diagnostic has {} bytes (more than {MAX_DIAGNOSTIC}); it begins: {}",
        rendered.len(),
        escape_terminal(&rendered.chars().take(400).collect::<String>())
    );
}

/// The value of `result`, or `None` after checking its error as a diagnostic for `file`.
fn checked<T>(result: Result<T, hiveward_collectors::EvidenceError>, file: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            check_diagnostic(&error, file);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hives

/// `hive_walk`: opens the input as a hive (`HiveFile::from_bytes`), walks every key and value
/// through the public API, then mounts it in a `HostRegistry` and reads what the rules, the OS
/// facts and the hotfix inventory read.
pub fn hive_walk(data: &[u8]) {
    open_and_walk(data.to_vec(), &[]);
    // The same bytes as a differencing hive (layered-keys flag set, checksum fixed): its reads
    // answer "unknown" where an ordinary hive answers "absent", and follow its layer marks.
    if data.len() >= 512 && data.starts_with(b"regf") {
        let mut layered = data.to_vec();
        layered[0x90] |= 0x02;
        let checksum = hiveward_collectors::base_block_checksum(&layered);
        layered[0x1fc..0x200].copy_from_slice(&checksum.to_le_bytes());
        open_and_walk(layered, &[]);
    }
}

fn open_and_walk(bytes: Vec<u8>, logs: &[TransactionLogInput]) {
    match HiveFile::from_bytes(Path::new(HIVE_FILE), bytes, logs) {
        Ok(hive) => {
            walk_hive(&hive);
            let mut registry = HostRegistry::new();
            registry.add(RegistrySource::Hive(hive));
            read_registry(&registry, HIVE_FILE);
        }
        Err(error) => check_diagnostic(&error, HIVE_FILE),
    }
}

/// Visits every key (up to [`MAX_KEYS`], [`MAX_DEPTH`] deep) and reads each value twice: in the
/// key's list and by name.
pub fn walk_hive(hive: &HiveFile) {
    for notice in hive.notices() {
        let _ = notice.message.len();
    }
    let mut budget = MAX_KEYS;
    walk_key(hive, &mut Vec::new(), &mut budget);
}

fn walk_key(hive: &HiveFile, path: &mut Vec<String>, budget: &mut usize) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    let components: Vec<&str> = path.iter().map(String::as_str).collect();
    checked(hive.key_exists(&components), HIVE_FILE);
    checked(hive.key_last_written(&components), HIVE_FILE);
    if let Some(Some(values)) = checked(hive.values(&components), HIVE_FILE) {
        for value in values.iter().take(MAX_VALUES_PER_KEY) {
            let _ = value.display_data();
            let _ = (value.as_integer(), value.as_str(), value.value_type.name());
            checked(hive.value(&components, &value.name), HIVE_FILE);
        }
    }
    if path.len() >= MAX_DEPTH {
        return;
    }
    // A differencing hive cannot list a key's subkeys whole: walk those it holds.
    let names = match hive.subkeys(&components) {
        Err(hiveward_collectors::EvidenceError::NotInLayer { .. }) => {
            checked(hive.subkeys_held(&components), HIVE_FILE)
        }
        other => checked(other, HIVE_FILE),
    };
    if let Some(Some(names)) = names {
        for name in names {
            if *budget == 0 {
                break;
            }
            path.push(name);
            walk_key(hive, path, budget);
            path.pop();
        }
    }
}

/// Reads through `registry` what rules and the collectors read: the control set, the keys the
/// rules name, a bounded walk under each mount point, the OS facts and the hotfix inventory.
pub fn read_registry(registry: &HostRegistry, file: &str) {
    let _ = registry.control_set();
    for notice in registry.control_set_differences(&DEFAULT_CONTROL_SET_KEYS) {
        let _ = notice.message.len();
    }
    for path in RULE_PATHS {
        let _ = registry.locate(path);
        checked(registry.key_exists(path), file);
        checked(registry.key_last_written(path), file);
        checked(registry.values(path), file);
        checked(registry.subkeys(path), file);
        for name in [
            "",
            "ComputerName",
            "SmbServerNameHardeningLevel",
            "CurrentState",
        ] {
            checked(registry.value(path, name), file);
        }
    }
    let mut budget = MAX_KEYS / 4;
    for root in [r"HKLM\SYSTEM", r"HKLM\SOFTWARE", r"HKCU\Software", "HKCU"] {
        walk_registry(registry, root.to_string(), 0, &mut budget, file);
    }
    if let Some(facts) = checked(read_os_facts(registry), file).flatten() {
        let _ = (facts.os_build(), facts.is_server());
        let _ = serde_json::to_string(&facts);
    }
    if let Some(hotfixes) = checked(read_hotfixes(registry), file) {
        let _ = serde_json::to_string(&hotfixes);
    }
}

fn walk_registry(
    registry: &HostRegistry,
    path: String,
    depth: usize,
    budget: &mut usize,
    file: &str,
) {
    if *budget == 0 {
        return;
    }
    *budget -= 1;
    checked(registry.values(&path), file);
    if depth >= MAX_DEPTH {
        return;
    }
    if let Some(Some(found)) = checked(registry.subkeys(&path), file) {
        for name in found.data {
            if *budget == 0 {
                break;
            }
            walk_registry(registry, format!("{path}\\{name}"), depth + 1, budget, file);
        }
    }
}

/// The parts of a `hive_recovery` input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryInput {
    /// Bit 0: recompute the primary's base block checksum. Bit 1: recompute the logs' base
    /// block checksums and the hashes of their `HvLE` entries, so mutations reach the code
    /// behind those checks.
    pub flags: u8,
    /// The primary hive.
    pub primary: Vec<u8>,
    /// `.LOG1`.
    pub log1: Vec<u8>,
    /// `.LOG2`.
    pub log2: Vec<u8>,
}

impl RecoveryInput {
    /// Splits an input: a flags byte, the primary's length and `.LOG1`'s length (u32
    /// little-endian, cut to what is there), then the primary, `.LOG1`, and `.LOG2` (the rest).
    pub fn split(data: &[u8]) -> RecoveryInput {
        let mut header = [0u8; 9];
        let header_len = data.len().min(9);
        header[..header_len].copy_from_slice(&data[..header_len]);
        let rest = &data[header_len..];
        let length = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
                as usize
        };
        let (primary, rest) = rest.split_at(length(1).min(rest.len()));
        let (log1, log2) = rest.split_at(length(5).min(rest.len()));
        RecoveryInput {
            flags: header[0],
            primary: primary.to_vec(),
            log1: log1.to_vec(),
            log2: log2.to_vec(),
        }
    }

    /// The input bytes that [`RecoveryInput::split`] splits into `self` (seeds are made so).
    pub fn join(&self) -> Vec<u8> {
        let mut bytes = vec![self.flags];
        bytes.extend((self.primary.len() as u32).to_le_bytes());
        bytes.extend((self.log1.len() as u32).to_le_bytes());
        bytes.extend(&self.primary);
        bytes.extend(&self.log1);
        bytes.extend(&self.log2);
        bytes
    }
}

/// Recomputes the base block checksum of a hive or log, and the hashes of each `HvLE` entry of
/// a new-format log, in place.
fn fix_up(bytes: &mut [u8], entries: bool) {
    if bytes.len() >= 512 && bytes.starts_with(b"regf") {
        hiveward_testkit::fix_base_block_checksum(bytes);
    }
    if !entries {
        return;
    }
    let mut offset = 512;
    while bytes.get(offset..offset + 4) == Some(b"HvLE".as_slice()) && offset + 40 <= bytes.len() {
        hiveward_testkit::rehash_log_entry(bytes, offset);
        let size = u32::from_le_bytes([
            bytes[offset + 4],
            bytes[offset + 5],
            bytes[offset + 6],
            bytes[offset + 7],
        ]) as usize;
        if size < 512 || !size.is_multiple_of(512) {
            break;
        }
        offset += size;
    }
}

/// `hive_recovery`: applies `.LOG1`/`.LOG2` to a dirty primary (`recover`), checks what the
/// recovered base block promises, then opens the primary with its logs (`HiveFile::from_bytes`)
/// and walks it as `hive_walk` does.
pub fn hive_recovery(data: &[u8]) {
    let mut input = RecoveryInput::split(data);
    if input.flags & 1 != 0 {
        fix_up(&mut input.primary, false);
    }
    if input.flags & 2 != 0 {
        fix_up(&mut input.log1, true);
        fix_up(&mut input.log2, true);
    }
    let logs = vec![
        TransactionLogInput {
            path: PathBuf::from(format!("{HIVE_FILE}.LOG1")),
            bytes: input.log1,
        },
        TransactionLogInput {
            path: PathBuf::from(format!("{HIVE_FILE}.LOG2")),
            bytes: input.log2,
        },
    ];
    if let Ok(recovered) = recover(&input.primary, &logs) {
        let block = BaseBlock::parse(&recovered.bytes)
            .expect("a recovered hive starts with a whole base block");
        assert!(
            block.sequences_match() && block.checksum_ok(),
            "a recovered base block has equal sequence numbers and a valid checksum: {block:?}"
        );
        for skipped in recovered.skipped.iter().chain(&recovered.partial) {
            let _ = skipped.reason.len();
        }
    }
    open_and_walk(input.primary, &logs);
}

// ---------------------------------------------------------------------------------------------
// Event logs

/// The event filters of the built-in rules.
fn event_filters() -> Vec<EventNeedFilter> {
    let server = "Microsoft-Windows-SMBServer";
    let client = "Microsoft-Windows-SMBClient";
    vec![
        EventNeedFilter::new("Security", [4624, 4625, 5168])
            .with_provider("Microsoft-Windows-Security-Auditing"),
        EventNeedFilter::new("Microsoft-Windows-SMBServer/Security", [551]).with_provider(server),
        EventNeedFilter::new("Microsoft-Windows-SMBServer/Audit", [3000]).with_provider(server),
        EventNeedFilter::new("Microsoft-Windows-SMBServer/Operational", [1001, 1003])
            .with_provider(server),
        EventNeedFilter::new(
            "Microsoft-Windows-SmbClient/Security",
            [31017, 31018, 31022, 32000],
        )
        .with_provider(client),
        EventNeedFilter::new("System", [4, 19, 6009]),
        EventNeedFilter::new("Setup", [2]).with_provider("Microsoft-Windows-Servicing"),
    ]
}

/// `evtx_read`: writes the input to a temporary file and reads it with `read_evtx_with`, once
/// with the pre-filter of the built-in rules' needs and once for everything.
pub fn evtx_read(data: &[u8]) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let path = folder.path().join(EVTX_FILE);
    std::fs::write(&path, data).expect("the input is written");
    for selection in [
        EventSelection::Matching(event_filters()),
        EventSelection::Everything,
    ] {
        match read_evtx_with(&path, &selection, &EvtxReadOptions::default()) {
            Ok((summary, records)) => {
                assert_eq!(
                    summary.records_matched,
                    records.len() as u64,
                    "records_matched counts the records returned"
                );
                let _ = serde_json::to_string(&summary);
                let _ = serde_json::to_string(&records);
            }
            Err(error) => check_diagnostic(&error, EVTX_FILE),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// .reg exports

/// `reg_parse`: parses the input as a `.reg` export (`RegExport::parse`), reads every key and
/// value it holds, then mounts it in a `HostRegistry` and reads it as `hive_walk` does.
pub fn reg_parse(data: &[u8]) {
    let export = match RegExport::parse(Path::new(REG_FILE), data) {
        Ok(export) => export,
        Err(error) => {
            check_diagnostic(&error, REG_FILE);
            return;
        }
    };
    for notice in export.skipped_lines() {
        assert_eq!(notice.file.as_deref(), Some(REG_FILE), "{notice:?}");
    }
    for key in export.keys().iter().take(MAX_KEYS / 8) {
        let parsed = RegPath::parse(&key.path);
        let components = parsed.components();
        let _ = parsed.to_string();
        let _ = export.key_exists(&components);
        let _ = export.subkeys(&components);
        match export.values(&components) {
            Ok(values) => {
                for value in values.unwrap_or_default() {
                    let _ = value.display_data();
                    let _ = export.value(&components, &value.name);
                }
            }
            Err(error) => check_diagnostic(&error, REG_FILE),
        }
        for raw in key.values.iter().take(MAX_VALUES_PER_KEY) {
            let _ = raw.decode().display_data();
        }
    }
    let mut registry = HostRegistry::new();
    registry.add(RegistrySource::Export(export));
    read_registry(&registry, REG_FILE);
}

// ---------------------------------------------------------------------------------------------
// Waivers and baselines

/// The ids of the built-in rules, which the CLI passes to `load_waivers` as the known rules.
fn builtin_rule_ids() -> &'static [String] {
    static IDS: OnceLock<Vec<String>> = OnceLock::new();
    IDS.get_or_init(|| {
        PackSource::builtin()
            .iter()
            .flat_map(|pack| &pack.rules)
            .map(|rule| rule.file_name.trim_end_matches(".rhai").to_string())
            .collect()
    })
}

/// The findings of the built-in rules on the sample bundle, for waivers and baselines to
/// apply to.
fn sample_findings() -> &'static [Finding] {
    static FINDINGS: OnceLock<Vec<Finding>> = OnceLock::new();
    FINDINGS.get_or_init(|| {
        let bundle = hiveward_testkit::workspace_root().join("examples/bundle");
        let rules = RuleSet::load(PackSource::builtin(), Limits::default())
            .unwrap_or_else(|_| panic!("the built-in packs load"));
        let collection = collect(
            discover(std::slice::from_ref(&bundle), &DiscoverOptions::default()),
            &CollectOptions::default(),
        );
        let settings = ScanSettings {
            inputs: vec![bundle],
            profile: "cis".to_string(),
            ..ScanSettings::default()
        };
        run_scan(collection, &rules, &settings).findings.to_vec()
    })
}

/// `waivers`: loads the input as a waiver file (`load_waivers`, with the built-in rule ids as
/// the known rules) and applies it to the sample bundle's findings. Input that is not UTF-8 is
/// passed over: the binary reads the file as a string and stops before parsing it.
pub fn waivers(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ids: Vec<&str> = builtin_rule_ids().iter().map(String::as_str).collect();
    match load_waivers(Path::new(WAIVER_FILE), text, &ids) {
        Ok(waivers) => {
            let mut findings = sample_findings().to_vec();
            let today = Date::parse("2026-06-01").expect("a valid date");
            for notice in waivers.apply(&mut findings, today) {
                let _ = notice.message.len();
            }
        }
        Err(error) => check_diagnostic(&error, WAIVER_FILE),
    }
}

/// `site_config`: reads the input as a `hiveward.toml` (`LoadedSiteConfig::parse`, as `scan`
/// and `merge` do). A file it accepts has every relative path resolved against the file's
/// folder, and an error is a diagnostic that names the file and points inside it (errors about
/// keys point at the key; the location code clamps every offset). Input that is not UTF-8 is
/// passed over, as for waivers.
pub fn site_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new(CONFIG_FILE)
        .parent()
        .expect("the configuration file has a folder");
    match LoadedSiteConfig::parse(CONFIG_FILE, text, base) {
        Ok(loaded) => {
            let config = &loaded.config;
            let paths = config
                .report
                .waivers
                .iter()
                .chain(&config.report.baseline)
                .chain(config.rules.dirs.iter().flatten());
            for path in paths {
                assert!(
                    path.is_absolute(),
                    "a path in the configuration is not resolved: {}",
                    path.display()
                );
            }
            for key in config.params.keys() {
                check_diagnostic(&loaded.error_at_key(key, "fuzz"), CONFIG_FILE);
            }
        }
        Err(error) => check_diagnostic(&error, CONFIG_FILE),
    }
}

/// `baseline`: loads the input as a baseline (`load_baseline`) and applies it to the sample
/// bundle's findings. Input that is not UTF-8 is passed over, as for waivers.
pub fn baseline(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_baseline(Path::new(BASELINE_FILE), text) {
        Ok(baseline) => {
            let mut findings = sample_findings().to_vec();
            let accepted = baseline.apply(&mut findings);
            assert!(
                accepted <= findings.len(),
                "a baseline accepts only findings there are"
            );
        }
        Err(error) => check_diagnostic(&error, BASELINE_FILE),
    }
}

// ---------------------------------------------------------------------------------------------
// Partial results

/// A partial result (`scan --partial`) from `data`: it is read, checked as the only shard, and
/// merged with the built-in rules, whose fleet phase reads the hosts' summaries. A partial
/// that cannot be read or checked gets a diagnostic naming the file; one that can is merged
/// into a report without a panic, whatever its hosts, outcomes and summaries hold (the
/// rule-set fingerprint is not compared here, so hostile summaries reach the fleet rules).
pub fn partial(data: &[u8]) {
    let path = Path::new(PARTIAL_FILE);
    let partial = match read_partial(path, data) {
        Ok(partial) => partial,
        Err(error) => return check_diagnostic(&error, PARTIAL_FILE),
    };
    let mut partials = vec![(path.to_path_buf(), partial)];
    if let Err(error) = check_partials(&mut partials) {
        return check_diagnostic(&error, PARTIAL_FILE);
    }
    let (_, partial) = partials.remove(0);
    let hosts = partial.hosts.len();
    let settings = ScanSettings {
        profile: "cis".to_string(),
        ..ScanSettings::default()
    };
    let report = finish_scan(
        partial.hosts.stream().collect::<HostResults>(),
        partial.passed_over,
        builtin_rules(),
        &settings,
    );
    assert_eq!(
        report.hosts.len(),
        hosts,
        "every host of the partial is reported"
    );
    serde_json::to_vec(&report).unwrap_or_else(|error| panic!("the report serialises: {error}"));
}

/// The built-in rules, loaded once.
fn builtin_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        RuleSet::load(PackSource::builtin(), Limits::default())
            .unwrap_or_else(|_| panic!("the built-in packs load"))
    })
}

// ---------------------------------------------------------------------------------------------
// Rule packs

/// Splits a `rule_pack` input into a pack held in memory (as `engine/tests/common` builds
/// them): the text (lossy UTF-8) is cut at NUL characters; the first part is `pack.toml`, a
/// part whose first line is `lib/NAME` is the helper module `lib/NAME.rhai`, and every other
/// part is a rule file. At most [`MAX_PACK_FILES`] parts are used.
pub fn split_pack(data: &[u8]) -> PackSource {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0').take(MAX_PACK_FILES);
    let file = |folder: &str, file_name: String, text: &str| SourceFile {
        origin: format!("{folder}/{file_name}"),
        file_name,
        text: text.to_string(),
    };
    let manifest = file(
        PACK_FOLDER,
        "pack.toml".to_string(),
        parts.next().unwrap_or_default(),
    );
    let mut rules = Vec::new();
    let mut libs = Vec::new();
    for (index, part) in parts.enumerate() {
        let (first, body) = part.split_once('\n').unwrap_or((part, ""));
        match first.strip_prefix("lib/") {
            Some(module) => libs.push(file(
                &format!("{PACK_FOLDER}/lib"),
                format!("{}.rhai", module.trim()),
                body,
            )),
            None => rules.push(file(PACK_FOLDER, format!("RULE-{index}.rhai"), part)),
        }
    }
    PackSource {
        origin: PACK_FOLDER.to_string(),
        builtin: false,
        manifest,
        rules,
        libs,
        tests: Vec::new(),
    }
}

/// The bytes [`split_pack`] splits into `manifest`, `rules` and `libs` (name, text).
pub fn join_pack(manifest: &str, rules: &[&str], libs: &[(&str, &str)]) -> Vec<u8> {
    let mut parts = vec![manifest.to_string()];
    parts.extend(rules.iter().map(|rule| rule.to_string()));
    parts.extend(
        libs.iter()
            .map(|(name, text)| format!("lib/{name}\n{text}")),
    );
    parts.join("\0").into_bytes()
}

/// `rule_pack`: compiles a pack built from the input (`RuleSet::load` on a `PackSource` held in
/// memory) and, when it loads, renders its rule list, catalogue and each rule's page.
pub fn rule_pack(data: &[u8]) {
    match RuleSet::load(vec![split_pack(data)], Limits::default()) {
        Ok(rules) => {
            let _ = rules_list_text(&rules);
            let _ = rules_markdown(&rules);
            for rule in rules.rules() {
                let _ = rule_show_text(&rule.meta, &rule.file.origin);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a pack that does not load says why");
            for error in &errors {
                check_diagnostic(error, PACK_FOLDER);
            }
        }
    }
}
