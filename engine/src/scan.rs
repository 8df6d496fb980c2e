//! `hiveward scan`: turns collected hosts into findings with the loaded rules, and the
//! serialisable scan report described by `schemas/findings.schema.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hiveward_collectors::{
    Collection, FileRecord, FileStatus, NameSource, Notice, PassedOver, Role,
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{RuleError, UncheckedRule};
use crate::finding::Finding;
use crate::host_api::{HostFacts, HostHandle};
use crate::inspect::ToolInfo;
use crate::rule::{Scope, Severity};
use crate::ruleset::{context_map, RuleSet};

/// Settings of one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanSettings {
    /// The paths scanned, as given.
    pub inputs: Vec<PathBuf>,
    /// The baseline profile (`cis` by default).
    pub profile: String,
    /// Site values passed to rules as `ctx.params`.
    pub params: BTreeMap<String, String>,
}

/// A loaded rule, as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RuleSummary {
    /// The id.
    pub id: String,
    /// The pack.
    pub pack: String,
    /// The title.
    pub title: String,
    /// The severity.
    pub severity: Severity,
    /// Host or fleet.
    pub scope: Scope,
    /// Whether it is built in.
    pub builtin: bool,
}

/// A host, as the scan report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScanHost {
    /// The name.
    pub name: String,
    /// Where the name came from.
    pub name_source: NameSource,
    /// The OS name, when known, such as `Windows Server 2019`.
    pub os: Option<String>,
    /// The OS build with UBR, when known, such as `17763.5458`.
    pub os_build: Option<String>,
    /// The role.
    pub role: Role,
    /// The evidence files and their status.
    pub files: Vec<FileRecord>,
    /// Notices about the host.
    pub notices: Vec<Notice>,
}

/// Findings per severity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SeverityCounts {
    /// Info findings.
    pub info: usize,
    /// Low findings.
    pub low: usize,
    /// Medium findings.
    pub medium: usize,
    /// High findings.
    pub high: usize,
    /// Critical findings.
    pub critical: usize,
}

/// Totals of a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScanSummary {
    /// Hosts scanned.
    pub hosts: usize,
    /// Files read fully.
    pub files_read: usize,
    /// Files read in part.
    pub files_partial: usize,
    /// Files listed but not read by this release.
    pub files_listed: usize,
    /// Files that could not be read.
    pub files_unreadable: usize,
    /// Files passed over.
    pub passed_over: usize,
    /// Rules run.
    pub rules: usize,
    /// Rule × host evaluations that completed.
    pub evaluations: usize,
    /// Findings.
    pub findings: usize,
    /// Rule errors.
    pub rule_errors: usize,
    /// Rule × host evaluations stopped by damaged evidence.
    pub unchecked: usize,
    /// Findings accepted by a waiver or the baseline.
    pub suppressed: usize,
}

/// The scan report, described by `schemas/findings.schema.json`. The same input gives the same
/// bytes, whatever the thread count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ScanReport {
    /// The tool that wrote it.
    pub tool: ToolInfo,
    /// The paths scanned.
    pub inputs: Vec<String>,
    /// The profile.
    pub profile: String,
    /// Site values given with `--param`.
    pub params: BTreeMap<String, String>,
    /// The rules run.
    pub rules: Vec<RuleSummary>,
    /// The hosts and their files.
    pub hosts: Vec<ScanHost>,
    /// Files passed over, with reasons.
    pub passed_over: Vec<PassedOver>,
    /// The findings, by host, severity (highest first) and rule.
    pub findings: Vec<Finding>,
    /// Rules that failed on a host.
    pub rule_errors: Vec<RuleError>,
    /// Rules that could not judge a host because evidence they read is damaged.
    pub unchecked: Vec<UncheckedRule>,
    /// Notices about the run itself: expired or unused waivers, baseline use.
    pub notices: Vec<Notice>,
    /// Findings per severity.
    pub counts: SeverityCounts,
    /// Totals.
    pub summary: ScanSummary,
}

/// Exit code: no finding at or above the threshold, and the evidence was read.
pub const EXIT_CLEAN: u8 = 0;
/// Exit code: findings at or above the threshold.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: invalid invocation, rules or packs, or a rule failed while running.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: evidence was unreadable, or nothing was checked.
pub const EXIT_INCOMPLETE: u8 = 3;

