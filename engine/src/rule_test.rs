//! `hiveward rules test`: runs the test cases that sit beside each rule (`RULE-ID.tests.toml`)
//! and reports each as PASS or FAIL with a diff and the `file:line` of the case, as text, JSON
//! (`schemas/rules-test.schema.json`) or JUnit XML.
//!
//! A case runs the rule the way a scan does: the host is built from the case's evidence as the
//! collectors build one, and the rule sees only the event records its `needs` declares.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hiveward_collectors::{HostRegistry, RegExport, RegistrySource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::host_api::{HostFacts, HostHandle};
use crate::outcome::Outcome;
use crate::ruleset::RuleSet;
use crate::selector::RuleSelector;
use crate::trace::{Trace, FLEET_HOST};

/// One host of a test case.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CaseHost {
    name: String,
    #[serde(default)]
    reg: String,
    #[serde(default)]
    events: Vec<CaseEvent>,
    /// Channels of event logs present on the host, with or without records.
    #[serde(default)]
    logs: Vec<String>,
    /// Key LastWriteTimes (RFC 3339) by key path, which `.reg` text cannot record.
    #[serde(default)]
    key_written: BTreeMap<String, String>,
}

/// An event of a test case, as a small map.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CaseEvent {
    channel: String,
    id: u32,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    record_id: Option<u64>,
    #[serde(default)]
    computer: Option<String>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    data: BTreeMap<String, toml::Value>,
}

fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(text) => serde_json::Value::String(text.clone()),
        toml::Value::Integer(number) => serde_json::Value::from(*number),
        toml::Value::Float(number) => serde_json::Value::from(*number),
        toml::Value::Boolean(flag) => serde_json::Value::Bool(*flag),
        toml::Value::Datetime(datetime) => serde_json::Value::String(datetime.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(toml_to_json).collect())
        }
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), toml_to_json(value)))
                .collect(),
        ),
    }
}

fn case_events(
    host: &str,
    origin: &str,
    events: &[CaseEvent],
) -> Vec<hiveward_collectors::EventRecord> {
    let mut records: Vec<hiveward_collectors::EventRecord> = events
        .iter()
        .enumerate()
        .map(|(index, event)| hiveward_collectors::EventRecord {
            channel: event.channel.clone(),
            provider: event.provider.clone(),
            id: event.id,
            time: event
                .time
                .clone()
                .unwrap_or_else(|| format!("2026-01-01T00:00:{:02}.000000Z", index % 60)),
            record_id: event.record_id.unwrap_or(index as u64 + 1),
            computer: event.computer.clone().unwrap_or_else(|| host.to_string()),
            data: event
                .data
                .iter()
                .map(|(name, value)| (name.clone(), toml_to_json(value)))
                .collect(),
            file: format!("{origin}#events"),
        })
        .collect();
    records.sort_by(|a, b| a.time.cmp(&b.time).then(a.record_id.cmp(&b.record_id)));
    records
}

/// One test case, as written in a `*.tests.toml` file.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Case {
    #[schemars(with = "String")]
    pub(crate) name: toml::Spanned<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    expect: Vec<String>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    message_contains: Option<String>,
    /// When given, every finding of the case must be marked inferred (`true`) or not (`false`);
    /// in a case without findings, every pass on the case's host (else every host).
    #[serde(default)]
    inferred: Option<bool>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    reg: Option<String>,
    #[serde(default)]
    hosts: Vec<CaseHost>,
    /// Events as small maps: `{ channel, id, provider, time, record_id, computer, data }`.
    #[serde(default)]
    events: Vec<CaseEvent>,
    /// Channels of event logs present on the host, with or without records: a log that holds
    /// no matching record is evidence of absence.
    #[serde(default)]
    logs: Vec<String>,
    /// The outcome the rule must reach on the case's host (`host`, else every host):
    /// `findings`, `passed`, `not_applicable` or `not_checked`. Without it, a case that
    /// expects no finding must pass on at least one host: "clean" means checked and clean.
    #[serde(default)]
    outcome: Option<String>,
    /// Text the outcome's reason must contain (for `not_applicable` and `not_checked`).
    #[serde(default)]
    reason_contains: Option<String>,
    /// Key LastWriteTimes (RFC 3339) by key path as rules write it, which `.reg` text cannot
    /// record: `key_written = { 'HKLM\SYSTEM\...\Parameters' = "2026-01-01T00:00:00Z" }`.
    #[serde(default)]
    key_written: BTreeMap<String, String>,
}

