//! Hostile rule packs and evidence against the engine (issue 12): fix templates and finding
//! text that would flood the report, pack files that are links or special files, packs too big
//! or too costly to compile, event record ids beyond the integer range, fleet rules that name
//! hosts the bundle does not hold, every file accounted for in SARIF and JUnit, and the run's
//! `--timeout`.
//!
//! Nothing here measures time: the timeout tests assert on outcomes only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions, EventRecord};
use hiveward_engine::{
    context_map, junit_xml, run_scan, to_sarif, Evaluation, Finding, HostFacts, HostHandle, Limits,
    Outcome, PackSource, RuleLoadError, RuleSet, RunDeadline, SarifOptions, ScanSettings, Timeout,
    EXIT_INCOMPLETE,
};
use hiveward_testkit::hive_from_reg;
use serde_json::Value;

mod common;
use common::{evaluate, host_from_reg, load_with, manifest_text, pack_source};

/// A pack named `name` with `rules` as (id, text).
fn pack(name: &str, rules: &[(&str, &str)]) -> PackSource {
    pack_source(name, &manifest_text(name, "0.1.0"), rules, &[])
}

/// A rule file of pack `p` with `extra` metadata fields and `body` after the `RULE` map.
fn rule(id: &str, extra: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: \"f\"{extra} }};\n{body}\n"
    )
}

/// A rule whose fix is `fix` (written as a Rhai backtick string).
fn rule_with_fix(id: &str, fix: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"p\", title: \"t\", description: \"d\", severity: \"high\", fix: `{fix}` }};\n{body}\n"
    )
}

fn host(name: &str) -> HostHandle {
    host_from_reg(
        name,
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n",
    )
}

fn only_finding(evaluation: &Evaluation) -> &Finding {
    assert!(
        evaluation.rule_errors.is_empty(),
        "no rule error: {:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.findings.len(), 1, "{:?}", evaluation.findings);
    &evaluation.findings[0]
}

fn json_len(finding: &Finding) -> usize {
    serde_json::to_vec(finding).unwrap().len()
}

// ---------------------------------------------------------------------------------------------
// Defect 4: fix templates and finding text are bounded.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fix_template_repeating_a_megabyte_value_stays_within_the_limit() {
    // 200 placeholders filled with one 1 MB value made 200 MB of fix text per finding.
    let fix = vec!["{{v}}"; 200].join(" ");
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(1000000, \"x\");\n    [#{ message: \"big\", fix_values: #{ v: v } }]\n}";
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-FIX-001", &rule_with_fix("T-FIX-001", &fix, body))],
        )],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    let finding = only_finding(&evaluation);
    let limit = Limits::default().max_finding_bytes;
    assert!(finding.fix.len() <= limit + 200, "{}", finding.fix.len());
    assert!(
        finding.fix.ends_with(&format!(
            "…[cut: the fix guidance is longer than the limit of {limit} bytes]"
        )),
        "{}",
        &finding.fix[finding.fix.len() - 120..]
    );
    let value = finding.fix_values["v"].0.as_str().unwrap();
    assert!(value.len() <= limit / 4 + 40, "{}", value.len());
    assert!(value.ends_with(&format!("…[{} bytes cut]", 1_000_000 - limit / 4)));
    let note = finding.evidence.last().unwrap();
    assert_eq!(note.kind, "note");
    assert!(note
        .note
        .as_deref()
        .unwrap()
        .starts_with("hiveward cut this finding to its limits"));
    assert!(json_len(finding) < 3 * limit, "{}", json_len(finding));
}

#[test]
fn long_messages_and_evidence_texts_are_cut_visibly() {
    // Rhai bounds the strings of one value together, so three texts of 300 KB.
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"m\");\n    [#{ message: v, evidence: [#{ kind: \"registry\", path: v, value_name: \"n\", observed: [v], file: \"f\" }] }]\n}";
    let limits = Limits {
        max_finding_bytes: 8_192,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack("p", &[("T-TEXT-001", &rule("T-TEXT-001", "", body))])],
        limits,
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    let finding = only_finding(&evaluation);
    // A quarter of the budget for one text, and the marker saying how much was cut.
    assert_eq!(
        finding.message,
        format!("{}…[{} bytes cut]", "m".repeat(2_048), 300_000 - 2_048)
    );
    let evidence = &finding.evidence[0];
    assert!(evidence.path.as_deref().unwrap().contains("bytes cut"));
    assert_eq!(evidence.value_name.as_deref(), Some("n"));
    assert!(json_len(finding) < 3 * 8_192, "{}", json_len(finding));
}

