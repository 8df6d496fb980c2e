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

/// How many of `findings` there are of each severity, highest first.
pub(crate) fn severity_counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> [usize; 5] {
    let mut counts = [0; 5];
    for finding in findings {
        if let Some(slot) = SEVERITIES.iter().position(|s| *s == finding.severity) {
            counts[slot] += 1;
        }
    }
    counts
}

/// The report's findings by host, found in one pass (a fleet report has thousands of each).
pub(crate) struct ByHost<'a> {
    /// Each host's index in the report, by name.
    pub(crate) index: HashMap<&'a str, usize>,
    /// For each host, in report order, the indexes of its findings.
    pub(crate) findings: Vec<Vec<usize>>,
}

impl<'a> ByHost<'a> {
    pub(crate) fn of(report: &'a ScanReport) -> ByHost<'a> {
        let mut index = HashMap::new();
        for (at, host) in report.hosts.iter().enumerate() {
            index.entry(host.name.as_str()).or_insert(at);
        }
        let mut findings = vec![Vec::new(); report.hosts.len()];
        for (at, finding) in report.findings.iter().enumerate() {
            if let Some(host) = index.get(finding.host.as_str()) {
                findings[*host].push(at);
            }
        }
        ByHost { index, findings }
    }

    /// The findings of the host at `host`, in report order.
    pub(crate) fn of_host<'r>(
        &'r self,
        report: &'a ScanReport,
        host: usize,
    ) -> impl Iterator<Item = &'a Finding> + 'r {
        self.findings[host].iter().map(|at| &report.findings[*at])
    }
}

/// Per rule (in report order): how many hosts ended in each of [`OUTCOMES`].
pub(crate) fn rule_outcome_counts(report: &ScanReport) -> Vec<[usize; 5]> {
    report
        .rules
        .iter()
        .map(|rule| {
            let mut counts = [0; 5];
            for outcome in report
                .hosts
                .iter()
                .flat_map(|host| &host.outcomes)
                .filter(|outcome| outcome.rule == rule.id)
            {
                if let Some(slot) = OUTCOMES.iter().position(|o| *o == outcome.outcome) {
                    counts[slot] += 1;
                }
            }
            counts
        })
        .collect()
}

/// Open, waived and baselined findings among `findings`.
pub(crate) fn status_counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> [usize; 3] {
    let mut counts = [0; 3];
    for finding in findings {
        match status(finding) {
            "open" => counts[0] += 1,
            "waived" => counts[1] += 1,
            _ => counts[2] += 1,
        }
    }
    counts
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
