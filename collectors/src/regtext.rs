//! Parses `reg export` files (UTF-16LE or UTF-8, `REGEDIT4` or version 5.00) into the same
//! typed model as hives, with line-accurate diagnostics for syntax errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{EvidenceError, Notice};
use crate::registry::RegPath;
use crate::value::RegValue;

mod index;
pub use index::ExportCoverage;
use index::KeyIndex;

/// A value as written in the export: its name, type code and raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRegValue {
    /// The value name; empty for the default value (`@`).
    pub name: String,
    /// The registry type code.
    pub type_code: u32,
    /// The data exactly as the export encodes it.
    pub bytes: Vec<u8>,
}

impl RawRegValue {
    /// Decodes the value into the typed model.
    pub fn decode(&self) -> RegValue {
        RegValue::decode(self.name.clone(), self.type_code, &self.bytes)
    }
}

/// One `[key]` section of an export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegExportKey {
    /// The full key path with its root in short form (`HKLM\SYSTEM\...`).
    pub path: String,
    /// Its values, in file order.
    pub values: Vec<RawRegValue>,
    /// Values whose lines could not be read (and that no later line sets or deletes).
    pub lost: Vec<LostValue>,
}

/// A value of a `.reg` export lost to a line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostValue {
    /// The value's name, or `None` when the line did not get as far as a name (then every
    /// value of the key is in doubt).
    pub name: Option<String>,
    /// The one-based line number.
    pub line: usize,
}

impl LostValue {
    /// Whether reading the value `name` (every value when `None`) meets this loss.
    fn covers(&self, name: Option<&str>) -> bool {
        match (&self.name, name) {
            (Some(lost), Some(name)) => lost.eq_ignore_ascii_case(name),
            _ => true,
        }
    }
}

/// A value line that could not be read, as a warning: the syntax error with what skipping the
/// line costs.
fn skipped_line(key: &str, name: Option<&str>, error: EvidenceError) -> EvidenceError {
    let what = match name {
        Some("") => format!("the default value of {key}"),
        Some(name) => format!("value {name:?} of {key}"),
        None => format!("the values of {key}"),
    };
    let consequence =
        format!("the line was skipped and the rest of the file read; rules that read {what} are not checked");
    match error {
        EvidenceError::RegSyntax {
            path,
            line,
            message,
            source_code,
            span,
        } => EvidenceError::RegLineSkipped {
            path,
            line,
            message,
            consequence,
            source_code,
            span,
        },
        other => other,
    }
}

/// The report notice for a skipped line: its diagnostic, and what skipping it costs.
fn skipped_notice(error: &EvidenceError) -> Notice {
    let mut notice = error.to_notice(crate::error::NoticeLevel::Warning);
    if let EvidenceError::RegLineSkipped { consequence, .. } = error {
        notice.message = format!("{}; {consequence}", notice.message);
    }
    notice
}

/// A parsed `.reg` export.
#[derive(Clone, Debug)]
pub struct RegExport {
    path: PathBuf,
    keys: Vec<RegExportKey>,
    /// The key tree, whose nodes give the position in `keys` of the keys written as sections.
    index: KeyIndex,
    /// A warning for each value line that could not be read.
    skipped: Vec<Notice>,
    /// Whether the text stands for whole hives (a rule test case's registry), so that a key it
    /// does not write is absent rather than unknown.
    whole_hives: bool,
    /// [`RegExport::top_keys`], found on first use.
    top_keys: std::sync::OnceLock<Vec<String>>,
}