#[test]
fn all_findings_of_one_rule_on_one_host_share_a_budget() {
    // 200 findings, each with a fix of 50 × 4,000 bytes.
    let fix = vec!["{{v}}"; 50].join("");
    let body = "fn check(host) {\n    let v = \"\";\n    v.pad(4000, \"z\");\n    let all = [];\n    for i in 0..200 { all.push(#{ message: `finding ${i}`, fix_values: #{ v: v } }); }\n    all\n}";
    let limits = Limits {
        max_finding_bytes: 8_192,
        max_findings_bytes: 65_536,
        ..Limits::default()
    };
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-MANY-001", &rule_with_fix("T-MANY-001", &fix, body))],
        )],
        limits,
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.findings.len(), 200, "every finding is kept");
    let fix_bytes: usize = evaluation.findings.iter().map(|f| f.fix.len()).sum();
    // The shared budget, then at most 1 KiB (and a marker) per further finding.
    assert!(fix_bytes <= 65_536 + 200 * (1_024 + 100), "{fix_bytes}");
    assert!(evaluation
        .findings
        .iter()
        .any(|finding| finding.fix.len() <= 1_024 + 100));
}

#[test]
fn rule_error_messages_and_not_applicable_reasons_are_bounded() {
    let throws = rule(
        "T-THROW-001",
        "",
        "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"e\");\n    throw v;\n}",
    );
    let declines = rule(
        "T-NA-001",
        "",
        "fn check(host) {\n    let v = \"\";\n    v.pad(300000, \"r\");\n    not_applicable(v)\n}",
    );
    let rules = load_with(
        vec![pack(
            "p",
            &[("T-THROW-001", &throws), ("T-NA-001", &declines)],
        )],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert_eq!(evaluation.rule_errors.len(), 1);
    let message = &evaluation.rule_errors[0].message;
    assert!(message.len() <= 4_096 + 40, "{}", message.len());
    assert!(
        message.ends_with("bytes cut]"),
        "{}",
        &message[message.len() - 40..]
    );
    let reason = evaluation
        .outcomes
        .iter()
        .find(|outcome| outcome.rule == "T-NA-001")
        .and_then(|outcome| outcome.reason.clone())
        .unwrap();
    assert_eq!(
        reason,
        format!("{}…[{} bytes cut]", "r".repeat(4_096), 300_000 - 4_096)
    );
}

/// The fix rendering before issue 12: each value replaced in turn over the whole text.
fn sequential_render(fix: &str, values: &BTreeMap<String, Value>) -> String {
    let mut text = fix.to_string();
    for (name, value) in values {
        let rendered = match value {
            Value::String(text) => text.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        text = text.replace(&format!("{{{{{name}}}}}"), &rendered);
    }
    text
}

#[test]
fn fix_guidance_within_the_limits_is_rendered_as_before() {
    let rules = RuleSet::load(PackSource::builtin(), Limits::default()).unwrap();
    let mut templates = 0;
    for compiled in rules.rules() {
        let fix = &compiled.meta.fix;
        // Every placeholder the template names, filled with a string, an array and a number.
        let mut values = BTreeMap::new();
        for (index, part) in fix.split("{{").skip(1).enumerate() {
            if let Some((name, _)) = part.split_once("}}") {
                let value = match index % 3 {
                    0 => Value::String(format!("<{name} value>")),
                    1 => serde_json::json!(["A", 2, "C"]),
                    _ => serde_json::json!(17),
                };
                values.insert(name.to_string(), value);
            }
        }
        if !values.is_empty() {
            templates += 1;
        }
        values.insert("unused".to_string(), Value::String("x".to_string()));
        assert_eq!(
            compiled.meta.render_fix(&values),
            sequential_render(fix, &values),
            "{}",
            compiled.meta.id
        );
        let (within, cut) = compiled.meta.render_fix_within(&values, 1 << 20);
        assert!(!cut);
        assert_eq!(within, sequential_render(fix, &values));
    }
    assert!(templates >= 5, "the built-in rules fill placeholders");
    let mut meta = rules.rules()[0].meta.clone();
    meta.fix = "{{{a}}} {{b} {{a}}{{".to_string();
    let values = BTreeMap::from([("a".to_string(), Value::String("1".to_string()))]);
    assert_eq!(meta.render_fix(&values), "{1} {{b} 1{{");
}

// ---------------------------------------------------------------------------------------------
// Defect 9: links and special files in packs.
// ---------------------------------------------------------------------------------------------

const SECRET: &str = "root:$6$SECRET-HASH-LINE:19000:0:99999:7:::\nSECOND-SECRET-LINE\n";

/// A pack folder `dir/p` with one good rule, and a secret file outside it.
fn pack_on_disk(dir: &Path) -> (PathBuf, PathBuf) {
    let folder = dir.join("p");
    std::fs::create_dir_all(folder.join("lib")).unwrap();
    std::fs::write(folder.join("pack.toml"), manifest_text("p", "0.1.0")).unwrap();
    std::fs::write(
        folder.join("T-OK-001.rhai"),
        rule("T-OK-001", "", "fn check(host) { [] }"),
    )
    .unwrap();
    let secret = dir.join("shadow");
    std::fs::write(&secret, SECRET).unwrap();
    (folder, secret)
}

fn assert_refused_link(result: Result<Vec<PackSource>, RuleLoadError>, link: &Path) {
    let error = match result {
        Ok(_) => panic!("a pack holding the link {} must not load", link.display()),
        Err(error) => error,
    };
    assert!(
        matches!(&error, RuleLoadError::Link { path } if path == link),
        "{error:?}"
    );
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&link.display().to_string()), "{shown}");
    assert!(!shown.contains("SECRET"), "the target leaked: {shown}");
}

