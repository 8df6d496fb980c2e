//! `hiveward scan`: turns collected hosts into findings with the loaded rules, and the
//! serialisable scan report described by `schemas/findings.schema.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hiveward_collectors::{
    Collection, FileRecord, FileStatus, NameSource, Notice, NoticeLevel, PassedOver, Role,
};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::deadline::RunDeadline;
use crate::error::{RuleError, UncheckedRule};
use crate::finding::Finding;
use crate::host_api::HostFacts;
use crate::inspect::ToolInfo;
use crate::outcome::{Coverage, Outcome, RuleOutcome};
use crate::rule::{Scope, Severity};
use crate::ruleset::{context_map, Evaluation, RuleSet};
use crate::spool::Spool;

/// Settings of one scan.
#[derive(Clone, Debug, Default)]
pub struct ScanSettings {
    /// The paths scanned, as given.
    pub inputs: Vec<PathBuf>,
    /// The baseline profile (`cis` by default).
    pub profile: String,
    /// Site values passed to rules as `ctx.params`.
    pub params: BTreeMap<String, String>,
    /// Evidence every host must have (`--require`); a host without it makes the run incomplete.
    pub require: Vec<Requirement>,
    /// When the run must stop (`--timeout`): evaluations not made by then are *not checked*,
    /// and the run is incomplete.
    pub deadline: Option<RunDeadline>,
}

/// Evidence a host must have, as `--require` names it: `system`, `software`, `hkcu`, `sam`,
/// `security` (hives), `events` (any readable event log) or `log:CHANNEL` (a log of that
/// channel, such as `log:Security`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// A hive: `SYSTEM`, `SOFTWARE`, `HKCU`, `SAM` or `SECURITY`.
    Hive(&'static str),
    /// Any readable event log.
    AnyLog,
    /// A log of this channel.
    Log(String),
}

impl Requirement {
    /// Parses one `--require` word.
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let word = text.trim();
        if let Some(channel) = word
            .strip_prefix("log:")
            .or_else(|| word.strip_prefix("LOG:"))
        {
            if channel.trim().is_empty() {
                return Err("`log:` needs a channel, such as `log:Security`".to_string());
            }
            return Ok(Requirement::Log(channel.trim().to_string()));
        }
        match word.to_ascii_lowercase().as_str() {
            "system" => Ok(Requirement::Hive("SYSTEM")),
            "software" => Ok(Requirement::Hive("SOFTWARE")),
            "hkcu" | "ntuser" => Ok(Requirement::Hive("HKCU")),
            "sam" => Ok(Requirement::Hive("SAM")),
            "security" => Ok(Requirement::Hive("SECURITY")),
            "events" | "evtx" => Ok(Requirement::AnyLog),
            _ => Err(format!(
                "unknown evidence kind `{word}`: expected system, software, hkcu, sam, security, events or log:CHANNEL"
            )),
        }
    }

    /// How reports name it: `SYSTEM hive`, `an event log`, `Security log`.
    pub fn describe(&self) -> String {
        match self {
            Requirement::Hive(hive) => format!("{hive} hive"),
            Requirement::AnyLog => "an event log".to_string(),
            Requirement::Log(channel) => format!("{channel} log"),
        }
    }

    /// Whether `host` has it.
    pub fn met_by(&self, host: &HostFacts) -> bool {
        match self {
            Requirement::Hive(hive) => host.has_hive(hive),
            Requirement::AnyLog => !host.log_channels.is_empty() || !host.events.is_empty(),
            Requirement::Log(channel) => host.has_log(channel),
        }
    }
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    /// How many of the rules run could really judge the host.
    pub coverage: Coverage,
    /// Each rule's outcome on the host, by rule id.
    pub outcomes: Vec<HostOutcome>,
    /// Evidence `--require` demands that the host lacks.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub missing_required: Vec<String>,
}

