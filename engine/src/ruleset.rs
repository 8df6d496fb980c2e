//! Loads packs into one sandboxed engine, compiles each rule once, and evaluates rules × hosts
//! in parallel.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Scope, AST};

use crate::budget::{shorten, MAX_MESSAGE_BYTES};
use crate::compile::compile_rule;
use crate::deadline::RunDeadline;
use crate::error::{RuleError, RuleLoadError, UncheckedRule};
use crate::eval_errors::{
    describe_eval_error, innermost_position, stopped_by_run_deadline, unreadable_cause,
};
use crate::finding::Finding;
use crate::host_api::take_unreadable_reads;
use crate::host_api::{register_host_api, FleetHandle, HostHandle};
use crate::load_limits::{check_pack, parse_error_message};
use crate::outcome::{unmet_needs, NotApplicable, Outcome, RuleOutcome};
use crate::pack::{PackManifest, PackSource, SourceFile};
use crate::rule::{RuleMeta, Scope as RuleScope, Severity};
use crate::sandbox::{sandboxed_engine, source_name, with_deadline, LibRegistry, Limits};

/// A compiled rule.
pub struct CompiledRule {
    /// Its metadata.
    pub meta: RuleMeta,
    /// Its source file.
    pub file: SourceFile,
    /// Whether its pack is built in.
    pub builtin: bool,
    pub(crate) ast: AST,
    pub(crate) takes_context: bool,
    pub(crate) check_position: rhai::Position,
}

/// A loaded pack.
#[derive(Clone, Debug)]
pub struct LoadedPack {
    /// Its manifest.
    pub manifest: PackManifest,
    /// Where it came from.
    pub origin: String,
    /// Whether it is built in.
    pub builtin: bool,
    /// Its `*.tests.toml` files.
    pub tests: Vec<SourceFile>,
}

/// Which rules to run, and with what settings.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only these rule ids (all when empty).
    pub only: Vec<String>,
    /// Never these rule ids.
    pub exclude: Vec<String>,
    /// The profile; rules outside it are skipped.
    pub profile: String,
}

/// The rules, compiled, and the engine that runs them.
pub struct RuleSet {
    engine: Engine,
    limits: Limits,
    rules: Vec<CompiledRule>,
    packs: Vec<LoadedPack>,
}

/// What running the rules produced.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// Findings, sorted by host, severity (highest first), rule and fingerprint.
    pub findings: Vec<Finding>,
    /// Rules that failed on a host, sorted.
    pub rule_errors: Vec<RuleError>,
    /// Rule × host evaluations stopped by damaged evidence, sorted.
    pub unchecked: Vec<UncheckedRule>,
    /// How many rule × host evaluations (fleet rules: one each) ran to completion.
    pub evaluations: usize,
    /// One outcome per rule × host, sorted by host, then rule.
    pub outcomes: Vec<RuleOutcome>,
    /// Rule × host outcomes that are *not checked* because the run's deadline passed before
    /// or while the rule ran (a fleet rule counts once per host).
    pub timed_out: usize,
}

