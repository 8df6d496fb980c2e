//! Typed errors for unreadable evidence, and the notices that carry them into reports.

use std::path::{Path, PathBuf};

use miette::{Diagnostic, NamedSource, SourceSpan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why one evidence file could not be read, or could be read only in part.
///
/// Every variant names the file. The binary renders these with miette; reports carry them as
/// [`Notice`]s.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum EvidenceError {
    /// The file could not be opened or read.
    #[error("{}: cannot read the file: {error}", path.display())]
    #[diagnostic(code(hiveward::io))]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error (in the message, so not repeated as a cause).
        error: std::io::Error,
    },

    /// The file has no content at all.
    #[error("{}: the file is empty", path.display())]
    #[diagnostic(
        code(hiveward::empty_file),
        help("a zero-length file usually means the copy or `REG SAVE` failed; collect it again")
    )]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },

    /// The file is named like a hive but does not hold one.
    #[error("{}: not a registry hive: {detail}", path.display())]
    #[diagnostic(
        code(hiveward::hive::not_a_hive),
        help("hives start with the signature `regf`; collect them with `REG SAVE` or copy them from a triage image")
    )]
    NotAHive {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },

    /// The file is named or sniffed like an event log but its file header cannot be read.
    #[error("{}: not an EVTX event log: {detail}", path.display())]
    #[diagnostic(
        code(hiveward::evtx::not_a_log),
        help("EVTX logs start with the signature `ElfFile` and a 4096-byte file header; export them with `wevtutil epl` or copy them from `Windows\\System32\\winevt\\Logs`")
    )]
    NotAnEvtx {
        /// The file.
        path: PathBuf,
        /// What is wrong with the header.
        detail: String,
    },

    /// The file is shorter than its base block says, or too short to hold a base block.
    #[error(
        "{}: the hive is truncated: it needs {declared} bytes (base block and hive bins) but the file has {available}",
        path.display()
    )]
    #[diagnostic(
        code(hiveward::hive::truncated),
        help("the copy was cut short; collect the hive again")
    )]
    TruncatedHive {
        /// The file.
        path: PathBuf,
        /// Bytes the hive needs: the 4096-byte base block plus the hive-bins size it records.
        declared: u64,
        /// Bytes the file has.
        available: u64,
    },

    /// The hive's structure is damaged where the reader needed it.
    #[error("{}: damaged hive: {detail}", path.display())]
    #[diagnostic(code(hiveward::hive::corrupt))]
    CorruptHive {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offset where known.
        detail: String,
    },

    /// A transaction log could not be applied to its hive.
    #[error("{}: transaction log not applied: {detail}", path.display())]
    #[diagnostic(code(hiveward::hive::log_not_applied))]
    BadTransactionLog {
        /// The log file.
        path: PathBuf,
        /// Why it was not applied.
        detail: String,
    },

    /// The reader failed on the file in a way it does not handle (a panic inside a parser,
    /// caught so that the other files are still read); the file is treated as damaged.
    #[error("{}: the reader failed on this file: {detail}", path.display())]
    #[diagnostic(
        code(hiveward::reader_failed),
        help("the file is damaged in a way the reader does not expect; the other files were read")
    )]
    ReaderFailed {
        /// The file.
        path: PathBuf,
        /// What failed, and where in the reader.
        detail: String,
    },

    /// A value of a `.reg` export whose line could not be read, so what the file sets it to is
    /// unknown.
    #[error(
        "{}: {what} of {key} cannot be read: line {line}, which sets it, is malformed",
        path.display()
    )]
    #[diagnostic(
        code(hiveward::reg::value_lost),
        help("fix the line in the export, or export the key again with `reg export`")
    )]
    RegValueLost {
        /// The file.
        path: PathBuf,
        /// The value as reports name it (`value "Name"`, `the default value`, `the values`).
        what: String,
        /// The key, as the export writes it.
        key: String,
        /// The one-based line number of the malformed line.
        line: usize,
    },

    /// A key outside what a `.reg` export holds (and no hive of the host holds it): whether it
    /// exists and what it holds is unknown. A `reg export KEY` file holds KEY and the keys
    /// below it only, so a key it does not write is not thereby absent.
    #[error(
        "{}: {key} is not in this .reg export, which holds {holds}: whether the key exists and what it holds is unknown",
        path.display()
    )]
    #[diagnostic(
        code(hiveward::reg::not_exported),
        help("export the key (or the whole hive, `reg export HKLM\\SOFTWARE`) too, or collect the hive itself with `reg save`")
    )]
    NotExported {
        /// The export.
        path: PathBuf,
        /// The key read, as the read named it.
        key: String,
        /// The keys the export holds, as its message names them.
        holds: String,
    },

    /// A key or value a differencing hive does not hold (or a listing it cannot complete):
    /// the layer holds only what it changed, and the rest is whatever the hive below it holds,
    /// which the bundle does not have. Unknown, not absent.
    #[error(
        "{}: {place} is not in this differencing hive, which holds only what its layer changed over the hive below it: what Windows reads there is unknown",
        path.display()
    )]
    #[diagnostic(
        code(hiveward::hive::not_in_layer),
        help("collect the registry as the container or silo sees it (`reg save` inside it), or the hives of the layers below this one")
    )]
    NotInLayer {
        /// The differencing hive.
        path: PathBuf,
        /// What was read, as reports name it (`key HKLM\SYSTEM\...`, `value "Name" of ...`).
        place: String,
    },

    /// A value line of a `.reg` export does not parse and was skipped; the rest of the file
    /// was read.
    #[error("{}: .reg syntax error on line {line}: {message}", path.display())]
    #[diagnostic(code(hiveward::reg::syntax), severity(Warning))]
    RegLineSkipped {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
        /// What skipping the line costs.
        #[help]
        consequence: String,
        /// The file text, for the rendered snippet (shared, to keep the error small).
        #[source_code]
        source_code: std::sync::Arc<NamedSource<String>>,
        /// Where in the text.
        #[label("{message}")]
        span: SourceSpan,
    },

    /// A `.reg` export has a line that does not parse.
    #[error("{}: .reg syntax error on line {line}: {message}", path.display())]
    #[diagnostic(code(hiveward::reg::syntax))]
    RegSyntax {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
        /// The file text, for the rendered snippet (shared, to keep the error small).
        #[source_code]
        source_code: std::sync::Arc<NamedSource<String>>,
        /// Where in the text.
        #[label("{message}")]
        span: SourceSpan,
    },
}

