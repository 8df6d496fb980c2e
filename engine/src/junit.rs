//! Renders the scan report as JUnit XML (`--format junit`), for CI systems that show test
//! results.
//!
//! Layout: one `<testsuite>` per loaded rule, in rule-id order, and in it one `<testcase>` per
//! host (`classname` is `PACK.RULE-ID`, `name` is the host). A host rule has a testcase for
//! every host. A fleet rule has one
//! testcase per host named in its findings, or a single testcase named `(fleet)` when it found
//! nothing or failed. A testcase holds:
//!
//! - `<error>` when the rule failed on that host;
//! - else `<failure>` when an unsuppressed finding at or above `--fail-on` is reported, with the
//!   message and the fix ([`junit_xml_fail_on`]; [`junit_xml`] counts every unsuppressed
//!   finding, as `--fail-on info` does);
//! - else, when unsuppressed findings below `--fail-on` are reported (any, with `--fail-on
//!   never`), a passed testcase whose `<system-out>` holds them, with the message and the fix;
//! - else `<skipped message="waived: …"/>` (or `baseline: …`) when every finding is waived or
//!   in the baseline;
//! - else `<skipped message="not applicable: REASON"/>` or `not checked: REASON` when the rule
//!   could not judge the host (every host has a testcase per host rule; a fleet rule also has
//!   one per host it did not judge);
//! - else, when the verdict is inferred (the rule read a hive read dirty, without its
//!   transaction logs), a passed testcase whose `<system-out>` says so (a fleet rule also has
//!   one per such host);
//! - else nothing: the check passed.
//!
//! After the rule suites, a suite `run` holds one testcase with an `<error>` for each error of
//! the run itself (nothing was checked, the `--timeout` expired, results were lost), when there
//! are any. Then one suite per host, `evidence: HOST`, has no testcases: its
//! `<properties>` and `<system-out>` name every evidence file of the host with its status
//! (`read`, `partial`, `listed`, `unreadable`); a suite names the files passed over, and a last
//! one the notices about the run itself (waivers, the baseline, lost results).
//!
//! The output is deterministic (no timestamps or durations) and escapes every text, replacing
//! characters that XML 1.0 cannot hold with a visible `\u{…}`.
//!
//! [`write_junit_fail_on`] writes the document as it renders it. The counts of each suite (and
//! of the whole document) come before its testcases, so it first works them out from an index
//! of the report ([`cases::CaseIndex`]: positions and counts by rule and host, not findings),
//! then writes each testcase with its findings read back from the report's spool, a testcase at
//! a time: a fleet's report is never held whole.

mod cases;

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::error::RuleError;
use crate::finding::{Finding, Suppression, SuppressionKind};
use crate::rule::Severity;
use crate::scan::ScanReport;

use cases::{Case, CaseIndex, Counts, Verdict};

/// Escapes `text` for XML character data or (with `attribute`) a double-quoted attribute;
/// characters XML 1.0 cannot hold are shown as `\u{…}`. `rules test --format junit` uses it
/// too.
pub(crate) fn xml_escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(character));
            }
            _ => out.push(character),
        }
    }
    out
}

/// Why a suppressed finding does not fail: `waived: JUSTIFICATION (owner …, expires …)` or
/// `baseline: in baseline FILE`.
fn suppression_text(suppression: &Suppression) -> String {
    let kind = match suppression.kind {
        SuppressionKind::Waiver => "waived",
        SuppressionKind::Baseline => "baseline",
    };
    let mut details = Vec::new();
    if let Some(owner) = &suppression.owner {
        details.push(format!("owner {owner}"));
    }
    if let Some(expires) = &suppression.expires {
        details.push(format!("expires {expires}"));
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join(", "))
    };
    format!("{kind}: {}{details}", suppression.justification)
}

fn finding_text(finding: &Finding) -> String {
    let mut text = format!(
        "[{}] {} on {}: {}\n{}\n",
        finding.severity, finding.rule, finding.host, finding.title, finding.message
    );
    for evidence in &finding.evidence {
        let _ = writeln!(text, "evidence: {}", evidence.summary());
    }
    if finding.inferred {
        text.push_str("(inferred: rests on an unconfirmed fact or an assumption)\n");
    }
    let _ = write!(
        text,
        "\nFix:\n{}\n\nfingerprint: {}\n",
        finding.fix.trim_end(),
        finding.fingerprint
    );
    text
}

fn error_text(error: &RuleError) -> String {
    let place = match (error.line, error.column) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}", error.file),
        (Some(line), None) => format!("{}:{line}", error.file),
        _ => error.file.clone(),
    };
    format!(
        "rule {} failed on {}: {}\n{place}\n",
        error.rule, error.host, error.message
    )
}