impl RegExport {
    /// Parses the bytes of a `.reg` file. `path` names it in diagnostics.
    ///
    /// Accepts UTF-16LE (with BOM) and UTF-8 text, `Windows Registry Editor Version 5.00` and
    /// `REGEDIT4` headers, continuation lines, comments, repeated sections (merged), and the
    /// deletion forms `[-KEY]` and `"name"=-` (applied, so the export reads as the state it
    /// would leave behind).
    ///
    /// A value line that does not parse loses that value only, as when regedit imports the
    /// file: [`RegExport::skipped_lines`] lists it, and a read of the value fails.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<RegExport, EvidenceError> {
        Self::parse_with_skipped(path, bytes).map(|(export, _)| export)
    }

    /// [`RegExport::parse`], with the diagnostic (a warning, with the text around the line) of
    /// each value line that was skipped.
    pub fn parse_with_skipped(
        path: &Path,
        bytes: &[u8],
    ) -> Result<(RegExport, Vec<EvidenceError>), EvidenceError> {
        let text = decode_text(bytes);
        let (keys, index, skipped) = Parser::new(path, &text).run()?;
        let export = RegExport {
            path: path.to_path_buf(),
            keys,
            index,
            skipped: skipped.iter().map(skipped_notice).collect(),
            whole_hives: false,
            top_keys: std::sync::OnceLock::new(),
        };
        Ok((export, skipped))
    }

    /// Builds an export from keys that are already parsed.
    pub fn from_keys(path: &Path, keys: Vec<RegExportKey>) -> RegExport {
        let mut index = KeyIndex::new();
        for (position, key) in keys.iter().enumerate() {
            let components = RegPath::split(&key.path);
            if !components.is_empty() {
                let node = index.insert(&components);
                index.set_section(node, position);
            }
        }
        RegExport {
            path: path.to_path_buf(),
            keys,
            index,
            skipped: Vec::new(),
            whole_hives: false,
            top_keys: std::sync::OnceLock::new(),
        }
    }

    /// A warning for each value line that could not be read: the rest of the file was read,
    /// and a read of a value such a line would have set fails (see [`RegExport::value`]).
    pub fn skipped_lines(&self) -> &[Notice] {
        &self.skipped
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its keys, in file order.
    pub fn keys(&self) -> &[RegExportKey] {
        &self.keys
    }

    /// What the export tells of the key at `components`: a `reg export` of a key holds that
    /// key and everything below it, and nothing else. Reads outside it are unknown, not absent.
    pub fn coverage(&self, components: &[&str]) -> ExportCoverage {
        if self.whole_hives {
            return ExportCoverage::Whole;
        }
        self.index.coverage(components)
    }

    /// The same text taken as whole hives: every key it does not write is absent, as in a hive
    /// (a rule test case states a host's registry this way). A scanned `.reg` file is never
    /// taken so: it holds the keys it writes and nothing else.
    pub fn as_whole_hives(mut self) -> RegExport {
        self.whole_hives = true;
        self
    }

    /// The keys the export was made of (each written key that no written ancestor holds), in
    /// the order first written; the paths as the file writes them, roots in short form.
    pub fn top_keys(&self) -> &[String] {
        self.top_keys.get_or_init(|| self.index.top_sections())
    }

    /// The keys the export holds, as a message names them: the first three of
    /// [`RegExport::top_keys`] and how many more.
    pub fn holds_text(&self) -> String {
        let tops = self.top_keys();
        let shown: Vec<&str> = tops.iter().take(3).map(String::as_str).collect();
        match (tops.len(), tops.len().saturating_sub(shown.len())) {
            (0, _) => "no key".to_string(),
            (_, 0) => shown.join(", "),
            (_, more) => format!("{} and {more} other key(s)", shown.join(", ")),
        }
    }

    /// Whether the key is written in the export or is an ancestor of one that is.
    pub fn key_exists(&self, components: &[&str]) -> bool {
        self.index.find(components).is_some()
    }

    /// One value, matched without regard to case. An error when a line that would set it
    /// could not be read.
    pub fn value(
        &self,
        components: &[&str],
        name: &str,
    ) -> Result<Option<RegValue>, EvidenceError> {
        let Some(section) = self.section(components) else {
            return Ok(None);
        };
        self.check_lost(section, Some(name))?;
        Ok(section
            .values
            .iter()
            .rev()
            .find(|value| value.name.eq_ignore_ascii_case(name))
            .map(RawRegValue::decode))
    }

    /// Every value of the key, or `None` when the key is absent. An error when a line that
    /// would set one of them could not be read.
    pub fn values(&self, components: &[&str]) -> Result<Option<Vec<RegValue>>, EvidenceError> {
        if !self.key_exists(components) {
            return Ok(None);
        }
        let Some(section) = self.section(components) else {
            return Ok(Some(Vec::new()));
        };
        self.check_lost(section, None)?;
        Ok(Some(
            section.values.iter().map(RawRegValue::decode).collect(),
        ))
    }

    /// The error for reading `name` (every value when `None`) of `section`, if a line that
    /// would set it could not be read.
    fn check_lost(&self, section: &RegExportKey, name: Option<&str>) -> Result<(), EvidenceError> {
        match section.lost.iter().find(|lost| lost.covers(name)) {
            Some(lost) => Err(EvidenceError::RegValueLost {
                path: self.path.clone(),
                what: match (&lost.name, name) {
                    (Some(lost), _) if lost.is_empty() => "the default value".to_string(),
                    (Some(lost), _) => format!("value {lost:?}"),
                    (None, Some(name)) => format!("value {name:?}"),
                    (None, None) => "the values".to_string(),
                },
                key: section.path.clone(),
                line: lost.line,
            }),
            None => Ok(()),
        }
    }

    /// The names of the direct subkeys, or `None` when the key is absent.
    pub fn subkeys(&self, components: &[&str]) -> Option<Vec<String>> {
        let node = self.index.find(components)?;
        Some(self.index.child_names(node).map(str::to_string).collect())
    }

    fn section(&self, components: &[&str]) -> Option<&RegExportKey> {
        let node = self.index.find(components)?;
        self.index
            .section(node)
            .map(|position| &self.keys[position])
    }
}

