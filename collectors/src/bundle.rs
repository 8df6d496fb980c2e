//! Walks the inputs, recognises evidence files by content, pairs transaction logs with their
//! hives, and groups files into candidate hosts for the three supported layouts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::detect::{sniff_file, special_file_kind, FileKind};

mod same_file;

/// How discovery treats the file system.
#[derive(Clone, Debug, Default)]
pub struct DiscoverOptions {
    /// Follow symbolic links inside directories. Off by default, so a bundle cannot pull in
    /// files from elsewhere on the machine.
    pub follow_links: bool,
}

/// One file that will be read as evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    /// The path, as reached from the inputs.
    pub path: PathBuf,
    /// What its content says it is.
    pub kind: FileKind,
    /// For a hive: its `.LOG`, `.LOG1` and `.LOG2` transaction logs, in that order.
    pub logs: Vec<PathBuf>,
}

/// A file that was passed over, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct PassedOver {
    /// The path.
    pub path: String,
    /// Why it was not read.
    pub reason: String,
}

/// How a group of files was recognised as belonging together.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum GroupLayout {
    /// A triage tree: everything under the folder that holds `Windows\System32\config`,
    /// `Windows\System32\winevt\Logs` or `Users\<name>`.
    TriageTree,
    /// Files named `HOST_*` in one folder, as `REG SAVE ... %COMPUTERNAME%_SYSTEM.HIV` makes them.
    FlatPrefix,
    /// The files of one folder.
    Directory,
}

/// Files that appear to come from one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileGroup {
    /// How the group was recognised.
    pub layout: GroupLayout,
    /// The name the layout suggests for the host: the `HOST_` prefix, or the folder's name.
    pub suggested_name: String,
    /// The files, sorted by path.
    pub files: Vec<EvidenceFile>,
}

/// Everything discovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Candidate hosts, sorted by their first file.
    pub groups: Vec<FileGroup>,
    /// Files not read, with reasons.
    pub passed_over: Vec<PassedOver>,
}

/// Hive type words that appear before an underscore in file names without being host names
/// (`SYSTEM_B`, `ntuser_software_partial`).
const NOT_HOST_PREFIXES: [&str; 9] = [
    "SYSTEM",
    "SOFTWARE",
    "SAM",
    "SECURITY",
    "NTUSER",
    "USRCLASS",
    "DEFAULT",
    "COMPONENTS",
    "AMCACHE",
];

