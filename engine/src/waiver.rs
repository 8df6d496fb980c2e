//! Waivers: accepted findings, listed in a TOML file (`--waivers FILE`), each with a
//! justification, an owner and an expiry date.
//!
//! ```toml
//! [[waiver]]
//! rule = "HW-STRICT-001"            # a rule id, or a glob over rule ids
//! host = "FS0*"                     # a glob over host names
//! justification = "Alias kept until the Q3 migration"
//! owner = "fileservices@corp.example"
//! expires = 2026-12-31              # a TOML date, or a "YYYY-MM-DD" string
//! evidence = "*\\LanmanServer\\Parameters\\DisableStrictNameChecking"   # optional
//! ```
//!
//! Globs are case-insensitive, and `\` and `/` are the same character in them (so a backslash
//! never escapes). `rule`, `host` and `justification` are required; `evidence`, `owner` and
//! `expires` are optional. A waiver applies up to and including its expiry date, and stops
//! applying the day after. A file that does not parse, a waiver with an unknown key or a
//! missing or malformed field, and a `rule` that matches no loaded rule id are errors that
//! point at the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use globset::{GlobBuilder, GlobMatcher};
use hiveward_collectors::{Notice, NoticeLevel};
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

use crate::error::line_column;
use crate::finding::{Evidence, Finding, Suppression, SuppressionKind};

/// A calendar date in the proleptic Gregorian calendar, such as a waiver's expiry.
///
/// Dates order chronologically (the fields compare year first, then month, then day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year, such as 2026.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

impl Date {
    /// The date, when it exists (month 1–12, day within the month, leap years counted).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses a date written `YYYY-MM-DD` (four-digit year, two-digit month and day).
    pub fn parse(text: &str) -> Result<Date, String> {
        let invalid = || format!("`{text}` is not a date like 2026-12-31 (YYYY-MM-DD)");
        let bytes = text.as_bytes();
        if bytes.len() != 10
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || !bytes
                .iter()
                .enumerate()
                .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = text[0..4].parse().map_err(|_| invalid())?;
        let month: u8 = text[5..7].parse().map_err(|_| invalid())?;
        let day: u8 = text[8..10].parse().map_err(|_| invalid())?;
        Date::new(year, month, day).ok_or_else(|| format!("{text} is not a day of the calendar"))
    }

    /// The date `days` days after 1970-01-01 (before it, when negative).
    ///
    /// This is a hand-written conversion (Howard Hinnant's `civil_from_days` algorithm), so the
    /// engine needs no date library: the 400-year Gregorian cycle is 146 097 days, and within a
    /// cycle years are counted from March so that the leap day falls at the end.
    pub fn from_unix_days(days: i64) -> Date {
        // Keep the year within i32 whatever the input.
        let days = days.clamp(-700_000_000_000, 700_000_000_000);
        let shifted = days + 719_468; // days from 0000-03-01
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097); // 0..=146_096
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
        let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        }
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> Date {
        let days = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => (since.as_secs() / 86_400) as i64,
            Err(before) => -(before.duration().as_secs().div_ceil(86_400) as i64),
        };
        Date::from_unix_days(days)
    }
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        )
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(text: &str) -> Result<Date, String> {
        Date::parse(text)
    }
}

/// Why a waiver file cannot be used. Every variant names the file and points at the line.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum WaiverError {
    /// The file is not valid TOML, or a waiver is malformed.
    #[error("{origin}:{line}:{column}: {message}")]
    #[diagnostic(
        code(hiveward::waiver::invalid),
        help(
            "each waiver is a [[waiver]] table with `rule`, `host` and `justification`, and optionally `evidence`, `owner` and `expires` (a date like 2026-12-31)"
        )
    )]
    Invalid {
        /// The waiver file, as given.
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

    /// A waiver's `rule` names no loaded rule.
    #[error("{origin}:{line}:{column}: {message}")]
    #[diagnostic(
        code(hiveward::waiver::unknown_rule),
        help("`hiveward rules list` shows the loaded rule ids; a glob must match at least one")
    )]
    UnknownRule {
        /// The waiver file, as given.
        origin: String,
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// The rule id or glob, as written.
        rule: String,
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

impl WaiverError {
    /// The one-based line the error points at.
    pub fn line(&self) -> usize {
        match self {
            WaiverError::Invalid { line, .. } | WaiverError::UnknownRule { line, .. } => *line,
        }
    }

    /// The message, without the location.
    pub fn message(&self) -> &str {
        match self {
            WaiverError::Invalid { message, .. } | WaiverError::UnknownRule { message, .. } => {
                message
            }
        }
    }
}

/// A place in a text file, ready for a located diagnostic.
pub(crate) struct Location {
    pub(crate) origin: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) source_code: Arc<NamedSource<String>>,
    pub(crate) span: SourceSpan,
}

