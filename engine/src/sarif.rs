//! The SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.
//!
//! - `tool.driver` lists every loaded rule with its full metadata: descriptions, the fix as
//!   `help`, `helpUri`, tags and `security-severity`.
//! - Each finding is a result whose physical location is its evidence file, relative to
//!   `%SRCROOT%` (the directory hiveward ran in), with `region.startLine` 1; the registry value
//!   or event channel goes in `logicalLocations`, and the finding's stable fingerprint in
//!   `partialFingerprints.primaryLocationLineHash`.
//! - Unreadable evidence, warnings about files and hosts, and rule errors are
//!   `toolExecutionNotifications`; `executionSuccessful` is false when a rule failed or evidence
//!   could not be read.
//! - Waived and baselined findings carry an `external`, `accepted` suppression.
//! - GitHub's limits (results per run, gzipped size) are kept by leaving out the lowest-severity
//!   results, with a notification that says how many.
//!
//! The same report always gives the same bytes: there are no timestamps, and `%SRCROOT%` is
//! described without an absolute path.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use hiveward_collectors::FileStatus;
use serde_json::{json, Value};
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Invocation, Message, MultiformatMessageString, Notification,
    PropertyBag, ReportingDescriptor, ReportingDescriptorReference, Result as SarifResult,
    ResultLevel, Run, RunAutomationDetails, Sarif, Suppression as SarifSuppression, Tool,
    ToolComponent,
};

use crate::rule::Severity;
use crate::ruleset::RuleSet;
use crate::scan::ScanReport;
use crate::spool::Spool;

pub(crate) mod artifacts;
mod descriptors;
mod notifications;
mod paths;
mod results;

use descriptors::{minimal_descriptor, rule_descriptor, sentence};
use notifications::{
    coverage_notifications, coverage_properties, evidence_notifications, rule_error_notification,
};
pub(crate) use paths::PathMapper;
use results::finding_result;

/// The `uriBaseId` every evidence path is relative to.
pub const SRCROOT: &str = "%SRCROOT%";

/// The most results GitHub code scanning accepts in one run.
pub const GITHUB_MAX_RESULTS: usize = 25_000;

/// The largest gzipped SARIF file GitHub code scanning accepts (10 MB).
pub const GITHUB_MAX_GZIP_BYTES: usize = 10_000_000;

/// The most tags GitHub reads per rule.
const GITHUB_MAX_TAGS: usize = 20;

const INFORMATION_URI: &str = "https://github.com/hiveward/hiveward";
const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// How the SARIF report is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SarifOptions {
    /// `runAutomationDetails.id`, which names the scan (GitHub's category is the part before
    /// the last `/`). Empty means `hiveward/<profile>/`.
    pub automation_id: String,
    /// Leave waived and baselined findings out instead of listing them as suppressed.
    pub omit_suppressed: bool,
    /// The most results to write ([`GITHUB_MAX_RESULTS`] by default).
    pub max_results: usize,
    /// The largest gzipped output to write ([`GITHUB_MAX_GZIP_BYTES`] by default).
    pub max_gzip_bytes: usize,
    /// The directory `%SRCROOT%` stands for: evidence paths under it are written relative to
    /// it. `None` means the current directory.
    pub source_root: Option<PathBuf>,
    /// Whether `source_root` is the directory the scan ran in (as `hiveward merge` gives the
    /// shards' folder), so that the log describes it as a scan in one process would.
    pub source_root_is_scan_directory: bool,
}

impl Default for SarifOptions {
    fn default() -> Self {
        SarifOptions {
            automation_id: String::new(),
            omit_suppressed: false,
            max_results: GITHUB_MAX_RESULTS,
            max_gzip_bytes: GITHUB_MAX_GZIP_BYTES,
            source_root: None,
            source_root_is_scan_directory: false,
        }
    }
}

