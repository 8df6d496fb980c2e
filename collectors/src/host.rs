//! Opens every discovered file and assembles per-host facts: the registry view, the file
//! records with their status, and the host's name.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::bundle::{host_prefix, Discovery, FileGroup, GroupLayout, PassedOver};
use crate::detect::FileKind;
use crate::error::{EvidenceError, Notice, NoticeLevel};
use crate::evtx::{read_evtx_with, EventRecord, EventSelection, EvtxReadOptions, EvtxSummary};
use crate::hive::{HiveFile, HiveKind, HiveState};
use crate::registry::{HostRegistry, RegistrySource};
use crate::regtext::RegExport;

/// The keys under `CurrentControlSet` that the built-in rules read; differences between control
/// sets on these keys are reported.
pub const DEFAULT_CONTROL_SET_KEYS: [&str; 7] = [
    r"Services\LanmanServer\Parameters",
    r"Services\LanmanWorkstation\Parameters",
    r"Services\mrxsmb10",
    r"Control\Lsa",
    r"Control\Lsa\MSV1_0",
    r"Control\ComputerName\ComputerName",
    r"Control\ProductOptions",
];

/// How collection behaves.
#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// Keys under `CurrentControlSet` to compare across control sets.
    pub control_set_keys: Vec<String>,
    /// Which event records to read from EVTX logs; with [`EventSelection::Nothing`] logs are
    /// listed but not parsed.
    pub events: EventSelection,
    /// How to read each log.
    pub evtx: EvtxReadOptions,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            control_set_keys: DEFAULT_CONTROL_SET_KEYS
                .iter()
                .map(|key| key.to_string())
                .collect(),
            events: EventSelection::Nothing,
            evtx: EvtxReadOptions::default(),
        }
    }
}

/// Whether a file could be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Read fully.
    Read,
    /// Read, but not cleanly: a dirty hive without usable logs.
    Partial,
    /// Recognised and listed; this release does not read its content yet.
    Listed,
    /// Could not be read at all.
    Unreadable,
}

/// One evidence file of a host, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileRecord {
    /// The path, as reached from the inputs.
    pub path: String,
    /// What its content says it is.
    pub kind: FileKind,
    /// For hives: the type decided from the root key layout.
    pub hive_kind: Option<HiveKind>,
    /// For hives: clean, dirty or recovered.
    pub hive_state: Option<HiveState>,
    /// For hives: the transaction logs found beside it.
    pub logs: Vec<String>,
    /// Whether it could be used.
    pub status: FileStatus,
    /// For event logs that were parsed: channels, computers and record counts.
    pub events: Option<EvtxSummary>,
    /// Warnings and errors about this file.
    pub notices: Vec<Notice>,
}

/// Where a host's name came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    /// `ComputerName\ComputerName` in the SYSTEM hive or a `.reg` export.
    ComputerName,
    /// The `HOST_` prefix of the file names.
    FilePrefix,
    /// The folder the files sit in.
    Directory,
    /// The name of the only file, when a folder holds several hosts' hives without prefixes.
    FileName,
    /// The `Computer` field of the host's event records (its first DNS label).
    EventComputer,
}

/// The facts collected for one host.
pub struct Host {
    /// The host name.
    pub name: String,
    /// Where the name came from.
    pub name_source: NameSource,
    /// How its files were grouped.
    pub layout: GroupLayout,
    /// Its registry: hives and exports.
    pub registry: HostRegistry,
    /// Its files, sorted by path.
    pub files: Vec<FileRecord>,
    /// Notices about the host as a whole (control sets that differ, grouping decisions).
    pub notices: Vec<Notice>,
    /// The event records read from its logs, sorted by time, record id and file.
    pub events: Vec<EventRecord>,
}

impl Host {
    /// Whether at least one file of this host could be read.
    pub fn has_readable_evidence(&self) -> bool {
        self.files
            .iter()
            .any(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial))
    }
}

/// Everything collected from the inputs.
pub struct Collection {
    /// The errors behind unreadable files, sorted by path, for rendering as diagnostics.
    pub diagnostics: Vec<EvidenceError>,
    /// Hosts, sorted by name.
    pub hosts: Vec<Host>,
    /// Files that were passed over, with reasons.
    pub passed_over: Vec<PassedOver>,
}

impl Collection {
    /// Files that could not be read, across all hosts.
    pub fn unreadable_files(&self) -> impl Iterator<Item = &FileRecord> {
        self.hosts
            .iter()
            .flat_map(|host| &host.files)
            .filter(|file| file.status == FileStatus::Unreadable)
    }

    /// Whether any evidence at all could be read.
    pub fn anything_readable(&self) -> bool {
        self.hosts.iter().any(Host::has_readable_evidence)
    }
}

