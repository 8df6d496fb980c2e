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

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Component, Path, PathBuf, Prefix};

use flate2::write::GzEncoder;
use flate2::Compression;
use hiveward_collectors::{FileStatus, Notice, NoticeLevel};
use serde_json::{json, Value};
use serde_sarif::sarif::{
    Artifact, ArtifactLocation, Invocation, Location, LogicalLocation, Message,
    MultiformatMessageString, Notification, PhysicalLocation, PropertyBag, Region,
    ReportingConfiguration, ReportingDescriptor, ReportingDescriptorReference,
    Result as SarifResult, ResultLevel, Run, RunAutomationDetails, Sarif,
    Suppression as SarifSuppression, Tool, ToolComponent,
};

use crate::error::RuleError;
use crate::finding::{Finding, SuppressionKind};
use crate::fix_text::{generic_fix_markdown, generic_fix_text};
use crate::outcome::Outcome;
use crate::rule::{RuleMeta, Severity};
use crate::ruleset::RuleSet;
use crate::scan::{ScanHost, ScanReport};
use crate::spool::Spool;

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
        let root = options
            .source_root
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .map(|root| normalize(&root))
            .unwrap_or_default();
        let paths = PathMapper { root };
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
            artifacts: crate::sarif_artifacts::artifacts(report, hosts, &paths),
            coverage: coverage_properties(report, hosts),
            execution_successful: report.rule_errors.is_empty()
                && report.unchecked.is_empty()
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

/// Ends `text` with a full stop unless it already ends a sentence.
fn sentence(text: &str) -> String {
    let trimmed = text.trim_end();
    if trimmed.is_empty() || trimmed.ends_with(['.', '!', '?']) {
        trimmed.to_string()
    } else {
        format!("{trimmed}.")
    }
}

/// A PascalCase identifier made from a rule title: `Strict name checking is disabled` becomes
/// `StrictNameCheckingIsDisabled`. Words in capitals are capitalised (`SMB` becomes `Smb`);
/// a name that would start with a digit starts with `Rule`.
pub(crate) fn pascal_case(title: &str) -> String {
    let mut name = String::new();
    let cleaned: String = title.chars().filter(|c| !matches!(c, '\'' | '’')).collect();
    for word in cleaned.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            continue;
        };
        name.push(first.to_ascii_uppercase());
        let rest = chars.as_str();
        let shouting = word.len() > 2 && !word.chars().any(|c| c.is_ascii_lowercase());
        if shouting {
            name.push_str(&rest.to_ascii_lowercase());
        } else {
            name.push_str(rest);
        }
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "Rule");
    }
    name
}

fn rule_tags(tags: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = tags
        .iter()
        .filter(|tag| seen.insert(tag.to_lowercase()))
        .cloned()
        .collect();
    if !seen.contains("security") {
        if out.len() >= GITHUB_MAX_TAGS {
            out.truncate(GITHUB_MAX_TAGS - 1);
        }
        out.push("security".to_string());
    } else if out.len() > GITHUB_MAX_TAGS {
        let security = out
            .iter()
            .position(|tag| tag.eq_ignore_ascii_case("security"))
            .map(|at| out.remove(at));
        out.truncate(GITHUB_MAX_TAGS - 1);
        out.extend(security);
    }
    out
}

fn is_web_uri(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(char::is_whitespace)
}

