//! The summary-first text report, the default of `hiveward scan` and `merge`:
//!
//! 1. the totals: hosts, rules, findings by severity, waived and baselined findings, evidence
//!    files, checks made, not applicable and not checked, rule errors;
//! 2. a table of hosts: OS and role, findings by severity, and how many rules checked the host,
//!    did not apply to it, or could not look;
//! 3. the findings grouped by rule, most severe first: the rule's fix guidance once, then each
//!    host with its findings' messages and evidence (see [`FixPlan`] for how one text serves
//!    every host);
//! 4. what was not applicable (the most common reasons), not checked, failed, or missing, the
//!    notices about the run, and the files passed over, each list cut at [`LIST_CAP`] lines
//!    (`--detail` shows them all);
//! 5. on the last line, the verdict: which findings tripped `--fail-on`, or why the results are
//!    incomplete, or that the run passed.
//!
//! `--quiet` keeps the totals, the table and the verdict. Every string from evidence, packs or
//! waivers is escaped here with [`escape_terminal`](crate::escape_terminal); the caller applies the
//! last guard.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use anstyle::AnsiColor;
use comfy_table::{Cell, CellAlignment, LineStyle, Table, TableStyle};
use hiveward_collectors::{NoticeLevel, Role};

use crate::finding::{Finding, SuppressionKind};
use crate::outcome::Outcome;
use crate::rule::{RuleMeta, Severity};
use crate::scan::{ScanReport, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::scan_text::{Paint, TextLayout, TextOptions};
use crate::terminal::escape_terminal as one_line;

/// The most lines a list of the summary shows (reasons, hosts, files); `--detail` shows all.
pub(crate) const LIST_CAP: usize = 10;
/// The most findings the verdict line names.
const VERDICT_CAP: usize = 5;

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
    let (waived, baselined) = suppressed_counts(report.findings.stream());
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
        .iter()
        .map(|host| host.coverage.not_checked)
        .sum();
    let mut checks = format!(
        "checks:       {} made ({} passed), {} not applicable, {} not checked (rule × host); {} of {} with nothing checked",
        summary.checked,
        summary.passed,
        summary.not_applicable,
        not_checked,
        summary.hosts_not_checked,
        count(summary.hosts, "host")
    );
    if summary.unchecked > 0 {
        checks.push_str(&format!(
            "; {} not made because evidence is damaged",
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
fn suppressed_counts(findings: impl IntoIterator<Item = Finding>) -> (usize, usize) {
    let mut waived = 0;
    let mut baselined = 0;
    for finding in findings {
        match finding
            .suppression
            .as_ref()
            .map(|suppression| suppression.kind)
        {
            Some(SuppressionKind::Waiver) => waived += 1,
            Some(SuppressionKind::Baseline) => baselined += 1,
            None => {}
        }
    }
    (waived, baselined)
}

/// The role as the host table shows it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Workstation => "workstation",
        Role::Server => "server",
        Role::DomainController => "domain controller",
        Role::Unknown => "-",
    }
}

/// Counts a finding of `severity` in a row of findings per severity, most severe first.
fn count_severity(row: &mut [usize; 5], severity: Severity) {
    if let Some(column) = SEVERITIES.iter().position(|known| *known == severity) {
        row[column] += 1;
    }
}

/// The table of hosts: one row per host (and one per host that only a fleet rule's finding
/// names), with its findings by severity and how its rules ended.
fn write_host_table(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    // Read from the spools a host or finding at a time: a fleet's report does not fit in memory.
    let mut by_host: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for finding in report.findings.stream() {
        count_severity(by_host.entry(finding.host).or_default(), finding.severity);
    }
    let failed = report.hosts.stream().any(|host| host.coverage.errors > 0);
    let mut header = vec![
        "HOST",
        "OS",
        "ROLE",
        "CRIT",
        "HIGH",
        "MED",
        "LOW",
        "INFO",
        "CHECKED",
        "N/A",
        "NOT CHECKED",
    ];
    if failed {
        header.push("FAILED");
    }
    let mut table = Table::new();
    table.load_style(TableStyle::new().header_separator(LineStyle::none().fill('-')));
    // The first three columns hold text, the others numbers: right-aligned, headings too.
    table.set_header(header.iter().enumerate().map(|(index, title)| {
        let cell = Cell::new(*title);
        if index < 3 {
            cell
        } else {
            cell.set_alignment(CellAlignment::Right)
        }
    }));
    let number = |value: usize| Cell::new(value).set_alignment(CellAlignment::Right);
    for host in report.hosts.stream() {
        let os = match (&host.os, &host.os_build) {
            (Some(name), Some(build)) => format!("{} ({})", one_line(name), one_line(build)),
            (Some(name), None) => one_line(name).into_owned(),
            (None, Some(build)) => format!("build {}", one_line(build)),
            (None, None) => "-".to_string(),
        };
        let severities = by_host.remove(host.name.as_str()).unwrap_or_default();
        let coverage = &host.coverage;
        let mut row = vec![
            Cell::new(one_line(&host.name)),
            Cell::new(os),
            Cell::new(role_name(host.role)),
        ];
        row.extend(severities.into_iter().map(number));
        row.push(number(coverage.checked));
        row.push(number(coverage.not_applicable));
        row.push(number(coverage.not_checked));
        if failed {
            row.push(number(coverage.errors));
        }
        table.add_row(row);
    }
    // Hosts only fleet findings name (not among the hosts scanned).
    for (host, severities) in by_host {
        let mut row = vec![Cell::new(one_line(&host)), Cell::new("-"), Cell::new("-")];
        row.extend(severities.into_iter().map(number));
        row.extend(["-", "-", "-"].map(|dash| Cell::new(dash).set_alignment(CellAlignment::Right)));
        if failed {
            row.push(Cell::new("-").set_alignment(CellAlignment::Right));
        }
        table.add_row(row);
    }
    let last = header.len() - 1;
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
    }
    writeln!(
        out,
        "Hosts (CHECKED: rules that judged the host, N/A: rules not applicable, NOT CHECKED: rules stopped by damaged evidence or --timeout):"
    )?;
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// How a rule's fix guidance is shown once for all its findings.
///
/// The fix text of a finding is the rule's template with the finding's `fix_values` filled in.
/// The summary fills each placeholder whose value is the same in every finding of the rule, and
/// writes the others as `<name>`; under each finding it gives the values of those `<name>`
/// parts (leaving out `host` when it is the host the finding is listed under). A finding whose
/// fix text is not the template filled with its values (the text was cut to the limits, or no
/// template is known) shows its own fix text. Without a template, the first finding's fix text
/// stands for the rule, and findings with another text show their own.
struct FixPlan {
    /// The text shown once for the rule.
    shared: String,
    /// The placeholders written as `<name>`, whose values each finding lists.
    varying: Vec<String>,
    /// For each finding, whether it shows its own fix text instead.
    own: Vec<bool>,
}

fn plain_values(finding: &Finding) -> BTreeMap<String, serde_json::Value> {
    finding
        .fix_values
        .iter()
        .map(|(name, value)| (name.clone(), value.0.clone()))
        .collect()
}

/// The plan of `findings` at once (the tests' view of [`FixPlanner`]).
#[cfg(test)]
fn plan_fix(meta: Option<&RuleMeta>, findings: &[&Finding]) -> FixPlan {
    let mut planner = FixPlanner::new(meta);
    for finding in findings {
        planner.add(finding);
    }
    planner.plan()
}

/// Works out a [`FixPlan`] one finding at a time, so that a rule's findings need not be in
/// memory together.
struct FixPlanner<'m> {
    meta: Option<&'m RuleMeta>,
    /// The first finding's fix text and values.
    first: Option<(String, BTreeMap<String, serde_json::Value>)>,
    /// Every fix value name of the findings that the template uses.
    names: BTreeSet<String>,
    /// The names whose value is not the first finding's in some finding.
    differ: BTreeSet<String>,
    /// Per finding: whether its fix text is not the template filled with its values.
    own_by_template: Vec<bool>,
    /// Per finding: whether its fix text is not the first finding's.
    own_by_first: Vec<bool>,
}

impl<'m> FixPlanner<'m> {
    fn new(meta: Option<&'m RuleMeta>) -> Self {
        FixPlanner {
            meta,
            first: None,
            names: BTreeSet::new(),
            differ: BTreeSet::new(),
            own_by_template: Vec::new(),
            own_by_first: Vec::new(),
        }
    }

    fn add(&mut self, finding: &Finding) {
        let values = plain_values(finding);
        let (first_fix, first_values) = self
            .first
            .get_or_insert_with(|| (finding.fix.clone(), values.clone()));
        for (name, value) in first_values.iter() {
            if values.get(name) != Some(value) {
                self.differ.insert(name.clone());
            }
        }
        self.own_by_first.push(finding.fix != *first_fix);
        if let Some(meta) = self.meta {
            for name in values.keys() {
                if meta.fix.contains(&format!("{{{{{name}}}}}")) {
                    self.names.insert(name.clone());
                }
            }
            self.own_by_template
                .push(finding.fix != meta.render_fix(&values));
        }
    }

    fn plan(self) -> FixPlan {
        let (first_fix, first_values) = self.first.unwrap_or_default();
        if let Some(meta) = self.meta {
            if self.own_by_template.iter().any(|own| !own) {
                let mut values = BTreeMap::new();
                let mut varying = Vec::new();
                for name in self.names {
                    match first_values
                        .get(&name)
                        .filter(|_| !self.differ.contains(&name))
                    {
                        Some(value) => {
                            values.insert(name, value.clone());
                        }
                        None => {
                            values.insert(
                                name.clone(),
                                serde_json::Value::String(format!("<{name}>")),
                            );
                            varying.push(name);
                        }
                    }
                }
                return FixPlan {
                    shared: meta.render_fix(&values),
                    varying,
                    own: self.own_by_template,
                };
            }
        }
        FixPlan {
            shared: first_fix,
            varying: Vec::new(),
            own: self.own_by_first,
        }
    }
}

/// A fix value as the fix text shows it: strings as they are, arrays joined with `, `, other
/// values as JSON.
fn fix_value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
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
    for (position, finding) in report.findings.stream().enumerate() {
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
    let mut not_checked: Vec<String> = Vec::new();
    for host in report.hosts.stream() {
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
                Outcome::NotChecked => not_checked.push(format!(
                    "NOT CHECKED {} on {}: {}",
                    one_line(&outcome.rule),
                    one_line(&host.name),
                    one_line(reason)
                )),
                _ => {}
            }
        }
    }
    for unchecked in report.unchecked.iter().filter(|item| item.host == "*") {
        not_checked.push(format!(
            "NOT CHECKED {} (fleet): {}",
            one_line(&unchecked.rule),
            one_line(&unchecked.message)
        ));
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
            "Not checked: {} (damaged evidence or --timeout):",
            count(not_checked.len(), "rule × host outcome")
        ),
        &not_checked,
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
        out,
    )?;
    let nothing: Vec<String> = report
        .hosts
        .iter()
        .filter(|host| host.coverage.checked == 0 && host.coverage.rules > 0)
        .map(|host| one_line(&host.name).into_owned())
        .collect();
    if !nothing.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "NOTHING CHECKED on {}: no rule could judge them on the evidence given: {}",
            count(nothing.len(), "host"),
            capped_list(&nothing)
        )?;
    }
    let missing: Vec<String> = report
        .hosts
        .iter()
        .filter(|host| !host.missing_required.is_empty())
        .map(|host| {
            format!(
                "{} ({})",
                one_line(&host.name),
                one_line(&host.missing_required.join(", "))
            )
        })
        .collect();
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

