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
//! - else nothing: the check passed.
//!
//! After the rule suites, one suite per host, `evidence: HOST`, has no testcases: its
//! `<properties>` and `<system-out>` name every evidence file of the host with its status
//! (`read`, `partial`, `listed`, `unreadable`), and a last suite names the files passed over.
//!
//! The output is deterministic (no timestamps or durations) and escapes every text, replacing
//! characters that XML 1.0 cannot hold with a visible `\u{…}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hiveward_collectors::FileStatus;

use crate::error::{RuleError, UncheckedRule};
use crate::finding::{Finding, Suppression, SuppressionKind};
use crate::outcome::Outcome;
use crate::rule::{Scope, Severity};
use crate::scan::{ScanHost, ScanReport};

/// The testcase name of a fleet rule that found nothing or failed.
const FLEET: &str = "(fleet)";

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

#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

/// `items` grouped by (rule, host), in report order within each group.
fn by_rule_and_host<'r, T>(
    items: &'r [T],
    key: impl Fn(&'r T) -> (&'r String, &'r String),
) -> BTreeMap<(&'r str, &'r str), Vec<&'r T>> {
    let mut groups: BTreeMap<(&str, &str), Vec<&T>> = BTreeMap::new();
    for item in items {
        let (rule, host) = key(item);
        groups
            .entry((rule.as_str(), host.as_str()))
            .or_default()
            .push(item);
    }
    groups
}

/// What one rule reported on one host.
struct CaseInput<'r> {
    findings: &'r [&'r Finding],
    errors: &'r [&'r RuleError],
    unchecked: &'r [&'r UncheckedRule],
    /// Why the rule did not judge the host, when it did not.
    declined: Option<String>,
    /// `--fail-on`: only unsuppressed findings at or above it are failures.
    fail_on: Option<Severity>,
}

/// Writes one testcase and counts it.
fn write_case(
    out: &mut String,
    counts: &mut Counts,
    classname: &str,
    name: &str,
    input: &CaseInput<'_>,
) {
    let CaseInput {
        findings,
        errors,
        unchecked,
        declined,
        fail_on,
    } = input;
    let declined = declined.as_deref();
    counts.tests += 1;
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml_escape(name, true),
        xml_escape(classname, true)
    );
    let (failing, below): (Vec<&Finding>, Vec<&Finding>) = findings
        .iter()
        .copied()
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
    if let Some(first) = errors.first() {
        counts.errors += 1;
        let body: String = errors.iter().map(|error| error_text(error)).collect();
        let _ = write!(
            out,
            ">\n      <error message=\"{}\" type=\"rule-error\">{}</error>\n    </testcase>\n",
            xml_escape(&first.message, true),
            xml_escape(&body, false)
        );
    } else if let (Some(first), true) = (unchecked.first(), failing.is_empty()) {
        counts.skipped += 1;
        let _ = write!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(&format!("not checked: {}", first.message), true)
        );
    } else if let Some(first) = failing.first() {
        counts.failures += 1;
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
        if !accepted.is_empty() {
            body.push_str("\nAlso reported, but accepted:\n");
            for suppression in &accepted {
                let _ = writeln!(body, "- {}", suppression_text(suppression));
            }
        }
        let _ = write!(
            out,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            xml_escape(&message, true),
            first.severity,
            xml_escape(&body, false)
        );
    } else if !below.is_empty() {
        let mut body = below_heading;
        body.push_str(
            &below
                .iter()
                .map(|finding| finding_text(finding))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        if !accepted.is_empty() {
            body.push_str("\nAlso reported, but accepted:\n");
            for suppression in &accepted {
                let _ = writeln!(body, "- {}", suppression_text(suppression));
            }
        }
        let _ = write!(
            out,
            ">\n      <system-out>{}</system-out>\n    </testcase>\n",
            xml_escape(&body, false)
        );
    } else if !accepted.is_empty() {
        counts.skipped += 1;
        let mut reasons: Vec<String> = Vec::new();
        for reason in accepted
            .iter()
            .map(|suppression| suppression_text(suppression))
        {
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        let _ = write!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(&reasons.join("; "), true)
        );
    } else if let Some(reason) = declined {
        counts.skipped += 1;
        let _ = write!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(reason, true)
        );
    } else {
        out.push_str("/>\n");
    }
}