fn rule_descriptor(meta: &RuleMeta) -> ReportingDescriptor {
    let mut markdown = generic_fix_markdown(meta.fix.trim_end());
    if !meta.references.is_empty() {
        markdown.push_str("\n\n**References**\n");
        for reference in &meta.references {
            if is_web_uri(reference) {
                markdown.push_str(&format!("\n- <{reference}>"));
            } else {
                markdown.push_str(&format!("\n- {reference}"));
            }
        }
    }
    let help_uri = meta
        .help_uri
        .clone()
        .filter(|uri| is_web_uri(uri))
        .or_else(|| {
            meta.references
                .iter()
                .find(|reference| is_web_uri(reference))
                .cloned()
        });
    let mut properties = bag([
        ("security-severity", json!(security_severity(meta.severity))),
        ("severity", json!(meta.severity.name())),
        ("pack", json!(meta.pack)),
    ]);
    properties.tags = Some(rule_tags(&meta.tags));
    if !meta.references.is_empty() {
        properties
            .additional_properties
            .insert("references".to_string(), json!(meta.references));
    }
    ReportingDescriptor {
        id: meta.id.clone(),
        name: Some(pascal_case(&meta.title)),
        short_description: Some(plain(&sentence(&meta.title))),
        full_description: Some(plain(&sentence(&meta.description))),
        help: Some(MultiformatMessageString {
            text: generic_fix_text(meta.fix.trim_end()),
            markdown: Some(markdown),
            ..Blank::blank()
        }),
        help_uri,
        default_configuration: Some(ReportingConfiguration {
            level: Some(json!(level_name(meta.severity))),
            ..Default::default()
        }),
        properties: Some(properties),
        ..Blank::blank()
    }
}

fn minimal_descriptor(id: &str, title: &str, severity: Severity) -> ReportingDescriptor {
    let mut properties = bag([
        ("security-severity", json!(security_severity(severity))),
        ("severity", json!(severity.name())),
    ]);
    properties.tags = Some(vec!["security".to_string()]);
    ReportingDescriptor {
        id: id.to_string(),
        name: Some(pascal_case(title)),
        short_description: Some(plain(&sentence(title))),
        full_description: Some(plain(&sentence(title))),
        help: Some(plain(&sentence(title))),
        default_configuration: Some(ReportingConfiguration {
            level: Some(json!(level_name(severity))),
            ..Default::default()
        }),
        properties: Some(properties),
        ..Blank::blank()
    }
}

