//! The streaming scan: each planned host is collected, judged by the host rules and the fleet
//! rules' `summarize`, and released, in parallel; then the fleet phase runs over the
//! summaries and the report is built. Memory holds one host per worker thread plus the
//! results, never every host's evidence at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hiveward_collectors::{
    collect_host, CollectOptions, FileStatus, Host, PassedOver, PlannedHost,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::evaluate::HostEvaluation;
use crate::host_api::{HostFacts, HostHandle};
use crate::outcome::{Coverage, Outcome, RuleOutcome};
use crate::ruleset::{context_map, Evaluation, RuleSet};
use crate::scan::{ScanHost, ScanReport, ScanSettings};

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

/// Collects and judges the planned hosts (all of them, or those `keep` accepts), in parallel
/// on the current rayon pool; `progress` is called after each host with the hosts and files
/// done. Each host is released as soon as it is judged.
pub fn scan_planned_hosts(
    hosts: &[PlannedHost],
    keep: &(dyn Fn(&PlannedHost) -> bool + Sync),
    rules: &RuleSet,
    settings: &ScanSettings,
    options: &CollectOptions,
    progress: &(dyn Fn(HostsDone) + Sync),
) -> Vec<HostResult> {
    let context = context_map(&profile_of(settings), &settings.params);
    let done = AtomicUsize::new(0);
    let files_done = AtomicUsize::new(0);
    hosts
        .par_iter()
        .enumerate()
        .filter(|(_, planned)| keep(planned))
        .map(|(index, planned)| {
            let host = collect_host(planned, options);
            let result = judge_host(index, host, rules, &context, settings);
            let files = planned.files.len();
            progress(HostsDone {
                hosts: done.fetch_add(1, Ordering::Relaxed) + 1,
                files: files_done.fetch_add(files, Ordering::Relaxed) + files,
            });
            result
        })
        .collect()
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
/// The same results give the same report, byte for byte.
pub fn finish_scan(
    mut results: Vec<HostResult>,
    passed_over: Vec<PassedOver>,
    rules: &RuleSet,
    settings: &ScanSettings,
) -> ScanReport {
    results.sort_by_key(|result| result.index);
    let profile = profile_of(settings);
    let context = context_map(&profile, &settings.params);
    let mut evaluation = Evaluation::default();
    let mut contributions = Vec::new();
    let mut hosts = Vec::with_capacity(results.len());
    for result in results {
        let mut host_evaluation = result.evaluation;
        contributions.append(&mut host_evaluation.contributions);
        evaluation.absorb_host(host_evaluation);
        hosts.push(result.host);
    }
    let fleet = rules.evaluate_fleet(&[], contributions, &context, settings.deadline.as_ref());
    evaluation.absorb(fleet);
    evaluation.sort();
    crate::scan::build_report(hosts, passed_over, evaluation, rules, settings, profile)
}
