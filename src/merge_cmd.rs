//! `hiveward merge`: checks the partial results of every shard of one scan, runs the fleet
//! rules over them, and writes the reports a single scan of the bundle would have written.

use std::path::PathBuf;

use clap::Args;
use hiveward_collectors::path_from_text;
use hiveward_engine::{
    check_partials, finish_scan, read_partial_file, HostResults, Partial, ScanSettings, Selection,
    EXIT_ERROR, EXIT_INCOMPLETE,
};

use crate::deliver::{deliver, load_acceptance, ReportArgs};
use crate::scan_cmd::{selected_rules, set_jobs};
use crate::{render_diagnostic, RuleSourceArgs};

#[derive(Args)]
pub(crate) struct MergeArgs {
    /// The partial results written by `hiveward scan --shard K/N --partial FILE`, one per shard.
    #[arg(required = true, value_name = "PARTIAL")]
    partials: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// Worker threads for the fleet rules (default: one per core).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// After the merge, show on standard error how long each fleet rule's `check` ran and how
    /// many Rhai operations it took, the longest first; the report is unchanged.
    #[arg(long)]
    timings: bool,
}

pub(crate) fn merge(args: MergeArgs) -> u8 {
    if let Err(code) = set_jobs(args.jobs) {
        return code;
    }
    let mut partials: Vec<(PathBuf, Partial)> = Vec::new();
    for path in &args.partials {
        match read_partial_file(path) {
            Ok(partial) => partials.push((path.clone(), partial)),
            Err(error) => {
                render_diagnostic(&error);
                return EXIT_ERROR;
            }
        }
    }
    if let Err(error) = check_partials(&mut partials) {
        render_diagnostic(&error);
        return if error.is_incomplete() {
            EXIT_INCOMPLETE
        } else {
            EXIT_ERROR
        };
    }
    let run = partials[0].1.run.clone();
    let sources = RuleSourceArgs {
        rules: run
            .rule_sources
            .dirs
            .iter()
            .map(|dir| path_from_text(dir).unwrap_or_else(|| PathBuf::from(dir)))
            .collect(),
        no_builtin: run.rule_sources.no_builtin,
    };
    let selection = Selection {
        only: run.rule_sources.only.clone(),
        exclude: run.rule_sources.exclude.clone(),
        profile: run.profile.clone(),
    };
    let (mut rules, loaded_ids) = match selected_rules(&sources, &selection, &run.params) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let timings = args.timings.then(|| rules.time_rules());
    if rules.fingerprint() != run.rule_set {
        eprintln!(
            "error: the rules loaded now differ from the ones the shards ran (a pack or rule file changed since, or another hiveward build): merge with the same rules"
        );
        return EXIT_ERROR;
    }
    let acceptance = match load_acceptance(&args.report, &loaded_ids) {
        Ok(acceptance) => acceptance,
        Err(code) => return code,
    };
    let settings = ScanSettings {
        inputs: run
            .inputs
            .iter()
            .map(|input| path_from_text(input).unwrap_or_else(|| PathBuf::from(input)))
            .collect(),
        profile: run.profile.clone(),
        params: run.params.clone(),
        require: Vec::new(),
        deadline: None,
    };
    let mut passed_over = Vec::new();
    let results = HostResults::new();
    for (index, (_, partial)) in partials.into_iter().enumerate() {
        if index == 0 {
            passed_over = partial.passed_over;
        }
        results.push_all(&partial.hosts);
    }
    let report = finish_scan(results, passed_over, &rules, &settings);
    crate::scan_cmd::print_timings(timings.as_deref());
    let source_root = path_from_text(&run.source_root).filter(|root| !root.as_os_str().is_empty());
    deliver(report, &rules, &args.report, &acceptance, None, source_root)
}
