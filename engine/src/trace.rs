//! Rule tracing: what a rule's `print` and `debug` write is captured per rule × host (bounded by
//! [`Limits::max_output_lines`] and [`Limits::max_output_bytes`]) for whoever asked with a
//! [`Trace`]: `rules test` for each case, `scan --trace` and `scan --explain`.
//!
//! A trace is installed on the thread that starts an evaluation ([`Trace::run`]); the engine
//! hands it on to the worker threads it evaluates on, and outside a trace `print` and `debug`
//! write nowhere and cost one thread-local check.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use hiveward_collectors::{CollectOptions, PlannedHost};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::explain::{Read, ReadLog};
use crate::pipeline::HostsDone;
use crate::rule::RuleMeta;
use crate::ruleset::RuleSet;
use crate::sandbox::Limits;
use crate::scan::ScanSettings;
use crate::selector::RuleSelector;

/// The host name a fleet rule's `check(fleet)` output is filed under.
pub const FLEET_HOST: &str = "*";

/// What one rule wrote with `print` and `debug` on one host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleOutput {
    /// The rule id.
    pub rule: String,
    /// The host; `*` for a fleet rule's `check(fleet)`.
    pub host: String,
    /// The lines, in the order written: `print` text as written, `debug` text as
    /// `[debug FILE:LINE:COLUMN] TEXT`, and a last `…[output cut: …]` line when the rule wrote
    /// more than the limits keep.
    pub lines: Vec<String>,
}

/// Which rule × host evaluations a trace captures.
enum Wanted {
    /// Every rule on every host.
    All,
    /// The rules these selectors name, on every host.
    Rules(Vec<RuleSelector>),
    /// One rule on one host (and its fleet `check`), with its host reads.
    Explain { rule: String, host: String },
}

/// What one explained evaluation recorded besides its output.
#[derive(Default)]
pub(crate) struct Explained {
    /// The host reads, in order, with how many more the log left out.
    pub(crate) reads: Vec<Read>,
    /// Reads left out past [`crate::explain::MAX_READS`].
    pub(crate) reads_cut: usize,
    /// The `needs` verdict: `Ok(None)` applicable, `Ok(Some(reason))` not applicable,
    /// `Err(message)` undecidable (damaged evidence).
    pub(crate) needs: Option<Result<Option<String>, String>>,
}

struct Shared {
    wanted: Wanted,
    outputs: Mutex<Vec<RuleOutput>>,
    explained: Mutex<Explained>,
}

/// A request to capture rule output (and, for `scan --explain`, one rule's host reads) during
/// the evaluations run inside [`Trace::run`].
#[derive(Clone)]
pub struct Trace(Arc<Shared>);

impl Trace {
    fn new(wanted: Wanted) -> Trace {
        Trace(Arc::new(Shared {
            wanted,
            outputs: Mutex::new(Vec::new()),
            explained: Mutex::new(Explained::default()),
        }))
    }

    /// Captures the output of every rule on every host.
    pub fn all() -> Trace {
        Trace::new(Wanted::All)
    }

    /// Captures the output of the rules `selectors` name (ids, id globs, packs, severity
    /// bounds, as `scan --only` reads them).
    pub fn rules(selectors: Vec<RuleSelector>) -> Trace {
        Trace::new(Wanted::Rules(selectors))
    }

    /// Captures the output and the host reads of `rule` on `host`, and the output of its fleet
    /// `check`.
    pub(crate) fn explain(rule: &str, host: &str) -> Trace {
        Trace::new(Wanted::Explain {
            rule: rule.to_string(),
            host: host.to_string(),
        })
    }

    /// Runs `run` with this trace installed on the current thread: the evaluations it starts
    /// (on any worker thread) are captured.
    pub fn run<R>(&self, run: impl FnOnce() -> R) -> R {
        let _scope = TraceScope::enter(Some(self.clone()));
        run()
    }

