//! `hiveward scan`: plans the bundle's hosts, streams them through the rules (all of them, or
//! one shard's), and either reports or writes the shard's partial result.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use hiveward_collectors::{path_text, EventSelection, Plan, PlannedHost};
use hiveward_engine::{
    bundle_key, finish_scan, scan_planned_hosts, scan_planned_hosts_traced, Partial, Requirement,
    RuleSet, RuleSources, RunIdentity, ScanSettings, Selection, Shard, ShardSpec, SpooledPlan,
    EXIT_CLEAN, EXIT_ERROR,
};

use crate::deliver::{deliver, load_acceptance, ReportArgs};
use crate::progress::{Phase, Progress};
use crate::{
    check_inputs, collect_options, load_rules, plan_evidence, EvidenceArgs, RuleSourceArgs,
};

#[derive(Args)]
pub(crate) struct ScanArgs {
    #[command(flatten)]
    pub(crate) evidence: EvidenceArgs,
    #[command(flatten)]
    pub(crate) sources: RuleSourceArgs,
    /// Run only these rules (comma-separated): rule ids, id globs (`HW-ALIAS-*`), pack names
    /// (`cname-spn` or `pack:cname-spn`) or severity bounds (`severity>=high`).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(crate) only: Vec<String>,
    /// Skip these rules (comma-separated), written as for --only.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(crate) exclude: Vec<String>,
    /// Baseline profile: `cis` (default) or `stig-2012`.
    #[arg(long, default_value = "cis")]
    pub(crate) profile: String,
    /// A site value for rules, such as `min_ubr.17763=5458` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub(crate) params: Vec<(String, String)>,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// Evidence every host must have, comma-separated: system, software, hkcu, sam, security,
    /// events (any event log) or log:CHANNEL (e.g. log:Security). A host without it makes the
    /// scan exit 3, even with --allow-partial.
    #[arg(long, value_delimiter = ',', value_name = "KIND,...", value_parser = Requirement::parse)]
    pub(crate) require: Vec<Requirement>,
    /// Worker threads for reading evidence and evaluating rules (default: one per core).
    #[arg(long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// Time limit for the whole run, such as 90s, 10m or 1h30m. Rules not run when it expires
    /// are reported as not checked, and the scan exits 3 (even with --allow-partial).
    #[arg(long, value_name = "DURATION")]
    pub(crate) timeout: Option<hiveward_engine::Timeout>,
    /// Scan only shard K of N of the bundle's hosts (K/N, e.g. 2/4), chosen by a hash of each
    /// host's name, and write its partial result to --partial for `hiveward merge`. `auto`
    /// takes K and N from the scheduler: a Slurm job array, HIVEWARD_SHARD=K/N, or a
    /// Kubernetes Indexed Job with `auto/N`.
    #[arg(long, value_name = "K/N|auto|auto/N", value_parser = ShardSpec::parse, requires = "partial")]
    pub(crate) shard: Option<ShardSpec>,
    /// Write the partial result (hosts, outcomes, findings and fleet summaries) to FILE instead
    /// of reports; `hiveward merge` runs the fleet rules over every shard's and reports.
    #[arg(long, value_name = "FILE")]
    pub(crate) partial: Option<PathBuf>,
    /// Show what these rules write with `print` and `debug` on each host (repeatable or
    /// comma-separated: rule ids, id globs, pack names), on standard error as
    /// `trace RULE HOST: LINE` (`*` for a fleet rule's `check`) after the scan; the report is
    /// unchanged.
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(crate) trace: Vec<String>,
    /// After the scan, show on standard error how long each rule's code ran and how many Rhai
    /// operations it took, by rule and phase (`check`, a fleet rule's `summarize` and its fleet
    /// `check`), the longest first; the report is unchanged.
    #[arg(long)]
    pub(crate) timings: bool,
    /// Instead of the report, explain RULE on the host --host names: its evidence files, each
    /// value and events query the rule read (and the defaults applied), its `needs` verdict,
    /// its output and its outcome (text, or JSON with --format json).
    #[arg(long, value_name = "RULE", requires = "host", conflicts_with_all = ["partial", "shard"])]
    pub(crate) explain: Option<String>,
    /// The host --explain explains.
    #[arg(long, value_name = "NAME", requires = "explain")]
    pub(crate) host: Option<String>,
}

