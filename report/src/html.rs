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
//! The page is written as it is rendered ([`write_html_report`]): the template's macros render
//! its parts in order (see the top of the template), the parts about each host and each finding
//! once per host or finding, read back from the report's spools one at a time, so that a
//! fleet's report is never held whole. What stays in memory are the page's totals, the rule
//! view, and where each host's findings are in the report.
//!
//! Report data is untrusted: a hive value can hold `<script>`. The template escapes every
//! value (minijinja's HTML auto-escaping); control characters are shown as visible escapes, as
//! in the text report; fix guidance, which is Markdown, is converted by `pulldown-cmark` with
//! raw HTML turned into text, images into their text and links kept only to `http:`, `https:`
//! and `mailto:` addresses. The page's Content-Security-Policy allows its own style and script
//! (by hash) and nothing else, so even markup that got through could load or run nothing.

mod items;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;

use base64::Engine as _;
use hiveward_engine::{escape_terminal, escape_terminal_lines, ScanReport};
use minijinja::{Environment, UndefinedBehavior, Value};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::view::{self, OUTCOMES, SEVERITIES};
use crate::RenderError;
use items::{finding_view, host_view};

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
    /// Whether the report has hosts (each is rendered on its own, see [`items`]).
    has_hosts: bool,
    rules: Vec<RuleView>,
    /// Whether findings name a host that was not scanned (each is rendered on its own).
    has_unhosted: bool,
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
    let mut bytes = Vec::new();
    write_html_report(report, &mut bytes)?;
    Ok(String::from_utf8(bytes).expect("the page is UTF-8"))
}

/// [`html_report`] written to `out` as it is rendered: the page's head and summary, then each
/// host's entry in the host filter, its row in the host table and its section with its
/// findings, then each finding on a host that was not scanned, then the notices, each rendered
/// by its macro of the template when it is reached (the hosts and findings read back from the
/// report's spools one at a time). A template error is [`RenderError::Template`] (what was
/// rendered before it is written); a failure of `out` is [`RenderError::Io`], as it is (a
/// closed pipe stays a broken pipe).
pub fn write_html_report(report: &ScanReport, out: &mut dyn Write) -> Result<(), RenderError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("report.html", TEMPLATE)?;
    let template = env.get_template("report.html")?;
    let mut index = view::ReportIndex::of(report);
    let page = page(report, &mut index);
    // The template only defines macros: rendering it gives them, with the page's values.
    let rendered = template.render_captured(&page)?;
    let state = rendered.state();
    // Renders the macro `name` with `args` (a host or a finding, or nothing) and writes it.
    let mut part = |name: &str, args: &[Value]| -> Result<(), RenderError> {
        out.write_all(state.call_macro(name, args)?.as_bytes())?;
        Ok(())
    };
    let hosts = || report.hosts.stream().enumerate();
    part("page_head", &[])?;
    for (at, host) in hosts() {
        let view = host_view(report, &index, at, &host, false);
        part("host_option", &[Value::from_serialize(&view)])?;
    }
    part("page_summary", &[])?;
    for (at, host) in hosts() {
        let view = host_view(report, &index, at, &host, false);
        part("host_row", &[Value::from_serialize(&view)])?;
    }
    part("page_rules", &[])?;
    for (at, host) in hosts() {
        let view = host_view(report, &index, at, &host, true);
        part("host_section", &[Value::from_serialize(&view)])?;
    }
    part("page_other", &[])?;
    for &at in &index.unhosted {
        if let Some(finding) = report.findings.get(at) {
            let view = finding_view(report, &index, at, &finding);
            part("other_finding", &[Value::from_serialize(&view)])?;
        }
    }
    part("page_tail", &[])
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

/// What the rule view says about a rule's findings, gathered a finding at a time.
#[derive(Default)]
struct RuleFindings {
    findings: usize,
    statuses: BTreeSet<&'static str>,
    /// The first hosts with findings, each with the position of its first finding.
    affected: Vec<(String, usize)>,
    /// Every host with findings, by its number in the index.
    hosts: HashSet<usize>,
}

