//! Shards and their partial results: which hosts shard K of N scans, what
//! `hiveward scan --shard K/N --partial FILE` writes, and the checks `hiveward merge` makes
//! before it runs the fleet phase over the partials of every shard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hiveward_collectors::PassedOver;
use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::inspect::ToolInfo;

use crate::pipeline::{HostResult, HostResults};
use crate::spool::Spool;

mod layout;

/// What the `format` field of a partial result says.
pub const PARTIAL_FORMAT: &str = "hiveward-partial";
/// The version of the partial-result format this build writes and reads.
pub const PARTIAL_VERSION: u32 = 1;

/// Shard `index` of `count` (`index` from 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 1.
    pub index: usize,
    /// How many shards there are.
    pub count: usize,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}/{}", self.index, self.count)
    }
}

/// The stable key of a host: the first 8 bytes of the SHA-256 of its name in lower case. It
/// depends on nothing but the host's identity, so every shard agrees on it.
pub fn shard_key(host: &str) -> u64 {
    let digest = Sha256::digest(host.to_lowercase().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

impl Shard {
    /// Parses `K/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not K/N (such as 1/4)"))?;
        let index: usize = index
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: K must be a whole number"))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("`{text}`: N must be a whole number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{text}`: K must be from 1 to N, and N at least 1"));
        }
        Ok(Shard { index, count })
    }

    /// Whether the host called `host` belongs to this shard.
    pub fn owns(&self, host: &str) -> bool {
        (shard_key(host) % self.count as u64) as usize + 1 == self.index
    }
}

/// What `--shard` says: a fixed shard, or `auto` (optionally `auto/N`) to take it from the
/// scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShardSpec {
    /// `K/N`.
    Fixed(Shard),
    /// `auto` or `auto/N`.
    Auto(Option<usize>),
}

impl ShardSpec {
    /// Parses `K/N`, `auto` or `auto/N`.
    pub fn parse(text: &str) -> Result<ShardSpec, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto(None));
        }
        if let Some(count) = trimmed
            .strip_prefix("auto/")
            .or_else(|| trimmed.strip_prefix("AUTO/"))
        {
            return match count.trim().parse::<usize>() {
                Ok(count) if count > 0 => Ok(ShardSpec::Auto(Some(count))),
                _ => Err(format!("`{text}`: N must be a whole number of at least 1")),
            };
        }
        Shard::parse(trimmed).map(ShardSpec::Fixed)
    }

    /// The shard, taking `auto` from the scheduler's environment (`variable` reads it):
    /// `HIVEWARD_SHARD=K/N`; Slurm job arrays (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_MIN`,
    /// `SLURM_ARRAY_TASK_COUNT`); Kubernetes Indexed Jobs (`JOB_COMPLETION_INDEX`, from 0,
    /// with N from `auto/N`).
    pub fn resolve(&self, variable: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let wanted_count = match self {
            ShardSpec::Fixed(shard) => return Ok(*shard),
            ShardSpec::Auto(count) => *count,
        };
        let number = |name: &str| -> Result<Option<usize>, String> {
            match variable(name) {
                None => Ok(None),
                Some(text) => text
                    .trim()
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| format!("{name}={text:?} is not a whole number")),
            }
        };
        let agree = |shard: Shard, source: &str| -> Result<Shard, String> {
            match wanted_count {
                Some(count) if count != shard.count => Err(format!(
                    "--shard auto/{count} disagrees with {source}, which gives {shard}"
                )),
                _ => Ok(shard),
            }
        };
        if let Some(text) = variable("HIVEWARD_SHARD") {
            let shard = Shard::parse(&text).map_err(|error| format!("HIVEWARD_SHARD: {error}"))?;
            return agree(shard, "HIVEWARD_SHARD");
        }
        if let Some(task) = number("SLURM_ARRAY_TASK_ID")? {
            let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match number("SLURM_ARRAY_TASK_COUNT")? {
                Some(count) => count,
                None => wanted_count.ok_or_else(|| {
                    "SLURM_ARRAY_TASK_COUNT is not set: give --shard auto/N".to_string()
                })?,
            };
            let index = task
                .checked_sub(first)
                .map(|offset| offset + 1)
                .ok_or_else(|| {
                    format!("SLURM_ARRAY_TASK_ID {task} is below SLURM_ARRAY_TASK_MIN {first}")
                })?;
            let shard = Shard::parse(&format!("{index}/{count}")).map_err(|error| {
                format!("the Slurm array task gives shard {error}; submit the array as --array=1-N with N tasks")
            })?;
            return agree(shard, "the Slurm job array");
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = wanted_count.ok_or_else(|| {
                "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job): give the number of shards as --shard auto/N".to_string()
            })?;
            return Shard::parse(&format!("{}/{count}", index + 1))
                .map_err(|error| format!("JOB_COMPLETION_INDEX: {error}"));
        }
        Err("--shard auto found no scheduler: set HIVEWARD_SHARD=K/N, or run it as a Slurm job-array task or a Kubernetes Indexed Job (with --shard auto/N)".to_string())
    }
}

/// Where a scan's rules came from, so that `merge` loads the same rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSources {
    /// The `--rules` folders, as given.
    pub dirs: Vec<String>,
    /// Whether the built-in packs were left out.
    pub no_builtin: bool,
    /// `--only`.
    pub only: Vec<String>,
    /// `--exclude`.
    pub exclude: Vec<String>,
}