#[cfg(unix)]
#[test]
fn links_in_a_pack_are_refused_and_their_targets_never_read() {
    use std::os::unix::fs::symlink;
    type Place = fn(&Path) -> PathBuf;
    let places: [(&str, Place); 5] = [
        ("rule", |folder| folder.join("T-LINK-001.rhai")),
        ("lib module", |folder| folder.join("lib/helpers.rhai")),
        ("tests file", |folder| folder.join("T-OK-001.tests.toml")),
        ("manifest", |folder| folder.join("pack.toml")),
        ("lib folder", |folder| folder.join("lib")),
    ];
    for (what, place) in places {
        let dir = tempfile::tempdir().unwrap();
        let (folder, secret) = pack_on_disk(dir.path());
        let link = place(&folder);
        if link.is_dir() {
            std::fs::remove_dir(&link).unwrap();
            let elsewhere = dir.path().join("elsewhere");
            std::fs::create_dir(&elsewhere).unwrap();
            std::fs::copy(&secret, elsewhere.join("shadow.rhai")).unwrap();
            symlink(&elsewhere, &link).unwrap();
        } else {
            let _ = std::fs::remove_file(&link);
            symlink(&secret, &link).unwrap();
        }
        println!("{what}");
        assert_refused_link(PackSource::load_dir(&folder), &link);
    }
    // A link that stays inside the pack is refused too: packs hold no links at all.
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let link = folder.join("T-COPY-001.rhai");
    symlink(folder.join("T-OK-001.rhai"), &link).unwrap();
    assert_refused_link(PackSource::load_dir(&folder), &link);
}

#[cfg(unix)]
#[test]
fn a_linked_pack_in_a_folder_of_packs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let packs = dir.path().join("packs");
    std::fs::create_dir(&packs).unwrap();
    let link = packs.join("p");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    assert_refused_link(PackSource::load_dir(&packs), &link);
    // The folder named on the command line may itself be a link.
    let named = dir.path().join("named");
    std::os::unix::fs::symlink(&folder, &named).unwrap();
    assert_eq!(PackSource::load_dir(&named).unwrap().len(), 1);
}

