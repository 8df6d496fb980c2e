//! The summary-first text report, the default of `hiveward scan` and `merge`:
//!
//! 1. the totals: hosts, rules, findings by severity, waived and baselined findings, evidence
//!    files, checks made, not applicable and not checked, rule errors;
//! 2. a table of hosts: OS and role, findings by severity, and how many rules checked the host,
//!    did not apply to it, or could not look (written in two passes over the hosts, see
//!    [`host_table`]);
//! 3. the findings grouped by rule, most severe first: the rule's fix guidance once, then each
//!    host with its findings' messages and evidence (see [`FixPlan`] for how one text serves
//!    every host);
//! 4. what was not applicable (the most common reasons), not checked, failed, or missing, the
//!    notices about the run, and the files passed over, each list cut at [`LIST_CAP`] lines
//!    (`--detail` shows them all);
//! 5. on the last line, the verdict: which findings tripped `--fail-on`, or why the results are
//!    incomplete, or that the run passed.
//!
//! Hosts and findings are read back from the report's spools one at a time, never all at once:
//! a fleet's report does not fit in memory.
//!
//! `--quiet` keeps the totals, the table and the verdict. Every string from evidence, packs or
//! waivers is escaped here with [`escape_terminal`](crate::escape_terminal); the caller applies the
//! last guard.

mod fix_plan;
mod host_table;
mod verdict;

use std::collections::BTreeMap;
use std::io::{self, Write};

use hiveward_collectors::NoticeLevel;

use crate::finding::{Finding, FindingHead, SuppressionKind};
use crate::outcome::Outcome;
use crate::rule::Severity;
use crate::scan::{HostOutcome, ScanReport};
use crate::scan_text::{Paint, TextLayout, TextOptions};
use crate::terminal::escape_terminal as one_line;

use fix_plan::{fix_value_text, FixPlan, FixPlanner};
use host_table::write_host_table;
use verdict::verdict_line;

/// The most lines a list of the summary shows (reasons, hosts, files); `--detail` shows all.
pub(crate) const LIST_CAP: usize = 10;

/// Severities, most severe first.
const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Writes the summary layout (or, for [`TextLayout::Quiet`], its totals, table and verdict).
pub(crate) fn write_summary(
    report: &ScanReport,
    options: &TextOptions<'_>,
    paint: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    write_totals(report, paint, out)?;
    writeln!(out)?;
    write_host_table(report, out)?;
    if options.layout != TextLayout::Quiet {
        write_findings_by_rule(report, options.rules, paint, out)?;
        write_not_judged(report, out)?;
        write_notices(report, out)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", verdict_line(report, options, paint))
}

/// `N finding(s)` style counts: `1 host(s)`.
fn count(number: usize, noun: &str) -> String {
    format!("{number} {noun}(s)")
}

fn write_totals(report: &ScanReport, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    let summary = &report.summary;
    let counts = &report.counts;
    let (waived, baselined) = suppressed_counts(report.finding_heads());
    writeln!(
        out,
        "hosts:        {} scanned with {}, profile {}",
        summary.hosts,
        count(summary.rules, "rule"),
        one_line(&report.profile)
    )?;
    let by_severity: Vec<String> = SEVERITIES
        .iter()
        .map(|severity| {
            let number = match severity {
                Severity::Critical => counts.critical,
                Severity::High => counts.high,
                Severity::Medium => counts.medium,
                Severity::Low => counts.low,
                Severity::Info => counts.info,
            };
            let text = format!("{number} {}", severity.name());
            if number > 0 {
                paint.severity(*severity, &text)
            } else {
                text
            }
        })
        .collect();
    writeln!(
        out,
        "findings:     {}: {}; {waived} waived, {baselined} baselined",
        summary.findings,
        by_severity.join(", ")
    )?;
    let listed = if summary.files_listed > 0 {
        format!(", {} listed but not read", summary.files_listed)
    } else {
        String::new()
    };
    writeln!(
        out,
        "files:        {} read, {} partly, {} unreadable{listed}; {} passed over",
        summary.files_read, summary.files_partial, summary.files_unreadable, summary.passed_over
    )?;
    let not_checked: usize = report
        .hosts
        .stream()
        .map(|host| host.coverage.not_checked)
        .sum();
    let mut checks = format!(
        "checks:       {} made ({} passed{}), {} not applicable, {} not checked (rule × host); {} of {} with nothing checked",
        summary.checked,
        summary.passed,
        passed_inferred_note(summary.passed_inferred),
        summary.not_applicable,
        not_checked,
        summary.hosts_not_checked,
        count(summary.hosts, "host")
    );
    if summary.unchecked > 0 {
        checks.push_str(&format!(
            "; {} not made because evidence is damaged or incomplete",
            count(summary.unchecked, "check")
        ));
    }
    if summary.timed_out > 0 {
        checks.push_str(&format!(
            "; {} not made because --timeout expired",
            count(summary.timed_out, "check")
        ));
    }
    if summary.hosts_missing_required > 0 {
        checks.push_str(&format!(
            "; {} lack evidence --require demands",
            count(summary.hosts_missing_required, "host")
        ));
    }
    writeln!(out, "{checks}")?;
    writeln!(out, "rule errors:  {}", summary.rule_errors)
}

/// Waived and baselined findings.
fn suppressed_counts(findings: impl IntoIterator<Item = FindingHead>) -> (usize, usize) {
    let mut waived = 0;
    let mut baselined = 0;
    for finding in findings {
        match finding.suppression {
            Some(SuppressionKind::Waiver) => waived += 1,
            Some(SuppressionKind::Baseline) => baselined += 1,
            None => {}
        }
    }
    (waived, baselined)
}

/// Writes fix guidance, one line at a time, indented by `indent`, without the blank lines and
/// spaces it ends with.
fn write_fix(text: &str, indent: &str, out: &mut dyn Write) -> io::Result<()> {
    for line in text.trim_end().lines() {
        if line.trim().is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, "{indent}{}", one_line(line.trim_end()))?;
        }
    }
    Ok(())
}