/// A file opened, with the source it contributes.
struct Opened {
    record: FileRecord,
    source: Option<RegistrySource>,
    error: Option<EvidenceError>,
    events: Vec<EventRecord>,
}

fn open_file(path: &Path, kind: FileKind, logs: &[PathBuf], options: &CollectOptions) -> Opened {
    let mut record = FileRecord {
        path: path.display().to_string(),
        kind,
        hive_kind: None,
        hive_state: None,
        logs: logs.iter().map(|log| log.display().to_string()).collect(),
        status: FileStatus::Read,
        events: None,
        notices: Vec::new(),
    };
    let unreadable = |mut record: FileRecord, error: EvidenceError| {
        record.status = FileStatus::Unreadable;
        record.notices.push(error.to_notice(NoticeLevel::Error));
        Opened {
            record,
            source: None,
            error: Some(error),
            events: Vec::new(),
        }
    };
    match kind {
        FileKind::Hive => match HiveFile::open(path, logs) {
            Ok(hive) => {
                record.hive_kind = Some(hive.kind());
                record.hive_state = Some(hive.state().clone());
                record.notices.extend(hive.notices().iter().cloned());
                if matches!(hive.state(), HiveState::Dirty { .. }) {
                    record.status = FileStatus::Partial;
                }
                Opened {
                    record,
                    source: Some(RegistrySource::Hive(hive)),
                    error: None,
                    events: Vec::new(),
                }
            }
            Err(error) => unreadable(record, error),
        },
        FileKind::RegExport => match std::fs::read(path) {
            Ok(bytes) => match RegExport::parse(path, &bytes) {
                Ok(export) => Opened {
                    record,
                    source: Some(RegistrySource::Export(export)),
                    error: None,
                    events: Vec::new(),
                },
                Err(error) => unreadable(record, error),
            },
            Err(source) => unreadable(
                record,
                EvidenceError::Io {
                    path: path.to_path_buf(),
                    error: source,
                },
            ),
        },
        FileKind::Evtx if options.events == EventSelection::Nothing => {
            record.status = FileStatus::Listed;
            Opened {
                record,
                source: None,
                error: None,
                events: Vec::new(),
            }
        }
        FileKind::Evtx => match read_evtx_with(path, &options.events, &options.evtx) {
            Ok((summary, events)) => {
                if summary.records_skipped > 0 || summary.chunks_skipped > 0 {
                    record.status = FileStatus::Partial;
                }
                record.notices.extend(summary.notices.iter().cloned());
                record.events = Some(summary);
                Opened {
                    record,
                    source: None,
                    error: None,
                    events,
                }
            }
            Err(error) => unreadable(record, error),
        },
        FileKind::Empty => unreadable(
            record,
            EvidenceError::EmptyFile {
                path: path.to_path_buf(),
            },
        ),
        FileKind::TransactionLogOld | FileKind::TransactionLogNew | FileKind::Unknown => {
            let error = match std::fs::File::open(path) {
                Err(source) => EvidenceError::Io {
                    path: path.to_path_buf(),
                    error: source,
                },
                Ok(_) => EvidenceError::NotAHive {
                    path: path.to_path_buf(),
                    detail: describe_unknown_content(path),
                },
            };
            unreadable(record, error)
        }
    }
}

fn describe_unknown_content(path: &Path) -> String {
    let head: Vec<u8> = std::fs::read(path)
        .map(|bytes| bytes.into_iter().take(8).collect())
        .unwrap_or_default();
    format!(
        "its content is not a registry hive, .reg export or EVTX log (it starts with {:?})",
        String::from_utf8_lossy(&head)
    )
}

/// Files that will form one host.
struct Draft {
    name: String,
    name_source: NameSource,
    /// Whether the name is a SYSTEM hive's `ComputerName` (not an export's).
    name_from_hive: bool,
    layout: GroupLayout,
    records: Vec<FileRecord>,
    registry: HostRegistry,
    events: Vec<EventRecord>,
    /// The computers the draft's parsed logs name (first DNS label), deduplicated.
    log_computers: Vec<String>,
}

impl Draft {
    fn new(
        name: String,
        name_source: NameSource,
        layout: GroupLayout,
        opened: Vec<Opened>,
        diagnostics: &mut Vec<EvidenceError>,
    ) -> Draft {
        let mut registry = HostRegistry::new();
        let mut records = Vec::new();
        let mut events = Vec::new();
        let mut log_computers: Vec<String> = opened.iter().flat_map(log_labels).collect();
        log_computers.sort_by_key(|name| name.to_lowercase());
        log_computers.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        for item in opened {
            diagnostics.extend(item.error);
            events.extend(item.events);
            if let Some(source) = item.source {
                registry.add(source);
            }
            records.push(item.record);
        }
        Draft {
            name,
            name_source,
            name_from_hive: false,
            layout,
            records,
            registry,
            events,
            log_computers,
        }
    }

