//! Renders the scan report as readable text, in one of three layouts ([`TextLayout`]): the
//! summary first (the default, in [`crate::summary_text`]), the summary alone (`--quiet`), or
//! every finding under its host with its own fix guidance (`--detail`, this module).
//!
//! Every string that comes from evidence, rule packs or waivers goes through
//! [`escape_terminal`](crate::escape_terminal) (fix guidance, line by line), and the finished
//! text through [`escape_terminal_lines`] as a last guard, so no control sequence reaches the
//! terminal; in colour the guard keeps only the colour sequences the report puts in itself.
//!
//! Both layouts read the report's hosts and findings back from their spools one at a time and
//! write as they go: a fleet's report is never held whole.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use crate::finding::{Evidence, Finding};
use crate::outcome::Outcome;
use crate::rule::Severity;
use crate::ruleset::RuleSet;
use crate::scan::{ScanHost, ScanReport};
use crate::terminal::{
    escape_terminal as one_line, escape_terminal_lines, escape_terminal_lines_keeping_colour,
};

/// How the text report is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextLayout {
    /// Totals, a table of hosts, the findings grouped by rule with each rule's fix guidance
    /// once, what was not applicable or not checked, and the verdict on the last line.
    #[default]
    Summary,
    /// Only the totals, the table of hosts and the verdict (`--quiet`).
    Quiet,
    /// Every finding under its host with its own fix guidance, then the totals (`--detail`):
    /// the layout of [`write_scan_text`].
    Detail,
}

/// How [`write_scan_text_with`] writes the report.
#[derive(Clone, Copy)]
pub struct TextOptions<'a> {
    /// The layout.
    pub layout: TextLayout,
    /// `--fail-on`: the verdict names the findings at or above it (`None`: findings never fail).
    pub fail_on: Option<Severity>,
    /// `--allow-partial`, for the verdict.
    pub allow_partial: bool,
    /// Whether severities and the verdict are coloured (ANSI SGR sequences).
    pub color: bool,
    /// The rules run, whose fix templates let the summary show each rule's fix guidance once,
    /// with the values that differ between hosts under each host. Without them, a rule's fix
    /// guidance is shown once when every finding has the same, else under each finding.
    pub rules: Option<&'a RuleSet>,
}

impl Default for TextOptions<'_> {
    fn default() -> Self {
        TextOptions {
            layout: TextLayout::Summary,
            fail_on: Some(Severity::High),
            allow_partial: false,
            color: false,
            rules: None,
        }
    }
}

/// Colours fixed labels when colour is on; leaves them alone otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Paint {
    pub(crate) on: bool,
}

impl Paint {
    /// `text` in `style`.
    pub(crate) fn style(self, style: Style, text: &str) -> String {
        if self.on && style != Style::new() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    /// `text` in the colour of `severity`.
    pub(crate) fn severity(self, severity: Severity, text: &str) -> String {
        self.style(severity_style(severity), text)
    }
}

/// Critical bold red, high red, medium yellow, low cyan, info dimmed.
pub(crate) fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::Critical => AnsiColor::Red.on_default().bold(),
        Severity::High => AnsiColor::Red.on_default(),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => Style::new().dimmed(),
    }
}

fn write_evidence(evidence: &Evidence, out: &mut dyn Write) -> io::Result<()> {
    let file = if evidence.files.len() > 1 {
        let files: Vec<_> = evidence.files.iter().map(|file| one_line(file)).collect();
        format!("  [{}]", files.join(", "))
    } else {
        evidence
            .file
            .as_deref()
            .map(|file| format!("  [{}]", one_line(file)))
            .unwrap_or_default()
    };
    writeln!(
        out,
        "      evidence: {}{file}",
        one_line(&evidence.summary())
    )
}

fn write_finding(finding: &Finding, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    let inferred = if finding.inferred { " (inferred)" } else { "" };
    let suppressed = match &finding.suppression {
        Some(suppression) => format!(
            " [{}: {}]",
            match suppression.kind {
                crate::finding::SuppressionKind::Waiver => "waived",
                crate::finding::SuppressionKind::Baseline => "baseline",
            },
            one_line(&suppression.justification)
        ),
        None => String::new(),
    };
    let label = format!("{:<8}", finding.severity.name().to_uppercase());
    writeln!(
        out,
        "  {} {}  {}{inferred}{suppressed}",
        paint.severity(finding.severity, &label),
        one_line(&finding.rule),
        one_line(&finding.title)
    )?;
    writeln!(out, "      {}", one_line(&finding.message))?;
    for evidence in &finding.evidence {
        write_evidence(evidence, out)?;
    }
    writeln!(out, "      fix:")?;
    for line in finding.fix.lines() {
        if line.trim().is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, "        {}", one_line(line))?;
        }
    }
    Ok(())
}