/// One rule's outcome on a host, as the host's entry in the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostOutcome {
    /// The rule id.
    pub rule: String,
    /// How the evaluation ended.
    pub outcome: Outcome,
    /// Why the rule did not apply, could not check, or failed; for a passed verdict marked
    /// `inferred`, the assumption it rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Findings it reported on the host.
    pub findings: usize,
    /// A passed verdict that rests on an assumption: the rule read a hive that was read dirty,
    /// without the transaction logs that hold its latest writes (the reason names it). Left out
    /// of the JSON when false.
    #[serde(default, skip_serializing_if = "crate::outcome::is_false")]
    pub inferred: bool,
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
    /// Rule × host evaluations that completed (a fleet rule counts once).
    pub evaluations: usize,
    /// Rule × host outcomes that judged a host: findings or passed.
    pub checked: usize,
    /// Rule × host outcomes that passed.
    pub passed: usize,
    /// Of those, outcomes whose verdict is inferred: the rule read a hive read dirty, with no
    /// usable transaction log, so its latest changes may be missing. Left out of the JSON when
    /// none.
    #[serde(default, skip_serializing_if = "crate::outcome::is_zero")]
    pub passed_inferred: usize,
    /// Rule × host outcomes that are not applicable.
    pub not_applicable: usize,
    /// Hosts on which no rule could check anything.
    pub hosts_not_checked: usize,
    /// Hosts that lack evidence `--require` demands.
    pub hosts_missing_required: usize,
    /// Findings.
    pub findings: usize,
    /// Rule errors.
    pub rule_errors: usize,
    /// Rule × host evaluations stopped by damaged evidence.
    pub unchecked: usize,
    /// Rule × host outcomes that are *not checked* because the run's `--timeout` expired before
    /// or while the rule ran (a fleet rule counts once per host); any makes the run incomplete.
    pub timed_out: usize,
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
    // Spooled: kept in a temporary file, read back as the reports need them.
    /// The hosts and their files.
    pub hosts: Spool<ScanHost>,
    /// Files passed over, with reasons.
    pub passed_over: Vec<PassedOver>,
    // Spooled, as the hosts are.
    /// The findings, by host, severity (highest first) and rule.
    pub findings: Spool<Finding>,
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
    /// Each finding's rule, host, severity and suppression, in report order, read back
    /// without the rest of the finding.
    pub(crate) fn finding_heads(&self) -> impl Iterator<Item = crate::finding::FindingHead> + '_ {
        self.findings.stream_as(crate::finding::FindingHead::of)
    }

    /// The exit code for `fail_on` (`None` means never fail on findings): 2 when a rule failed,
    /// else 1 when an unsuppressed finding is at or above the threshold, else 3 when evidence
    /// was unreadable, a rule was stopped by damaged evidence, or no rule could be evaluated,
    /// else 0. Waived and baselined findings never
    /// fail the run. A host on which no rule could check anything, or one that lacks evidence
    /// `--require` demands, also makes it 3. Same as [`ScanReport::exit_code_with`] without
    /// `allow_partial`.
    pub fn exit_code(&self, fail_on: Option<Severity>) -> u8 {
        self.exit_code_with(fail_on, false)
    }

    /// Whether results were lost on the way to the report: read back from the scan's
    /// temporary files, they could not be (see [`crate::SPOOL_READ_FAILED`]).
    pub fn lost_results(&self) -> bool {
        crate::spool::results_lost(&self.notices)
    }

    /// The exit code, where `allow_partial` (`--allow-partial`) accepts unreadable or damaged
    /// evidence and hosts on which nothing could be checked, but never a run that checked
    /// nothing at all, a host that lacks evidence `--require` demands, or a run whose
    /// `--timeout` expired before every evaluation was made, or one that lost results.
    pub fn exit_code_with(&self, fail_on: Option<Severity>, allow_partial: bool) -> u8 {
        if !self.rule_errors.is_empty() {
            return EXIT_ERROR;
        }
        if let Some(threshold) = fail_on {
            if self
                .finding_heads()
                .any(|finding| finding.suppression.is_none() && finding.severity >= threshold)
            {
                return EXIT_FINDINGS;
            }
        }
        if self.summary.checked == 0
            || self.summary.hosts_missing_required > 0
            || self.summary.timed_out > 0
            || self.lost_results()
        {
            return EXIT_INCOMPLETE;
        }
        if !allow_partial
            && (self.summary.files_unreadable > 0
                || self.summary.unchecked > 0
                || self.summary.hosts_not_checked > 0)
        {
            return EXIT_INCOMPLETE;
        }
        EXIT_CLEAN
    }
}