/// Decodes a `.reg` file: UTF-16LE when it starts with a BOM (as `reg export` writes it),
/// otherwise UTF-8 with an optional BOM, and Latin-1 for bytes that are not UTF-8 (`REGEDIT4`
/// files are written in the ANSI code page).
fn decode_text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xff, 0xfe]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    let body = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(text) => text.to_string(),
        Err(_) => body.iter().map(|&byte| char::from(byte)).collect(),
    }
}

/// The header versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `Windows Registry Editor Version 5.00`: strings in `hex(2)`/`hex(7)` are UTF-16LE.
    Version5,
    /// `REGEDIT4`: strings in `hex(2)`/`hex(7)` are single-byte ANSI.
    Regedit4,
}

/// A logical line: physical lines joined at trailing backslashes, with the byte offset of each
/// character run so that errors point into the original text.
struct LogicalLine<'a> {
    number: usize,
    start: usize,
    /// Borrowed from the file's text unless continuation lines were joined.
    text: std::borrow::Cow<'a, str>,
}

/// Hand-written: the `regf` crate's `.reg` reader drops malformed lines and continuation lines
/// silently, and evidence needs every line accounted for with a located diagnostic.
struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Parser<'a> {
    fn new(path: &'a Path, text: &'a str) -> Parser<'a> {
        Parser { path, text }
    }

    fn error(
        &self,
        line: usize,
        offset: usize,
        length: usize,
        message: impl Into<String>,
    ) -> EvidenceError {
        // Offsets past a continuation line are approximate; a span must still start and end on
        // character boundaries of the text it points into.
        let boundary_at_or_before = |mut at: usize| {
            while !self.text.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let offset = boundary_at_or_before(offset.min(self.text.len()));
        let mut end = offset + length.min(self.text.len() - offset);
        if end == offset && offset < self.text.len() {
            end += 1;
        }
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        let length = end - offset;
        EvidenceError::RegSyntax {
            path: self.path.to_path_buf(),
            line,
            message: message.into(),
            source_code: std::sync::Arc::new(miette::NamedSource::new(
                self.path.display().to_string(),
                self.text.to_string(),
            )),
            span: (offset, length).into(),
        }
    }

    fn logical_lines(&self) -> Vec<LogicalLine<'a>> {
        let mut lines = Vec::new();
        let mut offset = 0;
        let mut pending: Option<LogicalLine> = None;
        for (index, raw) in self.text.split('\n').enumerate() {
            let physical_start = offset;
            offset += raw.len() + 1;
            let content = raw.strip_suffix('\r').unwrap_or(raw);
            let trimmed_end = content.trim_end();
            let continues = trimmed_end.ends_with('\\')
                && (pending.is_some() || is_value_line_start(trimmed_end));
            let body = if continues {
                &trimmed_end[..trimmed_end.len() - 1]
            } else {
                content
            };
            match pending.as_mut() {
                Some(line) => line.text.to_mut().push_str(body.trim_start()),
                None => {
                    pending = Some(LogicalLine {
                        number: index + 1,
                        start: physical_start,
                        text: std::borrow::Cow::Borrowed(body),
                    })
                }
            }
            if !continues {
                lines.extend(pending.take());
            }
        }
        lines.extend(pending.take());
        lines
    }

    /// The keys, their tree, and a warning for each value line that could not be read.
    fn run(&self) -> Result<(Vec<RegExportKey>, KeyIndex, Vec<EvidenceError>), EvidenceError> {
        let lines = self.logical_lines();
        let mut iter = lines.iter().filter(|line| !line.text.trim().is_empty());
        let format = match iter.next() {
            Some(line) => {
                let header = line.text.trim().trim_start_matches('\u{feff}');
                if header == "Windows Registry Editor Version 5.00" {
                    Format::Version5
                } else if header == "REGEDIT4" {
                    Format::Regedit4
                } else {
                    return Err(self.error(
                        line.number,
                        line.start,
                        line.text.len(),
                        "the first line must be `Windows Registry Editor Version 5.00` or `REGEDIT4`",
                    ));
                }
            }
            None => return Err(self.error(1, 0, 0, "the file has no header and no keys")),
        };
        // Sections are found through the key tree and values through a map per key, so the
        // parse stays linear however many sections, repeats and deletions the text holds.
        let mut keys: Vec<Option<KeyDraft>> = Vec::new();
        let mut index = KeyIndex::new();
        let mut current: Option<usize> = None;
        let mut skipped = Vec::new();
        for line in iter {
            let text = line.text.trim();
            if text.starts_with(';') {
                continue;
            }
            let indent = line.text.len() - line.text.trim_start().len();
            if let Some(section) = text.strip_prefix('[') {
                let Some(section) = section.strip_suffix(']') else {
                    return Err(self.error(
                        line.number,
                        line.start + indent,
                        text.len(),
                        "a key line must end with `]`",
                    ));
                };
                if let Some(deleted) = section.strip_prefix('-') {
                    index.note_deleted(&RegPath::split(deleted));
                    if let Some(node) = index.find(&RegPath::split(deleted)) {
                        for position in index.remove(node) {
                            keys[position] = None;
                        }
                    }
                    current = None;
                    continue;
                }
                let components = RegPath::split(section);
                if components.is_empty() {
                    return Err(self.error(
                        line.number,
                        line.start + indent,
                        text.len(),
                        "empty key path",
                    ));
                }
                let node = index.insert(&components);
                current = Some(match index.section(node) {
                    Some(position) => position,
                    None => {
                        keys.push(Some(KeyDraft::new(components.join("\\"))));
                        index.set_section(node, keys.len() - 1);
                        keys.len() - 1
                    }
                });
                continue;
            }
            let Some(key) = current.and_then(|position| keys[position].as_mut()) else {
                return Err(self.error(
                    line.number,
                    line.start + indent,
                    text.len(),
                    "a value line must follow a `[key]` line",
                ));
            };
            // A malformed value line loses that value only, as when regedit imports the file:
            // the rest of the export is read, and reads of the lost value report it.
            match self.value_line(line, indent, format) {
                Ok(ValueLine::Set(value)) => key.set(value),
                Ok(ValueLine::Delete(name)) => key.delete(&name),
                Err(LineError { name, error }) => {
                    key.lose(name.clone(), line.number);
                    skipped.push(skipped_line(&key.path, name.as_deref(), *error));
                }
            }
        }
        // Sections deleted by `[-KEY]` lines leave gaps: close them, and number the tree's
        // sections to match.
        let mut renumbered = vec![None; keys.len()];
        let mut finished = Vec::with_capacity(keys.len());
        for (position, draft) in keys.into_iter().enumerate() {
            if let Some(draft) = draft {
                renumbered[position] = Some(finished.len());
                finished.push(draft.finish());
            }
        }
        index.renumber_sections(&renumbered);
        Ok((finished, index, skipped))
    }

    fn value_line(
        &self,
        line: &LogicalLine,
        indent: usize,
        format: Format,
    ) -> Result<ValueLine, LineError> {
        let text = line.text.trim();
        let at = |offset: usize| line.start + indent + offset;
        let (name, rest_offset) = if let Some(rest) = text.strip_prefix('@') {
            (String::new(), text.len() - rest.len())
        } else if text.starts_with('"') {
            let (name, consumed) = parse_quoted(text).ok_or_else(|| LineError {
                name: None,
                error: Box::new(self.error(
                    line.number,
                    at(0),
                    text.len(),
                    "the value name has no closing quote",
                )),
            })?;
            (name, consumed)
        } else {
            return Err(LineError {
                name: None,
                error: Box::new(self.error(
                    line.number,
                    at(0),
                    text.len(),
                    "expected a `[key]`, a `\"name\"=data` or `@=data` line, or a `;` comment",
                )),
            });
        };
        let after_name = text[rest_offset..].trim_start();
        let after_offset = text.len() - after_name.len();
        let Some(data) = after_name.strip_prefix('=') else {
            return Err(LineError {
                error: Box::new(self.error(
                    line.number,
                    at(after_offset),
                    after_name.len().max(1),
                    "expected `=` after the value name",
                )),
                name: Some(name),
            });
        };
        let data = data.trim();
        let data_offset = text.len() - text[after_offset + 1..].trim_start().len();
        let fail = |message: &str| LineError {
            name: Some(name.clone()),
            error: Box::new(self.error(
                line.number,
                at(data_offset),
                data.len().max(1),
                message.to_string(),
            )),
        };
        if data == "-" {
            return Ok(ValueLine::Delete(name));
        }
        let (type_code, bytes) = if data.starts_with('"') {
            let (string, consumed) =
                parse_quoted(data).ok_or_else(|| fail("the string has no closing quote"))?;
            if !data[consumed..].trim().is_empty() {
                return Err(fail("unexpected text after the closing quote"));
            }
            (1, encode_string(&string, format))
        } else if let Some(hex) = strip_prefix_ignore_case(data, "dword:") {
            let hex = hex.trim();
            if hex.is_empty() || hex.len() > 8 {
                return Err(fail("a dword needs 1 to 8 hex digits"));
            }
            let number = u32::from_str_radix(hex, 16)
                .map_err(|_| fail("a dword needs 1 to 8 hex digits"))?;
            (4, number.to_le_bytes().to_vec())
        } else if let Some(list) = strip_prefix_ignore_case(data, "hex:") {
            (3, parse_hex_list(list).map_err(|message| fail(&message))?)
        } else if let Some(typed) = strip_prefix_ignore_case(data, "hex(") {
            let close = typed
                .find(')')
                .ok_or_else(|| fail("`hex(` needs a closing `)`"))?;
            let type_code = u32::from_str_radix(typed[..close].trim(), 16)
                .map_err(|_| fail("the type in `hex(N)` must be a hex number"))?;
            let list = typed[close + 1..]
                .trim_start()
                .strip_prefix(':')
                .ok_or_else(|| fail("expected `:` after `hex(N)`"))?;
            let mut bytes = parse_hex_list(list).map_err(|message| fail(&message))?;
            if format == Format::Regedit4 && matches!(type_code, 2 | 7) {
                bytes = bytes.iter().flat_map(|&byte| [byte, 0]).collect();
            }
            (type_code, bytes)
        } else {
            return Err(fail(
                "unknown data form: expected \"string\", dword:, hex:, hex(N): or -",
            ));
        };
        Ok(ValueLine::Set(RawRegValue {
            name,
            type_code,
            bytes,
        }))
    }
}

