//! The CSV report: a header row, then one row per finding, written by the `csv` crate with
//! RFC 4180 quoting.
//!
//! The columns are [`CSV_COLUMNS`]:
//!
//! | column | holds |
//! |---|---|
//! | `host` | the host |
//! | `rule` | the rule id |
//! | `severity` | `critical`, `high`, `medium`, `low` or `info` |
//! | `title` | the rule's title |
//! | `outcome` | `open` when the finding counts toward `--fail-on`, `waived` or `baselined` when a waiver or the baseline accepts it |
//! | `message` | the finding's message |
//! | `evidence_path` | where each evidence item was read: `KEY\Value` (with `CurrentControlSet` resolved), the key, or the event channel |
//! | `evidence_value` | what each item found: the value and its type, `not set, default X`, `absent`, the events, or the note |
//! | `expected_value` | what the rule expected of each item, when it says |
//! | `evidence_file` | each item's evidence file |
//! | `fix_summary` | the first paragraph of the fix guidance, on one line |
//! | `fingerprint` | the finding's stable fingerprint (what `--baseline` matches) |
//! | `waived`, `baselined` | `true` or `false` |
//! | `justification` | why a waiver or the baseline accepts the finding |
//!
//! A finding with several evidence items keeps one row: the evidence columns list the items in
//! order, joined with `"; "` (an item with nothing to say in a column leaves an empty place, so
//! the n-th place of each evidence column is the n-th item).
//!
//! The strings are the report's own (as in JSON: control characters and line feeds are kept;
//! the quoting carries them), with one exception that guards against CSV (formula) injection:
//! a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so a
//! spreadsheet shows it as text instead of running it as a formula. A hive value of
//! `=HYPERLINK(...)` thus reads `'=HYPERLINK(...)`, and a value of `-1` reads `'-1`.

use hiveward_engine::{Finding, ScanReport};

use crate::view;
use crate::RenderError;

/// The CSV report's columns, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "host",
    "rule",
    "severity",
    "title",
    "outcome",
    "message",
    "evidence_path",
    "evidence_value",
    "expected_value",
    "evidence_file",
    "fix_summary",
    "fingerprint",
    "waived",
    "baselined",
    "justification",
];

/// Renders `report` as CSV: [`CSV_COLUMNS`] as the header, then one row per finding in report
/// order (by host, severity and rule).
pub fn csv_report(report: &ScanReport) -> Result<Vec<u8>, RenderError> {
    let mut bytes = Vec::new();
    write_csv_report(report, &mut bytes).map_err(|error| RenderError::Csv(error.into()))?;
    Ok(bytes)
}

/// [`csv_report`] written to `out` as it is rendered, one finding at a time (read back from the
/// report's spool), so that a fleet's report is never held whole. A failure of `out` is
/// returned as it is (a closed pipe stays a broken pipe).
pub fn write_csv_report(report: &ScanReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .from_writer(out);
    writer.write_record(CSV_COLUMNS).map_err(io_error)?;
    for finding in report.findings.stream() {
        writer
            .write_record(
                row(&finding)
                    .iter()
                    .map(|cell| guard_formula(cell).into_owned()),
            )
            .map_err(io_error)?;
    }
    writer.flush()
}

/// The I/O error behind a CSV writer's error, or the error itself.
fn io_error(error: ::csv::Error) -> std::io::Error {
    match error.into_kind() {
        ::csv::ErrorKind::Io(error) => error,
        other => std::io::Error::other(format!("the CSV writer failed: {other:?}")),
    }
}

fn row(finding: &Finding) -> [String; 15] {
    let each = |part: fn(&hiveward_engine::Evidence) -> String| -> String {
        finding
            .evidence
            .iter()
            .map(part)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let status = view::status(finding);
    [
        finding.host.clone(),
        finding.rule.clone(),
        finding.severity.name().to_string(),
        finding.title.clone(),
        status.to_string(),
        finding.message.clone(),
        each(view::evidence_location),
        each(view::evidence_found),
        each(view::evidence_expected),
        each(view::evidence_files),
        view::fix_summary(&finding.fix),
        finding.fingerprint.clone(),
        (status == "waived").to_string(),
        (status == "baselined").to_string(),
        finding
            .suppression
            .as_ref()
            .map(|suppression| suppression.justification.clone())
            .unwrap_or_default(),
    ]
}

/// `cell` with a leading `'` when a spreadsheet would take it for a formula.
pub(crate) fn guard_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_look_like_formulas_are_shown_as_text() {
        for (cell, shown) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("FS01", "FS01"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(guard_formula(cell), shown, "{cell:?}");
        }
    }
}
