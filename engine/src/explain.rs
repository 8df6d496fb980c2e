//! `scan --explain RULE --host NAME`: one rule evaluated on one host, and what it read there (each
//! host API call with the value found or "absent" and the default applied), its `needs`
//! verdict, its `print`/`debug` output and its outcome, as an [`Explanation`].

use std::cell::RefCell;

use hiveward_collectors::{path_text, CollectOptions, Located, PlannedHost, RegValue};
use serde::Serialize;

use crate::rule::Scope as RuleScope;
use crate::ruleset::{context_map, RuleSet};
use crate::scan::ScanSettings;
use crate::trace::{scan_planned_hosts_traced, Trace, FLEET_HOST};

/// The most host reads one explanation lists; later ones are counted.
pub const MAX_READS: usize = 2_000;

/// The most record ids an events query lists.
const MAX_RECORD_IDS: usize = 5;

/// The most bytes of a value an explanation shows.
const MAX_VALUE_BYTES: usize = 200;

/// One host API call of the explained rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Read {
    /// A registry value: `host.reg`, `host.reg_type` or `host.setting`.
    Value {
        /// The call, such as `host.setting`.
        call: String,
        /// The key as the rule wrote it.
        key: String,
        /// The value name (empty: the key's default value).
        value_name: String,
        /// The value as found (`reg query` style), or `None` when absent.
        found: Option<String>,
        /// Its registry type, when found.
        value_type: Option<String>,
        /// The evidence file it was read from, when found.
        file: Option<String>,
        /// The default the call applied because the value is absent (`host.setting(key, name,
        /// default)`), as Rhai writes it.
        default_applied: Option<String>,
    },
    /// A registry key: `host.key_exists`, `host.subkeys`, `host.values` or `host.key_info`.
    Key {
        /// The call.
        call: String,
        /// The key as the rule wrote it.
        key: String,
        /// Whether the key exists.
        found: bool,
        /// What the call returned, in short (such as `3 subkey(s)`).
        detail: Option<String>,
    },
    /// An events query: `host.events(#{ channel, ids, ... })`.
    Events {
        /// The channel asked for.
        channel: String,
        /// The event ids asked for (empty: any the rule declares).
        ids: Vec<i64>,
        /// How many records it returned.
        returned: usize,
        /// The record ids of the first records returned.
        first_record_ids: Vec<u64>,
    },
    /// Another fact: `host.os`, `host.hotfix`, `host.has_hive`, `host.has_log`,
    /// `host.audit_policy`.
    Fact {
        /// The call, with its argument.
        call: String,
        /// What it returned, in short.
        result: String,
    },
    /// A read the damaged evidence refused.
    Unreadable {
        /// What could not be read, naming the file.
        message: String,
    },
}

impl Read {
    /// A registry value read by `call`: `found` as located, and the default the call applied
    /// when it is absent.
    pub(crate) fn value(
        call: &str,
        key: &str,
        value_name: &str,
        found: Option<&Located<RegValue>>,
        default: Option<&rhai::Dynamic>,
    ) -> Read {
        Read::Value {
            call: call.to_string(),
            key: key.to_string(),
            value_name: value_name.to_string(),
            found: found.map(|found| short(&found.data.display_data())),
            value_type: found.map(|found| found.data.value_type.name().to_string()),
            file: found.map(|found| path_text(&found.file)),
            default_applied: match found {
                Some(_) => None,
                None => default.map(|default| short(&format!("{default:?}"))),
            },
        }
    }

    /// A key read by `call`.
    pub(crate) fn key(call: &str, key: &str, found: bool, detail: Option<String>) -> Read {
        Read::Key {
            call: call.to_string(),
            key: key.to_string(),
            found,
            detail,
        }
    }

    /// A `host.subkeys` or `host.values` call: how many items the key holds, `None` when the
    /// key is absent.
    pub(crate) fn listing(call: &str, key: &str, count: Option<usize>) -> Read {
        let noun = if call.ends_with("subkeys") {
            "subkey(s)"
        } else {
            "value(s)"
        };
        Read::key(
            call,
            key,
            count.is_some(),
            count.map(|n| format!("{n} {noun}")),
        )
    }

    /// A `host.audit_policy()` call and the layout of the policy it returned.
    pub(crate) fn audit_policy(policy: &rhai::Dynamic) -> Read {
        let layout = policy
            .read_lock::<rhai::Map>()
            .and_then(|map| map.get("layout").map(|layout| layout.to_string()));
        Read::fact(
            "host.audit_policy()".to_string(),
            layout.map_or("absent".to_string(), |layout| format!("layout {layout}")),
        )
    }

    /// A fact read by `call`.
    pub(crate) fn fact(call: String, result: String) -> Read {
        Read::Fact {
            call,
            result: short(&result),
        }
    }

