//! The two phases of a fleet rule: `summarize` on each host while it is in memory, and `check`
//! once over every host's contribution, with an outcome for each host.

use std::collections::HashMap;

use rhai::{Dynamic, Engine};

use super::call::{error_record, Returned, RuleFailure};
use super::{timed_out, Entry, JobResult};
use crate::budget::shorten;
use crate::deadline::RunDeadline;
use crate::error::{RuleError, UncheckedRule};
use crate::fleet::{summary_json, Fleet, FleetContribution};
use crate::fleet_hold::HeldRule;
use crate::host_api::{take_inferred_reads, HostHandle};
use crate::not_applicable::{inferred_pass_reason, SpoolingReasons};
use crate::outcome::{unmet_needs, Outcome, RuleOutcome};
use crate::ruleset::{CompiledRule, RuleSet};
use crate::sandbox::Limits;

impl RuleSet {
    /// A fleet rule's `summarize` on one host: its contribution, or the outcome when it failed.
    pub(super) fn run_summarize(
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
            inferred: false,
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
        let inferred = take_inferred_reads();
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
            layer_hives: crate::dirty_reads::layer_hives(&host.0.files)
                .map(str::to_owned)
                .collect(),
            inferred_read: inferred.reason(),
            disagreements: inferred.disagreements,
        };
        (JobResult::default(), Some(contribution))
    }

    /// A fleet rule's `check` over the contributions of every host, and an outcome for each:
    /// given to `on_outcome` as decided when the rule ran, else in the result.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_fleet_check(
        &self,
        engine: &Engine,
        limits: &Limits,
        rule: &CompiledRule,
        held: &HeldRule,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
        on_outcome: &(dyn Fn(RuleOutcome) + Sync),
    ) -> JobResult {
        let contributions = held.contributions.as_slice();
        let fleet = Fleet::new(contributions, held.summaries.clone());
        let names: Vec<&str> = contributions.iter().map(|item| &*item.host).collect();
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
                        inferred: false,
                    })
                    .collect(),
                rule_errors: vec![error],
                ..JobResult::default()
            }
        };
        let fleet = match fleet {
            Ok(fleet) => fleet,
            Err(message) => return all_failed(message, rhai::Position::NONE),
        };
        let hosts = fleet.host_count();
        // The rule may decline for every host: the reasons wait on disk until it returns.
        let spooling = SpoolingReasons::enter();
        let run = self.call_rule(
            engine,
            limits,
            rule,
            &Entry::check(rule),
            Dynamic::from(fleet),
            None,
            context,
            deadline,
        );
        drop(spooling);
        let run = run.and_then(|(value, _)| self.returned(limits, rule, None, value, hosts));
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
                .flat_map(|item| item.dirty_hives().iter().map(String::as_str)),
            contributions
                .iter()
                .flat_map(|item| item.layer_hives().iter().map(String::as_str)),
        );
        let disagreements: Vec<hiveward_collectors::SourceDisagreement> = contributions
            .iter()
            .flat_map(|item| item.disagreements().iter().cloned())
            .collect();
        crate::dirty_reads::mark_disagreeing_findings(&mut returned.findings, &disagreements);
        let mut result = JobResult {
            evaluations: 1,
            rule_errors: stray_hosts(rule, &names, &mut returned),
            ..JobResult::default()
        };
        let unnamed = if returned
            .not_applicable
            .iter()
            .any(|item| item.host.is_none())
        {
            Some("a fleet rule's not_applicable(...) must name the host first: not_applicable(host.name, reason)")
        } else if returned
            .inferred_passes
            .iter()
            .any(|item| item.host().is_none())
        {
            Some("a fleet rule's passed_inferred(...) must name the host first: passed_inferred(host.name, reason)")
        } else {
            None
        };
        if let Some(message) = unnamed {
            let mut failed = all_failed(message.to_string(), rhai::Position::NONE);
            failed.rule_errors.splice(0..0, result.rule_errors);
            return failed;
        }
        // Each host's share of what the rule returned, indexed once by case-folded name.
        let mut findings_of: HashMap<String, usize> = HashMap::new();
        for finding in &returned.findings {
            *findings_of.entry(finding.host.to_lowercase()).or_default() += 1;
        }
        // Where each host's `not_applicable(...)` answers are: their reasons are moved into the
        // outcomes, not copied (a rule may give one for every host of a large fleet).
        let mut declined_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (at, item) in returned.not_applicable.iter().enumerate() {
            if let Some(host) = &item.host {
                declined_of.entry(host.to_lowercase()).or_default().push(at);
            }
        }
        // Where each host's `passed_inferred(...)` answers are.
        let mut assumed_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (at, item) in returned.inferred_passes.iter().enumerate() {
            if let Some(host) = item.host() {
                assumed_of.entry(host.to_lowercase()).or_default().push(at);
            }
        }
        // Hosts of one name without regard to case sit side by side: each gets the answers.
        let mut previous: (String, Vec<String>, Vec<String>) = Default::default();
        for contribution in contributions {
            let key = contribution.host.to_lowercase();
            let findings = findings_of.get(&key).copied().unwrap_or(0);
            if key != previous.0 {
                let declined = declined_of
                    .remove(&key)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|at| returned.not_applicable[at].reason())
                    .collect();
                let assumed = assumed_of
                    .remove(&key)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|at| returned.inferred_passes[at].reason())
                    .collect();
                previous = (key, declined, assumed);
            }
            let declined = previous.1.clone();
            let (outcome, reason) = if findings > 0 {
                (Outcome::Findings, None)
            } else if let Some(message) = contribution.caught_unreadable() {
                result.unchecked.push(UncheckedRule {
                    rule: rule.meta.id.clone(),
                    host: contribution.host.to_string(),
                    message: message.to_string(),
                });
                (Outcome::NotChecked, Some(message.to_string()))
            } else if !declined.is_empty() {
                (Outcome::NotApplicable, Some(join_reasons(declined)))
            } else if let Some(message) = contribution.needs_unreadable() {
                (Outcome::NotChecked, Some(message.to_string()))
            } else if let Some(reason) = &contribution.not_applicable {
                (Outcome::NotApplicable, Some(reason.to_string()))
            } else {
                // Nothing found, resting on what the rule says it assumed for this host, or
                // on a summary that read a hive whose latest writes may be missing or a value
                // another source holds differently: passed, inferred.
                (
                    Outcome::Passed,
                    inferred_pass_reason(&previous.2, contribution.inferred_read()),
                )
            };
            let inferred = outcome == Outcome::Passed && reason.is_some();
            on_outcome(RuleOutcome {
                rule: rule.meta.id.clone(),
                host: contribution.host.to_string(),
                outcome,
                reason,
                findings,
                inferred,
            });
        }
        result.findings = returned.findings;
        result
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
    returned
        .inferred_passes
        .retain(|item| match item.host().map(|host| host.as_str()) {
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
                "the fleet rule named host `{}`, which is not in the bundle: a fleet rule's findings, not_applicable(...) and passed_inferred(...) answers may name only the hosts of fleet.hosts",
                shorten(&stray, 200)
                ),
                rhai::Position::NONE,
            )
        })
        .collect()
}

/// The reasons a rule gave for one host, as its outcome says them.
fn join_reasons(reasons: Vec<String>) -> String {
    match <[String; 1]>::try_from(reasons) {
        Ok([only]) => only,
        Err(several) => several.join("; "),
    }
}