/// Runs `rules` on hosts already collected and builds the report: the host phase on each host
/// (in parallel), then the fleet phase. A scan of a bundle streams its hosts instead
/// ([`crate::scan_planned_hosts`], [`crate::finish_scan`]); both give the same report.
pub fn run_scan(collection: Collection, rules: &RuleSet, settings: &ScanSettings) -> ScanReport {
    let context = context_map(&crate::pipeline::profile_of(settings), &settings.params);
    let results = crate::pipeline::HostResults::new();
    collection
        .hosts
        .into_par_iter()
        .enumerate()
        .for_each(|(index, host)| {
            results.push(crate::pipeline::judge_host(
                index, host, rules, &context, settings,
            ))
        });
    crate::pipeline::finish_scan(results, collection.passed_over, rules, settings)
}

/// Builds the report host by host: the hosts' entries in report order, then the findings in
/// report order, each spooled as it is added, with the counts kept as they go.
pub(crate) struct ReportBuilder<'a> {
    report: ScanReport,
    settings: &'a ScanSettings,
}

impl<'a> ReportBuilder<'a> {
    /// A report with no host yet; `totals` gives the evaluation counts, the rule errors and
    /// the unchecked evaluations (its findings and outcomes are not used).
    pub(crate) fn start(
        passed_over: Vec<PassedOver>,
        totals: &Evaluation,
        rules: &RuleSet,
        settings: &'a ScanSettings,
        profile: String,
    ) -> ReportBuilder<'a> {
        let summary = ScanSummary {
            passed_over: passed_over.len(),
            rules: rules.rules().len(),
            evaluations: totals.evaluations,
            rule_errors: totals.rule_errors.len(),
            unchecked: totals.unchecked.len(),
            timed_out: totals.timed_out,
            ..ScanSummary::default()
        };
        let mut notices = Vec::new();
        if let Some(deadline) = settings.deadline.as_ref().filter(|_| totals.timed_out > 0) {
            notices.push(Notice {
                code: TIMEOUT_CODE.to_string(),
                level: NoticeLevel::Error,
                file: None,
                message: format!(
                    "the run's --timeout of {} expired: {} rule × host evaluation(s) were not made or not finished and are reported as not checked; the results are incomplete",
                    deadline.timeout().text,
                    totals.timed_out
                ),
            });
        }
        let report = ScanReport {
            tool: ToolInfo::current(),
            inputs: settings
                .inputs
                .iter()
                .map(|input| hiveward_collectors::path_text(input))
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
            hosts: Spool::new(),
            passed_over,
            findings: Spool::new(),
            rule_errors: Vec::new(),
            unchecked: Vec::new(),
            notices,
            counts: SeverityCounts::default(),
            summary,
        };
        ReportBuilder { report, settings }
    }

    /// What makes hosts ready for [`ReportBuilder::add_prepared`], on any thread.
    pub(crate) fn host_preparer(&self) -> HostPreparer<'a> {
        HostPreparer {
            settings: self.settings,
            timed_out: self.report.summary.timed_out > 0,
        }
    }

    /// Adds the next host, made ready by [`HostPreparer::prepare`].
    pub(crate) fn add_prepared(&mut self, prepared: PreparedHost) {
        let summary = &mut self.report.summary;
        let tally = &prepared.tally;
        summary.hosts += 1;
        summary.checked += tally.coverage.checked;
        summary.passed += tally.coverage.passed;
        summary.passed_inferred += tally.coverage.passed_inferred;
        summary.not_applicable += tally.coverage.not_applicable;
        summary.hosts_not_checked += usize::from(tally.nothing_checked);
        summary.hosts_missing_required += usize::from(tally.missing_required);
        summary.files_read += tally.files_read;
        summary.files_partial += tally.files_partial;
        summary.files_listed += tally.files_listed;
        summary.files_unreadable += tally.files_unreadable;
        self.report.hosts.push_encoded(&prepared.encoded);
    }

    /// Adds one host's findings, already in report order and encoded with [`Spool::encode`].
    pub(crate) fn add_encoded_findings(&mut self, findings: Vec<(Severity, Vec<u8>)>) {
        let counts = &mut self.report.counts;
        for (severity, bytes) in findings {
            match severity {
                Severity::Info => counts.info += 1,
                Severity::Low => counts.low += 1,
                Severity::Medium => counts.medium += 1,
                Severity::High => counts.high += 1,
                Severity::Critical => counts.critical += 1,
            }
            self.report.findings.push_encoded(&bytes);
        }
        self.report.summary.findings = self.report.findings.len();
    }

    /// The report, with the rule errors and unchecked evaluations of `totals`.
    pub(crate) fn finish(mut self, totals: Evaluation) -> ScanReport {
        self.report.rule_errors = totals.rule_errors;
        self.report.unchecked = totals.unchecked;
        if let Some(notice) = nothing_checked_notice(&self.report.summary) {
            self.report.notices.push(notice);
        }
        self.report
    }
}

