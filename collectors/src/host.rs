//! Opens every discovered file and assembles per-host facts: the registry view, the file
//! records with their status, and the host's name (decided in [`crate::identity`] from the
//! evidence alone). [`plan`] decides the hosts; [`collect_host`] reads one for the rules.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bundle::{Discovery, GroupLayout, PassedOver};
use crate::detect::FileKind;
use crate::error::{EvidenceError, Notice, NoticeLevel};
use crate::evtx::{read_evtx_with, EventRecord, EventSelection, EvtxReadOptions, EvtxSummary};
use crate::hive::{HiveFile, HiveKind, HiveState};
use crate::identity::{drafts_for_group, merge_drafts, Draft};
use crate::registry::{HostRegistry, RegistrySource};
use crate::regtext::RegExport;

mod repeated_records;

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
    /// Which event records to render and return from EVTX logs. Whatever it says, every log is
    /// read for the computers and channels its records name and counted (hosts are told apart
    /// by them); with [`EventSelection::Nothing`] no record is rendered or returned.
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
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Read fully.
    Read,
    /// Read, but not cleanly: a dirty hive without usable logs, a hive cut short and read as
    /// far as it goes, or a `.reg` export with value lines that could not be read.
    Partial,
    /// Recognised and listed without being read. [`collect`] does not give it any more: every
    /// event log is read, at least for the computers it names. Kept so that report formats
    /// stay stable.
    Listed,
    /// Could not be read at all.
    Unreadable,
}

/// One evidence file of a host, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// For event logs that could be read: channels, computers and record counts.
    // Boxed: most files are hives, and a plan holds every file's record while it decides the
    // hosts (a summary inline would be most of each record).
    pub events: Option<Box<EvtxSummary>>,
    /// Warnings and errors about this file.
    pub notices: Vec<Notice>,
}

/// Where a host's name came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// The errors behind unreadable files and the warnings of files read in part (the lines
    /// of `.reg` exports that were skipped), sorted by path, for rendering as diagnostics.
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
pub(crate) struct Opened {
    /// How the file is reported.
    pub(crate) record: FileRecord,
    /// The hive or export it holds.
    pub(crate) source: Option<RegistrySource>,
    /// Why it could not be read.
    pub(crate) error: Option<EvidenceError>,
    /// Diagnostics of a file read in part (the lines of a `.reg` export that were skipped).
    pub(crate) warnings: Vec<EvidenceError>,
    /// The event records selected from it.
    pub(crate) events: Vec<EventRecord>,
}

fn open_file(path: &Path, kind: FileKind, logs: &[PathBuf], options: &CollectOptions) -> Opened {
    let record = FileRecord {
        path: crate::path_text(path),
        kind,
        hive_kind: None,
        hive_state: None,
        logs: logs.iter().map(|log| crate::path_text(log)).collect(),
        status: FileStatus::Read,
        events: None,
        notices: Vec::new(),
    };
    // One file whose reader fails on it unexpectedly must not end the scan of the others.
    match crate::guard::isolate(|| read_file(path, kind, logs, options, record.clone())) {
        Ok(opened) => opened,
        Err(panic) => unreadable(
            record,
            EvidenceError::ReaderFailed {
                path: path.to_path_buf(),
                detail: panic,
            },
        ),
    }
}

fn unreadable(mut record: FileRecord, error: EvidenceError) -> Opened {
    record.status = FileStatus::Unreadable;
    record.notices.push(error.to_notice(NoticeLevel::Error));
    Opened {
        record,
        source: None,
        error: Some(error),
        warnings: Vec::new(),
        events: Vec::new(),
    }
}