    /// The output captured so far, sorted by host (fleet `check` output, host `*`, last), then
    /// rule. Evaluations that wrote nothing are not listed.
    pub fn outputs(&self) -> Vec<RuleOutput> {
        let mut outputs = self
            .0
            .outputs
            .lock()
            .map(|outputs| outputs.clone())
            .unwrap_or_default();
        outputs.sort_by(|a, b| {
            (a.host == FLEET_HOST)
                .cmp(&(b.host == FLEET_HOST))
                .then_with(|| a.host.to_lowercase().cmp(&b.host.to_lowercase()))
                .then_with(|| a.host.cmp(&b.host))
                .then_with(|| a.rule.cmp(&b.rule))
        });
        outputs
    }

    /// What the explained evaluation recorded.
    pub(crate) fn take_explained(&self) -> Explained {
        self.0
            .explained
            .lock()
            .map(|mut explained| std::mem::take(&mut *explained))
            .unwrap_or_default()
    }

    /// Whether the output of `rule` on `host` (`None`: a fleet `check`) is captured, and
    /// whether its reads are recorded too.
    fn wants(&self, rule: &RuleMeta, host: Option<&str>) -> (bool, bool) {
        match &self.0.wanted {
            Wanted::All => (true, false),
            Wanted::Rules(selectors) => (
                selectors
                    .iter()
                    .any(|selector| selector.matches(rule, true) || selector.matches(rule, false)),
                false,
            ),
            Wanted::Explain {
                rule: wanted,
                host: target,
            } => {
                let same_rule = rule.id.eq_ignore_ascii_case(wanted);
                match host {
                    None => (same_rule, false),
                    Some(host) => {
                        let same = same_rule && host.eq_ignore_ascii_case(target);
                        (same, same)
                    }
                }
            }
        }
    }
}

thread_local! {
    /// The trace of the evaluation running on this thread, if any.
    static ACTIVE: RefCell<Option<Trace>> = const { RefCell::new(None) };
    /// The output of the rule running on this thread, while it is captured.
    static CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// The trace installed on this thread, to hand on to the threads an evaluation runs on.
pub(crate) fn active() -> Option<Trace> {
    ACTIVE.with(|active| active.borrow().clone())
}

/// While it lives, `trace` is installed on this thread; dropping it restores what was there.
pub(crate) struct TraceScope {
    previous: Option<Trace>,
}

impl TraceScope {
    /// Installs `trace` (or none) on this thread.
    pub(crate) fn enter(trace: Option<Trace>) -> TraceScope {
        TraceScope {
            previous: ACTIVE.with(|active| std::mem::replace(&mut *active.borrow_mut(), trace)),
        }
    }
}

impl Drop for TraceScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ACTIVE.with(|active| *active.borrow_mut() = previous);
    }
}

/// The output of one rule × host, bounded.
struct Capture {
    lines: Vec<String>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    cut_lines: usize,
    cut_bytes: usize,
}

