//! Loads packs into one sandboxed engine, compiles each rule once, and evaluates rules × hosts
//! in parallel.

use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Scope, AST};

use crate::error::{RuleError, RuleLoadError, UncheckedRule};
use crate::finding::Finding;
use crate::host_api::{register_host_api, FleetHandle, HostHandle};
use crate::host_api::{take_unreadable_reads, UnreadableEvidence};
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
    ast: AST,
    takes_context: bool,
    check_position: rhai::Position,
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
    /// How many rule × host evaluations ran to completion.
    pub evaluations: usize,
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
                        format!("syntax error: {}", error.err_type()),
                    )),
                }
            }
            for file in &pack.rules {
                match compile_rule(&engine, &manifest, file, pack.builtin) {
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
            for event in &rule.meta.needs.events {
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
    pub fn evaluate_only(
        &self,
        ids: &[&str],
        hosts: &[HostHandle],
        context: &rhai::Map,
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
        let results: Vec<Result<RuleOutcome, RuleFailure>> = jobs
            .par_iter()
            .map(|&(rule_index, host_index)| {
                let rule = &self.rules[rule_index];
                let subject = match host_index {
                    Some(index) => Dynamic::from(hosts[index].clone()),
                    None => Dynamic::from(fleet.clone()),
                };
                let host_name = host_index.map(|index| hosts[index].0.name.as_str());
                self.run_rule(rule, subject, host_name, context)
            })
            .collect();
        let mut evaluation = Evaluation::default();
        for result in results {
            match result {
                Ok((findings, unchecked)) => {
                    evaluation.evaluations += 1;
                    evaluation.findings.extend(findings);
                    evaluation.unchecked.extend(unchecked);
                }
                Err(RuleFailure::Error(error)) => evaluation.rule_errors.push(*error),
                Err(RuleFailure::Unchecked(unchecked)) => evaluation.unchecked.push(unchecked),
            }
        }
        sort_findings(&mut evaluation.findings);
        evaluation.rule_errors.sort();
        evaluation.unchecked.sort();
        evaluation
    }

    fn run_rule(
        &self,
        rule: &CompiledRule,
        subject: Dynamic,
        host: Option<&str>,
        context: &rhai::Map,
    ) -> Result<RuleOutcome, RuleFailure> {
        let error_at = |message: String, position: rhai::Position| {
            RuleFailure::Error(Box::new(RuleError {
                rule: rule.meta.id.clone(),
                host: host.unwrap_or("*").to_string(),
                file: rule.file.origin.clone(),
                line: position.line(),
                column: position.position(),
                message,
            }))
        };
        take_unreadable_reads();
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        let outcome: Result<Dynamic, Box<EvalAltResult>> = with_deadline(&self.limits, || {
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
        let findings = items
            .iter()
            .map(|item| {
                Finding::from_dynamic(&rule.meta, host, item)
                    .map_err(|message| error_at(message, rhai::Position::NONE))
            })
            .collect::<Result<Vec<Finding>, RuleFailure>>()?;
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
        Ok((findings, unchecked))
    }
}

/// What one rule × host evaluation (or one fleet evaluation) produced: its findings, and the
/// hosts a fleet rule had to skip because their evidence is damaged.
type RuleOutcome = (Vec<Finding>, Vec<UncheckedRule>);

/// Why one rule × host evaluation produced no findings.
enum RuleFailure {
    /// The rule failed.
    Error(Box<RuleError>),
    /// The evidence it read is damaged.
    Unchecked(UncheckedRule),
}

/// The damaged-evidence error at the bottom of `error`, when that is what stopped the rule.
fn unreadable_cause(error: &EvalAltResult) -> Option<UnreadableEvidence> {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => unreadable_cause(inner),
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<UnreadableEvidence>(),
        _ => None,
    }
}

/// The position of the failing statement in the rule's own file: errors inside a `lib/` module
/// are reported at the rule's call into it.
fn innermost_position(error: &EvalAltResult, rule_source: &str) -> rhai::Position {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, source, inner, position) => {
            if !source.is_empty() && source != rule_source {
                return *position;
            }
            let inner_position = innermost_position(inner, rule_source);
            if inner_position.is_none() {
                *position
            } else {
                inner_position
            }
        }
        EvalAltResult::ErrorInModule(_, _, position) => *position,
        other => other.position(),
    }
}

fn describe_eval_error(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => {
            "sandbox limit: the rule ran too many operations (an endless loop?)".to_string()
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "sandbox limit: calls nested too deeply (endless recursion?)".to_string()
        }
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            format!("sandbox limit: {what} grew too large")
        }
        EvalAltResult::ErrorTerminated(reason, _) => {
            format!("sandbox limit: {reason}")
        }
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) if name == "check" => {
            describe_eval_error(inner)
        }
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
            format!("in {name}(): {}", describe_eval_error(inner))
        }
        other => other.to_string(),
    }
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

