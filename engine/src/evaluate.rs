//! Runs rules: host rules on one host, a fleet rule's `summarize` on one host, and its `check`
//! once over the summaries of every host ([`crate::fleet`]). Each rule × host ends in one
//! [`RuleOutcome`].

use std::collections::HashMap;

use rayon::prelude::*;
use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Scope};
use serde::{Deserialize, Serialize};

use crate::budget::{shorten, MAX_MESSAGE_BYTES};
use crate::deadline::RunDeadline;
use crate::error::{RuleError, UncheckedRule};
use crate::eval_errors::{
    describe_eval_error, innermost_position, stopped_by_run_deadline, unreadable_cause,
};
use crate::finding::Finding;
use crate::fleet::{summary_json, Fleet, FleetContribution};
use crate::host_api::{
    register_host_api, take_partial_log_reads, take_undeclared_read, take_unreadable_reads,
    HostHandle, RunningRuleGuard, UnreadableEvidence,
};
use crate::outcome::{unmet_needs, NotApplicable, Outcome, RuleOutcome};
use crate::rule::Scope as RuleScope;
use crate::ruleset::{CompiledRule, Evaluation, RuleSet};
use crate::sandbox::{sandboxed_engine, with_deadline, Limits};
use crate::trace::{RuleCapture, TraceScope};

/// What the rules made of one host: the host rules' findings and outcomes, and what the host
/// contributes to each fleet rule (judged later, over every host, by
/// [`RuleSet::evaluate_fleet`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostEvaluation {
    /// Findings of host rules.
    pub findings: Vec<Finding>,
    /// Rules that failed on the host.
    pub rule_errors: Vec<RuleError>,
    /// Rules stopped by damaged evidence.
    pub unchecked: Vec<UncheckedRule>,
    /// Outcomes decided on the host: every host rule's, and a fleet rule's when its
    /// `summarize` failed, was stopped, or never ran.
    pub outcomes: Vec<RuleOutcome>,
    /// Host rules that ran to completion.
    pub evaluations: usize,
    /// Outcomes that are *not checked* because the run's deadline passed.
    pub timed_out: usize,
    /// What the host contributes to each fleet rule whose `summarize` ran.
    pub contributions: Vec<FleetContribution>,
}

/// The function of a rule to call.
pub(crate) struct Entry {
    name: &'static str,
    takes_context: bool,
    position: rhai::Position,
}

impl Entry {
    fn check(rule: &CompiledRule) -> Entry {
        Entry {
            name: "check",
            takes_context: rule.takes_context,
            position: rule.check_position,
        }
    }
}

fn selected(ids: &[&str], rule: &CompiledRule) -> bool {
    ids.is_empty() || ids.iter().any(|id| id.eq_ignore_ascii_case(&rule.meta.id))
}

impl RuleSet {
    /// Runs every rule on every host, in parallel: host rules on each host, each fleet rule's
    /// `summarize` on each host and then its `check` once over the summaries. Same as
    /// [`RuleSet::evaluate_only`] for all rules.
    ///
    /// `context` is passed as the second argument to functions that take two: a map with
    /// `profile` and `params`.
    pub fn evaluate(&self, hosts: &[HostHandle], context: &rhai::Map) -> Evaluation {
        self.evaluate_only(&[], hosts, context)
    }

    /// Like [`RuleSet::evaluate`], for the rules in `ids` only (all when empty).
    ///
    /// Every rule × host ends in one [`RuleOutcome`]: the engine first checks the evidence the
    /// rule declares in `needs` (a host that lacks it is *not applicable* and a host rule does
    /// not run there), then runs the rule, which may itself return `not_applicable(reason)`.
    pub fn evaluate_only(
        &self,
        ids: &[&str],
        hosts: &[HostHandle],
        context: &rhai::Map,
    ) -> Evaluation {
        self.evaluate_until(ids, hosts, context, None)
    }

