//! The Rhai sandbox: runaway rules, forbidden functions and out-of-pack imports become rule
//! errors (or load errors) that name the rule, the host, the file and the line, and never stop
//! the other rules of the run.
//!
//! Nothing here measures time: the test harness finishing is the proof that each case is bounded.

use std::collections::BTreeMap;

use hiveward_engine::{
    Evaluation, HostHandle, Limits, PackSource, RuleError, RuleLoadError, RuleSet,
};

mod common;
use common::{evaluate, host_from_reg, load_with, pack_folder, pack_source, rule_origin};

/// The rule that must keep producing its finding next to every misbehaving rule.
const GOOD_ID: &str = "T-GOOD-001";
/// The misbehaving rule.
const BAD_ID: &str = "T-BAD-001";

/// A pack named `name` with `rules` as (id, text) and `libs` as (module, text).
fn pack(name: &str, rules: &[(&str, &str)], libs: &[(&str, &str)]) -> PackSource {
    let manifest = format!(
        "name = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"sandbox tests\"\nmin_hiveward = \"0.1.0\"\n"
    );
    pack_source(name, &manifest, rules, libs)
}

/// A rule file: the `RULE` map on line 1, `body` from line 2 on.
fn rule_text(id: &str, pack: &str, body: &str) -> String {
    format!(
        "export const RULE = #{{ id: \"{id}\", pack: \"{pack}\", title: \"t\", description: \"d\", severity: \"low\", fix: \"f\" }};\n{body}\n"
    )
}

fn good_rule(pack: &str) -> String {
    rule_text(
        GOOD_ID,
        pack,
        "fn check(host) {\n    #{ message: `good on ${host.name}` }\n}",
    )
}

/// The one-based line of `text` that holds `needle` (which must occur exactly once).
fn line_of(text: &str, needle: &str) -> usize {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .map(|(index, _)| index + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{needle:?} must occur on exactly one line");
    lines[0]
}

fn host(name: &str) -> HostHandle {
    host_from_reg(
        name,
        r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\Select]
"Current"=dword:00000001

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\LanmanServer\Parameters]
"SmbServerNameHardeningLevel"=dword:00000001
"#,
    )
}

fn load(packs: Vec<PackSource>, limits: Limits) -> RuleSet {
    load_with(packs, limits)
}

/// Limits small enough to keep runaway rules short.
fn small_limits() -> Limits {
    Limits {
        max_operations: 200_000,
        ..Limits::default()
    }
}

