//! The streaming scan: each planned host is collected, judged by the host rules and the fleet
//! rules' `summarize`, and released, in parallel; then the fleet phase runs over the
//! summaries and the report is built. Memory holds one host per worker thread plus the
//! results, never every host's evidence at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hiveward_collectors::{
    collect_host, CollectOptions, FileStatus, Host, PassedOver, PlannedHost,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{RuleError, UncheckedRule};
use crate::evaluate::HostEvaluation;
use crate::finding::Finding;
use crate::fleet::FleetContribution;
use crate::host_api::{HostFacts, HostHandle};
use crate::host_plan::HostPlan;
use crate::outcome::{Coverage, Outcome, RuleOutcome};
use crate::rule::Severity;
use crate::ruleset::{context_map, Evaluation, RuleSet};
use crate::scan::{ScanHost, ScanReport, ScanSettings};
use crate::spool::Spool;

/// What the host phase made of one host: its entry in the report (outcomes and coverage are
/// filled in when the fleet phase is done) and what the rules found there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    /// The host's position in the bundle's plan: the report lists hosts in this order.
    pub index: usize,
    /// The host's report entry.
    pub host: ScanHost,
    /// The host rules' findings and outcomes, and the fleet rules' contributions.
    pub evaluation: HostEvaluation,
}

/// The profile a scan runs with: `cis` unless one is given.
pub(crate) fn profile_of(settings: &ScanSettings) -> String {
    if settings.profile.is_empty() {
        "cis".to_string()
    } else {
        settings.profile.clone()
    }
}

/// How far [`scan_planned_hosts`] got: hosts judged and their evidence files read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostsDone {
    /// Hosts judged.
    pub hosts: usize,
    /// Evidence files of those hosts.
    pub files: usize,
}

/// The most bytes of stored contributions the largest fleet rule may have for the fleet rules
/// to be judged side by side (see `finish_scan`): about 40,000 hosts of the built-in rules'
/// largest summaries. A rule's memory while it judges grows with its contributions, so past
/// this two rules at once would double the scan's peak.
const FLEET_SIDE_BY_SIDE_BYTES: u64 = 32 << 20;

/// Runs `judge` on each fleet rule's job, side by side on the pool or one at a time, and
/// returns what it gave in the jobs' order either way.
fn judge_fleet_rules<J: Send, E: Send>(
    jobs: Vec<J>,
    side_by_side: bool,
    judge: impl Fn(J) -> E + Sync + Send,
) -> Vec<E> {
    if side_by_side {
        jobs.into_par_iter().with_max_len(1).map(judge).collect()
    } else {
        jobs.into_iter().map(judge).collect()
    }
}

/// Hosts whose findings are prepared for the report at once (see `finish_scan`).
const REPORT_CHUNK: usize = 64;

/// The host phase's results, spooled to a temporary file as hosts finish: each host's report
/// entry with its outcomes, its findings and its contributions to the fleet rules wait on disk
/// until the fleet phase (which reads one rule's contributions at a time) and the report; only
/// their positions, the rule errors and the counts stay in memory.
#[derive(Default)]
pub struct HostResults {
    entries: Spool<HostEntry>,
    findings: Spool<Vec<Finding>>,
    contributions: Spool<FleetContribution>,
    kept: Mutex<Vec<KeptResult>>,
    /// The ids of the fleet rules contributed to, in the order first met: a kept result names
    /// a rule by its number here rather than holding its id once per host.
    fleet_rules: Mutex<Vec<String>>,
}

/// A host's report entry and the outcomes decided on it, as spooled.
#[derive(Clone, Serialize, Deserialize)]
struct HostEntry {
    host: ScanHost,
    outcomes: Vec<RuleOutcome>,
}

/// A position in one of the scan's spools, as results keep it in memory: four bytes, as a
/// spool holds far fewer than four billion items (each costs eight bytes of memory itself).
type Spot = u32;

/// `position` as a [`Spot`].
fn spot(position: usize) -> Spot {
    Spot::try_from(position).unwrap_or(Spot::MAX)
}