    /// [`RuleSet::evaluate_only`] within the run's `deadline`: an evaluation that has not
    /// started when it passes is not run, and a rule still running then is stopped; both end
    /// *not checked*, with a reason that names the run's timeout (counted in
    /// [`Evaluation::timed_out`]). It is [`RuleSet::evaluate_host`] on every host, then
    /// [`RuleSet::evaluate_fleet`].
    pub fn evaluate_until(
        &self,
        ids: &[&str],
        hosts: &[HostHandle],
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Evaluation {
        let trace = crate::trace::active();
        let per_host: Vec<HostEvaluation> = hosts
            .par_iter()
            .map(|host| {
                let _trace = TraceScope::enter(trace.clone());
                self.evaluate_host(ids, host, context, deadline)
            })
            .collect();
        let mut evaluation = Evaluation::default();
        let mut contributions = Vec::new();
        for mut host in per_host {
            contributions.append(&mut host.contributions);
            evaluation.absorb_host(host);
        }
        evaluation.absorb(self.evaluate_fleet(ids, contributions, context, deadline));
        evaluation.sort();
        evaluation
    }

    /// The host phase on one host: every host rule in `ids` (all when empty), and the
    /// `summarize` of every fleet rule. The host can be released afterwards: nothing in the
    /// result refers to it.
    pub fn evaluate_host(
        &self,
        ids: &[&str],
        host: &HostHandle,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> HostEvaluation {
        let name = host.0.name.as_str();
        let rules: Vec<&CompiledRule> = self
            .rules()
            .iter()
            .filter(|rule| selected(ids, rule))
            .collect();
        let trace = crate::trace::active();
        let results: Vec<(JobResult, Option<FleetContribution>)> = rules
            .par_iter()
            .map(|rule| {
                let _trace = TraceScope::enter(trace.clone());
                if let Some(deadline) = deadline.filter(|deadline| deadline.expired()) {
                    return (timed_out(rule, &[name], deadline.not_run_reason()), None);
                }
                match rule.meta.scope {
                    RuleScope::Host => (self.run_host_job(rule, host, context, deadline), None),
                    RuleScope::Fleet => self.run_summarize(rule, host, context, deadline),
                }
            })
            .collect();
        let mut evaluation = HostEvaluation::default();
        for (result, contribution) in results {
            evaluation.findings.extend(result.findings);
            evaluation.rule_errors.extend(result.rule_errors);
            evaluation.unchecked.extend(result.unchecked);
            evaluation.outcomes.extend(result.outcomes);
            evaluation.evaluations += result.evaluations;
            evaluation.timed_out += result.timed_out;
            evaluation.contributions.extend(contribution);
        }
        evaluation
    }

    /// The fleet phase: each fleet rule in `ids` (all when empty) judges, once, the
    /// contributions of every host (in any order: they are sorted by host first), and each
    /// contributing host gets an outcome. Fleet rules run under [`Limits::for_fleet`] of the
    /// largest fleet.
    pub fn evaluate_fleet(
        &self,
        ids: &[&str],
        contributions: Vec<FleetContribution>,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Evaluation {
        let mut by_rule: HashMap<String, Vec<FleetContribution>> = HashMap::new();
        for contribution in contributions {
            by_rule
                .entry(contribution.rule.clone())
                .or_default()
                .push(contribution);
        }
        let mut jobs: Vec<(&CompiledRule, Vec<FleetContribution>)> = Vec::new();
        for rule in self
            .rules()
            .iter()
            .filter(|rule| rule.meta.scope == RuleScope::Fleet && selected(ids, rule))
        {
            if let Some(mut mine) = by_rule.remove(&rule.meta.id) {
                mine.sort_by(|a, b| {
                    a.host
                        .to_lowercase()
                        .cmp(&b.host.to_lowercase())
                        .then_with(|| a.host.cmp(&b.host))
                });
                jobs.push((rule, mine));
            }
        }
        let mut evaluation = Evaluation::default();
        let Some(largest) = jobs.iter().map(|(_, mine)| mine.len()).max() else {
            return evaluation;
        };
        let limits = self.limits.for_fleet(largest);
        let mut engine = sandboxed_engine(&limits, self.libs.clone());
        register_host_api(&mut engine);
        let trace = crate::trace::active();
        let results: Vec<JobResult> = jobs
            .par_iter()
            .map(|(rule, mine)| {
                let _trace = TraceScope::enter(trace.clone());
                let names: Vec<&str> = mine.iter().map(|item| item.host.as_str()).collect();
                if let Some(deadline) = deadline.filter(|deadline| deadline.expired()) {
                    return timed_out(rule, &names, deadline.not_run_reason());
                }
                self.run_fleet_check(&engine, &limits, rule, mine, context, deadline)
            })
            .collect();
        for result in results {
            evaluation.absorb(result);
        }
        evaluation.sort();
        evaluation
    }

    /// One host rule on one host: needs first, then the rule.
    fn run_host_job(
        &self,
        rule: &CompiledRule,
        host: &HostHandle,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> JobResult {
        let name = host.0.name.clone();
        let outcome = |outcome: Outcome, reason: Option<String>, findings: usize| RuleOutcome {
            rule: rule.meta.id.clone(),
            host: name.clone(),
            outcome,
            reason,
            findings,
        };
        let needs = unmet_needs(&rule.meta.needs, &host.0);
        crate::trace::note_needs(&rule.meta, &name, &needs);
        match needs {
            Ok(None) => {}
            Ok(Some(reason)) => {
                return JobResult {
                    outcomes: vec![outcome(Outcome::NotApplicable, Some(reason), 0)],
                    ..JobResult::default()
                }
            }
            Err(message) => {
                return JobResult {
                    outcomes: vec![outcome(Outcome::NotChecked, Some(message.clone()), 0)],
                    unchecked: vec![UncheckedRule {
                        rule: rule.meta.id.clone(),
                        host: name.clone(),
                        message,
                    }],
                    ..JobResult::default()
                }
            }
        }
        let entry = Entry::check(rule);
        let run = self
            .call_rule(
                &self.engine,
                &self.limits,
                rule,
                &entry,
                Dynamic::from(host.clone()),
                Some(&name),
                context,
                deadline,
            )
            .and_then(|(value, _)| self.returned(&self.limits, rule, Some(&name), value, 1));
        match run {
            Ok(returned) => {
                if !returned.not_applicable.is_empty() {
                    if !returned.findings.is_empty() {
                        let error = error_record(
                            rule,
                            Some(&name),
                            "the rule returned findings and not_applicable(...) together; return one or the other",
                            rhai::Position::NONE,
                        );
                        return JobResult {
                            outcomes: vec![outcome(Outcome::Error, Some(error.message.clone()), 0)],
                            rule_errors: vec![error],
                            ..JobResult::default()
                        };
                    }
                    let reasons: Vec<String> = returned
                        .not_applicable
                        .into_iter()
                        .map(|item| item.reason)
                        .collect();
                    return JobResult {
                        evaluations: 1,
                        outcomes: vec![outcome(
                            Outcome::NotApplicable,
                            Some(reasons.join("; ")),
                            0,
                        )],
                        ..JobResult::default()
                    };
                }
                let count = returned.findings.len();
                // Nothing found, but an event log it read was read only in part: the records it
                // looks for may be among those lost, so it has not checked the host. (A damaged
                // read the rule caught is its own to judge: it catches only where it can still
                // give an honest verdict.)
                if let (0, Some(read)) = (count, take_partial_log_reads().into_iter().next()) {
                    return JobResult {
                        evaluations: 1,
                        outcomes: vec![outcome(Outcome::NotChecked, Some(read.message.clone()), 0)],
                        unchecked: vec![UncheckedRule {
                            rule: rule.meta.id.clone(),
                            host: name.clone(),
                            message: read.message,
                        }],
                        ..JobResult::default()
                    };
                }
                let kind = if count == 0 {
                    Outcome::Passed
                } else {
                    Outcome::Findings
                };
                let mut findings = returned.findings;
                crate::dirty_reads::mark_findings(
                    &mut findings,
                    crate::dirty_reads::dirty_hives(&host.0.files),
                );
                JobResult {
                    evaluations: 1,
                    findings,
                    outcomes: vec![outcome(kind, None, count)],
                    ..JobResult::default()
                }
            }
            Err(RuleFailure::Error(error)) => JobResult {
                outcomes: vec![outcome(Outcome::Error, Some(error.message.clone()), 0)],
                rule_errors: vec![*error],
                ..JobResult::default()
            },
            Err(RuleFailure::Unchecked(unchecked)) => JobResult {
                outcomes: vec![outcome(
                    Outcome::NotChecked,
                    Some(unchecked.message.clone()),
                    0,
                )],
                unchecked: vec![unchecked],
                ..JobResult::default()
            },
            Err(RuleFailure::TimedOut(reason)) => timed_out(rule, &[name.as_str()], reason),
        }
    }

    /// A fleet rule's `summarize` on one host: its contribution, or the outcome when it failed.
    fn run_summarize(
        &self,
        rule: &CompiledRule,
        host: &HostHandle,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> (JobResult, Option<FleetContribution>) {
        let name = host.0.name.clone();
        let Some(summarize) = rule.summarize.as_ref() else {
            return (JobResult::default(), None);
        };
        let entry = Entry {
            name: "summarize",
            takes_context: summarize.takes_context,
            position: summarize.position,
        };
        let failed = |outcome: Outcome, reason: String| RuleOutcome {
            rule: rule.meta.id.clone(),
            host: name.clone(),
            outcome,
            reason: Some(reason),
            findings: 0,
        };
        let run = self.call_rule(
            &self.engine,
            &self.limits,
            rule,
            &entry,
            Dynamic::from(host.clone()),
            Some(&name),
            context,
            deadline,
        );
        let (value, reads) = match run {
            Ok(done) => done,
            Err(RuleFailure::TimedOut(reason)) => {
                return (timed_out(rule, &[name.as_str()], reason), None)
            }
            Err(RuleFailure::Error(error)) => {
                let result = JobResult {
                    outcomes: vec![failed(Outcome::Error, error.message.clone())],
                    rule_errors: vec![*error],
                    ..JobResult::default()
                };
                return (result, None);
            }
            Err(RuleFailure::Unchecked(unchecked)) => {
                let result = JobResult {
                    outcomes: vec![failed(Outcome::NotChecked, unchecked.message.clone())],
                    unchecked: vec![unchecked],
                    ..JobResult::default()
                };
                return (result, None);
            }
        };
        let summary = match summary_json(&value, self.limits.max_summary_bytes) {
            Ok(summary) => summary,
            Err(message) => {
                let error = error_record(rule, Some(&name), &message, entry.position);
                let result = JobResult {
                    outcomes: vec![failed(Outcome::Error, error.message.clone())],
                    rule_errors: vec![error],
                    ..JobResult::default()
                };
                return (result, None);
            }
        };
        let needs = unmet_needs(&rule.meta.needs, &host.0);
        crate::trace::note_needs(&rule.meta, &name, &needs);
        let contribution = FleetContribution {
            rule: rule.meta.id.clone(),
            host: name.clone(),
            not_applicable: needs.clone().ok().flatten(),
            needs_unreadable: needs.err(),
            caught_unreadable: reads.into_iter().next().map(|read| read.message),
            summary,
            dirty_hives: crate::dirty_reads::dirty_hives(&host.0.files)
                .map(str::to_owned)
                .collect(),
        };
        (JobResult::default(), Some(contribution))
    }

    /// A fleet rule's `check` over the contributions of every host, and an outcome for each.
    fn run_fleet_check(
        &self,
        engine: &Engine,
        limits: &Limits,
        rule: &CompiledRule,
        contributions: &[FleetContribution],
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> JobResult {
        let names: Vec<&str> = contributions
            .iter()
            .map(|item| item.host.as_str())
            .collect();
        let all_failed = |message: String, position: rhai::Position| {
            let error = error_record(rule, None, &message, position);
            JobResult {
                outcomes: names
                    .iter()
                    .map(|host| RuleOutcome {
                        rule: rule.meta.id.clone(),
                        host: host.to_string(),
                        outcome: Outcome::Error,
                        reason: Some(error.message.clone()),
                        findings: 0,
                    })
                    .collect(),
                rule_errors: vec![error],
                ..JobResult::default()
            }
        };
        let fleet = match Fleet::new(contributions) {
            Ok(fleet) => fleet,
            Err(message) => return all_failed(message, rhai::Position::NONE),
        };
        let hosts = fleet.host_count();
        let run = self
            .call_rule(
                engine,
                limits,
                rule,
                &Entry::check(rule),
                Dynamic::from(fleet),
                None,
                context,
                deadline,
            )
            .and_then(|(value, _)| self.returned(limits, rule, None, value, hosts));
        let mut returned = match run {
            Ok(returned) => returned,
            Err(RuleFailure::TimedOut(reason)) => return timed_out(rule, &names, reason),
            Err(RuleFailure::Error(error)) => {
                let mut result = all_failed(error.message.clone(), rhai::Position::NONE);
                result.rule_errors = vec![*error];
                return result;
            }
            Err(RuleFailure::Unchecked(unchecked)) => {
                return all_failed(unchecked.message, rhai::Position::NONE);
            }
        };
        crate::dirty_reads::mark_findings(
            &mut returned.findings,
            contributions
                .iter()
                .flat_map(|item| item.dirty_hives.iter().map(String::as_str)),
        );
        let mut result = JobResult {
            evaluations: 1,
            rule_errors: stray_hosts(rule, &names, &mut returned),
            ..JobResult::default()
        };
        if returned
            .not_applicable
            .iter()
            .any(|item| item.host.is_none())
        {
            let mut failed = all_failed(
                "a fleet rule's not_applicable(...) must name the host first: not_applicable(host.name, reason)".to_string(),
                rhai::Position::NONE,
            );
            failed.rule_errors.splice(0..0, result.rule_errors);
            return failed;
        }
        // Each host's share of what the rule returned, indexed once by case-folded name.
        let mut findings_of: HashMap<String, usize> = HashMap::new();
        for finding in &returned.findings {
            *findings_of.entry(finding.host.to_lowercase()).or_default() += 1;
        }
        let mut declined_of: HashMap<String, Vec<String>> = HashMap::new();
        for item in &returned.not_applicable {
            if let Some(host) = &item.host {
                declined_of
                    .entry(host.to_lowercase())
                    .or_default()
                    .push(item.reason.clone());
            }
        }
        for contribution in contributions {
            let key = contribution.host.to_lowercase();
            let findings = findings_of.get(&key).copied().unwrap_or(0);
            let declined = declined_of.get(&key).cloned().unwrap_or_default();
            let (outcome, reason) = if findings > 0 {
                (Outcome::Findings, None)
            } else if let Some(message) = &contribution.caught_unreadable {
                result.unchecked.push(UncheckedRule {
                    rule: rule.meta.id.clone(),
                    host: contribution.host.clone(),
                    message: message.clone(),
                });
                (Outcome::NotChecked, Some(message.clone()))
            } else if !declined.is_empty() {
                (Outcome::NotApplicable, Some(declined.join("; ")))
            } else if let Some(message) = &contribution.needs_unreadable {
                (Outcome::NotChecked, Some(message.clone()))
            } else if let Some(reason) = &contribution.not_applicable {
                (Outcome::NotApplicable, Some(reason.clone()))
            } else {
                (Outcome::Passed, None)
            };
            result.outcomes.push(RuleOutcome {
                rule: rule.meta.id.clone(),
                host: contribution.host.clone(),
                outcome,
                reason,
                findings,
            });
        }
        result.findings = returned.findings;
        result
    }

    /// Calls `entry` of `rule` on `subject` in `engine`, under `limits` and the run's
    /// `deadline`: what it returned, and the damaged reads it caught.
    #[allow(clippy::too_many_arguments)]
    fn call_rule(
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
        // `host.events` gives the rule the records its own `needs` declares, and no others.
        let _running = RunningRuleGuard::enter(&rule.meta);
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        let run_deadline = deadline.map(RunDeadline::instant);
        let capture = RuleCapture::start(limits, &rule.meta, host);
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

    /// The findings and `not_applicable(...)` answers in what a rule's `check` returned, within
    /// `limits` (the text budget covers `hosts` hosts).
    fn returned(
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
        // The text of all the findings is bounded too: past the rule × host budget (a fleet
        // rule has one per host), each finding keeps at most 1 KiB.
        let floor = limits.max_finding_bytes.min(1024);
        let mut remaining = limits.max_findings_bytes.saturating_mul(hosts.max(1));
        for item in &items {
            if let Some(mut declined) = item.clone().try_cast::<NotApplicable>() {
                declined.reason = shorten(&declined.reason, MAX_MESSAGE_BYTES);
                not_applicable.push(declined);
                continue;
            }
            let allowed = limits.max_finding_bytes.min(remaining.max(floor));
            let (finding, used) = Finding::build(&rule.meta, host, item, allowed)
                .map_err(|message| rule_error(rule, host, message, rhai::Position::NONE))?;
            remaining = remaining.saturating_sub(used);
            findings.push(finding);
        }
        Ok(Returned {
            findings,
            not_applicable,
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
fn error_record(
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

/// What one rule × host job (or one fleet job) contributes to the [`Evaluation`].
#[derive(Default)]
struct JobResult {
    findings: Vec<Finding>,
    rule_errors: Vec<RuleError>,
    unchecked: Vec<UncheckedRule>,
    outcomes: Vec<RuleOutcome>,
    evaluations: usize,
    timed_out: usize,
}

impl Evaluation {
    pub(crate) fn absorb(&mut self, result: impl Into<Evaluation>) {
        let result = result.into();
        self.findings.extend(result.findings);
        self.rule_errors.extend(result.rule_errors);
        self.unchecked.extend(result.unchecked);
        self.outcomes.extend(result.outcomes);
        self.evaluations += result.evaluations;
        self.timed_out += result.timed_out;
    }

    pub(crate) fn absorb_host(&mut self, host: HostEvaluation) {
        self.absorb(Evaluation {
            findings: host.findings,
            rule_errors: host.rule_errors,
            unchecked: host.unchecked,
            outcomes: host.outcomes,
            evaluations: host.evaluations,
            timed_out: host.timed_out,
        });
    }

    /// Puts everything in report order.
    pub(crate) fn sort(&mut self) {
        crate::ruleset::sort_findings(&mut self.findings);
        self.rule_errors.sort();
        self.unchecked.sort();
        self.outcomes.sort_by(|a, b| {
            a.host
                .to_lowercase()
                .cmp(&b.host.to_lowercase())
                .then(a.rule.cmp(&b.rule))
        });
    }
}

impl From<JobResult> for Evaluation {
    fn from(result: JobResult) -> Evaluation {
        Evaluation {
            findings: result.findings,
            rule_errors: result.rule_errors,
            unchecked: result.unchecked,
            outcomes: result.outcomes,
            evaluations: result.evaluations,
            timed_out: result.timed_out,
        }
    }
}

/// The outcomes of `rule` on `hosts` when the run's deadline stopped it or kept it from
/// running: *not checked*, for `reason`.
fn timed_out(rule: &CompiledRule, hosts: &[&str], reason: String) -> JobResult {
    JobResult {
        outcomes: hosts
            .iter()
            .map(|host| RuleOutcome {
                rule: rule.meta.id.clone(),
                host: host.to_string(),
                outcome: Outcome::NotChecked,
                reason: Some(reason.clone()),
                findings: 0,
            })
            .collect(),
        timed_out: hosts.len(),
        ..JobResult::default()
    }
}

/// Takes out of `returned` the findings and `not_applicable(...)` answers of a fleet rule that
/// name a host the bundle does not hold, and returns a rule error for each such host. Findings
/// that name a bundle host in another case get its spelling.
fn stray_hosts(rule: &CompiledRule, hosts: &[&str], returned: &mut Returned) -> Vec<RuleError> {
    let names: HashMap<String, &str> = hosts
        .iter()
        .map(|host| (host.to_lowercase(), *host))
        .collect();
    let known = |name: &str| names.get(&name.to_lowercase()).map(|name| name.to_string());
    let mut strays: Vec<String> = Vec::new();
    let mut note = |name: &str| {
        if !strays.iter().any(|stray| stray == name) {
            strays.push(name.to_string());
        }
    };
    returned
        .findings
        .retain_mut(|finding| match known(&finding.host) {
            Some(name) => {
                finding.host = name;
                true
            }
            None => {
                note(&finding.host);
                false
            }
        });
    returned
        .not_applicable
        .retain(|item| match item.host.as_deref() {
            Some(name) if known(name).is_none() => {
                note(name);
                false
            }
            _ => true,
        });
    strays
        .into_iter()
        .map(|stray| {
            error_record(
                rule,
                None,
                &format!(
                "the fleet rule named host `{}`, which is not in the bundle: a fleet rule's findings and not_applicable(...) answers may name only the hosts of fleet.hosts",
                shorten(&stray, 200)
                ),
                rhai::Position::NONE,
            )
        })
        .collect()
}

/// What a rule's `check` returned: its findings and its `not_applicable(...)` answers.
struct Returned {
    findings: Vec<Finding>,
    not_applicable: Vec<NotApplicable>,
}

/// Why one rule × host evaluation produced no findings.
enum RuleFailure {
    /// The rule failed.
    Error(Box<RuleError>),
    /// The evidence it read is damaged.
    Unchecked(UncheckedRule),
    /// The run's deadline stopped it; the reason says so.
    TimedOut(String),
}