/// Writes the rules' timings (`--timings`), when asked, on standard error.
pub(crate) fn print_timings(timings: Option<&hiveward_engine::RuleTimings>) {
    if let Some(timings) = timings {
        let _ = timings.write_table(&mut std::io::stderr().lock());
    }
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

/// Sizes the global rayon pool for `--jobs`.
pub(crate) fn set_jobs(jobs: Option<usize>) -> Result<(), u8> {
    let Some(jobs) = jobs else {
        return Ok(());
    };
    if jobs == 0 {
        eprintln!("error: --jobs must be at least 1");
        return Err(EXIT_ERROR);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_global()
        .map_err(|error| {
            eprintln!("error: cannot start {jobs} worker threads: {error}");
            EXIT_ERROR
        })
}

/// Loads the rules and keeps the selected ones; also returns the ids of every loaded rule
/// (waivers may name any of them).
pub(crate) fn selected_rules(
    sources: &RuleSourceArgs,
    selection: &Selection,
    params: &BTreeMap<String, String>,
) -> Result<(RuleSet, Vec<String>), u8> {
    let mut rules = load_rules(sources)?;
    let loaded_ids: Vec<String> = rules
        .rules()
        .iter()
        .map(|rule| rule.meta.id.clone())
        .collect();
    // A --param no loaded rule declares is a typo or a rule that is not loaded: refused.
    if let Err(message) = rules.check_params(params.keys().map(String::as_str)) {
        eprintln!("error: {message}");
        return Err(EXIT_ERROR);
    }
    if let Err(message) = rules.select(selection) {
        eprintln!("error: {message}");
        return Err(EXIT_ERROR);
    }
    if rules.rules().is_empty() {
        eprintln!(
            "error: no rules left to run after --only, --exclude and --profile {}",
            selection.profile
        );
        return Err(EXIT_ERROR);
    }
    Ok((rules, loaded_ids))
}

pub(crate) fn scan(args: ScanArgs) -> u8 {
    let deadline = args
        .timeout
        .clone()
        .map(hiveward_engine::RunDeadline::start);
    if let Err(code) = check_inputs(&args.evidence.paths) {
        return code;
    }
    if let (Some(rule), Some(host)) = (&args.explain, &args.host) {
        return crate::explain_cmd::explain(&args, rule, host);
    }
    let shard = match (&args.shard, &args.partial) {
        (Some(spec), Some(_)) => match spec.resolve(&|name| std::env::var(name).ok()) {
            Ok(shard) => Some(shard),
            Err(message) => {
                eprintln!("error: --shard: {message}");
                return EXIT_ERROR;
            }
        },
        (None, Some(_)) => Some(Shard { index: 1, count: 1 }),
        _ => None,
    };
    if shard.is_some() {
        let flags = args.report.report_only_flags();
        if !flags.is_empty() {
            eprintln!(
                "error: {} appl{} to the finished report: give {} to `hiveward merge`, not to a shard's scan",
                flags.join(", "),
                if flags.len() == 1 { "ies" } else { "y" },
                if flags.len() == 1 { "it" } else { "them" }
            );
            return EXIT_ERROR;
        }
    }
    if let Err(code) = set_jobs(args.jobs) {
        return code;
    }
    let selection = Selection {
        only: args.only.clone(),
        exclude: args.exclude.clone(),
        profile: args.profile.clone(),
    };
    let params: BTreeMap<String, String> = args.params.iter().cloned().collect();
    let (mut rules, loaded_ids) = match selected_rules(&args.sources, &selection, &params) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let timings = args.timings.then(|| rules.time_rules());
    let trace = match crate::explain_cmd::trace_of(&args.trace, &rules) {
        Ok(trace) => trace,
        Err(code) => return code,
    };
    // Waivers and the baseline are checked before any evidence is read.
    let acceptance = match load_acceptance(&args.report, &loaded_ids) {
        Ok(acceptance) => acceptance,
        Err(code) => return code,
    };
    let needs = EventSelection::from_needs(rules.event_needs());
    let threads = args.jobs.unwrap_or_else(rayon::current_num_threads);
    let mut progress = Progress::start(args.report.quiet);
    let plan = plan_evidence(&args.evidence, threads);
    // What the partial result needs of every host, taken before the plan goes to disk.
    let bundle_hosts = plan.hosts.len();
    let bundle_names = args
        .partial
        .as_ref()
        .map(|_| bundle_key(plan.hosts.iter().map(|host| host.name.as_str())));
    let options = collect_options(needs, threads);
    let settings = ScanSettings {
        inputs: args.evidence.paths.clone(),
        profile: args.profile.clone(),
        params: args.params.iter().cloned().collect::<BTreeMap<_, _>>(),
        require: args.require.clone(),
        deadline,
    };
    let keep = |planned: &PlannedHost| shard.is_none_or(|shard| shard.owns(&planned.name));
    let kept = plan.hosts.iter().filter(|planned| keep(planned));
    let (hosts, files) = kept.fold((0, 0), |(hosts, files), planned| {
        (hosts + 1, files + planned.files.len())
    });
    // The plan waits in a temporary file while the hosts are read: every file's record, kept
    // in memory, was most of a large bundle's memory through the host and fleet phases.
    let Plan {
        hosts: planned,
        passed_over,
        ..
    } = plan;
    let planned = SpooledPlan::new(planned);
    progress.set_totals(hosts, files);
    progress.phase(Phase::Hosts);
    let advance = |done: hiveward_engine::HostsDone| progress.advance(done.hosts, done.files);
    let results = match &trace {
        Some(trace) => scan_planned_hosts_traced(
            &planned, &keep, &rules, &settings, &options, &advance, trace,
        ),
        None => scan_planned_hosts(&planned, &keep, &rules, &settings, &options, &advance),
    };
    if let (Some(shard), Some(path)) = (shard, &args.partial) {
        progress.finish();
        crate::explain_cmd::print_trace(trace.as_ref());
        print_timings(timings.as_deref());
        let run = RunIdentity {
            rule_set: rules.fingerprint(),
            rule_sources: RuleSources {
                dirs: args
                    .sources
                    .rules
                    .iter()
                    .map(|dir| path_text(dir))
                    .collect(),
                no_builtin: args.sources.no_builtin,
                only: args.only.clone(),
                exclude: args.exclude.clone(),
            },
            profile: args.profile.clone(),
            params: settings.params.clone(),
            require: args.require.iter().map(Requirement::describe).collect(),
            inputs: args
                .evidence
                .paths
                .iter()
                .map(|input| path_text(input))
                .collect(),
            source_root: std::env::current_dir()
                .map(|dir| path_text(&dir))
                .unwrap_or_default(),
            bundle_hosts,
            bundle_key: bundle_names.unwrap_or_default(),
        };
        let hosts = results.len();
        let partial = Partial::new(shard, run, passed_over, results);
        let written =
            std::fs::File::create(path).and_then(|mut file| partial.write_json(&mut file));
        if let Err(error) = written {
            eprintln!(
                "error: cannot write the partial result {}: {error}",
                path.display()
            );
            return EXIT_ERROR;
        }
        // A result the scan's temporary files lost would be missing from the merged report
        // without a word: the shard fails instead, and a merge names it missing.
        let failures = hiveward_engine::take_spool_failures();
        for notice in &failures {
            eprintln!("error: {}", notice.message);
        }
        if hiveward_engine::results_lost(&failures) {
            let _ = std::fs::remove_file(path);
            eprintln!(
                "error: the partial result {} was not kept: results of this shard were lost",
                path.display()
            );
            return EXIT_ERROR;
        }
        eprintln!(
            "shard {shard}: {hosts} of {bundle_hosts} host(s) scanned; partial result written to {}",
            path.display()
        );
        return EXIT_CLEAN;
    }
    progress.phase(Phase::Fleet);
    let report = match &trace {
        Some(trace) => trace.run(|| finish_scan(results, passed_over, &rules, &settings)),
        None => finish_scan(results, passed_over, &rules, &settings),
    };
    progress.finish();
    crate::explain_cmd::print_trace(trace.as_ref());
    print_timings(timings.as_deref());
    let timeout = args.timeout.as_ref().map(|timeout| timeout.text.as_str());
    deliver(report, &rules, &args.report, &acceptance, timeout, None)
}
