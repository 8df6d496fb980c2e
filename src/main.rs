//! The `hiveward` command line: parses arguments, runs the collectors and reporters, renders
//! diagnostics with miette, and sets the exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
use hiveward_engine::{build_inspect_report, write_inspect_text};

/// Exit code when nothing could be read, or evidence was unreadable.
const EXIT_UNREADABLE: u8 = 3;
/// Exit code for invalid invocations.
const EXIT_USAGE: u8 = 2;

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
    /// Show what a bundle holds: hosts, files, OS facts, hotfixes, and the values under a key.
    Inspect(InspectArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum InspectFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// Evidence files or folders: REG SAVE bundles, one folder per host, or triage trees.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Show the typed values and subkeys of this key on every host, e.g.
    /// 'HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters'.
    #[arg(long)]
    key: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    format: InspectFormat,
    /// Write the report to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Follow symbolic links inside folders (off by default).
    #[arg(long)]
    follow_links: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => inspect(args),
    }
}

fn render_diagnostic(diagnostic: &dyn miette::Diagnostic) {
    let mut rendered = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
    if handler.render_report(&mut rendered, diagnostic).is_ok() {
        eprint!("{rendered}");
    } else {
        eprintln!("error: {diagnostic}");
    }
}

fn inspect(args: InspectArgs) -> ExitCode {
    for path in &args.paths {
        if std::fs::symlink_metadata(path).is_err() {
            eprintln!("error: {}: no such file or folder", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let discovery = discover(
        &args.paths,
        &DiscoverOptions {
            follow_links: args.follow_links,
        },
    );
    let collection = collect(discovery, &CollectOptions::default());
    for diagnostic in &collection.diagnostics {
        render_diagnostic(diagnostic);
    }
    let report = build_inspect_report(&collection, &args.paths, args.key.as_deref());
    let mut rendered = Vec::new();
    let written = match args.format {
        InspectFormat::Text => write_inspect_text(&report, &mut rendered),
        InspectFormat::Json => serde_json::to_writer_pretty(&mut rendered, &report)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(rendered)),
    };
    if let Err(error) = written.and_then(|()| match &args.output {
        Some(path) => std::fs::write(path, &rendered),
        None => std::io::stdout().write_all(&rendered),
    }) {
        eprintln!("error: cannot write the report: {error}");
        return ExitCode::from(EXIT_USAGE);
    }
    if report.nothing_readable() {
        eprintln!("error: no evidence could be read from the inputs");
        return ExitCode::from(EXIT_UNREADABLE);
    }
    ExitCode::SUCCESS
}