impl Location {
    /// Byte `offset` of `text`; the span runs `length` bytes, or to the end of the line (at
    /// most 80 bytes) when `length` is `None`.
    pub(crate) fn at(origin: &str, text: &str, offset: usize, length: Option<usize>) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let (line, column) = line_column(text, offset);
        let rest = &text[offset..];
        let length = match length {
            Some(length) => length.min(rest.len()),
            None => rest
                .find('\n')
                .unwrap_or(rest.len())
                .clamp(usize::from(!rest.is_empty()), 80.min(rest.len().max(1))),
        };
        Location {
            origin: origin.to_string(),
            line,
            column,
            source_code: Arc::new(NamedSource::new(origin, text.to_string())),
            span: (offset, length).into(),
        }
    }
}

fn invalid(location: Location, message: impl Into<String>) -> WaiverError {
    WaiverError::Invalid {
        origin: location.origin,
        line: location.line,
        column: location.column,
        message: message.into(),
        source_code: location.source_code,
        span: location.span,
    }
}

/// One waiver from the file.
#[derive(Clone, Debug)]
pub struct Waiver {
    /// The rule id or a glob over rule ids, as written.
    pub rule: String,
    /// A glob over host names, as written.
    pub host: String,
    /// An optional glob over the evidence: a finding matches when any evidence item's
    /// `resolved_path\value_name` (or `path\value_name`, or its note text) matches.
    pub evidence: Option<String>,
    /// Why the finding is accepted.
    pub justification: String,
    /// Who accepted it.
    pub owner: Option<String>,
    /// The last day the waiver applies.
    pub expires: Option<Date>,
    line: usize,
    rule_glob: GlobMatcher,
    host_glob: GlobMatcher,
    evidence_glob: Option<GlobMatcher>,
}

impl Waiver {
    /// The one-based line of the waiver's `[[waiver]]` header.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Whether the waiver has expired on `today` (it applies through its expiry date).
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|expires| today > expires)
    }

    /// Whether the waiver's rule, host and evidence patterns match `finding`, expired or not.
    pub fn matches(&self, finding: &Finding) -> bool {
        self.rule_glob.is_match(glob_text(&finding.rule))
            && self.host_glob.is_match(glob_text(&finding.host))
            && self.evidence_glob.as_ref().is_none_or(|glob| {
                finding
                    .evidence
                    .iter()
                    .flat_map(evidence_texts)
                    .any(|text| glob.is_match(glob_text(&text)))
            })
    }

    fn suppression(&self) -> Suppression {
        Suppression {
            kind: SuppressionKind::Waiver,
            justification: self.justification.clone(),
            owner: self.owner.clone(),
            expires: self.expires.map(|date| date.to_string()),
        }
    }

    fn describe(&self) -> String {
        format!("rule {} on host {}", self.rule, self.host)
    }
}

/// The texts a waiver's `evidence` glob is matched against.
fn evidence_texts(evidence: &Evidence) -> Vec<String> {
    let mut texts = Vec::new();
    for path in [evidence.resolved_path.as_deref(), evidence.path.as_deref()]
        .into_iter()
        .flatten()
    {
        texts.push(match evidence.value_name.as_deref() {
            Some(name) => format!("{path}\\{name}"),
            None => path.to_string(),
        });
    }
    if let Some(note) = &evidence.note {
        texts.push(note.clone());
    }
    texts
}

/// Globs treat `\` and `/` alike, on every platform: both become `/` before matching.
fn glob_text(text: &str) -> String {
    text.replace('\\', "/")
}

fn compile_glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    Ok(GlobBuilder::new(&glob_text(pattern))
        .case_insensitive(true)
        .literal_separator(false)
        .backslash_escape(false)
        .build()?
        .compile_matcher())
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The waivers of one file.
#[derive(Clone, Debug, Default)]
pub struct Waivers {
    origin: String,
    waivers: Vec<Waiver>,
}

pub(crate) const KEYS: [&str; 6] = [
    "rule",
    "host",
    "evidence",
    "justification",
    "owner",
    "expires",
];

type RawTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    waiver: Vec<Spanned<RawTable>>,
}

