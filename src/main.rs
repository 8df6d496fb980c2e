//! The `hiveward` command line: parses arguments, runs the collectors, the rule engine and the
//! reporters, renders diagnostics with miette, and sets the exit code.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hiveward_collectors::{
    collect, discover, CollectOptions, Collection, DiscoverOptions, EventSelection, EvtxReadOptions,
};
use hiveward_engine::{
    baseline_json, build_inspect_report, junit_xml, load_baseline, load_waivers, rule_listings,
    rule_show_text, rules_list_text, rules_markdown, run_rule_tests, run_scan, write_inspect_text,
    write_scan_text, Date, Limits, PackSource, Requirement, RuleSet, ScanReport, ScanSettings,
    Selection, Severity, EXIT_ERROR, EXIT_INCOMPLETE,
};

#[derive(Parser)]
#[command(
    name = "hiveward",
    version,
    about = "Offline compliance scanner for Windows registry hives, .reg exports and event logs",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan evidence bundles with the rule packs and report findings.
    Scan(Box<ScanArgs>),
    /// Show what a bundle holds: hosts, files, OS facts, hotfixes, and the values under a key.
    Inspect(InspectArgs),
    /// List, show, document and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Args)]
struct EvidenceArgs {
    /// Evidence files or folders: REG SAVE bundles, one folder per host, or triage trees.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Follow symbolic links inside folders (off by default).
    #[arg(long)]
    follow_links: bool,
}

#[derive(Args)]
struct RuleSourceArgs {
    /// A rule pack folder, or a folder of packs, to load besides the built-in packs (repeatable).
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in packs.
    #[arg(long)]
    no_builtin: bool,
}

#[derive(Args)]
struct ScanArgs {
    #[command(flatten)]
    evidence: EvidenceArgs,
    #[command(flatten)]
    sources: RuleSourceArgs,
    /// Run only these rule ids (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    only: Vec<String>,
    /// Skip these rule ids (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    exclude: Vec<String>,
    /// Baseline profile: `cis` (default) or `stig-2012`.
    #[arg(long, default_value = "cis")]
    profile: String,
    /// A site value for rules, such as `min_ubr.17763=5458` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Output format of the main report.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
    /// Write the main report to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also write a report in another format, as FORMAT:FILE (repeatable), e.g.
    /// `--output-format sarif:out.sarif --output-format json:out.json`.
    #[arg(long = "output-format", value_name = "FORMAT:FILE", value_parser = parse_output_format)]
    output_formats: Vec<(ScanFormat, PathBuf)>,
    /// Waivers (TOML) that accept known findings; they stay in the report, marked as waived.
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
    /// A baseline written by --write-baseline: findings already in it do not fail the run.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Write the fingerprints of this run's findings as a baseline.
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Evidence every host must have, comma-separated: system, software, hkcu, sam, security,
    /// events (any event log) or log:CHANNEL (e.g. log:Security). A host without it makes the
    /// scan exit 3, even with --allow-partial.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...", value_parser = parse_requirement)]
    require: Vec<Requirement>,
    /// Do not exit 3 when some evidence was unreadable or damaged, or some host could not be
    /// checked (a run that checked nothing, or a --require that is not met, still does).
    #[arg(long)]
    allow_partial: bool,
    /// Leave waived and baselined findings out of SARIF (GitHub ignores SARIF suppressions).
    #[arg(long)]
    sarif_omit_suppressed: bool,
    /// Worker threads for rule evaluation (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Exit 1 when a finding is at or above this severity: info, low, medium, high, critical, never.
    #[arg(long, default_value = "high", value_parser = parse_fail_on)]
    fail_on: FailOn,
    /// Time limit for the whole run, such as 90s, 10m or 1h30m. Rules not run when it expires
    /// are reported as not checked, and the scan exits 3 (even with --allow-partial).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<hiveward_engine::Timeout>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ScanFormat {
    Text,
    Json,
    Sarif,
    Junit,
}

fn parse_output_format(text: &str) -> Result<(ScanFormat, PathBuf), String> {
    let (format, file) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not FORMAT:FILE"))?;
    let format = ScanFormat::from_str(format, true)
        .map_err(|_| format!("unknown format `{format}`: expected text, json, sarif or junit"))?;
    if file.is_empty() {
        return Err(format!("`{text}` names no file"));
    }
    Ok((format, PathBuf::from(file)))
}

#[derive(Clone, Copy, Debug)]
struct FailOn(Option<Severity>);

fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(FailOn(None));
    }
    Severity::parse(text)
        .map(|severity| FailOn(Some(severity)))
        .ok_or_else(|| "expected info, low, medium, high, critical or never".to_string())
}

fn parse_requirement(text: &str) -> Result<Requirement, String> {
    Requirement::parse(text)
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    if key.trim().is_empty() {
        return Err(format!("`{text}` has an empty key"));
    }
    Ok((key.trim().to_string(), value.trim().to_string()))
}

#[derive(Args)]
struct InspectArgs {
    #[command(flatten)]
    evidence: EvidenceArgs,
    /// Show the typed values and subkeys of this key on every host, e.g.
    /// 'HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters'.
    #[arg(long)]
    key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Parse the event logs too, and show per-channel and per-id record counts for each host.
    #[arg(long)]
    events: bool,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List the loaded rules.
    List {
        #[command(flatten)]
        sources: RuleSourceArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Show one rule's metadata and fix guidance.
    Show {
        /// The rule id.
        id: String,
        #[command(flatten)]
        sources: RuleSourceArgs,
    },
    /// Write the Markdown catalogue of the built-in packs.
    Doc {
        /// Where to write it.
        #[arg(short, long, default_value = "docs/rules.md")]
        output: PathBuf,
    },
    /// Run the test cases beside each rule; with DIR, test those packs (built-ins excluded).
    Test {
        /// Pack folders, or folders of packs, to test instead of the built-in packs.
        dirs: Vec<PathBuf>,
    },
}

/// Prints `diagnostic` on standard error, safely whatever its source holds.
fn render_diagnostic(diagnostic: &dyn miette::Diagnostic) {
    eprint!("{}", hiveward_engine::render_diagnostic_text(diagnostic));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Scan(args) => scan(*args),
        Command::Inspect(args) => inspect(args),
        Command::Rules(command) => rules(command),
    };
    ExitCode::from(code)
}

fn check_inputs(paths: &[PathBuf]) -> Result<(), u8> {
    for path in paths {
        if std::fs::symlink_metadata(path).is_err() {
            eprintln!("error: {}: no such file or folder", path.display());
            return Err(EXIT_ERROR);
        }
    }
    Ok(())
}

fn collect_evidence(args: &EvidenceArgs, events: EventSelection, threads: usize) -> Collection {
    let discovery = discover(
        &args.paths,
        &DiscoverOptions {
            follow_links: args.follow_links,
        },
    );
    let options = CollectOptions {
        events,
        evtx: EvtxReadOptions { threads },
        ..CollectOptions::default()
    };
    let collection = collect(discovery, &options);
    for diagnostic in &collection.diagnostics {
        render_diagnostic(diagnostic);
    }
    collection
}