#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_rule_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let fifo = folder.join("T-FIFO-001.rhai");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        println!("skipped: mkfifo is not available");
        return;
    }
    let error = PackSource::load_dir(&folder).expect_err("a FIFO is not a rule file");
    assert!(
        matches!(&error, RuleLoadError::SpecialFile { path, kind } if path == &fifo && kind == "FIFO"),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Defect 10: file, pack and compile bounds.
// ---------------------------------------------------------------------------------------------

fn over_limit(error: &RuleLoadError) -> (&str, &str) {
    match error {
        RuleLoadError::OverLimit { origin, detail } => (origin, detail),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn a_huge_rule_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let huge = folder.join("T-HUGE-001.rhai");
    // 16 MB of zeros, without writing them (a sparse file): only its size is looked at.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let error = PackSource::load_dir(&folder).expect_err("too large");
    let (origin, detail) = over_limit(&error);
    assert_eq!(origin, huge.display().to_string());
    assert!(
        detail.contains(&Limits::default().max_source_bytes.to_string()),
        "{detail}"
    );
}

#[test]
fn a_pack_over_its_total_size_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    for index in 0..4 {
        let filler = format!("// {}\n", "x".repeat(3_000));
        let id = format!("T-FILL-00{index}");
        std::fs::write(
            folder.join(format!("{id}.rhai")),
            rule(&id, "", &format!("{filler}fn check(host) {{ [] }}")),
        )
        .unwrap();
    }
    let limits = Limits {
        max_pack_bytes: 10_000,
        ..Limits::default()
    };
    let error = PackSource::load_dir_within(&folder, &limits).expect_err("too large");
    let (origin, detail) = over_limit(&error);
    assert_eq!(origin, folder.display().to_string());
    assert!(detail.contains("10000 bytes"), "{detail}");
    // The same pack, built in memory, is refused when it loads.
    let loaded = PackSource::load_dir(&folder).unwrap();
    let errors = RuleSet::load(loaded, limits).err().expect("too large");
    assert!(errors
        .iter()
        .any(|error| matches!(error, RuleLoadError::OverLimit { origin, .. } if origin == &folder.display().to_string())));
}

fn load_errors(text: &str, limits: Limits) -> Vec<String> {
    match RuleSet::load(vec![pack("p", &[("T-COST-001", text)])], limits) {
        Ok(_) => panic!("the rule must not load"),
        Err(errors) => errors.iter().map(|error| error.to_string()).collect(),
    }
}

#[test]
fn too_many_functions_are_a_load_error_naming_the_file() {
    let functions: String = (0..300).map(|n| format!("fn f{n}() {{ {n} }}\n")).collect();
    let text = rule(
        "T-COST-001",
        "",
        &format!("{functions}fn check(host) {{ [] }}"),
    );
    let errors = load_errors(&text, Limits::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/T-COST-001.rhai:"),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("too many functions: a .rhai file may define at most 256"),
        "{errors:?}"
    );
}

#[test]
fn too_many_distinct_names_are_a_load_error_naming_the_file() {
    let lets: String = (0..3_000)
        .map(|n| format!("    let v{n} = {n};\n"))
        .collect();
    let text = rule(
        "T-COST-001",
        "",
        &format!("fn check(host) {{\n{lets}    []\n}}"),
    );
    let errors = load_errors(&text, Limits::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/T-COST-001.rhai: the file holds"),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("the limit for one .rhai file is 2048"),
        "{errors:?}"
    );
    // The same file loads under a limit that allows it.
    let limits = Limits {
        max_distinct_words: 10_000,
        ..Limits::default()
    };
    assert!(RuleSet::load(vec![pack("p", &[("T-COST-001", &text)])], limits).is_ok());
}

#[test]
fn a_pack_of_many_costly_files_is_bounded_as_a_whole() {
    let lets: String = (0..40).map(|n| format!("    let v{n} = {n};\n")).collect();
    let rules: Vec<(String, String)> = (0..3)
        .map(|n| {
            let id = format!("T-COST-00{n}");
            let text = rule(&id, "", &format!("fn check(host) {{\n{lets}    []\n}}"));
            (id, text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = rules
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let limits = Limits {
        max_pack_distinct_words: 100,
        ..Limits::default()
    };
    let errors = RuleSet::load(vec![pack("p", &borrowed)], limits)
        .err()
        .expect("over");
    let shown: Vec<String> = errors.iter().map(|error| error.to_string()).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("/packs/p: the pack's .rhai files hold"),
        "{shown:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Defect 12: record ids beyond the integer range.
// ---------------------------------------------------------------------------------------------

fn event(record_id: u64, time: &str) -> EventRecord {
    EventRecord {
        channel: "Security".to_string(),
        provider: "Microsoft-Windows-Security-Auditing".to_string(),
        id: 4624,
        time: time.to_string(),
        record_id,
        computer: "FS01.corp.example".to_string(),
        data: BTreeMap::new(),
        file: "Security.evtx".to_string(),
    }
}

fn host_with_events(events: Vec<EventRecord>) -> HostHandle {
    let base = host("FS01");
    let base = Arc::try_unwrap(base.0).ok().expect("only handle");
    HostHandle(Arc::new(HostFacts {
        events,
        log_channels: vec!["Security".to_string()],
        memo: Default::default(),
        ..base
    }))
}

#[test]
fn record_ids_beyond_the_integer_range_stay_exact() {
    let huge: u64 = (1 << 63) + 5;
    let body = "fn check(host) {\n    let events = host.events(#{ channel: \"Security\" });\n    let ids = [];\n    for e in events { ids.push(`${e.record_id}:${type_of(e.record_id)}`); }\n    [#{ message: ids.reduce(|all, id| all + \" \" + id, \"\"), evidence: [event_evidence(events), #{ kind: \"event\", channel: \"Security\", record_ids: [events[1].record_id, events[0].record_id] }] }]\n}";
    let text = rule(
        "T-EVT-001",
        ", needs: #{ events: [#{ channel: \"Security\", ids: [4624] }] }",
        body,
    );
    let rules = load_with(vec![pack("p", &[("T-EVT-001", &text)])], Limits::default());
    let facts = host_with_events(vec![
        event(7, "2026-01-01T00:00:00Z"),
        event(huge, "2026-01-02T00:00:00Z"),
    ]);
    let evaluation = evaluate(&rules, &[facts]);
    let finding = only_finding(&evaluation);
    assert_eq!(
        finding.message,
        format!(" 7:i64 {huge}:string"),
        "small ids are integers, the others exact text"
    );
    assert_eq!(finding.evidence[0].record_ids, vec![7, huge]);
    assert_eq!(finding.evidence[1].record_ids, vec![huge, 7]);
    let json = serde_json::to_string(finding).unwrap();
    assert!(json.contains("9223372036854775813"), "{json}");
    assert!(!json.contains("-9223372036854775"), "{json}");
}

// ---------------------------------------------------------------------------------------------
// Defect 14 (a): fleet rules may name only the bundle's hosts.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fleet_rule_naming_a_host_outside_the_bundle_is_a_rule_error() {
    let body = "fn summarize(host) { () }\nfn check(fleet) {\n    [#{ host: \"GHOST\", message: \"credited to nobody here\" }, #{ host: \"fs01\", message: \"real\" }, not_applicable(\"NOPE\", \"why\")]\n}";
    let text = rule("T-FLEET-001", ", scope: \"fleet\"", body);
    let rules = load_with(
        vec![pack("p", &[("T-FLEET-001", &text)])],
        Limits::default(),
    );
    let evaluation = evaluate(&rules, &[host("FS01"), host("WS02")]);
    let findings: Vec<(&str, &str)> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.host.as_str(), finding.message.as_str()))
        .collect();
    assert_eq!(
        findings,
        [("FS01", "real")],
        "the bundle's spelling, the stray left out"
    );
    let errors: Vec<(&str, &str)> = evaluation
        .rule_errors
        .iter()
        .map(|error| (error.host.as_str(), error.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (stray, (host, message)) in ["GHOST", "NOPE"].iter().zip(&errors) {
        assert_eq!(*host, "*");
        assert!(
            message.contains(&format!("host `{stray}`, which is not in the bundle")),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 14 (b): SARIF and JUnit account for every file.
// ---------------------------------------------------------------------------------------------

fn system_hive(computer: &str) -> Vec<u8> {
    hive_from_reg(&format!(
        "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\n\"Current\"=dword:00000001\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\n\"ComputerName\"=\"{computer}\"\n"
    ))
}

/// A bundle with a clean hive, a dirty hive without logs, an empty hive file and a file that
/// is not evidence, scanned with one rule.
fn mixed_bundle(
    dir: &Path,
    deadline: Option<RunDeadline>,
    rules: &RuleSet,
) -> hiveward_engine::ScanReport {
    let bundle = dir.join("bundle");
    for (folder, bytes) in [
        ("FS01", system_hive("FS01")),
        (
            "WS02",
            hiveward_testkit::dirty_primary(&system_hive("WS02"), 7),
        ),
        ("HOSTB", Vec::new()),
    ] {
        std::fs::create_dir_all(bundle.join(folder)).unwrap();
        std::fs::write(bundle.join(folder).join("SYSTEM"), bytes).unwrap();
    }
    std::fs::write(bundle.join("notes.txt"), "not evidence\n").unwrap();
    let collection = collect(
        discover(std::slice::from_ref(&bundle), &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    run_scan(
        collection,
        rules,
        &ScanSettings {
            inputs: vec![bundle],
            profile: "cis".to_string(),
            deadline,
            ..ScanSettings::default()
        },
    )
}

#[test]
fn sarif_artifacts_and_junit_name_every_file_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let text = rule("T-ANY-001", "", "fn check(host) { [] }");
    let rules = load_with(vec![pack("p", &[("T-ANY-001", &text)])], Limits::default());
    let report = mixed_bundle(dir.path(), None, &rules);
    let mut files: Vec<(String, &str)> = Vec::new();
    for host in &report.hosts {
        for file in &host.files {
            let status = serde_json::to_value(file.status).unwrap();
            files.push((
                file.path.clone(),
                if status == "read" {
                    "read"
                } else if status == "partial" {
                    "partial"
                } else {
                    "unreadable"
                },
            ));
        }
    }
    let statuses: Vec<&str> = files.iter().map(|(_, status)| *status).collect();
    for wanted in ["read", "partial", "unreadable"] {
        assert!(
            statuses.contains(&wanted),
            "the fixture has a {wanted} file: {files:?}"
        );
    }
    assert_eq!(report.passed_over.len(), 1);

    let options = SarifOptions {
        source_root: Some(dir.path().to_path_buf()),
        ..SarifOptions::default()
    };
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &options)).unwrap();
    let artifacts = sarif["runs"][0]["artifacts"].as_array().expect("artifacts");
    let listed: BTreeMap<String, (String, Value)> = artifacts
        .iter()
        .map(|artifact| {
            (
                artifact["location"]["uri"].as_str().unwrap().to_string(),
                (
                    artifact["properties"]["status"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                    artifact["roles"].clone(),
                ),
            )
        })
        .collect();
    assert_eq!(listed.len(), files.len() + 1, "{listed:?}");
    for (path, status) in &files {
        let uri = Path::new(path)
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let (found, roles) = &listed[&uri];
        assert_eq!(found, status, "{uri}");
        assert_eq!(roles, &serde_json::json!(["analysisTarget"]));
    }
    assert_eq!(listed["bundle/notes.txt"].0, "passed_over");

    let junit = junit_xml(&report);
    let document = roxmltree::Document::parse(&junit).unwrap();
    let properties: Vec<(String, String)> = document
        .descendants()
        .filter(|node| node.has_tag_name("property"))
        .map(|node| {
            (
                node.attribute("name").unwrap().to_string(),
                node.attribute("value").unwrap().to_string(),
            )
        })
        .collect();
    for (path, status) in &files {
        assert!(
            properties.contains(&(status.to_string(), path.clone())),
            "{path} ({status}) in {properties:?}"
        );
    }
    assert!(properties
        .iter()
        .any(|(name, value)| name == "passed over" && value.contains("notes.txt")));
    // The evidence suites hold no testcases: the totals still count the rules' cases only.
    let root = document.root_element();
    let cases = document
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .count();
    assert_eq!(root.attribute("tests").unwrap(), cases.to_string());
}

// ---------------------------------------------------------------------------------------------
// Defect 14 (c): the run's --timeout.
// ---------------------------------------------------------------------------------------------

/// `T-A-001` loops until a deadline stops it; `T-B-001` would report a finding.
fn looping_rules() -> RuleSet {
    let looping = rule("T-A-001", "", "fn check(host) {\n    loop {}\n}");
    let finding = rule(
        "T-B-001",
        "",
        "fn check(host) {\n    [#{ message: \"ran\" }]\n}",
    );
    load_with(
        vec![pack("p", &[("T-A-001", &looping), ("T-B-001", &finding)])],
        Limits::default(),
    )
}

fn one_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(work)
}

#[test]
fn evaluations_after_the_run_deadline_are_not_checked() {
    let rules = looping_rules();
    let timeout = Timeout::parse("1ms").unwrap();
    let context = context_map("cis", &BTreeMap::new());
    // One thread runs T-A-001 first; it cannot end before the 1 ms deadline stops it (its
    // own operation limit is far away), so T-B-001 always starts after the deadline.
    let evaluation = one_thread(|| {
        let deadline = RunDeadline::start(timeout);
        rules.evaluate_until(&[], &[host("FS01")], &context, Some(&deadline))
    });
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert!(evaluation.findings.is_empty());
    let outcomes: Vec<(&str, Outcome, &str)> = evaluation
        .outcomes
        .iter()
        .map(|outcome| {
            (
                outcome.rule.as_str(),
                outcome.outcome,
                outcome.reason.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].0, "T-A-001");
    assert_eq!(outcomes[0].1, Outcome::NotChecked);
    assert!(
        outcomes[0]
            .2
            .starts_with("the run's --timeout of 1ms expired "),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[1],
        (
            "T-B-001",
            Outcome::NotChecked,
            "the run's --timeout of 1ms expired before this rule ran"
        )
    );
    assert_eq!(evaluation.timed_out, 2);
}

#[test]
fn a_run_with_a_timeout_that_does_not_expire_is_unchanged() {
    let rules = looping_rules();
    let context = context_map("cis", &BTreeMap::new());
    let hosts = [host("FS01")];
    let limits_only = rules.evaluate_only(&["T-B-001"], &hosts, &context);
    let deadline = RunDeadline::start(Timeout::parse("1h").unwrap());
    let timed = rules.evaluate_until(&["T-B-001"], &hosts, &context, Some(&deadline));
    assert_eq!(timed.outcomes, limits_only.outcomes);
    assert_eq!(timed.findings, limits_only.findings);
    assert_eq!(timed.timed_out, 0);
}

#[test]
fn a_timed_out_scan_is_incomplete_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let rules = looping_rules();
    let report = one_thread(|| {
        let deadline = RunDeadline::start(Timeout::parse("1ms").unwrap());
        mixed_bundle(dir.path(), Some(deadline), &rules)
    });
    assert!(report.summary.timed_out >= 2, "{:?}", report.summary);
    assert_eq!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    assert!(report.notices.iter().any(|notice| notice
        .message
        .contains("the run's --timeout of 1ms expired")));
    let fs01 = report
        .hosts
        .iter()
        .find(|host| host.name == "FS01")
        .unwrap();
    assert!(fs01.notices.iter().any(
        |notice| notice.code == "hiveward::scan::timeout" && notice.message.contains("T-B-001")
    ));
    let mut text = Vec::new();
    hiveward_engine::write_scan_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("--timeout of 1ms expired"), "{text}");
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &SarifOptions::default())).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert!(invocation["toolExecutionNotifications"]
        .to_string()
        .contains("--timeout of 1ms expired before this rule ran"));
    let junit = junit_xml(&report);
    assert!(
        junit.contains("not checked: the run&apos;s --timeout of 1ms expired before this rule ran"),
        "{junit}"
    );
}

#[test]
fn results_lost_from_the_temporary_files_make_the_report_incomplete_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let passing = rule("T-OK-001", "", "fn check(host) {\n    []\n}");
    let rules = load_with(
        vec![pack("p", &[("T-OK-001", &passing)])],
        Limits::default(),
    );
    let mut report = one_thread(|| mixed_bundle(dir.path(), None, &rules));
    assert_ne!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    assert!(!report.lost_results());
    // What finish_scan adds when an item could not be read back from a spool.
    report.notices.push(hiveward_collectors::Notice {
        level: hiveward_collectors::NoticeLevel::Error,
        code: hiveward_engine::SPOOL_READ_FAILED.to_string(),
        file: None,
        message: "a result could not be read back from the scan's temporary file (disk error); it is missing from this report".to_string(),
    });
    assert!(report.lost_results());
    assert_eq!(report.exit_code_with(None, true), EXIT_INCOMPLETE);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("it is missing from this report"), "{json}");
    let mut text = Vec::new();
    hiveward_engine::write_scan_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("it is missing from this report"), "{text}");
    let sarif = serde_json::to_value(to_sarif(&report, &rules, &SarifOptions::default())).unwrap();
    assert!(
        sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
            .to_string()
            .contains("it is missing from this report")
    );
    let junit = junit_xml(&report);
    assert!(junit.contains("<testsuite name=\"run notices\""), "{junit}");
    assert!(junit.contains("it is missing from this report"), "{junit}");
}
