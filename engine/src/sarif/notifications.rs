//! The run's `toolExecutionNotifications`: rules that did not apply or could not check, hosts
//! with nothing checked, evidence that could not be read, and rule errors.

use std::collections::{BTreeMap, BTreeSet};

use hiveward_collectors::{FileStatus, Notice, NoticeLevel};
use serde_json::{json, Value};
use serde_sarif::sarif::{
    Location, LogicalLocation, Notification, PropertyBag, ReportingDescriptorReference,
};

use super::descriptors::sentence;
use super::paths::PathMapper;
use super::{bag, descriptor_reference, text_message, Blank};
use crate::error::RuleError;
use crate::outcome::Outcome;
use crate::scan::{ScanHost, ScanReport};

/// Notifications for the rule × host outcomes that are not a plain judgement: one per rule and
/// reason for rules that do not apply or passed only by inference (`note`) or could not check
/// (`warning`; those stopped by a damaged read already have their own), and one per host on
/// which nothing could be checked or that lacks evidence `--require` demands (`error`).
pub(super) fn coverage_notifications(
    report: &ScanReport,
    hosts: &[ScanHost],
    index: &BTreeMap<String, usize>,
    paths: &PathMapper,
) -> Vec<Notification> {
    // Damaged reads already have a notification of their own.
    let stopped: BTreeSet<(&str, &str)> = report
        .unchecked
        .iter()
        .map(|unchecked| (unchecked.rule.as_str(), unchecked.host.as_str()))
        .collect();
    let mut grouped: BTreeMap<(Outcome, String, String), Vec<String>> = BTreeMap::new();
    for host in hosts {
        for outcome in &host.outcomes {
            let wanted = match outcome.outcome {
                Outcome::NotApplicable => true,
                Outcome::Passed => outcome.inferred,
                Outcome::NotChecked => {
                    !stopped.contains(&(outcome.rule.as_str(), host.name.as_str()))
                }
                _ => false,
            };
            if wanted {
                grouped
                    .entry((
                        outcome.outcome,
                        outcome.rule.clone(),
                        outcome.reason.clone().unwrap_or_default(),
                    ))
                    .or_default()
                    .push(host.name.clone());
            }
        }
    }
    let mut notifications = Vec::new();
    for ((outcome, rule, reason), hosts) in grouped {
        let (level, what, descriptor) = match outcome {
            Outcome::NotApplicable => (
                "note",
                "does not apply to",
                "hiveward::rules::not_applicable",
            ),
            Outcome::Passed => ("note", "passed on", "hiveward::rules::passed_inferred"),
            _ => ("warning", "could not check", "hiveward::rules::not_checked"),
        };
        notifications.push(Notification {
            level: Some(json!(level)),
            message: text_message(sentence(&format!(
                "Rule {rule} {what} {} host(s) ({}): {}",
                hosts.len(),
                hosts.join(", "),
                paths.relativize_text(&reason)
            ))),
            descriptor: Some(descriptor_reference(descriptor)),
            associated_rule: Some(ReportingDescriptorReference {
                id: Some(rule.clone()),
                index: index.get(&rule).map(|index| *index as i64),
                ..Default::default()
            }),
            properties: Some(bag([
                ("rule", json!(rule)),
                ("outcome", json!(outcome.name())),
                ("reason", json!(paths.relativize_text(&reason))),
                ("hosts", json!(hosts)),
            ])),
            ..Blank::blank()
        });
    }
    for host in hosts {
        for notice in host.notices.iter().filter(|notice| {
            notice.code == crate::scan::NOTHING_CHECKED_CODE
                || notice.code == "hiveward::scan::required_evidence_missing"
        }) {
            notifications.push(Notification {
                level: Some(json!("error")),
                message: text_message(sentence(&paths.relativize_text(&notice.message))),
                descriptor: Some(descriptor_reference(&notice.code)),
                properties: Some(bag([("host", json!(host.name))])),
                ..Blank::blank()
            });
        }
    }
    notifications
}

/// The run's coverage, for `runs[].properties`: totals, and per host the rules checked out of
/// those run with the counts of each outcome.
pub(super) fn coverage_properties(report: &ScanReport, all_hosts: &[ScanHost]) -> PropertyBag {
    let summary = &report.summary;
    let hosts: Vec<Value> = all_hosts
        .iter()
        .map(|host| {
            let mut counts = json!({
                "host": host.name,
                "rules": host.coverage.rules,
                "checked": host.coverage.checked,
                "findings": host.coverage.findings,
                "passed": host.coverage.passed,
                "notApplicable": host.coverage.not_applicable,
                "notChecked": host.coverage.not_checked,
                "errors": host.coverage.errors,
            });
            with_passed_inferred(&mut counts, host.coverage.passed_inferred);
            counts
        })
        .collect();
    let mut coverage = json!({
        "hosts": summary.hosts,
        "rules": summary.rules,
        "checked": summary.checked,
        "passed": summary.passed,
        "notApplicable": summary.not_applicable,
        "notChecked": all_hosts.iter().map(|host| host.coverage.not_checked).sum::<usize>(),
        "hostsNotChecked": summary.hosts_not_checked,
        "hostsMissingRequired": summary.hosts_missing_required,
        "perHost": hosts,
    });
    with_passed_inferred(&mut coverage, summary.passed_inferred);
    bag([("coverage", coverage)])
}