/// The findings grouped by rule, most severe first, then by rule id.
fn write_findings_by_rule(
    report: &ScanReport,
    rules: Option<&crate::ruleset::RuleSet>,
    paint: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    if report.findings.is_empty() {
        // Never a bare "no findings": say how much was looked at.
        let summary = &report.summary;
        if summary.checked == 0 {
            writeln!(
                out,
                "No findings, but nothing was checked: no rule could judge any host on the evidence given."
            )?;
        } else {
            writeln!(
                out,
                "No findings in the {} made ({} not applicable, {} not checked).",
                count(summary.checked, "rule × host check"),
                summary.not_applicable,
                report
                    .hosts
                    .stream()
                    .map(|host| host.coverage.not_checked)
                    .sum::<usize>()
            )?;
        }
        return Ok(());
    }
    // Each rule's findings are read back from the spool by position when its group is
    // written, one finding at a time.
    let mut by_rule: BTreeMap<String, (Severity, Vec<usize>)> = BTreeMap::new();
    for (position, finding) in report.finding_heads().enumerate() {
        let group = by_rule
            .entry(finding.rule)
            .or_insert((finding.severity, Vec::new()));
        group.0 = group.0.max(finding.severity);
        group.1.push(position);
    }
    let mut groups: Vec<(String, (Severity, Vec<usize>))> = by_rule.into_iter().collect();
    groups.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    writeln!(
        out,
        "Findings by rule, most severe first ({}; each rule's fix once, then its hosts and evidence):",
        count(groups.len(), "rule")
    )?;
    for (rule, (_, positions)) in &groups {
        writeln!(out)?;
        write_rule_group(rule, positions, report, rules, paint, out)?;
    }
    Ok(())
}

