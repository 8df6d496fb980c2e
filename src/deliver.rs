//! Everything after the rules ran, the same for `scan` and `merge`: waivers and the baseline,
//! the reports in each format, the messages on standard error, and the exit code.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use hiveward_engine::{
    baseline_json, load_baseline, load_waivers, write_junit_fail_on, write_scan_text_with,
    Baseline, Date, RuleSet, ScanReport, Severity, TextLayout, TextOptions, Waivers, EXIT_ERROR,
    EXIT_INCOMPLETE,
};

use crate::{emit_with, read_input, render_diagnostic};

/// The report options of `scan` and `merge`.
#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Output format of the main report.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub(crate) format: ScanFormat,
    /// Write the main report to this file instead of standard output (`-`: standard output).
    #[arg(short, long)]
    pub(crate) output: Option<PathBuf>,
    /// Also write a report in another format, as FORMAT:FILE (repeatable), e.g.
    /// `--output-format sarif:out.sarif --output-format json:out.json`.
    #[arg(long = "output-format", value_name = "FORMAT:FILE", value_parser = parse_output_format)]
    pub(crate) output_formats: Vec<(ScanFormat, PathBuf)>,
    /// Waivers (TOML) that accept known findings; they stay in the report, marked as waived.
    #[arg(long, value_name = "FILE")]
    pub(crate) waivers: Option<PathBuf>,
    /// A baseline written by --write-baseline: findings already in it do not fail the run.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// Write the fingerprints of this run's findings as a baseline.
    #[arg(long, value_name = "FILE")]
    pub(crate) write_baseline: Option<PathBuf>,
    /// Do not exit 3 when some evidence was unreadable or damaged, or some host could not be
    /// checked (a run that checked nothing, or a --require that is not met, still does).
    #[arg(long)]
    pub(crate) allow_partial: bool,
    /// Leave waived and baselined findings out of SARIF (GitHub ignores SARIF suppressions).
    #[arg(long)]
    pub(crate) sarif_omit_suppressed: bool,
    /// Exit 1 when a finding is at or above this severity: info, low, medium, high, critical, never.
    #[arg(long, default_value = "high", value_parser = parse_fail_on)]
    pub(crate) fail_on: FailOn,
    /// Text report: every finding under its host with its own fix guidance (the per-finding
    /// layout), instead of the summary.
    #[arg(long, conflicts_with = "quiet")]
    pub(crate) detail: bool,
    /// Text report: only the totals, the table of hosts and the verdict line.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Colour the text report on standard output: auto (on a terminal, unless NO_COLOR is set),
    /// always, never. Reports written to files are never coloured.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = crate::ColorArg::Auto)]
    pub(crate) color: crate::ColorArg,
}

impl ReportArgs {
    /// The options that only make sense for a finished report, by flag, when given.
    pub(crate) fn report_only_flags(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.output.is_some() {
            given.push("--output");
        }
        if !self.output_formats.is_empty() {
            given.push("--output-format");
        }
        if self.waivers.is_some() {
            given.push("--waivers");
        }
        if self.baseline.is_some() {
            given.push("--baseline");
        }
        if self.write_baseline.is_some() {
            given.push("--write-baseline");
        }
        if self.detail {
            given.push("--detail");
        }
        if self.quiet {
            given.push("--quiet");
        }
        given
    }
}

/// A report format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScanFormat {
    Text,
    Json,
    Sarif,
    Junit,
    Html,
    Csv,
    Markdown,
}

fn parse_output_format(text: &str) -> Result<(ScanFormat, PathBuf), String> {
    let (format, file) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not FORMAT:FILE"))?;
    let format = ScanFormat::from_str(format, true).map_err(|_| {
        format!(
            "unknown format `{format}`: expected text, json, sarif, junit, html, csv or markdown"
        )
    })?;
    if file.is_empty() {
        return Err(format!("`{text}` names no file"));
    }
    Ok((format, PathBuf::from(file)))
}

/// `--fail-on`: a severity, or never.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FailOn(pub(crate) Option<Severity>);

fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(FailOn(None));
    }
    Severity::parse(text)
        .map(|severity| FailOn(Some(severity)))
        .ok_or_else(|| "expected info, low, medium, high, critical or never".to_string())
}