    /// An events query and the record ids it returned.
    pub(crate) fn events(channel: &str, ids: &[i64], record_ids: &[u64]) -> Read {
        Read::Events {
            channel: channel.to_string(),
            ids: ids.to_vec(),
            returned: record_ids.len(),
            first_record_ids: record_ids.iter().take(MAX_RECORD_IDS).copied().collect(),
        }
    }
}

fn short(text: &str) -> String {
    crate::budget::shorten(text, MAX_VALUE_BYTES)
}

/// The reads recorded for one evaluation, and how many were left out.
#[derive(Default)]
pub(crate) struct ReadLog {
    pub(crate) reads: Vec<Read>,
    pub(crate) cut: usize,
}

thread_local! {
    /// The reads of the explained evaluation running on this thread; `None` otherwise.
    static RECORDER: RefCell<Option<ReadLog>> = const { RefCell::new(None) };
}

/// Records a host read when the evaluation on this thread is explained; otherwise `read` is
/// never called.
pub(crate) fn record(read: impl FnOnce() -> Read) {
    RECORDER.with(|recorder| {
        if let Some(log) = recorder.borrow_mut().as_mut() {
            if log.reads.len() < MAX_READS {
                log.reads.push(read());
            } else {
                log.cut += 1;
            }
        }
    });
}

/// Whether the evaluation on this thread is explained.
pub(crate) fn recording() -> bool {
    RECORDER.with(|recorder| recorder.borrow().is_some())
}

pub(crate) fn start_recording() {
    RECORDER.with(|recorder| *recorder.borrow_mut() = Some(ReadLog::default()));
}

pub(crate) fn stop_recording() -> ReadLog {
    RECORDER
        .with(|recorder| recorder.borrow_mut().take())
        .unwrap_or_default()
}

/// One evidence file of the explained host.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainFile {
    /// Its path.
    pub path: String,
    /// What it is (`hive`, `reg_export`, `evtx`, …), with the hive type when known.
    pub kind: String,
    /// Whether it was read (`read`, `partial`, `unreadable`, …).
    pub status: String,
}

/// One finding the rule returned for the host.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainFinding {
    /// Its severity.
    pub severity: String,
    /// Its message.
    pub message: String,
    /// Whether it is inferred.
    pub inferred: bool,
}

/// What `scan --explain` shows (`--format json` writes it as is).
#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    /// Always `hiveward-explain`.
    pub format: String,
    /// The version of this structure.
    pub version: u32,
    /// The rule id.
    pub rule: String,
    /// Its title.
    pub title: String,
    /// `host` or `fleet`.
    pub scope: String,
    /// The host explained.
    pub host: String,
    /// The host's evidence files.
    pub files: Vec<ExplainFile>,
    /// `applicable`, `not_applicable`, `not_checked` (the evidence its `needs` names is
    /// damaged) or `not_evaluated` (the rule never reached the host).
    pub needs: String,
    /// Why, when the host is not applicable or not checked by its `needs`.
    pub needs_reason: Option<String>,
    /// The host API calls, in order (for a fleet rule: those of `summarize(host)`).
    pub reads: Vec<Read>,
    /// Calls left out past the first [`MAX_READS`].
    pub reads_cut: usize,
    /// A fleet rule's summary of the host, as `summarize` returned it.
    pub summary: Option<serde_json::Value>,
    /// `print`/`debug` output on the host, then that of a fleet rule's `check(fleet)`.
    pub output: Vec<String>,
    /// The outcome on the host: `findings`, `passed`, `not_applicable`, `not_checked` or
    /// `error`.
    pub outcome: String,
    /// Why, for `not_applicable`, `not_checked` and `error`.
    pub reason: Option<String>,
    /// The findings for the host.
    pub findings: Vec<ExplainFinding>,
}