/// A rule's `*.tests.toml` file: `[[case]]` tables.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(title = "hiveward rule test file")]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseFile {
    #[serde(default)]
    pub(crate) case: Vec<Case>,
}

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The rule the case tests.
    pub rule: String,
    /// The test file.
    pub file: String,
    /// The line (from 1) of the case's `[[case]]` header in `file`, or of the place a test
    /// file that cannot be read goes wrong; `None` for the coverage check.
    pub line: Option<usize>,
    /// The case name; `(file)` for a test file that cannot be read, `(coverage)` for a kind of
    /// case the rule lacks.
    pub name: String,
    /// `None` when it passed; otherwise what differed.
    pub failure: Option<String>,
    /// What the rule wrote with `print` and `debug` during the case (see
    /// [`TestReport::write_with`]); prefixed with the host's name when the case has several
    /// hosts, and `fleet: ` for a fleet rule's `check`.
    pub output: Vec<String>,
}

impl CaseResult {
    /// `file:line`, or `file` when the line is not known.
    pub fn place(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }

    /// `case`, `file` or `coverage`.
    pub(crate) fn kind(&self) -> &'static str {
        match (self.name.as_str(), self.line) {
            ("(coverage)", None) => "coverage",
            ("(file)", _) => "file",
            _ => "case",
        }
    }
}

/// The JSON report of `hiveward rules test --format json` (`schemas/rules-test.schema.json`).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesTestJson {
    /// Always `hiveward-rules-test`.
    pub format: String,
    /// The version of this structure; fields are only ever added within a version.
    pub version: u32,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed (a non-zero count makes the command exit 1).
    pub failed: usize,
    /// Every result, in the order the text report lists them: the cases of each test file in
    /// file order, then the coverage checks.
    pub results: Vec<RulesTestCaseJson>,
}

/// One result of [`RulesTestJson`].
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesTestCaseJson {
    /// The rule id.
    pub rule: String,
    /// The case name; `(file)` for a test file that cannot be read, `(coverage)` for a kind of
    /// case the rule lacks.
    pub case: String,
    /// `case`, `file` (the test file cannot be read or names no loaded rule) or `coverage`.
    pub kind: String,
    /// The test file (the rule's file for a coverage check of a rule without one).
    pub file: String,
    /// The line (from 1) of the case's `[[case]]` header, or of the mistake in a test file
    /// that cannot be read; `null` for coverage checks.
    #[schemars(required)]
    pub line: Option<usize>,
    /// Whether it passed.
    pub passed: bool,
    /// What differed, as the text report shows it (`- expected ...` / `+ actual ...` lines);
    /// `null` when it passed.
    #[schemars(required)]
    pub failure: Option<String>,
    /// What the rule wrote with `print` and `debug` during the case, one line each: `debug`
    /// lines as `[debug FILE:LINE:COLUMN] TEXT`, lines of a case with several hosts prefixed
    /// with `HOST: ` (`fleet: ` for a fleet rule's `check`), and a last `…[output cut: …]`
    /// line when the rule wrote more than `rules test` keeps. Left out when it wrote nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<String>,
}

/// The version of [`RulesTestJson`].
const RULES_TEST_JSON_VERSION: u32 = 1;

/// The outcome of a test run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestReport {
    /// Every case, in file order.
    pub results: Vec<CaseResult>,
}