/// Waivers and the baseline, read and checked before any evidence is.
pub(crate) struct Acceptance {
    waivers: Option<Waivers>,
    baseline: Option<Baseline>,
}

/// Reads `--waivers` (which may name any of `loaded_ids`) and `--baseline`.
pub(crate) fn load_acceptance(args: &ReportArgs, loaded_ids: &[String]) -> Result<Acceptance, u8> {
    let waivers = match &args.waivers {
        None => None,
        Some(path) => {
            let text = read_input(path, "the waiver file").ok_or(EXIT_ERROR)?;
            let ids: Vec<&str> = loaded_ids.iter().map(String::as_str).collect();
            match load_waivers(path, &text, &ids) {
                Ok(waivers) => Some(waivers),
                Err(error) => {
                    render_diagnostic(&error);
                    return Err(EXIT_ERROR);
                }
            }
        }
    };
    let baseline = match &args.baseline {
        None => None,
        Some(path) => {
            let text = read_input(path, "the baseline").ok_or(EXIT_ERROR)?;
            match load_baseline(path, &text) {
                Ok(baseline) => Some(baseline),
                Err(error) => {
                    render_diagnostic(&error);
                    return Err(EXIT_ERROR);
                }
            }
        }
    };
    Ok(Acceptance { waivers, baseline })
}