/// The run's own notice when it checked nothing at all (the exit code is then 3): every format
/// then records why, also when there was no host to carry a notice of its own.
fn nothing_checked_notice(summary: &ScanSummary) -> Option<Notice> {
    if summary.checked > 0 {
        return None;
    }
    let why = if summary.rules == 0 {
        "no rule was loaded or selected".to_string()
    } else if summary.hosts == 0 {
        format!(
            "no host was found in the evidence given ({} file(s) passed over, each listed with the reason)",
            summary.passed_over
        )
    } else {
        format!(
            "no rule could judge any of the {} host(s) on the evidence given (each host's notices say what the rules lacked)",
            summary.hosts
        )
    };
    Some(Notice {
        code: NOTHING_CHECKED_CODE.to_string(),
        level: NoticeLevel::Error,
        file: None,
        message: format!("nothing was checked: {why}; the results are incomplete"),
    })
}

/// The code of the notices that say nothing was checked: on a host, or on the whole run.
pub const NOTHING_CHECKED_CODE: &str = "hiveward::scan::nothing_checked";

/// Makes a host ready for the report: its outcomes sorted and attached, its notices added and
/// its entry encoded. Each host is made ready on its own, so that hosts can be made ready on
/// the pool and only their appends, in report order, are serial.
#[derive(Clone, Copy)]
pub(crate) struct HostPreparer<'a> {
    settings: &'a ScanSettings,
    /// Whether the run's deadline stopped some evaluation (hosts then note which of theirs).
    timed_out: bool,
}

/// A host made ready by [`HostPreparer::prepare`]: its report entry as the hosts' spool stores
/// it, and what it adds to the summary.
pub(crate) struct PreparedHost {
    encoded: Vec<u8>,
    tally: HostTally,
}

/// What one host adds to the report's summary.
struct HostTally {
    coverage: Coverage,
    nothing_checked: bool,
    missing_required: bool,
    files_read: usize,
    files_partial: usize,
    files_listed: usize,
    files_unreadable: usize,
}