fn finding_result(
    finding: &Finding,
    first_files: &BTreeMap<&str, &str>,
    first_input: Option<&str>,
    rule_index: usize,
    paths: &PathMapper,
) -> SarifResult {
    let file = finding
        .evidence
        .iter()
        .find_map(|evidence| evidence.file.clone())
        .or_else(|| {
            first_files
                .get(finding.host.as_str())
                .map(|path| path.to_string())
        })
        .or_else(|| first_input.map(str::to_string));
    let evidence: Vec<Value> = finding
        .evidence
        .iter()
        .map(|evidence| {
            let mut value = serde_json::to_value(evidence).unwrap_or(Value::Null);
            if let Some(file) = evidence.file.as_deref() {
                value["file"] = Value::from(paths.display_path(file));
            }
            if !evidence.files.is_empty() {
                value["files"] = Value::from(
                    evidence
                        .files
                        .iter()
                        .map(|file| paths.display_path(file))
                        .collect::<Vec<_>>(),
                );
            }
            value
        })
        .collect();
    // Every other evidence file (event records from several logs, values from several hives)
    // is a related location, so that no file the finding rests on goes uncited.
    let mut others: Vec<String> = Vec::new();
    for evidence in &finding.evidence {
        for other in evidence.file.iter().chain(&evidence.files) {
            if Some(other) != file.as_ref() && !others.contains(other) {
                others.push(other.clone());
            }
        }
    }
    let related: Vec<Location> = others
        .iter()
        .enumerate()
        .map(|(index, other)| Location {
            id: Some(index as i64 + 1),
            physical_location: Some(PhysicalLocation {
                artifact_location: Some(paths.artifact_location(other)),
                ..Default::default()
            }),
            message: Some(text_message("Other evidence of this finding.".to_string())),
            ..Default::default()
        })
        .collect();
    let location = Location {
        physical_location: file.map(|file| PhysicalLocation {
            artifact_location: Some(paths.artifact_location(&file)),
            region: Some(Region {
                start_line: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        }),
        logical_locations: Some(logical_locations(finding, &evidence)),
        ..Default::default()
    };
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        "primaryLocationLineHash".to_string(),
        finding.fingerprint.clone(),
    );
    let properties = bag([
        ("host", json!(finding.host)),
        ("inferred", json!(finding.inferred)),
        ("severity", json!(finding.severity.name())),
        ("fix", json!(finding.fix)),
        ("evidence", Value::Array(evidence)),
    ]);
    let suppressions = finding.suppression.as_ref().map(|suppression| {
        let mut properties = bag([(
            "kind",
            json!(match suppression.kind {
                SuppressionKind::Waiver => "waiver",
                SuppressionKind::Baseline => "baseline",
            }),
        )]);
        if let Some(owner) = &suppression.owner {
            properties
                .additional_properties
                .insert("owner".to_string(), json!(owner));
        }
        if let Some(expires) = &suppression.expires {
            properties
                .additional_properties
                .insert("expires".to_string(), json!(expires));
        }
        vec![SarifSuppression {
            kind: json!("external"),
            status: Some(json!("accepted")),
            justification: Some(suppression.justification.clone()),
            properties: Some(properties),
            ..Blank::blank()
        }]
    });
    SarifResult {
        rule_id: Some(finding.rule.clone()),
        rule_index: Some(rule_index as i64),
        level: Some(result_level(finding.severity)),
        message: text_message(sentence(&finding.message)),
        locations: Some(vec![location]),
        related_locations: (!related.is_empty()).then_some(related),
        partial_fingerprints: Some(fingerprints),
        properties: Some(properties),
        suppressions,
        ..Blank::blank()
    }
}

/// The registry values and keys, event channels and records, and the host of a finding.
/// `evidence` is the finding's evidence as JSON, so that event fields are read by name.
fn logical_locations(finding: &Finding, evidence: &[Value]) -> Vec<LogicalLocation> {
    let mut locations: Vec<LogicalLocation> = Vec::new();
    let mut push = |location: LogicalLocation| {
        if !locations.iter().any(|known| {
            known.fully_qualified_name == location.fully_qualified_name
                && known.kind == location.kind
        }) {
            locations.push(location);
        }
    };
    for (item, json) in finding.evidence.iter().zip(evidence) {
        match item.kind.as_str() {
            "registry" => {
                let Some(key) = item.resolved_path.as_deref().or(item.path.as_deref()) else {
                    continue;
                };
                match item.value_name.as_deref() {
                    Some(value) => {
                        let value = if value.is_empty() { "(Default)" } else { value };
                        push(LogicalLocation {
                            name: Some(value.to_string()),
                            fully_qualified_name: Some(format!("{key}\\{value}")),
                            kind: Some("registryValue".to_string()),
                            ..Default::default()
                        });
                    }
                    None => push(LogicalLocation {
                        name: Some(key.rsplit('\\').next().unwrap_or(key).to_string()),
                        fully_qualified_name: Some(key.to_string()),
                        kind: Some("object".to_string()),
                        ..Default::default()
                    }),
                }
            }
            "event" => {
                let channel = json
                    .get("channel")
                    .and_then(Value::as_str)
                    .or(item.path.as_deref())
                    .unwrap_or_default();
                if channel.is_empty() {
                    continue;
                }
                let records: Vec<String> = json
                    .get("record_ids")
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().map(|id| id.to_string()).collect())
                    .unwrap_or_default();
                let qualified = if records.is_empty() {
                    channel.to_string()
                } else {
                    format!("{channel} record {}", records.join(", "))
                };
                push(LogicalLocation {
                    name: Some(channel.to_string()),
                    fully_qualified_name: Some(qualified),
                    kind: Some("object".to_string()),
                    ..Default::default()
                });
            }
            _ => {}
        }
    }
    push(LogicalLocation {
        name: Some(finding.host.clone()),
        fully_qualified_name: Some(finding.host.clone()),
        kind: Some("host".to_string()),
        ..Default::default()
    });
    locations
}