/// Walks `inputs` (files or directories) and groups what it finds.
///
/// The walk itself is one pass, in file-name order; the files it finds are read (their first
/// bytes) by tasks of the current rayon pool while it goes on. What is found is sorted, so the
/// result is the same whatever the pool's size.
pub fn discover(inputs: &[PathBuf], options: &DiscoverOptions) -> Discovery {
    let mut found: Vec<(PathBuf, FileKind)> = Vec::new();
    // Files that could not be read to tell what they are: unreadable evidence, whatever their
    // names, reported by their host's reader with the operating system's error.
    let mut unreadable: BTreeSet<PathBuf> = BTreeSet::new();
    let mut passed_over = Vec::new();
    let sniffed: Mutex<Vec<Sniffed>> = Mutex::new(Vec::new());
    rayon::scope(|scope| {
        let sniffed = &sniffed;
        let spawn = |batch: Vec<(PathBuf, bool)>| {
            if !batch.is_empty() {
                scope.spawn(move |_| sniff_batch(batch, sniffed));
            }
        };
        let mut batch = Vec::with_capacity(SNIFF_BATCH);
        walk(
            inputs,
            options,
            &mut found,
            &mut unreadable,
            &mut passed_over,
            &mut |path, given| {
                batch.push((path, given));
                if batch.len() == SNIFF_BATCH {
                    spawn(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(SNIFF_BATCH),
                    ));
                }
            },
        );
        spawn(batch);
    });
    let sniffed = sniffed.into_inner().unwrap_or_else(PoisonError::into_inner);
    for (path, given, kind) in sniffed {
        match kind {
            Ok(kind) => {
                // A hive named by itself: its transaction logs beside it are read with it,
                // as they would be were its folder given.
                if given && kind == FileKind::Hive {
                    logs_beside(
                        &path,
                        options,
                        &mut found,
                        &mut unreadable,
                        &mut passed_over,
                    );
                }
                found.push((path, kind));
            }
            // Replaced by something that is no regular file since the walk saw it.
            Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
                passed_over.push(PassedOver {
                    path: crate::path_text(&path),
                    reason: error.to_string(),
                })
            }
            // Unreadable files still go to a host, whose reader reports the error.
            Err(_) => {
                unreadable.insert(path.clone());
                found.push((path, FileKind::Unknown));
            }
        }
    }
    found.sort();
    found.dedup();
    same_file::drop_repeated_files(&mut found, inputs, &mut passed_over);

    let mut evidence: Vec<EvidenceFile> = Vec::new();
    let mut logs: Vec<PathBuf> = Vec::new();
    for (path, kind) in found {
        match kind {
            FileKind::TransactionLogOld | FileKind::TransactionLogNew => logs.push(path),
            FileKind::Hive | FileKind::RegExport | FileKind::Evtx => evidence.push(EvidenceFile {
                path,
                kind,
                logs: Vec::new(),
            }),
            FileKind::Empty | FileKind::Unknown => {
                // A `.dat` file of a known other format is no hive, whatever its name says; a
                // `.evt` file is named for what it is, with the way to convert it.
                let other = (kind == FileKind::Unknown
                    && !unreadable.contains(&path)
                    && (evidence_only_by_extension(&path) || is_legacy_event_log_name(&path)))
                .then(|| crate::detect::read_head(&path, crate::detect::SNIFF_LEN).ok())
                .flatten()
                .and_then(|head| crate::detect::other_format(&head));
                if let Some(format) = other {
                    passed_over.push(PassedOver {
                        path: crate::path_text(&path),
                        reason: format!(
                            "content is {format}, not a registry hive, .reg export or EVTX log"
                        ),
                    });
                } else if unreadable.contains(&path) || looks_like_evidence(&path) {
                    evidence.push(EvidenceFile {
                        path,
                        kind,
                        logs: Vec::new(),
                    });
                } else {
                    let reason = if kind == FileKind::Empty {
                        "empty file".to_string()
                    } else {
                        "content is not a registry hive, .reg export or EVTX log".to_string()
                    };
                    passed_over.push(PassedOver {
                        path: crate::path_text(&path),
                        reason,
                    });
                }
            }
        }
    }
    let hives: Vec<Option<usize>> = {
        let index = HiveIndex::new(&evidence);
        logs.iter().map(|log| index.hive_for_log(log)).collect()
    };
    for (log, hive) in logs.into_iter().zip(hives) {
        match hive {
            Some(hive) => {
                let hive = &mut evidence[hive];
                hive.logs.push(log);
                hive.logs.sort_by_key(|path| log_order(path));
            }
            None => {
                let reason = match hive_file_beside(&log) {
                    Some(hive) => format!(
                        "transaction log of the hive {} beside it, which is not among the inputs: give the hive (or its folder) to read it with its logs",
                        crate::path_text(&hive)
                    ),
                    None => "transaction log with no hive of the same name beside it".to_string(),
                };
                passed_over.push(PassedOver {
                    path: crate::path_text(&log),
                    reason,
                });
            }
        }
    }

    let mut groups: BTreeMap<(GroupLayout, PathBuf, String), Vec<EvidenceFile>> = BTreeMap::new();
    for file in evidence {
        let (layout, root, name) = group_key(&file.path);
        groups.entry((layout, root, name)).or_default().push(file);
    }
    let mut groups: Vec<FileGroup> = groups
        .into_iter()
        .map(|((layout, _, suggested_name), mut files)| {
            files.sort_by(|left, right| left.path.cmp(&right.path));
            FileGroup {
                layout,
                suggested_name,
                files,
            }
        })
        .collect();
    groups.sort_by(|left, right| left.files[0].path.cmp(&right.files[0].path));
    passed_over.sort();
    passed_over.dedup();
    Discovery {
        groups,
        passed_over,
    }
}