fn compile_rule(
    engine: &Engine,
    manifest: &PackManifest,
    file: &SourceFile,
    builtin: bool,
) -> Result<CompiledRule, RuleLoadError> {
    let mut ast = engine.compile(&file.text).map_err(|error| {
        RuleLoadError::at_position(
            file,
            error.position(),
            format!("syntax error: {}", error.err_type()),
        )
    })?;
    ast.set_source(source_name(&manifest.name, &file.file_name));
    let rule_offset = file.text.find("RULE").unwrap_or(0);
    let Some((_, _, value)) = ast
        .iter_literal_variables(true, true)
        .find(|(name, is_constant, _)| *name == "RULE" && *is_constant)
    else {
        return Err(RuleLoadError::in_file(
            file,
            rule_offset,
            "the rule must export its metadata as a constant map: `export const RULE = #{ id: ..., ... };` (with literal values only)",
        ));
    };
    let meta: RuleMeta = rhai::serde::from_dynamic(&value).map_err(|error| {
        let text = error.to_string();
        let text = text.trim_start_matches("Syntax error: ").to_string();
        // Point at the field the message names, or at the bad value it quotes.
        let offset = first_mentioned_field(&text)
            .and_then(|word| {
                let rest = &file.text[rule_offset..];
                rest.find(&format!("{word}:"))
                    .or_else(|| rest.find(&format!("\"{word}\"")))
                    .map(|at| rule_offset + at)
            })
            .unwrap_or(rule_offset);
        RuleLoadError::in_file(file, offset, format!("invalid RULE metadata: {text}"))
    })?;
    meta.validate().map_err(|message| {
        let field = if message.starts_with("id ") {
            Some("id".to_string())
        } else {
            first_mentioned_field(&message)
        };
        let offset = field
            .and_then(|field| file.text[rule_offset..].find(&format!("{field}:")))
            .map_or(rule_offset, |at| rule_offset + at);
        RuleLoadError::in_file(file, offset, format!("invalid RULE metadata: {message}"))
    })?;
    if meta.pack != manifest.name {
        return Err(RuleLoadError::in_file(
            file,
            file.text[rule_offset..]
                .find("pack")
                .map_or(rule_offset, |at| rule_offset + at),
            format!(
                "the rule says pack `{}` but sits in pack `{}`",
                meta.pack, manifest.name
            ),
        ));
    }
    let check = ast
        .iter_functions()
        .find(|function| function.name == "check" && matches!(function.params.len(), 1 | 2));
    let Some(check) = check else {
        return Err(RuleLoadError::in_file(
            file,
            0,
            match meta.scope {
                RuleScope::Host => "the rule must define `fn check(host)` or `fn check(host, ctx)`",
                RuleScope::Fleet => {
                    "a fleet rule must define `fn check(fleet)` or `fn check(fleet, ctx)`"
                }
            },
        ));
    };
    let takes_context = check.params.len() == 2;
    let check_position = file
        .text
        .find("fn check")
        .map(|offset| {
            let (line, column) = crate::error::line_column(&file.text, offset);
            rhai::Position::new(
                line.min(u16::MAX as usize) as u16,
                column.min(u16::MAX as usize) as u16,
            )
        })
        .unwrap_or(rhai::Position::NONE);
    Ok(CompiledRule {
        meta,
        file: file.clone(),
        builtin,
        ast,
        takes_context,
        check_position,
    })
}

fn first_mentioned_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = message[start..].find('`')? + start;
    Some(message[start..end].to_string())
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