/// Writes `report` as text, with control characters from the evidence, rules and waivers shown
/// as visible escapes (see [`escape_terminal`](crate::escape_terminal)).
/// This is the `--detail` layout, without colour; [`write_scan_text_with`] writes any layout.
pub fn write_scan_text(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    write_scan_text_with(
        report,
        &TextOptions {
            layout: TextLayout::Detail,
            ..TextOptions::default()
        },
        out,
    )
}

/// Writes `report` as text in the layout of `options`, with control characters from the
/// evidence, rules and waivers shown as visible escapes, and colour only when `options.color`.
pub fn write_scan_text_with(
    report: &ScanReport,
    options: &TextOptions<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let paint = Paint { on: options.color };
    let mut escaped = LineEscaper {
        out,
        pending: Vec::new(),
        color: options.color,
    };
    match options.layout {
        TextLayout::Detail => write_report(report, paint, &mut escaped)?,
        TextLayout::Summary | TextLayout::Quiet => {
            crate::summary_text::write_summary(report, options, paint, &mut escaped)?
        }
    }
    escaped.finish()
}

/// Escapes terminal controls line by line on the way to `out` (keeping colour when `color`),
/// so that a fleet's report is never held whole. Lines are independent: escaping them one at a
/// time gives what escaping the whole text gives.
struct LineEscaper<'a> {
    out: &'a mut dyn Write,
    pending: Vec<u8>,
    color: bool,
}

impl LineEscaper<'_> {
    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        let text = String::from_utf8_lossy(bytes);
        let guarded = if self.color {
            escape_terminal_lines_keeping_colour(&text)
        } else {
            escape_terminal_lines(&text)
        };
        self.out.write_all(guarded.as_bytes())
    }

    /// Writes what is left after the last line break.
    fn finish(mut self) -> io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.emit(&rest)?;
        }
        Ok(())
    }
}

