//! The hiveward engine: rule packs written in Rhai, evaluated in a sandbox against the facts the
//! collectors gather, and the reports made from them.
//!
//! - [`PackSource`] loads packs from disk or from the copies built into the binary;
//!   [`RuleSet::load`] compiles each rule once into one sandboxed engine (limits in [`Limits`]).
//! - [`RuleSet::evaluate`] runs rules × hosts in parallel and returns [`Finding`]s and
//!   [`RuleError`]s; a failing rule never stops the others.
//! - [`run_scan`] builds the [`ScanReport`]; [`write_scan_text`], JSON, [`sarif_bytes`] (SARIF
//!   2.1.0) and [`junit_xml`] render it; [`load_waivers`] and [`load_baseline`] accept known
//!   findings without hiding them.
//! - [`build_inspect_report`] and [`write_inspect_text`] make the `inspect` report.
//!
//! # Example
//!
//! ```
//! use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
//! use hiveward_engine::{build_inspect_report, write_inspect_text, Limits, PackSource, RuleSet};
//!
//! let rules = RuleSet::load(PackSource::builtin(), Limits::default()).expect("built-in packs load");
//! assert!(rules.rule("HW-STRICT-001").is_some());
//!
//! let collection = collect(discover(&[], &DiscoverOptions::default()), &CollectOptions::default());
//! let report = build_inspect_report(&collection, &[], None);
//! assert!(report.nothing_readable());
//! let mut text = Vec::new();
//! write_inspect_text(&report, &mut text).unwrap();
//! assert!(String::from_utf8(text).unwrap().contains("nothing could be read"));
//! ```
#![deny(missing_docs)]

mod array_api;
mod baseline;
mod budget;
mod catalogue;
mod compile;
mod deadline;
mod definitions;
mod diagnostics;
mod dirty_reads;
mod error;
mod eval_errors;
mod evaluate;
mod explain;
mod file_schemas;
mod finding;
mod fix_text;
mod fleet;
mod fleet_hold;
mod fleet_selection;
mod host_api;
mod host_plan;
mod inspect;
mod inspect_text;
mod json_report;
mod junit;
mod load_checks;
mod load_limits;
mod memo;
mod name_api;
mod not_applicable;
mod outcome;
mod pack;
mod partial;
mod pipeline;
mod rule;
mod rule_test;
mod rule_test_text;
mod ruleset;
mod sandbox;
mod sarif;
mod scan;
mod scan_text;
mod selector;
mod site_config;
mod spool;
mod summary_text;
mod terminal;
mod test_files;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
mod timings;
mod trace;
mod waiver;

pub use crate::{
    baseline::{baseline_json, load_baseline, Baseline, BaselineError},
    catalogue::{rule_listings, rule_show_text, rules_list_text, rules_markdown, RuleListing},
    deadline::{RunDeadline, Timeout},
    definitions::{host_api_names, rule_definitions, DefinitionFile, HOST_API_DEFINITIONS},
    diagnostics::{render_diagnostic_text, render_diagnostic_text_with},
    error::{line_column, RuleError, RuleLoadError, RuleRunDiagnostic, UncheckedRule},
    evaluate::HostEvaluation,
    explain::{explain_rule, nearest, ExplainFile, ExplainFinding, Explanation, Read, MAX_READS},
    file_schemas::{
        config_schema, pack_schema, tests_file_schema, waivers_schema, WaiverEntry, WaiverFile,
    },
    finding::{fingerprint, Evidence, Finding, JsonValue, Suppression, SuppressionKind},
    fix_text::{generic_fix_markdown, generic_fix_text},
    fleet::{Fleet, FleetContribution},
    fleet_selection::{FleetSelection, SelectionIter},
    host_api::{reg_data_to_dynamic, HostFacts, HostHandle},
    host_plan::{HostPlan, SpooledPlan},
    inspect::{
        build_inspect_report, inspect_schema, HostReport, InspectReport, InspectSummary, KeyReport,
        ToolInfo,
    },
    inspect_text::{hive_kind_name, write_inspect_text},
    json_report::write_json_report,
    junit::{junit_xml, junit_xml_fail_on, write_junit_fail_on},
    memo::HostMemo,
    outcome::{Coverage, InferredPass, NotApplicable, Outcome, RuleOutcome},
    pack::{version_at_least, PackManifest, PackSource, SourceFile},
    partial::{
        bundle_key, check_partials, read_partial, read_partial_file, shard_key, MergeError,
        Partial, RuleSources, RunIdentity, Shard, ShardSpec, PARTIAL_FORMAT, PARTIAL_VERSION,
    },
    pipeline::{finish_scan, scan_planned_hosts, HostResult, HostResults, HostsDone},
    rule::{rule_schema, EventNeed, HiveNeed, Needs, RuleMeta, Scope, Severity},
    rule_test::{run_rule_tests, CaseResult, TestReport},
    ruleset::{
        context_map, count_by_severity, sort_findings, CompiledRule, Evaluation, LoadedPack,
        RuleSet, Selection, DEFAULT_PROFILE,
    },
    sandbox::Limits,
    sarif::{
        sarif_bytes, security_severity, to_sarif, write_sarif, SarifOptions, GITHUB_MAX_GZIP_BYTES,
        GITHUB_MAX_RESULTS, SRCROOT,
    },
    scan::{
        findings_schema, run_scan, HostOutcome, Requirement, RuleSummary, ScanHost, ScanReport,
        ScanSettings, ScanSummary, SeverityCounts, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS,
        EXIT_INCOMPLETE, NOTHING_CHECKED_CODE,
    },
    scan_text::{write_scan_text, write_scan_text_with, TextLayout, TextOptions},
    selector::{Comparison, RuleSelector},
    site_config::{
        ColorSetting, FailOnSetting, LoadedSiteConfig, ReportDefaults, ReportFormat, RulesDefaults,
        ScanDefaults, SiteConfig, SiteConfigError, CONFIG_FILE_NAME,
    },
    spool::{
        results_lost, take_spool_failures, Spool, SpoolIter, SPOOL_READ_FAILED, SPOOL_WRITE_FAILED,
    },
    terminal::{escape_terminal, escape_terminal_lines, is_terminal_control, ColorChoice},
    test_files::{check_pack_tests, parse_test_file, PackTestCheck},
    timings::{RulePhase, RuleTiming, RuleTimings},
    trace::{scan_planned_hosts_traced, RuleOutput, Trace, FLEET_HOST},
    waiver::{load_waivers, Date, Waiver, WaiverError, Waivers},
};
