//! Baselines: the fingerprints of accepted findings (`--write-baseline FILE`), so that a later
//! run with `--baseline FILE` fails only on new findings.
//!
//! The file is JSON, sorted and deterministic, so it can be committed and diffed:
//!
//! ```json
//! {
//!   "version": 1,
//!   "tool": "hiveward",
//!   "fingerprints": [
//!     { "fingerprint": "0123456789abcdef0123456789abcdef", "rule": "HW-STRICT-001", "host": "FS01" }
//!   ]
//! }
//! ```
//!
//! Only the fingerprint decides whether a finding is in the baseline; `rule` and `host` are
//! there for people reading the file. Fingerprints hash the rule id, the host name and where
//! the evidence was read (never paths on disk, values or time), so the file does not change
//! with the thread count, the order of inputs or where the bundle sits.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::{Deserialize, Deserializer, Serialize};

use crate::finding::{Finding, Suppression, SuppressionKind};
use crate::waiver::Location;

/// The baseline format version this release writes and reads.
const VERSION: u64 = 1;

/// Why a baseline file cannot be used. It names the file and points at the line.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum BaselineError {
    /// The file is not valid JSON, or not a hiveward baseline.
    #[error("{origin}:{line}:{column}: {message}")]
    #[diagnostic(
        code(hiveward::baseline::invalid),
        help(
            "a baseline is the JSON that `hiveward scan --write-baseline FILE` writes: {{\"version\": 1, \"tool\": \"hiveward\", \"fingerprints\": [{{\"fingerprint\": ..., \"rule\": ..., \"host\": ...}}]}}"
        )
    )]
    Invalid {
        /// The baseline file, as given.
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong.
        message: String,
        /// The file text.
        #[source_code]
        source_code: Arc<NamedSource<String>>,
        /// Where.
        #[label("{message}")]
        span: SourceSpan,
    },
}

impl BaselineError {
    /// The one-based line the error points at.
    pub fn line(&self) -> usize {
        match self {
            BaselineError::Invalid { line, .. } => *line,
        }
    }

    /// The message, without the location.
    pub fn message(&self) -> &str {
        match self {
            BaselineError::Invalid { message, .. } => message,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Entry {
    fingerprint: String,
    rule: String,
    host: String,
}

#[derive(Serialize)]
struct BaselineOut {
    version: u64,
    tool: &'static str,
    fingerprints: Vec<Entry>,
}

/// The baseline file for `findings`: every finding that is not waived (a waived finding stays
/// out, so that the waiver's expiry still brings it back), sorted by fingerprint, rule and
/// host, without duplicates, as pretty-printed JSON with a trailing newline. The same findings
/// give the same bytes, in any order.
pub fn baseline_json<F: std::borrow::Borrow<Finding>>(
    findings: impl IntoIterator<Item = F>,
) -> String {
    let mut entries: Vec<Entry> = findings
        .into_iter()
        .filter(|finding| {
            let finding: &Finding = finding.borrow();
            !matches!(
                finding.suppression,
                Some(Suppression {
                    kind: SuppressionKind::Waiver,
                    ..
                })
            )
        })
        .map(|finding| {
            let finding: &Finding = finding.borrow();
            Entry {
                fingerprint: finding.fingerprint.clone(),
                rule: finding.rule.clone(),
                host: finding.host.clone(),
            }
        })
        .collect();
    entries.sort();
    entries.dedup();
    let mut json = serde_json::to_string_pretty(&BaselineOut {
        version: VERSION,
        tool: "hiveward",
        fingerprints: entries,
    })
    .expect("a baseline always serializes");
    json.push('\n');
    json
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineIn {
    #[serde(deserialize_with = "version")]
    #[allow(dead_code)]
    version: u64,
    #[serde(deserialize_with = "tool")]
    #[allow(dead_code)]
    tool: String,
    fingerprints: Vec<EntryIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    #[serde(deserialize_with = "fingerprint_text")]
    fingerprint: String,
    #[serde(default)]
    #[allow(dead_code)]
    rule: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    host: Option<String>,
}

fn version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let version = u64::deserialize(deserializer)?;
    if version != VERSION {
        return Err(serde::de::Error::custom(format!(
            "unsupported baseline version {version} (this hiveward reads version {VERSION})"
        )));
    }
    Ok(version)
}

fn tool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let tool = String::deserialize(deserializer)?;
    if tool != "hiveward" {
        return Err(serde::de::Error::custom(format!(
            "the file was written by `{tool}`, not hiveward"
        )));
    }
    Ok(tool)
}

fn fingerprint_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.len() != 32 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(serde::de::Error::custom(format!(
            "`{text}` is not a finding fingerprint (32 hex digits)"
        )));
    }
    Ok(text.to_ascii_lowercase())
}

/// The fingerprints of a baseline file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    origin: String,
    fingerprints: BTreeSet<String>,
}

/// Parses a baseline file. Errors name the file and point at the line.
pub fn load_baseline(path: &Path, text: &str) -> Result<Baseline, BaselineError> {
    let origin = path.display().to_string();
    let parsed: BaselineIn = serde_json::from_str(text).map_err(|error| {
        let offset = offset_of_line_column(text, error.line(), error.column());
        let location = Location::at(&origin, text, offset, None);
        BaselineError::Invalid {
            origin: location.origin,
            line: location.line,
            column: location.column,
            message: json_message(&error),
            source_code: location.source_code,
            span: location.span,
        }
    })?;
    Ok(Baseline {
        origin,
        fingerprints: parsed
            .fingerprints
            .into_iter()
            .map(|entry| entry.fingerprint)
            .collect(),
    })
}

/// serde_json's message without its ` at line L column C` suffix (the location is shown
/// separately).
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_string()
}

/// The byte offset of serde_json's one-based line and column (column 0, which serde_json
/// reports at the start of a line or for an empty file, means the start of the line).
fn offset_of_line_column(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(index) => start += index + 1,
            None => return text.len(),
        }
    }
    let line_length = text[start..].find('\n').unwrap_or(text.len() - start);
    start + column.saturating_sub(1).min(line_length)
}

impl Baseline {
    /// The baseline file, as given.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many fingerprints the baseline holds.
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// Whether the baseline holds no fingerprint.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty()
    }

    /// Whether `fingerprint` is in the baseline.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.fingerprints
            .contains(&fingerprint.to_ascii_lowercase())
    }

    /// Marks the findings whose fingerprint is in the baseline as `baseline`, with the
    /// justification `in baseline FILE`. A finding that is already suppressed (by a waiver)
    /// keeps that suppression. Returns how many findings it marked.
    pub fn apply(&self, findings: &mut [Finding]) -> usize {
        self.apply_each(|mark| findings.iter_mut().for_each(mark))
    }

    /// [`Baseline::apply`] over findings `each` visits one at a time (a spooled report's).
    pub fn apply_each(&self, each: impl FnOnce(&mut dyn FnMut(&mut Finding))) -> usize {
        let mut marked = 0;
        each(&mut |finding: &mut Finding| {
            if finding.suppression.is_none() && self.contains(&finding.fingerprint) {
                finding.suppression = Some(Suppression {
                    kind: SuppressionKind::Baseline,
                    justification: format!("in baseline {}", self.origin),
                    owner: None,
                    expires: None,
                });
                marked += 1;
            }
        });
        marked
    }
}