impl TestReport {
    /// Cases that failed.
    pub fn failures(&self) -> usize {
        self.results
            .iter()
            .filter(|result| result.failure.is_some())
            .count()
    }

    /// Runs the test cases of the rules `rules` selects (every rule when empty; each
    /// selector as `scan --only` reads it: an id, an id glob such as `HW-ALIAS-*`, a pack or a
    /// severity bound), and of those only the cases whose name contains `case` (without
    /// regard to case). The coverage check (a case where the rule fires, a clean one and a
    /// not-applicable one) is made when every case of a rule runs, that is without `case`.
    ///
    /// A selector that selects no loaded rule, or a `case` that selects no case, is an error
    /// saying so.
    pub fn run(
        rules: &RuleSet,
        selectors: &[RuleSelector],
        case: Option<&str>,
    ) -> Result<TestReport, String> {
        run_selected(rules, selectors, case)
    }

    /// The JSON report (`schemas/rules-test.schema.json`).
    pub fn json(&self) -> RulesTestJson {
        RulesTestJson {
            format: "hiveward-rules-test".to_string(),
            version: RULES_TEST_JSON_VERSION,
            passed: self.results.len() - self.failures(),
            failed: self.failures(),
            results: self
                .results
                .iter()
                .map(|result| RulesTestCaseJson {
                    rule: result.rule.clone(),
                    case: result.name.clone(),
                    kind: result.kind().to_string(),
                    file: result.file.clone(),
                    line: result.line,
                    passed: result.failure.is_none(),
                    failure: result.failure.clone(),
                    output: result.output.clone(),
                })
                .collect(),
        }
    }

    /// The JSON Schema of [`TestReport::json`], as committed in
    /// `schemas/rules-test.schema.json`.
    pub fn json_schema() -> schemars::Schema {
        schemars::schema_for!(RulesTestJson)
    }
}

fn host_from_reg(
    name: &str,
    origin: &str,
    text: &str,
    events: &[CaseEvent],
    logs: &[String],
    key_written: &BTreeMap<String, String>,
) -> Result<HostHandle, String> {
    let mut registry = HostRegistry::new();
    if !text.trim().is_empty() {
        let (export, skipped) =
            RegExport::parse_with_skipped(Path::new(origin), text.trim_start().as_bytes())
                .map_err(|error| format!("the case's .reg text does not parse: {error}"))?;
        // A scan reads the rest of an export around a bad line; a case's text is the author's,
        // so a bad line there is a mistake to fix, not evidence to judge.
        if let Some(error) = skipped.first() {
            return Err(format!("the case's .reg text does not parse: {error}"));
        }
        // A case states the host's registry: a key its text does not write is absent.
        registry.add(RegistrySource::Export(export.as_whole_hives()));
    }
    for (path, time) in key_written {
        let filetime = hiveward_collectors::rfc3339_to_filetime(time)
            .ok_or_else(|| format!("key_written: `{time}` for {path} is not an RFC 3339 time"))?;
        registry.state_key_time(path, filetime);
    }
    // OS facts and hotfixes as a scan reads them for a host (a scan notes what it cannot
    // read; so does the rule that reads it).
    let (os, hotfixes) = crate::inspect::os_and_hotfixes(&registry, &mut Vec::new());
    Ok(HostHandle(Arc::new(HostFacts {
        name: name.to_string(),
        registry,
        os,
        hotfixes,
        files: Vec::new(),
        events: case_events(name, origin, events),
        log_channels: logs.to_vec(),
        memo: Default::default(),
    })))
}