/// Notifications for the rule × host outcomes that are not a judgement: one per rule and reason
/// for rules that do not apply (`note`) or could not check (`warning`; those stopped by a
/// damaged read already have their own), and one per host on which nothing could be checked or
/// that lacks evidence `--require` demands (`error`).
fn coverage_notifications(
    report: &ScanReport,
    hosts: &[ScanHost],
    index: &BTreeMap<String, usize>,
    paths: &PathMapper,
) -> Vec<Notification> {
    // Damaged reads already have a notification of their own.
    let stopped: BTreeSet<(&str, &str)> = report
        .unchecked
        .iter()
        .map(|unchecked| (unchecked.rule.as_str(), unchecked.host.as_str()))
        .collect();
    let mut grouped: BTreeMap<(Outcome, String, String), Vec<String>> = BTreeMap::new();
    for host in hosts {
        for outcome in &host.outcomes {
            let wanted = match outcome.outcome {
                Outcome::NotApplicable => true,
                Outcome::NotChecked => {
                    !stopped.contains(&(outcome.rule.as_str(), host.name.as_str()))
                }
                _ => false,
            };
            if wanted {
                grouped
                    .entry((
                        outcome.outcome,
                        outcome.rule.clone(),
                        outcome.reason.clone().unwrap_or_default(),
                    ))
                    .or_default()
                    .push(host.name.clone());
            }
        }
    }
    let mut notifications = Vec::new();
    for ((outcome, rule, reason), hosts) in grouped {
        let (level, what, descriptor) = if outcome == Outcome::NotApplicable {
            (
                "note",
                "does not apply to",
                "hiveward::rules::not_applicable",
            )
        } else {
            ("warning", "could not check", "hiveward::rules::not_checked")
        };
        notifications.push(Notification {
            level: Some(json!(level)),
            message: text_message(sentence(&format!(
                "Rule {rule} {what} {} host(s) ({}): {}",
                hosts.len(),
                hosts.join(", "),
                paths.relativize_text(&reason)
            ))),
            descriptor: Some(descriptor_reference(descriptor)),
            associated_rule: Some(ReportingDescriptorReference {
                id: Some(rule.clone()),
                index: index.get(&rule).map(|index| *index as i64),
                ..Default::default()
            }),
            properties: Some(bag([
                ("rule", json!(rule)),
                ("outcome", json!(outcome.name())),
                ("reason", json!(paths.relativize_text(&reason))),
                ("hosts", json!(hosts)),
            ])),
            ..Blank::blank()
        });
    }
    for host in hosts {
        for notice in host.notices.iter().filter(|notice| {
            notice.code == "hiveward::scan::nothing_checked"
                || notice.code == "hiveward::scan::required_evidence_missing"
        }) {
            notifications.push(Notification {
                level: Some(json!("error")),
                message: text_message(sentence(&paths.relativize_text(&notice.message))),
                descriptor: Some(descriptor_reference(&notice.code)),
                properties: Some(bag([("host", json!(host.name))])),
                ..Blank::blank()
            });
        }
    }
    notifications
}

/// The run's coverage, for `runs[].properties`: totals, and per host the rules checked out of
/// those run with the counts of each outcome.
fn coverage_properties(report: &ScanReport, all_hosts: &[ScanHost]) -> PropertyBag {
    let summary = &report.summary;
    let hosts: Vec<Value> = all_hosts
        .iter()
        .map(|host| {
            json!({
                "host": host.name,
                "rules": host.coverage.rules,
                "checked": host.coverage.checked,
                "findings": host.coverage.findings,
                "passed": host.coverage.passed,
                "notApplicable": host.coverage.not_applicable,
                "notChecked": host.coverage.not_checked,
                "errors": host.coverage.errors,
            })
        })
        .collect();
    bag([(
        "coverage",
        json!({
            "hosts": summary.hosts,
            "rules": summary.rules,
            "checked": summary.checked,
            "passed": summary.passed,
            "notApplicable": summary.not_applicable,
            "notChecked": all_hosts.iter().map(|host| host.coverage.not_checked).sum::<usize>(),
            "hostsNotChecked": summary.hosts_not_checked,
            "hostsMissingRequired": summary.hosts_missing_required,
            "perHost": hosts,
        }),
    )])
}