/// Why each rule did not judge each host, from the outcomes, by (rule, host): `not applicable:
/// …` or `not checked: …`. Built once, so a report of many hosts stays linear.
fn declined_reasons(hosts: &[ScanHost]) -> BTreeMap<(&str, &str), String> {
    let mut declined = BTreeMap::new();
    for host in hosts {
        for outcome in &host.outcomes {
            let reason = outcome.reason.as_deref().unwrap_or("no reason given");
            let text = match outcome.outcome {
                Outcome::NotApplicable => format!("not applicable: {reason}"),
                Outcome::NotChecked => format!("not checked: {reason}"),
                _ => continue,
            };
            declined.insert((outcome.rule.as_str(), host.name.as_str()), text);
        }
    }
    declined
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
/// that carry them in `<system-out>`.
pub fn junit_xml_fail_on(report: &ScanReport, fail_on: Option<Severity>) -> String {
    // Every host has an outcome for every rule; those without readable evidence are "not
    // checked".
    // The JUnit document groups everything by rule, so it is built from the whole report.
    let hosts = &report.hosts[..];
    let all_findings = &report.findings[..];
    let evaluated: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
    let readable = hosts.iter().any(|host| {
        host.files
            .iter()
            .any(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial))
    });
    let findings = by_rule_and_host(all_findings, |item| (&item.rule, &item.host));
    let errors = by_rule_and_host(&report.rule_errors, |item| (&item.rule, &item.host));
    let unchecked = by_rule_and_host(&report.unchecked, |item| (&item.rule, &item.host));
    let declined = declined_reasons(hosts);

    let mut total = Counts::default();
    let mut suites = String::new();
    for rule in &report.rules {
        let id = rule.id.as_str();
        let classname = format!("{}.{}", rule.pack, rule.id);
        // Hosts named in this rule's findings and errors, sorted.
        let mut named: Vec<&str> = findings
            .keys()
            .chain(errors.keys())
            .chain(unchecked.keys())
            .filter(|(rule_id, _)| *rule_id == id)
            .map(|(_, host)| *host)
            .collect();
        named.sort_by_key(|host| (host.to_lowercase(), *host));
        named.dedup();
        // (testcase name, host key into the maps)
        let cases: Vec<(&str, &str)> = match rule.scope {
            Scope::Host => {
                let mut hosts: Vec<&str> = evaluated.clone();
                hosts.extend(named.iter().filter(|host| !evaluated.contains(host)));
                hosts.into_iter().map(|host| (host, host)).collect()
            }
            Scope::Fleet => {
                let mut cases: Vec<(&str, &str)> = named
                    .iter()
                    .filter(|host| **host != "*")
                    .map(|host| (*host, *host))
                    .collect();
                let failed = errors.contains_key(&(id, "*"));
                if !failed {
                    // Hosts the fleet rule did not judge, each with its reason.
                    for host in &evaluated {
                        if !named.contains(host) && declined.contains_key(&(id, *host)) {
                            cases.push((host, host));
                        }
                    }
                    cases.sort_by_key(|(host, _)| (host.to_lowercase(), *host));
                }
                if failed || unchecked.contains_key(&(id, "*")) || (cases.is_empty() && readable) {
                    cases.push((FLEET, "*"));
                }
                cases
            }
        };
        let mut counts = Counts::default();
        let mut body = String::new();
        for (name, host) in cases {
            let input = CaseInput {
                findings: findings.get(&(id, host)).map_or(&[], Vec::as_slice),
                errors: errors.get(&(id, host)).map_or(&[], Vec::as_slice),
                unchecked: unchecked.get(&(id, host)).map_or(&[], Vec::as_slice),
                declined: declined.get(&(id, host)).cloned(),
                fail_on,
            };
            write_case(&mut body, &mut counts, &classname, name, &input);
        }
        let _ = write!(
            suites,
            "  <testsuite name=\"{}\" {}",
            xml_escape(id, true),
            counts.attributes()
        );
        if body.is_empty() {
            suites.push_str("/>\n");
        } else {
            let _ = write!(suites, ">\n{body}  </testsuite>\n");
        }
        total.add(&counts);
    }
    write_evidence_suites(report, &mut suites);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"hiveward\" {}>\n{suites}</testsuites>\n",
        total.attributes()
    )
}

/// One suite without testcases per host, `evidence: HOST`, whose `<properties>` name every
/// file of the host by its status (`read`, `partial`, `listed`, `unreadable`; a hive's
/// transaction logs are `read` when applied to recover it, else `listed`), and whose `<system-out>` lists the same files
/// and the host's notices about the run's timeout; then, when files were passed over, a suite
/// `evidence: passed over` naming each with the reason.
fn write_evidence_suites(report: &ScanReport, out: &mut String) {
    let property = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            xml_escape(name, true),
            xml_escape(value, true)
        );
    };
    for host in &report.hosts {
        let mut properties = String::new();
        let mut listing = format!("Evidence files of {}:\n", host.name);
        property(&mut properties, "host", &host.name);
        for file in &host.files {
            let status = crate::sarif_artifacts::status_name(file.status);
            property(&mut properties, status, &file.path);
            let _ = writeln!(listing, "{status}: {}", file.path);
            for log in &file.logs {
                let status = crate::sarif_artifacts::log_status(file, log);
                property(&mut properties, status, log);
                let _ = writeln!(
                    listing,
                    "{status}: {log} (transaction log of {})",
                    file.path
                );
            }
        }
        for notice in host
            .notices
            .iter()
            .filter(|notice| notice.code == crate::scan::TIMEOUT_CODE)
        {
            property(&mut properties, "timeout", &notice.message);
            let _ = writeln!(listing, "{}", notice.message);
        }
        write_properties_suite(
            out,
            &format!("evidence: {}", host.name),
            &properties,
            &listing,
        );
    }
    if !report.passed_over.is_empty() {
        let mut properties = String::new();
        let mut listing = "Files passed over:\n".to_string();
        for skipped in &report.passed_over {
            let text = format!("{}: {}", skipped.path, skipped.reason);
            property(&mut properties, "passed over", &text);
            let _ = writeln!(listing, "{text}");
        }
        write_properties_suite(out, "evidence: passed over", &properties, &listing);
    }
}

fn write_properties_suite(out: &mut String, name: &str, properties: &str, listing: &str) {
    let _ = write!(
        out,
        "  <testsuite name=\"{}\" {}>\n    <properties>\n{properties}    </properties>\n    <system-out>{}</system-out>\n  </testsuite>\n",
        xml_escape(name, true),
        Counts::default().attributes(),
        xml_escape(listing, false)
    );
}