fn run_case(rules: &RuleSet, rule: &str, origin: &str, case: &Case) -> Option<String> {
    // As in a scan, a site value the rule does not declare in its `params` is refused.
    if let Some(compiled) = rules.rule(rule) {
        if let Some(name) = case.params.keys().find(|name| {
            !compiled
                .meta
                .params
                .keys()
                .any(|declared| crate::rule::param_declared(declared, name))
        }) {
            return Some(format!(
                "the case gives --param `{name}`, which {rule} does not declare: a scan would refuse it; add it to the rule's `params: #{{ \"{name}\": \"what it means\" }}`"
            ));
        }
    }
    let mut hosts = Vec::new();
    if case.reg.is_some() || !case.events.is_empty() {
        let name = case.host.clone().unwrap_or_else(|| "HOST".to_string());
        let text = case.reg.clone().unwrap_or_default();
        match host_from_reg(
            &name,
            &format!("{origin}#{}", case.name.get_ref()),
            &text,
            &case.events,
            &case.logs,
            &case.key_written,
        ) {
            Ok(host) => hosts.push(host),
            Err(error) => return Some(error),
        }
    }
    for host in &case.hosts {
        match host_from_reg(
            &host.name,
            &format!("{origin}#{}/{}", case.name.get_ref(), host.name),
            &host.reg,
            &host.events,
            &host.logs,
            &host.key_written,
        ) {
            Ok(handle) => hosts.push(handle),
            Err(error) => return Some(error),
        }
    }
    if hosts.is_empty() {
        return Some("the case has no `reg` and no `hosts`".to_string());
    }
    let context =
        crate::ruleset::context_map(case.profile.as_deref().unwrap_or("cis"), &case.params);
    let evaluation = rules.evaluate_only(&[rule], &hosts, &context);
    let wanted_outcome = match case.outcome.as_deref().map(Outcome::parse) {
        None => None,
        Some(Some(outcome)) => Some(outcome),
        Some(None) => {
            return Some(format!(
                "unknown outcome {:?}: expected findings, passed, not_applicable or not_checked",
                case.outcome.as_deref().unwrap_or_default()
            ))
        }
    };
    if wanted_outcome == Some(Outcome::NotChecked) {
        return check_outcome(&evaluation, case, Outcome::NotChecked);
    }
    if let Some(unchecked) = evaluation.unchecked.first() {
        return Some(format!(
            "evidence unreadable on host {}: {}",
            unchecked.host, unchecked.message
        ));
    }
    if let Some(error) = evaluation.rule_errors.first() {
        return Some(format!(
            "rule error on host {}: {} (line {})",
            error.host,
            error.message,
            error.line.map_or("?".to_string(), |line| line.to_string())
        ));
    }
    let mut fired: Vec<String> = evaluation
        .findings
        .iter()
        .map(|finding| finding.rule.clone())
        .collect();
    fired.sort();
    fired.dedup();
    let mut expected = case.expect.clone();
    expected.sort();
    expected.dedup();
    let mut problems = Vec::new();
    if fired != expected {
        problems.push(format!("- expected: {expected:?}\n+ actual:   {fired:?}"));
    }
    if let Some(count) = case.count {
        if evaluation.findings.len() != count {
            problems.push(format!(
                "- expected {count} finding(s)\n+ got {}",
                evaluation.findings.len()
            ));
        }
    }
    if let Some(needle) = &case.message_contains {
        if !evaluation
            .findings
            .iter()
            .any(|finding| finding.message.contains(needle.as_str()))
        {
            problems.push(format!(
                "- expected a message containing {needle:?}\n+ messages: {:?}",
                evaluation
                    .findings
                    .iter()
                    .map(|finding| finding.message.as_str())
                    .collect::<Vec<_>>()
            ));
        }
    }
    if let Some(inferred) = case.inferred {
        let other: Vec<&str> = evaluation
            .findings
            .iter()
            .filter(|finding| finding.inferred != inferred)
            .map(|finding| finding.message.as_str())
            .collect();
        let (want, got) = if inferred {
            ("inferred", "not inferred")
        } else {
            ("not inferred", "inferred")
        };
        if !other.is_empty() {
            problems.push(format!(
                "- expected every finding {want}\n+ {got}: {other:?}"
            ));
        }
        if evaluation.findings.is_empty() {
            let passes: Vec<&crate::outcome::RuleOutcome> = evaluation
                .outcomes
                .iter()
                .filter(|outcome| outcome.outcome == Outcome::Passed && on_case_host(case, outcome))
                .collect();
            let other: Vec<String> = passes
                .iter()
                .filter(|outcome| outcome.inferred != inferred)
                .map(|outcome| outcome.host.clone())
                .collect();
            if passes.is_empty() {
                problems.push(format!(
                    "- expected a pass {want}\n+ no pass; outcomes: {}",
                    describe_outcomes(&evaluation)
                ));
            } else if !other.is_empty() {
                problems.push(format!(
                    "- expected every pass {want}\n+ {got} on {}; outcomes: {}",
                    other.join(", "),
                    describe_outcomes(&evaluation)
                ));
            }
        }
    }
    match wanted_outcome {
        Some(outcome) => {
            if let Some(problem) = check_outcome(&evaluation, case, outcome) {
                problems.push(problem);
            }
        }
        None if case.expect.is_empty()
            && fired.is_empty()
            && !evaluation
                .outcomes
                .iter()
                .any(|outcome| outcome.outcome == Outcome::Passed) =>
        {
            problems.push(format!(
                "- expected the rule to check and pass (a clean case must be checked; give `outcome = \"not_applicable\"` if it should not apply)\n+ outcomes: {}",
                describe_outcomes(&evaluation)
            ));
        }
        None => {}
    }
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// The output `trace` captured during one case: plain lines when one host wrote them all,
/// otherwise each prefixed with its host (`fleet: ` for a fleet rule's `check`).
fn case_output(trace: &Trace) -> Vec<String> {
    let outputs = trace.outputs();
    let single = outputs.len() <= 1 && outputs.iter().all(|item| item.host != FLEET_HOST);
    let mut lines = Vec::new();
    for item in outputs {
        let prefix = match item.host.as_str() {
            _ if single => String::new(),
            FLEET_HOST => "fleet: ".to_string(),
            host => format!("{host}: "),
        };
        lines.extend(item.lines.into_iter().map(|line| format!("{prefix}{line}")));
    }
    lines
}

fn describe_outcomes(evaluation: &crate::ruleset::Evaluation) -> String {
    evaluation
        .outcomes
        .iter()
        .map(|outcome| match &outcome.reason {
            Some(reason) => format!("{} {} ({reason})", outcome.host, outcome.outcome.name()),
            None => format!("{} {}", outcome.host, outcome.outcome.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `outcome` is on the case's host: its `host` in a case of several hosts (every host
/// when it names none); the only host otherwise.
fn on_case_host(case: &Case, outcome: &crate::outcome::RuleOutcome) -> bool {
    case.hosts.is_empty()
        || case
            .host
            .as_deref()
            .is_none_or(|host| outcome.host.eq_ignore_ascii_case(host))
}

/// Checks that the case's host (or every host) reached `wanted`, with the reason it names.
fn check_outcome(
    evaluation: &crate::ruleset::Evaluation,
    case: &Case,
    wanted: Outcome,
) -> Option<String> {
    let subjects: Vec<&crate::outcome::RuleOutcome> = evaluation
        .outcomes
        .iter()
        .filter(|outcome| on_case_host(case, outcome))
        .collect();
    if subjects.is_empty() {
        return Some(format!(
            "- expected outcome {}\n+ no outcome for the case's host; outcomes: {}",
            wanted.name(),
            describe_outcomes(evaluation)
        ));
    }
    let mut problems = Vec::new();
    for subject in subjects {
        if subject.outcome != wanted {
            problems.push(format!(
                "- expected outcome {} on {}\n+ got {}{}",
                wanted.name(),
                subject.host,
                subject.outcome.name(),
                subject
                    .reason
                    .as_deref()
                    .map(|reason| format!(" ({reason})"))
                    .unwrap_or_default()
            ));
        } else if let Some(needle) = &case.reason_contains {
            let reason = subject.reason.as_deref().unwrap_or_default();
            if !reason.contains(needle.as_str()) {
                problems.push(format!(
                    "- expected a reason containing {needle:?} on {}\n+ reason: {reason:?}",
                    subject.host
                ));
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("\n"))
}

/// Runs the test cases of every loaded pack against `rules`, and checks that each rule has a
/// case where it fires, a clean case and a not-applicable case that pass.
pub fn run_rule_tests(rules: &RuleSet) -> TestReport {
    run_selected(rules, &[], None).unwrap_or_default()
}

/// The line (from 1) of the `[[case]]` header of the case whose name is at byte `name_at`:
/// the last header before it, else the line of the name itself (a case written inline).
fn case_line(text: &str, name_at: usize) -> usize {
    let before = &text[..name_at.min(text.len())];
    let mut offset = 0;
    let mut header = None;
    for line in before.split_inclusive('\n') {
        let bare: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if bare.starts_with("[[case]]") {
            header = Some(offset);
        }
        offset += line.len();
    }
    crate::error::line_column(text, header.unwrap_or(name_at)).0
}

/// Whether `selector` names `id` (an id or a glob over ids) even though no loaded rule has it:
/// a test file for a rule that is not loaded is reported when the filter names its id.
fn names_id(selector: &RuleSelector, id: &str) -> bool {
    match selector {
        RuleSelector::Name(name) => name.eq_ignore_ascii_case(id),
        RuleSelector::Glob(_, glob) => glob.is_match(id),
        RuleSelector::Pack(_) | RuleSelector::Severity(..) => false,
    }
}

/// What the coverage check knows of one rule: per kind of case (fires, clean, not
/// applicable), whether one passed, and the names of the cases of that kind that failed.
#[derive(Default)]
struct Coverage {
    passed: [bool; 3],
    failed: [Vec<String>; 3],
}

/// The kind of `case` for the coverage check of `rule`: 0 fires, 1 clean, 2 not applicable.
fn coverage_kind(rule: &str, case: &Case) -> Option<usize> {
    let declared = case.outcome.as_deref().and_then(Outcome::parse);
    if case.expect.iter().any(|id| id.eq_ignore_ascii_case(rule)) {
        Some(0)
    } else if declared == Some(Outcome::NotApplicable) {
        Some(2)
    } else if declared.is_none() || declared == Some(Outcome::Passed) {
        Some(1)
    } else {
        None
    }
}

fn run_selected(
    rules: &RuleSet,
    selectors: &[RuleSelector],
    case_filter: Option<&str>,
) -> Result<TestReport, String> {
    let named_rule = |selector: &RuleSelector| match selector {
        RuleSelector::Name(name) => rules.rule(name).is_some(),
        _ => false,
    };
    let selected = |meta: &crate::rule::RuleMeta| {
        selectors.is_empty()
            || selectors
                .iter()
                .any(|selector| selector.matches(meta, named_rule(selector)))
    };
    for selector in selectors {
        let named = named_rule(selector);
        if !rules
            .rules()
            .iter()
            .any(|rule| selector.matches(&rule.meta, named))
        {
            return Err(format!(
                "--rule {}: no loaded rule matches it (see `hiveward rules list`)",
                selector.text()
            ));
        }
    }
    let wanted_case = |name: &str| {
        case_filter.is_none_or(|needle| name.to_lowercase().contains(&needle.to_lowercase()))
    };
    let mut report = TestReport::default();
    let mut coverage: BTreeMap<String, Coverage> = rules
        .rules()
        .iter()
        .filter(|rule| selected(&rule.meta))
        .map(|rule| (rule.meta.id.clone(), Coverage::default()))
        .collect();
    let mut test_files: BTreeMap<String, String> = BTreeMap::new();
    let mut cases_run = 0;
    for pack in rules.packs() {
        for file in &pack.tests {
            let rule = file.file_name.trim_end_matches(".tests.toml").to_string();
            let fail = |name: &str, line: Option<usize>, failure: String| CaseResult {
                rule: rule.clone(),
                file: file.origin.clone(),
                line,
                name: name.to_string(),
                failure: Some(failure),
                output: Vec::new(),
            };
            let Some(compiled) = rules.rule(&rule) else {
                if selectors.is_empty() || selectors.iter().any(|s| names_id(s, &rule)) {
                    report.results.push(fail(
                        "(file)",
                        None,
                        format!("no loaded rule has the id {rule}"),
                    ));
                }
                continue;
            };
            if !selected(&compiled.meta) {
                continue;
            }
            let rule = compiled.meta.id.clone();
            test_files.insert(rule.clone(), file.origin.clone());
            let parsed: CaseFile = match toml::from_str(&file.text) {
                Ok(parsed) => parsed,
                Err(error) => {
                    let (line, column) = crate::error::line_column(
                        &file.text,
                        error.span().map_or(0, |span| span.start),
                    );
                    report.results.push(fail(
                        "(file)",
                        Some(line),
                        format!("{}:{line}:{column}: {}", file.origin, error.message()),
                    ));
                    continue;
                }
            };
            for case in &parsed.case {
                let name = case.name.get_ref();
                if !wanted_case(name) {
                    continue;
                }
                cases_run += 1;
                let trace = Trace::all();
                let failure = trace.run(|| run_case(rules, &rule, &file.origin, case));
                let output = case_output(&trace);
                if let (Some(entry), Some(kind)) =
                    (coverage.get_mut(&rule), coverage_kind(&rule, case))
                {
                    if failure.is_none() {
                        entry.passed[kind] = true;
                    } else {
                        entry.failed[kind].push(name.clone());
                    }
                }
                report.results.push(CaseResult {
                    rule: rule.clone(),
                    file: file.origin.clone(),
                    line: Some(case_line(&file.text, case.name.span().start)),
                    name: name.clone(),
                    failure,
                    output,
                });
            }
        }
    }
    if let Some(needle) = case_filter {
        if cases_run == 0 {
            return Err(format!(
                "--case {needle:?}: no case{} has a name containing it",
                if selectors.is_empty() {
                    String::new()
                } else {
                    " of the selected rules".to_string()
                }
            ));
        }
        // Only some cases ran: what a rule lacks cannot be told.
        return Ok(report);
    }
    for (rule, entry) in coverage {
        let test_file = test_files.get(&rule).cloned();
        let origin = test_file.clone().unwrap_or_else(|| {
            rules
                .rule(&rule)
                .map(|compiled| compiled.file.origin.clone())
                .unwrap_or_default()
        });
        let where_to = match &test_file {
            Some(file) => file.clone(),
            None => format!("{rule}.tests.toml beside the rule"),
        };
        let kinds = [
            ("case where it fires", format!("`expect = [\"{rule}\"]`")),
            (
                "clean case (one where it checks the host and finds nothing)",
                "`expect = []`".to_string(),
            ),
            (
                "not-applicable case (one where the host lacks what it needs)",
                "`expect = []` and `outcome = \"not_applicable\"`".to_string(),
            ),
        ];
        for (index, (what, keys)) in kinds.iter().enumerate() {
            if entry.passed[index] {
                continue;
            }
            let failed = &entry.failed[index];
            let failure = match failed.as_slice() {
                [] => format!("the rule has no {what}: add one with {keys} to {where_to}"),
                [name] => format!(
                    "the rule has no passing {what}: the case {name:?} is one but fails (see its FAIL line); fix it"
                ),
                names => format!(
                    "the rule has no passing {what}: the cases {} are such cases but fail (see their FAIL lines); fix one of them",
                    names
                        .iter()
                        .map(|name| format!("{name:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            report.results.push(CaseResult {
                rule: rule.clone(),
                file: origin.clone(),
                line: None,
                name: "(coverage)".to_string(),
                failure: Some(failure),
                output: Vec::new(),
            });
        }
    }
    Ok(report)
}