/// GitHub's `security-severity` score for a severity: a number from 0.1 to 10.0, as a string.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The SARIF level of a severity: `error` for high and critical, `warning` for medium, `note`
/// for low and info.
fn result_level(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

fn level_name(severity: Severity) -> &'static str {
    match result_level(severity) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        ResultLevel::Note => "note",
        ResultLevel::None => "none",
    }
}

/// The SARIF log of `report`, with the metadata of `rules`. Results are left out, lowest
/// severity first, when they would exceed `options.max_results` or `options.max_gzip_bytes`;
/// a notification then says how many. It never fails.
pub fn to_sarif(report: &ScanReport, rules: &RuleSet, options: &SarifOptions) -> Sarif {
    serde_json::from_slice(&sarif_bytes(report, rules, options)).unwrap_or_else(|_| Sarif {
        version: json!("2.1.0"),
        runs: Vec::new(),
        ..Blank::blank()
    })
}

/// [`to_sarif`] as pretty-printed JSON ending in a newline, within the size limits.
pub fn sarif_bytes(report: &ScanReport, rules: &RuleSet, options: &SarifOptions) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = write_sarif(report, rules, options, &mut bytes);
    bytes
}

/// Writes [`sarif_bytes`] to `out`. The results are spooled to a temporary file as they are
/// made and written one at a time, so memory does not grow with the number of findings.
pub fn write_sarif(
    report: &ScanReport,
    rules: &RuleSet,
    options: &SarifOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let writer = Writer::new(report, rules, options);
    let total = writer.results.len();
    let mut keep = total.min(options.max_results);
    loop {
        let skeleton = writer.skeleton(keep);
        let length = writer.document_len(&skeleton);
        // Gzip adds at most a header and 5 bytes per 64 KiB block to text that does not
        // compress, so output well below the limit needs no compressing to know it fits.
        let fits_raw = length + length / 100 + 64 <= options.max_gzip_bytes;
        let size = if fits_raw {
            0
        } else {
            gzip_size(&writer, &skeleton)
        };
        if size <= options.max_gzip_bytes || keep == 0 {
            return writer.write_document(&skeleton, out);
        }
        // Shrink in proportion, with a margin, and always by at least one result.
        let estimate =
            (keep as u128 * options.max_gzip_bytes as u128 * 95 / 100 / size as u128) as usize;
        keep = estimate.min(keep - 1);
    }
}

/// Where the results go in the pretty-printed log: `runs[0].results`, written empty in the
/// skeleton and filled in as the log is written.
const RESULTS_PLACE: &str = "\n      \"results\": []";

/// The indentation of one result inside `runs[0].results`.
const RESULT_INDENT: &str = "        ";

/// The log without its results, pretty-printed, and which results go in it.
struct Skeleton {
    text: Vec<u8>,
    kept: Vec<usize>,
}

fn pretty(sarif: &Sarif) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(sarif).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Counts the bytes written to it.
struct ByteCounter(usize);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn gzip_size(writer: &Writer, skeleton: &Skeleton) -> usize {
    let mut encoder = GzEncoder::new(ByteCounter(0), Compression::default());
    if writer.write_document(skeleton, &mut encoder).is_err() {
        return usize::MAX;
    }
    encoder.finish().map_or(usize::MAX, |counter| counter.0)
}

/// One result pretty-printed at its place in the log: every line indented by
/// [`RESULT_INDENT`] (JSON strings hold no raw line breaks, so this is exact).
fn indented_result(result: &SarifResult) -> String {
    let text = serde_json::to_string_pretty(result).unwrap_or_default();
    let mut indented = String::with_capacity(text.len() + text.len() / 8);
    for (at, line) in text.split('\n').enumerate() {
        if at > 0 {
            indented.push('\n');
        }
        indented.push_str(RESULT_INDENT);
        indented.push_str(line);
    }
    indented
}