    fn machine_kinds(&self) -> Vec<HiveKind> {
        self.records
            .iter()
            .filter_map(|record| record.hive_kind)
            .filter(|kind| kind.is_machine_hive())
            .collect()
    }

    fn has_conflict_with(&self, other: &Draft) -> bool {
        let mine = self.machine_kinds();
        other.machine_kinds().iter().any(|kind| mine.contains(kind))
    }
}

fn has_duplicate_machine_hive(opened: &[Opened]) -> bool {
    let mut kinds: Vec<HiveKind> = opened
        .iter()
        .filter_map(|opened| opened.record.hive_kind)
        .filter(|kind| kind.is_machine_hive())
        .collect();
    let total = kinds.len();
    kinds.sort();
    kinds.dedup();
    kinds.len() != total
}

/// The NetBIOS-style names (first DNS label) of the computers a parsed log names, without
/// duplicates; empty when the log was not parsed.
fn log_labels(opened: &Opened) -> Vec<String> {
    let mut labels: Vec<String> = opened
        .record
        .events
        .iter()
        .flat_map(|summary| summary.computers.iter())
        .filter_map(|computer| first_label(computer))
        .collect();
    labels.sort_by_key(|label| label.to_lowercase());
    labels.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    labels
}

/// The one computer a parsed log names, if it names exactly one.
fn log_computer(opened: &Opened) -> Option<String> {
    match log_labels(opened).as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// `FS01` from `FS01.corp.example`; `None` for an empty name.
fn first_label(computer: &str) -> Option<String> {
    let label = computer.trim().split('.').next().unwrap_or_default();
    (!label.is_empty()).then(|| label.to_string())
}

fn drafts_for_group(
    group: FileGroup,
    options: &CollectOptions,
    diagnostics: &mut Vec<EvidenceError>,
) -> Vec<Draft> {
    let opened: Vec<Opened> = group
        .files
        .iter()
        .map(|file| open_file(&file.path, file.kind, &file.logs, options))
        .collect();
    let has_machine_hive = opened.iter().any(|item| {
        item.record
            .hive_kind
            .is_some_and(|kind| kind.is_machine_hive())
    });
    let parsed_logs: Vec<&Opened> = opened
        .iter()
        .filter(|item| item.record.events.is_some())
        .collect();
    let mut log_computers: Vec<String> = parsed_logs
        .iter()
        .filter_map(|item| log_computer(item))
        .collect();
    log_computers.sort_by_key(|name| name.to_lowercase());
    log_computers.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let each_log_one_computer = parsed_logs.iter().all(|item| log_computer(item).is_some());
    if !has_machine_hive && each_log_one_computer && log_computers.len() > 1 {
        // Logs of several computers side by side, with no hive to tie them to one host: each
        // computer's logs form a host of their own.
        let (logs, rest): (Vec<Opened>, Vec<Opened>) = opened
            .into_iter()
            .partition(|item| log_computer(item).is_some());
        let mut drafts = Vec::new();
        if !rest.is_empty() {
            let name_source = match group.layout {
                GroupLayout::FlatPrefix => NameSource::FilePrefix,
                GroupLayout::TriageTree | GroupLayout::Directory => NameSource::Directory,
            };
            drafts.push(Draft::new(
                group.suggested_name.clone(),
                name_source,
                group.layout.clone(),
                rest,
                diagnostics,
            ));
        }
        let mut by_computer: Vec<(String, Vec<Opened>)> = Vec::new();
        for item in logs {
            let computer = log_computer(&item).unwrap_or_default();
            match by_computer
                .iter_mut()
                .find(|(name, _)| name.eq_ignore_ascii_case(&computer))
            {
                Some((_, items)) => items.push(item),
                None => by_computer.push((computer, vec![item])),
            }
        }
        for (computer, items) in by_computer {
            drafts.push(Draft::new(
                computer,
                NameSource::EventComputer,
                group.layout.clone(),
                items,
                diagnostics,
            ));
        }
        return drafts;
    }
    if !has_duplicate_machine_hive(&opened) {
        let name_source = match group.layout {
            GroupLayout::FlatPrefix => NameSource::FilePrefix,
            GroupLayout::TriageTree | GroupLayout::Directory => NameSource::Directory,
        };
        return vec![Draft::new(
            group.suggested_name,
            name_source,
            group.layout,
            opened,
            diagnostics,
        )];
    }
    // Several hives of one machine type in one group: these are different machines' files
    // side by side, so each file stands alone.
    opened
        .into_iter()
        .map(|mut opened| {
            let path = PathBuf::from(&opened.record.path);
            let file_name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            opened.record.notices.push(Notice::note(
                "hiveward::bundle::ungrouped",
                Some(&path),
                format!(
                    "{}: its folder holds hives of several machines of the same type, so this file forms a host of its own",
                    path.display()
                ),
            ));
            let (name, name_source) = match host_prefix(&file_name) {
                Some(prefix) => (prefix.to_string(), NameSource::FilePrefix),
                None => (file_name, NameSource::FileName),
            };
            Draft::new(
                name,
                name_source,
                group.layout.clone(),
                vec![opened],
                diagnostics,
            )
        })
        .collect()
}

/// The host's `ComputerName`, and whether it came from a hive (which outranks an export).
fn computer_name(registry: &HostRegistry) -> Option<(String, bool)> {
    let value = registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName",
            "ComputerName",
        )
        .ok()
        .flatten()?;
    let from_hive = registry.hives().any(|hive| hive.path() == value.file);
    let name = value.data.as_str()?.trim().to_string();
    (!name.is_empty()).then_some((name, from_hive))
}