/// The rule view's facts about each rule's findings, by rule id, from one pass over the
/// report's findings.
fn rule_findings(
    report: &ScanReport,
    index: &mut view::ReportIndex,
) -> HashMap<String, RuleFindings> {
    let mut by_rule: HashMap<String, RuleFindings> = report
        .rules
        .iter()
        .map(|rule| (rule.id.clone(), RuleFindings::default()))
        .collect();
    for (at, finding) in report.findings.stream().enumerate() {
        let Some(rule) = by_rule.get_mut(&finding.rule) else {
            continue;
        };
        rule.findings += 1;
        rule.statuses.insert(view::status(&finding));
        if rule.hosts.insert(index.host_id(&finding.host)) && rule.affected.len() < AFFECTED_SHOWN {
            rule.affected.push((finding.host, at));
        }
    }
    by_rule
}

fn page(report: &ScanReport, index: &mut view::ReportIndex) -> Page {
    let summary = &report.summary;
    let sev = index.severity_totals;
    let [open, waived, baselined] = index.status_totals;
    let (not_checked, errors) = (index.not_checked, index.errors);
    let by_rule = rule_findings(report, index);
    let none = RuleFindings::default();
    let mut rules: Vec<RuleView> = report
        .rules
        .iter()
        .enumerate()
        .map(|(at, rule)| {
            let found = by_rule.get(&rule.id).unwrap_or(&none);
            let statuses: Vec<&str> = found.statuses.iter().copied().collect();
            let counts = index.rule_outcomes(&rule.id);
            let affected_more = found.hosts.len().saturating_sub(AFFECTED_SHOWN);
            let mut tokens: Vec<&str> = OUTCOMES
                .iter()
                .zip(counts)
                .filter(|(_, count)| *count > 0)
                .map(|(outcome, _)| outcome.name())
                .collect();
            if found.findings > 0 && !tokens.contains(&"findings") {
                tokens.push("findings");
            }
            tokens.extend(statuses.iter().copied());
            RuleView {
                index: at,
                id: line(&rule.id),
                title: line(&rule.title),
                severity: rule.severity.name(),
                scope: rule.scope.name().to_string(),
                pack: line(&rule.pack),
                findings: found.findings,
                statuses: statuses.join(" "),
                outcome_tokens: tokens.join(" "),
                outcomes: OUTCOMES
                    .iter()
                    .zip(counts)
                    .map(|(outcome, count)| {
                        metric(
                            format!("rule.{at}.outcome.{}", outcome.name()),
                            view::outcome_label(*outcome),
                            count,
                        )
                    })
                    .collect(),
                affected: found
                    .affected
                    .iter()
                    .map(|(host, first)| (line(host), format!("f-{}", first + 1)))
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
        has_hosts: !report.hosts.is_empty(),
        rules,
        has_unhosted: !index.unhosted.is_empty(),
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
    fn a_spilled_report_is_written_a_part_at_a_time_as_it_reads_in_memory() {
        let report = view::sample_fleet(40);
        // The same report, read into memory: its spools answer from there.
        let in_memory = report.clone();
        assert_eq!(in_memory.hosts.items().len(), report.hosts.len());
        assert_eq!(in_memory.findings.items().len(), report.findings.len());
        let mut streamed = Vec::new();
        write_html_report(&report, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(streamed, html_report(&in_memory).unwrap());
        assert_eq!(streamed, html_report(&report).unwrap());
        assert!(streamed.starts_with("<!DOCTYPE html>") && streamed.ends_with("</html>"));
        for (at, host) in report.hosts.stream().enumerate() {
            let section = format!("<section class=\"host\" id=\"host-{at}\"");
            assert_eq!(streamed.matches(&section).count(), 1, "{}", host.name);
        }
        assert_eq!(
            streamed.matches("<article class=\"finding").count(),
            report.findings.len()
        );
        assert!(streamed.contains("<section id=\"other-findings\">"));
        // Pushing to a spool read into memory is a programming error that debug builds catch:
        // these pushes show that writing the page read neither spool whole.
        report.findings.push(&report.findings.get(0).unwrap());
        report.hosts.push(&report.hosts.get(0).unwrap());
    }

    /// A writer that takes `room` bytes, then fails as a closed pipe does.
    struct ClosedPipe {
        room: usize,
    }

    impl Write for ClosedPipe {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let taken = bytes.len().min(self.room);
            self.room -= taken;
            Ok(taken)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failure_to_write_is_an_io_error_as_it_is() {
        let report = view::sample_fleet(1);
        for room in [0, 1000, 100_000] {
            match write_html_report(&report, &mut ClosedPipe { room }) {
                Err(RenderError::Io(error)) => {
                    assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe)
                }
                other => panic!("{room}: {other:?}"),
            }
        }
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