/// What stays in memory of one host's result: at 100,000 hosts, these are most of what the
/// scan holds while it judges the fleet, so they are kept small.
struct KeptResult {
    index: usize,
    /// The host's name, lower-cased: findings are ordered by it.
    name_key: Box<str>,
    entry: Spot,
    findings: Spot,
    /// The severities of the host's findings, in report order (as they are spooled).
    severities: Box<[Severity]>,
    rule_errors: Vec<RuleError>,
    unchecked: Vec<UncheckedRule>,
    evaluations: u32,
    timed_out: u32,
    /// The fleet rules the host contributes to (numbers into `HostResults::fleet_rules`), and
    /// where each contribution is spooled.
    contributions: Box<[(u32, Spot)]>,
}

impl HostResults {
    /// No results yet.
    pub fn new() -> HostResults {
        HostResults::default()
    }

    /// Adds every host result of `hosts` (a partial result's), each read back and added on the
    /// pool: the report does not depend on the order in which hosts are added.
    pub fn push_all(&self, hosts: &Spool<HostResult>) {
        (0..hosts.len())
            .into_par_iter()
            .filter_map(|position| hosts.get(position))
            .for_each(|host| self.push(host));
    }

    /// Adds one host's result; safe to call from several threads at once.
    pub fn push(&self, result: HostResult) {
        let HostResult {
            index,
            host,
            evaluation,
        } = result;
        let name_key = host.name.to_lowercase().into_boxed_str();
        let entry = spot(self.entries.push(&HostEntry {
            host,
            outcomes: evaluation.outcomes,
        }));
        // In report order already, so that a host no fleet rule adds to is copied into the
        // report as stored.
        let mut host_findings = evaluation.findings;
        crate::ruleset::sort_findings(&mut host_findings);
        let severities = host_findings
            .iter()
            .map(|finding| finding.severity)
            .collect();
        let findings = spot(self.findings.push(&host_findings));
        let contributions = evaluation
            .contributions
            .iter()
            .map(|contribution| {
                (
                    self.fleet_rule_number(&contribution.rule),
                    spot(self.contributions.push(contribution)),
                )
            })
            .collect();
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(KeptResult {
                index,
                name_key,
                entry,
                findings,
                severities,
                rule_errors: evaluation.rule_errors,
                unchecked: evaluation.unchecked,
                evaluations: u32::try_from(evaluation.evaluations).unwrap_or(u32::MAX),
                timed_out: u32::try_from(evaluation.timed_out).unwrap_or(u32::MAX),
                contributions,
            });
    }

    /// The number of fleet rule `id` in `fleet_rules`, added if new.
    fn fleet_rule_number(&self, id: &str) -> u32 {
        let mut rules = self
            .fleet_rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let at = match rules.iter().position(|rule| rule == id) {
            Some(at) => at,
            None => {
                rules.push(id.to_string());
                rules.len() - 1
            }
        };
        u32::try_from(at).unwrap_or(u32::MAX)
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.kept_results().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kept_results(&self) -> std::sync::MutexGuard<'_, Vec<KeptResult>> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The results whole again, in bundle order (for a shard's partial result).
    pub fn into_plan_order(self) -> Spool<HostResult> {
        let mut kept = std::mem::take(&mut *self.kept_results());
        kept.sort_by_key(|kept| kept.index);
        let spool = Spool::new();
        for kept in kept {
            let (Some(entry), Some(findings)) = (
                self.entries.get(kept.entry as usize),
                self.findings.get(kept.findings as usize),
            ) else {
                continue;
            };
            spool.push(&HostResult {
                index: kept.index,
                host: entry.host,
                evaluation: HostEvaluation {
                    findings,
                    rule_errors: kept.rule_errors,
                    unchecked: kept.unchecked,
                    outcomes: entry.outcomes,
                    evaluations: kept.evaluations as usize,
                    timed_out: kept.timed_out as usize,
                    contributions: kept
                        .contributions
                        .iter()
                        .filter_map(|(_, position)| self.contributions.get(*position as usize))
                        .collect(),
                },
            });
        }
        spool
    }
}

impl FromIterator<HostResult> for HostResults {
    fn from_iter<I: IntoIterator<Item = HostResult>>(results: I) -> HostResults {
        let spooled = HostResults::new();
        for result in results {
            spooled.push(result);
        }
        spooled
    }
}

impl From<Vec<HostResult>> for HostResults {
    fn from(results: Vec<HostResult>) -> HostResults {
        results.into_iter().collect()
    }
}