/// Walks `inputs`, noting what needs no reading in `found`, `unreadable` and `passed_over`,
/// and handing each regular file to `sniff`, with whether it was named as an input.
fn walk(
    inputs: &[PathBuf],
    options: &DiscoverOptions,
    found: &mut Vec<(PathBuf, FileKind)>,
    unreadable: &mut BTreeSet<PathBuf>,
    passed_over: &mut Vec<PassedOver>,
    sniff: &mut dyn FnMut(PathBuf, bool),
) {
    for input in inputs {
        let walker = walkdir::WalkDir::new(input)
            .follow_links(options.follow_links)
            .sort_by_file_name();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    // An input named on the command line, or a file named like evidence, that
                    // cannot be reached is unreadable evidence: its reader reports the error.
                    let failed = error.path().unwrap_or(input).to_path_buf();
                    let is_dir = std::fs::metadata(&failed).is_ok_and(|meta| meta.is_dir());
                    if error.loop_ancestor().is_none()
                        && !is_dir
                        && (error.depth() == 0 || looks_like_evidence(&failed))
                    {
                        unreadable.insert(failed.clone());
                        found.push((failed, FileKind::Unknown));
                        continue;
                    }
                    let path = crate::path_text(&failed);
                    let reason = match error.loop_ancestor() {
                        Some(ancestor) => {
                            format!("symbolic link loop back to {}", ancestor.display())
                        }
                        None => format!(
                            "cannot be read: {}",
                            error
                                .io_error()
                                .map(|io| io.to_string())
                                .unwrap_or_else(|| error.to_string())
                        ),
                    };
                    passed_over.push(PassedOver { path, reason });
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            if let Some(reason) = entry
                .path()
                .strip_prefix(input)
                .ok()
                .and_then(|relative| backup_folder_reason(input, relative))
            {
                passed_over.push(PassedOver {
                    path: crate::path_text(entry.path()),
                    reason: reason.to_string(),
                });
                continue;
            }
            if entry.path_is_symlink() && !options.follow_links && entry.depth() > 0 {
                passed_over.push(PassedOver {
                    path: crate::path_text(entry.path()),
                    reason: "symbolic link not followed (use --follow-links to read it)"
                        .to_string(),
                });
                continue;
            }
            // Only regular files are read: a FIFO would block the scan for ever, and a device
            // (`/dev/zero` named `SYSTEM`) would never end. A followed link is judged by its
            // target. walkdir reports the target's type for links it follows, and the link's
            // own for an input that is a link to a file.
            let file_type = if entry.file_type().is_symlink() {
                match std::fs::metadata(entry.path()) {
                    Ok(target) => target.file_type(),
                    Err(_) => {
                        unreadable.insert(entry.path().to_path_buf());
                        found.push((entry.into_path(), FileKind::Unknown));
                        continue;
                    }
                }
            } else {
                entry.file_type()
            };
            if !file_type.is_file() {
                let what = special_file_kind(&file_type);
                let reason = if entry.path_is_symlink() {
                    format!("symbolic link to {what}, not to a regular file")
                } else {
                    format!("not a regular file: it is {what}")
                };
                passed_over.push(PassedOver {
                    path: crate::path_text(entry.path()),
                    reason,
                });
                continue;
            }
            let given = entry.depth() == 0;
            sniff(entry.into_path(), given);
        }
    }
}

/// Why a file at `relative` (its path below the input it was found in) is a copy of a host's
/// registry that is not its live configuration, if it is: a triage collection copies
/// `Windows\System32\config\RegBack` (empty since Windows 10 1803, stale before) and
/// `Windows.old` (the installation an upgrade replaced) beside the live hives, and reading
/// them as the host's hives would judge stale settings, or report the empty backups as
/// failed copies. A backup folder given as an input itself (`RegBack`, `Windows.old`) is read
/// as asked.
fn backup_folder_reason(input: &Path, relative: &Path) -> Option<&'static str> {
    let below: Vec<&std::ffi::OsStr> = relative
        .parent()?
        .components()
        .map(|component| component.as_os_str())
        .collect();
    // The input's own name counts as the folder above: `config` given, `RegBack` found in it.
    let input_name = input.file_name();
    let folders: Vec<&std::ffi::OsStr> = input_name.into_iter().chain(below).collect();
    let named = |folder: &std::ffi::OsStr, name: &str| part_is(folder, name);
    if folders
        .iter()
        .skip(usize::from(input_name.is_some()))
        .any(|folder| named(folder, "Windows.old"))
    {
        return Some(
            "in Windows.old, the installation an upgrade replaced: not the host's live configuration",
        );
    }
    let in_regback = folders
        .windows(2)
        .any(|pair| named(pair[0], "config") && named(pair[1], "RegBack"));
    in_regback.then_some(
        "registry backup copy in config\\RegBack: not the host's live configuration (Windows 10 1803 and later leave these files empty)",
    )
}