fn write_rule_group(
    rule: &str,
    positions: &[usize],
    report: &ScanReport,
    rules: Option<&crate::ruleset::RuleSet>,
    paint: Paint,
    out: &mut dyn Write,
) -> io::Result<()> {
    let meta = rules
        .and_then(|rules| rules.rule(rule))
        .map(|rule| &rule.meta);
    // First pass over the rule's findings, read back one at a time: the hosts in the order the
    // report names them first, each with its findings (by index), and the fix plan.
    let mut first: Option<(Severity, String)> = None;
    let mut hosts: Vec<(String, Vec<usize>)> = Vec::new();
    let mut position: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept: Vec<usize> = Vec::new();
    let mut suppressed = 0;
    let mut planner = FixPlanner::new(meta);
    for &at in positions {
        let Some(finding) = report.findings.get(at) else {
            continue;
        };
        let index = kept.len();
        kept.push(at);
        first.get_or_insert_with(|| (finding.severity, finding.title.clone()));
        let host_at = match position.get(&finding.host) {
            Some(&host_at) => host_at,
            None => {
                position.insert(finding.host.clone(), hosts.len());
                hosts.push((finding.host.clone(), Vec::new()));
                hosts.len() - 1
            }
        };
        hosts[host_at].1.push(index);
        if finding.suppression.is_some() {
            suppressed += 1;
        }
        planner.add(&finding);
    }
    let Some((severity, title)) = first else {
        return Ok(());
    };
    let accepted = if suppressed > 0 {
        format!(", {suppressed} waived or baselined")
    } else {
        String::new()
    };
    let label = format!("{:<8}", severity.name().to_uppercase());
    writeln!(
        out,
        "{} {}  {}  ({} on {}{accepted})",
        paint.severity(severity, &label),
        one_line(rule),
        one_line(&title),
        count(kept.len(), "finding"),
        count(hosts.len(), "host")
    )?;
    let plan = planner.plan();
    if plan.varying.is_empty() {
        writeln!(out, "  fix:")?;
    } else {
        writeln!(
            out,
            "  fix (for each host below, with its own {}):",
            plan.varying
                .iter()
                .map(|name| format!("<{}>", one_line(name)))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    write_fix(&plan.shared, "    ", out)?;
    // Second pass: each finding read back again where its host is written.
    for (host, indexes) in hosts {
        writeln!(out, "  {}", one_line(&host))?;
        for index in indexes {
            if let Some(finding) = report.findings.get(kept[index]) {
                write_host_finding(&finding, &plan, plan.own[index], out)?;
            }
        }
    }
    Ok(())
}

/// One finding under its host: marks and message, evidence, the values of the fix's `<name>`
/// parts, or its own fix text.
fn write_host_finding(
    finding: &Finding,
    plan: &FixPlan,
    own_fix: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut marks = String::new();
    if let Some(suppression) = &finding.suppression {
        let kind = match suppression.kind {
            SuppressionKind::Waiver => "waived",
            SuppressionKind::Baseline => "baseline",
        };
        marks.push_str(&format!(
            "[{kind}: {}] ",
            one_line(&suppression.justification)
        ));
    }
    if finding.inferred {
        marks.push_str("(inferred) ");
    }
    writeln!(out, "    - {marks}{}", one_line(&finding.message))?;
    for evidence in &finding.evidence {
        let files = if evidence.files.len() > 1 {
            evidence.files.clone()
        } else {
            evidence.file.iter().cloned().collect()
        };
        let files: Vec<_> = files.iter().map(|file| one_line(file)).collect();
        let place = if files.is_empty() {
            String::new()
        } else {
            format!("  [{}]", files.join(", "))
        };
        writeln!(
            out,
            "      evidence: {}{place}",
            one_line(&evidence.summary())
        )?;
    }
    if own_fix {
        writeln!(out, "      fix for this finding:")?;
        return write_fix(&finding.fix, "        ", out);
    }
    let values: Vec<String> = plan
        .varying
        .iter()
        .filter_map(|name| {
            let value = finding.fix_values.get(name);
            if name == "host"
                && value.is_some_and(|value| value.0.as_str() == Some(finding.host.as_str()))
            {
                return None;
            }
            let text = value.map_or("(not given)".to_string(), |value| fix_value_text(&value.0));
            Some(format!("<{}> = {}", one_line(name), one_line(&text)))
        })
        .collect();
    if !values.is_empty() {
        writeln!(out, "      in the fix: {}", values.join("; "))?;
    }
    Ok(())
}

/// A host's passed-but-inferred outcomes grouped by reason, in the order each reason first
/// appears: the reason (without its leading `inferred: `, which the `PASSED (INFERRED)` label
/// already says) and the rules it covers.
pub(crate) fn inferred_passes(outcomes: &[HostOutcome]) -> Vec<(&str, Vec<String>)> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for outcome in outcomes
        .iter()
        .filter(|outcome| outcome.outcome == Outcome::Passed && outcome.inferred)
    {
        let reason = outcome.reason.as_deref().unwrap_or("no reason given");
        let reason = reason.strip_prefix("inferred: ").unwrap_or(reason);
        match groups.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, rules)) => rules.push(outcome.rule.clone()),
            None => groups.push((reason, vec![outcome.rule.clone()])),
        }
    }
    groups
}