impl HostPreparer<'_> {
    /// `host` with every outcome decided on it (host and fleet rules, any order), made ready.
    pub(crate) fn prepare(
        self,
        mut host: ScanHost,
        mut outcomes: Vec<RuleOutcome>,
    ) -> PreparedHost {
        if let Some(deadline) = self.settings.deadline.as_ref().filter(|_| self.timed_out) {
            note_timeout(&mut host, &outcomes, deadline);
        }
        outcomes.sort_by(|a, b| a.rule.cmp(&b.rule));
        let nothing_checked = attach_outcomes(&mut host, outcomes);
        let missing_required = !host.missing_required.is_empty();
        if missing_required {
            let notice = required_notice(&host);
            host.notices.push(notice);
        }
        let mut tally = HostTally {
            coverage: host.coverage.clone(),
            nothing_checked,
            missing_required,
            files_read: 0,
            files_partial: 0,
            files_listed: 0,
            files_unreadable: 0,
        };
        for file in &host.files {
            match file.status {
                FileStatus::Read => tally.files_read += 1,
                FileStatus::Partial => tally.files_partial += 1,
                FileStatus::Listed => tally.files_listed += 1,
                FileStatus::Unreadable => tally.files_unreadable += 1,
            }
        }
        PreparedHost {
            encoded: Spool::encode(&host),
            tally,
        }
    }
}

/// A notice that the host lacks evidence `--require` demands.
fn required_notice(host: &ScanHost) -> Notice {
    Notice {
        code: "hiveward::scan::required_evidence_missing".to_string(),
        level: NoticeLevel::Error,
        file: None,
        message: format!(
            "{}: --require demands evidence this host lacks: {}",
            host.name,
            host.missing_required.join(", ")
        ),
    }
}

/// The code of the notices that say the run's `--timeout` expired.
pub(crate) const TIMEOUT_CODE: &str = "hiveward::scan::timeout";

/// Adds to a host whose evaluations the run's deadline stopped or kept from running a notice
/// naming those rules.
fn note_timeout(host: &mut ScanHost, outcomes: &[RuleOutcome], deadline: &RunDeadline) {
    let reasons = [deadline.not_run_reason(), deadline.stopped_reason()];
    let rules: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| {
            outcome.outcome == Outcome::NotChecked
                && outcome
                    .reason
                    .as_ref()
                    .is_some_and(|reason| reasons.contains(reason))
        })
        .map(|outcome| outcome.rule.as_str())
        .collect();
    if rules.is_empty() {
        return;
    }
    let mut rules = rules;
    rules.sort_unstable();
    host.notices.push(Notice {
        code: TIMEOUT_CODE.to_string(),
        level: NoticeLevel::Error,
        file: None,
        message: format!(
            "{}: the run's --timeout of {} expired before {} rule(s) could check this host: {}",
            host.name,
            deadline.timeout().text,
            rules.len(),
            rules.join(", ")
        ),
    });
}

/// Gives the host its outcomes and coverage, and notes it when no rule could check anything on
/// it, with what the rules lacked: whether that is so.
fn attach_outcomes(host: &mut ScanHost, mine: Vec<RuleOutcome>) -> bool {
    host.coverage = Coverage::of(&mine);
    let nothing_checked = host.coverage.checked == 0 && host.coverage.rules > 0;
    if nothing_checked {
        let message = format!(
            "{}: no rule could check anything on this host ({} rule(s): {} not applicable, {} not checked, {} failed); it has {}; the rules lacked: {}",
            host.name,
            host.coverage.rules,
            host.coverage.not_applicable,
            host.coverage.not_checked,
            host.coverage.errors,
            evidence_held(host),
            lacking_summary(&mine)
        );
        host.notices.push(Notice {
            code: NOTHING_CHECKED_CODE.to_string(),
            level: NoticeLevel::Error,
            file: None,
            message,
        });
    }
    host.outcomes = mine
        .into_iter()
        .map(|outcome| HostOutcome {
            rule: outcome.rule,
            outcome: outcome.outcome,
            reason: outcome.reason,
            findings: outcome.findings,
            inferred: outcome.inferred,
        })
        .collect();
    nothing_checked
}

