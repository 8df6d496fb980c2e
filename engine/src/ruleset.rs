//! Loads packs into one sandboxed engine and compiles each rule once; the rule set's
//! selection, and the order findings are reported in. Running rules is [`crate::evaluate`].

use std::sync::{Arc, RwLock};

use rayon::prelude::*;
use rhai::{Engine, AST};
use sha2::{Digest, Sha256};

use crate::compile::compile_rule;
use crate::error::{RuleError, RuleLoadError, UncheckedRule};
use crate::finding::Finding;
use crate::host_api::register_host_api;
use crate::load_limits::{check_pack, parse_error_message};
use crate::outcome::RuleOutcome;
use crate::pack::{PackManifest, PackSource, SourceFile};
use crate::rule::{RuleMeta, Severity};
use crate::sandbox::{sandboxed_engine, source_name, LibRegistry, Limits};
use crate::selector::RuleSelector;
use crate::timings::RuleTimings;

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
    /// A fleet rule's `summarize`.
    pub(crate) summarize: Option<SummarizeFn>,
}

/// A fleet rule's `fn summarize(host)` or `fn summarize(host, ctx)`.
pub(crate) struct SummarizeFn {
    pub(crate) takes_context: bool,
    pub(crate) position: rhai::Position,
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
    pub(crate) engine: Engine,
    pub(crate) limits: Limits,
    pub(crate) libs: Arc<RwLock<LibRegistry>>,
    /// A hash of every loaded pack file (manifests, rules, `lib/` modules).
    packs_hash: String,
    rules: Vec<CompiledRule>,
    packs: Vec<LoadedPack>,
    /// The severity overrides applied, by rule id, sorted.
    severity_overrides: Vec<(String, Severity)>,
    /// Where every call into a rule adds its time, when `scan --timings` asked.
    pub(crate) timings: Option<Arc<RuleTimings>>,
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
        // Every rule is checked against the same functions: list them once.
        let known = crate::load_checks::known_engine_functions(&engine);
        let mut errors = Vec::new();
        let mut rules: Vec<CompiledRule> = Vec::new();
        let mut hasher = Sha256::new();
        for pack in &packs {
            for file in std::iter::once(&pack.manifest)
                .chain(&pack.rules)
                .chain(&pack.libs)
            {
                for part in [
                    pack.origin.as_str(),
                    file.file_name.as_str(),
                    file.text.as_str(),
                ] {
                    hasher.update((part.len() as u64).to_le_bytes());
                    hasher.update(part.as_bytes());
                }
            }
        }
        let packs_hash = hex(&hasher.finalize());
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
                    Err(error) => {
                        if let Ok(mut registry) = libs.write() {
                            registry.insert_broken(
                                &manifest.name,
                                lib.file_name.trim_end_matches(".rhai"),
                            );
                        }
                        errors.push(RuleLoadError::at_position(
                            lib,
                            error.position(),
                            parse_error_message(&error, &limits),
                        ))
                    }
                }
            }
            // Parsing and checking the rules is most of a load: done in parallel, then taken
            // in file order, so errors and duplicates are reported as before.
            let compiled: Vec<_> = pack
                .rules
                .par_iter()
                .map(|file| compile_rule(&engine, &known, &manifest, file, pack.builtin, &limits))
                .collect();
            for (file, compiled) in pack.rules.iter().zip(compiled) {
                match compiled {
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
            libs,
            packs_hash,
            rules,
            packs: loaded,
            severity_overrides: Vec::new(),
            timings: None,
        })
    }

    /// Times every call into a rule from now on (`scan --timings`): the totals, by rule and
    /// phase, that the returned [`RuleTimings`] gathers. Reports are unchanged.
    pub fn time_rules(&mut self) -> Arc<RuleTimings> {
        self.timings
            .get_or_insert_with(|| Arc::new(RuleTimings::default()))
            .clone()
    }

    /// What identifies this rule set: a hash of every loaded pack file, of the ids of the
    /// rules selected and of the severity overrides. Shards whose partial results are merged
    /// must share it.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.packs_hash.as_bytes());
        for rule in &self.rules {
            hasher.update([0]);
            hasher.update(rule.meta.id.as_bytes());
        }
        // Without overrides the fingerprint is what it always was.
        for (id, severity) in &self.severity_overrides {
            hasher.update([1]);
            hasher.update(id.as_bytes());
            hasher.update([2]);
            hasher.update(severity.name().as_bytes());
        }
        hex(&hasher.finalize())
    }

    /// Gives the rule `id` (any case) the severity `severity`: its findings carry it in every
    /// report, and `--fail-on` and `severity>=` selections judge the rule by it. Apply overrides
    /// after loading and before [`RuleSet::select`]. An id no loaded rule has is an error that
    /// names the nearest ids.
    pub fn override_severity(&mut self, id: &str, severity: Severity) -> Result<(), String> {
        let Some(rule) = self
            .rules
            .iter_mut()
            .find(|rule| rule.meta.id.eq_ignore_ascii_case(id))
        else {
            let nearest = self.nearest_ids(id, 3);
            return Err(if nearest.is_empty() {
                format!("unknown rule id `{id}`: no rule is loaded")
            } else {
                format!(
                    "unknown rule id `{id}`; the nearest loaded ids are {} (see `hiveward rules list`)",
                    nearest.join(", ")
                )
            });
        };
        rule.meta.severity = severity;
        let id = rule.meta.id.clone();
        self.severity_overrides.retain(|(known, _)| *known != id);
        self.severity_overrides.push((id, severity));
        self.severity_overrides.sort();
        Ok(())
    }

    /// The severity overrides applied, by rule id, sorted.
    pub fn severity_overrides(&self) -> &[(String, Severity)] {
        &self.severity_overrides
    }

    /// Up to `count` loaded rule ids closest to `id` (edit distance, ignoring case), nearest
    /// first.
    fn nearest_ids(&self, id: &str, count: usize) -> Vec<String> {
        let wanted = id.to_ascii_uppercase();
        let mut scored: Vec<(usize, &str)> = self
            .rules
            .iter()
            .map(|rule| {
                let known = rule.meta.id.to_ascii_uppercase();
                (edit_distance(&wanted, &known), rule.meta.id.as_str())
            })
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(count)
            .map(|(_, id)| id.to_string())
            .collect()
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

    /// Keeps only the rules `selection` asks for. `only` and `exclude` take rule ids, id globs,
    /// pack names and severity bounds (see [`RuleSelector`]); one that matches no loaded rule,
    /// or a profile no loaded rule knows, is an error.
    pub fn select(&mut self, selection: &Selection) -> Result<(), String> {
        let parse = |items: &[String]| -> Result<Vec<RuleSelector>, String> {
            items.iter().map(|item| RuleSelector::parse(item)).collect()
        };
        let (only, exclude) = (parse(&selection.only)?, parse(&selection.exclude)?);
        let is_rule = |selector: &RuleSelector| match selector {
            RuleSelector::Name(name) => self.rule(name).is_some(),
            _ => false,
        };
        let only: Vec<(RuleSelector, bool)> = only
            .into_iter()
            .map(|selector| {
                let named = is_rule(&selector);
                (selector, named)
            })
            .collect();
        let exclude: Vec<(RuleSelector, bool)> = exclude
            .into_iter()
            .map(|selector| {
                let named = is_rule(&selector);
                (selector, named)
            })
            .collect();
        for (selector, named) in only.iter().chain(&exclude) {
            if !self
                .rules
                .iter()
                .any(|rule| selector.matches(&rule.meta, *named))
            {
                return Err(match selector {
                    RuleSelector::Name(name) => format!(
                        "`{name}` is neither a rule id nor a pack name (see `hiveward rules list`)"
                    ),
                    RuleSelector::Pack(name) => {
                        format!("no pack `{name}` is loaded (see `hiveward rules list`)")
                    }
                    other => format!("`{}` matches no loaded rule", other.text()),
                });
            }
        }
        if !selection.profile.is_empty() {
            let known = self.profiles();
            if !known
                .iter()
                .any(|profile| profile.eq_ignore_ascii_case(&selection.profile))
            {
                return Err(format!(
                    "unknown profile `{}`: the loaded rules know {}",
                    selection.profile,
                    known.join(", ")
                ));
            }
        }
        self.rules.retain(|rule| {
            (only.is_empty()
                || only
                    .iter()
                    .any(|(selector, named)| selector.matches(&rule.meta, *named)))
                && !exclude
                    .iter()
                    .any(|(selector, named)| selector.matches(&rule.meta, *named))
                && (selection.profile.is_empty() || rule.meta.in_profile(&selection.profile))
        });
        Ok(())
    }

    /// Checks that every `--param` name is one a loaded rule declares in its `params`; the
    /// error names the unknown one and the parameters the rules take.
    pub fn check_params<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        for name in names {
            let known = self.rules.iter().any(|rule| {
                rule.meta
                    .params
                    .keys()
                    .any(|declared| crate::rule::param_declared(declared, name))
            });
            if !known {
                let mut taken: Vec<String> = self
                    .rules
                    .iter()
                    .flat_map(|rule| {
                        rule.meta
                            .params
                            .keys()
                            .map(move |declared| format!("{declared} ({})", rule.meta.id))
                    })
                    .collect();
                taken.sort();
                return Err(if taken.is_empty() {
                    format!("unknown --param `{name}`: no loaded rule takes parameters")
                } else {
                    format!(
                        "unknown --param `{name}`: the loaded rules take {} (see `hiveward rules show ID`)",
                        taken.join(", ")
                    )
                });
            }
        }
        Ok(())
    }

    /// The profiles the loaded rules name, with the default `cis`, sorted.
    pub fn profiles(&self) -> Vec<String> {
        let mut known: Vec<String> = std::iter::once(DEFAULT_PROFILE.to_string())
            .chain(
                self.rules
                    .iter()
                    .flat_map(|rule| rule.meta.profiles.iter().map(|p| p.to_lowercase())),
            )
            .collect();
        known.sort();
        known.dedup();
        known
    }
}