/// Adds `passedInferred` to `counts` when there are any (passed verdicts that read a hive read
/// dirty), so that scans without them keep their bytes.
fn with_passed_inferred(counts: &mut Value, passed_inferred: usize) {
    if let (Some(map), true) = (counts.as_object_mut(), passed_inferred > 0) {
        map.insert("passedInferred".to_string(), json!(passed_inferred));
    }
}

fn notice_level(level: NoticeLevel) -> &'static str {
    match level {
        NoticeLevel::Note => "note",
        NoticeLevel::Warning => "warning",
        NoticeLevel::Error => "error",
    }
}

/// Notifications for the notices on files, hosts and the run, and for unreadable files; and
/// whether any file was unreadable.
pub(super) fn evidence_notifications(
    report: &ScanReport,
    hosts: &[ScanHost],
    paths: &PathMapper,
) -> (Vec<Notification>, bool) {
    let mut seen: BTreeSet<(String, String, Option<String>, String)> = BTreeSet::new();
    let mut notifications = Vec::new();
    let mut unreadable = report.summary.files_unreadable > 0;
    let mut add = |host: &str, notice: &Notice, file: Option<&str>| {
        let file = notice.file.as_deref().or(file);
        let key = (
            host.to_string(),
            notice.code.clone(),
            file.map(str::to_string),
            notice.message.clone(),
        );
        if !seen.insert(key) {
            return;
        }
        notifications.push(notice_notification(notice, file, Some(host), paths));
    };
    for host in hosts {
        for file in &host.files {
            for notice in &file.notices {
                add(&host.name, notice, Some(&file.path));
            }
            if file.status == FileStatus::Unreadable {
                unreadable = true;
                if !file
                    .notices
                    .iter()
                    .any(|notice| notice.level == NoticeLevel::Error)
                {
                    add(
                        &host.name,
                        &Notice {
                            level: NoticeLevel::Error,
                            code: "hiveward::evidence::unreadable".to_string(),
                            file: Some(file.path.clone()),
                            message: format!("{} could not be read", file.path),
                        },
                        Some(&file.path),
                    );
                }
            }
        }
        for notice in &host.notices {
            add(&host.name, notice, None);
        }
    }
    // Notices about the run itself (waivers, the baseline, results the scan's temporary files
    // lost) belong to no host.
    for notice in &report.notices {
        notifications.push(notice_notification(
            notice,
            notice.file.as_deref(),
            None,
            paths,
        ));
    }
    (notifications, unreadable)
}

/// The notification of `notice` about `file`, on `host` (none for a notice about the run).
fn notice_notification(
    notice: &Notice,
    file: Option<&str>,
    host: Option<&str>,
    paths: &PathMapper,
) -> Notification {
    Notification {
        level: Some(json!(notice_level(notice.level))),
        message: text_message(sentence(&paths.relativize_text(&notice.message))),
        descriptor: Some(descriptor_reference(&notice.code)),
        locations: file.map(|file| vec![paths.file_location(file, None)]),
        properties: host.map(|host| bag([("host", json!(host))])),
        ..Blank::blank()
    }
}

pub(super) fn rule_error_notification(
    error: &RuleError,
    rule_index: Option<usize>,
    paths: &PathMapper,
) -> Notification {
    let file = if error.file.starts_with("builtin:") {
        error.file.clone()
    } else {
        paths.display_path(&error.file)
    };
    let place = match (error.line, error.column) {
        (Some(line), Some(column)) => format!(" at {file}:{line}:{column}"),
        (Some(line), None) => format!(" at {file}:{line}"),
        _ => format!(" in {file}"),
    };
    let message = format!(
        "Rule {} failed on host {}{place}: {}",
        error.rule,
        error.host,
        paths.relativize_text(&error.message)
    );
    let location = if error.file.starts_with("builtin:") {
        // A built-in rule has no file on disk: name it as a logical location.
        Location {
            logical_locations: Some(vec![LogicalLocation {
                name: Some(error.rule.clone()),
                fully_qualified_name: Some(error.file.clone()),
                kind: Some("module".to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    } else {
        paths.file_location(&error.file, error.line.map(|line| (line, error.column)))
    };
    let mut properties = bag([
        ("rule", json!(error.rule)),
        ("host", json!(error.host)),
        ("file", json!(file)),
    ]);
    if let Some(line) = error.line {
        properties
            .additional_properties
            .insert("line".to_string(), json!(line));
    }
    if let Some(column) = error.column {
        properties
            .additional_properties
            .insert("column".to_string(), json!(column));
    }
    Notification {
        level: Some(json!("error")),
        message: text_message(sentence(&message)),
        descriptor: Some(descriptor_reference("hiveward::rules::runtime")),
        associated_rule: Some(ReportingDescriptorReference {
            id: Some(error.rule.clone()),
            index: rule_index.map(|index| index as i64),
            ..Default::default()
        }),
        locations: Some(vec![location]),
        properties: Some(properties),
        ..Blank::blank()
    }
}
