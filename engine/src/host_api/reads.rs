//! What the rule running on this thread read: damaged evidence (caught or not), event logs read
//! only in part, hives read dirty without their transaction logs, values two sources of the host
//! hold differently, and `host.events` calls its `needs` does not declare.

use hiveward_collectors::{Located, RegValue, SourceDisagreement};
use rhai::{Dynamic, EvalAltResult, Position};

use super::HostHandle;
use crate::explain::{record, Read};

/// The error value a host read throws when the evidence itself is damaged. Rules may catch it
/// (`try { ... } catch (error) { ... }`; it prints as its message); uncaught, it makes the
/// evaluation an unchecked rule × host rather than a rule error.
#[derive(Clone, Debug)]
pub struct UnreadableEvidence {
    /// The host whose evidence could not be read.
    pub host: String,
    /// What could not be read, naming the file.
    pub message: String,
}

thread_local! {
    /// The damaged-evidence reads of the rule running on this thread, caught or not, so that a
    /// fleet rule that skips a damaged host still leaves a trace. A rule runs on one thread.
    static UNREADABLE_READS: std::cell::RefCell<Vec<UnreadableEvidence>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The event logs read only in part that `host.events` met for the rule running on this
    /// thread (also among [`UNREADABLE_READS`]): a host rule that finds nothing there is not
    /// checked.
    static PARTIAL_LOG_READS: std::cell::RefCell<Vec<UnreadableEvidence>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The rule running on this thread and the event records it declares, which are all
    /// `host.events` gives it; `None` outside a rule's evaluation.
    pub(super) static RUNNING_RULE: std::cell::RefCell<Option<RunningRule>> =
        const { std::cell::RefCell::new(None) };
    /// The first `host.events` call of the running rule that asked for records its `needs`
    /// does not declare, caught or not: it makes the evaluation a rule error.
    pub(super) static UNDECLARED_READ: std::cell::RefCell<Option<UndeclaredRead>> =
        const { std::cell::RefCell::new(None) };
    /// What makes a verdict of the rule running on this thread rest on an assumption: the
    /// first hive it read dirty (a value, a key or a fact derived from it) and the values it
    /// read that another source of the host holds differently.
    static INFERRED_READS: std::cell::RefCell<InferredReads> =
        const { std::cell::RefCell::new(InferredReads { doubtful_hive: None, disagreements: Vec::new() }) };
}

/// What a rule (or a kept computation) read that makes its verdicts rest on an assumption.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InferredReads {
    /// A hive read dirty, or a differencing hive, worded as the reason a verdict of "passed" is
    /// inferred.
    pub(crate) doubtful_hive: Option<String>,
    /// The values read that another source of the host holds differently: a finding whose
    /// evidence names one is inferred.
    pub(crate) disagreements: Vec<SourceDisagreement>,
}

impl InferredReads {
    /// Adds what `other` read after what this one did.
    pub(crate) fn merge(&mut self, other: &InferredReads) {
        if self.doubtful_hive.is_none() {
            self.doubtful_hive.clone_from(&other.doubtful_hive);
        }
        for item in &other.disagreements {
            if !self.disagreements.contains(item) {
                self.disagreements.push(item.clone());
            }
        }
    }

    /// Why a verdict of "passed" resting on these reads is inferred: the dirty hive, then every
    /// disputed value with each other copy; `None` when nothing read makes it so.
    pub(crate) fn reason(&self) -> Option<String> {
        let disputed = crate::outcome::disputed_values_read(&self.disagreements);
        match (&self.doubtful_hive, disputed) {
            (Some(dirty), Some(disputed)) => Some(format!("{dirty}; and {disputed}")),
            (Some(dirty), None) => Some(dirty.clone()),
            (None, Some(disputed)) => Some(format!("inferred: {disputed}")),
            (None, None) => None,
        }
    }
}