/// Reads what each file of `batch` holds, adding the outcomes to `sniffed`.
fn sniff_batch(batch: Vec<(PathBuf, bool)>, sniffed: &Mutex<Vec<Sniffed>>) {
    let done: Vec<Sniffed> = batch
        .into_iter()
        .map(|(path, given)| {
            let kind = sniff_file(&path);
            (path, given, kind)
        })
        .collect();
    sniffed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(done);
}

/// A file whose first bytes were read: its path, whether it was named as an input, and what it
/// holds.
type Sniffed = (PathBuf, bool, std::io::Result<FileKind>);

/// How many files one task reads the first bytes of.
const SNIFF_BATCH: usize = 32;

/// The transaction logs (`NAME.LOG`, `NAME.LOG1`, `NAME.LOG2`, in any case) beside the hive at
/// `hive`, added to `found`; symbolic links among them are passed over unless links are followed.
fn logs_beside(
    hive: &Path,
    options: &DiscoverOptions,
    found: &mut Vec<(PathBuf, FileKind)>,
    unreadable: &mut BTreeSet<PathBuf>,
    passed_over: &mut Vec<PassedOver>,
) {
    let Some(name) = hive.file_name().and_then(|name| name.to_str()) else {
        return;
    };
    let folder = match hive.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|candidate| {
            candidate.len() > name.len()
                && candidate.is_char_boundary(name.len())
                && candidate[..name.len()].eq_ignore_ascii_case(name)
                && matches!(
                    candidate[name.len()..].to_ascii_uppercase().as_str(),
                    ".LOG" | ".LOG1" | ".LOG2"
                )
        })
        .collect();
    names.sort();
    for log_name in names {
        let log = hive.with_file_name(&log_name);
        let Ok(meta) = std::fs::symlink_metadata(&log) else {
            continue;
        };
        if meta.file_type().is_symlink() && !options.follow_links {
            passed_over.push(PassedOver {
                path: crate::path_text(&log),
                reason: "symbolic link not followed (use --follow-links to read it)".to_string(),
            });
            continue;
        }
        match std::fs::metadata(&log) {
            Ok(meta) if meta.is_file() => {}
            Ok(meta) => {
                passed_over.push(PassedOver {
                    path: crate::path_text(&log),
                    reason: format!(
                        "not a regular file: it is {}",
                        special_file_kind(&meta.file_type())
                    ),
                });
                continue;
            }
            Err(_) => {
                unreadable.insert(log.clone());
                found.push((log, FileKind::Unknown));
                continue;
            }
        }
        // As when its folder is walked: a file that is no log is passed over below, and one
        // that cannot be read is reported with its error.
        match sniff_file(&log) {
            Ok(kind) => found.push((log, kind)),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => {
                passed_over.push(PassedOver {
                    path: crate::path_text(&log),
                    reason: error.to_string(),
                })
            }
            Err(_) => {
                unreadable.insert(log.clone());
                found.push((log, FileKind::Unknown));
            }
        }
    }
}

/// The names Windows gives its hives.
const HIVE_NAMES: [&str; 7] = [
    "SYSTEM",
    "SOFTWARE",
    "SAM",
    "SECURITY",
    "NTUSER.DAT",
    "USRCLASS.DAT",
    "DEFAULT",
];

/// Names that collectors hand out for hives, exports and logs, so that an empty or damaged
/// file with such a name is reported as unreadable evidence rather than passed over.
fn looks_like_evidence(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    const EXTENSIONS: [&str; 4] = [".HIV", ".REG", ".EVTX", ".DAT"];
    HIVE_NAMES.contains(&upper.as_str()) || EXTENSIONS.iter().any(|ext| upper.ends_with(ext))
}

/// Whether `path` looks like evidence only by its `.dat` extension, which many other files
/// share (`index.dat`, `WebCacheV01.dat`), rather than by a hive's own name.
fn evidence_only_by_extension(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    upper.ends_with(".DAT") && !HIVE_NAMES.contains(&upper.as_str())
}

/// Whether `path` is named as a legacy event log (`System.evt`, `SysEvent.Evt`).
fn is_legacy_event_log_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("evt"))
}

