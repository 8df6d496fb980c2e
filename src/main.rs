//! The `hiveward` command line: parses arguments, runs the collectors, the rule engine and the
//! reporters, renders diagnostics with miette, and sets the exit code.

mod config;
mod definitions_cmd;
mod deliver;
mod explain_cmd;
mod merge_cmd;
mod progress;
mod rules_cmd;
mod scaffold;
mod scan_cmd;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hiveward_collectors::{
    collect, discover, plan, CollectOptions, Collection, DiscoverOptions, Discovery,
    EventSelection, EvtxReadOptions, Plan,
};
use hiveward_engine::{
    build_inspect_report, write_inspect_text, ColorChoice, Limits, PackSource, RuleSet, EXIT_CLEAN,
    EXIT_ERROR, EXIT_INCOMPLETE,
};

/// Rules allocate and free many small maps and strings; mimalloc does that markedly faster
/// than the system allocator, on one thread and on many (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 headers; the Rust
/// bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once instead of after mimalloc's default delay: a
/// scan frees each host as it goes, and the peak stays flat only if that memory goes back.
/// `MIMALLOC_PURGE_DELAY` in the environment still decides.
fn release_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one of mimalloc's documented options to a documented value; it takes no
    // pointers and may be called at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// Keeps the heap on ordinary 4 KiB pages. With transparent huge pages, every page mimalloc
/// takes back after purging freed memory came back as a fresh 2 MiB page that the kernel zeroed
/// whole: the peak RSS of a fleet scan was half as high again, and the zeroing about a tenth of
/// the CPU of the scanner's own work (BENCHMARKS.md). `MIMALLOC_ALLOW_THP` in the environment
/// still decides (mimalloc reads it at start-up).
fn keep_heap_off_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)` takes no pointers; it sets one flag of
    // this process, which the kernel checks when it backs a page fault.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// The exit code when standard output is closed before everything was written to it (`hiveward
/// scan ... | head -1`): 141, what a shell reports for a process that SIGPIPE ends (128 + 13),
/// so that `set -o pipefail` sees a cut-off report, never a pass. Nothing is printed about it.
pub(crate) const EXIT_BROKEN_PIPE: u8 = 141;

/// `--color`: when the text report on standard output is in colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorArg {
    /// On a terminal, unless NO_COLOR is set; CLICOLOR_FORCE colours a pipe too.
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

impl ColorArg {
    /// Whether the text written to standard output is coloured. Reports written to files
    /// (`-o`, `--output-format`) never are.
    pub(crate) fn for_stdout(self) -> bool {
        match self {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
        .for_stdout()
    }

    /// Whether diagnostics on standard error are coloured.
    pub(crate) fn for_stderr(self) -> bool {
        match self {
            ColorArg::Auto => ColorChoice::Auto,
            ColorArg::Always => ColorChoice::Always,
            ColorArg::Never => ColorChoice::Never,
        }
        .for_stderr()
    }
}

#[derive(Parser)]
#[command(
    name = "hiveward",
    version,
    about = "Offline compliance scanner for Windows registry hives, .reg exports and event logs",
    long_about = None
)]
struct Cli {
    /// Read default options of scan and merge from FILE instead of ./hiveward.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Do not read ./hiveward.toml.
    #[arg(long, global = true, conflicts_with = "config")]
    no_config: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan evidence bundles with the rule packs and report findings.
    Scan(Box<scan_cmd::ScanArgs>),
    /// Merge the partial results of a sharded scan (`scan --shard K/N --partial FILE`) into
    /// the reports one scan of the whole bundle would have written.
    Merge(Box<merge_cmd::MergeArgs>),
    /// Show what a bundle holds: hosts, files, OS facts, hotfixes, and the values under a key.
    Inspect(InspectArgs),
    /// List, show, document and test rules.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// Print a shell completion script: `hiveward completions bash > /etc/bash_completion.d/hiveward`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `hiveward man > hiveward.1; man ./hiveward.1`; with a
    /// subcommand, its own page (`hiveward man scan > hiveward-scan.1`).
    Man {
        /// The subcommand whose page to print.
        subcommand: Option<String>,
    },
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

/// Prints `diagnostic` on standard error, safely whatever its source holds.
/// Whether diagnostics on standard error are coloured: set once from `--color` (scan, merge)
/// or the environment and terminal (auto).
static DIAGNOSTIC_COLOR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn render_diagnostic(diagnostic: &dyn miette::Diagnostic) {
    let color = *DIAGNOSTIC_COLOR.get_or_init(|| ColorChoice::Auto.for_stderr());
    eprint!(
        "{}",
        hiveward_engine::render_diagnostic_text_with(diagnostic, color)
    );
}

fn main() -> ExitCode {
    release_freed_memory_at_once();
    keep_heap_off_huge_pages();
    // Parsed in two steps so that the site configuration fills in only what the command line
    // does not give (see `config`).
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .unwrap_or_else(|error| error.exit());
    if let Err(code) = config::apply(
        &mut cli.command,
        &matches,
        cli.config.as_deref(),
        cli.no_config,
    ) {
        return ExitCode::from(code);
    }
    let color = match &cli.command {
        Command::Scan(args) => args.report.color,
        Command::Merge(args) => args.report.color,
        _ => ColorArg::Auto,
    };
    let _ = DIAGNOSTIC_COLOR.set(color.for_stderr());
    let code = match cli.command {
        Command::Scan(args) => scan_cmd::scan(*args),
        Command::Merge(args) => merge_cmd::merge(*args),
        Command::Inspect(args) => inspect(args),
        Command::Rules(command) => rules_cmd::rules(command),
        Command::Completions { shell } => completions(shell),
        Command::Man { subcommand } => manual(subcommand.as_deref()),
    };
    ExitCode::from(code)
}

/// Writes the completion script for `shell` to standard output.
fn completions(shell: clap_complete::Shell) -> u8 {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "hiveward", &mut script);
    emit(&script, None).err().unwrap_or(EXIT_CLEAN)
}