/// Notes that the running rule read `path` on `host`, from `file` when the read found it there
/// (else from the hive the path would be read from), if that hive was read dirty or is a
/// differencing hive. On a host without such hives it only looks through the host's file
/// records.
pub(super) fn note_hive_read(host: &HostHandle, path: &str, file: Option<&std::path::Path>) {
    let mut dirty = crate::dirty_reads::dirty_hives(&host.0.files).peekable();
    let mut layers = crate::dirty_reads::layer_hives(&host.0.files).peekable();
    if (dirty.peek().is_none() && layers.peek().is_none())
        || INFERRED_READS.with(|read| read.borrow().doubtful_hive.is_some())
    {
        return;
    }
    let file = match file {
        Some(file) => hiveward_collectors::path_text(file),
        None => match host.0.registry.locate(path) {
            Some(place) => hiveward_collectors::path_text(&place.file),
            None => return,
        },
    };
    let reason = if dirty.any(|hive| hive == file) {
        crate::outcome::passed_on_dirty_hive(&file)
    } else if layers.any(|hive| hive == file) {
        crate::outcome::passed_on_layer_hive(&file)
    } else {
        return;
    };
    INFERRED_READS.with(|read| read.borrow_mut().doubtful_hive = Some(reason));
}

/// Notes that the running rule read the value `name` where `found` says, if another source of
/// `host` holds it differently.
pub(super) fn note_value_read(host: &HostHandle, name: &str, found: &Located<RegValue>) {
    for disagreement in host
        .0
        .registry
        .value_disagreements(&found.resolved_path, name)
    {
        note_disagreement(disagreement);
    }
}

/// Notes that the running rule listed the values of the key `found` names: every value of it
/// that another source of `host` holds differently is among what it judged.
pub(super) fn note_values_read<T>(host: &HostHandle, found: &Located<T>) {
    if host.0.registry.disagreements().next().is_none() {
        return;
    }
    let file = hiveward_collectors::path_text(&found.file);
    for disagreement in host
        .0
        .registry
        .key_disagreements(&found.resolved_path, &file)
    {
        note_disagreement(disagreement);
    }
}

fn note_disagreement(disagreement: &SourceDisagreement) {
    INFERRED_READS.with(|read| {
        let mut read = read.borrow_mut();
        if !read.disagreements.contains(disagreement) {
            read.disagreements.push(disagreement.clone());
        }
    });
}

/// Notes again what a kept computation read (`host.memo` hands it to another rule).
pub(crate) fn note_inferred_reads(reads: &InferredReads) {
    INFERRED_READS.with(|read| read.borrow_mut().merge(reads));
}

/// Takes what the running rule read that makes its verdicts inferred, since the last call.
pub(crate) fn take_inferred_reads() -> InferredReads {
    INFERRED_READS.with(|read| std::mem::take(&mut *read.borrow_mut()))
}

/// The rule being evaluated: its id and the event records its `needs` declares (from the top
/// level and from every alternative).
#[derive(Clone, Debug)]
pub(super) struct RunningRule {
    pub(super) id: String,
    pub(super) events: Vec<crate::rule::EventNeed>,
}

/// A `host.events` call for records the rule does not declare.
#[derive(Clone, Debug)]
pub(crate) struct UndeclaredRead {
    /// What was asked for and the `needs` entry to declare.
    pub(crate) message: String,
    /// Where the call is, in the file named by `source`.
    pub(crate) position: Position,
    /// The source (rule or `lib/` module) of the call.
    pub(crate) source: String,
}

/// While it lives, `host.events` on this thread gives `rule` only the records its `needs`
/// declares, and a call for others is an [`UndeclaredRead`]. Dropping it restores what was
/// there before.
pub(crate) struct RunningRuleGuard {
    previous: Option<RunningRule>,
}