/// Everything but the choice of results, built once.
struct Writer {
    rules: Vec<ReportingDescriptor>,
    /// Every result, pretty-printed at its place ([`indented_result`]), before the limits.
    results: Spool<String>,
    /// Each result's length in bytes.
    result_lengths: Vec<usize>,
    /// Indexes into `results`, highest severity first, then in report order.
    by_severity: Vec<usize>,
    notifications: Vec<Notification>,
    artifacts: Vec<Artifact>,
    coverage: PropertyBag,
    execution_successful: bool,
    automation_id: String,
    root_description: &'static str,
    max_results: usize,
    max_gzip_bytes: usize,
}

impl Writer {
    fn new(report: &ScanReport, rules: &RuleSet, options: &SarifOptions) -> Writer {
        let paths = PathMapper::new(
            options
                .source_root
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_default(),
        );
        let hosts = &report.hosts[..];
        // Where a finding that names no file points: its host's first readable file.
        let first_files: BTreeMap<&str, &str> = hosts
            .iter()
            .filter_map(|host| {
                host.files
                    .iter()
                    .find(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial))
                    .map(|file| (host.name.as_str(), file.path.as_str()))
            })
            .collect();

        let mut descriptors: Vec<ReportingDescriptor> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for rule in rules.rules() {
            if !index.contains_key(&rule.meta.id) {
                index.insert(rule.meta.id.clone(), descriptors.len());
                descriptors.push(rule_descriptor(&rule.meta));
            }
        }
        // Rules the report names but the rule set lacks still get a descriptor, so every
        // result has a valid ruleIndex.
        let extras = report
            .rules
            .iter()
            .map(|rule| (rule.id.clone(), rule.title.clone(), rule.severity))
            .chain(
                report
                    .findings
                    .stream()
                    .map(|finding| (finding.rule, finding.title, finding.severity)),
            );
        for (id, title, severity) in extras {
            if !index.contains_key(&id) {
                index.insert(id.clone(), descriptors.len());
                descriptors.push(minimal_descriptor(&id, &title, severity));
            }
        }

        let results = Spool::new();
        let mut result_lengths = Vec::new();
        let mut severities = Vec::new();
        let mut omitted_suppressed = 0;
        for finding in report.findings.stream() {
            if options.omit_suppressed && finding.suppression.is_some() {
                omitted_suppressed += 1;
                continue;
            }
            let result = finding_result(
                &finding,
                &first_files,
                report.inputs.first().map(String::as_str),
                index[&finding.rule],
                &paths,
            );
            let text = indented_result(&result);
            result_lengths.push(text.len());
            results.push(&text);
            severities.push(finding.severity);
        }
        let mut by_severity: Vec<usize> = (0..severities.len()).collect();
        by_severity.sort_by(|&a, &b| severities[b].cmp(&severities[a]).then(a.cmp(&b)));

        let (notifications, unreadable) = evidence_notifications(report, hosts, &paths);
        let mut all_notifications = notifications;
        for error in &report.rule_errors {
            all_notifications.push(rule_error_notification(
                error,
                index.get(&error.rule).copied(),
                &paths,
            ));
        }
        for unchecked in &report.unchecked {
            all_notifications.push(Notification {
                level: Some(json!("warning")),
                message: text_message(sentence(&format!(
                    "Rule {} could not check host {}: {}",
                    unchecked.rule,
                    unchecked.host,
                    paths.relativize_text(&unchecked.message)
                ))),
                descriptor: Some(descriptor_reference("hiveward::rules::evidence_unreadable")),
                associated_rule: Some(ReportingDescriptorReference {
                    id: Some(unchecked.rule.clone()),
                    index: index.get(&unchecked.rule).map(|index| *index as i64),
                    ..Default::default()
                }),
                properties: Some(bag([
                    ("rule", json!(unchecked.rule)),
                    ("host", json!(unchecked.host)),
                ])),
                ..Blank::blank()
            });
        }
        all_notifications.extend(coverage_notifications(report, hosts, &index, &paths));
        if !report.passed_over.is_empty() {
            all_notifications.push(Notification {
                level: Some(json!("note")),
                message: text_message(format!(
                    "{} file(s) were passed over as not evidence hiveward reads; the JSON report lists them with the reasons.",
                    report.passed_over.len()
                )),
                descriptor: Some(descriptor_reference("hiveward::bundle::passed_over")),
                ..Blank::blank()
            });
        }
        if omitted_suppressed > 0 {
            all_notifications.push(Notification {
                level: Some(json!("note")),
                message: text_message(format!(
                    "{omitted_suppressed} waived or baselined finding(s) were left out."
                )),
                descriptor: Some(descriptor_reference("hiveward::sarif::suppressed_omitted")),
                ..Blank::blank()
            });
        }