fn read_file(
    path: &Path,
    kind: FileKind,
    logs: &[PathBuf],
    options: &CollectOptions,
    mut record: FileRecord,
) -> Opened {
    match kind {
        FileKind::Hive => match HiveFile::open(path, logs) {
            Ok(hive) => {
                record.hive_kind = Some(hive.kind());
                record.hive_state = Some(hive.state().clone());
                record.notices.extend(hive.notices().iter().cloned());
                // Dirty or cut short: read, but not all of it; so is a hive found damaged under
                // its root key while its type was decided.
                if matches!(hive.state(), HiveState::Dirty { .. }) || hive.truncation().is_some() {
                    record.status = FileStatus::Partial;
                }
                mark_damaged_files(std::slice::from_mut(&mut record), hive.notices());
                Opened {
                    record,
                    source: Some(RegistrySource::Hive(hive)),
                    error: None,
                    warnings: Vec::new(),
                    events: Vec::new(),
                }
            }
            Err(error) => unreadable(record, error),
        },
        FileKind::RegExport => match crate::detect::read_regular(path) {
            Ok(bytes) => match RegExport::parse_with_skipped(path, &bytes) {
                Ok((export, skipped)) => {
                    // Lines that could not be read lose their values only: the file is read in
                    // part, and a read of a lost value reports it.
                    if !skipped.is_empty() {
                        record.status = FileStatus::Partial;
                        record
                            .notices
                            .extend(export.skipped_lines().iter().cloned());
                    }
                    Opened {
                        record,
                        source: Some(RegistrySource::Export(export)),
                        error: None,
                        warnings: skipped,
                        events: Vec::new(),
                    }
                }
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
        // Every log is read at least far enough to know the computers and channels its records
        // name (nothing rendered), so that hosts are the same whatever the rules ask for.
        FileKind::Evtx => match read_evtx_with(path, log_selection(&options.events), &options.evtx)
        {
            Ok((summary, events)) => {
                if summary.records_skipped > 0 || summary.chunks_skipped > 0 {
                    record.status = FileStatus::Partial;
                }
                record.notices.extend(summary.notices.iter().cloned());
                record.events = Some(Box::new(summary));
                Opened {
                    record,
                    source: None,
                    error: None,
                    warnings: Vec::new(),
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
            unreadable(record, unknown_content_error(path))
        }
    }
}

/// Why a file that is not evidence cannot be read as such: the operating system's error when
/// it cannot be read, else what it starts with. Only its first bytes are read.
fn unknown_content_error(path: &Path) -> EvidenceError {
    match crate::detect::read_head(path, crate::detect::SNIFF_LEN) {
        // SYSTEM.DAT and USER.DAT of Windows 95, 98 and Me: another format altogether.
        Ok(head) if head.starts_with(b"CREG") => EvidenceError::NotAHive {
            path: path.to_path_buf(),
            detail: "it is a Windows 95/98/Me registry file (signature CREG), not a Windows NT hive; hiveward reads the hives of Windows NT and later".to_string(),
        },
        Ok(head) => {
            let detail = match crate::detect::other_format(&head) {
                Some(format) => format!(
                    "its content is {format}, not a registry hive, .reg export or EVTX log"
                ),
                None => format!(
                    "its content is not a registry hive, .reg export or EVTX log (it starts with {:?})",
                    String::from_utf8_lossy(&head[..head.len().min(8)])
                ),
            };
            // A file named as an event log gets the event log's diagnostic and help.
            let named_as_log = path
                .extension()
                .is_some_and(|extension| extension.eq_ignore_ascii_case("evtx"));
            if named_as_log {
                EvidenceError::NotAnEvtx {
                    path: path.to_path_buf(),
                    detail,
                }
            } else {
                EvidenceError::NotAHive {
                    path: path.to_path_buf(),
                    detail,
                }
            }
        }
        Err(error) => EvidenceError::Io {
            path: path.to_path_buf(),
            error,
        },
    }
}

/// What to read from a log: with no records wanted, it is still parsed and counted.
fn log_selection(events: &EventSelection) -> &EventSelection {
    static COUNT_ONLY: EventSelection = EventSelection::Matching(Vec::new());
    match events {
        EventSelection::Nothing => &COUNT_ONLY,
        other => other,
    }
}

/// The hosts of a bundle, decided from the evidence alone before anything else is read: which
/// files belong to which host and what each is called. Every file was opened once for this
/// (hives far enough to read `ComputerName`, logs for the computers and channels their records
/// name) and released again, so a plan holds only file records, never hive contents or events.
pub struct Plan {
    /// The hosts, sorted by name; collect each with [`collect_host`].
    pub hosts: Vec<PlannedHost>,
    /// Files that were passed over, with reasons.
    pub passed_over: Vec<PassedOver>,
    /// The errors behind unreadable files and the warnings of files read in part (the lines
    /// of `.reg` exports that were skipped), sorted by path, for rendering as diagnostics.
    pub diagnostics: Vec<EvidenceError>,
}

/// One host of a [`Plan`]: its name and its files. It serialises, so that a scan can keep the
/// plan of a large bundle in a temporary file while it reads the hosts one at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedHost {
    /// The host name, unique in the bundle (`NAME#2` for a second computer of one name).
    pub name: String,
    /// Where the name came from.
    pub name_source: NameSource,
    /// How its files were grouped.
    pub layout: GroupLayout,
    /// Its files as first read, sorted by path, with the notices host identity added.
    pub files: Vec<FileRecord>,
}

/// Notice codes that come from deciding which host a file belongs to (kept when the file is
/// read again by [`collect_host`]).
const IDENTITY_CODES: [&str; 6] = [
    "hiveward::bundle::joined_by_name",
    "hiveward::bundle::log_of_other_computer",
    "hiveward::bundle::log_of_several_computers",
    crate::identity::NAME_SHARED,
    "hiveward::bundle::split_by_computer",
    "hiveward::bundle::ungrouped",
];

/// Decides the hosts of `discovery` (the `identity` module), reading groups in parallel on the
/// current rayon pool. Whatever `options.events` says, logs are only counted here.
pub fn plan(discovery: Discovery, options: &CollectOptions) -> Plan {
    let identify = CollectOptions {
        events: EventSelection::Nothing,
        ..options.clone()
    };
    let Discovery {
        groups,
        passed_over,
    } = discovery;
    // Each group is dropped once its drafts are made: at 100,000 hosts the discovered groups
    // were a third of planning's peak.
    let per_group: Vec<(Vec<Draft>, Vec<EvidenceError>)> = groups
        .into_par_iter()
        .map(|group| {
            let opened: Vec<Opened> = group
                .files
                .par_iter()
                .map(|file| open_file(&file.path, file.kind, &file.logs, &identify))
                .collect();
            let mut diagnostics = Vec::new();
            let mut drafts = drafts_for_group(&group, opened, &mut diagnostics);
            // Only the records are kept: the hives are unmapped and the logs closed until the
            // host is collected. Each group's drafts and records are held until every group
            // is read, so they keep no spare room: a vector grown by one push holds four, and
            // at 100,000 hosts that spare room was about 200 MB.
            for draft in &mut drafts {
                draft.registry = None;
                draft.events = Vec::new();
                draft.records.shrink_to_fit();
            }
            drafts.shrink_to_fit();
            (drafts, diagnostics)
        })
        .collect();
    let mut diagnostics = Vec::new();
    let mut drafts = Vec::with_capacity(per_group.iter().map(|(group, _)| group.len()).sum());
    for (group_drafts, group_diagnostics) in per_group {
        drafts.extend(group_drafts);
        diagnostics.extend(group_diagnostics);
    }
    diagnostics.sort_by(|left, right| left.path().cmp(right.path()));
    let merged = merge_drafts(drafts);
    // The merged drafts are sorted by name without regard to case: a second computer of a
    // name comes right after the first.
    let mut previous = String::new();
    let mut seen = 0;
    // The first host of the current name: its name, first file and full DNS name.
    let mut first: (String, String, Option<String>) = Default::default();
    let hosts = merged
        .into_iter()
        .map(|draft| {
            let key = draft.name.to_lowercase();
            if key == previous {
                seen += 1;
            } else {
                previous = key;
                seen = 1;
                first = (
                    draft.name.clone(),
                    draft.first_path().to_string(),
                    draft.full_name().map(str::to_string),
                );
            }
            let name = if seen == 1 {
                draft.name.clone()
            } else {
                format!("{}#{}", draft.name, seen)
            };
            let shared = (seen > 1).then(|| name_shared_notice(&name, &draft, &first));
            let mut files = draft.records;
            files.sort_by(|left, right| left.path.cmp(&right.path));
            if let (Some(notice), Some(file)) = (shared, files.first_mut()) {
                file.notices.push(notice);
            }
            PlannedHost {
                name,
                name_source: draft.name_source,
                layout: draft.layout,
                files,
            }
        })
        .collect();
    Plan {
        hosts,
        passed_over,
        diagnostics,
    }
}

/// The note a host gets when it is reported as `name` (NAME#N) because an earlier host of the
/// bundle, `first` (its name, first file and full DNS name), has its name: which computers
/// they are, as far as the evidence tells, and that the number follows the files' order.
fn name_shared_notice(
    name: &str,
    draft: &crate::identity::Draft,
    first: &(String, String, Option<String>),
) -> Notice {
    let (first_name, first_file, first_fqdn) = first;
    let apart = match (draft.full_name(), first_fqdn) {
        (Some(here), Some(there)) if !here.eq_ignore_ascii_case(there) => {
            format!("their logs name different computers ({here} here, {there} there)")
        }
        _ => "nothing in their files shows them to be one computer".to_string(),
    };
    Notice::note(
        crate::identity::NAME_SHARED,
        Some(Path::new(draft.first_path())),
        format!(
            "{}: reported as host {name}: host {first_name} (files from {first_file}) has the same name and {apart}; the number follows the order of the hosts' file paths, so it can change when other evidence is added (give such hosts' folders or file prefixes distinct names to fix them)",
            draft.first_path()
        ),
    )
}

/// Reads the files of one planned host for the rules: hives mapped (and recovered when
/// dirty), `.reg` exports parsed, and from each log the records `options.events` selects.
/// Dropping the [`Host`] unmaps its hives.
pub fn collect_host(planned: &PlannedHost, options: &CollectOptions) -> Host {
    let opened: Vec<Opened> = planned
        .files
        .par_iter()
        .map(|planned_file| {
            let path = crate::path_from_text(&planned_file.path)
                .unwrap_or_else(|| PathBuf::from(&planned_file.path));
            let logs: Vec<PathBuf> = planned_file
                .logs
                .iter()
                .map(|log| crate::path_from_text(log).unwrap_or_else(|| PathBuf::from(log)))
                .collect();
            let mut opened = open_file(&path, planned_file.kind, &logs, options);
            opened.record.notices.extend(
                planned_file
                    .notices
                    .iter()
                    .filter(|notice| IDENTITY_CODES.contains(&notice.code.as_str()))
                    .cloned(),
            );
            opened
        })
        .collect();
    let mut registry = HostRegistry::new();
    let mut records = Vec::with_capacity(opened.len());
    let mut events = Vec::new();
    for item in opened {
        if let Some(source) = item.source {
            registry.add(source);
        }
        events.extend(item.events);
        records.push(item.record);
    }
    let keys: Vec<&str> = options
        .control_set_keys
        .iter()
        .map(String::as_str)
        .collect();
    let mut notices = registry.control_set_differences(&keys);
    notices.extend(registry.find_disagreements());
    let events = repeated_records::drop_repeated_records(sorted_events(events), &mut notices);
    // A hive that turned out damaged where it was read counts as partly read.
    mark_damaged_files(&mut records, &notices);
    Host {
        name: planned.name.clone(),
        name_source: planned.name_source,
        layout: planned.layout.clone(),
        registry,
        files: records,
        events,
        notices,
    }
}

/// Opens every file of `discovery` and assembles the hosts: [`plan`], then [`collect_host`]
/// for each. Every host stays in memory; a scan streams them instead.
pub fn collect(discovery: Discovery, options: &CollectOptions) -> Collection {
    let plan = plan(discovery, options);
    let hosts = plan
        .hosts
        .par_iter()
        .map(|planned| collect_host(planned, options))
        .collect();
    Collection {
        diagnostics: plan.diagnostics,
        hosts,
        passed_over: plan.passed_over,
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

/// Marks as partly read every file that `notices` report damaged (`hiveward::hive::corrupt`),
/// so that no file found damaged where it was read counts as read: collection uses it for the
/// control-set comparison, reports for damage met later, reading OS facts or hotfixes.
pub fn mark_damaged_files(files: &mut [FileRecord], notices: &[Notice]) {
    for file in files.iter_mut() {
        let damaged = notices.iter().any(|notice| {
            notice.code == "hiveward::hive::corrupt" && notice.file.as_deref() == Some(&file.path)
        });
        if damaged && file.status == FileStatus::Read {
            file.status = FileStatus::Partial;
        }
    }
}
