//! Reports of a hiveward scan for people and spreadsheets, made from the engine's
//! [`ScanReport`](hiveward_engine::ScanReport) (the JSON report's content):
//!
//! - [`html_report`] (or [`write_html_report`], streaming): one self-contained HTML page (no script, font or image loaded from
//!   anywhere) with a summary dashboard, a rule view, a host view with each finding's evidence
//!   and fix, and filters; readable when printed;
//! - [`csv_report`] (or [`write_csv_report`], streaming): one row per finding ([`CSV_COLUMNS`]), RFC 4180 quoting, with a guard
//!   against spreadsheet formula injection;
//! - [`markdown_report`] (or [`write_markdown_report`], streaming): the summary and the findings
//!   grouped by rule, for pull-request comments and tickets.
//!
//! The streaming writers read the report's hosts and findings back from their spools one at a
//! time and write as they go, so that a fleet's report is never held whole.
//!
//! Each is deterministic: the same report gives the same bytes. Report data is treated as
//! hostile (a hive value can hold `<script>`, `|` or `=cmd`): each format escapes it for its
//! own syntax, and shows control characters as visible escapes as the text report does.
//!
//! # Example
//!
//! ```
//! use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
//! use hiveward_engine::{run_scan, Limits, PackSource, RuleSet, ScanSettings};
//!
//! let rules = RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs load");
//! let collection = collect(discover(&[], &DiscoverOptions::default()), &CollectOptions::default());
//! let report = run_scan(collection, &rules, &ScanSettings::default());
//!
//! let html = hiveward_report::html_report(&report).expect("the template renders");
//! assert!(html.starts_with("<!DOCTYPE html>"));
//! assert!(html.contains(r#"id="count-findings">0<"#));
//!
//! let csv = hiveward_report::csv_report(&report).expect("CSV is written");
//! assert_eq!(String::from_utf8(csv).unwrap().lines().count(), 1, "the header only");
//!
//! assert!(hiveward_report::markdown_report(&report).contains("No findings."));
//! ```
#![deny(missing_docs)]

mod csv;
mod html;
mod markdown;
mod view;

pub use crate::{
    csv::{csv_report, write_csv_report, CSV_COLUMNS},
    html::{html_report, write_html_report},
    markdown::{markdown_report, write_markdown_report},
};

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The HTML template failed.
    #[error("the HTML template failed: {0}")]
    Template(#[from] minijinja::Error),
    /// The CSV writer failed.
    #[error("the CSV writer failed: {0}")]
    Csv(#[from] ::csv::Error),
    /// The report could not be written where it goes.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