/// The profile a scan uses when none is given.
pub const DEFAULT_PROFILE: &str = "cis";

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

/// The Levenshtein distance between `a` and `b`, by character.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, right) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(left != *right);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> RuleSet {
        RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs load")
    }

    #[test]
    fn a_severity_override_changes_the_rule_its_selection_and_the_fingerprint() {
        let plain = builtin();
        let mut rules = builtin();
        assert_eq!(plain.fingerprint(), rules.fingerprint());
        let before = rules
            .rule("HW-SMB1-001")
            .expect("a built-in rule")
            .meta
            .severity;
        assert_ne!(before, Severity::Info);
        rules
            .override_severity("hw-smb1-001", Severity::Info)
            .expect("a loaded rule");
        assert_eq!(
            rules.rule("HW-SMB1-001").unwrap().meta.severity,
            Severity::Info
        );
        assert_eq!(
            rules.severity_overrides(),
            [("HW-SMB1-001".to_string(), Severity::Info)]
        );
        assert_ne!(plain.fingerprint(), rules.fingerprint());
        let mut other = builtin();
        other
            .override_severity("HW-SMB1-001", Severity::Low)
            .expect("a loaded rule");
        assert_ne!(other.fingerprint(), rules.fingerprint());
        // Selections see the new severity.
        rules
            .select(&Selection {
                only: vec!["severity<=info".to_string()],
                ..Selection::default()
            })
            .expect("the selection matches");
        assert!(rules.rule("HW-SMB1-001").is_some());
    }

    #[test]
    fn an_override_of_an_unknown_id_names_the_nearest_ids() {
        let mut rules = builtin();
        let error = rules
            .override_severity("HW-SMB1-01", Severity::High)
            .unwrap_err();
        assert!(
            error.contains("unknown rule id `HW-SMB1-01`") && error.contains("HW-SMB1-001"),
            "{error}"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
