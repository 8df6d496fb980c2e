//! Reports for hiveward: the `inspect` report of what a bundle holds, in text and JSON.
//!
//! The collectors crate turns evidence into per-host facts; this crate turns those facts into
//! reports. [`build_inspect_report`] makes the serialisable [`InspectReport`] (its JSON Schema
//! is [`inspect_schema`], committed as `schemas/inspect.schema.json`), and
//! [`write_inspect_text`] renders it for people.
//!
//! # Example
//!
//! ```
//! use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
//! use hiveward_engine::{build_inspect_report, write_inspect_text};
//!
//! let collection = collect(discover(&[], &DiscoverOptions::default()), &CollectOptions::default());
//! let report = build_inspect_report(&collection, &[], None);
//! assert!(report.nothing_readable());
//! let mut text = Vec::new();
//! write_inspect_text(&report, &mut text).unwrap();
//! assert!(String::from_utf8(text).unwrap().contains("nothing could be read"));
//! ```
#![deny(missing_docs)]

mod inspect;
mod inspect_text;

pub use crate::{
    inspect::{
        build_inspect_report, inspect_schema, HostReport, InspectReport, InspectSummary, KeyReport,
        ToolInfo,
    },
    inspect_text::{hive_kind_name, write_inspect_text},
};
