//! The site configuration `hiveward.toml`: found in the working directory (or given with
//! `--config FILE`; `--no-config` ignores it), it fills in the options of `scan` and `merge`
//! that the command line does not give, and its severity overrides apply to every rule set a
//! scan or merge loads.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use hiveward_engine::{
    ColorSetting, LoadedSiteConfig, ReportDefaults, RuleSet, CONFIG_FILE_NAME, EXIT_ERROR,
};

use crate::deliver::{FailOn, ReportArgs, ScanFormat};
use crate::scan_cmd::ScanArgs;
use crate::{render_diagnostic, ColorArg, Command};

/// The configuration of this run, once read: [`apply_severity`] takes its overrides.
static ACTIVE: OnceLock<LoadedSiteConfig> = OnceLock::new();

/// Reads the configuration for `command` and fills in what the command line leaves unset.
/// Only `scan` and `merge` read it; `--config` names the file, `--no-config` ignores the one in
/// the working directory. A file that cannot be used is reported and the run stops (exit 2).
pub(crate) fn apply(
    command: &mut Command,
    matches: &ArgMatches,
    explicit: Option<&Path>,
    no_config: bool,
) -> Result<(), u8> {
    let (name, shard) = match command {
        Command::Scan(args) => ("scan", args.partial.is_some()),
        Command::Merge(_) => ("merge", false),
        _ => return Ok(()),
    };
    let Some(loaded) = read(explicit, no_config)? else {
        return Ok(());
    };
    let Some(sub) = matches.subcommand_matches(name) else {
        return Ok(());
    };
    match command {
        Command::Scan(args) => apply_scan(args, sub, &loaded, shard)?,
        Command::Merge(args) => apply_report(&mut args.report, sub, &loaded, false)?,
        _ => {}
    }
    let _ = ACTIVE.set(loaded);
    Ok(())
}

/// The file to read: `--config FILE`, else `hiveward.toml` in the working directory if there
/// is one (and `--no-config` is not given).
fn read(explicit: Option<&Path>, no_config: bool) -> Result<Option<LoadedSiteConfig>, u8> {
    let path: PathBuf = match explicit {
        Some(path) => path.to_path_buf(),
        None if no_config => return Ok(None),
        None => {
            let found = PathBuf::from(CONFIG_FILE_NAME);
            if !found.is_file() {
                return Ok(None);
            }
            found
        }
    };
    LoadedSiteConfig::read(&path).map(Some).map_err(|error| {
        render_diagnostic(&error);
        EXIT_ERROR
    })
}

/// Whether the option `id` was given on the command line.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches.value_source(id) == Some(ValueSource::CommandLine)
}

fn refuse(loaded: &LoadedSiteConfig, key: &str, message: String) -> u8 {
    render_diagnostic(&loaded.error_at_key(key, message));
    EXIT_ERROR
}

fn apply_scan(
    args: &mut ScanArgs,
    matches: &ArgMatches,
    loaded: &LoadedSiteConfig,
    shard: bool,
) -> Result<(), u8> {
    let config = &loaded.config;
    if let Some(dirs) = config
        .rules
        .dirs
        .as_ref()
        .filter(|_| !given(matches, "rules"))
    {
        args.sources.rules = dirs.clone();
    }
    if let Some(no_builtin) = config
        .rules
        .no_builtin
        .filter(|_| !given(matches, "no_builtin"))
    {
        args.sources.no_builtin = no_builtin;
    }
    if let Some(only) = config
        .rules
        .only
        .as_ref()
        .filter(|_| !given(matches, "only"))
    {
        args.only = only.clone();
    }
    if let Some(exclude) = config
        .rules
        .exclude
        .as_ref()
        .filter(|_| !given(matches, "exclude"))
    {
        args.exclude = exclude.clone();
    }
    if let Some(profile) = config
        .scan
        .profile
        .as_ref()
        .filter(|_| !given(matches, "profile"))
    {
        args.profile = profile.clone();
    }
    if let Some(jobs) = config.scan.jobs.filter(|_| !given(matches, "jobs")) {
        args.jobs = Some(jobs);
    }
    if let Some(require) = loaded
        .require
        .as_ref()
        .filter(|_| !given(matches, "require"))
    {
        args.require = require.clone();
    }
    if let Some(timeout) = loaded
        .timeout
        .as_ref()
        .filter(|_| !given(matches, "timeout"))
    {
        args.timeout = Some(timeout.clone());
    }
    // Per key, a --param wins: it comes later, and the last value of a key is the one kept.
    if !config.params.is_empty() {
        let mut params: Vec<(String, String)> = config
            .params
            .iter()
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect();
        params.append(&mut args.params);
        args.params = params;
    }
    apply_report(&mut args.report, matches, loaded, shard)
}

/// Fills in the report options. A shard's scan writes no report, so the options that only a
/// finished report takes (waivers, baseline, layout) are left to `merge`.
fn apply_report(
    report: &mut ReportArgs,
    matches: &ArgMatches,
    loaded: &LoadedSiteConfig,
    shard: bool,
) -> Result<(), u8> {
    let defaults: &ReportDefaults = &loaded.config.report;
    if let Some(format) = defaults.format.filter(|_| !given(matches, "format")) {
        report.format = ScanFormat::from_str(format.name(), true).map_err(|_| {
            refuse(
                loaded,
                "format",
                format!("unknown format `{}`", format.name()),
            )
        })?;
    }
    if let Some(fail_on) = defaults.fail_on.filter(|_| !given(matches, "fail_on")) {
        report.fail_on = FailOn(fail_on.severity());
    }
    if let Some(allow) = defaults
        .allow_partial
        .filter(|_| !given(matches, "allow_partial"))
    {
        report.allow_partial = allow;
    }
    if let Some(omit) = defaults
        .sarif_omit_suppressed
        .filter(|_| !given(matches, "sarif_omit_suppressed"))
    {
        report.sarif_omit_suppressed = omit;
    }
    if let Some(color) = defaults.color.filter(|_| !given(matches, "color")) {
        report.color = match color {
            ColorSetting::Auto => ColorArg::Auto,
            ColorSetting::Always => ColorArg::Always,
            ColorSetting::Never => ColorArg::Never,
        };
    }
    if shard {
        return Ok(());
    }
    if let Some(waivers) = defaults
        .waivers
        .as_ref()
        .filter(|_| !given(matches, "waivers"))
    {
        report.waivers = Some(waivers.clone());
    }
    if let Some(baseline) = defaults
        .baseline
        .as_ref()
        .filter(|_| !given(matches, "baseline"))
    {
        report.baseline = Some(baseline.clone());
    }
    // --quiet and --detail exclude each other: either on the command line overrides both here.
    if !given(matches, "quiet") && !given(matches, "detail") {
        report.quiet = defaults.quiet.unwrap_or(report.quiet);
        report.detail = defaults.detail.unwrap_or(report.detail);
        if report.quiet && report.detail {
            return Err(refuse(
                loaded,
                "detail",
                "[report] quiet and detail cannot both be true".to_string(),
            ));
        }
    }
    Ok(())
}

/// Applies the `[severity]` overrides of this run's configuration to `rules`, before any
/// selection; an id no loaded rule has is reported at its line (exit 2).
pub(crate) fn apply_severity(rules: &mut RuleSet) -> Result<(), u8> {
    let Some(loaded) = ACTIVE.get() else {
        return Ok(());
    };
    for (id, severity) in &loaded.config.severity {
        if let Err(message) = rules.override_severity(id, *severity) {
            return Err(refuse(loaded, id, format!("[severity]: {message}")));
        }
    }
    Ok(())
}
