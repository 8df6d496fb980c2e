//! The summary's last line, the verdict: what the exit code will be and why.

use anstyle::AnsiColor;

use super::count;
use crate::rule::Severity;
use crate::scan::{ScanReport, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::scan_text::{Paint, TextOptions};
use crate::terminal::escape_terminal as one_line;

/// The most findings the verdict line names.
const VERDICT_CAP: usize = 5;

/// The last line: what the exit code will be and why, naming the findings that tripped
/// `--fail-on` (the most severe first, at most [`VERDICT_CAP`]).
pub(super) fn verdict_line(report: &ScanReport, options: &TextOptions<'_>, paint: Paint) -> String {
    let code = report.exit_code_with(options.fail_on, options.allow_partial);
    let threshold = options.fail_on;
    // Only what the line names is kept: (severity, rule, host).
    let mut tripping: Vec<(Severity, String, String)> = report
        .finding_heads()
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
                    "some evidence could not be read or checked ({} unreadable, {} stopped by damaged or incomplete evidence, {} with nothing checked; --allow-partial accepts this)",
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
                .finding_heads()
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