/// Writes one testcase, with its findings read back from the report.
fn write_case(
    out: &mut dyn Write,
    report: &ScanReport,
    classname: &str,
    case: &Case<'_>,
    fail_on: Option<Severity>,
) -> io::Result<()> {
    write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml_escape(case.name, true),
        xml_escape(classname, true)
    )?;
    let findings: Vec<Finding> = case.findings.map_or_else(Vec::new, |group| {
        group
            .positions
            .iter()
            .filter_map(|at| report.findings.get(*at))
            .collect()
    });
    let (failing, below): (Vec<&Finding>, Vec<&Finding>) = findings
        .iter()
        .filter(|finding| finding.suppression.is_none())
        .partition(|finding| fail_on.is_some_and(|threshold| finding.severity >= threshold));
    let below_heading = match fail_on {
        Some(threshold) => format!("Reported below --fail-on {threshold}, so not a failure:\n"),
        None => "Reported; --fail-on never, so not a failure:\n".to_string(),
    };
    let accepted: Vec<&Suppression> = findings
        .iter()
        .filter_map(|finding| finding.suppression.as_ref())
        .collect();
    let also_accepted = |body: &mut String| {
        if !accepted.is_empty() {
            body.push_str("\nAlso reported, but accepted:\n");
            for suppression in &accepted {
                let _ = writeln!(body, "- {}", suppression_text(suppression));
            }
        }
    };
    let skipped = |out: &mut dyn Write, message: &str| {
        write!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(message, true)
        )
    };
    match case.verdict() {
        Verdict::Error => {
            let body: String = case.errors.iter().map(|error| error_text(error)).collect();
            let first = case
                .errors
                .first()
                .map_or("", |error| error.message.as_str());
            write!(
                out,
                ">\n      <error message=\"{}\" type=\"rule-error\">{}</error>\n    </testcase>\n",
                xml_escape(first, true),
                xml_escape(&body, false)
            )
        }
        Verdict::NotChecked => {
            let first = case
                .unchecked
                .first()
                .map_or("", |item| item.message.as_str());
            skipped(out, &format!("not checked: {first}"))
        }
        Verdict::Failure => {
            let Some(first) = failing.first() else {
                // Its findings could not be read back (see `Spool::failure`).
                return out.write_all(b"/>\n");
            };
            let message = if failing.len() > 1 {
                format!("{} (and {} more)", first.message, failing.len() - 1)
            } else {
                first.message.clone()
            };
            let mut body: String = failing
                .iter()
                .map(|finding| finding_text(finding))
                .collect::<Vec<_>>()
                .join("\n");
            if !below.is_empty() {
                body.push_str(&format!("\nAlso {}", below_heading.to_lowercase()));
                for finding in &below {
                    body.push_str(&finding_text(finding));
                }
            }
            also_accepted(&mut body);
            write!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml_escape(&message, true),
                first.severity,
                xml_escape(&body, false)
            )
        }
        Verdict::Reported => {
            let mut body = below_heading;
            body.push_str(
                &below
                    .iter()
                    .map(|finding| finding_text(finding))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
            also_accepted(&mut body);
            write!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                xml_escape(&body, false)
            )
        }
        Verdict::Accepted => {
            let mut reasons: Vec<String> = Vec::new();
            for reason in accepted
                .iter()
                .map(|suppression| suppression_text(suppression))
            {
                if !reasons.contains(&reason) {
                    reasons.push(reason);
                }
            }
            skipped(out, &reasons.join("; "))
        }
        Verdict::Declined => skipped(out, case.declined.unwrap_or_default()),
        Verdict::Passed => match case.inferred {
            Some(inferred) => write!(
                out,
                ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                xml_escape(inferred, false)
            ),
            None => out.write_all(b"/>\n"),
        },
    }
}

/// The scan report as JUnit XML: one testsuite per rule, one testcase per rule and evaluated
/// host (see the module documentation for fleet rules), failures for unsuppressed findings
/// with their message and fix, `<skipped>` for waived and baselined findings, and `<error>`
/// for rules that failed. The same report gives the same bytes. Every unsuppressed finding is a
/// failure, as with `--fail-on info`; [`junit_xml_fail_on`] takes the threshold.
pub fn junit_xml(report: &ScanReport) -> String {
    junit_xml_fail_on(report, Some(Severity::Info))
}

