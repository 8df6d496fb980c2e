//! What the three formats share: a finding's status, its evidence as text, the per-host and
//! per-rule counts, and the first paragraph of a fix.

use std::collections::HashMap;

use hiveward_engine::{
    Evidence, Finding, JsonValue, Outcome, ScanReport, Severity, SuppressionKind,
};

/// The severities, highest first, as the reports list them.
pub(crate) const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// The outcomes, in the order the reports list them.
pub(crate) const OUTCOMES: [Outcome; 5] = [
    Outcome::Findings,
    Outcome::Passed,
    Outcome::NotApplicable,
    Outcome::NotChecked,
    Outcome::Error,
];

/// A finding's status: `open` when it counts toward `--fail-on`, `waived` or `baselined` when a
/// waiver or the baseline accepts it.
pub(crate) fn status(finding: &Finding) -> &'static str {
    match finding
        .suppression
        .as_ref()
        .map(|suppression| suppression.kind)
    {
        None => "open",
        Some(SuppressionKind::Waiver) => "waived",
        Some(SuppressionKind::Baseline) => "baselined",
    }
}

/// How reports name an outcome in prose: `findings`, `passed`, `not applicable`, ...
pub(crate) fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Findings => "findings",
        Outcome::Passed => "passed",
        Outcome::NotApplicable => "not applicable",
        Outcome::NotChecked => "not checked",
        Outcome::Error => "rule error",
    }
}

