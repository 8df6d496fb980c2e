//! One call into a rule's Rhai code, in the sandbox and under the run's deadline, and what it
//! returned: findings, `not_applicable(...)` answers, or why it failed.

use std::time::Instant;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};

use super::Entry;
use crate::budget::{shorten, MAX_MESSAGE_BYTES};
use crate::deadline::RunDeadline;
use crate::error::{RuleError, UncheckedRule};
use crate::eval_errors::{
    describe_eval_error, innermost_position, stopped_by_run_deadline, unreadable_cause,
};
use crate::finding::Finding;
use crate::host_api::{
    take_inferred_reads, take_partial_log_reads, take_undeclared_read, take_unreadable_reads,
    RunningRuleGuard, UnreadableEvidence,
};
use crate::outcome::{InferredPass, NotApplicable};
use crate::ruleset::{CompiledRule, RuleSet};
use crate::sandbox::{with_deadline, Limits};
use crate::timings::RulePhase;
use crate::trace::RuleCapture;

impl RuleSet {
    /// Calls `entry` of `rule` on `subject` in `engine`, under `limits` and the run's
    /// `deadline`: what it returned, and the damaged reads it caught.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn call_rule(
        &self,
        engine: &Engine,
        limits: &Limits,
        rule: &CompiledRule,
        entry: &Entry,
        subject: Dynamic,
        host: Option<&str>,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Result<(Dynamic, Vec<UnreadableEvidence>), RuleFailure> {
        take_unreadable_reads();
        take_partial_log_reads();
        take_inferred_reads();
        // `host.events` gives the rule the records its own `needs` declares, and no others.
        let _running = RunningRuleGuard::enter(&rule.meta);
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        let run_deadline = deadline.map(RunDeadline::instant);
        let capture = RuleCapture::start(limits, &rule.meta, host);
        let started = self.timings.as_ref().map(|_| {
            crate::memo::restart_operations();
            Instant::now()
        });
        let outcome: Result<Dynamic, Box<EvalAltResult>> =
            with_deadline(limits, run_deadline, || {
                if entry.takes_context {
                    engine.call_fn_with_options(
                        options,
                        &mut scope,
                        &rule.ast,
                        entry.name,
                        (subject, Dynamic::from_map(context.clone())),
                    )
                } else {
                    engine.call_fn_with_options(
                        options,
                        &mut scope,
                        &rule.ast,
                        entry.name,
                        (subject,),
                    )
                }
            });
        if let (Some(timings), Some(started)) = (&self.timings, started) {
            let phase = match (host, entry.name) {
                (None, _) => RulePhase::FleetCheck,
                (Some(_), "summarize") => RulePhase::Summarize,
                (Some(_), _) => RulePhase::Check,
            };
            let operations = crate::memo::operations_since_restart();
            timings.add(&rule.meta.id, phase, started.elapsed(), operations);
        }
        capture.finish();
        let reads = take_unreadable_reads();
        let source = rule.ast.source().unwrap_or_default();
        if let Some(read) = take_undeclared_read() {
            // A rule error even when the rule caught it: its verdict rests on records that a
            // scan does not read.
            let mut position = match &outcome {
                Err(error) => innermost_position(error, source),
                Ok(_) if read.source.is_empty() || read.source == source => read.position,
                Ok(_) => rhai::Position::NONE,
            };
            if position.is_none() {
                position = entry.position;
            }
            return Err(rule_error(rule, host, read.message, position));
        }
        let value = outcome.map_err(|error| {
            if let Some(deadline) = deadline.filter(|_| stopped_by_run_deadline(&error)) {
                return RuleFailure::TimedOut(deadline.stopped_reason());
            }
            if let Some(cause) = unreadable_cause(&error) {
                return RuleFailure::Unchecked(UncheckedRule {
                    rule: rule.meta.id.clone(),
                    host: cause.host,
                    message: cause.message,
                });
            }
            let mut position = innermost_position(&error, source);
            if position.is_none() {
                // Sandbox limits report no position of their own: point at the function.
                position = entry.position;
            }
            rule_error(rule, host, describe_eval_error(&error), position)
        })?;
        Ok((value, reads))
    }

    /// The findings and the `not_applicable(...)` and `passed_inferred(...)` answers in what a
    /// rule's `check` returned, within `limits` (the text budget covers `hosts` hosts).
    pub(super) fn returned(
        &self,
        limits: &Limits,
        rule: &CompiledRule,
        host: Option<&str>,
        value: Dynamic,
        hosts: usize,
    ) -> Result<Returned, RuleFailure> {
        let items: Vec<Dynamic> = if value.is_unit() {
            Vec::new()
        } else if value.is_array() {
            value.into_array().unwrap_or_default()
        } else {
            vec![value]
        };
        if items.len() > limits.max_findings {
            return Err(rule_error(
                rule,
                host,
                format!(
                    "the rule returned {} findings; the limit is {}",
                    items.len(),
                    limits.max_findings
                ),
                rhai::Position::NONE,
            ));
        }
        let mut findings = Vec::new();
        let mut not_applicable = Vec::new();
        let mut inferred_passes = Vec::new();
        // The text of all the findings is bounded too: past the rule × host budget (a fleet
        // rule has one per host), each finding keeps at most 1 KiB.
        let floor = limits.max_finding_bytes.min(1024);
        let mut remaining = limits.max_findings_bytes.saturating_mul(hosts.max(1));
        // Taken one by one, not copied: a fleet rule may return one per host.
        for item in items {
            if item.is::<NotApplicable>() {
                not_applicable.push(item.cast::<NotApplicable>());
                continue;
            }
            if item.is::<InferredPass>() {
                inferred_passes.push(item.cast::<InferredPass>());
                continue;
            }
            let allowed = limits.max_finding_bytes.min(remaining.max(floor));
            let (finding, used) = Finding::build(&rule.meta, host, &item, allowed)
                .map_err(|message| rule_error(rule, host, message, rhai::Position::NONE))?;
            remaining = remaining.saturating_sub(used);
            findings.push(finding);
        }
        Ok(Returned {
            findings,
            not_applicable,
            inferred_passes,
        })
    }
}

fn rule_error(
    rule: &CompiledRule,
    host: Option<&str>,
    message: String,
    position: rhai::Position,
) -> RuleFailure {
    RuleFailure::Error(Box::new(error_record(rule, host, &message, position)))
}

/// A rule error of `rule` on `host` (`*`: the fleet), at `position` when known, with the
/// message cut to what a report keeps.
pub(super) fn error_record(
    rule: &CompiledRule,
    host: Option<&str>,
    message: &str,
    position: rhai::Position,
) -> RuleError {
    RuleError {
        rule: rule.meta.id.clone(),
        host: host.unwrap_or("*").to_string(),
        file: rule.file.origin.clone(),
        line: position.line(),
        column: position.position(),
        message: shorten(message, MAX_MESSAGE_BYTES),
    }
}

/// What a rule's `check` returned: its findings, its `not_applicable(...)` answers and its
/// `passed_inferred(...)` answers.
pub(super) struct Returned {
    pub(super) findings: Vec<Finding>,
    pub(super) not_applicable: Vec<NotApplicable>,
    pub(super) inferred_passes: Vec<InferredPass>,
}

/// Why one rule × host evaluation produced no findings.
pub(super) enum RuleFailure {
    /// The rule failed.
    Error(Box<RuleError>),
    /// The evidence it read is damaged.
    Unchecked(UncheckedRule),
    /// The run's deadline stopped it; the reason says so.
    TimedOut(String),
}