/// Collects and judges the planned hosts (all of them, or those `keep` accepts), in parallel
/// on the current rayon pool; `progress` is called after each host with the hosts and files
/// done. Each host is released as soon as it is judged, and its result spooled.
pub fn scan_planned_hosts(
    hosts: &(impl HostPlan + ?Sized),
    keep: &(dyn Fn(&PlannedHost) -> bool + Sync),
    rules: &RuleSet,
    settings: &ScanSettings,
    options: &CollectOptions,
    progress: &(dyn Fn(HostsDone) + Sync),
) -> HostResults {
    scan_planned_hosts_around(hosts, keep, rules, settings, options, progress, &|judge| {
        judge()
    })
}

/// [`scan_planned_hosts`], with each host's collection and judgement run inside `around`
/// (which installs a trace, for instance).
pub(crate) fn scan_planned_hosts_around(
    hosts: &(impl HostPlan + ?Sized),
    keep: &(dyn Fn(&PlannedHost) -> bool + Sync),
    rules: &RuleSet,
    settings: &ScanSettings,
    options: &CollectOptions,
    progress: &(dyn Fn(HostsDone) + Sync),
    around: &(dyn Fn(&mut dyn FnMut() -> HostResult) -> HostResult + Sync),
) -> HostResults {
    let context = context_map(&profile_of(settings), &settings.params);
    let done = AtomicUsize::new(0);
    let files_done = AtomicUsize::new(0);
    let results = HostResults::new();
    // One host at a time per worker, read from the plan (from its temporary file, for a
    // spooled plan) when the worker takes it.
    (0..hosts.host_count())
        .into_par_iter()
        .filter_map(|index| hosts.planned(index).map(|planned| (index, planned)))
        .filter(|(_, planned)| keep(planned))
        .for_each(|(index, planned)| {
            results.push(around(&mut || {
                let host = collect_host(&planned, options);
                judge_host(index, host, rules, &context, settings)
            }));
            let files = planned.files.len();
            progress(HostsDone {
                hosts: done.fetch_add(1, Ordering::Relaxed) + 1,
                files: files_done.fetch_add(files, Ordering::Relaxed) + files,
            });
        });
    results
}

/// The host phase on one collected host: OS facts and hotfixes, the host rules, the fleet
/// rules' summaries and the evidence `--require` demands. The host is dropped on return.
pub(crate) fn judge_host(
    index: usize,
    host: Host,
    rules: &RuleSet,
    context: &rhai::Map,
    settings: &ScanSettings,
) -> HostResult {
    let mut notices = host.notices.clone();
    let (os, hotfixes) = crate::inspect::os_and_hotfixes(&host.registry, &mut notices);
    let mut host = host;
    hiveward_collectors::mark_damaged_files(&mut host.files, &notices);
    let mut entry = ScanHost {
        name: host.name.clone(),
        name_source: host.name_source,
        os: os
            .as_ref()
            .and_then(|os| os.name.clone().or(os.product_name.clone())),
        os_build: os.as_ref().and_then(|os| os.os_build()),
        role: os.as_ref().map(|os| os.role).unwrap_or_default(),
        files: host.files.clone(),
        notices,
        coverage: Coverage::default(),
        outcomes: Vec::new(),
        missing_required: Vec::new(),
    };
    let log_channels = HostFacts::channels_of(&host.files);
    let handle = HostHandle(Arc::new(HostFacts {
        name: host.name,
        registry: host.registry,
        os,
        hotfixes,
        files: host.files,
        events: host.events,
        log_channels,
        memo: Default::default(),
    }));
    let readable = handle
        .0
        .files
        .iter()
        .any(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial));
    // A host with no readable evidence is reported but not evaluated: a rule would only see
    // absent values and report defaults that nothing backs. Every rule is "not checked" there.
    let evaluation = if readable {
        rules.evaluate_host(&[], &handle, context, settings.deadline.as_ref())
    } else {
        let files: Vec<&str> = handle
            .0
            .files
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        let reason = format!(
            "no evidence file of this host could be read ({})",
            files.join(", ")
        );
        HostEvaluation {
            outcomes: rules
                .rules()
                .iter()
                .map(|rule| RuleOutcome {
                    rule: rule.meta.id.clone(),
                    host: handle.0.name.clone(),
                    outcome: Outcome::NotChecked,
                    reason: Some(reason.clone()),
                    findings: 0,
                    inferred: false,
                })
                .collect(),
            ..HostEvaluation::default()
        }
    };
    entry.missing_required = settings
        .require
        .iter()
        .filter(|requirement| !requirement.met_by(&handle.0))
        .map(|requirement| requirement.describe())
        .collect();
    HostResult {
        index,
        host: entry,
        evaluation,
    }
}