/// A JSON value as a report shows it: strings without quotes, anything else as JSON.
pub(crate) fn show_value(value: &JsonValue) -> String {
    match &value.0 {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Where the evidence was read: the registry value's path (`KEY\Value`, with
/// `CurrentControlSet` resolved), the key, or the event channel; empty for a note.
pub(crate) fn evidence_location(evidence: &Evidence) -> String {
    match evidence.kind.as_str() {
        "registry" => {
            let key = evidence
                .resolved_path
                .as_deref()
                .or(evidence.path.as_deref())
                .unwrap_or_default();
            match evidence.value_name.as_deref() {
                Some(name) => format!("{key}\\{name}"),
                None => key.to_string(),
            }
        }
        "event" => evidence.channel.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// What the evidence found: the registry value with its type, `not set, default X`, `absent`,
/// the events with their count, record ids and times, or the note.
pub(crate) fn evidence_found(evidence: &Evidence) -> String {
    match evidence.kind.as_str() {
        "registry" if evidence.value_name.is_some() => {
            if evidence.default_applied {
                let default = evidence
                    .effective
                    .as_ref()
                    .map(show_value)
                    .unwrap_or_else(|| "absent".to_string());
                return format!("not set, default {default}");
            }
            match (&evidence.observed, &evidence.observed_type) {
                (Some(value), Some(kind)) => format!("{} ({kind})", show_value(value)),
                (Some(value), None) => show_value(value),
                (None, _) => "absent".to_string(),
            }
        }
        "registry" => {
            let mut parts = Vec::new();
            if let Some(time) = &evidence.last_written {
                parts.push(format!("last written {time}"));
            }
            if let Some(note) = &evidence.note {
                parts.push(note.clone());
            }
            parts.join("; ")
        }
        "event" => {
            let ids: Vec<String> = evidence.record_ids.iter().map(u64::to_string).collect();
            let count = evidence.count.unwrap_or(evidence.record_ids.len() as u64);
            let mut text = format!("{count} event(s)");
            if !ids.is_empty() {
                text.push_str(&format!(", record(s) {}", ids.join(", ")));
            }
            if evidence.first_time.is_some() || evidence.last_time.is_some() {
                text.push_str(&format!(
                    ", {} to {}",
                    evidence.first_time.as_deref().unwrap_or("?"),
                    evidence.last_time.as_deref().unwrap_or("?")
                ));
            }
            text
        }
        _ => evidence.note.clone().unwrap_or_default(),
    }
}

/// What the rule expected, with the type when it says, or empty.
pub(crate) fn evidence_expected(evidence: &Evidence) -> String {
    match (&evidence.expected, &evidence.expected_type) {
        (Some(value), Some(kind)) => format!("{} ({kind})", show_value(value)),
        (Some(value), None) => show_value(value),
        (None, _) => String::new(),
    }
}

/// The evidence files, comma-separated.
pub(crate) fn evidence_files(evidence: &Evidence) -> String {
    if evidence.files.len() > 1 {
        evidence.files.join(", ")
    } else {
        evidence.file.clone().unwrap_or_default()
    }
}

/// Whether a link in fix guidance may stay a link: an e-mail autolink, or an `http:`,
/// `https:` or `mailto:` address.
pub(crate) fn safe_link(kind: pulldown_cmark::LinkType, destination: &str) -> bool {
    let lower = destination.trim().to_ascii_lowercase();
    kind == pulldown_cmark::LinkType::Email
        || ["http://", "https://", "mailto:"]
            .iter()
            .any(|scheme| lower.starts_with(scheme))
}

/// The first paragraph of a fix, on one line: what to do, without the steps.
pub(crate) fn fix_summary(fix: &str) -> String {
    let mut words = Vec::new();
    for line in fix.lines().skip_while(|line| line.trim().is_empty()) {
        if line.trim().is_empty() {
            break;
        }
        words.push(line.trim());
    }
    words.join(" ")
}

/// The slot of `severity` in [`SEVERITIES`].
fn severity_slot(severity: Severity) -> Option<usize> {
    SEVERITIES.iter().position(|known| *known == severity)
}

/// The slot of a finding's status in `[open, waived, baselined]`.
pub(crate) fn status_slot(finding: &Finding) -> usize {
    match status(finding) {
        "open" => 0,
        "waived" => 1,
        _ => 2,
    }
}

/// What the summaries of the HTML and Markdown reports count, and where each host's findings
/// are, from one pass over the report's hosts and one over its findings (read back from their
/// spools one at a time: a fleet's report has thousands of each, and is never held whole).
pub(crate) struct ReportIndex {
    /// Each host name's number: the position of the first host of that name among the hosts
    /// scanned, or a number past them for a name only findings give.
    ids: HashMap<String, usize>,
    /// How many hosts were scanned.
    hosts: usize,
    /// For each host scanned, by position, the positions of its findings in report order (a
    /// later host of the same name has none).
    pub(crate) findings: Vec<Vec<usize>>,
    /// For each host scanned, its findings by severity, highest first.
    pub(crate) severities: Vec<[usize; 5]>,
    /// The positions of the findings on a host that was not scanned, in report order.
    pub(crate) unhosted: Vec<usize>,
    /// The findings by severity, highest first.
    pub(crate) severity_totals: [usize; 5],
    /// Open, waived and baselined findings.
    pub(crate) status_totals: [usize; 3],
    /// The sum of the hosts' `coverage.not_checked`.
    pub(crate) not_checked: usize,
    /// The sum of the hosts' `coverage.errors`.
    pub(crate) errors: usize,
    /// By rule id: how many hosts ended in each of [`OUTCOMES`].
    rule_outcomes: HashMap<String, [usize; 5]>,
}

impl ReportIndex {
    pub(crate) fn of(report: &ScanReport) -> ReportIndex {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut rule_outcomes: HashMap<String, [usize; 5]> = HashMap::new();
        let mut not_checked = 0;
        let mut errors = 0;
        let mut hosts = 0;
        for (at, host) in report.hosts.stream().enumerate() {
            hosts = at + 1;
            not_checked += host.coverage.not_checked;
            errors += host.coverage.errors;
            for outcome in &host.outcomes {
                if let Some(slot) = OUTCOMES.iter().position(|o| *o == outcome.outcome) {
                    match rule_outcomes.get_mut(outcome.rule.as_str()) {
                        Some(counts) => counts[slot] += 1,
                        None => {
                            let mut counts = [0; 5];
                            counts[slot] += 1;
                            rule_outcomes.insert(outcome.rule.clone(), counts);
                        }
                    }
                }
            }
            ids.entry(host.name).or_insert(at);
        }
        let mut index = ReportIndex {
            ids,
            hosts,
            findings: vec![Vec::new(); hosts],
            severities: vec![[0; 5]; hosts],
            unhosted: Vec::new(),
            severity_totals: [0; 5],
            status_totals: [0; 3],
            not_checked,
            errors,
            rule_outcomes,
        };
        for (at, finding) in report.findings.stream().enumerate() {
            let slot = severity_slot(finding.severity);
            if let Some(slot) = slot {
                index.severity_totals[slot] += 1;
            }
            index.status_totals[status_slot(&finding)] += 1;
            match index.host_index(&finding.host) {
                Some(host) => {
                    index.findings[host].push(at);
                    if let Some(slot) = slot {
                        index.severities[host][slot] += 1;
                    }
                }
                None => index.unhosted.push(at),
            }
        }
        index
    }

    /// The position of the first host scanned named `name`.
    pub(crate) fn host_index(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied().filter(|at| *at < self.hosts)
    }

    /// A number for `name`, the same for each finding that names it: the host's position when
    /// it was scanned (see [`ReportIndex::host_index`]).
    pub(crate) fn host_id(&mut self, name: &str) -> usize {
        let next = self.hosts + self.ids.len();
        match self.ids.get(name) {
            Some(id) => *id,
            None => {
                self.ids.insert(name.to_string(), next);
                next
            }
        }
    }

    /// How many hosts ended in each of [`OUTCOMES`] for the rule `id`.
    pub(crate) fn rule_outcomes(&self, id: &str) -> [usize; 5] {
        self.rule_outcomes.get(id).copied().unwrap_or_default()
    }
}

/// The sample bundle's report with `copies` copies of each host and its findings (named
/// `HOST-N`, the findings on one copy waived), spooled afresh: enough copies make the spools
/// spill to their temporary files. A finding on a host that was not scanned is added too.
#[cfg(test)]
pub(crate) fn sample_fleet(copies: usize) -> ScanReport {
    use hiveward_engine::test_support::{copy_hosts, sample_bundle_report};
    use hiveward_engine::Suppression;

    let mut report = sample_bundle_report();
    copy_hosts(&mut report, copies);
    report.findings.update(|finding| {
        if finding.host.rsplit_once('-').map(|(_, copy)| copy) == Some("1") {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Waiver,
                justification: "accepted".to_string(),
                owner: Some("owner@example".to_string()),
                expires: None,
            });
        }
    });
    let mut unscanned = report.findings.get(0).expect("the sample has findings");
    unscanned.host = "NOT-SCANNED".to_string();
    unscanned.suppression = None;
    report.findings.push(&unscanned);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fix_summary_is_the_first_paragraph_on_one_line() {
        assert_eq!(
            fix_summary("\n  Turn it off,\nthen reboot.\n\n1. Run `x`.\n"),
            "Turn it off, then reboot."
        );
        assert_eq!(fix_summary(""), "");
    }
}