/// Parses and checks a waiver file. `known_rules` are the loaded rule ids: a waiver whose
/// `rule` (id or glob, case-insensitive) matches none of them is an error, so a typo cannot
/// silently waive nothing. Needs no evidence, so it can run before any is read.
pub fn load_waivers(path: &Path, text: &str, known_rules: &[&str]) -> Result<Waivers, WaiverError> {
    let origin = path.display().to_string();
    let at = |offset: usize| Location::at(&origin, text, offset, None);
    let toml_error = |error: toml::de::Error| {
        let offset = error.span().map_or(0, |span| span.start);
        invalid(at(offset), error.message().trim().to_string())
    };

    // The top level holds only `[[waiver]]` tables.
    let top: BTreeMap<Spanned<String>, serde::de::IgnoredAny> =
        toml::from_str(text).map_err(toml_error)?;
    if let Some(key) = top.keys().find(|key| key.get_ref() != "waiver") {
        return Err(invalid(
            at(key.span().start),
            format!(
                "unknown key `{}`: a waiver file holds only [[waiver]] tables",
                key.get_ref()
            ),
        ));
    }
    let raw: RawFile = toml::from_str(text).map_err(toml_error)?;

    let mut waivers = Vec::new();
    for table in raw.waiver {
        let table_offset = header_offset(text, table.span().start);
        let table = table.into_inner();
        if let Some(key) = table
            .keys()
            .find(|key| !KEYS.contains(&key.get_ref().as_str()))
        {
            return Err(invalid(
                at(key.span().start),
                format!(
                    "unknown key `{}` in a waiver (known: {})",
                    key.get_ref(),
                    KEYS.join(", ")
                ),
            ));
        }
        let get = |name: &str| {
            table
                .iter()
                .find(|(key, _)| key.get_ref() == name)
                .map(|(_, value)| value)
        };
        let text_value = |name: &str| -> Result<Option<(String, usize)>, WaiverError> {
            let Some(value) = get(name) else {
                return Ok(None);
            };
            let offset = value.span().start;
            match value.get_ref() {
                toml::Value::String(string) if string.trim().is_empty() => {
                    Err(invalid(at(offset), format!("`{name}` must not be empty")))
                }
                toml::Value::String(string) => Ok(Some((string.clone(), offset))),
                other => Err(invalid(
                    at(offset),
                    format!("`{name}` must be a string, not {}", other.type_str()),
                )),
            }
        };
        let required = |name: &str, why: &str| -> Result<(String, usize), WaiverError> {
            text_value(name)?.ok_or_else(|| {
                invalid(
                    at(table_offset),
                    format!("this waiver has no `{name}`; {why}"),
                )
            })
        };
        let (rule, rule_offset) = required("rule", "say which rule id (or glob) it waives")?;
        let (host, host_offset) = required("host", "say which hosts it covers (`*` for all)")?;
        let (justification, _) = required(
            "justification",
            "every waiver must say why the finding is accepted",
        )?;
        let evidence = text_value("evidence")?;
        let owner = text_value("owner")?.map(|(owner, _)| owner);
        let expires = match get("expires") {
            None => None,
            Some(value) => Some(expiry(value).map_err(|message| {
                invalid(at(value.span().start), format!("`expires`: {message}"))
            })?),
        };

        let glob = |pattern: &str, offset: usize, name: &str| {
            compile_glob(pattern).map_err(|error| {
                invalid(
                    at(offset),
                    format!("`{name}` is not a valid glob: {}", error.kind()),
                )
            })
        };
        let rule_glob = glob(&rule, rule_offset, "rule")?;
        let host_glob = glob(&host, host_offset, "host")?;
        let evidence_glob = match &evidence {
            Some((pattern, offset)) => Some(glob(pattern, *offset, "evidence")?),
            None => None,
        };
        if !known_rules
            .iter()
            .any(|id| rule_glob.is_match(glob_text(id)))
        {
            let location = at(rule_offset);
            let message = if is_glob(&rule) {
                format!("the rule glob `{rule}` matches no loaded rule id")
            } else {
                format!("unknown rule id `{rule}`")
            };
            return Err(WaiverError::UnknownRule {
                origin: location.origin,
                line: location.line,
                column: location.column,
                rule,
                message,
                source_code: location.source_code,
                span: location.span,
            });
        }
        waivers.push(Waiver {
            rule,
            host,
            evidence: evidence.map(|(pattern, _)| pattern),
            justification,
            owner,
            expires,
            line: line_column(text, table_offset).0,
            rule_glob,
            host_glob,
            evidence_glob,
        });
    }
    Ok(Waivers { origin, waivers })
}