/// Applies `acceptance`, writes the reports and returns the exit code. `timeout` is the text of
/// the run's `--timeout`; `source_root` the folder the scan ran in, which SARIF paths are
/// relative to (the current one when `None`).
pub(crate) fn deliver(
    mut report: ScanReport,
    rules: &RuleSet,
    args: &ReportArgs,
    acceptance: &Acceptance,
    timeout: Option<&str>,
    source_root: Option<PathBuf>,
) -> u8 {
    if let Some(path) = &args.write_baseline {
        if let Err(error) = std::fs::write(path, baseline_json(report.findings.stream())) {
            eprintln!(
                "error: cannot write the baseline {}: {error}",
                path.display()
            );
            return EXIT_ERROR;
        }
    }
    if let Some(waivers) = &acceptance.waivers {
        let findings = &mut report.findings;
        let notices = waivers.apply_each(|waive| findings.update(waive), Date::today_utc());
        report.notices.extend(notices);
    }
    if let Some(baseline) = &acceptance.baseline {
        let findings = &mut report.findings;
        baseline.apply_each(|mark| findings.update(mark));
    }
    // Only waivers and the baseline mark findings suppressed: without them, nothing to count
    // (a pass over every finding at fleet scale).
    if acceptance.waivers.is_some() || acceptance.baseline.is_some() {
        report.summary.suppressed = report
            .findings
            .stream()
            .filter(|finding| finding.suppression.is_some())
            .count();
    }
    for error in &report.rule_errors {
        let text = rules
            .rule(&error.rule)
            .map(|rule| rule.file.text.clone())
            .unwrap_or_default();
        render_diagnostic(&error.to_diagnostic(&text));
    }
    let text_options = |to_stdout: bool| TextOptions {
        layout: if args.detail {
            TextLayout::Detail
        } else if args.quiet {
            TextLayout::Quiet
        } else {
            TextLayout::Summary
        },
        fail_on: args.fail_on.0,
        allow_partial: args.allow_partial,
        color: to_stdout && args.color.for_stdout(),
        rules: Some(rules),
    };
    let render_failed = std::cell::Cell::new(false);
    let sarif_options = hiveward_engine::SarifOptions {
        omit_suppressed: args.sarif_omit_suppressed,
        automation_id: format!("hiveward/{}/", report.profile),
        source_root_is_scan_directory: source_root.is_some(),
        source_root: source_root.clone(),
        ..hiveward_engine::SarifOptions::default()
    };
    // Every report is written as it is rendered, a host and a finding at a time: a fleet's
    // report is never held whole.
    let write = |format: ScanFormat, to_stdout: bool, output: Option<&Path>| match format {
        ScanFormat::Text => emit_with(output, &mut |out| {
            write_scan_text_with(&report, &text_options(to_stdout), out)
        }),
        ScanFormat::Csv => emit_with(output, &mut |out| {
            hiveward_report::write_csv_report(&report, out)
        }),
        ScanFormat::Json => emit_with(output, &mut |out| {
            hiveward_engine::write_json_report(&report, out)
        }),
        ScanFormat::Sarif => emit_with(output, &mut |out| {
            hiveward_engine::write_sarif(&report, rules, &sarif_options, out)
        }),
        ScanFormat::Junit => emit_with(output, &mut |out| {
            write_junit_fail_on(&report, args.fail_on.0, out)
        }),
        ScanFormat::Html => emit_with(output, &mut |out| {
            rendered(
                "HTML",
                hiveward_report::write_html_report(&report, out),
                &render_failed,
            )
        }),
        ScanFormat::Markdown => emit_with(output, &mut |out| {
            hiveward_report::write_markdown_report(&report, out)
        }),
    };
    for (format, path) in &args.output_formats {
        if let Err(code) = write(*format, false, Some(path)) {
            return code;
        }
    }
    let to_stdout = args
        .output
        .as_deref()
        .is_none_or(|path| path == Path::new("-"));
    if let Err(code) = write(args.format, to_stdout, args.output.as_deref()) {
        return code;
    }
    if render_failed.get() {
        return EXIT_ERROR;
    }
    // Only hosts counted as not checked or missing required evidence carry these notices: a
    // report without any is not read back host by host for them.
    let hosts_in_error = report.summary.hosts_not_checked + report.summary.hosts_missing_required;
    if hosts_in_error > 0 {
        for host in report.hosts.stream() {
            for notice in host.notices.iter().filter(|notice| {
                notice.code == hiveward_engine::NOTHING_CHECKED_CODE
                    || notice.code == "hiveward::scan::required_evidence_missing"
            }) {
                eprintln!(
                    "error: {}",
                    hiveward_engine::escape_terminal(&notice.message)
                );
            }
        }
    }
    let mut code = report.exit_code_with(args.fail_on.0, args.allow_partial);
    // Results lost while the reports were written (read back from the scan's temporary files,
    // they could not be): the reports are incomplete.
    let late = hiveward_engine::take_spool_failures();
    for notice in &late {
        eprintln!("error: {}", notice.message);
    }
    if code == hiveward_engine::EXIT_CLEAN && hiveward_engine::results_lost(&late) {
        code = EXIT_INCOMPLETE;
    }
    if code == EXIT_INCOMPLETE {
        let summary = &report.summary;
        if let (Some(timeout), true) = (timeout, summary.timed_out > 0) {
            eprintln!(
                "error: the run's --timeout of {timeout} expired: {} rule × host check(s) were not made and are reported as not checked; the results are incomplete",
                summary.timed_out
            );
        } else if summary.checked == 0 {
            let why = report
                .notices
                .iter()
                .find(|notice| notice.code == hiveward_engine::NOTHING_CHECKED_CODE)
                .map_or(
                    "nothing was checked: no rule could judge any host on the evidence given",
                    |notice| notice.message.as_str(),
                );
            eprintln!("error: {}", hiveward_engine::escape_terminal(why));
        } else if report.lost_results() {
            eprintln!(
                "error: results could not be read back from the scan's temporary files and are missing from the report (see its notices); the results are incomplete"
            );
        } else if summary.hosts_missing_required > 0 {
            eprintln!(
                "error: {} host(s) lack evidence --require demands; the results are incomplete",
                summary.hosts_missing_required
            );
        } else {
            eprintln!(
                "error: the results are incomplete: some evidence could not be read or checked ({} unreadable file(s), {} check(s) stopped by damaged or incomplete evidence, {} host(s) on which nothing could be checked); --allow-partial accepts this",
                summary.files_unreadable, summary.unchecked, summary.hosts_not_checked
            );
        }
    }
    code
}

/// What writing a report that `hiveward-report` renders gave: a failure to write it is
/// returned as it is (for [`emit_with`] to report); when it could not render it (a bug: its
/// templates are fixed), says so and marks the run failed, and the report ends where the error
/// was met (empty when the template itself failed).
fn rendered(
    format: &str,
    result: Result<(), hiveward_report::RenderError>,
    failed: &std::cell::Cell<bool>,
) -> std::io::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(hiveward_report::RenderError::Io(error)) => Err(error),
        Err(error) => {
            eprintln!("error: cannot render the {format} report: {error}");
            failed.set(true);
            Ok(())
        }
    }
}