fn notice_level(level: NoticeLevel) -> &'static str {
    match level {
        NoticeLevel::Note => "note",
        NoticeLevel::Warning => "warning",
        NoticeLevel::Error => "error",
    }
}

/// Notifications for the notices on files, hosts and the run, and for unreadable files; and
/// whether any file was unreadable.
fn evidence_notifications(
    report: &ScanReport,
    hosts: &[ScanHost],
    paths: &PathMapper,
) -> (Vec<Notification>, bool) {
    let mut seen: BTreeSet<(String, String, Option<String>, String)> = BTreeSet::new();
    let mut notifications = Vec::new();
    let mut unreadable = report.summary.files_unreadable > 0;
    let mut add = |host: &str, notice: &Notice, file: Option<&str>| {
        let file = notice.file.as_deref().or(file);
        let key = (
            host.to_string(),
            notice.code.clone(),
            file.map(str::to_string),
            notice.message.clone(),
        );
        if !seen.insert(key) {
            return;
        }
        notifications.push(notice_notification(notice, file, Some(host), paths));
    };
    for host in hosts {
        for file in &host.files {
            for notice in &file.notices {
                add(&host.name, notice, Some(&file.path));
            }
            if file.status == FileStatus::Unreadable {
                unreadable = true;
                if !file
                    .notices
                    .iter()
                    .any(|notice| notice.level == NoticeLevel::Error)
                {
                    add(
                        &host.name,
                        &Notice {
                            level: NoticeLevel::Error,
                            code: "hiveward::evidence::unreadable".to_string(),
                            file: Some(file.path.clone()),
                            message: format!("{} could not be read", file.path),
                        },
                        Some(&file.path),
                    );
                }
            }
        }
        for notice in &host.notices {
            add(&host.name, notice, None);
        }
    }
    // Notices about the run itself (waivers, the baseline, results the scan's temporary files
    // lost) belong to no host.
    for notice in &report.notices {
        notifications.push(notice_notification(
            notice,
            notice.file.as_deref(),
            None,
            paths,
        ));
    }
    (notifications, unreadable)
}

/// The notification of `notice` about `file`, on `host` (none for a notice about the run).
fn notice_notification(
    notice: &Notice,
    file: Option<&str>,
    host: Option<&str>,
    paths: &PathMapper,
) -> Notification {
    Notification {
        level: Some(json!(notice_level(notice.level))),
        message: text_message(sentence(&paths.relativize_text(&notice.message))),
        descriptor: Some(descriptor_reference(&notice.code)),
        locations: file.map(|file| vec![paths.file_location(file, None)]),
        properties: host.map(|host| bag([("host", json!(host))])),
        ..Blank::blank()
    }
}