/// Loads pack `p` with the good rule and `bad` (the text of [`BAD_ID`]), runs both on host FS01
/// and checks that the bad rule became exactly one rule error while the good rule still found.
/// Returns the rule error.
fn contained(bad: &str, libs: &[(&str, &str)], limits: Limits) -> RuleError {
    let good = good_rule("p");
    let rules = load(
        vec![pack("p", &[(GOOD_ID, &good), (BAD_ID, bad)], libs)],
        limits,
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert_good_still_found(&evaluation);
    assert!(
        evaluation
            .findings
            .iter()
            .all(|finding| finding.rule != BAD_ID),
        "the bad rule must not produce findings: {:?}",
        evaluation.findings
    );
    assert_eq!(
        evaluation.rule_errors.len(),
        1,
        "exactly one rule error: {:?}",
        evaluation.rule_errors
    );
    let error = evaluation.rule_errors[0].clone();
    assert_eq!(error.rule, BAD_ID);
    assert_eq!(error.host, "FS01");
    assert_eq!(error.file, rule_origin("p", BAD_ID));
    error
}

fn assert_good_still_found(evaluation: &Evaluation) {
    let good: Vec<&str> = evaluation
        .findings
        .iter()
        .filter(|finding| finding.rule == GOOD_ID)
        .map(|finding| finding.message.as_str())
        .collect();
    assert_eq!(
        good,
        ["good on FS01"],
        "the good rule must still produce its finding (errors: {:?})",
        evaluation.rule_errors
    );
}

/// The one load error of `packs`, with its line and column.
fn refused_at_load(packs: Vec<PackSource>) -> (String, usize, usize) {
    let errors = match RuleSet::load(packs, small_limits()) {
        Ok(_) => panic!("the packs must not load"),
        Err(errors) => errors,
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    match &errors[0] {
        RuleLoadError::Invalid { line, column, .. } => (errors[0].to_string(), *line, *column),
        other => panic!("a located load error, not {other:?}"),
    }
}

fn assert_mentions(error: &RuleError, needles: &[&str]) {
    for needle in needles {
        assert!(
            error.message.contains(needle),
            "the rule error message {:?} must mention {needle:?}",
            error.message
        );
    }
}

#[test]
fn an_endless_loop_is_stopped_by_the_operation_limit() {
    let bad = rule_text(BAD_ID, "p", "fn check(host) {\n    loop {}\n}");
    let error = contained(&bad, &[], small_limits());
    assert_mentions(&error, &["sandbox limit", "too many operations"]);
}

#[test]
fn an_endless_loop_is_stopped_under_the_default_limits() {
    let bad = rule_text(BAD_ID, "p", "fn check(host) {\n    loop {}\n}");
    let error = contained(&bad, &[], Limits::default());
    // Five million operations normally come first; on a slow or busy machine (a debug build
    // on two loaded cores) the ten-second deadline can: either way the defaults bound it.
    assert_mentions(&error, &["sandbox limit"]);
    assert!(
        error.message.contains("too many operations") || error.message.contains("out of time"),
        "{}",
        error.message
    );
}

#[test]
fn endless_recursion_is_stopped_by_the_call_depth_limit() {
    // Default limits: the call depth limit, not the native stack, must stop it.
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn f(n) { f(n + 1) }\nfn check(host) {\n    f(0)\n}",
    );
    let error = contained(&bad, &[], Limits::default());
    assert_mentions(&error, &["sandbox limit", "nested too deeply"]);
}

#[test]
fn endless_recursion_is_stopped_under_small_limits_too() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn f(n) { f(n + 1) }\nfn check(host) {\n    f(0)\n}",
    );
    let limits = Limits {
        max_call_levels: 8,
        ..small_limits()
    };
    let error = contained(&bad, &[], limits);
    assert_mentions(&error, &["sandbox limit", "nested too deeply"]);
}

#[test]
fn a_doubling_string_is_stopped_by_the_string_size_limit() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let s = \"x\";\n    loop { s += s; }\n}",
    );
    let error = contained(&bad, &[], small_limits());
    assert_mentions(&error, &["sandbox limit", "string"]);
}

#[test]
fn blob_array_and_map_bombs_are_stopped_by_their_size_limits() {
    let cases = [
        (
            "fn check(host) {\n    let b = blob(100000000);\n    #{ message: `${b.len()}` }\n}",
            "BLOB",
        ),
        (
            "fn check(host) {\n    let a = [];\n    a.pad(100000000, 1);\n    #{ message: `${a.len()}` }\n}",
            "array",
        ),
        (
            "fn check(host) {\n    let s = \"\";\n    s.pad(100000000, \"x\");\n    #{ message: s }\n}",
            "string",
        ),
        (
            "fn check(host) {\n    let m = #{};\n    for i in 0..1000 { m[`k${i}`] = i; }\n    #{ message: `${m.len()}` }\n}",
            "map",
        ),
    ];
    for (body, what) in cases {
        let limits = Limits {
            max_map_size: 100,
            ..small_limits()
        };
        let error = contained(&rule_text(BAD_ID, "p", body), &[], limits);
        assert_mentions(&error, &["sandbox limit", what]);
    }
}

#[test]
fn eval_is_rejected_when_the_rule_loads() {
    // `eval` is a disabled symbol, so the rule never compiles: the whole load fails with a
    // diagnostic at the `eval` call.
    let bad = rule_text(BAD_ID, "p", "fn check(host) {\n    eval(\"1\")\n}");
    let line = line_of(&bad, "eval(");
    let good = good_rule("p");
    let Err(errors) = RuleSet::load(
        vec![pack("p", &[(GOOD_ID, &good), (BAD_ID, &bad)], &[])],
        small_limits(),
    ) else {
        panic!("a rule calling eval must not load");
    };
    let shown: Vec<String> = errors.iter().map(|error| error.to_string()).collect();
    assert_eq!(
        shown,
        [format!(
            "{}:{line}:5: syntax error: reserved keyword 'eval' is disabled",
            rule_origin("p", BAD_ID)
        )]
    );
}

