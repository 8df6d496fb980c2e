//! Which source can answer a read: a hive holds every key under its mount, while a `.reg`
//! export holds only the keys it writes and what is below them, so a key it does not write is
//! unknown there rather than absent.

use crate::error::EvidenceError;
use crate::regtext::ExportCoverage;

use super::RegistrySource;

/// What a read needs a source to know of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadKind {
    /// Whether the key exists (and when it was written): an export knows that of the keys
    /// above those it writes too.
    Existence,
    /// Its values or subkeys: an export knows them only inside the keys it writes.
    Content,
}

/// Whether a source can answer a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// It knows the answer, "absent" included.
    Known,
    /// It holds keys of that hive but not this one: the read is unknown there.
    Unknown,
    /// It holds nothing of that hive: like a hive that was not collected.
    Elsewhere,
}

impl RegistrySource {
    /// Whether this source can answer a read of `kind` at `components` (as the candidate
    /// gives them).
    fn answer(&self, components: &[&str], kind: ReadKind) -> Answer {
        let RegistrySource::Export(export) = self else {
            return Answer::Known;
        };
        match export.coverage(components) {
            ExportCoverage::Whole => Answer::Known,
            ExportCoverage::Ancestor if kind == ReadKind::Existence => Answer::Known,
            ExportCoverage::Ancestor => Answer::Unknown,
            ExportCoverage::Outside => {
                let root = hive_root_len(components).min(components.len());
                if export.coverage(&components[..root]) == ExportCoverage::Outside {
                    Answer::Elsewhere
                } else {
                    Answer::Unknown
                }
            }
        }
    }

    /// Whether this source knows the answer to a read of `kind` at `components`.
    pub(super) fn knows(&self, components: &[&str], kind: ReadKind) -> bool {
        self.answer(components, kind) == Answer::Known
    }

    /// The error for a read of `key` this source (an export) cannot answer.
    pub(super) fn not_exported(&self, key: &str) -> EvidenceError {
        let holds = match self {
            RegistrySource::Export(export) => export.holds_text(),
            RegistrySource::Hive(_) => String::from("the whole hive"),
        };
        EvidenceError::NotExported {
            path: self.path().to_path_buf(),
            key: key.to_string(),
            holds,
        }
    }
}

/// What the sources asked for one read could answer: a read no source can answer, while some
/// export holds other keys of that hive, is unknown rather than absent.
#[derive(Default)]
pub(super) struct Answers<'s> {
    /// Some source could answer.
    answered: bool,
    /// The first source that touches the hive but cannot answer.
    unknown_in: Option<&'s RegistrySource>,
}

impl<'s> Answers<'s> {
    /// Whether `source` can answer a read of `kind` at `components`, remembering what it said.
    pub(super) fn admits(
        &mut self,
        source: &'s RegistrySource,
        components: &[&str],
        kind: ReadKind,
    ) -> bool {
        match source.answer(components, kind) {
            Answer::Known => {
                self.answered = true;
                true
            }
            Answer::Unknown => {
                self.unknown_in.get_or_insert(source);
                false
            }
            Answer::Elsewhere => false,
        }
    }

    /// `found` (what the sources that could answer gave for `key`), or the not-exported error
    /// when none could and some export touches the hive.
    pub(super) fn settle<T>(self, key: &str, found: T) -> Result<T, EvidenceError> {
        match self.unknown_in {
            Some(source) if !self.answered => Err(source.not_exported(key)),
            _ => Ok(found),
        }
    }
}

/// How many components name the hive a path lies in: `HKLM\SOFTWARE`, `HKU\SID`, or a root
/// alone (`HKCU`, and anything else). Candidates give the root in short form (`RegPath`).
fn hive_root_len(components: &[&str]) -> usize {
    match components.first() {
        Some(root) if root.eq_ignore_ascii_case("HKLM") || root.eq_ignore_ascii_case("HKU") => 2,
        _ => 1,
    }
}