/// What every shard of one scan must agree on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunIdentity {
    /// The rule set's fingerprint (`RuleSet::fingerprint`).
    pub rule_set: String,
    /// Where the rules came from.
    pub rule_sources: RuleSources,
    /// The profile.
    pub profile: String,
    /// Site values given with `--param`.
    pub params: BTreeMap<String, String>,
    /// `--require`, as given.
    pub require: Vec<String>,
    /// The paths scanned, as given.
    pub inputs: Vec<String>,
    /// The directory the scan ran in: SARIF paths are relative to it.
    pub source_root: String,
    /// How many hosts the bundle holds.
    pub bundle_hosts: usize,
    /// A hash of the bundle's host names, in order: every shard must have seen the same hosts.
    pub bundle_key: String,
}

/// A hash of the planned hosts' names, in order.
pub fn bundle_key<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The partial result of one shard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    /// Always [`PARTIAL_FORMAT`].
    pub format: String,
    /// [`PARTIAL_VERSION`] when written by this build.
    pub version: u32,
    /// The hiveward that wrote it.
    pub tool: ToolInfo,
    /// Which shard.
    pub shard: Shard,
    /// What every shard must agree on.
    pub run: RunIdentity,
    /// Files passed over in the whole bundle.
    pub passed_over: Vec<PassedOver>,
    /// The shard's hosts, in bundle order (kept in a temporary file).
    pub hosts: Spool<HostResult>,
}

impl Partial {
    /// The partial of `shard` with `hosts`.
    pub fn new(
        shard: Shard,
        run: RunIdentity,
        passed_over: Vec<PassedOver>,
        hosts: HostResults,
    ) -> Partial {
        let hosts = hosts.into_plan_order();
        Partial {
            format: PARTIAL_FORMAT.to_string(),
            version: PARTIAL_VERSION,
            tool: ToolInfo::current(),
            shard,
            run,
            passed_over,
            hosts,
        }
    }

    /// The partial as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let _ = self.write_json(&mut bytes);
        bytes
    }

    /// Writes the partial as JSON, a host at a time, ending in a newline: its other members on
    /// the first line, then a host per line, which a merge reads fast (see `layout`).
    pub fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        layout::write_laid_out(self, out)
    }
}

/// Why a partial result cannot be read or merged.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum MergeError {
    /// The file cannot be read.
    #[error("{path}: cannot read the partial result: {source}")]
    #[diagnostic(code(hiveward::merge::unreadable))]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a partial result.
    #[error("{path}: not a hiveward partial result: {detail}")]
    #[diagnostic(code(hiveward::merge::not_partial))]
    NotPartial {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Written in another format version or by another release.
    #[error("{path}: {detail}")]
    #[diagnostic(
        code(hiveward::merge::version),
        help("scan every shard and merge with the same hiveward release")
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// The shards did not run the same scan.
    #[error("{path} and {other} come from different scans: {detail}")]
    #[diagnostic(
        code(hiveward::merge::mismatch),
        help("run every shard with the same hiveward, rules, options and bundle")
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The first partial, which it is compared with.
        other: PathBuf,
        /// What differs.
        detail: String,
    },
    /// One shard was given twice.
    #[error("shard {shard} is given twice: {path} and {other}")]
    #[diagnostic(code(hiveward::merge::duplicate))]
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One file.
        path: PathBuf,
        /// The other.
        other: PathBuf,
    },
    /// Shards are missing: the merge would leave hosts out.
    #[error("shard(s) {} of {count} missing: their hosts were not scanned, so the results are incomplete", missing.iter().map(|index| index.to_string()).collect::<Vec<_>>().join(", "))]
    #[diagnostic(
        code(hiveward::merge::missing_shard),
        help("give the partial result of every shard from 1 to {count}")
    )]
    Missing {
        /// The shard numbers missing.
        missing: Vec<usize>,
        /// How many shards there are.
        count: usize,
    },
    /// No partial results were given.
    #[error("no partial results to merge")]
    #[diagnostic(code(hiveward::merge::nothing))]
    Nothing,
}