/// `items` joined with `, `, cut after [`LIST_CAP`] with how many more there are.
fn capped_list(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(LIST_CAP)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > LIST_CAP {
        text.push_str(&format!(", and {} more", items.len() - LIST_CAP));
    }
    text
}

/// What was not applicable (the most common reasons), not checked, failed, or lacks evidence.
fn write_not_judged(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    // Not applicable, by reason, most common first.
    let mut reasons: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    // The first lines of each list, and how many there are: a fleet can have a line per rule
    // and host.
    let mut not_checked = CappedLines::default();
    // Passed verdicts that read a hive read dirty, with no usable transaction log.
    let mut inferred = CappedLines::default();
    let mut inferred_outcomes = 0;
    // Hosts on which nothing was checked, and those that lack evidence `--require` demands.
    let mut nothing: Vec<String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for host in report.hosts.stream() {
        if host.coverage.checked == 0 && host.coverage.rules > 0 {
            nothing.push(one_line(&host.name).into_owned());
        }
        if !host.missing_required.is_empty() {
            missing.push(format!(
                "{} ({})",
                one_line(&host.name),
                one_line(&host.missing_required.join(", "))
            ));
        }
        for outcome in &host.outcomes {
            let reason = outcome.reason.as_deref().unwrap_or("no reason given");
            match outcome.outcome {
                Outcome::NotApplicable => {
                    let entry = reasons.entry(reason.to_string()).or_default();
                    entry.0 += 1;
                    if !entry.1.contains(&outcome.rule) {
                        entry.1.push(outcome.rule.clone());
                    }
                }
                Outcome::NotChecked => not_checked.push(|| {
                    format!(
                        "NOT CHECKED {} on {}: {}",
                        one_line(&outcome.rule),
                        one_line(&host.name),
                        one_line(reason)
                    )
                }),
                _ => {}
            }
        }
        // One line per host and reason: the reason names the hive, the same for every rule.
        for (reason, rules) in inferred_passes(&host.outcomes) {
            inferred_outcomes += rules.len();
            inferred.push(|| {
                format!(
                    "PASSED (INFERRED) on {}, {} ({}): {}",
                    one_line(&host.name),
                    count(rules.len(), "rule"),
                    capped_list(&rules),
                    one_line(reason)
                )
            });
        }
    }
    for unchecked in report.unchecked.iter().filter(|item| item.host == "*") {
        not_checked.push(|| {
            format!(
                "NOT CHECKED {} (fleet): {}",
                one_line(&unchecked.rule),
                one_line(&unchecked.message)
            )
        });
    }
    if !reasons.is_empty() {
        let mut reasons: Vec<(String, (usize, Vec<String>))> = reasons.into_iter().collect();
        reasons.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        let total: usize = reasons.iter().map(|(_, (number, _))| number).sum();
        writeln!(out)?;
        writeln!(
            out,
            "Not applicable: {} by reason, most common first (--detail lists each host's):",
            count(total, "rule × host outcome")
        )?;
        for (reason, (number, mut rules)) in reasons.iter().take(LIST_CAP).cloned() {
            rules.sort();
            let rules: Vec<String> = rules
                .iter()
                .map(|rule| one_line(rule).into_owned())
                .collect();
            writeln!(
                out,
                "  {number:>5}  {}: {}",
                one_line(&reason),
                capped_list(&rules)
            )?;
        }
        if reasons.len() > LIST_CAP {
            let rest: usize = reasons[LIST_CAP..]
                .iter()
                .map(|(_, (number, _))| number)
                .sum();
            writeln!(
                out,
                "  {rest:>5}  for {} other reason(s)",
                reasons.len() - LIST_CAP
            )?;
        }
    }
    write_capped_section(
        &format!(
            "Not checked: {} (damaged or incomplete evidence, or --timeout):",
            count(not_checked.total, "rule × host outcome")
        ),
        &not_checked.lines,
        not_checked.total,
        out,
    )?;
    write_capped_section(
        &format!(
            "Passed, inferred: {} (each names the assumption it rests on, such as a hive read dirty, a differencing hive or an undocumented default):",
            count(inferred_outcomes, "rule × host outcome")
        ),
        &inferred.lines,
        inferred.total,
        out,
    )?;
    let errors: Vec<String> = report
        .rule_errors
        .iter()
        .map(|error| {
            let host = if error.host == "*" {
                "(fleet)".to_string()
            } else {
                format!("on {}", one_line(&error.host))
            };
            format!(
                "RULE ERROR {} {host} ({}:{}): {}",
                one_line(&error.rule),
                one_line(&error.file),
                error.line.map_or("?".to_string(), |line| line.to_string()),
                one_line(&error.message)
            )
        })
        .collect();
    write_capped_section(
        &format!(
            "Rule errors: {} (the rules failed while running):",
            errors.len()
        ),
        &errors,
        errors.len(),
        out,
    )?;
    if !nothing.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "NOTHING CHECKED on {}: no rule could judge them on the evidence given: {}",
            count(nothing.len(), "host"),
            capped_list(&nothing)
        )?;
    }
    if !missing.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "MISSING REQUIRED EVIDENCE on {}: {}",
            count(missing.len(), "host"),
            capped_list(&missing)
        )?;
    }
    Ok(())
}