impl EvidenceError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            EvidenceError::Io { path, .. }
            | EvidenceError::EmptyFile { path }
            | EvidenceError::NotAHive { path, .. }
            | EvidenceError::NotAnEvtx { path, .. }
            | EvidenceError::TruncatedHive { path, .. }
            | EvidenceError::CorruptHive { path, .. }
            | EvidenceError::BadTransactionLog { path, .. }
            | EvidenceError::ReaderFailed { path, .. }
            | EvidenceError::RegSyntax { path, .. }
            | EvidenceError::RegLineSkipped { path, .. }
            | EvidenceError::RegValueLost { path, .. }
            | EvidenceError::NotExported { path, .. }
            | EvidenceError::NotInLayer { path, .. } => path,
        }
    }

    /// Whether the error says only that the file cannot answer the read (a key outside a `.reg`
    /// export, or one a differencing hive does not hold), not that anything is damaged.
    pub fn is_unknown_in_file(&self) -> bool {
        matches!(
            self,
            EvidenceError::NotExported { .. } | EvidenceError::NotInLayer { .. }
        )
    }

    /// The stable diagnostic code, such as `hiveward::hive::truncated`.
    pub fn code_name(&self) -> String {
        self.code().map(|code| code.to_string()).unwrap_or_default()
    }

    /// The error as a report notice at the given level.
    pub fn to_notice(&self, level: NoticeLevel) -> Notice {
        Notice {
            level,
            code: self.code_name(),
            file: Some(crate::path_text(self.path())),
            message: self.to_string(),
        }
    }
}

/// How serious a notice is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NoticeLevel {
    /// Something worth knowing that does not change the results.
    Note,
    /// Evidence was read, but not fully or not cleanly; results may be incomplete.
    Warning,
    /// Evidence could not be read at all.
    Error,
}

/// A message about the evidence that every output format records.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub struct Notice {
    /// How serious it is.
    pub level: NoticeLevel,
    /// A stable code, such as `hiveward::hive::dirty`.
    pub code: String,
    /// The file it concerns, if any.
    pub file: Option<String>,
    /// The message, which names the file and the problem.
    pub message: String,
}

impl Notice {
    /// A warning about one file.
    pub fn warning(code: &str, file: &Path, message: impl Into<String>) -> Notice {
        Notice {
            level: NoticeLevel::Warning,
            code: code.to_string(),
            file: Some(crate::path_text(file)),
            message: message.into(),
        }
    }

    /// A note about one file.
    pub fn note(code: &str, file: Option<&Path>, message: impl Into<String>) -> Notice {
        Notice {
            level: NoticeLevel::Note,
            code: code.to_string(),
            file: file.map(crate::path_text),
            message: message.into(),
        }
    }
}