/// The fleet phase and the report: runs every fleet rule over the summaries in `results`
/// (from one process or merged from shards, in any order), then counts and orders everything.
/// The same results give the same report, byte for byte. The report's hosts and findings are
/// spooled as they are built, one host at a time.
pub fn finish_scan(
    results: impl Into<HostResults>,
    passed_over: Vec<PassedOver>,
    rules: &RuleSet,
    settings: &ScanSettings,
) -> ScanReport {
    let results: HostResults = results.into();
    let mut kept = std::mem::take(&mut *results.kept_results());
    kept.sort_by_key(|kept| kept.index);
    let profile = profile_of(settings);
    let context = context_map(&profile, &settings.params);
    let mut totals = Evaluation::default();
    let fleet_rules = std::mem::take(
        &mut *results
            .fleet_rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    // Each fleet rule's contributions, by its number in `fleet_rules`.
    let mut by_rule: Vec<Vec<Spot>> = vec![Vec::new(); fleet_rules.len()];
    // Taken, not drained: what a host held is freed for the rest of the scan.
    for host in kept.iter_mut() {
        for (rule, position) in std::mem::take(&mut host.contributions) {
            if let Some(positions) = by_rule.get_mut(rule as usize) {
                positions.push(position);
            }
        }
        totals
            .rule_errors
            .extend(std::mem::take(&mut host.rule_errors));
        totals.unchecked.extend(std::mem::take(&mut host.unchecked));
        totals.evaluations += host.evaluations as usize;
        totals.timed_out += host.timed_out as usize;
    }
    // The fleet rules run side by side on the pool, each with only its own contributions in
    // memory (at most one rule per thread at once), unless the largest rule's contributions
    // are so large that two such rules at once would double the scan's peak memory: then one
    // at a time. Their results are taken in rule order either way.
    let jobs: Vec<(&str, Vec<Spot>)> = rules
        .rules()
        .iter()
        .filter_map(|rule| {
            let id = rule.meta.id.as_str();
            let number = fleet_rules.iter().position(|known| known == id)?;
            Some((id, std::mem::take(&mut by_rule[number])))
        })
        .collect();
    let largest = jobs
        .iter()
        .map(|(_, positions)| {
            results
                .contributions
                .stored_bytes(positions.iter().map(|&position| position as usize))
        })
        .max()
        .unwrap_or(0);
    let host_of = HostsByName::new(kept.iter().map(|host| &*host.name_key));
    // The fleet rules' outcomes and findings wait on disk for the report, as the hosts' own
    // do: at 100,000 hosts, nine fleet rules' outcomes alone are hundreds of megabytes.
    let fleet_outcomes: Spool<RuleOutcome> = Spool::new();
    let fleet_findings: Spool<Finding> = Spool::new();
    let trace = crate::trace::active();
    let judge = |(id, positions): (&str, Vec<Spot>)| {
        let _trace = crate::trace::TraceScope::enter(trace.clone());
        // Read a contribution at a time: the fleet phase keeps each summary in the rule's own
        // spool, not in memory.
        let contributions = positions
            .into_iter()
            .filter_map(|position| results.contributions.get(position as usize));
        // Each outcome is spooled as it is decided: a rule has one for every host.
        let outcomes: Mutex<Vec<(u32, Spot)>> = Mutex::new(Vec::new());
        let evaluation = rules.judge_fleet(
            &[id],
            contributions,
            &context,
            settings.deadline.as_ref(),
            &|outcome| {
                // Outcomes of a name that is no host of the report are dropped, as no host
                // entry could show them.
                if let Some(at) = host_of.index_of(&outcome.host) {
                    let position = spot(fleet_outcomes.push(&outcome));
                    outcomes
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((at, position));
                }
            },
        );
        let outcomes = outcomes
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        JudgedFleetRule::spool(evaluation, outcomes, &host_of, &fleet_findings)
    };
    let judged = judge_fleet_rules(jobs, largest <= FLEET_SIDE_BY_SIDE_BYTES, judge);
    // Where each host's fleet outcomes and findings are spooled, sorted by host (stably: each
    // host's stay in rule order).
    let mut outcomes_at: Vec<(u32, Spot)> = Vec::new();
    let mut findings_at: Vec<(u32, Spot)> = Vec::new();
    let mut stray_findings: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for rule in judged {
        totals.rule_errors.extend(rule.rule_errors);
        totals.unchecked.extend(rule.unchecked);
        totals.evaluations += rule.evaluations;
        totals.timed_out += rule.timed_out;
        outcomes_at.extend(rule.outcomes);
        findings_at.extend(rule.findings);
        for finding in rule.stray_findings {
            stray_findings
                .entry(finding.host.to_lowercase())
                .or_default()
                .push(finding);
        }
    }
    totals.sort();
    outcomes_at.sort_by_key(|(host, _)| *host);
    findings_at.sort_by_key(|(host, _)| *host);
    let of_host = |at: &[(u32, Spot)], host: usize| -> Vec<usize> {
        let host = u32::try_from(host).unwrap_or(u32::MAX);
        let from = at.partition_point(|(owner, _)| *owner < host);
        at[from..]
            .iter()
            .take_while(|(owner, _)| *owner == host)
            .map(|(_, position)| *position as usize)
            .collect()
    };
    let mut report =
        crate::scan::ReportBuilder::start(passed_over, &totals, rules, settings, profile);
    // A chunk of hosts at a time, each read back, given its fleet outcomes and encoded on the
    // pool, then appended in order: the serial part is the append and the counts.
    let preparer = report.host_preparer();
    for (chunk_index, chunk) in kept.chunks(REPORT_CHUNK).enumerate() {
        let first = chunk_index * REPORT_CHUNK;
        let prepared: Vec<_> = chunk
            .par_iter()
            .enumerate()
            .filter_map(|(offset, host)| {
                let entry = results.entries.get(host.entry as usize)?;
                let mut outcomes = entry.outcomes;
                outcomes.extend(
                    of_host(&outcomes_at, first + offset)
                        .into_iter()
                        .filter_map(|position| fleet_outcomes.get(position)),
                );
                Some(preparer.prepare(entry.host, outcomes))
            })
            .collect();
        for host in prepared {
            report.add_prepared(host);
        }
    }
    drop(outcomes_at);
    // Findings go in the order of their hosts' names (then severity, rule and fingerprint):
    // each host's own and the fleet rules' findings on it, one host at a time.
    // Each name with the host it belongs to (an index into `kept`), or none for a name only a
    // fleet rule's findings carry.
    let mut by_name: Vec<(String, Option<usize>)> = kept
        .iter()
        .enumerate()
        .map(|(index, host)| (host.name_key.to_string(), Some(index)))
        .collect();
    // Stray names are no host's by construction (see `JudgedFleetRule::spool`).
    by_name.extend(stray_findings.keys().map(|name| (name.clone(), None)));
    by_name.sort();
    // A chunk of hosts at a time, their findings read back, merged, sorted and encoded on the
    // pool, then appended in order: the report is the same, and the serial part is the append.
    // A host no fleet rule adds to keeps its findings as stored (sorted when spooled).
    for chunk in by_name.chunks(REPORT_CHUNK) {
        // A stray name's findings are in memory; a host's fleet findings are read back on the
        // pool.
        let chunk: Vec<(Option<usize>, Vec<Finding>)> = chunk
            .iter()
            .map(|(name, index)| match index {
                Some(index) => (Some(*index), Vec::new()),
                None => (None, stray_findings.remove(name).unwrap_or_default()),
            })
            .collect();
        let encoded: Vec<Vec<(Severity, Vec<u8>)>> = chunk
            .into_par_iter()
            .map(|(index, stray)| {
                let fleet: Vec<Finding> = match index {
                    Some(index) => of_host(&findings_at, index)
                        .into_iter()
                        .filter_map(|position| fleet_findings.get(position))
                        .collect(),
                    None => stray,
                };
                let host = index.and_then(|index| kept.get(index));
                if let Some(host) = host.filter(|_| fleet.is_empty()) {
                    if let Some(stored) = stored_findings(&results.findings, host) {
                        return stored;
                    }
                }
                let mut findings = host
                    .and_then(|host| results.findings.get(host.findings as usize))
                    .unwrap_or_default();
                findings.extend(fleet);
                crate::ruleset::sort_findings(&mut findings);
                findings
                    .iter()
                    .map(|finding| (finding.severity, Spool::encode(finding)))
                    .collect()
            })
            .collect();
        for findings in encoded {
            report.add_encoded_findings(findings);
        }
    }
    let mut report = report.finish(totals);
    // Results the temporary files lost are missing above: the report says so (and is
    // incomplete, see `ScanReport::exit_code_with`).
    report.notices.extend(crate::spool::take_spool_failures());
    report
}

/// What one fleet rule's judgement left in memory: its errors and counts, and where its
/// outcomes and findings were spooled, each with the host it belongs to (an index into the
/// report's hosts).
struct JudgedFleetRule {
    rule_errors: Vec<RuleError>,
    unchecked: Vec<UncheckedRule>,
    evaluations: usize,
    timed_out: usize,
    outcomes: Vec<(u32, Spot)>,
    findings: Vec<(u32, Spot)>,
    /// Findings on a name that is no host of the report.
    stray_findings: Vec<Finding>,
}

/// Each host of the report by its lower-cased name, the first should two share one: the fleet
/// rules' outcomes and findings go to the host they name.
struct HostsByName<'a> {
    index: HashMap<&'a str, u32>,
}