/// What the rules lacked, most often missing first: each reason is split into its parts
/// ("SYSTEM hive absent", "no Security log"), counted over the rules, and the first four are
/// named, with how many other parts there were.
pub(crate) fn lacking_summary(outcomes: &[RuleOutcome]) -> String {
    let mut counted: Vec<(String, usize)> = Vec::new();
    for reason in outcomes
        .iter()
        .filter_map(|outcome| outcome.reason.as_ref())
    {
        // Reasons are cut only outside parentheses: a clause in brackets stays whole.
        let mut parts: Vec<String> = split_outside_brackets(reason, "; ")
            .into_iter()
            .flat_map(|part| split_outside_brackets(part, ", and "))
            .map(|part| split_outside_brackets(part, ": ")[0].trim().to_string())
            .filter(|part| !part.is_empty())
            .collect();
        parts.sort();
        parts.dedup();
        for part in parts {
            match counted.iter_mut().find(|(known, _)| *known == part) {
                Some((_, count)) => *count += 1,
                None => counted.push((part, 1)),
            }
        }
    }
    counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = counted
        .iter()
        .take(4)
        .map(|(part, count)| format!("{part} ({count} rule(s))"))
        .collect();
    let mut text = shown.join(", ");
    if counted.len() > 4 {
        text.push_str(&format!(", and {} other reason(s)", counted.len() - 4));
    }
    text
}

/// `text` cut at each `separator` (ASCII) that is outside parentheses and square brackets.
fn split_outside_brackets<'t>(text: &'t str, separator: &str) -> Vec<&'t str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        match bytes[at] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        // An ASCII separator that matches starts at a char boundary.
        if depth == 0 && bytes[at..].starts_with(separator.as_bytes()) {
            parts.push(&text[start..at]);
            at += separator.len();
            start = at;
            continue;
        }
        at += 1;
    }
    parts.push(&text[start..]);
    parts
}

/// The evidence a host has, for messages: `SAM hive, SECURITY hive, 1 .reg export(s), 1 event
/// log(s)`.
fn evidence_held(host: &ScanHost) -> String {
    let mut kinds: Vec<String> = Vec::new();
    let mut exports = 0;
    let mut logs = 0;
    for file in host
        .files
        .iter()
        .filter(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial))
    {
        match file.hive_kind {
            Some(kind) => {
                let name = format!("{} hive", crate::inspect_text::hive_kind_name(kind));
                if !kinds.contains(&name) {
                    kinds.push(name);
                }
            }
            None if file.events.is_some() => logs += 1,
            None if file.kind == hiveward_collectors::FileKind::RegExport => exports += 1,
            None => {}
        }
    }
    if exports > 0 {
        kinds.push(format!("{exports} .reg export(s)"));
    }
    if logs > 0 {
        kinds.push(format!("{logs} event log(s)"));
    }
    if kinds.is_empty() {
        "no readable evidence".to_string()
    } else {
        kinds.join(", ")
    }
}

/// The JSON Schema of [`ScanReport`], as committed in `schemas/findings.schema.json`.
pub fn findings_schema() -> schemars::Schema {
    schemars::schema_for!(ScanReport)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_applicable(rule: &str, reason: &str) -> RuleOutcome {
        RuleOutcome {
            rule: rule.to_string(),
            host: "FS01".to_string(),
            outcome: Outcome::NotApplicable,
            reason: Some(reason.to_string()),
            findings: 0,
            inferred: false,
        }
    }

    #[test]
    fn lacking_summary_cuts_reasons_only_outside_brackets() {
        let outcomes = [
            not_applicable(
                "HW-A",
                "outgoing: the SOFTWARE hive is absent, so the policy is unknown (and the build is unknown, and it applies from build 26100 (Windows 11 24H2; Server 2025)); SYSTEM hive absent",
            ),
            not_applicable("HW-B", "SYSTEM hive absent: the setting is unknown"),
            not_applicable("HW-C", "ünïcode reason (x: y), and SYSTEM hive absent"),
        ];
        assert_eq!(
            lacking_summary(&outcomes),
            "SYSTEM hive absent (3 rule(s)), outgoing (1 rule(s)), ünïcode reason (x: y) (1 rule(s))"
        );
        assert_eq!(
            split_outside_brackets("a; b (c; d); e", "; "),
            ["a", "b (c; d)", "e"]
        );
        assert_eq!(split_outside_brackets("", "; "), [""]);
    }
}