/// Opens every file of `discovery` and assembles the hosts.
pub fn collect(discovery: Discovery, options: &CollectOptions) -> Collection {
    let mut diagnostics = Vec::new();
    let mut drafts: Vec<Draft> = Vec::new();
    for group in discovery.groups {
        drafts.extend(drafts_for_group(group, options, &mut diagnostics));
    }
    diagnostics.sort_by(|left, right| left.path().cmp(right.path()));

    // Name each draft from its own SYSTEM hive or export where it has one.
    for draft in &mut drafts {
        if let Some((name, from_hive)) = computer_name(&draft.registry) {
            draft.name = name;
            draft.name_source = NameSource::ComputerName;
            draft.name_from_hive = from_hive;
        } else if let [computer] = draft.log_computers.as_slice() {
            draft.name = computer.clone();
            draft.name_source = NameSource::EventComputer;
        }
    }

    // Merge drafts that name the same host, unless they would hold two hives of one type.
    drafts.sort_by(|left, right| {
        left.name
            .to_lowercase()
            .cmp(&right.name.to_lowercase())
            .then_with(|| left.records[0].path.cmp(&right.records[0].path))
    });
    let mut merged: Vec<Draft> = Vec::new();
    for draft in drafts {
        let target = merged.iter_mut().find(|existing| {
            existing.name.eq_ignore_ascii_case(&draft.name) && !existing.has_conflict_with(&draft)
        });
        match target {
            Some(existing) => {
                let outranks = existing.name_source != NameSource::ComputerName
                    || (draft.name_from_hive && !existing.name_from_hive);
                if draft.name_source == NameSource::ComputerName && outranks {
                    existing.name_source = NameSource::ComputerName;
                    existing.name = draft.name.clone();
                    existing.name_from_hive = draft.name_from_hive;
                }
                existing.records.extend(draft.records);
                existing.events.extend(draft.events);
                for source in draft.registry.into_sources() {
                    existing.registry.add(source);
                }
            }
            None => merged.push(draft),
        }
    }

    let mut hosts: Vec<Host> = Vec::new();
    for mut draft in merged {
        let duplicates = hosts
            .iter()
            .filter(|host| {
                host.name.eq_ignore_ascii_case(&draft.name)
                    || host
                        .name
                        .to_lowercase()
                        .starts_with(&format!("{}#", draft.name.to_lowercase()))
            })
            .count();
        let name = if duplicates == 0 {
            draft.name.clone()
        } else {
            format!("{}#{}", draft.name, duplicates + 1)
        };
        draft
            .records
            .sort_by(|left, right| left.path.cmp(&right.path));
        let registry = draft.registry;
        let keys: Vec<&str> = options
            .control_set_keys
            .iter()
            .map(String::as_str)
            .collect();
        let notices = registry.control_set_differences(&keys);
        // A hive that turned out damaged where it was read counts as partly read.
        let mut records = draft.records;
        for record in &mut records {
            let damaged = notices.iter().any(|notice| {
                notice.code == "hiveward::hive::corrupt"
                    && notice.file.as_deref() == Some(record.path.as_str())
            });
            if damaged && record.status == FileStatus::Read {
                record.status = FileStatus::Partial;
            }
        }
        hosts.push(Host {
            name,
            name_source: draft.name_source,
            layout: draft.layout,
            registry,
            files: records,
            events: sorted_events(draft.events),
            notices,
        });
    }
    Collection {
        diagnostics,
        hosts,
        passed_over: discovery.passed_over,
    }
}

fn sorted_events(mut events: Vec<EventRecord>) -> Vec<EventRecord> {
    events.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then(a.record_id.cmp(&b.record_id))
            .then(a.file.cmp(&b.file))
    });
    events
}