impl MergeError {
    /// Whether the error means missing results (exit 3) rather than invalid input (exit 2).
    pub fn is_incomplete(&self) -> bool {
        matches!(self, MergeError::Missing { .. })
    }
}

/// Just the header, read first so that a partial of another version gets a clear error.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
    tool: Option<ToolInfo>,
}

/// Reads one partial result from `bytes` (the content of `path`).
pub fn read_partial(path: &Path, bytes: &[u8]) -> Result<Partial, MergeError> {
    read_partial_with(path, || Ok(bytes))
}

/// Reads one partial result from the file at `path`, streaming: its hosts go to a temporary
/// file as they are read, so a partial of any size is merged in flat memory (reading the file
/// whole would hold it all at once).
pub fn read_partial_file(path: &Path) -> Result<Partial, MergeError> {
    read_partial_with(path, || {
        std::fs::File::open(path).map(|file| std::io::BufReader::with_capacity(1 << 20, file))
    })
}

/// Whether the members of a laid-out partial but its hosts are this build's, before its hosts
/// are read: when they are not, `refused` says why.
fn accepting<'a>(
    path: &'a Path,
    refused: &'a mut Option<MergeError>,
) -> impl FnOnce(&Partial) -> bool + 'a {
    move |head| {
        let header = Header {
            format: Some(head.format.clone()),
            version: Some(head.version),
            tool: Some(head.tool.clone()),
        };
        match check_header(path, header) {
            Ok(()) => true,
            Err(error) => {
                *refused = Some(error);
                false
            }
        }
    }
}

/// The partial `open` reads. A partial laid out as this build writes it is read a host per
/// line (see `layout`), its header checked before its hosts. Any other is read the generic
/// way: the whole partial first, and only when that fails the header on its own, so that a
/// partial of another version gets a clear error rather than the first field it does not know.
fn read_partial_with<R: std::io::BufRead>(
    path: &Path,
    open: impl Fn() -> std::io::Result<R>,
) -> Result<Partial, MergeError> {
    let not_partial = |detail: String| MergeError::NotPartial {
        path: path.to_path_buf(),
        detail,
    };
    let unreadable = |source: std::io::Error| MergeError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut refused = None;
    let laid_out =
        layout::read_laid_out(open().map_err(unreadable)?, accepting(path, &mut refused));
    if let Some(error) = refused {
        return Err(error);
    }
    if let Some(partial) = laid_out.map_err(unreadable)? {
        check_shard(path, &partial)?;
        return Ok(partial);
    }
    let read: Result<Partial, serde_json::Error> =
        serde_json::from_reader(open().map_err(unreadable)?);
    let header = match &read {
        Ok(partial) => Header {
            format: Some(partial.format.clone()),
            version: Some(partial.version),
            tool: Some(partial.tool.clone()),
        },
        Err(error) if error.is_io() => {
            let detail = error.to_string();
            return Err(unreadable(std::io::Error::other(detail)));
        }
        Err(_) => serde_json::from_reader(open().map_err(unreadable)?)
            .map_err(|error| not_partial(error.to_string()))?,
    };
    check_header(path, header)?;
    let partial = read.map_err(|error| not_partial(error.to_string()))?;
    check_shard(path, &partial)?;
    Ok(partial)
}

/// Refuses a partial whose shard is no shard K of N (K from 1 to N): merged, it would stand
/// for no shard, and its hosts would be read as missing.
fn check_shard(path: &Path, partial: &Partial) -> Result<(), MergeError> {
    let Shard { index, count } = partial.shard;
    if count == 0 || index == 0 || index > count {
        return Err(MergeError::NotPartial {
            path: path.to_path_buf(),
            detail: format!("its shard {index}/{count} is not K/N with K from 1 to N"),
        });
    }
    Ok(())
}

/// Refuses a partial of another format, version or release.
fn check_header(path: &Path, header: Header) -> Result<(), MergeError> {
    if header.format.as_deref() != Some(PARTIAL_FORMAT) {
        return Err(MergeError::NotPartial {
            path: path.to_path_buf(),
            detail: format!("its `format` is not \"{PARTIAL_FORMAT}\""),
        });
    }
    let version = header.version.unwrap_or_default();
    if version != PARTIAL_VERSION {
        return Err(MergeError::Version {
            path: path.to_path_buf(),
            detail: format!(
                "partial-result format version {version}; this hiveward reads version {PARTIAL_VERSION}"
            ),
        });
    }
    let current = ToolInfo::current();
    if let Some(tool) = header.tool.filter(|tool| *tool != current) {
        return Err(MergeError::Version {
            path: path.to_path_buf(),
            detail: format!(
                "written by {} {}; this is {} {}",
                tool.name, tool.version, current.name, current.version
            ),
        });
    }
    Ok(())
}

