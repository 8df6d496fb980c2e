//! Runs rules: host rules on one host, a fleet rule's `summarize` on one host, and its `check`
//! once over the summaries of every host ([`crate::fleet`]). Each rule × host ends in one
//! [`RuleOutcome`].

use std::collections::HashMap;

use rayon::prelude::*;
use rhai::Dynamic;
use serde::{Deserialize, Serialize};

use crate::deadline::RunDeadline;
use crate::error::{RuleError, UncheckedRule};
use crate::finding::Finding;
use crate::fleet::FleetContribution;
use crate::fleet_hold::HeldRule;
use crate::host_api::{register_host_api, take_inferred_reads, take_partial_log_reads, HostHandle};
use crate::not_applicable::inferred_pass_reason;
use crate::outcome::{unmet_needs, InferredPass, NotApplicable, Outcome, RuleOutcome};
use crate::rule::Scope as RuleScope;
use crate::ruleset::{CompiledRule, Evaluation, RuleSet};
use crate::sandbox::sandboxed_engine;
use crate::trace::TraceScope;

mod call;
mod fleet_jobs;

use call::{error_record, RuleFailure};

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
    /// contributing host gets an outcome. Fleet rules run under [`Limits::for_fleet`](crate::sandbox::Limits::for_fleet) of the
    /// largest fleet.
    pub fn evaluate_fleet(
        &self,
        ids: &[&str],
        contributions: impl IntoIterator<Item = FleetContribution>,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Evaluation {
        let outcomes = std::sync::Mutex::new(Vec::new());
        let mut evaluation = self.judge_fleet(ids, contributions, context, deadline, &|outcome| {
            outcomes
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(outcome)
        });
        evaluation.outcomes = outcomes
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        evaluation.sort();
        evaluation
    }

    /// [`RuleSet::evaluate_fleet`], each outcome given to `on_outcome` as it is decided (from
    /// any thread) instead of gathered: a fleet rule decides one for every host of the fleet.
    /// The rest of the evaluation is sorted.
    pub(crate) fn judge_fleet(
        &self,
        ids: &[&str],
        contributions: impl IntoIterator<Item = FleetContribution>,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
        on_outcome: &(dyn Fn(RuleOutcome) + Sync),
    ) -> Evaluation {
        // Held a contribution at a time, each summary moved to its rule's spool as it comes:
        // only what the outcomes need stays in memory while a rule judges.
        let mut by_rule: HashMap<String, HeldRule> = crate::fleet_hold::hold(contributions)
            .into_iter()
            .map(|held| (held.rule.clone(), held))
            .collect();
        let mut jobs: Vec<(&CompiledRule, HeldRule)> = Vec::new();
        for rule in self
            .rules()
            .iter()
            .filter(|rule| rule.meta.scope == RuleScope::Fleet && selected(ids, rule))
        {
            if let Some(mine) = by_rule.remove(rule.meta.id.as_str()) {
                jobs.push((rule, mine));
            }
        }
        drop(by_rule);
        let mut evaluation = Evaluation::default();
        let Some(largest) = jobs.iter().map(|(_, mine)| mine.contributions.len()).max() else {
            return evaluation;
        };
        let limits = self.limits.for_fleet(largest);
        let mut engine = sandboxed_engine(&limits, self.libs.clone());
        register_host_api(&mut engine);
        let trace = crate::trace::active();
        let results: Vec<JobResult> = jobs
            .into_par_iter()
            .map(|(rule, mine)| {
                let _trace = TraceScope::enter(trace.clone());
                let names: Vec<&str> = mine.contributions.iter().map(|item| &*item.host).collect();
                let mut result = match deadline.filter(|deadline| deadline.expired()) {
                    Some(deadline) => timed_out(rule, &names, deadline.not_run_reason()),
                    None => self.run_fleet_check(
                        &engine, &limits, rule, &mine, context, deadline, on_outcome,
                    ),
                };
                for outcome in std::mem::take(&mut result.outcomes) {
                    on_outcome(outcome);
                }
                result
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
            inferred: false,
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
                let mixed = match (
                    returned.findings.is_empty(),
                    returned.not_applicable.is_empty(),
                    returned.inferred_passes.is_empty(),
                ) {
                    (false, false, _) => Some("findings and not_applicable(...)"),
                    (false, _, false) => Some("findings and passed_inferred(...)"),
                    (_, false, false) => Some("not_applicable(...) and passed_inferred(...)"),
                    _ => None,
                };
                if let Some(mixed) = mixed {
                    let error = error_record(
                        rule,
                        Some(&name),
                        &format!("the rule returned {mixed} together; return one or the other"),
                        rhai::Position::NONE,
                    );
                    return JobResult {
                        outcomes: vec![outcome(Outcome::Error, Some(error.message.clone()), 0)],
                        rule_errors: vec![error],
                        ..JobResult::default()
                    };
                }
                if !returned.not_applicable.is_empty() {
                    let reasons: Vec<String> = returned
                        .not_applicable
                        .iter()
                        .map(NotApplicable::reason)
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
                let inferred = take_inferred_reads();
                if count == 0 {
                    // Nothing found, resting on what the rule says it assumed, on a hive whose
                    // latest writes may be missing, or on a value another source holds
                    // differently: passed, inferred.
                    let mut passed = outcome(Outcome::Passed, None, 0);
                    let assumed: Vec<String> = returned
                        .inferred_passes
                        .iter()
                        .map(InferredPass::reason)
                        .collect();
                    if let Some(reason) =
                        inferred_pass_reason(&assumed, inferred.reason().as_deref())
                    {
                        passed.reason = Some(reason);
                        passed.inferred = true;
                    }
                    return JobResult {
                        evaluations: 1,
                        outcomes: vec![passed],
                        ..JobResult::default()
                    };
                }
                let mut findings = returned.findings;
                crate::dirty_reads::mark_findings(
                    &mut findings,
                    crate::dirty_reads::dirty_hives(&host.0.files),
                    crate::dirty_reads::layer_hives(&host.0.files),
                );
                crate::dirty_reads::mark_disagreeing_findings(
                    &mut findings,
                    &inferred.disagreements,
                );
                JobResult {
                    evaluations: 1,
                    findings,
                    outcomes: vec![outcome(Outcome::Findings, None, count)],
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
                inferred: false,
            })
            .collect(),
        timed_out: hosts.len(),
        ..JobResult::default()
    }
}