        let automation_id = if options.automation_id.is_empty() {
            format!("hiveward/{}/", report.profile)
        } else {
            options.automation_id.clone()
        };
        Writer {
            rules: descriptors,
            results,
            result_lengths,
            by_severity,
            notifications: all_notifications,
            artifacts: crate::sarif::artifacts::artifacts(report, hosts, &paths),
            coverage: coverage_properties(report, hosts),
            execution_successful: report.rule_errors.is_empty()
                && report.unchecked.is_empty()
                && report.summary.checked > 0
                && report.summary.hosts_not_checked == 0
                && report.summary.hosts_missing_required == 0
                && report.summary.timed_out == 0
                && !report.lost_results()
                && !unreadable,
            automation_id,
            root_description: if options.source_root.is_some()
                && !options.source_root_is_scan_directory
            {
                "the directory the evidence paths are relative to"
            } else {
                "the directory hiveward ran in"
            },
            max_results: options.max_results,
            max_gzip_bytes: options.max_gzip_bytes,
        }
    }

    /// The log that keeps the `keep` highest-severity results (in report order), without
    /// them.
    fn skeleton(&self, keep: usize) -> Skeleton {
        let total = self.results.len();
        let keep = keep.min(total);
        let mut kept: Vec<usize> = self.by_severity[..keep].to_vec();
        kept.sort_unstable();
        Skeleton {
            text: pretty(&self.assemble(keep)),
            kept,
        }
    }

    /// The length of the log that `skeleton` describes.
    fn document_len(&self, skeleton: &Skeleton) -> usize {
        if skeleton.kept.is_empty() {
            return skeleton.text.len();
        }
        let results: usize = skeleton
            .kept
            .iter()
            .map(|&index| self.result_lengths[index] + 2)
            .sum();
        // `[]` becomes `[`, a line break, the results with `,` and a line break between, a
        // line break and the indented `]`.
        skeleton.text.len() + results - 2 + 1 + 6 + 1
    }

    /// Writes the log that `skeleton` describes, with its results read back one at a time.
    fn write_document(&self, skeleton: &Skeleton, out: &mut dyn Write) -> std::io::Result<()> {
        let place = RESULTS_PLACE.as_bytes();
        let at = skeleton
            .text
            .windows(place.len())
            .position(|window| window == place);
        let (Some(at), false) = (at, skeleton.kept.is_empty()) else {
            return out.write_all(&skeleton.text);
        };
        let open = at + place.len() - 1;
        out.write_all(&skeleton.text[..open])?;
        for (number, &index) in skeleton.kept.iter().enumerate() {
            out.write_all(if number == 0 { b"\n" } else { b",\n" })?;
            let text = self.results.get(index).unwrap_or_default();
            out.write_all(text.as_bytes())?;
        }
        out.write_all(b"\n      ")?;
        out.write_all(&skeleton.text[open..])
    }

    /// The log with the `keep` highest-severity results counted, and no result in it.
    fn assemble(&self, keep: usize) -> Sarif {
        let total = self.results.len();
        let keep = keep.min(total);
        let results: Vec<SarifResult> = Vec::new();
        let mut notifications = self.notifications.clone();
        if keep < total {
            notifications.push(Notification {
                level: Some(json!("warning")),
                message: text_message(format!(
                    "{} of {} results were left out, lowest severity first, to stay within the limits of {} results and {} gzipped bytes that GitHub code scanning sets; the JSON report lists every finding.",
                    total - keep,
                    total,
                    self.max_results,
                    self.max_gzip_bytes
                )),
                descriptor: Some(descriptor_reference("hiveward::sarif::truncated")),
                properties: Some(bag([
                    ("omitted", json!(total - keep)),
                    ("total", json!(total)),
                ])),
                ..Blank::blank()
            });
        }
        let driver = ToolComponent {
            name: "hiveward".to_string(),
            full_name: Some(format!("hiveward {}", env!("CARGO_PKG_VERSION"))),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
            semantic_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            information_uri: Some(INFORMATION_URI.to_string()),
            rules: Some(self.rules.clone()),
            ..Blank::blank()
        };
        let invocation = Invocation {
            execution_successful: self.execution_successful,
            tool_execution_notifications: Some(notifications),
            ..Blank::blank()
        };
        let mut base_ids = BTreeMap::new();
        base_ids.insert(
            SRCROOT.to_string(),
            ArtifactLocation {
                description: Some(text_message(self.root_description.to_string())),
                ..Default::default()
            },
        );
        let run = Run {
            tool: Tool {
                driver,
                ..Blank::blank()
            },
            invocations: Some(vec![invocation]),
            original_uri_base_ids: Some(base_ids),
            artifacts: Some(self.artifacts.clone()),
            automation_details: Some(RunAutomationDetails {
                id: Some(self.automation_id.clone()),
                ..Default::default()
            }),
            results: Some(results),
            properties: Some(self.coverage.clone()),
            ..Blank::blank()
        };
        Sarif {
            schema: Some(SCHEMA_URI.to_string()),
            version: json!("2.1.0"),
            runs: vec![run],
            ..Blank::blank()
        }
    }
}