/// Writes the manual page of hiveward, or of one subcommand (`hiveward-scan`), to standard
/// output.
fn manual(subcommand: Option<&str>) -> u8 {
    let command = <Cli as clap::CommandFactory>::command();
    let page = match subcommand {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            Some(sub) => sub.clone().name(format!("hiveward-{name}")),
            None => {
                eprintln!("error: no subcommand `{name}`: hiveward man takes scan, merge, inspect, rules, completions");
                return EXIT_ERROR;
            }
        },
    };
    let mut roff = Vec::new();
    if let Err(error) = clap_mangen::Man::new(page).render(&mut roff) {
        eprintln!("error: cannot render the manual page: {error}");
        return EXIT_ERROR;
    }
    emit(&roff, None).err().unwrap_or(EXIT_CLEAN)
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

fn collect_options(events: EventSelection, threads: usize) -> CollectOptions {
    CollectOptions {
        events,
        evtx: EvtxReadOptions { threads },
        ..CollectOptions::default()
    }
}

/// Walks the evidence paths.
fn discover_evidence(args: &EvidenceArgs) -> Discovery {
    discover(
        &args.paths,
        &DiscoverOptions {
            follow_links: args.follow_links,
        },
    )
}

/// Finds the hosts of the bundle, rendering a diagnostic for each unreadable file.
fn plan_evidence(args: &EvidenceArgs, threads: usize) -> Plan {
    let plan = plan(
        discover_evidence(args),
        &collect_options(EventSelection::Nothing, threads),
    );
    for diagnostic in &plan.diagnostics {
        render_diagnostic(diagnostic);
    }
    plan
}

fn collect_evidence(args: &EvidenceArgs, events: EventSelection, threads: usize) -> Collection {
    let collection = collect(discover_evidence(args), &collect_options(events, threads));
    for diagnostic in &collection.diagnostics {
        render_diagnostic(diagnostic);
    }
    collection
}

/// Writes `rendered` to `output`, or to standard output when it is absent or `-`. When standard
/// output is closed early (a reader such as `head` stopped), it stops quietly with
/// [`EXIT_BROKEN_PIPE`]; any other failure names the file.
fn emit(rendered: &[u8], output: Option<&Path>) -> Result<(), u8> {
    emit_with(output, &mut |out| out.write_all(rendered))
}

/// [`emit`] for a report that `write` writes as it renders it (buffered).
fn emit_with(
    output: Option<&Path>,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), u8> {
    let output = output.filter(|path| *path != Path::new("-"));
    let written = match output {
        Some(path) => std::fs::File::create(path).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out)?;
            out.flush()
        }),
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut stdout).and_then(|()| stdout.flush())
        }
    };
    written.map_err(|error| {
        if output.is_none() && error.kind() == std::io::ErrorKind::BrokenPipe {
            return EXIT_BROKEN_PIPE;
        }
        match output {
            Some(path) => eprintln!(
                "error: cannot write the report to {}: {error}",
                path.display()
            ),
            None => eprintln!("error: cannot write the report to standard output: {error}"),
        }
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
    let mut rules = RuleSet::load(packs, Limits::default()).map_err(|errors| {
        for error in &errors {
            render_diagnostic(error);
        }
        eprintln!(
            "error: {} rule or pack error(s); nothing was scanned",
            errors.len()
        );
        EXIT_ERROR
    })?;
    config::apply_severity(&mut rules)?;
    Ok(rules)
}

fn inspect(args: InspectArgs) -> u8 {
    if let Err(code) = check_inputs(&args.evidence.paths) {
        return code;
    }
    // `--events` counts every record of every log; none is kept, so memory does not grow with
    // the logs (an empty `Matching` parses and counts every chunk and returns no record).
    let selection = if args.events {
        EventSelection::Matching(Vec::new())
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