impl<'a> HostsByName<'a> {
    /// Indexes `name_keys`, the report's hosts' lower-cased names in report order.
    fn new(name_keys: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let mut index = HashMap::with_capacity(name_keys.len());
        for (at, key) in name_keys.enumerate() {
            index
                .entry(key)
                .or_insert(u32::try_from(at).unwrap_or(u32::MAX));
        }
        HostsByName { index }
    }

    /// Where the host called `name` (in any case) is in the report, if it is one of its hosts.
    fn index_of(&self, name: &str) -> Option<u32> {
        self.index.get(name.to_lowercase().as_str()).copied()
    }
}

impl JudgedFleetRule {
    /// Spools the findings of `evaluation`, whose outcomes were spooled at `outcomes` as they
    /// were decided.
    fn spool(
        evaluation: Evaluation,
        outcomes: Vec<(u32, Spot)>,
        host_of: &HostsByName,
        findings: &Spool<Finding>,
    ) -> JudgedFleetRule {
        let mut judged = JudgedFleetRule {
            rule_errors: evaluation.rule_errors,
            unchecked: evaluation.unchecked,
            evaluations: evaluation.evaluations,
            timed_out: evaluation.timed_out,
            outcomes,
            findings: Vec::new(),
            stray_findings: Vec::new(),
        };
        for finding in evaluation.findings {
            match host_of.index_of(&finding.host) {
                Some(at) => judged.findings.push((at, spot(findings.push(&finding)))),
                None => judged.stray_findings.push(finding),
            }
        }
        judged
    }
}