/// Runs `rule` as a scan would, on `host` only (a fleet rule: `summarize` on every host, then
/// `check(fleet)`), and explains what it did on `host`. Every rule of `rules` runs: select the
/// rule first. An unknown rule or host is an error naming the nearest known ones.
pub fn explain_rule(
    hosts: &[PlannedHost],
    rules: &RuleSet,
    settings: &ScanSettings,
    options: &CollectOptions,
    rule: &str,
    host: &str,
) -> Result<Explanation, String> {
    let Some(compiled) = rules.rule(rule) else {
        let ids: Vec<&str> = rules.rules().iter().map(|r| r.meta.id.as_str()).collect();
        return Err(unknown("rule", rule, &ids));
    };
    let meta = compiled.meta.clone();
    let Some(planned) = hosts
        .iter()
        .find(|planned| planned.name.eq_ignore_ascii_case(host))
    else {
        let names: Vec<&str> = hosts.iter().map(|planned| planned.name.as_str()).collect();
        return Err(unknown("host", host, &names));
    };
    let name = planned.name.clone();
    let trace = Trace::explain(&meta.id, &name);
    let fleet = meta.scope == RuleScope::Fleet;
    let keep = |candidate: &PlannedHost| fleet || candidate.name == name;
    let results =
        scan_planned_hosts_traced(hosts, &keep, rules, settings, options, &|_| {}, &trace);
    let mut files = Vec::new();
    let mut outcome = None;
    let mut findings = Vec::new();
    let mut summary = None;
    let mut contributions = Vec::new();
    for mut result in results.into_plan_order().stream() {
        if result.host.name == name {
            files = result
                .host
                .files
                .iter()
                .map(|file| ExplainFile {
                    path: file.path.clone(),
                    kind: match file.hive_kind {
                        Some(kind) => format!("{} ({})", snake(&file.kind), snake(&kind)),
                        None => snake(&file.kind),
                    },
                    status: snake(&file.status),
                })
                .collect();
            outcome = result
                .evaluation
                .outcomes
                .iter()
                .find(|outcome| outcome.rule == meta.id)
                .cloned();
            findings.append(&mut result.evaluation.findings);
            summary = result
                .evaluation
                .contributions
                .iter()
                .find(|item| item.rule == meta.id)
                .and_then(|item| item.summary.as_ref())
                .and_then(|raw| serde_json::from_str(raw.get()).ok());
        }
        contributions.append(&mut result.evaluation.contributions);
    }
    if fleet && outcome.is_none() {
        let context = context_map(&crate::pipeline::profile_of(settings), &settings.params);
        let judged =
            trace.run(|| rules.evaluate_fleet(&[meta.id.as_str()], contributions, &context, None));
        outcome = judged
            .outcomes
            .into_iter()
            .find(|outcome| outcome.host.eq_ignore_ascii_case(&name));
        findings.extend(
            judged
                .findings
                .into_iter()
                .filter(|finding| finding.host.eq_ignore_ascii_case(&name)),
        );
    }
    let explained = trace.take_explained();
    let (needs, needs_reason) = match explained.needs {
        Some(Ok(None)) => ("applicable", None),
        Some(Ok(Some(reason))) => ("not_applicable", Some(reason)),
        Some(Err(message)) => ("not_checked", Some(message)),
        None => ("not_evaluated", None),
    };
    let mut output = Vec::new();
    for item in trace.outputs() {
        if item.rule != meta.id {
            continue;
        }
        if item.host == FLEET_HOST {
            output.extend(item.lines.into_iter().map(|line| format!("(check) {line}")));
        } else if item.host == name {
            output.extend(item.lines);
        }
    }
    let findings = findings
        .into_iter()
        .filter(|finding| finding.rule == meta.id)
        .map(|finding| ExplainFinding {
            severity: finding.severity.name().to_string(),
            message: finding.message,
            inferred: finding.inferred,
        })
        .collect();
    let (outcome, reason) = match outcome {
        Some(outcome) => (outcome.outcome.name().to_string(), outcome.reason),
        None => (
            "not_checked".to_string(),
            Some("the rule reached no outcome on the host".to_string()),
        ),
    };
    Ok(Explanation {
        format: "hiveward-explain".to_string(),
        version: 1,
        rule: meta.id.clone(),
        title: meta.title.clone(),
        scope: if fleet { "fleet" } else { "host" }.to_string(),
        host: name,
        files,
        needs: needs.to_string(),
        needs_reason,
        reads: explained.reads,
        reads_cut: explained.reads_cut,
        summary,
        output,
        outcome,
        reason,
        findings,
    })
}

/// A value's serde name (`snake_case` variants), for files' kinds and states.
fn snake<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// "unknown KIND `NAME`", with the nearest of `known`.
fn unknown(kind: &str, name: &str, known: &[&str]) -> String {
    let nearest = nearest(name, known);
    if nearest.is_empty() {
        format!("unknown {kind} `{name}`")
    } else {
        format!(
            "unknown {kind} `{name}`; the nearest: {}",
            nearest
                .iter()
                .map(|candidate| format!("`{candidate}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Up to three of `known` nearest to `name` (edit distance without regard to case, those that
/// contain it or that it contains first), nearest first.
pub fn nearest(name: &str, known: &[&str]) -> Vec<String> {
    let wanted = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = known
        .iter()
        .map(|candidate| {
            let lower = candidate.to_lowercase();
            let score = if lower.contains(&wanted) || wanted.contains(&lower) {
                0
            } else {
                distance(&wanted, &lower)
            };
            (score, *candidate)
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, candidate)| candidate.to_string())
        .collect()
}

/// The Levenshtein distance between `a` and `b`, in characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}