impl RuleSet {
    /// Compiles `packs`. Every problem is collected, so one report lists them all.
    pub fn load(packs: Vec<PackSource>, limits: Limits) -> Result<RuleSet, Vec<RuleLoadError>> {
        let libs = Arc::new(RwLock::new(LibRegistry::default()));
        let mut engine = sandboxed_engine(&limits, libs.clone());
        register_host_api(&mut engine);
        let mut errors = Vec::new();
        let mut rules: Vec<CompiledRule> = Vec::new();
        let mut loaded = Vec::new();
        for pack in packs {
            let over_limits = check_pack(&pack, &limits);
            if !over_limits.is_empty() {
                errors.extend(over_limits);
                continue;
            }
            let manifest = match pack.parse_manifest() {
                Ok(manifest) => manifest,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            if let Some(other) = loaded
                .iter()
                .find(|other: &&LoadedPack| other.manifest.name == manifest.name)
            {
                errors.push(RuleLoadError::in_file(
                    &pack.manifest,
                    pack.manifest.text.find("name").unwrap_or(0),
                    format!(
                        "pack `{}` is already loaded from {}",
                        manifest.name, other.origin
                    ),
                ));
                continue;
            }
            for lib in &pack.libs {
                match engine.compile(&lib.text) {
                    Ok(mut ast) => {
                        ast.set_source(source_name(&manifest.name, &lib.file_name));
                        let module = lib.file_name.trim_end_matches(".rhai");
                        if let Ok(mut registry) = libs.write() {
                            registry.insert(&manifest.name, module, ast);
                        }
                    }
                    Err(error) => errors.push(RuleLoadError::at_position(
                        lib,
                        error.position(),
                        parse_error_message(&error, &limits),
                    )),
                }
            }
            for file in &pack.rules {
                match compile_rule(&engine, &manifest, file, pack.builtin, &limits) {
                    Ok(rule) => {
                        if let Some(existing) =
                            rules.iter().find(|known| known.meta.id == rule.meta.id)
                        {
                            errors.push(RuleLoadError::in_file(
                                file,
                                file.text.find(&rule.meta.id).unwrap_or(0),
                                format!(
                                    "rule id {} is already defined in {}",
                                    rule.meta.id, existing.file.origin
                                ),
                            ));
                        } else {
                            rules.push(rule);
                        }
                    }
                    Err(error) => errors.push(error),
                }
            }
            loaded.push(LoadedPack {
                manifest,
                origin: pack.origin.clone(),
                builtin: pack.builtin,
                tests: pack.tests.clone(),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
        Ok(RuleSet {
            engine,
            limits,
            rules,
            packs: loaded,
        })
    }

    /// The compiled rules, sorted by id.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The loaded packs.
    pub fn packs(&self) -> &[LoadedPack] {
        &self.packs
    }

    /// The event records the loaded rules declare in `needs.events`, deduplicated.
    pub fn event_needs(&self) -> Vec<hiveward_collectors::EventNeedFilter> {
        let mut needs: Vec<hiveward_collectors::EventNeedFilter> = Vec::new();
        for rule in &self.rules {
            for event in rule.meta.needs.all_events() {
                let filter = hiveward_collectors::EventNeedFilter {
                    channel: event.channel.clone(),
                    ids: event.ids.clone(),
                    provider: event.provider.clone(),
                };
                if !needs.contains(&filter) {
                    needs.push(filter);
                }
            }
        }
        needs
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&CompiledRule> {
        self.rules
            .iter()
            .find(|rule| rule.meta.id.eq_ignore_ascii_case(id))
    }

    /// Keeps only the rules `selection` asks for. Unknown ids in `only`/`exclude` are an error.
    pub fn select(&mut self, selection: &Selection) -> Result<(), String> {
        for id in selection.only.iter().chain(&selection.exclude) {
            if self.rule(id).is_none() {
                return Err(format!(
                    "unknown rule id `{id}` (see `hiveward rules list`)"
                ));
            }
        }
        self.rules.retain(|rule| {
            let id = &rule.meta.id;
            (selection.only.is_empty()
                || selection
                    .only
                    .iter()
                    .any(|only| only.eq_ignore_ascii_case(id)))
                && !selection
                    .exclude
                    .iter()
                    .any(|skip| skip.eq_ignore_ascii_case(id))
                && (selection.profile.is_empty() || rule.meta.in_profile(&selection.profile))
        });
        Ok(())
    }

    /// Runs every rule on every host (fleet rules once on all hosts), in parallel.
    ///
    /// `context` is passed as the second argument to rules whose `check` takes two: a map with
    /// `profile` and `params`.
    pub fn evaluate(&self, hosts: &[HostHandle], context: &rhai::Map) -> Evaluation {
        self.evaluate_only(&[], hosts, context)
    }

    /// Like [`RuleSet::evaluate`], for the rules in `ids` only (all when empty).
    ///
    /// Every rule × host ends in one [`RuleOutcome`]: the engine first checks the evidence the
    /// rule declares in `needs` (a host that lacks it is *not applicable* and the rule does not
    /// run there), then runs the rule, which may itself return `not_applicable(reason)`.
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
    /// [`Evaluation::timed_out`]).
    pub fn evaluate_until(
        &self,
        ids: &[&str],
        hosts: &[HostHandle],
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Evaluation {
        let fleet = FleetHandle(Arc::new(hosts.to_vec()));
        let mut jobs: Vec<(usize, Option<usize>)> = Vec::new();
        for (rule_index, rule) in self.rules.iter().enumerate() {
            if !ids.is_empty() && !ids.iter().any(|id| id.eq_ignore_ascii_case(&rule.meta.id)) {
                continue;
            }
            match rule.meta.scope {
                RuleScope::Host => {
                    jobs.extend((0..hosts.len()).map(|host| (rule_index, Some(host))))
                }
                RuleScope::Fleet => {
                    if !hosts.is_empty() {
                        jobs.push((rule_index, None));
                    }
                }
            }
        }
        let results: Vec<JobResult> = jobs
            .par_iter()
            .map(|&(rule_index, host_index)| {
                let rule = &self.rules[rule_index];
                let subjects = match host_index {
                    Some(index) => &hosts[index..=index],
                    None => hosts,
                };
                if let Some(deadline) = deadline.filter(|deadline| deadline.expired()) {
                    return timed_out(rule, subjects, deadline.not_run_reason());
                }
                match host_index {
                    Some(index) => self.run_host_job(rule, &hosts[index], context, deadline),
                    None => self.run_fleet_job(rule, &fleet, hosts, context, deadline),
                }
            })
            .collect();
        let mut evaluation = Evaluation::default();
        for result in results {
            evaluation.absorb(result);
        }
        sort_findings(&mut evaluation.findings);
        evaluation.rule_errors.sort();
        evaluation.unchecked.sort();
        evaluation.outcomes.sort_by(|a, b| {
            a.host
                .to_lowercase()
                .cmp(&b.host.to_lowercase())
                .then(a.rule.cmp(&b.rule))
        });
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
        match unmet_needs(&rule.meta.needs, &host.0) {
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
        let run = self.run_rule(
            rule,
            Dynamic::from(host.clone()),
            Some(&name),
            context,
            deadline,
        );
        match run {
            Ok(returned) => {
                if !returned.not_applicable.is_empty() {
                    if !returned.findings.is_empty() {
                        let error = RuleError {
                            rule: rule.meta.id.clone(),
                            host: name.clone(),
                            file: rule.file.origin.clone(),
                            line: None,
                            column: None,
                            message: "the rule returned findings and not_applicable(...) together; return one or the other".to_string(),
                        };
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
                let kind = if count == 0 {
                    Outcome::Passed
                } else {
                    Outcome::Findings
                };
                JobResult {
                    evaluations: 1,
                    findings: returned.findings,
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
            Err(RuleFailure::TimedOut(reason)) => {
                timed_out(rule, std::slice::from_ref(host), reason)
            }
        }
    }

    /// One fleet rule over every host, and an outcome for each host.
    fn run_fleet_job(
        &self,
        rule: &CompiledRule,
        fleet: &FleetHandle,
        hosts: &[HostHandle],
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> JobResult {
        let mut result = JobResult::default();
        let run = self.run_rule(rule, Dynamic::from(fleet.clone()), None, context, deadline);
        let mut returned = match run {
            Err(RuleFailure::TimedOut(reason)) => return timed_out(rule, hosts, reason),
            Ok(returned) => returned,
            Err(RuleFailure::Error(error)) => {
                for host in hosts {
                    result.outcomes.push(RuleOutcome {
                        rule: rule.meta.id.clone(),
                        host: host.0.name.clone(),
                        outcome: Outcome::Error,
                        reason: Some(error.message.clone()),
                        findings: 0,
                    });
                }
                result.rule_errors.push(*error);
                return result;
            }
            Err(RuleFailure::Unchecked(unchecked)) => {
                for host in hosts {
                    let here = host.0.name.eq_ignore_ascii_case(&unchecked.host);
                    result.outcomes.push(RuleOutcome {
                        rule: rule.meta.id.clone(),
                        host: host.0.name.clone(),
                        outcome: Outcome::NotChecked,
                        reason: Some(if here {
                            unchecked.message.clone()
                        } else {
                            format!(
                                "the fleet rule stopped on damaged evidence of {}: {}",
                                unchecked.host, unchecked.message
                            )
                        }),
                        findings: 0,
                    });
                }
                result.unchecked.push(unchecked);
                return result;
            }
        };
        result.evaluations = 1;
        result.rule_errors = stray_hosts(rule, hosts, &mut returned);
        for item in &returned.not_applicable {
            if item.host.is_none() {
                let error = RuleError {
                    rule: rule.meta.id.clone(),
                    host: "*".to_string(),
                    file: rule.file.origin.clone(),
                    line: None,
                    column: None,
                    message: "a fleet rule's not_applicable(...) must name the host first: not_applicable(host.name, reason)".to_string(),
                };
                return JobResult {
                    outcomes: hosts
                        .iter()
                        .map(|host| RuleOutcome {
                            rule: rule.meta.id.clone(),
                            host: host.0.name.clone(),
                            outcome: Outcome::Error,
                            reason: Some(error.message.clone()),
                            findings: 0,
                        })
                        .collect(),
                    rule_errors: result.rule_errors.into_iter().chain([error]).collect(),
                    ..JobResult::default()
                };
            }
        }
        // Each host's share of what the rule returned, indexed once by case-folded name.
        let mut findings_of: HashMap<String, usize> = HashMap::new();
        for finding in &returned.findings {
            *findings_of.entry(finding.host.to_lowercase()).or_default() += 1;
        }
        let mut unchecked_of: HashMap<String, &UncheckedRule> = HashMap::new();
        for item in &returned.unchecked {
            unchecked_of.entry(item.host.to_lowercase()).or_insert(item);
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
        for host in hosts {
            let name = &host.0.name;
            let key = name.to_lowercase();
            let findings = findings_of.get(&key).copied().unwrap_or(0);
            let unchecked = unchecked_of.get(&key);
            let declined = declined_of.get(&key).cloned().unwrap_or_default();
            let (outcome, reason) = if findings > 0 {
                (Outcome::Findings, None)
            } else if let Some(unchecked) = unchecked {
                (Outcome::NotChecked, Some(unchecked.message.clone()))
            } else if !declined.is_empty() {
                (Outcome::NotApplicable, Some(declined.join("; ")))
            } else {
                match unmet_needs(&rule.meta.needs, &host.0) {
                    Ok(None) => (Outcome::Passed, None),
                    Ok(Some(reason)) => (Outcome::NotApplicable, Some(reason)),
                    Err(message) => (Outcome::NotChecked, Some(message)),
                }
            };
            result.outcomes.push(RuleOutcome {
                rule: rule.meta.id.clone(),
                host: name.clone(),
                outcome,
                reason,
                findings,
            });
        }
        result.findings = returned.findings;
        result.unchecked = returned.unchecked;
        result
    }

    fn run_rule(
        &self,
        rule: &CompiledRule,
        subject: Dynamic,
        host: Option<&str>,
        context: &rhai::Map,
        deadline: Option<&RunDeadline>,
    ) -> Result<Returned, RuleFailure> {
        let subject_hosts = subject
            .read_lock::<FleetHandle>()
            .map_or(1, |fleet| fleet.0.len());
        let error_at = |message: String, position: rhai::Position| {
            RuleFailure::Error(Box::new(RuleError {
                rule: rule.meta.id.clone(),
                host: host.unwrap_or("*").to_string(),
                file: rule.file.origin.clone(),
                line: position.line(),
                column: position.position(),
                message: shorten(&message, MAX_MESSAGE_BYTES),
            }))
        };
        take_unreadable_reads();
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        let run_deadline = deadline.map(RunDeadline::instant);
        let outcome: Result<Dynamic, Box<EvalAltResult>> =
            with_deadline(&self.limits, run_deadline, || {
                if rule.takes_context {
                    self.engine.call_fn_with_options(
                        options,
                        &mut scope,
                        &rule.ast,
                        "check",
                        (subject, Dynamic::from_map(context.clone())),
                    )
                } else {
                    self.engine.call_fn_with_options(
                        options,
                        &mut scope,
                        &rule.ast,
                        "check",
                        (subject,),
                    )
                }
            });
        let reads = take_unreadable_reads();
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
            let mut position = innermost_position(&error, rule.ast.source().unwrap_or_default());
            if position.is_none() {
                // Sandbox limits report no position of their own: point at `fn check`.
                position = rule.check_position;
            }
            error_at(describe_eval_error(&error), position)
        })?;
        let items: Vec<Dynamic> = if value.is_unit() {
            Vec::new()
        } else if value.is_array() {
            value.into_array().unwrap_or_default()
        } else {
            vec![value]
        };
        if items.len() > self.limits.max_findings {
            return Err(error_at(
                format!(
                    "the rule returned {} findings for one host; the limit is {}",
                    items.len(),
                    self.limits.max_findings
                ),
                rhai::Position::NONE,
            ));
        }
        let mut findings = Vec::new();
        let mut not_applicable = Vec::new();
        // The text of all the findings is bounded too: past the rule × host budget (a fleet
        // rule has one per host), each finding keeps at most 1 KiB.
        let floor = self.limits.max_finding_bytes.min(1024);
        let budget_hosts = match host {
            Some(_) => 1,
            None => subject_hosts.max(1),
        };
        let mut remaining = self.limits.max_findings_bytes.saturating_mul(budget_hosts);
        for item in &items {
            if let Some(mut declined) = item.clone().try_cast::<NotApplicable>() {
                declined.reason = shorten(&declined.reason, MAX_MESSAGE_BYTES);
                not_applicable.push(declined);
                continue;
            }
            let allowed = self.limits.max_finding_bytes.min(remaining.max(floor));
            let (finding, used) = Finding::build(&rule.meta, host, item, allowed)
                .map_err(|message| error_at(message, rhai::Position::NONE))?;
            remaining = remaining.saturating_sub(used);
            findings.push(finding);
        }
        // A fleet rule that caught a damaged read went on without that host: say so. (A host
        // rule that catches one has judged its host all the same.)
        let mut unchecked: Vec<UncheckedRule> = Vec::new();
        if rule.meta.scope == RuleScope::Fleet {
            for read in reads {
                if !unchecked.iter().any(|item| item.host == read.host) {
                    unchecked.push(UncheckedRule {
                        rule: rule.meta.id.clone(),
                        host: read.host,
                        message: read.message,
                    });
                }
            }
        }
        Ok(Returned {
            findings,
            unchecked,
            not_applicable,
        })
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
    fn absorb(&mut self, result: JobResult) {
        self.findings.extend(result.findings);
        self.rule_errors.extend(result.rule_errors);
        self.unchecked.extend(result.unchecked);
        self.outcomes.extend(result.outcomes);
        self.evaluations += result.evaluations;
        self.timed_out += result.timed_out;
    }
}

/// The outcomes of `rule` on `hosts` when the run's deadline stopped it or kept it from
/// running: *not checked*, for `reason`.
fn timed_out(rule: &CompiledRule, hosts: &[HostHandle], reason: String) -> JobResult {
    JobResult {
        outcomes: hosts
            .iter()
            .map(|host| RuleOutcome {
                rule: rule.meta.id.clone(),
                host: host.0.name.clone(),
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
fn stray_hosts(
    rule: &CompiledRule,
    hosts: &[HostHandle],
    returned: &mut Returned,
) -> Vec<RuleError> {
    let names: HashMap<String, &str> = hosts
        .iter()
        .map(|host| (host.0.name.to_lowercase(), host.0.name.as_str()))
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
        .map(|stray| RuleError {
            rule: rule.meta.id.clone(),
            host: "*".to_string(),
            file: rule.file.origin.clone(),
            line: None,
            column: None,
            message: format!(
                "the fleet rule named host `{}`, which is not in the bundle: a fleet rule's findings and not_applicable(...) answers may name only the hosts of fleet.hosts",
                shorten(&stray, 200)
            ),
        })
        .collect()
}

/// What a rule returned: its findings, the hosts a fleet rule had to skip because their
/// evidence is damaged, and its `not_applicable(...)` answers.
struct Returned {
    findings: Vec<Finding>,
    unchecked: Vec<UncheckedRule>,
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

/// The `ctx` map rules receive: `#{ profile, params }`.
pub fn context_map(
    profile: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> rhai::Map {
    let mut map = rhai::Map::new();
    map.insert("profile".into(), profile.into());
    let mut values = rhai::Map::new();
    for (name, value) in params {
        values.insert(name.as_str().into(), value.as_str().into());
    }
    map.insert("params".into(), values.into());
    map
}

/// Sorts findings into their report order: host, severity (highest first), rule, fingerprint.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.host
            .to_lowercase()
            .cmp(&b.host.to_lowercase())
            .then(b.severity.cmp(&a.severity))
            .then(a.rule.cmp(&b.rule))
            .then(a.fingerprint.cmp(&b.fingerprint))
            .then(a.message.cmp(&b.message))
    });
}

/// Counts findings per severity, lowest first.
pub fn count_by_severity(findings: &[Finding]) -> Vec<(Severity, usize)> {
    Severity::ALL
        .into_iter()
        .map(|severity| {
            (
                severity,
                findings
                    .iter()
                    .filter(|finding| finding.severity == severity)
                    .count(),
            )
        })
        .collect()
}
