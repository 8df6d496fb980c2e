//! `hiveward rules test`: runs the test cases that sit beside each rule (`RULE-ID.tests.toml`)
//! and reports each as PASS or FAIL with a diff.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hiveward_collectors::{read_hotfixes, read_os_facts, HostRegistry, RegExport, RegistrySource};
use serde::Deserialize;

use crate::host_api::{HostFacts, HostHandle};
use crate::outcome::Outcome;
use crate::ruleset::RuleSet;

/// One host of a test case.
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
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
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, String>,
    expect: Vec<String>,
    #[serde(default)]
    count: Option<usize>,
    #[serde(default)]
    message_contains: Option<String>,
    /// When given, every finding of the case must be marked inferred (`true`) or not (`false`).
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    case: Vec<Case>,
}

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// The rule the case tests.
    pub rule: String,
    /// The test file.
    pub file: String,
    /// The case name.
    pub name: String,
    /// `None` when it passed; otherwise what differed.
    pub failure: Option<String>,
}

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

    /// Writes `PASS`/`FAIL` lines, the diffs, and a closing count line, with control
    /// characters from the packs shown as visible escapes (see
    /// [`escape_terminal`](crate::escape_terminal)).
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        use crate::terminal::escape_terminal as one_line;
        let mut text = String::new();
        for result in &self.results {
            let (rule, name) = (one_line(&result.rule), one_line(&result.name));
            match &result.failure {
                None => text.push_str(&format!("PASS {rule} {name}\n")),
                Some(diff) => {
                    text.push_str(&format!(
                        "FAIL {rule} {name} ({})\n",
                        one_line(&result.file)
                    ));
                    for line in diff.lines() {
                        text.push_str(&format!("    {}\n", one_line(line)));
                    }
                }
            }
        }
        text.push_str(&format!(
            "rules test: {} passed, {} failed\n",
            self.results.len() - self.failures(),
            self.failures()
        ));
        out.write_all(crate::terminal::escape_terminal_lines(&text).as_bytes())
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
        let export = RegExport::parse(Path::new(origin), text.trim_start().as_bytes())
            .map_err(|error| format!("the case's .reg text does not parse: {error}"))?;
        registry.add(RegistrySource::Export(export));
    }
    for (path, time) in key_written {
        let filetime = hiveward_collectors::rfc3339_to_filetime(time)
            .ok_or_else(|| format!("key_written: `{time}` for {path} is not an RFC 3339 time"))?;
        registry.state_key_time(path, filetime);
    }
    let os = read_os_facts(&registry).map_err(|error| error.to_string())?;
    let hotfixes = read_hotfixes(&registry).map_err(|error| error.to_string())?;
    Ok(HostHandle(Arc::new(HostFacts {
        name: name.to_string(),
        registry,
        os,
        hotfixes,
        files: Vec::new(),
        events: case_events(name, origin, events),
        log_channels: logs.to_vec(),
    })))
}

fn run_case(rules: &RuleSet, rule: &str, origin: &str, case: &Case) -> Option<String> {
    let mut hosts = Vec::new();
    if case.reg.is_some() || !case.events.is_empty() {
        let name = case.host.clone().unwrap_or_else(|| "HOST".to_string());
        let text = case.reg.clone().unwrap_or_default();
        match host_from_reg(
            &name,
            &format!("{origin}#{}", case.name),
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
            &format!("{origin}#{}/{}", case.name, host.name),
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
        if !other.is_empty() {
            let (want, got) = if inferred {
                ("inferred", "not inferred")
            } else {
                ("not inferred", "inferred")
            };
            problems.push(format!(
                "- expected every finding {want}\n+ {got}: {other:?}"
            ));
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

/// Checks that the case's host (or every host) reached `wanted`, with the reason it names.
fn check_outcome(
    evaluation: &crate::ruleset::Evaluation,
    case: &Case,
    wanted: Outcome,
) -> Option<String> {
    let subjects: Vec<&crate::outcome::RuleOutcome> = evaluation
        .outcomes
        .iter()
        .filter(|outcome| {
            case.hosts.is_empty()
                || case
                    .host
                    .as_deref()
                    .is_none_or(|host| outcome.host.eq_ignore_ascii_case(host))
        })
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
/// case where it fires and a case where it stays silent.
pub fn run_rule_tests(rules: &RuleSet) -> TestReport {
    let mut report = TestReport::default();
    let mut coverage: BTreeMap<String, [bool; 3]> = rules
        .rules()
        .iter()
        .map(|rule| (rule.meta.id.clone(), [false; 3]))
        .collect();
    for pack in rules.packs() {
        for file in &pack.tests {
            let rule = file.file_name.trim_end_matches(".tests.toml").to_string();
            let fail = |name: &str, failure: String| CaseResult {
                rule: rule.clone(),
                file: file.origin.clone(),
                name: name.to_string(),
                failure: Some(failure),
            };
            if rules.rule(&rule).is_none() {
                report
                    .results
                    .push(fail("(file)", format!("no loaded rule has the id {rule}")));
                continue;
            }
            let parsed: CaseFile = match toml::from_str(&file.text) {
                Ok(parsed) => parsed,
                Err(error) => {
                    let (line, column) = crate::error::line_column(
                        &file.text,
                        error.span().map_or(0, |span| span.start),
                    );
                    report.results.push(fail(
                        "(file)",
                        format!("{}:{line}:{column}: {}", file.origin, error.message()),
                    ));
                    continue;
                }
            };
            for case in &parsed.case {
                let failure = run_case(rules, &rule, &file.origin, case);
                if failure.is_none() {
                    if let Some(entry) = coverage.get_mut(&rule) {
                        let declared = case.outcome.as_deref().and_then(Outcome::parse);
                        if case.expect.iter().any(|id| id == &rule) {
                            entry[0] = true;
                        } else if declared == Some(Outcome::NotApplicable) {
                            entry[2] = true;
                        } else if declared.is_none() || declared == Some(Outcome::Passed) {
                            entry[1] = true;
                        }
                    }
                }
                report.results.push(CaseResult {
                    rule: rule.clone(),
                    file: file.origin.clone(),
                    name: case.name.clone(),
                    failure,
                });
            }
        }
    }
    for (rule, [fires, clean, not_applicable]) in coverage {
        let origin = rules
            .rule(&rule)
            .map(|compiled| compiled.file.origin.clone())
            .unwrap_or_default();
        for (present, what) in [
            (fires, "case where it fires"),
            (clean, "clean case (checked and passed)"),
            (not_applicable, "not-applicable case"),
        ] {
            if !present {
                report.results.push(CaseResult {
                    rule: rule.clone(),
                    file: origin.clone(),
                    name: "(coverage)".to_string(),
                    failure: Some(format!(
                        "the rule has no passing {what}; add one to {rule}.tests.toml beside the rule"
                    )),
                });
            }
        }
    }
    report
}
