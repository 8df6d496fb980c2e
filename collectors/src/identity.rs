//! Tells the hosts of a bundle apart from the evidence alone, whatever rules are loaded: which
//! files belong to one computer, what it is called, and that two computers are never merged.
//!
//! Discovery proposes groups of files (a `HOST_` prefix, a folder, a triage tree). Each group is
//! then checked against what its files say about themselves:
//!
//! - A SYSTEM hive's (or `.reg` export's) `ComputerName` names the group's computer.
//! - Every event log is read far enough to know every computer its records name (the raw
//!   pass over its chunks; nothing is rendered for this), so the same bundle gives the same
//!   hosts with any [`EventSelection`](crate::EventSelection).
//! - Two names are the same computer when their first DNS labels are equal without regard to
//!   case and, when both are full DNS names, the full names are too (`FS01` is
//!   `fs01.corp.example`; `fs01.corp.example` is not `fs01.lab.example`).
//! - A log naming the group's computer stays with it. A log naming one other computer goes to
//!   that computer's host (it is made, or it joins one named so elsewhere in the bundle); when
//!   the group's computer was known from its hive, or from other logs that name its suggested
//!   name, the log gets a warning (`hiveward::bundle::log_of_other_computer`), otherwise a
//!   note (`hiveward::bundle::split_by_computer`). A group whose computer is unknown and whose
//!   logs all name one computer is that computer.
//! - A log naming several computers (forwarded events) stays with its group, with a warning
//!   (`hiveward::bundle::log_of_several_computers`); a log naming none stays too.
//! - Groups, and the hosts split from them, that name the same computer are merged, unless that
//!   would give one host two hives of one machine type.
//!
//! Everything is sorted, so the outcome depends neither on input order nor on thread counts.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::bundle::{host_prefix, FileGroup, GroupLayout};
use crate::error::{EvidenceError, Notice};
use crate::evtx::EventRecord;
use crate::hive::HiveKind;
use crate::host::{FileRecord, FileStatus, NameSource, Opened};
use crate::registry::HostRegistry;

/// A log whose records name another computer than the one its group stands for.
const LOG_OF_OTHER_COMPUTER: &str = "hiveward::bundle::log_of_other_computer";
/// A log whose records name several computers.
const LOG_OF_SEVERAL_COMPUTERS: &str = "hiveward::bundle::log_of_several_computers";
/// A log taken out of a group whose logs name several computers.
const SPLIT_BY_COMPUTER: &str = "hiveward::bundle::split_by_computer";
/// Files of another folder joined to a host only because the folder or file names agree.
const JOINED_BY_NAME: &str = "hiveward::bundle::joined_by_name";
/// A host reported as NAME#N because another host of the bundle has its name.
pub(crate) const NAME_SHARED: &str = "hiveward::bundle::name_shared";

/// A computer as evidence names it.
#[derive(Clone, Debug)]
struct ComputerId {
    /// The name as written (trimmed, without a trailing dot).
    name: String,
    /// Its first DNS label (the whole name for an IP address).
    label: String,
    /// The full name, when it is a DNS name of more than one label.
    fqdn: Option<String>,
}

impl ComputerId {
    /// `None` for an empty name.
    fn parse(text: &str) -> Option<ComputerId> {
        let name = text.trim().trim_end_matches('.');
        if name.is_empty() {
            return None;
        }
        if name.parse::<std::net::IpAddr>().is_ok() {
            return Some(ComputerId {
                name: name.to_string(),
                label: name.to_string(),
                fqdn: None,
            });
        }
        let (label, rest) = name.split_once('.').unwrap_or((name, ""));
        if label.is_empty() {
            return None;
        }
        Some(ComputerId {
            name: name.to_string(),
            label: label.to_string(),
            fqdn: (!rest.is_empty()).then(|| name.to_string()),
        })
    }

