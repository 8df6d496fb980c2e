//! Renders the scan report as readable text: findings grouped by host, then a summary.

use std::io::{self, Write};

use crate::finding::{Evidence, Finding};
use crate::scan::ScanReport;

fn write_evidence(evidence: &Evidence, out: &mut dyn Write) -> io::Result<()> {
    let file = evidence
        .file
        .as_deref()
        .map(|file| format!("  [{file}]"))
        .unwrap_or_default();
    writeln!(out, "      evidence: {}{file}", evidence.summary())
}

fn write_finding(finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
    let inferred = if finding.inferred { " (inferred)" } else { "" };
    let suppressed = match &finding.suppression {
        Some(suppression) => format!(
            " [{}: {}]",
            match suppression.kind {
                crate::finding::SuppressionKind::Waiver => "waived",
                crate::finding::SuppressionKind::Baseline => "baseline",
            },
            suppression.justification
        ),
        None => String::new(),
    };
    writeln!(
        out,
        "  {:<8} {}  {}{inferred}{suppressed}",
        finding.severity.name().to_uppercase(),
        finding.rule,
        finding.title
    )?;
    writeln!(out, "      {}", finding.message)?;
    for evidence in &finding.evidence {
        write_evidence(evidence, out)?;
    }
    writeln!(out, "      fix:")?;
    for line in finding.fix.lines() {
        if line.trim().is_empty() {
            writeln!(out)?;
        } else {
            writeln!(out, "        {line}")?;
        }
    }
    Ok(())
}

/// Writes `report` as text.
pub fn write_scan_text(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    for host in &report.hosts {
        let os = match (&host.os, &host.os_build) {
            (Some(name), Some(build)) => format!(" ({name}, build {build})"),
            (Some(name), None) => format!(" ({name})"),
            _ => String::new(),
        };
        writeln!(out, "{}{os}", host.name)?;
        for file in &host.files {
            for notice in &file.notices {
                let level = format!("{:?}", notice.level).to_lowercase();
                writeln!(out, "  {level}: {}", notice.message)?;
            }
        }
        for notice in &host.notices {
            let level = format!("{:?}", notice.level).to_lowercase();
            writeln!(out, "  {level}: {}", notice.message)?;
        }
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|finding| finding.host == host.name)
            .collect();
        if findings.is_empty() {
            writeln!(out, "  no findings")?;
        }
        for finding in findings {
            write_finding(finding, out)?;
        }
        for error in report
            .rule_errors
            .iter()
            .filter(|error| error.host == host.name)
        {
            writeln!(
                out,
                "  RULE ERROR {} ({}:{}): {}",
                error.rule,
                error.file,
                error.line.map_or("?".to_string(), |line| line.to_string()),
                error.message
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
                unchecked.rule, unchecked.message
            )?;
        }
        writeln!(out)?;
    }
    for finding in report
        .findings
        .iter()
        .filter(|finding| !report.hosts.iter().any(|host| host.name == finding.host))
    {
        write_finding(finding, out)?;
    }
    for error in report.rule_errors.iter().filter(|error| error.host == "*") {
        writeln!(out, "RULE ERROR {} (fleet): {}", error.rule, error.message)?;
    }
    for unchecked in report
        .unchecked
        .iter()
        .filter(|unchecked| unchecked.host == "*")
    {
        writeln!(
            out,
            "NOT CHECKED {} (fleet): {}",
            unchecked.rule, unchecked.message
        )?;
    }
    for notice in &report.notices {
        let level = format!("{:?}", notice.level).to_lowercase();
        writeln!(out, "{level}: {}", notice.message)?;
    }
    if !report.passed_over.is_empty() {
        writeln!(out, "passed over")?;
        for skipped in &report.passed_over {
            writeln!(out, "  {}: {}", skipped.path, skipped.reason)?;
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
        report.profile,
        summary.files_read,
        summary.files_partial,
        summary.files_unreadable,
        summary.rule_errors,
        if summary.unchecked > 0 {
            format!(
                "; {} check(s) not made because evidence is damaged",
                summary.unchecked
            )
        } else {
            String::new()
        }
    )?;
    if summary.evaluations == 0 {
        writeln!(
            out,
            "nothing was checked: no rule could be evaluated on readable evidence"
        )?;
    }
    Ok(())
}
