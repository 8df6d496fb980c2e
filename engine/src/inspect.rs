//! The `inspect` report: what each host's evidence holds, as a serialisable model.

use std::path::PathBuf;

use hiveward_collectors::{
    read_hotfixes, read_os_facts, Collection, ControlSetChoice, EventCount, FileRecord, FileStatus,
    GroupLayout, HotfixInventory, NameSource, Notice, NoticeLevel, OsFacts, PassedOver, RegValue,
};
use schemars::JsonSchema;
use serde::Serialize;

/// The name and version of the tool that wrote a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ToolInfo {
    /// Always `hiveward`.
    pub name: String,
    /// The release, such as `0.1.0`.
    pub version: String,
}

impl ToolInfo {
    /// This build of hiveward.
    pub fn current() -> ToolInfo {
        ToolInfo {
            name: "hiveward".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The typed contents of one key, as `inspect --key` shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KeyReport {
    /// The path as requested.
    pub requested: String,
    /// Whether the key exists on this host.
    pub found: bool,
    /// The path it was read at, with `CurrentControlSet` resolved.
    pub resolved_path: Option<String>,
    /// The evidence file it was read from.
    pub file: Option<String>,
    /// The key's LastWriteTime (RFC 3339 UTC); `None` for `.reg` exports, which record none.
    pub last_written: Option<String>,
    /// The control set used for `CurrentControlSet`, when the path goes through it.
    pub control_set: Option<ControlSetChoice>,
    /// The values, sorted by name without regard to case.
    pub values: Vec<RegValue>,
    /// The subkey names, sorted without regard to case.
    pub subkeys: Vec<String>,
    /// A read error, when the hive was damaged where the key lives.
    pub error: Option<Notice>,
}

/// One host in the `inspect` report.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct HostReport {
    /// The host name.
    pub name: String,
    /// Where the name came from.
    pub name_source: NameSource,
    /// How its files were grouped.
    pub layout: GroupLayout,
    /// The control set `CurrentControlSet` resolves to.
    pub control_set: Option<ControlSetChoice>,
    /// Operating-system facts, when SOFTWARE or SYSTEM records them.
    pub os: Option<OsFacts>,
    /// Installed servicing packages and hotfixes.
    pub hotfixes: HotfixInventory,
    /// The evidence files.
    pub files: Vec<FileRecord>,
    /// Notices about the host: control sets that differ, read errors.
    pub notices: Vec<Notice>,
    /// The requested key, with `--key`.
    pub key: Option<KeyReport>,
    /// Event records per channel and event id over all the host's parsed logs (with
    /// `--events`), sorted by channel, then id.
    pub event_counts: Vec<EventCount>,
}

/// File counts for the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct InspectSummary {
    /// Hosts found.
    pub hosts: usize,
    /// Files read fully.
    pub files_read: usize,
    /// Files read only in part (dirty hives without usable logs).
    pub files_partial: usize,
    /// Files recognised and listed but not read by this release.
    pub files_listed: usize,
    /// Files that could not be read.
    pub files_unreadable: usize,
    /// Files passed over.
    pub passed_over: usize,
}

/// The whole `inspect` report, described by `schemas/inspect.schema.json`.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
pub struct InspectReport {
    /// The tool that wrote it.
    pub tool: ToolInfo,
    /// The paths given on the command line.
    pub inputs: Vec<String>,
    /// The hosts, sorted by name.
    pub hosts: Vec<HostReport>,
    /// Files not read, with reasons.
    pub passed_over: Vec<PassedOver>,
    /// Counts.
    pub summary: InspectSummary,
}

impl InspectReport {
    /// Whether no evidence at all could be read or recognised (event logs that were listed
    /// without `--events` count as recognised).
    pub fn nothing_readable(&self) -> bool {
        self.summary.files_read + self.summary.files_partial + self.summary.files_listed == 0
    }
}

/// Builds the report for `collection`; with `key`, reads that key on every host.
pub fn build_inspect_report(
    collection: &Collection,
    inputs: &[PathBuf],
    key: Option<&str>,
) -> InspectReport {
    let mut summary = InspectSummary {
        hosts: collection.hosts.len(),
        passed_over: collection.passed_over.len(),
        ..InspectSummary::default()
    };
    let hosts = collection
        .hosts
        .iter()
        .map(|host| {
            for file in &host.files {
                match file.status {
                    FileStatus::Read => summary.files_read += 1,
                    FileStatus::Partial => summary.files_partial += 1,
                    FileStatus::Listed => summary.files_listed += 1,
                    FileStatus::Unreadable => summary.files_unreadable += 1,
                }
            }
            let mut notices = host.notices.clone();
            let (os, hotfixes) = os_and_hotfixes(&host.registry, &mut notices);
            HostReport {
                name: host.name.clone(),
                name_source: host.name_source,
                layout: host.layout.clone(),
                control_set: host.registry.control_set().cloned(),
                os,
                hotfixes,
                files: host.files.clone(),
                notices,
                key: key.map(|key| read_key(&host.registry, key)),
                event_counts: host_event_counts(&host.files),
            }
        })
        .collect();
    InspectReport {
        tool: ToolInfo::current(),
        inputs: inputs
            .iter()
            .map(|input| input.display().to_string())
            .collect(),
        hosts,
        passed_over: collection.passed_over.clone(),
        summary,
    }
}

/// Reads a host's OS facts and servicing packages; a read error becomes a warning in `notices`
/// and the fact is left empty, so one damaged key never hides the rest of the host.
pub(crate) fn os_and_hotfixes(
    registry: &hiveward_collectors::HostRegistry,
    notices: &mut Vec<Notice>,
) -> (Option<OsFacts>, HotfixInventory) {
    let os = read_os_facts(registry).unwrap_or_else(|error| {
        notices.push(error.to_notice(NoticeLevel::Warning));
        None
    });
    let hotfixes = read_hotfixes(registry).unwrap_or_else(|error| {
        notices.push(error.to_notice(NoticeLevel::Warning));
        HotfixInventory::default()
    });
    (os, hotfixes)
}

fn host_event_counts(files: &[FileRecord]) -> Vec<EventCount> {
    let mut totals: std::collections::BTreeMap<(String, u32), u64> = Default::default();
    for summary in files.iter().filter_map(|file| file.events.as_ref()) {
        for count in &summary.counts {
            *totals.entry((count.channel.clone(), count.id)).or_default() += count.count;
        }
    }
    totals
        .into_iter()
        .map(|((channel, id), count)| EventCount { channel, id, count })
        .collect()
}

fn read_key(registry: &hiveward_collectors::HostRegistry, requested: &str) -> KeyReport {
    let mut report = KeyReport {
        requested: requested.to_string(),
        found: false,
        resolved_path: None,
        file: None,
        last_written: None,
        control_set: None,
        values: Vec::new(),
        subkeys: Vec::new(),
        error: None,
    };
    let through_ccs = requested
        .to_ascii_lowercase()
        .contains(r"\currentcontrolset");
    match registry.values(requested) {
        Ok(Some(found)) => {
            report.found = true;
            report.resolved_path = Some(found.resolved_path);
            report.file = Some(found.file.display().to_string());
            report.values = found.data;
            report.values.sort_by_key(|value| value.name.to_lowercase());
            if through_ccs {
                report.control_set = registry.control_set().cloned();
            }
        }
        Ok(None) => {}
        Err(error) => report.error = Some(error.to_notice(NoticeLevel::Warning)),
    }
    match registry.key_last_written(requested) {
        Ok(found) => {
            report.last_written = found
                .and_then(|found| found.data)
                .and_then(hiveward_collectors::filetime_to_rfc3339);
        }
        Err(error) => report.error = Some(error.to_notice(NoticeLevel::Warning)),
    }
    match registry.subkeys(requested) {
        Ok(Some(found)) => {
            report.subkeys = found.data;
            report.subkeys.sort_by_key(|name| name.to_lowercase());
        }
        Ok(None) => {}
        Err(error) => report.error = Some(error.to_notice(NoticeLevel::Warning)),
    }
    report
}

/// The JSON Schema of [`InspectReport`], as committed in `schemas/inspect.schema.json`.
pub fn inspect_schema() -> schemars::Schema {
    schemars::schema_for!(InspectReport)
}