enum ValueLine {
    Set(RawRegValue),
    Delete(String),
}

/// A value line that could not be read, with the value's name when the line gets that far.
struct LineError {
    name: Option<String>,
    error: Box<EvidenceError>,
}

/// A key while its export is parsed: values set again or deleted leave a gap, found through a
/// map by name, so that neither costs a scan of the key's values.
struct KeyDraft {
    path: String,
    values: Vec<Option<RawRegValue>>,
    /// ASCII-upper-cased value name to its place in `values`.
    by_name: HashMap<String, usize>,
    /// Values whose lines could not be read and that no later line sets or deletes.
    lost: Vec<LostValue>,
}

impl KeyDraft {
    fn new(path: String) -> KeyDraft {
        KeyDraft {
            path,
            values: Vec::new(),
            by_name: HashMap::new(),
            lost: Vec::new(),
        }
    }

    /// Notes a value line that could not be read: the value `name`, or every value of the key
    /// when the line does not get as far as a name.
    fn lose(&mut self, name: Option<String>, line: usize) {
        self.lost.push(LostValue { name, line });
    }

    /// A later line decides the value `name`: a loss of that value no longer matters.
    fn decided(&mut self, name: &str) {
        self.lost.retain(|lost| {
            !lost
                .name
                .as_deref()
                .is_some_and(|lost| lost.eq_ignore_ascii_case(name))
        });
    }