impl ScanReport {
    /// The exit code for `fail_on` (`None` means never fail on findings): 2 when a rule failed,
    /// else 1 when an unsuppressed finding is at or above the threshold, else 3 when evidence
    /// was unreadable, a rule was stopped by damaged evidence, or no rule could be evaluated,
    /// else 0. Waived and baselined findings never
    /// fail the run.
    pub fn exit_code(&self, fail_on: Option<Severity>) -> u8 {
        if !self.rule_errors.is_empty() {
            return EXIT_ERROR;
        }
        if let Some(threshold) = fail_on {
            if self
                .findings
                .iter()
                .any(|finding| finding.suppression.is_none() && finding.severity >= threshold)
            {
                return EXIT_FINDINGS;
            }
        }
        if self.summary.files_unreadable > 0
            || self.summary.unchecked > 0
            || self.summary.evaluations == 0
        {
            return EXIT_INCOMPLETE;
        }
        EXIT_CLEAN
    }
}

/// Reads OS facts and hotfixes for each collected host and hands them over as rule subjects,
/// with the file records and notices for the report.
pub fn host_facts(collection: Collection) -> (Vec<HostHandle>, Vec<ScanHost>, Vec<PassedOver>) {
    let mut handles = Vec::new();
    let mut hosts = Vec::new();
    for host in collection.hosts {
        let mut notices = host.notices.clone();
        let (os, hotfixes) = crate::inspect::os_and_hotfixes(&host.registry, &mut notices);
        hosts.push(ScanHost {
            name: host.name.clone(),
            name_source: host.name_source,
            os: os
                .as_ref()
                .and_then(|os| os.name.clone().or(os.product_name.clone())),
            os_build: os.as_ref().and_then(|os| os.os_build()),
            role: os.as_ref().map(|os| os.role).unwrap_or_default(),
            files: host.files.clone(),
            notices,
        });
        handles.push(HostHandle(Arc::new(HostFacts {
            name: host.name,
            registry: host.registry,
            os,
            hotfixes,
            files: host.files,
            events: host.events,
        })));
    }
    (handles, hosts, collection.passed_over)
}

/// Runs `rules` on the collected hosts and builds the report.
pub fn run_scan(collection: Collection, rules: &RuleSet, settings: &ScanSettings) -> ScanReport {
    let (handles, hosts, passed_over) = host_facts(collection);
    // Hosts with no readable evidence are reported but not evaluated: a rule would only see
    // absent values and report defaults that nothing backs.
    let readable: Vec<HostHandle> = handles
        .into_iter()
        .filter(|handle| {
            handle
                .0
                .files
                .iter()
                .any(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial))
        })
        .collect();
    let profile = if settings.profile.is_empty() {
        "cis".to_string()
    } else {
        settings.profile.clone()
    };
    let context = context_map(&profile, &settings.params);
    let evaluation = rules.evaluate(&readable, &context);
    let mut summary = ScanSummary {
        hosts: hosts.len(),
        passed_over: passed_over.len(),
        rules: rules.rules().len(),
        evaluations: evaluation.evaluations,
        findings: evaluation.findings.len(),
        rule_errors: evaluation.rule_errors.len(),
        unchecked: evaluation.unchecked.len(),
        ..ScanSummary::default()
    };
    for file in hosts.iter().flat_map(|host| &host.files) {
        match file.status {
            FileStatus::Read => summary.files_read += 1,
            FileStatus::Partial => summary.files_partial += 1,
            FileStatus::Listed => summary.files_listed += 1,
            FileStatus::Unreadable => summary.files_unreadable += 1,
        }
    }
    let mut counts = SeverityCounts::default();
    for finding in &evaluation.findings {
        match finding.severity {
            Severity::Info => counts.info += 1,
            Severity::Low => counts.low += 1,
            Severity::Medium => counts.medium += 1,
            Severity::High => counts.high += 1,
            Severity::Critical => counts.critical += 1,
        }
    }
    ScanReport {
        tool: ToolInfo::current(),
        inputs: settings
            .inputs
            .iter()
            .map(|input| input.display().to_string())
            .collect(),
        profile,
        params: settings.params.clone(),
        rules: rules
            .rules()
            .iter()
            .map(|rule| RuleSummary {
                id: rule.meta.id.clone(),
                pack: rule.meta.pack.clone(),
                title: rule.meta.title.clone(),
                severity: rule.meta.severity,
                scope: rule.meta.scope,
                builtin: rule.builtin,
            })
            .collect(),
        hosts,
        passed_over,
        findings: evaluation.findings,
        rule_errors: evaluation.rule_errors,
        unchecked: evaluation.unchecked,
        notices: Vec::new(),
        counts,
        summary,
    }
}

/// The JSON Schema of [`ScanReport`], as committed in `schemas/findings.schema.json`.
pub fn findings_schema() -> schemars::Schema {
    schemars::schema_for!(ScanReport)
}