#[test]
fn eval_through_a_function_pointer_is_refused_at_run_time() {
    for body in [
        "fn check(host) {\n    let f = Fn(\"eval\");\n    f.call(\"#{ message: `evaluated` }\")\n}",
        "fn check(host) {\n    call(Fn(\"eval\"), \"#{ message: `evaluated` }\")\n}",
    ] {
        let error = contained(&rule_text(BAD_ID, "p", body), &[], small_limits());
        assert_mentions(&error, &["'eval'"]);
    }
}

#[test]
fn an_import_outside_the_pack_lib_is_refused() {
    for path in [
        "../../etc/passwd",
        "/etc/passwd",
        "lib/../../../etc/passwd",
        r"C:\\Windows\\win.ini",
        "helpers.rhai",
    ] {
        let bad = rule_text(
            BAD_ID,
            "p",
            &format!(
                "import \"{path}\" as x;\nfn check(host) {{\n    #{{ message: \"imported\" }}\n}}"
            ),
        );
        let (message, line, column) = refused_at_load(vec![pack(
            "p",
            &[(BAD_ID, &bad)],
            &[("helpers", "fn hi() { 42 }")],
        )]);
        for needle in ["refused", "own pack's lib/", "\"helpers\""] {
            assert!(message.contains(needle), "{path}: {message}");
        }
        assert_eq!(line, line_of(&bad, "import \""), "{path}");
        assert_eq!(column, 8, "{path}");
    }
}

#[test]
fn an_import_inside_check_outside_the_pack_lib_is_refused() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    import \"../../etc/passwd\" as x;\n    #{ message: \"imported\" }\n}",
    );
    let (message, line, _) = refused_at_load(vec![pack("p", &[(BAD_ID, &bad)], &[])]);
    assert!(message.contains("refused"), "{message}");
    assert_eq!(line, line_of(&bad, "import \""));
}

/// Pack `q` has a lib module `secret` that only its own rules may import.
fn other_pack() -> PackSource {
    pack(
        "q",
        &[],
        &[
            ("secret", "fn s() { \"secret of q\" }"),
            ("helpers", "fn who() { \"q\" }"),
        ],
    )
}

#[test]
fn an_import_of_another_packs_lib_is_refused() {
    for (path, needle) in [
        ("secret", "pack `p` has no lib/secret.rhai"),
        ("q/secret", "refused"),
        ("../q/lib/secret", "refused"),
        ("q::secret", "refused"),
    ] {
        let bad = rule_text(
            BAD_ID,
            "p",
            &format!("import \"{path}\" as x;\nfn check(host) {{\n    #{{ message: x::s() }}\n}}"),
        );
        let (message, line, _) =
            refused_at_load(vec![pack("p", &[(BAD_ID, &bad)], &[]), other_pack()]);
        assert!(message.contains(needle), "{path}: {message}");
        assert_eq!(line, line_of(&bad, "import \""), "{path}");
    }
}

#[test]
fn a_pack_name_with_a_slash_does_not_reach_another_packs_lib() {
    // The resolver reads the importing pack back from the AST source `pack:NAME/FILE`; a pack
    // whose manifest name is `q/evil` must not pass for pack `q`. Either the pack is refused
    // when it loads, or the import is refused when the rule runs.
    let evil = rule_text(
        "T-EVIL-001",
        "q/evil",
        "import \"secret\" as x;\nfn check(host) {\n    #{ message: x::s() }\n}",
    );
    let packs = vec![other_pack(), pack("q/evil", &[("T-EVIL-001", &evil)], &[])];
    let Ok(rules) = RuleSet::load(packs, small_limits()) else {
        return;
    };
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert!(
        evaluation.findings.is_empty(),
        "pack `q/evil` imported pack `q`'s lib/secret.rhai: {:?}",
        evaluation
            .findings
            .iter()
            .map(|finding| (&finding.rule, &finding.message))
            .collect::<Vec<_>>()
    );
    assert_eq!(evaluation.rule_errors.len(), 1);
}

