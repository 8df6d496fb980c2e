//! The `artifacts` of the SARIF run: every file the scan looked at — each host's evidence files
//! and the transaction logs read to recover them, with whether they were read, read in part or
//! unreadable, and the files passed over, with the reason — so that the SARIF report, like the
//! JSON one, accounts for every file.

use std::collections::BTreeMap;

use hiveward_collectors::{FileRecord, FileStatus, HiveState};
use serde_json::{json, Value};
use serde_sarif::sarif::{Artifact, Message, PropertyBag};

use super::paths::PathMapper;
use crate::scan::{ScanHost, ScanReport};

/// One file, before it becomes an artifact.
struct Entry {
    status: &'static str,
    kind: Value,
    hive_kind: Option<Value>,
    hosts: Vec<String>,
    what: String,
    reason: Option<String>,
}

/// A file status as reports name it: `read`, `partial`, `listed` or `unreadable`.
pub(crate) fn status_name(status: FileStatus) -> &'static str {
    match status {
        FileStatus::Read => "read",
        FileStatus::Partial => "partial",
        FileStatus::Listed => "listed",
        FileStatus::Unreadable => "unreadable",
    }
}

/// The status of transaction log `log` of `file`: `read` when it was applied to recover the
/// hive, else `listed` (found beside it, and not needed).
pub(crate) fn log_status(file: &FileRecord, log: &str) -> &'static str {
    match &file.hive_state {
        Some(HiveState::Recovered { logs, .. }) if logs.iter().any(|applied| applied == log) => {
            "read"
        }
        _ => "listed",
    }
}

/// The run's artifacts: one per file path, in path order.
pub(crate) fn artifacts(
    report: &ScanReport,
    hosts: &[ScanHost],
    paths: &PathMapper,
) -> Vec<Artifact> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut add = |path: &str, host: Option<&str>, make: &dyn Fn() -> Entry| {
        let entry = entries.entry(path.to_string()).or_insert_with(make);
        if let Some(host) = host {
            if !entry.hosts.iter().any(|known| known == host) {
                entry.hosts.push(host.to_string());
            }
        }
    };
    for host in hosts {
        for file in &host.files {
            let kind = serde_json::to_value(file.kind).unwrap_or(Value::Null);
            let hive_kind = file
                .hive_kind
                .and_then(|kind| serde_json::to_value(kind).ok());
            let what = match file.hive_kind {
                Some(kind) => format!("{} hive", crate::inspect_text::hive_kind_name(kind)),
                None => kind.as_str().unwrap_or("file").replace('_', " "),
            };
            let status = status_name(file.status);
            add(&file.path, Some(&host.name), &|| Entry {
                status,
                kind: kind.clone(),
                hive_kind: hive_kind.clone(),
                hosts: Vec::new(),
                what: what.clone(),
                reason: None,
            });
            for log in &file.logs {
                add(log, Some(&host.name), &|| Entry {
                    status: log_status(file, log),
                    kind: json!("transaction_log"),
                    hive_kind: None,
                    hosts: Vec::new(),
                    what: format!("transaction log of {}", paths.display_path(&file.path)),
                    reason: None,
                });
            }
        }
    }
    for skipped in &report.passed_over {
        add(&skipped.path, None, &|| Entry {
            status: "passed_over",
            kind: Value::Null,
            hive_kind: None,
            hosts: Vec::new(),
            what: "file".to_string(),
            reason: Some(paths.relativize_text(&skipped.reason)),
        });
    }
    entries
        .into_iter()
        .map(|(path, entry)| artifact(&path, entry, paths))
        .collect()
}

fn artifact(path: &str, entry: Entry, paths: &PathMapper) -> Artifact {
    let hosts = entry.hosts.join(", ");
    let description = match (&entry.reason, entry.status) {
        (Some(reason), _) => format!("Passed over: {reason}"),
        (None, status) => {
            let status = match status {
                "read" => "read",
                "partial" => "read in part",
                "listed" => "listed without being read",
                _ => "could not be read",
            };
            format!("The {} of {hosts}, {status}.", entry.what)
        }
    };
    let mut properties = BTreeMap::new();
    properties.insert("status".to_string(), json!(entry.status));
    if !entry.kind.is_null() {
        properties.insert("kind".to_string(), entry.kind);
    }
    if let Some(hive_kind) = entry.hive_kind {
        properties.insert("hiveKind".to_string(), hive_kind);
    }
    if !entry.hosts.is_empty() {
        properties.insert("hosts".to_string(), json!(entry.hosts));
    }
    if let Some(reason) = entry.reason {
        properties.insert("reason".to_string(), json!(reason));
    }
    let roles = (entry.status != "passed_over").then(|| vec![json!("analysisTarget")]);
    Artifact {
        location: Some(paths.artifact_location(path)),
        description: Some(Message {
            text: Some(description),
            ..Default::default()
        }),
        roles,
        properties: Some(PropertyBag {
            tags: None,
            additional_properties: properties,
        }),
        ..Default::default()
    }
}