fn log_order(path: &Path) -> (u8, PathBuf) {
    let upper = path
        .extension()
        .and_then(|ext| ext.to_str())
        .unwrap_or_default()
        .to_ascii_uppercase();
    let rank = match upper.as_str() {
        "LOG" => 0,
        "LOG1" => 1,
        "LOG2" => 2,
        _ => 3,
    };
    (rank, path.to_path_buf())
}

/// The hives among the evidence files, by folder and by name without regard to ASCII case, so
/// that each transaction log finds its hive without a pass over every file.
struct HiveIndex<'a> {
    /// (folder, name in upper case) to the index of the first such hive in the evidence files.
    hives: HashMap<(Option<&'a Path>, String), usize>,
}

impl<'a> HiveIndex<'a> {
    fn new(evidence: &'a [EvidenceFile]) -> HiveIndex<'a> {
        let mut hives = HashMap::new();
        for (index, file) in evidence.iter().enumerate() {
            let Some(name) = file.path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if file.kind == FileKind::Hive {
                hives
                    .entry((file.path.parent(), name.to_ascii_uppercase()))
                    .or_insert(index);
            }
        }
        HiveIndex { hives }
    }

    /// The index of the hive that `log` (`NAME.LOG`, `NAME.LOG1` or `NAME.LOG2`) belongs to: the
    /// first hive named `NAME`, in any case, in the same folder.
    fn hive_for_log(&self, log: &Path) -> Option<usize> {
        let stem = hive_name_of_log(log)?.to_ascii_uppercase();
        self.hives.get(&(log.parent(), stem)).copied()
    }
}

/// The name of the hive that `log` (`NAME.LOG`, `NAME.LOG1` or `NAME.LOG2`, in any case)
/// belongs to: `NAME`.
fn hive_name_of_log(log: &Path) -> Option<&str> {
    let name = log.file_name()?.to_str()?;
    let (stem, extension) = name.rsplit_once('.')?;
    ["LOG", "LOG1", "LOG2"]
        .iter()
        .any(|known| extension.eq_ignore_ascii_case(known))
        .then_some(stem)
}

/// The file beside `log` named like its hive ([`hive_name_of_log`]) in any case, when the hive
/// was left out of the inputs (a log given by its own path).
fn hive_file_beside(log: &Path) -> Option<PathBuf> {
    let stem = hive_name_of_log(log)?;
    let entries = std::fs::read_dir(
        log.parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
    .ok()?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|candidate| candidate.eq_ignore_ascii_case(stem))
        })
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The host name a flat `REG SAVE` bundle gives a file: the text before the first `_`, when it
/// is a plausible computer name and not a hive-type word.
pub fn host_prefix(file_name: &str) -> Option<&str> {
    let (prefix, rest) = file_name.split_once('_')?;
    let plausible = !prefix.is_empty()
        && prefix.len() <= 63
        && !rest.is_empty()
        && prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        && !prefix.starts_with('-')
        // Windows 2000 and later refuse a computer name made only of digits (KB244412: it reads
        // as an IP address), so `100_sub_keys.hiv` names no host.
        && !prefix.bytes().all(|byte| byte.is_ascii_digit())
        && !NOT_HOST_PREFIXES
            .iter()
            .any(|word| word.eq_ignore_ascii_case(prefix));
    plausible.then_some(prefix)
}

/// Whether a path component is `name`, without regard to ASCII case (as Windows names them).
fn part_is(part: &std::ffi::OsStr, name: &str) -> bool {
    part.to_str()
        .is_some_and(|part| part.eq_ignore_ascii_case(name))
}

/// The folder above a triage tree's `Windows` or `Users` folder, if the path lies in one.
fn triage_root(path: &Path) -> Option<PathBuf> {
    let parts: Vec<&std::ffi::OsStr> = path.iter().collect();
    let is = |index: usize, name: &str| parts.get(index).is_some_and(|part| part_is(part, name));
    for index in 0..parts.len() {
        // Where a triage collection finds evidence below `Windows`: the hives and logs under
        // System32, Amcache.hve under AppCompat, the service accounts' profiles.
        let windows_tree = is(index, "Windows")
            && (is(index + 1, "System32")
                || is(index + 1, "AppCompat")
                || is(index + 1, "ServiceProfiles"))
            && index + 2 < parts.len();
        // A profile's NTUSER.DAT, or any file deeper in it (AppData\...\UsrClass.dat).
        let users_tree =
            (is(index, "Users") || is(index, "Documents and Settings")) && index + 3 <= parts.len();
        if windows_tree || users_tree {
            let root: PathBuf = parts[..index].iter().collect();
            return Some(root);
        }
    }
    None
}