#[test]
fn a_rule_imports_its_own_packs_lib() {
    // Both packs have lib/helpers.rhai; each rule gets its own pack's module.
    let at_top = rule_text(
        "T-TOP-001",
        "p",
        "import \"helpers\" as h;\nfn check(host) {\n    #{ message: `${h::who()} ${h::twice(21)}` }\n}",
    );
    let in_check = rule_text(
        "T-IN-001",
        "p",
        "fn check(host) {\n    import \"helpers\" as h;\n    #{ message: `${h::who()} ${h::twice(2)}` }\n}",
    );
    let other = rule_text(
        "T-Q-001",
        "q",
        "import \"helpers\" as h;\nfn check(host) {\n    #{ message: h::who() }\n}",
    );
    let good = good_rule("p");
    let rules = load(
        vec![
            pack(
                "p",
                &[
                    (GOOD_ID, &good),
                    ("T-TOP-001", &at_top),
                    ("T-IN-001", &in_check),
                ],
                &[("helpers", "fn who() { \"p\" }\nfn twice(n) { n * 2 }")],
            ),
            pack(
                "q",
                &[("T-Q-001", &other)],
                &[("helpers", "fn who() { \"q\" }")],
            ),
        ],
        small_limits(),
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert_good_still_found(&evaluation);
    let found: BTreeMap<&str, &str> = evaluation
        .findings
        .iter()
        .map(|finding| (finding.rule.as_str(), finding.message.as_str()))
        .collect();
    assert_eq!(found.get("T-TOP-001"), Some(&"p 42"));
    assert_eq!(found.get("T-IN-001"), Some(&"p 4"));
    assert_eq!(found.get("T-Q-001"), Some(&"q"));
}

#[test]
fn a_million_findings_are_stopped_by_the_array_size_limit() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let all = [];\n    for i in 0..1000000 {\n        all.push(#{ message: `finding ${i}` });\n    }\n    all\n}",
    );
    let limits = Limits {
        max_array_size: 1_000,
        ..small_limits()
    };
    let error = contained(&bad, &[], limits);
    assert_mentions(&error, &["sandbox limit", "array"]);
}

#[test]
fn a_million_findings_are_stopped_under_the_default_limits() {
    // `pad` grows the array in one step, so the default array limit stops it at once.
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let all = [];\n    all.pad(1000000, #{ message: \"finding\" });\n    all\n}",
    );
    let error = contained(&bad, &[], Limits::default());
    // Rhai sizes the whole value at once: the million items or their million message strings
    // (7 MB of text) trip the array or the string limit, whichever it checks first.
    assert_mentions(&error, &["sandbox limit", "grew too large"]);
    assert!(
        error.message.contains("array") || error.message.contains("string"),
        "{}",
        error.message
    );
}

#[test]
fn more_findings_than_the_findings_limit_are_a_rule_error() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let all = [];\n    for i in 0..11 {\n        all.push(#{ message: `finding ${i}` });\n    }\n    all\n}",
    );
    let limits = Limits {
        max_findings: 10,
        ..small_limits()
    };
    let error = contained(&bad, &[], limits);
    assert_eq!(
        error.message,
        "the rule returned 11 findings; the limit is 10"
    );
    // At the limit, every finding is kept.
    let at_limit = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let all = [];\n    for i in 0..10 {\n        all.push(#{ message: `finding ${i}` });\n    }\n    all\n}",
    );
    let rules = load(
        vec![pack("p", &[(BAD_ID, &at_limit)], &[])],
        Limits {
            max_findings: 10,
            ..small_limits()
        },
    );
    let evaluation = evaluate(&rules, &[host("FS01")]);
    assert!(evaluation.rule_errors.is_empty());
    assert_eq!(evaluation.findings.len(), 10);
}

#[test]
fn file_network_and_process_functions_do_not_exist() {
    let calls = [
        "open(\"x\")",
        "system(\"ls\")",
        "exec(\"ls\")",
        "read_file(\"/etc/passwd\")",
        "open_file(\"/etc/passwd\")",
        "http_get(\"http://example.com\")",
        "connect(\"example.com:80\")",
        "env(\"PATH\")",
    ];
    for call in calls {
        let bad = rule_text(
            BAD_ID,
            "p",
            &format!("fn check(host) {{\n    let x = {call};\n    #{{ message: `${{x}}` }}\n}}"),
        );
        // Refused when the pack loads, before the rule ever runs.
        let (message, line, column) = refused_at_load(vec![pack("p", &[(BAD_ID, &bad)], &[])]);
        let name = &call[..call.find('(').unwrap()];
        assert!(
            message.contains(&format!("unknown function `{name}`")),
            "{call}: {message}"
        );
        assert_eq!((line, column), (3, 13), "{call}: {message}");
    }
}

/// Rule, host, file, line and column of a rule error.
type Place<'a> = (&'a str, &'a str, &'a str, Option<usize>, Option<usize>);

#[test]
fn rule_errors_carry_the_rule_host_file_line_and_column() {
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn helper(x) {\n    let y = x + 1;\n      parse_int(\"x\", \"y\")\n}\n\nfn check(host) {\n    let a = 1;\n    if host.name == \"FS02\" {\n        helper(a)\n    } else {\n        to_upper(\"ls\", 2)\n    }\n}",
    );
    let good = good_rule("p");
    let rules = load(
        vec![pack("p", &[(GOOD_ID, &good), (BAD_ID, &bad)], &[])],
        small_limits(),
    );
    let evaluation = evaluate(&rules, &[host("FS01"), host("FS02")]);
    assert_eq!(
        evaluation
            .findings
            .iter()
            .map(|finding| (finding.rule.as_str(), finding.host.as_str()))
            .collect::<Vec<_>>(),
        [(GOOD_ID, "FS01"), (GOOD_ID, "FS02")]
    );
    assert_eq!(evaluation.evaluations, 2);
    let origin = rule_origin("p", BAD_ID);
    let places: Vec<Place> = evaluation
        .rule_errors
        .iter()
        .map(|error| {
            (
                error.rule.as_str(),
                error.host.as_str(),
                error.file.as_str(),
                error.line,
                error.column,
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (
                BAD_ID,
                "FS01",
                origin.as_str(),
                Some(line_of(&bad, "to_upper(")),
                Some(9)
            ),
            (
                BAD_ID,
                "FS02",
                origin.as_str(),
                Some(line_of(&bad, "parse_int(")),
                Some(7)
            ),
        ]
    );
    assert_mentions(
        &evaluation.rule_errors[0],
        &["Function not found: to_upper"],
    );
    assert_mentions(
        &evaluation.rule_errors[1],
        &["in helper()", "Function not found: parse_int"],
    );
}

#[test]
fn a_failure_inside_a_lib_function_points_at_a_line_of_the_file_it_names() {
    // The lib throws on its line 4; the rule calls it on its line 8. The error names the rule
    // file, so its line must be a line of the rule file (the call), or else the error must name
    // the lib file with the lib's line.
    let lib = "fn ok() { 1 }\n\nfn boom() {\n    throw \"boom\";\n}\n";
    let bad = rule_text(
        BAD_ID,
        "p",
        "import \"helpers\" as h;\n\n\n\nfn check(host) {\n    let x = 1;\n        h::boom()\n}",
    );
    let call_line = line_of(&bad, "h::boom()");
    let throw_line = line_of(lib, "throw");
    assert_ne!(call_line, throw_line);
    let error = contained(&bad, &[("helpers", lib)], small_limits());
    assert_mentions(&error, &["boom"]);
    let lib_origin = format!("{}/lib/helpers.rhai", pack_folder("p"));
    let place = (error.file.clone(), error.line);
    assert!(
        place == (rule_origin("p", BAD_ID), Some(call_line))
            || place == (lib_origin.clone(), Some(throw_line)),
        "the error says {}:{:?}, but the failing statement is {}:{call_line} (the call) or {lib_origin}:{throw_line} (the throw)",
        error.file,
        error.line,
        rule_origin("p", BAD_ID),
    );
}

#[test]
fn sandbox_limit_errors_point_at_a_line_of_the_rule() {
    // The loop on line 4 runs out of operations; the error should point at the loop (or at
    // least at `check`), as every other rule error does.
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let n = 0;\n    loop {\n        n += 1;\n    }\n}",
    );
    let error = contained(&bad, &[], small_limits());
    assert_mentions(&error, &["too many operations"]);
    let check_line = line_of(&bad, "fn check");
    let end_line = line_of(&bad, "n += 1");
    assert!(
        error.line.is_some_and(|line| (check_line..=end_line).contains(&line)),
        "a sandbox-limit error carries line {:?}; expected a line between {check_line} and {end_line}",
        error.line
    );
}

#[test]
fn a_deeply_nested_expression_is_a_load_error() {
    let bad = rule_text(
        BAD_ID,
        "p",
        &format!(
            "fn check(host) {{\n    let x = {}1{};\n    #{{ message: \"nested\" }}\n}}",
            "(".repeat(5_000),
            ")".repeat(5_000)
        ),
    );
    let Err(errors) = RuleSet::load(vec![pack("p", &[(BAD_ID, &bad)], &[])], small_limits()) else {
        panic!("5000 nested parentheses must not load");
    };
    assert_eq!(errors.len(), 1);
    let shown = errors[0].to_string();
    let prefix = format!("{}:{}:", rule_origin("p", BAD_ID), line_of(&bad, "let x"));
    assert!(
        shown.starts_with(&prefix) && shown.contains("maximum complexity"),
        "{shown}"
    );
}

/// Loads `bad` next to the good rule; a load error naming the file is an acceptable refusal.
/// Otherwise runs both on FS01 and checks that the bad rule became a rule error, without a
/// panic escaping `evaluate`.
fn contained_or_refused(bad: &str, limits: Limits) {
    let good = good_rule("p");
    let rules = match RuleSet::load(
        vec![pack("p", &[(GOOD_ID, &good), (BAD_ID, bad)], &[])],
        limits,
    ) {
        Ok(rules) => rules,
        Err(errors) => {
            let shown = errors[0].to_string();
            assert!(shown.starts_with(&rule_origin("p", BAD_ID)), "{shown}");
            return;
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate(&rules, &[host("FS01")])
    }));
    let evaluation = match outcome {
        Ok(evaluation) => evaluation,
        Err(panic) => panic!(
            "evaluating the rule panicked instead of reporting a rule error: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_default()
        ),
    };
    assert_good_still_found(&evaluation);
    assert!(
        evaluation
            .findings
            .iter()
            .all(|finding| finding.rule != BAD_ID),
        "the rule ran to the end instead of being stopped: {:?}",
        evaluation
            .findings
            .iter()
            .map(|finding| (&finding.rule, &finding.message))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        evaluation.rule_errors.len(),
        1,
        "{:?}",
        evaluation.rule_errors
    );
}