impl RunningRuleGuard {
    /// Marks `rule` as the rule running on this thread.
    pub(crate) fn enter(rule: &crate::rule::RuleMeta) -> RunningRuleGuard {
        let running = RunningRule {
            id: rule.id.clone(),
            events: rule.needs.all_events().into_iter().cloned().collect(),
        };
        UNDECLARED_READ.with(|read| read.borrow_mut().take());
        RunningRuleGuard {
            previous: RUNNING_RULE.with(|slot| slot.borrow_mut().replace(running)),
        }
    }
}

impl Drop for RunningRuleGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        RUNNING_RULE.with(|slot| *slot.borrow_mut() = previous);
    }
}

/// Takes the undeclared `host.events` call noted on this thread since the rule started.
pub(crate) fn take_undeclared_read() -> Option<UndeclaredRead> {
    UNDECLARED_READ.with(|read| read.borrow_mut().take())
}

/// How many damaged-evidence reads are noted on this thread.
pub(crate) fn unreadable_read_count() -> usize {
    UNREADABLE_READS.with(|reads| reads.borrow().len())
}

/// The damaged-evidence reads noted on this thread after the first `from`.
pub(crate) fn unreadable_reads_since(from: usize) -> Vec<UnreadableEvidence> {
    UNREADABLE_READS.with(|reads| {
        reads
            .borrow()
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    })
}

/// Notes `reads` again for the rule running on this thread (a kept computation caught them).
pub(crate) fn note_unreadable_reads(reads: &[UnreadableEvidence]) {
    if !reads.is_empty() {
        UNREADABLE_READS.with(|noted| noted.borrow_mut().extend_from_slice(reads));
    }
}

/// Takes the damaged-evidence reads noted on this thread since the last call.
pub(crate) fn take_unreadable_reads() -> Vec<UnreadableEvidence> {
    UNREADABLE_READS.with(|reads| std::mem::take(&mut *reads.borrow_mut()))
}

/// Notes, without throwing, each log of `channel` on `host` that was read only in part: the
/// records a rule looks for may be among those lost, so a rule that finds none in what was read
/// is not checked rather than passed, while one that finds some still reports them.
pub(super) fn note_partial_logs(host: &HostHandle, channel: &str) {
    let partial_logs = host
        .0
        .files
        .iter()
        .filter(|file| file.status == hiveward_collectors::FileStatus::Partial)
        .filter_map(|file| Some((file, file.events.as_ref()?)))
        .filter(|(_, summary)| {
            summary
                .channels
                .iter()
                .any(|known| known.eq_ignore_ascii_case(channel))
        });
    for (file, summary) in partial_logs {
        // Worded so that a summary of reasons ("Security log read only in part") counts it.
        let error = UnreadableEvidence {
            host: host.0.name.clone(),
            message: format!(
                "{channel} log read only in part: {} ({} record(s) read, {} record(s) and {} chunk(s) unreadable or missing), so the records the rule looks for may be among those lost",
                file.path, summary.records_read, summary.records_skipped, summary.chunks_skipped
            ),
        };
        record(|| Read::Unreadable {
            message: error.message.clone(),
        });
        PARTIAL_LOG_READS.with(|reads| reads.borrow_mut().push(error.clone()));
        UNREADABLE_READS.with(|reads| reads.borrow_mut().push(error));
    }
}

/// Takes the logs read only in part that `host.events` met on this thread since the last call.
pub(crate) fn take_partial_log_reads() -> Vec<UnreadableEvidence> {
    PARTIAL_LOG_READS.with(|reads| std::mem::take(&mut *reads.borrow_mut()))
}

pub(super) fn unreadable(host: &HostHandle, message: String) -> Box<EvalAltResult> {
    let error = UnreadableEvidence {
        host: host.0.name.clone(),
        message,
    };
    UNREADABLE_READS.with(|reads| reads.borrow_mut().push(error.clone()));
    record(|| Read::Unreadable {
        message: error.message.clone(),
    });
    EvalAltResult::ErrorRuntime(Dynamic::from(error), Position::NONE).into()
}
