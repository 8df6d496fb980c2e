//! The HTML report: one self-contained page (styles and script inline, no fonts, images or
//! anything else loaded) rendered by `minijinja` from `templates/report.html`.
//!
//! - A dashboard: the totals, findings by severity and status, coverage, and a table of each
//!   host's findings by severity and coverage.
//! - A rule view: every rule with its findings and its outcomes over the hosts.
//! - A host view: each host's findings with their evidence and fix, then the outcome of every
//!   rule on it with the reason.
//! - Filters by severity, host, rule and outcome (a small script; without it the page reads in
//!   full), hidden when printed, and print styles that show everything.
//!
//! Every number a check may compare with the JSON report is in an element with a
//! `data-metric` naming it and a `data-count` holding it (see [`html_report`]).
//!
//! Report data is untrusted: a hive value can hold `<script>`. The template escapes every
//! value (minijinja's HTML auto-escaping); control characters are shown as visible escapes, as
//! in the text report; fix guidance, which is Markdown, is converted by `pulldown-cmark` with
//! raw HTML turned into text, images into their text and links kept only to `http:`, `https:`
//! and `mailto:` addresses. The page's Content-Security-Policy allows its own style and script
//! (by hash) and nothing else, so even markup that got through could load or run nothing.

use base64::Engine as _;
use hiveward_engine::{escape_terminal, escape_terminal_lines, Finding, ScanReport};
use minijinja::{Environment, UndefinedBehavior, Value};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::view::{self, OUTCOMES, SEVERITIES};
use crate::RenderError;

const TEMPLATE: &str = include_str!("../templates/report.html");
const STYLE: &str = include_str!("../templates/report.css");
const SCRIPT: &str = include_str!("../templates/report.js");

#[derive(Serialize)]
struct Page {
    tool: String,
    inputs: Vec<String>,
    profile: String,
    params: Vec<(String, String)>,
    csp: String,
    style: &'static str,
    script: &'static str,
    summary: Vec<Metric>,
    severities: Vec<SeverityTotal>,
    severity_bar: Vec<Segment>,
    statuses: Vec<Metric>,
    coverage: Vec<Metric>,
    coverage_bar: Vec<Segment>,
    files: Vec<Metric>,
    hosts: Vec<HostView>,
    rules: Vec<RuleView>,
    unhosted: Vec<FindingView>,
    notices: Vec<String>,
    problems: Vec<String>,
    passed_over: Vec<String>,
    outcomes: Vec<Choice>,
}