impl Capture {
    fn push(&mut self, line: &str) {
        let fits = self.cut_lines == 0
            && self.lines.len() < self.max_lines
            && self.bytes + line.len() <= self.max_bytes;
        if fits {
            self.bytes += line.len();
            self.lines.push(line.to_string());
        } else {
            self.cut_lines += 1;
            self.cut_bytes += line.len();
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.cut_lines > 0 {
            self.lines.push(format!(
                "…[output cut: {} more line(s), {} byte(s); one rule keeps at most {} lines and {} bytes of output per host]",
                self.cut_lines, self.cut_bytes, self.max_lines, self.max_bytes
            ));
        }
        self.lines
    }
}

/// Whether the output of the rule running on this thread is captured.
pub(crate) fn capturing() -> bool {
    CAPTURE.with(|capture| capture.borrow().is_some())
}

/// `print(text)` of the rule running on this thread.
pub(crate) fn capture_print(text: &str) {
    CAPTURE.with(|capture| {
        if let Some(capture) = capture.borrow_mut().as_mut() {
            for line in text.split('\n') {
                capture.push(line);
            }
        }
    });
}

/// `debug(value)` of the rule running on this thread, with the file and position of the call.
pub(crate) fn capture_debug(text: &str, source: Option<&str>, position: rhai::Position) {
    CAPTURE.with(|capture| {
        if let Some(capture) = capture.borrow_mut().as_mut() {
            let file = source
                .map(|source| source.strip_prefix("pack:").unwrap_or(source))
                .filter(|file| !file.is_empty())
                .unwrap_or("rule");
            let place = match (position.line(), position.position()) {
                (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
                (Some(line), None) => format!("{file}:{line}"),
                _ => file.to_string(),
            };
            for line in text.split('\n') {
                capture.push(&format!("[debug {place}] {line}"));
            }
        }
    });
}

/// The capture of one rule × host evaluation: started before the rule runs, finished after.
/// Inert (one thread-local check) when no trace wants the evaluation.
pub(crate) struct RuleCapture {
    target: Option<(Trace, String, String, bool)>,
}

impl RuleCapture {
    /// Starts capturing `rule` on `host` (`None`: a fleet `check`) if the installed trace
    /// wants it.
    pub(crate) fn start(limits: &Limits, rule: &RuleMeta, host: Option<&str>) -> RuleCapture {
        let Some(trace) = active() else {
            return RuleCapture { target: None };
        };
        let (output, reads) = trace.wants(rule, host);
        if !output {
            return RuleCapture { target: None };
        }
        CAPTURE.with(|capture| {
            *capture.borrow_mut() = Some(Capture {
                lines: Vec::new(),
                bytes: 0,
                max_lines: limits.max_output_lines,
                max_bytes: limits.max_output_bytes,
                cut_lines: 0,
                cut_bytes: 0,
            })
        });
        if reads {
            crate::explain::start_recording();
        }
        RuleCapture {
            target: Some((
                trace,
                rule.id.clone(),
                host.unwrap_or(FLEET_HOST).to_string(),
                reads,
            )),
        }
    }

    /// Ends the capture and hands what it holds to the trace.
    pub(crate) fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        let Some((trace, rule, host, reads)) = self.target.take() else {
            return;
        };
        let lines = CAPTURE
            .with(|capture| capture.borrow_mut().take())
            .map(Capture::finish)
            .unwrap_or_default();
        if reads {
            let ReadLog { reads, cut } = crate::explain::stop_recording();
            if let Ok(mut explained) = trace.0.explained.lock() {
                explained.reads.extend(reads);
                explained.reads_cut += cut;
            }
        }
        if !lines.is_empty() {
            if let Ok(mut outputs) = trace.0.outputs.lock() {
                outputs.push(RuleOutput { rule, host, lines });
            }
        }
    }
}

impl Drop for RuleCapture {
    fn drop(&mut self) {
        self.close();
    }
}

/// Notes the `needs` verdict of `rule` on `host` for an explained evaluation.
pub(crate) fn note_needs(rule: &RuleMeta, host: &str, verdict: &Result<Option<String>, String>) {
    let Some(trace) = active() else {
        return;
    };
    if trace.wants(rule, Some(host)).1 {
        if let Ok(mut explained) = trace.0.explained.lock() {
            explained.needs = Some(verdict.clone());
        }
    }
}

/// [`crate::scan_planned_hosts`] with `trace` installed for each host's evaluation: the same
/// results, and the trace holds the output of the rules it wants.
pub fn scan_planned_hosts_traced(
    hosts: &(impl crate::host_plan::HostPlan + ?Sized),
    keep: &(dyn Fn(&PlannedHost) -> bool + Sync),
    rules: &RuleSet,
    settings: &ScanSettings,
    options: &CollectOptions,
    progress: &(dyn Fn(HostsDone) + Sync),
    trace: &Trace,
) -> crate::pipeline::HostResults {
    crate::pipeline::scan_planned_hosts_around(
        hosts,
        keep,
        rules,
        settings,
        options,
        progress,
        &|judge| trace.run(judge),
    )
}