/// Where a `[[waiver]]` header starts: the span the TOML parser gives a table may begin at its
/// header or its first key, so look back for the header line.
fn header_offset(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = |at: usize| before[..at].rfind('\n').map_or(0, |index| index + 1);
    let mut start = line_start(before.len());
    if text[start..].trim_start().starts_with("[[") {
        return start;
    }
    // Walk back over the table's own lines to its header.
    while start > 0 {
        let previous = line_start(start - 1);
        let line = text[previous..start].trim_start();
        if line.starts_with("[[") {
            return previous;
        }
        if line.starts_with('[') {
            break;
        }
        start = previous;
    }
    offset
}

fn expiry(value: &Spanned<toml::Value>) -> Result<Date, String> {
    match value.get_ref() {
        toml::Value::Datetime(datetime) => match (&datetime.date, &datetime.time) {
            (Some(date), None) => Date::new(i32::from(date.year), date.month, date.day)
                .ok_or_else(|| format!("{datetime} is not a day of the calendar")),
            _ => Err(format!(
                "needs a date like 2026-12-31, not the date-time {datetime}"
            )),
        },
        toml::Value::String(text) => Date::parse(text.trim()),
        other => Err(format!(
            "needs a date like 2026-12-31, not {}",
            other.type_str()
        )),
    }
}

impl Waivers {
    /// The waiver file, as given.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The waivers, in file order.
    pub fn waivers(&self) -> &[Waiver] {
        &self.waivers
    }

    /// How many waivers the file holds.
    pub fn len(&self) -> usize {
        self.waivers.len()
    }

    /// Whether the file holds no waiver.
    pub fn is_empty(&self) -> bool {
        self.waivers.is_empty()
    }

    /// Marks the findings that an unexpired waiver matches as waived (the first matching
    /// waiver in file order wins; a waiver replaces a baseline mark, never another waiver).
    ///
    /// Returns notices for the report, in file order: a warning
    /// (`hiveward::waiver::expired`) for each expired waiver that would have matched a
    /// finding, naming the file and line, the rule, the host and the expiry date; and a note
    /// (`hiveward::waiver::unused`) for each waiver that matched no finding.
    pub fn apply(&self, findings: &mut [Finding], today: Date) -> Vec<Notice> {
        self.apply_each(|waive| findings.iter_mut().for_each(waive), today)
    }

    /// [`Waivers::apply`] over findings `each` visits one at a time (a spooled report's).
    pub fn apply_each(
        &self,
        each: impl FnOnce(&mut dyn FnMut(&mut Finding)),
        today: Date,
    ) -> Vec<Notice> {
        let mut matched: Vec<Vec<(String, String)>> = vec![Vec::new(); self.waivers.len()];
        each(&mut |finding: &mut Finding| {
            let mut waived = matches!(
                finding.suppression,
                Some(Suppression {
                    kind: SuppressionKind::Waiver,
                    ..
                })
            );
            for (index, waiver) in self.waivers.iter().enumerate() {
                if !waiver.matches(finding) {
                    continue;
                }
                matched[index].push((finding.rule.clone(), finding.host.clone()));
                if !waived && !waiver.is_expired(today) {
                    finding.suppression = Some(waiver.suppression());
                    waived = true;
                }
            }
        });
        let mut notices = Vec::new();
        for (waiver, matched) in self.waivers.iter().zip(matched) {
            let place = format!("{}:{}", self.origin, waiver.line);
            let expired_on = waiver.expires.filter(|_| waiver.is_expired(today));
            let notice = match (expired_on, matched.is_empty()) {
                (Some(expires), false) => Notice {
                    level: NoticeLevel::Warning,
                    code: "hiveward::waiver::expired".to_string(),
                    file: Some(self.origin.clone()),
                    message: format!(
                        "{place}: the waiver for {} expired on {expires} and no longer applies to {}",
                        waiver.describe(),
                        list_findings(&matched)
                    ),
                },
                (None, false) => continue,
                (expired_on, true) => Notice {
                    level: NoticeLevel::Note,
                    code: "hiveward::waiver::unused".to_string(),
                    file: Some(self.origin.clone()),
                    message: format!(
                        "{place}: the waiver for {}{} matched no finding; remove it if the problem is gone",
                        waiver.describe(),
                        expired_on
                            .map(|date| format!(" (expired on {date})"))
                            .unwrap_or_default()
                    ),
                },
            };
            notices.push(notice);
        }
        notices
    }
}

fn list_findings(matched: &[(String, String)]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = matched
        .iter()
        .map(|(rule, host)| format!("{rule} on {host}"))
        .collect();
    names.dedup();
    let count = matched.len();
    let mut text = format!(
        "{count} finding{}: {}",
        if count == 1 { "" } else { "s" },
        names
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