/// A heading and up to [`LIST_CAP`] lines under it, with how many more `--detail` shows;
/// nothing when `lines` is empty.
fn write_capped_section(heading: &str, lines: &[String], out: &mut dyn Write) -> io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{heading}")?;
    for line in lines.iter().take(LIST_CAP) {
        writeln!(out, "  {line}")?;
    }
    if lines.len() > LIST_CAP {
        writeln!(
            out,
            "  ... and {} more (--detail lists them all)",
            lines.len() - LIST_CAP
        )?;
    }
    Ok(())
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
        out,
    )
}

/// The last line: what the exit code will be and why, naming the findings that tripped
/// `--fail-on` (the most severe first, at most [`VERDICT_CAP`]).
pub(crate) fn verdict_line(report: &ScanReport, options: &TextOptions<'_>, paint: Paint) -> String {
    let code = report.exit_code_with(options.fail_on, options.allow_partial);
    let threshold = options.fail_on;
    // Only what the line names is kept: (severity, rule, host).
    let mut tripping: Vec<(Severity, String, String)> = report
        .findings
        .stream()
        .filter(|finding| {
            finding.suppression.is_none()
                && threshold.is_some_and(|threshold| finding.severity >= threshold)
        })
        .map(|finding| (finding.severity, finding.rule, finding.host))
        .collect();
    tripping.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let gate = match threshold {
        Some(threshold) => format!("at or above {threshold} (--fail-on {threshold})"),
        None => "(--fail-on never)".to_string(),
    };
    let tripped = || {
        let mut names: Vec<String> = tripping
            .iter()
            .take(VERDICT_CAP)
            .map(|(_, rule, host)| format!("{} on {}", one_line(rule), one_line(host)))
            .collect();
        if tripping.len() > VERDICT_CAP {
            names.push(format!("and {} more", tripping.len() - VERDICT_CAP));
        }
        format!(
            "{} {gate}: {}",
            count(tripping.len(), "finding"),
            names.join(", ")
        )
    };
    let summary = &report.summary;
    match code {
        EXIT_ERROR => {
            let mut text = format!(
                "{}: {} failed while running (exit {code})",
                paint.style(AnsiColor::Red.on_default().bold(), "ERROR"),
                count(summary.rule_errors, "rule error")
            );
            if !tripping.is_empty() {
                text.push_str(&format!("; also {}", tripped()));
            }
            text
        }
        EXIT_FINDINGS => format!(
            "{}: {}",
            paint.style(AnsiColor::Red.on_default().bold(), "FAIL"),
            tripped()
        ),
        EXIT_INCOMPLETE => {
            let why = if summary.timed_out > 0 {
                format!(
                    "the run's --timeout expired: {} not made",
                    count(summary.timed_out, "check")
                )
            } else if summary.checked == 0 {
                "nothing was checked: no rule could judge any host on the evidence given"
                    .to_string()
            } else if summary.hosts_missing_required > 0 {
                format!(
                    "{} lack evidence --require demands",
                    count(summary.hosts_missing_required, "host")
                )
            } else {
                format!(
                    "some evidence could not be read or checked ({} unreadable, {} stopped by damaged evidence, {} with nothing checked; --allow-partial accepts this)",
                    count(summary.files_unreadable, "file"),
                    count(summary.unchecked, "check"),
                    count(summary.hosts_not_checked, "host")
                )
            };
            let findings = match threshold {
                Some(_) => format!("no finding {gate}"),
                None => "findings do not fail the run (--fail-on never)".to_string(),
            };
            format!(
                "{} (exit {code}): {why}; {findings}",
                paint.style(AnsiColor::Yellow.on_default().bold(), "INCOMPLETE")
            )
        }
        EXIT_CLEAN => {
            let pass = paint.style(AnsiColor::Green.on_default().bold(), "PASS");
            let unsuppressed = report
                .findings
                .stream()
                .filter(|finding| finding.suppression.is_none())
                .count();
            let accepted = report.findings.len() - unsuppressed;
            let mut rest = Vec::new();
            match threshold {
                Some(_) if unsuppressed > 0 => {
                    rest.push(format!("{} below it", count(unsuppressed, "finding")))
                }
                None if unsuppressed > 0 => {
                    rest.push(format!("{} reported", count(unsuppressed, "finding")))
                }
                _ => {}
            }
            if accepted > 0 {
                rest.push(format!("{accepted} waived or baselined"));
            }
            let rest = if rest.is_empty() {
                String::new()
            } else {
                format!("; {}", rest.join(", "))
            };
            match threshold {
                Some(_) => format!("{pass}: no finding {gate}{rest}"),
                None => format!("{pass}: findings do not fail the run (--fail-on never){rest}"),
            }
        }
        other => format!("exit {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_values_read_as_the_fix_text_shows_them() {
        assert_eq!(fix_value_text(&serde_json::json!("a b")), "a b");
        assert_eq!(
            fix_value_text(&serde_json::json!(["x", 2, true])),
            "x, 2, true"
        );
        assert_eq!(fix_value_text(&serde_json::json!(5)), "5");
    }

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