/// [`junit_xml`] where only unsuppressed findings at or above `fail_on` are failures, as they
/// are for the exit code (`None`, `--fail-on never`: none is); the others are passed testcases
/// that carry them in `<system-out>`. The document is [`write_junit_fail_on`]'s, in memory.
pub fn junit_xml_fail_on(report: &ScanReport, fail_on: Option<Severity>) -> String {
    let mut bytes = Vec::new();
    write_junit_fail_on(report, fail_on, &mut bytes).expect("writing to memory does not fail");
    String::from_utf8(bytes).expect("the document is UTF-8")
}

/// [`junit_xml_fail_on`] written to `out` as it is rendered: the report's findings and hosts
/// are read back from their spools a testcase and a host at a time, so that a fleet's report
/// is never held whole (what stays in memory is an index of positions and counts by rule and
/// host). A failure of `out` is returned as it is (a closed pipe stays a broken pipe).
pub fn write_junit_fail_on(
    report: &ScanReport,
    fail_on: Option<Severity>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let index = CaseIndex::of(report, fail_on);
    // First the counts, which the document and each suite give before their testcases.
    let suites: Vec<Counts> = report
        .rules
        .iter()
        .map(|rule| {
            let mut counts = Counts::default();
            for case in index.cases(rule) {
                counts.count(case.verdict());
            }
            counts
        })
        .collect();
    let mut total = Counts::default();
    for counts in &suites {
        total.add(counts);
    }
    // Errors of the run itself (nothing was checked, the --timeout expired, results were
    // lost) fail the document too, so that a CI system reading only JUnit sees them.
    let run_errors: Vec<&hiveward_collectors::Notice> = report
        .notices
        .iter()
        .filter(|notice| notice.level == hiveward_collectors::NoticeLevel::Error)
        .collect();
    let mut run_counts = Counts::default();
    for _ in &run_errors {
        run_counts.count(Verdict::Error);
    }
    total.add(&run_counts);
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hiveward\" {}>\n",
        total.attributes()
    )?;
    for (rule, counts) in report.rules.iter().zip(&suites) {
        let classname = format!("{}.{}", rule.pack, rule.id);
        write!(
            out,
            "  <testsuite name=\"{}\" {}",
            xml_escape(&rule.id, true),
            counts.attributes()
        )?;
        let cases = index.cases(rule);
        if cases.is_empty() {
            out.write_all(b"/>\n")?;
            continue;
        }
        out.write_all(b">\n")?;
        for case in &cases {
            write_case(out, report, &classname, case, fail_on)?;
        }
        out.write_all(b"  </testsuite>\n")?;
    }
    if !run_errors.is_empty() {
        writeln!(
            out,
            "  <testsuite name=\"run\" {}>",
            run_counts.attributes()
        )?;
        for notice in &run_errors {
            write!(
                out,
                "    <testcase classname=\"hiveward.run\" name=\"{}\">\n      <error message=\"{}\"/>\n    </testcase>\n",
                xml_escape(&notice.code, true),
                xml_escape(&notice.message, true)
            )?;
        }
        out.write_all(b"  </testsuite>\n")?;
    }
    write_evidence_suites(report, out)?;
    out.write_all(b"</testsuites>\n")
}

/// One suite without testcases per host, `evidence: HOST`, whose `<properties>` name every
/// file of the host by its status (`read`, `partial`, `listed`, `unreadable`; a hive's
/// transaction logs are `read` when applied to recover it, else `listed`), and whose
/// `<system-out>` lists the same files and the host's notices (the run's timeout, and each
/// note, warning or error about its evidence, such as control sets or sources that differ,
/// with its code); then,
/// when files were passed over, a suite `evidence: passed over` naming each with the reason;
/// last, when the run has notices of its own (waivers, the baseline, results lost from the
/// scan's temporary files), a suite `run notices` with each code and message. The hosts are
/// read from the spool one at a time.
fn write_evidence_suites(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let property = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            xml_escape(name, true),
            xml_escape(value, true)
        );
    };
    for host in report.hosts.stream() {
        let mut properties = String::new();
        let mut listing = format!("Evidence files of {}:\n", host.name);
        property(&mut properties, "host", &host.name);
        for file in &host.files {
            let status = crate::sarif::artifacts::status_name(file.status);
            property(&mut properties, status, &file.path);
            let _ = writeln!(listing, "{status}: {}", file.path);
            for log in &file.logs {
                let status = crate::sarif::artifacts::log_status(file, log);
                property(&mut properties, status, log);
                let _ = writeln!(
                    listing,
                    "{status}: {log} (transaction log of {})",
                    file.path
                );
            }
        }
        for notice in &host.notices {
            if notice.code == crate::scan::TIMEOUT_CODE {
                property(&mut properties, "timeout", &notice.message);
                let _ = writeln!(listing, "{}", notice.message);
                continue;
            }
            let level = match notice.level {
                hiveward_collectors::NoticeLevel::Note => "note",
                hiveward_collectors::NoticeLevel::Warning => "warning",
                hiveward_collectors::NoticeLevel::Error => "error",
            };
            let text = format!("{}: {}", notice.code, notice.message);
            property(&mut properties, level, &text);
            let _ = writeln!(listing, "{level}: {text}");
        }
        write_properties_suite(
            out,
            &format!("evidence: {}", host.name),
            &properties,
            &listing,
        )?;
    }
    if !report.passed_over.is_empty() {
        let mut properties = String::new();
        let mut listing = "Files passed over:\n".to_string();
        for skipped in &report.passed_over {
            let text = format!("{}: {}", skipped.path, skipped.reason);
            property(&mut properties, "passed over", &text);
            let _ = writeln!(listing, "{text}");
        }
        write_properties_suite(out, "evidence: passed over", &properties, &listing)?;
    }
    if !report.notices.is_empty() {
        let mut properties = String::new();
        let mut listing = "Notices about the run:\n".to_string();
        for notice in &report.notices {
            property(&mut properties, &notice.code, &notice.message);
            let _ = writeln!(listing, "{}: {}", notice.code, notice.message);
        }
        write_properties_suite(out, "run notices", &properties, &listing)?;
    }
    Ok(())
}

