//! The `inspect` report: what each host's evidence holds, as a serialisable model.

use std::path::PathBuf;

use hiveward_collectors::{
    read_hotfixes, read_os_facts, Collection, ControlSetChoice, EventCount, FileRecord, FileStatus,
    GroupLayout, HotfixInventory, NameSource, Notice, NoticeLevel, OsFacts, PassedOver, RegValue,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name and version of the tool that wrote a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// The values of this key that another source of the host (a `.reg` export of the same
    /// key) holds differently, with both copies; `values` shows the copy reads take.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreements: Vec<hiveward_collectors::SourceDisagreement>,
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
            let mut notices = host.notices.clone();
            let (os, hotfixes) = os_and_hotfixes(&host.registry, &mut notices);
            let mut files = host.files.clone();
            hiveward_collectors::mark_damaged_files(&mut files, &notices);
            for file in &files {
                match file.status {
                    FileStatus::Read => summary.files_read += 1,
                    FileStatus::Partial => summary.files_partial += 1,
                    FileStatus::Listed => summary.files_listed += 1,
                    FileStatus::Unreadable => summary.files_unreadable += 1,
                }
            }
            HostReport {
                name: host.name.clone(),
                name_source: host.name_source,
                layout: host.layout.clone(),
                control_set: host.registry.control_set().cloned(),
                os,
                hotfixes,
                files,
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
            .map(|input| hiveward_collectors::path_text(input))
            .collect(),
        hosts,
        passed_over: collection.passed_over.clone(),
        summary,
    }
}

/// Reads a host's OS facts and servicing packages. Damage met on the way (facts unknown because
/// of it, packages whose state cannot be read, or a read error) becomes a warning in `notices`,
/// and the rest of the host is still read. Each problem is reported once per host: the readers
/// word the same damage the same way, so a warning already in `notices` (from collection, which
/// meets `Control\ProductOptions` damage too) is not added again.
pub(crate) fn os_and_hotfixes(
    registry: &hiveward_collectors::HostRegistry,
    notices: &mut Vec<Notice>,
) -> (Option<OsFacts>, HotfixInventory) {
    let os = read_os_facts(registry).unwrap_or_else(|error| {
        push_once(notices, error.to_notice(NoticeLevel::Warning));
        None
    });
    for fact in os.iter().flat_map(|os| &os.unreadable) {
        push_once(notices, fact.notice());
    }
    let hotfixes = read_hotfixes(registry).unwrap_or_else(|error| {
        push_once(notices, error.to_notice(NoticeLevel::Warning));
        HotfixInventory::default()
    });
    for notice in &hotfixes.unreadable {
        push_once(notices, notice.clone());
    }
    (os, hotfixes)
}

/// Adds `notice` unless the same one (level, code, file and message) is already there.
fn push_once(notices: &mut Vec<Notice>, notice: Notice) {
    if !notices.contains(&notice) {
        notices.push(notice);
    }
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
        disagreements: Vec::new(),
    };
    let through_ccs = requested
        .to_ascii_lowercase()
        .contains(r"\currentcontrolset");
    match registry.values(requested) {
        Ok(Some(found)) => {
            report.found = true;
            report.resolved_path = Some(found.resolved_path.clone());
            report.file = Some(hiveward_collectors::path_text(&found.file));
            report.values = found.data;
            report.values.sort_by_key(|value| value.name.to_lowercase());
            let file = report.file.as_deref().unwrap_or_default();
            report.disagreements = registry
                .key_disagreements(&found.resolved_path, file)
                .cloned()
                .collect();
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
            // A key whose values could not be read is there all the same.
            if !report.found {
                report.found = true;
                report.resolved_path = Some(found.resolved_path);
                report.file = Some(hiveward_collectors::path_text(&found.file));
            }
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

#[cfg(test)]
mod tests {
    //! One damage warning per problem and host, however many readers meet it.

    use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
    use hiveward_testkit::hive_from_reg;

    use super::*;

    const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";

    /// A SYSTEM hive of `WKS7` whose `ProductType` data points past the hive bins.
    fn damaged_system() -> Vec<u8> {
        let mut bytes = hive_from_reg(&format!(
            "{HEADER}[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"WKS7\"\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ProductOptions]\r\n\
             \"ProductType\"=\"WinNT\"\r\n\"ProductSuite\"=hex(7):00,00\r\n"
        ));
        let name = b"ProductType";
        let record = (0..bytes.len() - 40)
            .find(|&at| {
                bytes[at..at + 2] == *b"vk"
                    && bytes[at + 2..at + 4] == (name.len() as u16).to_le_bytes()
                    && bytes[at + 20..at + 20 + name.len()] == *name
            })
            .expect("the ProductType record");
        bytes[record + 8..record + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
        bytes
    }

    /// Inspects a bundle of the damaged SYSTEM and a Windows 7 SOFTWARE without
    /// `InstallationType`, so that the role can only come from the damaged value.
    fn inspect(options: &CollectOptions) -> (InspectReport, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("WKS7_SYSTEM.HIV"), damaged_system()).unwrap();
        std::fs::write(
            dir.path().join("WKS7_SOFTWARE.HIV"),
            hive_from_reg(&format!(
                "{HEADER}[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n\
                 \"ProductName\"=\"Windows 7 Professional\"\r\n\"CurrentBuildNumber\"=\"7601\"\r\n\
                 \"CSDVersion\"=\"Service Pack 1\"\r\n"
            )),
        )
        .unwrap();
        let inputs = vec![dir.path().to_path_buf()];
        let collection = collect(discover(&inputs, &DiscoverOptions::default()), options);
        let report = build_inspect_report(&collection, &inputs, None);
        let mut text = Vec::new();
        crate::inspect_text::write_inspect_text(&report, &mut text).unwrap();
        (report, String::from_utf8(text).unwrap())
    }

    fn damage_warnings(report: &InspectReport) -> Vec<&Notice> {
        let [host] = report.hosts.as_slice() else {
            panic!("one host: {report:#?}");
        };
        host.notices
            .iter()
            .filter(|notice| notice.code == "hiveward::hive::corrupt")
            .collect()
    }

    #[test]
    fn a_damaged_value_met_by_collection_and_os_facts_is_reported_once() {
        let (report, text) = inspect(&CollectOptions::default());
        let warnings = damage_warnings(&report);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(warnings[0].message.contains(r#"value "ProductType""#));
        assert_eq!(text.matches(&warnings[0].message).count(), 1, "{text}");
        // The OS is still known from SOFTWARE, and the role says why it is not.
        let os = report.hosts[0].os.as_ref().expect("os facts");
        assert_eq!(os.name.as_deref(), Some("Windows 7 SP1"));
        assert_eq!(
            os.unreadable_fact("role")
                .map(|fact| fact.notice())
                .as_ref(),
            Some(warnings[0])
        );
        assert!(
            text.contains("  unreadable   role (damaged hive: "),
            "{text}"
        );
    }

    #[test]
    fn a_damaged_value_met_only_by_os_facts_is_reported_once() {
        // Without the control-set comparison, the OS facts alone meet the damage, for the role
        // and nothing else: still one warning.
        let options = CollectOptions {
            control_set_keys: Vec::new(),
            ..CollectOptions::default()
        };
        let (report, text) = inspect(&options);
        let warnings = damage_warnings(&report);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert_eq!(text.matches(&warnings[0].message).count(), 1, "{text}");
    }
}