#[derive(Serialize)]
struct Metric {
    metric: String,
    id: Option<String>,
    label: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct SeverityTotal {
    key: &'static str,
    metric: Metric,
}

#[derive(Serialize)]
struct Segment {
    class: &'static str,
    label: &'static str,
    x: String,
    width: String,
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct HostView {
    index: usize,
    name: String,
    os: String,
    role: String,
    findings: usize,
    severities: Vec<Metric>,
    bar: Vec<Segment>,
    coverage: Vec<Metric>,
    checked: usize,
    rules: usize,
    items: Vec<FindingView>,
    outcomes: Vec<OutcomeView>,
    notices: Vec<String>,
    files: Vec<FileView>,
}

#[derive(Serialize)]
struct FileView {
    path: String,
    kind: String,
    status: String,
}

#[derive(Serialize)]
struct OutcomeView {
    rule: String,
    rule_index: Option<usize>,
    title: String,
    severity: String,
    outcome: &'static str,
    label: &'static str,
    reason: String,
    findings: usize,
}

#[derive(Serialize)]
struct FindingView {
    id: String,
    rule: String,
    rule_index: Option<usize>,
    host: String,
    host_index: Option<usize>,
    severity: &'static str,
    title: String,
    message: String,
    inferred: bool,
    status: &'static str,
    justification: String,
    owner: String,
    expires: String,
    evidence: Vec<EvidenceView>,
    fix: String,
    fingerprint: String,
    pack: String,
}

#[derive(Serialize)]
struct EvidenceView {
    kind: String,
    location: String,
    found: String,
    expected: String,
    files: String,
}

#[derive(Serialize)]
struct RuleView {
    index: usize,
    id: String,
    title: String,
    severity: &'static str,
    scope: String,
    pack: String,
    findings: usize,
    statuses: String,
    outcome_tokens: String,
    outcomes: Vec<Metric>,
    /// The first hosts with findings, with the id of the first finding on each.
    affected: Vec<(String, String)>,
    /// How many more hosts have findings.
    affected_more: usize,
}

/// How many hosts the rule view names for a rule; the others are counted.
const AFFECTED_SHOWN: usize = 12;

/// Renders `report` as one self-contained HTML page. The same report gives the same bytes.
///
/// The numbers on the page are in elements with a `data-metric` naming what they count and a
/// `data-count` holding it, where `H` is a host's index in the JSON report's `hosts`, `R` a
/// rule's in `rules`, and `S` a severity:
///
/// - `summary.FIELD` and `counts.S`: the JSON report's `summary` and `counts`;
/// - `coverage.not_checked`, `coverage.errors`: the sums over the hosts' `coverage`;
/// - `findings.open`, `findings.waived`, `findings.baselined`: the findings by status;
/// - `host.H.severity.S`, `host.H.coverage.FIELD`: a host's findings by severity, and its
///   `coverage`;
/// - `rule.R.findings`, `rule.R.outcome.OUTCOME`: a rule's findings, and how many hosts ended
///   in each outcome (`findings`, `passed`, `not_applicable`, `not_checked`, `error`).
///
/// The totals also have ids: `count-findings`, `count-high`, `count-checked`, ...
pub fn html_report(report: &ScanReport) -> Result<String, RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("report.html", TEMPLATE)?;
    let page = page(report);
    Ok(env
        .get_template("report.html")?
        .render(Value::from_serialize(&page))?)
}

/// `text` for one line of the page: control characters as visible escapes.
fn line(text: &str) -> String {
    escape_terminal(text).into_owned()
}

/// The name serde gives a unit variant, with spaces for underscores: `domain controller`.
fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name.replace('_', " "),
        _ => String::new(),
    }
}