impl Write for LineEscaper<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|byte| *byte == b'\n') {
            let rest = self.pending.split_off(last + 1);
            let lines = std::mem::replace(&mut self.pending, rest);
            self.emit(&lines)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_report(report: &ScanReport, paint: Paint, out: &mut dyn Write) -> io::Result<()> {
    // The detailed layout lists each host's findings under it: they are grouped once, by their
    // positions in the report, and read back from the spool (as the hosts are) one at a time.
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    for (position, finding) in report.finding_heads().enumerate() {
        by_host.entry(finding.host).or_default().push(position);
    }
    let mut known: HashSet<String> = HashSet::new();
    let mut not_checked = 0;
    for host in report.hosts.stream() {
        known.insert(host.name.clone());
        not_checked += host.coverage.not_checked;
        let os = match (&host.os, &host.os_build) {
            (Some(name), Some(build)) => {
                format!(" ({}, build {})", one_line(name), one_line(build))
            }
            (Some(name), None) => format!(" ({})", one_line(name)),
            _ => String::new(),
        };
        let coverage = &host.coverage;
        writeln!(
            out,
            "{}{os}: checked {} of {} rule(s)",
            one_line(&host.name),
            coverage.checked,
            coverage.rules
        )?;
        for file in &host.files {
            for notice in &file.notices {
                let level = format!("{:?}", notice.level).to_lowercase();
                writeln!(out, "  {level}: {}", one_line(&notice.message))?;
            }
        }
        for notice in &host.notices {
            let level = format!("{:?}", notice.level).to_lowercase();
            writeln!(out, "  {level}: {}", one_line(&notice.message))?;
        }
        let findings = by_host.get(&host.name).map_or(&[][..], Vec::as_slice);
        if findings.is_empty() {
            writeln!(out, "  {}", no_findings_line(&host))?;
        }
        for finding in findings.iter().filter_map(|at| report.findings.get(*at)) {
            write_finding(&finding, paint, out)?;
        }
        for error in report
            .rule_errors
            .iter()
            .filter(|error| error.host == host.name)
        {
            writeln!(
                out,
                "  RULE ERROR {} ({}:{}): {}",
                one_line(&error.rule),
                one_line(&error.file),
                error.line.map_or("?".to_string(), |line| line.to_string()),
                one_line(&error.message)
            )?;
        }
        for unchecked in report
            .unchecked
            .iter()
            .filter(|unchecked| unchecked.host == host.name)
        {
            writeln!(
                out,
                "  NOT CHECKED {}: {}",
                one_line(&unchecked.rule),
                one_line(&unchecked.message)
            )?;
        }
        write_not_applicable(&host, out)?;
        for (reason, rules) in crate::summary_text::inferred_passes(&host.outcomes) {
            writeln!(
                out,
                "  PASSED (INFERRED) {}: {}",
                one_line(&rules.join(", ")),
                one_line(reason)
            )?;
        }
        if !host.missing_required.is_empty() {
            writeln!(
                out,
                "  MISSING REQUIRED EVIDENCE: {}",
                one_line(&host.missing_required.join(", "))
            )?;
        }
        writeln!(out)?;
    }
    for finding in report
        .findings
        .stream()
        .filter(|finding| !known.contains(&finding.host))
    {
        write_finding(&finding, paint, out)?;
    }
    for error in report.rule_errors.iter().filter(|error| error.host == "*") {
        writeln!(
            out,
            "RULE ERROR {} (fleet): {}",
            one_line(&error.rule),
            one_line(&error.message)
        )?;
    }
    for unchecked in report
        .unchecked
        .iter()
        .filter(|unchecked| unchecked.host == "*")
    {
        writeln!(
            out,
            "NOT CHECKED {} (fleet): {}",
            one_line(&unchecked.rule),
            one_line(&unchecked.message)
        )?;
    }
    for notice in &report.notices {
        let level = format!("{:?}", notice.level).to_lowercase();
        writeln!(out, "{level}: {}", one_line(&notice.message))?;
    }
    if !report.passed_over.is_empty() {
        writeln!(out, "passed over")?;
        for skipped in &report.passed_over {
            writeln!(
                out,
                "  {}: {}",
                one_line(&skipped.path),
                one_line(&skipped.reason)
            )?;
        }
        writeln!(out)?;
    }
    let counts = &report.counts;
    let summary = &report.summary;
    writeln!(
        out,
        "{} finding(s){}: {} critical, {} high, {} medium, {} low, {} info; {} host(s), {} rule(s), profile {}; {} file(s) read, {} partly, {} unreadable; {} rule error(s){}",
        summary.findings,
        if summary.suppressed > 0 {
            format!(" ({} waived or baselined)", summary.suppressed)
        } else {
            String::new()
        },
        counts.critical,
        counts.high,
        counts.medium,
        counts.low,
        counts.info,
        summary.hosts,
        summary.rules,
        one_line(&report.profile),
        summary.files_read,
        summary.files_partial,
        summary.files_unreadable,
        summary.rule_errors,
        if summary.unchecked > 0 {
            format!(
                "; {} check(s) not made because evidence is damaged or incomplete",
                summary.unchecked
            )
        } else {
            String::new()
        }
    )?;
    writeln!(
        out,
        "coverage: {} rule × host check(s) made ({} passed{}), {} not applicable, {} not checked; {} of {} host(s) with nothing checked{}",
        summary.checked,
        summary.passed,
        crate::summary_text::passed_inferred_note(summary.passed_inferred),
        summary.not_applicable,
        not_checked,
        summary.hosts_not_checked,
        summary.hosts,
        if summary.hosts_missing_required > 0 {
            format!(
                "; {} host(s) lack evidence --require demands",
                summary.hosts_missing_required
            )
        } else {
            String::new()
        }
    )?;
    if summary.checked == 0 {
        writeln!(
            out,
            "nothing was checked: no rule could judge any host on the evidence given"
        )?;
    }
    Ok(())
}

/// The line a host without findings gets: never a bare "no findings" when some rules could not
/// look.
pub(crate) fn no_findings_line(host: &ScanHost) -> String {
    let coverage = &host.coverage;
    if coverage.checked == 0 {
        return format!(
            "NOTHING CHECKED: no rule could judge this host ({} not applicable, {} not checked, {} failed)",
            coverage.not_applicable, coverage.not_checked, coverage.errors
        );
    }
    let mut rest = Vec::new();
    if coverage.not_applicable > 0 {
        rest.push(format!("{} not applicable", coverage.not_applicable));
    }
    if coverage.not_checked > 0 {
        rest.push(format!("{} NOT CHECKED", coverage.not_checked));
    }
    if coverage.errors > 0 {
        rest.push(format!("{} FAILED", coverage.errors));
    }
    let line = if rest.is_empty() {
        format!(
            "no findings: all {} rule(s) checked and passed",
            coverage.rules
        )
    } else {
        format!(
            "no findings in the {} rule(s) checked; {} of {}",
            coverage.checked,
            rest.join(", "),
            coverage.rules
        )
    };
    if coverage.passed_inferred == 0 {
        return line;
    }
    format!(
        "{line}; {} passed by inference only (each names what it assumed)",
        coverage.passed_inferred
    )
}

/// The rules that did not apply to `host`, grouped by reason.
fn write_not_applicable(host: &ScanHost, out: &mut dyn Write) -> io::Result<()> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for outcome in host
        .outcomes
        .iter()
        .filter(|outcome| outcome.outcome == Outcome::NotApplicable)
    {
        let reason = outcome.reason.as_deref().unwrap_or("no reason given");
        match by_reason.iter_mut().find(|(known, _)| *known == reason) {
            Some((_, rules)) => rules.push(&outcome.rule),
            None => by_reason.push((reason, vec![&outcome.rule])),
        }
    }
    by_reason.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    for (reason, rules) in by_reason {
        writeln!(
            out,
            "  not applicable: {}: {}",
            one_line(reason),
            one_line(&rules.join(", "))
        )?;
    }
    Ok(())
}