#[test]
fn a_rule_cannot_block_its_thread_with_sleep() {
    // Rhai's core package has `sleep(seconds)`, which blocks the thread without counting
    // operations, so neither the operation limit nor the deadline can stop it.
    for call in ["sleep(1)", "sleep(0.5)", "Fn(\"sleep\").call(1)"] {
        let bad = rule_text(
            BAD_ID,
            "p",
            &format!("fn check(host) {{\n    {call};\n    #{{ message: \"slept\" }}\n}}"),
        );
        let limits = Limits {
            max_duration: std::time::Duration::from_millis(100),
            ..small_limits()
        };
        contained_or_refused(&bad, limits);
    }
}

#[test]
fn an_out_of_range_sleep_is_a_rule_error_not_a_panic() {
    // `sleep(1e300)` makes `Duration::from_secs_f64` panic inside Rhai.
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    sleep(1e300);\n    #{ message: \"slept\" }\n}",
    );
    contained_or_refused(&bad, small_limits());
}

/// Set in the child process that [`in_child_process`] starts.
const CHILD_VARIABLE: &str = "HIVEWARD_SANDBOX_TEST_CHILD";

/// Runs the test `name` of this binary in a child process and fails if it fails or has not
/// finished after a generous while, killing it then. This detects hangs without leaving a
/// spinning thread behind in this process; it is not a timing assertion.
fn in_child_process(name: &str) {
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VARIABLE, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test binary starts");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            let output = child.wait_with_output().expect("child output");
            assert!(
                status.success(),
                "{name} failed in the child process:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} still ran after 30 seconds and was killed: the rule hangs in native code that the sandbox limits do not reach");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn padding_a_string_with_an_empty_string_does_not_hang() {
    in_child_process("child_pad_with_an_empty_string");
}

/// Runs only in the child process of [`padding_a_string_with_an_empty_string_does_not_hang`]:
/// Rhai's `pad(len, "")` loops forever inside native code, where neither the operation limit
/// nor the deadline is checked.
#[test]
fn child_pad_with_an_empty_string() {
    if std::env::var_os(CHILD_VARIABLE).is_none() {
        return;
    }
    let bad = rule_text(
        BAD_ID,
        "p",
        "fn check(host) {\n    let s = \"a\";\n    s.pad(10, \"\");\n    #{ message: s }\n}",
    );
    contained_or_refused(&bad, small_limits());
}