fn hash_source(source: &str) -> String {
    let digest = Sha256::digest(source.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn metric(metric: impl Into<String>, label: &'static str, count: usize) -> Metric {
    Metric {
        metric: metric.into(),
        id: None,
        label,
        count,
    }
}

/// A report-wide total, which also gets an id: `count-` and the metric's last part, with
/// hyphens (`summary.not_applicable` is `count-not-applicable`).
fn total(name: &str, label: &'static str, count: usize) -> Metric {
    let last = name.rsplit('.').next().unwrap_or(name);
    Metric {
        id: Some(format!("count-{}", last.replace('_', "-"))),
        ..metric(name, label, count)
    }
}

/// Stacked-bar segments (percent of the whole) for the counts given, skipping empty ones.
fn bar(parts: &[(&'static str, &'static str, usize)]) -> Vec<Segment> {
    let total: usize = parts.iter().map(|(_, _, count)| count).sum();
    let mut segments = Vec::new();
    if total == 0 {
        return segments;
    }
    let mut start = 0usize;
    for (class, label, count) in parts.iter().copied().filter(|part| part.2 > 0) {
        segments.push(Segment {
            class,
            label,
            x: format!("{:.3}", start as f64 * 100.0 / total as f64),
            width: format!("{:.3}", count as f64 * 100.0 / total as f64),
        });
        start += count;
    }
    segments
}

fn severity_key(index: usize) -> &'static str {
    SEVERITIES[index].name()
}

fn page(report: &ScanReport) -> Page {
    let summary = &report.summary;
    let sev = view::severity_counts(&report.findings);
    let [open, waived, baselined] = view::status_counts(&report.findings);
    let not_checked: usize = report.hosts.iter().map(|h| h.coverage.not_checked).sum();
    let errors: usize = report.hosts.iter().map(|h| h.coverage.errors).sum();
    let rule_counts = view::rule_outcome_counts(report);
    let by_host = view::ByHost::of(report);
    let finding_view = |index: usize, finding: &Finding| FindingView {
        id: format!("f-{}", index + 1),
        rule: line(&finding.rule),
        rule_index: report.rules.iter().position(|rule| rule.id == finding.rule),
        host: line(&finding.host),
        host_index: by_host.index.get(finding.host.as_str()).copied(),
        severity: finding.severity.name(),
        title: line(&finding.title),
        message: line(&finding.message),
        inferred: finding.inferred,
        status: view::status(finding),
        justification: finding
            .suppression
            .as_ref()
            .map(|s| line(&s.justification))
            .unwrap_or_default(),
        owner: finding
            .suppression
            .as_ref()
            .and_then(|s| s.owner.as_deref())
            .map(line)
            .unwrap_or_default(),
        expires: finding
            .suppression
            .as_ref()
            .and_then(|s| s.expires.as_deref())
            .map(line)
            .unwrap_or_default(),
        evidence: finding
            .evidence
            .iter()
            .map(|evidence| EvidenceView {
                kind: line(&evidence.kind),
                location: line(&view::evidence_location(evidence)),
                found: line(&view::evidence_found(evidence)),
                expected: line(&view::evidence_expected(evidence)),
                files: line(&view::evidence_files(evidence)),
            })
            .collect(),
        fix: fix_html(&finding.fix),
        fingerprint: line(&finding.fingerprint),
        pack: line(&finding.pack),
    };
    let mut views: Vec<Option<FindingView>> = report
        .findings
        .iter()
        .enumerate()
        .map(|(index, finding)| Some(finding_view(index, finding)))
        .collect();
    let hosts = report
        .hosts
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let counts = view::severity_counts(by_host.of_host(report, index));
            let coverage = &host.coverage;
            let items: Vec<FindingView> = by_host.findings[index]
                .iter()
                .filter_map(|at| views[*at].take())
                .collect();
            let mut notices: Vec<String> = host
                .files
                .iter()
                .flat_map(|file| &file.notices)
                .chain(&host.notices)
                .map(|notice| line(&notice.message))
                .collect();
            if !host.missing_required.is_empty() {
                notices.push(line(&format!(
                    "missing evidence --require demands: {}",
                    host.missing_required.join(", ")
                )));
            }
            HostView {
                index,
                name: line(&host.name),
                os: line(&match (&host.os, &host.os_build) {
                    (Some(os), Some(build)) => format!("{os}, build {build}"),
                    (Some(os), None) => os.clone(),
                    _ => "OS unknown".to_string(),
                }),
                role: serde_name(&host.role),
                findings: counts.iter().sum(),
                severities: (0..5)
                    .map(|at| {
                        metric(
                            format!("host.{index}.severity.{}", severity_key(at)),
                            severity_key(at),
                            counts[at],
                        )
                    })
                    .collect(),
                bar: bar(&[
                    ("o-findings", "findings", coverage.findings),
                    ("o-passed", "passed", coverage.passed),
                    ("o-na", "not applicable", coverage.not_applicable),
                    ("o-nc", "not checked", coverage.not_checked),
                    ("o-error", "rule errors", coverage.errors),
                ]),
                coverage: vec![
                    metric(
                        format!("host.{index}.coverage.checked"),
                        "checked",
                        coverage.checked,
                    ),
                    metric(
                        format!("host.{index}.coverage.rules"),
                        "rules",
                        coverage.rules,
                    ),
                    metric(
                        format!("host.{index}.coverage.passed"),
                        "passed",
                        coverage.passed,
                    ),
                    metric(
                        format!("host.{index}.coverage.not_applicable"),
                        "not applicable",
                        coverage.not_applicable,
                    ),
                    metric(
                        format!("host.{index}.coverage.not_checked"),
                        "not checked",
                        coverage.not_checked,
                    ),
                    metric(
                        format!("host.{index}.coverage.errors"),
                        "rule errors",
                        coverage.errors,
                    ),
                ],
                checked: coverage.checked,
                rules: coverage.rules,
                items,
                outcomes: host
                    .outcomes
                    .iter()
                    .map(|outcome| {
                        let rule = report.rules.iter().position(|rule| rule.id == outcome.rule);
                        OutcomeView {
                            rule: line(&outcome.rule),
                            rule_index: rule,
                            title: rule
                                .map(|at| line(&report.rules[at].title))
                                .unwrap_or_default(),
                            severity: rule
                                .map(|at| report.rules[at].severity.name().to_string())
                                .unwrap_or_default(),
                            outcome: outcome.outcome.name(),
                            label: view::outcome_label(outcome.outcome),
                            reason: outcome.reason.as_deref().map(line).unwrap_or_default(),
                            findings: outcome.findings,
                        }
                    })
                    .collect(),
                notices,
                files: host
                    .files
                    .iter()
                    .map(|file| FileView {
                        path: line(&file.path),
                        kind: line(&match file.hive_kind {
                            Some(kind) => format!("{} hive", hiveward_engine::hive_kind_name(kind)),
                            None => serde_name(&file.kind),
                        }),
                        status: serde_name(&file.status),
                    })
                    .collect(),
            }
        })
        .collect();
    let unhosted = views.into_iter().flatten().collect();
    let mut rules: Vec<RuleView> = report
        .rules
        .iter()
        .enumerate()
        .map(|(index, rule)| {
            let mine: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| f.rule == rule.id)
                .collect();
            let mut statuses: Vec<&str> = mine.iter().map(|f| view::status(f)).collect();
            statuses.sort();
            statuses.dedup();
            let counts = rule_counts[index];
            let mut seen = std::collections::HashSet::new();
            let mut affected: Vec<(&str, usize)> = Vec::new();
            for (at, finding) in report.findings.iter().enumerate() {
                if finding.rule == rule.id && seen.insert(finding.host.as_str()) {
                    affected.push((&finding.host, at));
                }
            }
            let affected_more = affected.len().saturating_sub(AFFECTED_SHOWN);
            let mut tokens: Vec<&str> = OUTCOMES
                .iter()
                .zip(counts)
                .filter(|(_, count)| *count > 0)
                .map(|(outcome, _)| outcome.name())
                .collect();
            if !mine.is_empty() && !tokens.contains(&"findings") {
                tokens.push("findings");
            }
            tokens.extend(statuses.iter().copied());
            RuleView {
                index,
                id: line(&rule.id),
                title: line(&rule.title),
                severity: rule.severity.name(),
                scope: rule.scope.name().to_string(),
                pack: line(&rule.pack),
                findings: mine.len(),
                statuses: statuses.join(" "),
                outcome_tokens: tokens.join(" "),
                outcomes: OUTCOMES
                    .iter()
                    .zip(counts)
                    .map(|(outcome, count)| {
                        metric(
                            format!("rule.{index}.outcome.{}", outcome.name()),
                            view::outcome_label(*outcome),
                            count,
                        )
                    })
                    .collect(),
                affected: affected
                    .iter()
                    .take(AFFECTED_SHOWN)
                    .map(|(host, at)| (line(host), format!("f-{}", at + 1)))
                    .collect(),
                affected_more,
            }
        })
        .collect();
    // Rules with findings first, highest severity first; then the others, by id.
    rules.sort_by(|a, b| {
        (b.findings > 0)
            .cmp(&(a.findings > 0))
            .then(severity_rank(a.severity).cmp(&severity_rank(b.severity)))
            .then(a.id.cmp(&b.id))
    });
    let mut problems: Vec<String> = report
        .unchecked
        .iter()
        .map(|u| {
            line(&format!(
                "not checked: {} on {}: {}",
                u.rule, u.host, u.message
            ))
        })
        .collect();
    problems.extend(report.rule_errors.iter().map(|e| {
        line(&format!(
            "rule error: {} on {}: {}",
            e.rule, e.host, e.message
        ))
    }));
    Page {
        tool: line(&format!("{} {}", report.tool.name, report.tool.version)),
        inputs: report.inputs.iter().map(|input| line(input)).collect(),
        profile: line(&report.profile),
        params: report
            .params
            .iter()
            .map(|(key, value)| (line(key), line(value)))
            .collect(),
        csp: format!(
            "default-src 'none'; style-src {}; script-src {}; img-src data:; base-uri 'none'; form-action 'none'",
            hash_source(STYLE),
            hash_source(SCRIPT)
        ),
        style: STYLE,
        script: SCRIPT,
        summary: vec![
            total("summary.findings", "findings", summary.findings),
            total("summary.hosts", "hosts", summary.hosts),
            total("summary.rules", "rules", summary.rules),
            total("summary.hosts_not_checked", "hosts with nothing checked", summary.hosts_not_checked),
        ],
        severities: (0..5)
            .map(|at| SeverityTotal {
                key: severity_key(at),
                metric: total(&format!("counts.{}", severity_key(at)), severity_key(at), sev[at]),
            })
            .collect(),
        severity_bar: bar(&[
            ("sev-critical", "critical", sev[0]),
            ("sev-high", "high", sev[1]),
            ("sev-medium", "medium", sev[2]),
            ("sev-low", "low", sev[3]),
            ("sev-info", "info", sev[4]),
        ]),
        statuses: vec![
            total("findings.open", "open", open),
            total("findings.waived", "waived", waived),
            total("findings.baselined", "baselined", baselined),
        ],
        coverage: vec![
            total("summary.checked", "checks made", summary.checked),
            total("summary.passed", "passed", summary.passed),
            total("summary.not_applicable", "not applicable", summary.not_applicable),
            total("coverage.not_checked", "not checked", not_checked),
            total("coverage.errors", "rule errors", errors),
        ],
        coverage_bar: bar(&[
            ("o-findings", "findings", summary.checked.saturating_sub(summary.passed)),
            ("o-passed", "passed", summary.passed),
            ("o-na", "not applicable", summary.not_applicable),
            ("o-nc", "not checked", not_checked),
            ("o-error", "rule errors", errors),
        ]),
        files: vec![
            total("summary.files_read", "read", summary.files_read),
            total("summary.files_partial", "read in part", summary.files_partial),
            total("summary.files_unreadable", "unreadable", summary.files_unreadable),
            total("summary.passed_over", "passed over", summary.passed_over),
        ],
        hosts,
        rules,
        unhosted,
        notices: report.notices.iter().map(|n| line(&n.message)).collect(),
        problems,
        passed_over: report
            .passed_over
            .iter()
            .map(|p| line(&format!("{}: {}", p.path, p.reason)))
            .collect(),
        outcomes: vec![
            Choice { value: "findings", label: "findings (any)" },
            Choice { value: "open", label: "findings: open" },
            Choice { value: "waived", label: "findings: waived" },
            Choice { value: "baselined", label: "findings: baselined" },
            Choice { value: "passed", label: "passed" },
            Choice { value: "not_applicable", label: "not applicable" },
            Choice { value: "not_checked", label: "not checked" },
            Choice { value: "error", label: "rule error" },
        ],
    }
}