/// Checks that `partials` are every shard of one scan, exactly once, and puts them in shard
/// order. A missing shard is [`MergeError::Missing`]; anything else wrong is invalid input.
pub fn check_partials(partials: &mut [(PathBuf, Partial)]) -> Result<(), MergeError> {
    let Some((first_path, first)) = partials.first() else {
        return Err(MergeError::Nothing);
    };
    let (first_path, first_run, count) = (first_path.clone(), first.run.clone(), first.shard.count);
    for (path, partial) in partials.iter() {
        let mismatch = |detail: String| MergeError::Mismatch {
            path: path.clone(),
            other: first_path.clone(),
            detail,
        };
        if partial.shard.count != count {
            return Err(mismatch(format!(
                "it is shard {} but the first is shard {}/{count}",
                partial.shard, first.shard.index
            )));
        }
        if partial.run != first_run {
            return Err(mismatch(describe_difference(&partial.run, &first_run)));
        }
    }
    partials.sort_by_key(|(_, partial)| partial.shard.index);
    for pair in partials.windows(2) {
        if pair[0].1.shard == pair[1].1.shard {
            return Err(MergeError::Duplicate {
                shard: pair[0].1.shard,
                path: pair[0].0.clone(),
                other: pair[1].0.clone(),
            });
        }
    }
    let missing: Vec<usize> = (1..=count)
        .filter(|index| {
            !partials
                .iter()
                .any(|(_, partial)| partial.shard.index == *index)
        })
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    let hosts: usize = partials
        .iter()
        .map(|(_, partial)| partial.hosts.len())
        .sum();
    if hosts != first_run.bundle_hosts {
        return Err(MergeError::Mismatch {
            path: first_path.clone(),
            other: first_path,
            detail: format!(
                "the shards hold {hosts} host(s) together, but the bundle has {}",
                first_run.bundle_hosts
            ),
        });
    }
    Ok(())
}

fn describe_difference(left: &RunIdentity, right: &RunIdentity) -> String {
    if left.rule_set != right.rule_set || left.rule_sources != right.rule_sources {
        "they ran different rule sets (packs, rule files or --only/--exclude differ)".to_string()
    } else if left.bundle_key != right.bundle_key || left.bundle_hosts != right.bundle_hosts {
        "they saw different bundles (the hosts differ)".to_string()
    } else if left.inputs != right.inputs {
        "they scanned different paths".to_string()
    } else if left.profile != right.profile || left.params != right.params {
        "they used different --profile or --param values".to_string()
    } else if left.require != right.require {
        "they used different --require values".to_string()
    } else {
        "they ran in different folders, so evidence paths would differ".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_hosts_without_overlap() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert!(Shard::parse("x").is_err());
        let shards: Vec<Shard> = (1..=4).map(|index| Shard { index, count: 4 }).collect();
        for index in 0..200 {
            let host = format!("HOST{index}");
            let owners = shards.iter().filter(|shard| shard.owns(&host)).count();
            assert_eq!(owners, 1, "{host}");
            assert_eq!(
                shards.iter().position(|shard| shard.owns(&host)),
                shards
                    .iter()
                    .position(|shard| shard.owns(&host.to_lowercase()))
            );
        }
    }

    #[test]
    fn auto_takes_the_shard_from_the_scheduler() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            ShardSpec::Auto(None).resolve(&slurm).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let zero_based = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]);
        assert_eq!(
            ShardSpec::Auto(None).resolve(&zero_based).unwrap(),
            Shard { index: 1, count: 2 }
        );
        let kubernetes = env(&[("JOB_COMPLETION_INDEX", "0")]);
        assert_eq!(
            ShardSpec::Auto(Some(3)).resolve(&kubernetes).unwrap(),
            Shard { index: 1, count: 3 }
        );
        assert!(ShardSpec::Auto(None)
            .resolve(&kubernetes)
            .unwrap_err()
            .contains("auto/N"));
        let named = env(&[("HIVEWARD_SHARD", "2/2")]);
        assert_eq!(
            ShardSpec::Auto(None).resolve(&named).unwrap(),
            Shard { index: 2, count: 2 }
        );
        assert!(ShardSpec::Auto(Some(3)).resolve(&named).is_err());
        assert!(ShardSpec::Auto(None)
            .resolve(&env(&[]))
            .unwrap_err()
            .contains("no scheduler"));
        assert_eq!(
            ShardSpec::parse("1/2").unwrap(),
            ShardSpec::Fixed(Shard { index: 1, count: 2 })
        );
        assert_eq!(
            ShardSpec::parse("auto/8").unwrap(),
            ShardSpec::Auto(Some(8))
        );
    }
}