/// A heading and up to [`LIST_CAP`] of `lines` under it, with how many more of the `total`
/// `--detail` shows; nothing when there are none.
fn write_capped_section(
    heading: &str,
    lines: &[String],
    total: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if total == 0 {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{heading}")?;
    for line in lines.iter().take(LIST_CAP) {
        writeln!(out, "  {line}")?;
    }
    if total > LIST_CAP.min(lines.len()) {
        writeln!(
            out,
            "  ... and {} more (--detail lists them all)",
            total - LIST_CAP.min(lines.len())
        )?;
    }
    Ok(())
}

/// The first [`LIST_CAP`] lines of a list, made only while there is room, and how many
/// there are in all.
#[derive(Default)]
struct CappedLines {
    lines: Vec<String>,
    total: usize,
}

impl CappedLines {
    fn push(&mut self, line: impl FnOnce() -> String) {
        if self.lines.len() < LIST_CAP {
            self.lines.push(line());
        }
        self.total += 1;
    }
}

/// The notices about the run (all of them), how many notices the hosts' evidence gave, and the
/// files passed over.
fn write_notices(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let level_name = |level: NoticeLevel| format!("{level:?}").to_lowercase();
    if !report.notices.is_empty() {
        writeln!(out)?;
        for notice in &report.notices {
            writeln!(
                out,
                "{}: {}",
                level_name(notice.level),
                one_line(&notice.message)
            )?;
        }
    }
    let mut by_level: BTreeMap<NoticeLevel, usize> = BTreeMap::new();
    let mut hosts = 0;
    for host in report.hosts.stream() {
        let notices: Vec<_> = host
            .files
            .iter()
            .flat_map(|file| &file.notices)
            .chain(&host.notices)
            .collect();
        if !notices.is_empty() {
            hosts += 1;
        }
        for notice in notices {
            *by_level.entry(notice.level).or_default() += 1;
        }
    }
    if !by_level.is_empty() {
        let levels: Vec<String> = by_level
            .iter()
            .rev()
            .map(|(level, number)| format!("{number} {}(s)", level_name(*level)))
            .collect();
        writeln!(out)?;
        writeln!(
            out,
            "Notices about the evidence of {}: {} (--detail shows them under each host)",
            count(hosts, "host"),
            levels.join(", ")
        )?;
    }
    let passed_over: Vec<String> = report
        .passed_over
        .iter()
        .map(|skipped| format!("{}: {}", one_line(&skipped.path), one_line(&skipped.reason)))
        .collect();
    write_capped_section(
        &format!(
            "Passed over: {} that hold no evidence hiveward reads:",
            count(passed_over.len(), "file")
        ),
        &passed_over,
        passed_over.len(),
        out,
    )
}

/// `, N inferred` after the passed count, when some passed verdicts are inferred.
pub(crate) fn passed_inferred_note(passed_inferred: usize) -> String {
    if passed_inferred == 0 {
        String::new()
    } else {
        format!(", {passed_inferred} inferred")
    }
}

#[cfg(test)]
mod tests {
    use super::fix_plan::plan_fix;
    use super::*;
    use crate::rule::RuleMeta;

    fn finding(host: &str, values: serde_json::Value, meta: &RuleMeta) -> Finding {
        let values: BTreeMap<String, serde_json::Value> = serde_json::from_value(values).unwrap();
        Finding {
            rule: meta.id.clone(),
            pack: meta.pack.clone(),
            severity: meta.severity,
            host: host.to_string(),
            title: meta.title.clone(),
            message: format!("on {host}"),
            fix: meta.render_fix(&values),
            fix_values: values
                .into_iter()
                .map(|(name, value)| (name, crate::finding::JsonValue(value)))
                .collect(),
            evidence: Vec::new(),
            inferred: false,
            fingerprint: host.to_string(),
            suppression: None,
        }
    }

    #[test]
    fn the_fix_is_shared_with_the_values_that_differ_left_open() {
        let meta: RuleMeta = serde_json::from_value(serde_json::json!({
            "id": "T-FIX-001",
            "pack": "t",
            "title": "Title",
            "description": "Description",
            "severity": "high",
            "fix": "Fix {{host}} at {{path}}: {{note}} {{unknown}}",
        }))
        .unwrap();
        let a = finding(
            "A",
            serde_json::json!({"host": "A", "path": "P", "note": "x", "unused": 1}),
            &meta,
        );
        let b = finding(
            "B",
            serde_json::json!({"host": "B", "path": "P", "note": ["y", 2]}),
            &meta,
        );
        let mut cut = finding("C", serde_json::json!({"host": "C", "path": "P"}), &meta);
        cut.fix = "Fix C at P…[cut]".to_string();
        let findings = [&a, &b, &cut];

        let plan = plan_fix(Some(&meta), &findings);
        assert_eq!(plan.shared, "Fix <host> at P: <note> {{unknown}}");
        assert_eq!(plan.varying, ["host", "note"]);
        assert_eq!(plan.own, [false, false, true]);

        // One finding, or the same values everywhere: the fix text as the finding has it.
        let plan = plan_fix(Some(&meta), &[&b]);
        assert_eq!(plan.shared, b.fix);
        assert!(plan.varying.is_empty());

        // Without the template: the first finding's text, and the others their own.
        let plan = plan_fix(None, &findings);
        assert_eq!(plan.shared, a.fix);
        assert_eq!(plan.own, [false, true, true]);

        // Under each finding, the values of the open parts, but not its own host name.
        let mut out = Vec::new();
        let plan = plan_fix(Some(&meta), &findings);
        write_host_finding(&b, &plan, false, &mut out).unwrap();
        write_host_finding(&cut, &plan, true, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "    - on B\n      in the fix: <note> = y, 2\n    - on C\n      fix for this finding:\n        Fix C at P…[cut]\n"
        );
    }

    #[test]
    fn a_capped_list_says_how_many_more() {
        let items: Vec<String> = (0..LIST_CAP + 3).map(|n| n.to_string()).collect();
        let text = capped_list(&items);
        assert!(text.ends_with(", and 3 more"), "{text}");
        assert_eq!(capped_list(&items[..2]), "0, 1");
    }
}