    /// Whether both names may stand for one computer.
    fn same(&self, other: &ComputerId) -> bool {
        self.label.eq_ignore_ascii_case(&other.label) && fqdns_agree(&self.fqdn, &other.fqdn)
    }

    /// The sort and equality key.
    fn key(&self) -> (String, String) {
        (
            self.label.to_ascii_lowercase(),
            self.fqdn
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
    }
}

/// Two full names agree when either is missing or both are equal without regard to case.
fn fqdns_agree(left: &Option<String>, right: &Option<String>) -> bool {
    match (left, right) {
        (Some(left), Some(right)) => left.eq_ignore_ascii_case(right),
        _ => true,
    }
}

/// The distinct computers among `ids`, sorted: names with one first label are one computer,
/// unless they give different full names; then each full name is one, and the bare label (if
/// it occurs) another, since it cannot be told which of them it is.
fn distinct_computers(ids: impl IntoIterator<Item = ComputerId>) -> Vec<ComputerId> {
    let mut ids: Vec<ComputerId> = ids.into_iter().collect();
    ids.sort_by(|left, right| {
        left.key()
            .cmp(&right.key())
            .then_with(|| left.name.cmp(&right.name))
    });
    let mut computers = Vec::new();
    let mut start = 0;
    while start < ids.len() {
        let label = ids[start].label.to_ascii_lowercase();
        let end = ids[start..]
            .iter()
            .position(|id| id.label.to_ascii_lowercase() != label)
            .map_or(ids.len(), |offset| start + offset);
        let same_label = &ids[start..end];
        let mut full: Vec<&ComputerId> = same_label.iter().filter(|id| id.fqdn.is_some()).collect();
        full.dedup_by(|later, earlier| fqdns_agree(&later.fqdn, &earlier.fqdn));
        let bare = same_label.iter().find(|id| id.fqdn.is_none());
        match (full.as_slice(), bare) {
            ([], Some(bare)) => computers.push(bare.clone()),
            ([one], _) => computers.push((*one).clone()),
            (several, bare) => {
                computers.extend(several.iter().map(|id| (*id).clone()));
                computers.extend(bare.cloned());
            }
        }
        start = end;
    }
    computers
}

/// Which of `computers` (from [`distinct_computers`]) `id` is.
fn computer_of<'c>(computers: &'c [ComputerId], id: &ComputerId) -> Option<&'c ComputerId> {
    let mut same_label = computers
        .iter()
        .filter(|computer| computer.label.eq_ignore_ascii_case(&id.label));
    let first = same_label.next()?;
    if same_label.next().is_none() {
        return Some(first);
    }
    computers.iter().find(|computer| computer.key() == id.key())
}

/// What a log says about the computer it comes from.
enum LogIdentity {
    /// No computer: its records name none, or it could not be read.
    Unnamed,
    /// One computer.
    One(ComputerId),
    /// Several computers, as forwarded events do.
    Several(Vec<ComputerId>),
}

fn log_identity(record: &FileRecord) -> LogIdentity {
    let Some(summary) = record.events.as_ref() else {
        return LogIdentity::Unnamed;
    };
    if !matches!(record.status, FileStatus::Read | FileStatus::Partial) {
        return LogIdentity::Unnamed;
    }
    let mut computers = distinct_computers(
        summary
            .computers
            .iter()
            .filter_map(|name| ComputerId::parse(name)),
    );
    match computers.len() {
        0 => LogIdentity::Unnamed,
        1 => LogIdentity::One(computers.remove(0)),
        _ => LogIdentity::Several(computers),
    }
}

/// Files that will form one host.
pub(crate) struct Draft {
    /// The host name.
    pub(crate) name: String,
    /// Where the name came from.
    pub(crate) name_source: NameSource,
    /// Whether the name is a SYSTEM hive's `ComputerName` (not an export's).
    name_from_hive: bool,
    /// The computer's full DNS name, when its logs give one.
    fqdn: Option<String>,
    /// How its files were grouped.
    pub(crate) layout: GroupLayout,
    /// Its files.
    pub(crate) records: Vec<FileRecord>,
    /// Its hives and exports, while its group is decided (boxed: a plan holds every draft
    /// until the hosts are decided, and an empty registry is over 300 bytes).
    pub(crate) registry: Option<Box<HostRegistry>>,
    /// The event records read from its logs.
    pub(crate) events: Vec<EventRecord>,
}