/// A host's findings as spooled, each as [`Spool::encode`] gives it, with its severity; `None`
/// when they cannot be taken apart that way (they are then decoded instead).
fn stored_findings(
    findings: &Spool<Vec<Finding>>,
    host: &KeptResult,
) -> Option<Vec<(Severity, Vec<u8>)>> {
    let stored = findings.raw(host.findings as usize)?;
    let elements = crate::json_report::array_elements(&stored)?;
    (elements.len() == host.severities.len()).then(|| {
        host.severities
            .iter()
            .zip(elements)
            .map(|(severity, element)| (*severity, element.to_vec()))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The most jobs `judge_fleet_rules` ran at once, and what it returned.
    fn run(side_by_side: bool) -> (usize, Vec<usize>) {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let judged = pool.install(|| {
            judge_fleet_rules((0..8).collect(), side_by_side, |job: usize| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                job * 10
            })
        });
        (most.into_inner(), judged)
    }

    #[test]
    fn fleet_rules_are_judged_one_at_a_time_when_large_and_reported_in_order_either_way() {
        let (most, judged) = run(false);
        assert_eq!(most, 1);
        assert_eq!(judged, (0..8).map(|job| job * 10).collect::<Vec<_>>());
        let (most, side_by_side) = run(true);
        assert_eq!(side_by_side, judged);
        assert!(most <= 2, "two workers ran {most} jobs at once");
    }
}