    /// Sets a value; one set before under the same name (in any case) is dropped, and the
    /// value takes its place at the end, as its line comes last.
    fn set(&mut self, value: RawRegValue) {
        self.decided(&value.name);
        let folded = value.name.to_ascii_uppercase();
        if let Some(earlier) = self.by_name.insert(folded, self.values.len()) {
            self.values[earlier] = None;
        }
        self.values.push(Some(value));
    }

    fn delete(&mut self, name: &str) {
        self.decided(name);
        if let Some(earlier) = self.by_name.remove(&name.to_ascii_uppercase()) {
            self.values[earlier] = None;
        }
    }

    fn finish(self) -> RegExportKey {
        RegExportKey {
            path: self.path,
            values: self.values.into_iter().flatten().collect(),
            lost: self.lost,
        }
    }
}

fn is_value_line_start(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with('"') || text.starts_with('@') || text.contains("=hex")
}

/// `text` after `prefix`, an ASCII word matched without regard to ASCII case. Compared as
/// bytes: text such as `ab耀` has no character boundary where the prefix would end.
fn strip_prefix_ignore_case<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.as_bytes().get(..prefix.len())?;
    // Equal to an ASCII prefix, the head is ASCII, so the rest starts on a boundary.
    head.eq_ignore_ascii_case(prefix.as_bytes())
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Parses a `"..."` string with `\\` and `\"` escapes; returns it and the bytes consumed.
fn parse_quoted(text: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((index, character)) = chars.next() {
        match character {
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => return None,
            },
            '"' => return Some((out, index + 1)),
            other => out.push(other),
        }
    }
    None
}

