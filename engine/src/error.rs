//! Typed errors for rules and packs that cannot be loaded, and for rules that fail at run time.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pack::SourceFile;

/// Why a pack or rule could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RuleLoadError {
    /// A file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    #[diagnostic(code(hiveward::rules::io))]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating-system error (in the message, so not repeated as a cause).
        error: std::io::Error,
    },

    /// A `--rules` path holds no pack.
    #[error("{}: not a rule pack: {detail}", path.display())]
    #[diagnostic(
        code(hiveward::rules::not_a_pack),
        help("a pack is a folder with a pack.toml and one .rhai file per rule")
    )]
    NotAPack {
        /// The folder.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },

    /// A pack holds a symbolic link. Links are never followed, so that a pack cannot make
    /// hiveward read (and quote in its errors) files outside the pack.
    #[error("{}: is a symbolic link; rule packs may not hold links", path.display())]
    #[diagnostic(
        code(hiveward::rules::link),
        help("copy the file into the pack instead of linking it; hiveward never follows links inside a pack, so that a pack cannot make it read files outside the pack")
    )]
    Link {
        /// The link.
        path: PathBuf,
    },

    /// A pack holds something that is not a regular file where a file belongs (a FIFO, a
    /// socket or a device).
    #[error("{}: is a {kind}, not a regular file; rule packs hold only regular files", path.display())]
    #[diagnostic(code(hiveward::rules::not_a_file))]
    SpecialFile {
        /// The entry.
        path: PathBuf,
        /// What it is.
        kind: String,
    },

    /// A file or pack is over a load limit: its size, or what compiling it would cost.
    #[error("{origin}: {detail}")]
    #[diagnostic(
        code(hiveward::rules::limit),
        help("the limits on rule packs are listed in docs/limits.md")
    )]
    OverLimit {
        /// The file or pack folder, as a path or `builtin:PACK/FILE`.
        origin: String,
        /// Which limit, and by how much.
        detail: String,
    },

    /// A rule, library or manifest has an error at a known place.
    #[error("{origin}:{line}:{column}: {message}")]
    #[diagnostic(code(hiveward::rules::invalid))]
    Invalid {
        /// The file, as a path or `builtin:PACK/FILE`.
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

impl RuleLoadError {
    /// An error at byte `offset` of `file`.
    pub fn in_file(file: &SourceFile, offset: usize, message: impl Into<String>) -> RuleLoadError {
        let offset = offset.min(file.text.len());
        let (line, column) = line_column(&file.text, offset);
        let length = file.text[offset..]
            .find('\n')
            .unwrap_or(file.text.len() - offset)
            .clamp(usize::from(offset < file.text.len()), 80);
        RuleLoadError::Invalid {
            origin: file.origin.clone(),
            line,
            column,
            message: message.into(),
            source_code: Arc::new(NamedSource::new(file.origin.clone(), file.text.clone())),
            span: (offset, length).into(),
        }
    }

    /// An error at a Rhai position (one-based line and column) of `file`.
    pub fn at_position(
        file: &SourceFile,
        position: rhai::Position,
        message: impl Into<String>,
    ) -> RuleLoadError {
        let offset = offset_of(&file.text, position);
        RuleLoadError::in_file(file, offset, message)
    }
}

/// One-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |index| index + 1) + 1;
    (line, column)
}

/// The byte offset of a Rhai position in `text` (0 when the position is unknown).
pub fn offset_of(text: &str, position: rhai::Position) -> usize {
    let (Some(line), Some(column)) = (position.line(), position.position()) else {
        return 0;
    };
    let mut offset = 0;
    for (index, content) in text.split('\n').enumerate() {
        if index + 1 == line {
            let column_offset: usize = content
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + column_offset;
        }
        offset += content.len() + 1;
    }
    text.len()
}

/// A rule that could not judge a host because evidence it read is damaged (a hive cell that
/// cannot be read, say). This is not the rule's fault: the report lists it with the evidence
/// problems, and the run exits 3 ("incomplete") rather than 2.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct UncheckedRule {
    /// The rule id.
    pub rule: String,
    /// The host, or `*` for a fleet rule.
    pub host: String,
    /// What could not be read, naming the evidence file.
    pub message: String,
}

/// A rule that failed while it ran on one host: a run-time error or a sandbox limit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct RuleError {
    /// The rule id.
    pub rule: String,
    /// The host, or `*` for a fleet rule.
    pub host: String,
    /// The rule file.
    pub file: String,
    /// One-based line, when known.
    pub line: Option<usize>,
    /// One-based column, when known.
    pub column: Option<usize>,
    /// What went wrong.
    pub message: String,
}

impl RuleError {
    /// A miette diagnostic with the rule source, for rendering at the edges.
    pub fn to_diagnostic(&self, text: &str) -> RuleRunDiagnostic {
        let offset = match (self.line, self.column) {
            (Some(line), Some(column)) => {
                offset_of(text, rhai::Position::new(line as u16, column as u16))
            }
            _ => 0,
        };
        RuleRunDiagnostic {
            summary: format!(
                "rule {} failed on host {}: {}",
                self.rule, self.host, self.message
            ),
            message: self.message.clone(),
            source_code: NamedSource::new(self.file.clone(), text.to_string()),
            span: (offset, usize::from(offset < text.len())).into(),
        }
    }
}

/// A rendered [`RuleError`].
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{summary}")]
#[diagnostic(code(hiveward::rules::runtime))]
pub struct RuleRunDiagnostic {
    summary: String,
    message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{message}")]
    span: SourceSpan,
}