/// A drive-letter folder (`C`, `C_`, `C%3A`, `c_drive`) says nothing about the host.
fn is_drive_folder(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let first_is_letter = upper
        .chars()
        .next()
        .is_some_and(|letter| letter.is_ascii_alphabetic());
    first_is_letter
        && matches!(
            &upper[1..],
            "" | "_" | ":" | "%3A" | "_DRIVE" | "-DRIVE" | "$"
        )
}

fn folder_label(folder: &Path) -> String {
    let mut current = Some(folder);
    while let Some(path) = current {
        if let Some(name) = path.file_name().and_then(|name| name.to_str()) {
            if !is_drive_folder(name) {
                return name.to_string();
            }
        }
        current = path.parent();
    }
    folder
        .canonicalize()
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "host".to_string())
}

fn group_key(path: &Path) -> (GroupLayout, PathBuf, String) {
    if let Some(root) = triage_root(path) {
        let label = folder_label(&root);
        return (GroupLayout::TriageTree, root, label);
    }
    let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let file_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or_default();
    if let Some(prefix) = host_prefix(file_name) {
        return (GroupLayout::FlatPrefix, directory, prefix.to_string());
    }
    let label = folder_label(&directory);
    (GroupLayout::Directory, directory, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_prefixes_skip_hive_words_and_odd_names() {
        assert_eq!(host_prefix("FS01_SYSTEM.HIV"), Some("FS01"));
        assert_eq!(host_prefix("web-02_HKCU.HIV"), Some("web-02"));
        assert_eq!(host_prefix("SYSTEM_B"), None);
        assert_eq!(host_prefix("ntuser_software_partial"), None);
        assert_eq!(host_prefix("SYSTEM"), None);
        assert_eq!(host_prefix("FS01_"), None);
        assert_eq!(host_prefix("a b_SYSTEM"), None);
        assert_eq!(host_prefix("100_sub_keys.hiv"), None);
        assert_eq!(host_prefix("2019_SYSTEM.HIV"), None);
        assert_eq!(host_prefix("PC2019_SYSTEM.HIV"), Some("PC2019"));
    }

    #[test]
    fn triage_roots_stop_above_windows_and_users() {
        assert_eq!(
            triage_root(Path::new("t/HOSTA/C/Windows/System32/config/SYSTEM")),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        assert_eq!(
            triage_root(Path::new(
                "t/HOSTA/C/windows/system32/winevt/logs/Security.evtx"
            )),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        assert_eq!(
            triage_root(Path::new("t/HOSTA/C/Users/bob/NTUSER.DAT")),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        // KAPE's RegistryHives target also copies UsrClass.dat and Amcache.hve.
        assert_eq!(
            triage_root(Path::new(
                "t/HOSTA/C/Users/bob/AppData/Local/Microsoft/Windows/UsrClass.dat"
            )),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        assert_eq!(
            triage_root(Path::new(
                "t/HOSTA/C/Windows/AppCompat/Programs/Amcache.hve"
            )),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        assert_eq!(
            triage_root(Path::new(
                "t/HOSTA/C/Windows/ServiceProfiles/LocalService/NTUSER.DAT"
            )),
            Some(PathBuf::from("t/HOSTA/C"))
        );
        assert_eq!(
            triage_root(Path::new("t/XP/C/Documents and Settings/bob/NTUSER.DAT")),
            Some(PathBuf::from("t/XP/C"))
        );
        assert_eq!(triage_root(Path::new("bundle/FS01_SYSTEM.HIV")), None);
        // A host folder that happens to be named Windows, or a lone Users folder, is not one.
        assert_eq!(triage_root(Path::new("bundle/Windows/SYSTEM")), None);
        assert_eq!(triage_root(Path::new("bundle/Users/NTUSER.DAT")), None);
    }

    #[test]
    fn drive_folders_are_skipped_for_labels() {
        assert_eq!(folder_label(Path::new("t/HOSTA/C")), "HOSTA");
        assert_eq!(folder_label(Path::new("t/HOSTB/c_drive")), "HOSTB");
        assert_eq!(folder_label(Path::new("t/FS01")), "FS01");
    }
}