fn parse_hex_list(list: &str) -> Result<Vec<u8>, String> {
    let list = list.trim();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    match plain_hex_list(list.as_bytes()) {
        Some(bytes) => Ok(bytes),
        None => hex_items(list),
    }
}

/// A trimmed, non-empty hex list read item by item, with a message naming the first item that
/// is no hex byte.
fn hex_items(list: &str) -> Result<Vec<u8>, String> {
    // A list may end with a comma (continuation lines leave one behind): empty items are then
    // dropped.
    let trailing_comma = list.ends_with(',');
    // Whole-hive exports hold megabytes of these lists: one pass, one allocation.
    let mut bytes = Vec::with_capacity(list.len() / 3 + 1);
    for (index, part) in list.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() && index > 0 && trailing_comma {
            continue;
        }
        bytes.push(hex_byte(part)?);
    }
    Ok(bytes)
}

/// The bytes of a list written as exports write it (items of one or two hex digits, spaces or
/// tabs around them, one comma between items, perhaps one after the last), read a byte at a
/// time; `None` for anything else, which [`parse_hex_list`] then reads item by item. Whole-hive
/// exports hold megabytes of these lists.
fn plain_hex_list(list: &[u8]) -> Option<Vec<u8>> {
    let blank = |byte: &u8| matches!(byte, b' ' | b'\t');
    let mut bytes = Vec::with_capacity(list.len() / 3 + 1);
    let mut at = 0;
    loop {
        while list.get(at).is_some_and(blank) {
            at += 1;
        }
        let high = hex_digit(*list.get(at)?)?;
        at += 1;
        let byte = match list.get(at).and_then(|&byte| hex_digit(byte)) {
            Some(low) => {
                at += 1;
                high << 4 | low
            }
            None => high,
        };
        bytes.push(byte);
        while list.get(at).is_some_and(blank) {
            at += 1;
        }
        match list.get(at) {
            None => return Some(bytes),
            Some(b',') => at += 1,
            Some(_) => return None,
        }
        // A comma at the very end: the empty item after it is dropped.
        if at == list.len() {
            return Some(bytes);
        }
    }
}

/// The value of one hex digit.
fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|value| value as u8)
}

/// One item of a hex list: one or two hex digits.
fn hex_byte(part: &str) -> Result<u8, String> {
    match *part.as_bytes() {
        [high, low] => match (hex_digit(high), hex_digit(low)) {
            (Some(high), Some(low)) => Ok(high << 4 | low),
            _ => Err(format!("`{part}` is not a hex byte")),
        },
        [only] => hex_digit(only).ok_or_else(|| format!("`{part}` is not a hex byte")),
        _ => Err(format!(
            "`{part}` is not a hex byte (bytes are two hex digits separated by commas)"
        )),
    }
}

/// `REG_SZ` data: UTF-16LE with a terminating NUL (version 5), or ANSI with a NUL (REGEDIT4),
/// widened so that the value decodes the same way.
fn encode_string(text: &str, _format: Format) -> Vec<u8> {
    crate::value::encode_utf16_sz(text)
}

#[cfg(test)]
mod tests;