fn rule_error_notification(
    error: &RuleError,
    rule_index: Option<usize>,
    paths: &PathMapper,
) -> Notification {
    let file = if error.file.starts_with("builtin:") {
        error.file.clone()
    } else {
        paths.display_path(&error.file)
    };
    let place = match (error.line, error.column) {
        (Some(line), Some(column)) => format!(" at {file}:{line}:{column}"),
        (Some(line), None) => format!(" at {file}:{line}"),
        _ => format!(" in {file}"),
    };
    let message = format!(
        "Rule {} failed on host {}{place}: {}",
        error.rule,
        error.host,
        paths.relativize_text(&error.message)
    );
    let location = if error.file.starts_with("builtin:") {
        // A built-in rule has no file on disk: name it as a logical location.
        Location {
            logical_locations: Some(vec![LogicalLocation {
                name: Some(error.rule.clone()),
                fully_qualified_name: Some(error.file.clone()),
                kind: Some("module".to_string()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    } else {
        paths.file_location(&error.file, error.line.map(|line| (line, error.column)))
    };
    let mut properties = bag([
        ("rule", json!(error.rule)),
        ("host", json!(error.host)),
        ("file", json!(file)),
    ]);
    if let Some(line) = error.line {
        properties
            .additional_properties
            .insert("line".to_string(), json!(line));
    }
    if let Some(column) = error.column {
        properties
            .additional_properties
            .insert("column".to_string(), json!(column));
    }
    Notification {
        level: Some(json!("error")),
        message: text_message(sentence(&message)),
        descriptor: Some(descriptor_reference("hiveward::rules::runtime")),
        associated_rule: Some(ReportingDescriptorReference {
            id: Some(error.rule.clone()),
            index: rule_index.map(|index| index as i64),
            ..Default::default()
        }),
        locations: Some(vec![location]),
        properties: Some(properties),
        ..Blank::blank()
    }
}

/// Turns file paths into SARIF artifact locations.
pub(crate) struct PathMapper {
    /// The directory `%SRCROOT%` stands for, absolute and normalised.
    root: PathBuf,
}

impl PathMapper {
    /// `path` relative to the root when it is under it (`Ok`), else absolute (`Err`).
    fn resolve(&self, path: &str) -> std::result::Result<PathBuf, PathBuf> {
        let given = Path::new(path);
        let escapes = given
            .components()
            .any(|component| component == Component::ParentDir);
        let absolute = if given.has_root() || given.is_absolute() {
            normalize(given)
        } else if escapes {
            normalize(&self.root.join(given))
        } else {
            return Ok(given.to_path_buf());
        };
        if let Ok(relative) = absolute.strip_prefix(&self.root) {
            return Ok(relative.to_path_buf());
        }
        // The root or the path may go through a symbolic link.
        let real = std::fs::canonicalize(&absolute).ok();
        let root = std::fs::canonicalize(&self.root).ok();
        match (real, root) {
            (Some(real), Some(root)) => match real.strip_prefix(root) {
                Ok(relative) => Ok(relative.to_path_buf()),
                Err(_) => Err(absolute),
            },
            _ => Err(absolute),
        }
    }

    /// `path` relative to `%SRCROOT%` when it is under it, else as an absolute `file:` URI.
    pub(crate) fn artifact_location(&self, path: &str) -> ArtifactLocation {
        match self.resolve(path) {
            Ok(relative) => {
                let segments: Vec<String> = relative
                    .components()
                    .filter_map(|component| match component {
                        Component::Normal(name) => Some(percent_encode(&name.to_string_lossy())),
                        _ => None,
                    })
                    .collect();
                let uri = if segments.is_empty() {
                    ".".to_string()
                } else {
                    segments.join("/")
                };
                ArtifactLocation {
                    uri: Some(uri),
                    uri_base_id: Some(SRCROOT.to_string()),
                    ..Default::default()
                }
            }
            Err(absolute) => ArtifactLocation {
                uri: Some(file_uri(&absolute)),
                ..Default::default()
            },
        }
    }

    /// `path` as a relative path with `/` when it is under the root, else unchanged.
    pub(crate) fn display_path(&self, path: &str) -> String {
        match self.resolve(path) {
            Ok(relative) => {
                let parts: Vec<String> = relative
                    .components()
                    .filter_map(|component| match component {
                        Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                if parts.is_empty() {
                    ".".to_string()
                } else {
                    parts.join("/")
                }
            }
            Err(_) => path.to_string(),
        }
    }

    /// `text` with the root's absolute path taken out of the paths it names, so that the
    /// output does not depend on where the evidence sat.
    pub(crate) fn relativize_text(&self, text: &str) -> String {
        let root = self.root.to_string_lossy();
        let root = root.trim_end_matches(['/', '\\']);
        if root.is_empty() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for separator in ['/', '\\'] {
            out = out.replace(&format!("{root}{separator}"), "");
        }
        out
    }

    /// A location naming a file, with a line and column when known.
    fn file_location(&self, path: &str, line: Option<(usize, Option<usize>)>) -> Location {
        Location {
            physical_location: Some(PhysicalLocation {
                artifact_location: Some(self.artifact_location(path)),
                region: line.map(|(line, column)| Region {
                    start_line: Some(line.max(1) as i64),
                    start_column: column.map(|column| column.max(1) as i64),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An absolute `file:` URI for `path`.
fn file_uri(path: &Path) -> String {
    let mut authority = String::new();
    let mut segments: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => match prefix.kind() {
                Prefix::Disk(letter) | Prefix::VerbatimDisk(letter) => {
                    segments.push(format!("{}:", char::from(letter)));
                }
                Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => {
                    authority = percent_encode(&server.to_string_lossy());
                    segments.push(percent_encode(&share.to_string_lossy()));
                }
                _ => segments.push(percent_encode(&prefix.as_os_str().to_string_lossy())),
            },
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => segments.push("..".to_string()),
            Component::Normal(name) => segments.push(percent_encode(&name.to_string_lossy())),
        }
    }
    format!("file://{authority}/{}", segments.join("/"))
}

/// Percent-encodes everything but unreserved characters (RFC 3986): `%4` becomes `%254`, a
/// space `%20`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pascal_case() {
        assert_eq!(
            pascal_case("Strict name checking is disabled (DisableStrictNameChecking = 1)"),
            "StrictNameCheckingIsDisabledDisableStrictNameChecking1"
        );
        assert_eq!(
            pascal_case("SPN target-name validation level doesn't meet the profile"),
            "SpnTargetNameValidationLevelDoesntMeetTheProfile"
        );
        assert_eq!(pascal_case("2 hosts share a name"), "Rule2HostsShareAName");
        assert_eq!(pascal_case("!!"), "Rule");
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(
            percent_encode("Microsoft-Windows-SMBServer%4Security.evtx"),
            "Microsoft-Windows-SMBServer%254Security.evtx"
        );
        assert_eq!(percent_encode("My Files~_.x"), "My%20Files~_.x");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn paths_under_the_root_are_relative() {
        let mapper = PathMapper {
            root: PathBuf::from("/cases/7"),
        };
        let relative = mapper.artifact_location("/cases/7/FS01/config/SYSTEM");
        assert_eq!(relative.uri.as_deref(), Some("FS01/config/SYSTEM"));
        assert_eq!(relative.uri_base_id.as_deref(), Some(SRCROOT));
        let dotted = mapper.artifact_location("./bundle/../bundle/x y.hiv");
        assert_eq!(dotted.uri.as_deref(), Some("bundle/x%20y.hiv"));
        let outside = mapper.artifact_location("/evidence/a b/SYSTEM");
        assert_eq!(
            outside.uri.as_deref(),
            Some("file:///evidence/a%20b/SYSTEM")
        );
        assert_eq!(outside.uri_base_id, None);
        let escaping = mapper.artifact_location("../8/SYSTEM");
        assert_eq!(escaping.uri.as_deref(), Some("file:///cases/8/SYSTEM"));
    }

    #[test]
    fn texts_and_paths_lose_the_root() {
        let mapper = PathMapper {
            root: PathBuf::from("/cases/7"),
        };
        assert_eq!(
            mapper.relativize_text("/cases/7/FS01/SYSTEM: not a hive; /cases/70/x stays"),
            "FS01/SYSTEM: not a hive; /cases/70/x stays"
        );
        assert_eq!(mapper.display_path("/cases/7/a b/SYSTEM"), "a b/SYSTEM");
        assert_eq!(
            mapper.display_path("/elsewhere/SYSTEM"),
            "/elsewhere/SYSTEM"
        );
    }

    #[test]
    fn tags_always_include_security_within_the_limit() {
        let many: Vec<String> = (0..30).map(|n| format!("t{n}")).collect();
        let tags = rule_tags(&many);
        assert_eq!(tags.len(), GITHUB_MAX_TAGS);
        assert_eq!(tags.last().map(String::as_str), Some("security"));
        assert_eq!(
            rule_tags(&["smb".to_string(), "security".to_string()]),
            ["smb", "security"]
        );
    }
}