impl Draft {
    /// A draft of `opened`, named from their `ComputerName` when they hold one, else `name`.
    fn new(
        name: String,
        name_source: NameSource,
        layout: GroupLayout,
        opened: Vec<Opened>,
        diagnostics: &mut Vec<EvidenceError>,
    ) -> Draft {
        let mut draft = Draft {
            name,
            name_source,
            name_from_hive: false,
            fqdn: None,
            layout,
            records: Vec::new(),
            registry: None,
            events: Vec::new(),
        };
        for item in opened {
            draft.add(item, diagnostics);
        }
        if let Some((name, from_hive, _)) = draft.registry.as_deref().and_then(computer_name) {
            draft.name = name;
            draft.name_source = NameSource::ComputerName;
            draft.name_from_hive = from_hive;
        }
        draft
    }

    fn add(&mut self, item: Opened, diagnostics: &mut Vec<EvidenceError>) {
        diagnostics.extend(item.error);
        diagnostics.extend(item.warnings);
        self.events.extend(item.events);
        if let Some(source) = item.source {
            self.registry.get_or_insert_default().add(source);
        }
        self.records.push(item.record);
    }

    /// The computer's full DNS name, when its logs give one.
    pub(crate) fn full_name(&self) -> Option<&str> {
        self.fqdn.as_deref()
    }

    pub(crate) fn first_path(&self) -> &str {
        self.records
            .iter()
            .map(|record| record.path.as_str())
            .min()
            .unwrap_or_default()
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

    /// Whether `other` names the same computer and may join this draft.
    fn can_merge(&self, other: &Draft) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && fqdns_agree(&self.fqdn, &other.fqdn)
            && !self.has_conflict_with(other)
    }
}

/// The host's `ComputerName`, whether it came from a hive (which outranks an export), and the
/// file it came from.
fn computer_name(registry: &HostRegistry) -> Option<(String, bool, PathBuf)> {
    let value = registry
        .value(
            r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName",
            "ComputerName",
        )
        .ok()
        .flatten()?;
    let from_hive = registry.hives().any(|hive| hive.path() == value.file);
    let name = value.data.as_str()?.trim().to_string();
    (!name.is_empty()).then_some((name, from_hive, value.file))
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

fn layout_source(layout: &GroupLayout) -> NameSource {
    match layout {
        GroupLayout::FlatPrefix => NameSource::FilePrefix,
        GroupLayout::TriageTree | GroupLayout::Directory => NameSource::Directory,
    }
}

/// How a group's layout ties a file to it, for messages.
fn layout_words(layout: &GroupLayout) -> &'static str {
    match layout {
        GroupLayout::FlatPrefix => "its file name",
        GroupLayout::Directory => "its folder",
        GroupLayout::TriageTree => "its triage tree",
    }
}