/// An empty value of a SARIF type whose required fields get real values from the caller (the
/// generated types implement `Default` only when they have no required field).
trait Blank {
    fn blank() -> Self;
}

impl Blank for Notification {
    fn blank() -> Self {
        Notification::builder().message(Message::default()).build()
    }
}

impl Blank for MultiformatMessageString {
    fn blank() -> Self {
        MultiformatMessageString::builder()
            .text(String::new())
            .build()
    }
}

impl Blank for ReportingDescriptor {
    fn blank() -> Self {
        ReportingDescriptor::builder().id(String::new()).build()
    }
}

impl Blank for SarifSuppression {
    fn blank() -> Self {
        SarifSuppression::builder().kind(Value::Null).build()
    }
}

impl Blank for SarifResult {
    fn blank() -> Self {
        SarifResult::builder().message(Message::default()).build()
    }
}

impl Blank for ToolComponent {
    fn blank() -> Self {
        ToolComponent::builder().name(String::new()).build()
    }
}

impl Blank for Tool {
    fn blank() -> Self {
        Tool::builder().driver(ToolComponent::blank()).build()
    }
}

impl Blank for Invocation {
    fn blank() -> Self {
        Invocation::builder().execution_successful(false).build()
    }
}

impl Blank for Run {
    fn blank() -> Self {
        Run::builder().tool(Tool::blank()).build()
    }
}

impl Blank for Sarif {
    fn blank() -> Self {
        Sarif::builder().version(Value::Null).build()
    }
}

fn bag<const N: usize>(entries: [(&str, Value); N]) -> PropertyBag {
    PropertyBag {
        tags: None,
        additional_properties: entries
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
    }
}

fn text_message(text: String) -> Message {
    Message {
        text: Some(text),
        ..Default::default()
    }
}

fn plain(text: &str) -> MultiformatMessageString {
    MultiformatMessageString {
        text: text.to_string(),
        ..Blank::blank()
    }
}

fn descriptor_reference(id: &str) -> ReportingDescriptorReference {
    ReportingDescriptorReference {
        id: Some(id.to_string()),
        ..Default::default()
    }
}