fn emit(rendered: &[u8], output: Option<&Path>) -> Result<(), u8> {
    let written = match output {
        Some(path) => std::fs::write(path, rendered),
        None => std::io::stdout().write_all(rendered),
    };
    written.map_err(|error| {
        eprintln!("error: cannot write the report: {error}");
        EXIT_ERROR
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut rendered = serde_json::to_vec_pretty(value).unwrap_or_default();
    rendered.push(b'\n');
    rendered
}

fn load_rules(sources: &RuleSourceArgs) -> Result<RuleSet, u8> {
    let mut packs = if sources.no_builtin {
        Vec::new()
    } else {
        PackSource::builtin()
    };
    for dir in &sources.rules {
        match PackSource::load_dir(dir) {
            Ok(loaded) => packs.extend(loaded),
            Err(error) => {
                render_diagnostic(&error);
                return Err(EXIT_ERROR);
            }
        }
    }
    if packs.is_empty() {
        eprintln!("error: no rules to run: give --rules DIR or drop --no-builtin");
        return Err(EXIT_ERROR);
    }
    RuleSet::load(packs, Limits::default()).map_err(|errors| {
        for error in &errors {
            render_diagnostic(error);
        }
        eprintln!(
            "error: {} rule or pack error(s); nothing was scanned",
            errors.len()
        );
        EXIT_ERROR
    })
}

fn spinner(message: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

fn scan(args: ScanArgs) -> u8 {
    let deadline = args
        .timeout
        .clone()
        .map(hiveward_engine::RunDeadline::start);
    if let Err(code) = check_inputs(&args.evidence.paths) {
        return code;
    }
    if let Some(jobs) = args.jobs {
        if jobs == 0 {
            eprintln!("error: --jobs must be at least 1");
            return EXIT_ERROR;
        }
        if let Err(error) = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
        {
            eprintln!("error: cannot start {jobs} worker threads: {error}");
            return EXIT_ERROR;
        }
    }
    let mut rules = match load_rules(&args.sources) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    // Waivers may name any loaded rule, also ones this run leaves out.
    let loaded_ids: Vec<String> = rules
        .rules()
        .iter()
        .map(|rule| rule.meta.id.clone())
        .collect();
    let selection = Selection {
        only: args.only.clone(),
        exclude: args.exclude.clone(),
        profile: args.profile.clone(),
    };
    if let Err(message) = rules.select(&selection) {
        eprintln!("error: {message}");
        return EXIT_ERROR;
    }
    if rules.rules().is_empty() {
        eprintln!(
            "error: no rules left to run after --only, --exclude and --profile {}",
            args.profile
        );
        return EXIT_ERROR;
    }
    // Waivers and the baseline are checked before any evidence is read.
    let waivers = match &args.waivers {
        None => None,
        Some(path) => {
            let Some(text) = read_input(path, "the waiver file") else {
                return EXIT_ERROR;
            };
            let ids: Vec<&str> = loaded_ids.iter().map(String::as_str).collect();
            match load_waivers(path, &text, &ids) {
                Ok(waivers) => Some(waivers),
                Err(error) => {
                    render_diagnostic(&error);
                    return EXIT_ERROR;
                }
            }
        }
    };
    let baseline = match &args.baseline {
        None => None,
        Some(path) => {
            let Some(text) = read_input(path, "the baseline") else {
                return EXIT_ERROR;
            };
            match load_baseline(path, &text) {
                Ok(baseline) => Some(baseline),
                Err(error) => {
                    render_diagnostic(&error);
                    return EXIT_ERROR;
                }
            }
        }
    };
    let progress = spinner("reading evidence");
    let needs = EventSelection::from_needs(rules.event_needs());
    let collection = collect_evidence(
        &args.evidence,
        needs,
        args.jobs.unwrap_or_else(rayon::current_num_threads),
    );
    if let Some(bar) = &progress {
        bar.set_message("evaluating rules");
    }
    let settings = ScanSettings {
        inputs: args.evidence.paths.clone(),
        profile: args.profile.clone(),
        params: args.params.iter().cloned().collect::<BTreeMap<_, _>>(),
        require: args.require.clone(),
        deadline,
    };
    let mut report = run_scan(collection, &rules, &settings);
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(path) = &args.write_baseline {
        if let Err(error) = std::fs::write(path, baseline_json(&report.findings)) {
            eprintln!(
                "error: cannot write the baseline {}: {error}",
                path.display()
            );
            return EXIT_ERROR;
        }
    }
    if let Some(waivers) = &waivers {
        let notices = waivers.apply(&mut report.findings, Date::today_utc());
        report.notices.extend(notices);
    }
    if let Some(baseline) = &baseline {
        baseline.apply(&mut report.findings);
    }
    report.summary.suppressed = report
        .findings
        .iter()
        .filter(|finding| finding.suppression.is_some())
        .count();
    for error in &report.rule_errors {
        let text = rules
            .rule(&error.rule)
            .map(|rule| rule.file.text.clone())
            .unwrap_or_default();
        render_diagnostic(&error.to_diagnostic(&text));
    }
    let render = |format: ScanFormat| -> Vec<u8> {
        match format {
            ScanFormat::Json => to_json(&report),
            ScanFormat::Text => {
                let mut text = Vec::new();
                let _ = write_scan_text(&report, &mut text);
                text
            }
            ScanFormat::Junit => junit_xml(&report).into_bytes(),
            ScanFormat::Sarif => render_sarif(&report, &rules, &args),
        }
    };
    for (format, path) in &args.output_formats {
        if let Err(code) = emit(&render(*format), Some(path)) {
            return code;
        }
    }
    if let Err(code) = emit(&render(args.format), args.output.as_deref()) {
        return code;
    }
    for host in &report.hosts {
        for notice in host.notices.iter().filter(|notice| {
            notice.code == "hiveward::scan::nothing_checked"
                || notice.code == "hiveward::scan::required_evidence_missing"
        }) {
            eprintln!(
                "error: {}",
                hiveward_engine::escape_terminal(&notice.message)
            );
        }
    }
    let code = report.exit_code_with(args.fail_on.0, args.allow_partial);
    if code == EXIT_INCOMPLETE {
        let summary = &report.summary;
        if let (Some(timeout), true) = (&args.timeout, summary.timed_out > 0) {
            eprintln!(
                "error: the run's --timeout of {} expired: {} rule × host check(s) were not made and are reported as not checked; the results are incomplete",
                timeout.text, summary.timed_out
            );
        } else if summary.checked == 0 {
            eprintln!(
                "error: nothing was checked: no rule could judge any host on the evidence given"
            );
        } else if summary.hosts_missing_required > 0 {
            eprintln!(
                "error: {} host(s) lack evidence --require demands; the results are incomplete",
                summary.hosts_missing_required
            );
        } else {
            eprintln!(
                "error: the results are incomplete: some evidence could not be read or checked ({} unreadable file(s), {} check(s) stopped by damaged evidence, {} host(s) on which nothing could be checked); --allow-partial accepts this",
                summary.files_unreadable, summary.unchecked, summary.hosts_not_checked
            );
        }
    }
    code
}

fn render_sarif(report: &ScanReport, rules: &RuleSet, args: &ScanArgs) -> Vec<u8> {
    let options = hiveward_engine::SarifOptions {
        omit_suppressed: args.sarif_omit_suppressed,
        automation_id: format!("hiveward/{}/", report.profile),
        ..hiveward_engine::SarifOptions::default()
    };
    hiveward_engine::sarif_bytes(report, rules, &options)
}

fn inspect(args: InspectArgs) -> u8 {
    if let Err(code) = check_inputs(&args.evidence.paths) {
        return code;
    }
    let selection = if args.events {
        EventSelection::Everything
    } else {
        EventSelection::Nothing
    };
    let collection = collect_evidence(&args.evidence, selection, rayon::current_num_threads());
    let report = build_inspect_report(&collection, &args.evidence.paths, args.key.as_deref());
    let rendered = match args.format {
        Format::Json => to_json(&report),
        Format::Text => {
            let mut text = Vec::new();
            let _ = write_inspect_text(&report, &mut text);
            text
        }
    };
    if let Err(code) = emit(&rendered, args.output.as_deref()) {
        return code;
    }
    if report.nothing_readable() {
        eprintln!("error: no evidence could be read from the inputs");
        return EXIT_INCOMPLETE;
    }
    0
}

fn rules(command: RulesCommand) -> u8 {
    match command {
        RulesCommand::List { sources, format } => {
            let rules = match load_rules(&sources) {
                Ok(rules) => rules,
                Err(code) => return code,
            };
            let rendered = match format {
                Format::Json => to_json(&rule_listings(&rules)),
                Format::Text => rules_list_text(&rules).into_bytes(),
            };
            emit(&rendered, None).err().unwrap_or(0)
        }
        RulesCommand::Show { id, sources } => {
            let rules = match load_rules(&sources) {
                Ok(rules) => rules,
                Err(code) => return code,
            };
            match rules.rule(&id) {
                Some(rule) => emit(
                    rule_show_text(&rule.meta, &rule.file.origin).as_bytes(),
                    None,
                )
                .err()
                .unwrap_or(0),
                None => {
                    eprintln!("error: unknown rule id `{id}` (see `hiveward rules list`)");
                    EXIT_ERROR
                }
            }
        }
        RulesCommand::Doc { output } => {
            let rules = match load_rules(&RuleSourceArgs {
                rules: Vec::new(),
                no_builtin: false,
            }) {
                Ok(rules) => rules,
                Err(code) => return code,
            };
            if let Some(parent) = output
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                if let Err(error) = std::fs::create_dir_all(parent) {
                    eprintln!("error: cannot create {}: {error}", parent.display());
                    return EXIT_ERROR;
                }
            }
            match std::fs::write(&output, rules_markdown(&rules)) {
                Ok(()) => {
                    println!("wrote {}", output.display());
                    0
                }
                Err(error) => {
                    eprintln!("error: cannot write {}: {error}", output.display());
                    EXIT_ERROR
                }
            }
        }
        RulesCommand::Test { dirs } => {
            let sources = RuleSourceArgs {
                no_builtin: !dirs.is_empty(),
                rules: dirs,
            };
            let rules = match load_rules(&sources) {
                Ok(rules) => rules,
                Err(code) => return code,
            };
            let report = run_rule_tests(&rules);
            let mut text = Vec::new();
            let _ = report.write(&mut text);
            if let Err(code) = emit(&text, None) {
                return code;
            }
            u8::from(report.failures() > 0)
        }
    }
}

/// Reads a waiver or baseline file; says why on standard error when it cannot.
fn read_input(path: &std::path::Path, what: &str) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(error) => {
            eprintln!("error: {}: cannot read {what}: {error}", path.display());
            None
        }
    }
}
