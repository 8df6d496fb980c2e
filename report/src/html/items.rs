//! The parts of the HTML page rendered once per host and once per finding: what the template's
//! `host_option`, `host_row`, `host_section` and `other_finding` macros are given, made from a
//! host or a finding read back from the report's spool.

use hiveward_engine::{Finding, ScanHost, ScanReport};
use serde::Serialize;

use super::{bar, fix_html, line, metric, serde_name, severity_key, Metric, Segment};
use crate::view;

#[derive(Serialize)]
pub(super) struct HostView {
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
pub(super) struct FindingView {
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

/// A finding as its card shows it; `position` is where it is in the report's findings.
pub(super) fn finding_view(
    report: &ScanReport,
    index: &view::ReportIndex,
    position: usize,
    finding: &Finding,
) -> FindingView {
    FindingView {
        id: format!("f-{}", position + 1),
        rule: line(&finding.rule),
        rule_index: report.rules.iter().position(|rule| rule.id == finding.rule),
        host: line(&finding.host),
        host_index: index.host_index(&finding.host),
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
    }
}

/// The host at `position` in the report, for the template; with `items`, its findings (read
/// back from the report), which only its section shows.
pub(super) fn host_view(
    report: &ScanReport,
    index: &view::ReportIndex,
    position: usize,
    host: &ScanHost,
    items: bool,
) -> HostView {
    let counts = index.severities.get(position).copied().unwrap_or_default();
    let coverage = &host.coverage;
    let items: Vec<FindingView> = match (items, index.findings.get(position)) {
        (true, Some(positions)) => positions
            .iter()
            .filter_map(|at| {
                let finding = report.findings.get(*at)?;
                Some(finding_view(report, index, *at, &finding))
            })
            .collect(),
        _ => Vec::new(),
    };
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
    let metric_of = |name: &str, label: &'static str, count: usize| {
        metric(format!("host.{position}.coverage.{name}"), label, count)
    };
    HostView {
        index: position,
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
                    format!("host.{position}.severity.{}", severity_key(at)),
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
            metric_of("checked", "checked", coverage.checked),
            metric_of("rules", "rules", coverage.rules),
            metric_of("passed", "passed", coverage.passed),
            metric_of("not_applicable", "not applicable", coverage.not_applicable),
            metric_of("not_checked", "not checked", coverage.not_checked),
            metric_of("errors", "rule errors", coverage.errors),
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
                    label: if outcome.inferred {
                        "passed (inferred)"
                    } else {
                        view::outcome_label(outcome.outcome)
                    },
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
}