fn severity_rank(severity: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|s| s.name() == severity)
        .unwrap_or(SEVERITIES.len())
}

/// Fix guidance (Markdown) as HTML that can only be text, emphasis, code, lists, headings,
/// quotes and links to `http:`, `https:` or `mailto:`: raw HTML becomes text, images become
/// their alternative text, other links their text.
pub(crate) fn fix_html(fix: &str) -> String {
    let fix = escape_terminal_lines(fix);
    let mut dropped_links = Vec::new();
    let events = Parser::new_ext(&fix, Options::empty()).filter_map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Some(Event::Text(text)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let safe = view::safe_link(link_type, &dest_url);
            dropped_links.push(!safe);
            safe.then_some(Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }))
        }
        Event::End(TagEnd::Link) => {
            let dropped = dropped_links.pop().unwrap_or(false);
            (!dropped).then_some(Event::End(TagEnd::Link))
        }
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_text_can_hold_no_markup_of_its_own() {
        let html = fix_html(
            "Set it.\n\n<script>alert(1)</script>\n\n![x](http://e/x.png) [a](javascript:alert(1)) [b](https://e/) <img src=x onerror=alert(1)>\n\n```\nreg add \"<b>\"\n```",
        );
        assert!(html.contains("<p>Set it.</p>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<a href=\"https://e/\">b</a>"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("reg add \"&lt;b&gt;\""), "{html}");
    }

    #[test]
    fn bars_split_the_whole_in_order() {
        let segments = bar(&[("a", "a", 1), ("b", "b", 0), ("c", "c", 3)]);
        let shown: Vec<(&str, &str, &str)> = segments
            .iter()
            .map(|s| (s.class, s.x.as_str(), s.width.as_str()))
            .collect();
        assert_eq!(shown, [("a", "0.000", "25.000"), ("c", "25.000", "75.000")]);
        assert!(bar(&[("a", "a", 0)]).is_empty());
    }
}