fn write_properties_suite(
    out: &mut dyn Write,
    name: &str,
    properties: &str,
    listing: &str,
) -> io::Result<()> {
    write!(
        out,
        "  <testsuite name=\"{}\" {}>\n    <properties>\n{properties}    </properties>\n    <system-out>{}</system-out>\n  </testsuite>\n",
        xml_escape(name, true),
        Counts::default().attributes(),
        xml_escape(listing, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample bundle's report, with `copies` copies of each host and its findings (named
    /// `HOST-N`), every one spooled afresh.
    fn fleet(copies: usize) -> ScanReport {
        let mut report = crate::test_support::sample_bundle_report();
        crate::test_support::copy_hosts(&mut report, copies);
        // One finding waived, so that every kind of testcase is written.
        report.findings.update(|finding| {
            if finding.host.ends_with("-1") && finding.severity == Severity::Medium {
                finding.suppression = Some(Suppression {
                    kind: SuppressionKind::Waiver,
                    justification: "accepted".to_string(),
                    owner: None,
                    expires: None,
                });
            }
        });
        report
    }

    #[test]
    fn a_spilled_report_is_written_a_testcase_at_a_time_as_it_reads_in_memory() {
        let report = fleet(40);
        let bytes: usize = report
            .findings
            .stream()
            .map(|finding| serde_json::to_vec(&finding).unwrap().len())
            .sum();
        // The spool keeps 256 KiB in memory, then writes to its temporary file.
        assert!(
            bytes > 4 * 256 * 1024,
            "the findings spill to the file: {bytes}"
        );
        // The same report, read into memory: its spools answer from there.
        let in_memory = report.clone();
        assert_eq!(in_memory.hosts.items().len(), report.hosts.len());
        assert_eq!(in_memory.findings.items().len(), report.findings.len());
        for fail_on in [None, Some(Severity::Info), Some(Severity::High)] {
            let mut streamed = Vec::new();
            write_junit_fail_on(&report, fail_on, &mut streamed).unwrap();
            let streamed = String::from_utf8(streamed).unwrap();
            assert_eq!(
                streamed,
                junit_xml_fail_on(&in_memory, fail_on),
                "{fail_on:?}"
            );
            assert_eq!(streamed, junit_xml_fail_on(&report, fail_on));
            let document = roxmltree::Document::parse(&streamed).unwrap();
            let root = document.root_element();
            let cases = root
                .descendants()
                .filter(|node| node.has_tag_name("testcase"))
                .count();
            assert_eq!(root.attribute("tests"), Some(cases.to_string().as_str()));
            assert!(
                cases >= report.rules.len() * report.hosts.len() / 2,
                "{cases}"
            );
            let named = |tag: &str| root.descendants().any(|node| node.has_tag_name(tag));
            assert!(named("skipped") && named("properties"), "{fail_on:?}");
            assert_eq!(named("failure"), fail_on.is_some(), "{fail_on:?}");
            assert!(named("system-out"));
        }
        assert_eq!(report.findings.failure(), None);
        // Pushing to a spool read into memory is a programming error that debug builds catch:
        // these pushes show that writing the document read neither spool whole.
        let finding = report.findings.get(0).unwrap();
        report.findings.push(&finding);
        let host = report.hosts.get(0).unwrap();
        report.hosts.push(&host);
    }
}