fn names(computers: &[ComputerId]) -> String {
    computers
        .iter()
        .map(|computer| computer.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn several_computers_notice(path: &Path, computers: &[ComputerId], group: &str) -> Notice {
    Notice::warning(
        LOG_OF_SEVERAL_COMPUTERS,
        path,
        format!(
            "{}: its records name several computers ({}): forwarded events, or a computer renamed while it logged; it is kept with the files grouped as {group}, and its events count as that host's",
            path.display(),
            names(computers)
        ),
    )
}

/// The computer a group stands for.
struct Claim {
    id: ComputerId,
    /// Whether it comes from the group's `ComputerName` (logs match it by name), rather than
    /// from its logs (logs match it as one of [`distinct_computers`]).
    anchored: bool,
    /// Whether the group's files say so beyond the logs that name it alone: a log of another
    /// computer in such a group is worth a warning.
    evident: bool,
    /// Where the claim comes from, for messages.
    basis: String,
}

impl Claim {
    fn matches(&self, id: &ComputerId, computers: &[ComputerId]) -> bool {
        if self.anchored {
            self.id.same(id)
        } else {
            computer_of(computers, id).is_some_and(|computer| computer.key() == self.id.key())
        }
    }
}

/// Splits one discovered group into drafts: one for the group's computer and one for each
/// other computer its logs name.
pub(crate) fn drafts_for_group(
    group: &FileGroup,
    opened: Vec<Opened>,
    diagnostics: &mut Vec<EvidenceError>,
) -> Vec<Draft> {
    if has_duplicate_machine_hive(&opened) {
        return ungrouped(&group.layout, opened, diagnostics);
    }
    let (logs, others): (Vec<Opened>, Vec<Opened>) = opened
        .into_iter()
        .partition(|item| item.record.events.is_some());
    let mut base = Draft::new(
        group.suggested_name.clone(),
        layout_source(&group.layout),
        group.layout.clone(),
        others,
        diagnostics,
    );
    let logs: Vec<(Opened, LogIdentity)> = logs
        .into_iter()
        .map(|item| {
            let identity = log_identity(&item.record);
            (item, identity)
        })
        .collect();
    let computers = distinct_computers(logs.iter().filter_map(|(_, identity)| match identity {
        LogIdentity::One(id) => Some(id.clone()),
        _ => None,
    }));

    let anchor = (base.name_source == NameSource::ComputerName)
        .then(|| ComputerId::parse(&base.name))
        .flatten();
    let claim = if let Some(id) = anchor {
        let file = base
            .registry
            .as_deref()
            .and_then(computer_name)
            .map(|(_, _, file)| file.display().to_string())
            .unwrap_or_default();
        Some(Claim {
            basis: format!("{} (the ComputerName in {file})", id.name),
            id,
            anchored: true,
            evident: true,
        })
    } else if let Some(named) = computers
        .iter()
        .find(|computer| computer.label.eq_ignore_ascii_case(&group.suggested_name))
    {
        Some(Claim {
            basis: format!("{} (named by the logs beside it)", named.label),
            id: named.clone(),
            anchored: false,
            evident: true,
        })
    } else if let [only] = computers.as_slice() {
        Some(Claim {
            basis: only.label.clone(),
            id: only.clone(),
            anchored: false,
            evident: false,
        })
    } else {
        None
    };
    if let Some(claim) = claim.as_ref().filter(|claim| !claim.anchored) {
        base.name = claim.id.label.clone();
        base.name_source = NameSource::EventComputer;
        base.fqdn = claim.id.fqdn.clone();
    }

    let group_name = base.name.clone();
    let mut staying: Vec<ComputerId> = Vec::new();
    let mut split: Vec<(ComputerId, Vec<Opened>)> = Vec::new();
    for (mut item, identity) in logs {
        let path = crate::path_from_text(&item.record.path)
            .unwrap_or_else(|| PathBuf::from(&item.record.path));
        match identity {
            LogIdentity::Unnamed => base.add(item, diagnostics),
            LogIdentity::Several(several) => {
                item.record
                    .notices
                    .push(several_computers_notice(&path, &several, &group_name));
                base.add(item, diagnostics);
            }
            LogIdentity::One(id) => {
                if claim
                    .as_ref()
                    .is_some_and(|claim| claim.matches(&id, &computers))
                {
                    staying.push(id);
                    base.add(item, diagnostics);
                    continue;
                }
                let computer = computer_of(&computers, &id).cloned().unwrap_or(id.clone());
                let notice = match claim.as_ref().filter(|claim| claim.evident) {
                    Some(claim) => Notice::warning(
                        LOG_OF_OTHER_COMPUTER,
                        &path,
                        format!(
                            "{}: its records name computer {}, but {} suggests host {}; it is read as evidence of {}",
                            path.display(),
                            id.name,
                            layout_words(&group.layout),
                            claim.basis,
                            computer.label
                        ),
                    ),
                    None => Notice::note(
                        SPLIT_BY_COMPUTER,
                        Some(&path),
                        format!(
                            "{}: its records name computer {}, and the logs grouped with it by {} ({}) name several computers ({}), so it is read as evidence of {}",
                            path.display(),
                            id.name,
                            layout_words(&group.layout).trim_start_matches("its "),
                            group.suggested_name,
                            names(&computers),
                            computer.label
                        ),
                    ),
                };
                item.record.notices.push(notice);
                match split
                    .iter_mut()
                    .find(|(known, _)| known.key() == computer.key())
                {
                    Some((_, items)) => items.push(item),
                    None => split.push((computer, vec![item])),
                }
            }
        }
    }
    if base.name_source == NameSource::ComputerName {
        if let [only] = distinct_computers(staying).as_slice() {
            base.fqdn = only.fqdn.clone();
        }
    }

    let mut drafts = Vec::new();
    if !base.records.is_empty() {
        drafts.push(base);
    }
    split.sort_by_key(|(computer, _)| computer.key());
    for (computer, items) in split {
        let mut draft = Draft::new(
            computer.label.clone(),
            NameSource::EventComputer,
            group.layout.clone(),
            items,
            diagnostics,
        );
        draft.fqdn = computer.fqdn;
        drafts.push(draft);
    }
    drafts
}

/// Several hives of one machine type in one group: these are different machines' files side
/// by side, so each file stands alone.
fn ungrouped(
    layout: &GroupLayout,
    opened: Vec<Opened>,
    diagnostics: &mut Vec<EvidenceError>,
) -> Vec<Draft> {
    opened
        .into_iter()
        .map(|mut item| {
            let path = crate::path_from_text(&item.record.path)
                .unwrap_or_else(|| PathBuf::from(&item.record.path));
            let file_name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            item.record.notices.push(Notice::note(
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
            let identity = log_identity(&item.record);
            if let LogIdentity::Several(several) = &identity {
                item.record
                    .notices
                    .push(several_computers_notice(&path, several, &name));
            }
            let mut draft = Draft::new(name, name_source, layout.clone(), vec![item], diagnostics);
            if let LogIdentity::One(id) = identity {
                draft.name = id.label;
                draft.name_source = NameSource::EventComputer;
                draft.fqdn = id.fqdn;
            }
            draft
        })
        .collect()
}

/// Merges drafts that name the same computer, unless they would hold two hives of one type;
/// the result is sorted by name.
pub(crate) fn merge_drafts(mut drafts: Vec<Draft>) -> Vec<Draft> {
    drafts.sort_by_cached_key(|draft| (draft.name.to_lowercase(), draft.first_path().to_string()));
    // Drafts that may merge share a name, so sorted they sit side by side: each run of one name
    // is merged on its own and in place, the drafts kept moving to the front. Neither a second
    // list of drafts nor the lookups of every name are held at once (at 100,000 hosts either
    // was tens of megabytes).
    let mut kept = 0;
    let mut next = 0;
    while next < drafts.len() {
        let run = drafts[next].name.to_lowercase();
        // Within the run, drafts that may merge share a name without regard to ASCII case:
        // look them up by it, then by what could stop them.
        let mut by_name: HashMap<String, MergeCandidates> = HashMap::new();
        while next < drafts.len() && drafts[next].name.to_lowercase() == run {
            let candidates = by_name
                .entry(drafts[next].name.to_ascii_lowercase())
                .or_default();
            match candidates.first_that_can_take(&drafts[next]) {
                Some(at) => {
                    // `at` is a kept draft, before `kept` and so before `next`.
                    let (front, back) = drafts.split_at_mut(next);
                    let (existing, draft) = (&mut front[at], &mut back[0]);
                    debug_assert!(existing.can_merge(draft));
                    candidates.remove(at, existing);
                    join(existing, draft);
                    candidates.insert(at, existing);
                }
                None => {
                    candidates.insert(kept, &drafts[next]);
                    // What was at `kept` joined a kept draft and is left behind, emptied.
                    drafts.swap(kept, next);
                    kept += 1;
                }
            }
            next += 1;
        }
    }
    drafts.truncate(kept);
    drafts
}

/// Moves what `draft` holds into `existing`, the draft of the same computer it joins.
fn join(existing: &mut Draft, draft: &mut Draft) {
    if let Some(notice) = joined_by_name_notice(existing, draft) {
        if let Some(first) = draft.records.first_mut() {
            first.notices.push(notice);
        }
    }
    let outranks = existing.name_source != NameSource::ComputerName
        || (draft.name_from_hive && !existing.name_from_hive);
    if draft.name_source == NameSource::ComputerName && outranks {
        existing.name_source = NameSource::ComputerName;
        existing.name = draft.name.clone();
        existing.name_from_hive = draft.name_from_hive;
    }
    if existing.fqdn.is_none() {
        existing.fqdn = draft.fqdn.take();
    }
    existing.records.append(&mut draft.records);
    existing.events.append(&mut draft.events);
    if let Some(registry) = draft.registry.take() {
        let existing = existing.registry.get_or_insert_default();
        for source in registry.into_sources() {
            existing.add(source);
        }
    }
}

/// Whether a draft's name comes only from how its files are laid out (a folder or file name),
/// not from anything in them that names the computer.
fn named_by_layout(draft: &Draft) -> bool {
    matches!(
        draft.name_source,
        NameSource::Directory | NameSource::FilePrefix | NameSource::FileName
    )
}

/// The folder of a draft's first file, which tells its group apart from another of the name.
fn first_folder(draft: &Draft) -> &Path {
    Path::new(draft.first_path())
        .parent()
        .unwrap_or(Path::new(""))
}

/// The notice a draft gets when it joins `host` from another folder only because a folder or
/// file name agrees with the host's name: nothing says they are one computer, so the report
/// says why they were joined and how to keep them apart. A warning when neither side's files
/// name the computer; a note when the host's own files do (a folder named like its computer).
fn joined_by_name_notice(host: &Draft, draft: &Draft) -> Option<Notice> {
    if !(named_by_layout(host) || named_by_layout(draft)) {
        return None;
    }
    let (host_folder, folder) = (first_folder(host), first_folder(draft));
    if host_folder == folder {
        return None;
    }
    let file = Path::new(draft.first_path());
    let both = named_by_layout(host) && named_by_layout(draft);
    let (weak, weak_folder) = if named_by_layout(draft) {
        (draft, folder)
    } else {
        (host, host_folder)
    };
    let why = if both {
        format!(
            "no file in either folder names the computer ({})",
            unnamed_because(&[host, draft])
        )
    } else {
        format!(
            "no file in {} names the computer ({})",
            crate::path_text(weak_folder),
            unnamed_because(&[weak])
        )
    };
    let basis = match weak.layout {
        GroupLayout::FlatPrefix => "the prefix of its file names",
        GroupLayout::Directory => "the name of its folder",
        GroupLayout::TriageTree => "the name of its triage tree",
    };
    let message = format!(
        "{}: joined to host {} (files in {}) only because {basis} matches: {why}; if they come from different computers, give their folders different names or prefix the files with HOST_",
        crate::path_text(folder),
        host.name,
        crate::path_text(host_folder),
    );
    Some(if both {
        Notice::warning(JOINED_BY_NAME, file, message)
    } else {
        Notice::note(JOINED_BY_NAME, Some(file), message)
    })
}

/// Why the files of `drafts` name no computer: no SYSTEM hive with a `ComputerName`, and their
/// event logs name none, or several (forwarded events), which they list.
fn unnamed_because(drafts: &[&Draft]) -> String {
    let mut logs = 0;
    let mut computers: Vec<&str> = Vec::new();
    for record in drafts.iter().flat_map(|draft| &draft.records) {
        let Some(summary) = &record.events else {
            continue;
        };
        logs += 1;
        for computer in &summary.computers {
            if !computers
                .iter()
                .any(|known| known.eq_ignore_ascii_case(computer))
            {
                computers.push(computer);
            }
        }
    }
    let shown = |computers: &[&str]| {
        let mut text = computers
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if computers.len() > 5 {
            text.push_str(&format!(" and {} more", computers.len() - 5));
        }
        text
    };
    match (logs, computers.len()) {
        (0, _) => "no SYSTEM hive with a ComputerName, no event log".to_string(),
        (_, 0) => {
            "no SYSTEM hive with a ComputerName, and the event logs name no computer".to_string()
        }
        (_, _) => format!(
            "no SYSTEM hive with a ComputerName, and the event logs name several computers: {}",
            shown(&computers)
        ),
    }
}

/// The drafts kept so far under one name (without regard to ASCII case, as
/// [`Draft::can_merge`] compares names), indexed by what decides whether another draft of that
/// name may join one: the machine hives it holds and its full DNS name. Finding the first that
/// may take a draft then costs a few lookups, however many computers share the name (cloned
/// images that kept one `ComputerName`).
#[derive(Default)]
struct MergeCandidates {
    /// Positions in the merged list by the machine hives held (one bit per kind).
    by_kinds: HashMap<u8, BTreeSet<usize>>,
    /// The same by machine hives and full name (lower case; `None` when unknown).
    by_kinds_and_fqdn: HashMap<(u8, Option<String>), BTreeSet<usize>>,
}

impl MergeCandidates {
    fn kinds(draft: &Draft) -> u8 {
        draft
            .machine_kinds()
            .iter()
            .fold(0, |bits, kind| bits | (1 << (*kind as u8)))
    }

    fn fqdn(draft: &Draft) -> Option<String> {
        draft.fqdn.as_ref().map(|fqdn| fqdn.to_ascii_lowercase())
    }

    fn insert(&mut self, at: usize, draft: &Draft) {
        let kinds = Self::kinds(draft);
        self.by_kinds.entry(kinds).or_default().insert(at);
        self.by_kinds_and_fqdn
            .entry((kinds, Self::fqdn(draft)))
            .or_default()
            .insert(at);
    }

    fn remove(&mut self, at: usize, draft: &Draft) {
        let kinds = Self::kinds(draft);
        if let Some(positions) = self.by_kinds.get_mut(&kinds) {
            positions.remove(&at);
        }
        if let Some(positions) = self.by_kinds_and_fqdn.get_mut(&(kinds, Self::fqdn(draft))) {
            positions.remove(&at);
        }
    }

    /// The first kept draft that `draft` may join: no machine hive in common, and full names
    /// that agree (equal, or one unknown). The same as the first for which
    /// [`Draft::can_merge`] holds.
    fn first_that_can_take(&self, draft: &Draft) -> Option<usize> {
        let kinds = Self::kinds(draft);
        let fqdn = Self::fqdn(draft);
        let first = |key: &(u8, Option<String>)| {
            self.by_kinds_and_fqdn
                .get(key)
                .and_then(|positions| positions.first().copied())
        };
        self.by_kinds
            .iter()
            .filter(|(held, _)| *held & kinds == 0)
            .filter_map(|(held, positions)| match &fqdn {
                None => positions.first().copied(),
                Some(_) => [first(&(*held, None)), first(&(*held, fqdn.clone()))]
                    .into_iter()
                    .flatten()
                    .min(),
            })
            .min()
    }
}

#[cfg(test)]
mod tests;
