//! `hiveward rules`: lists, shows, documents and tests rules. `rules test` runs the cases beside
//! each rule, optionally only some rules (`--rule`) or cases (`--case`), and reports them as
//! text, JSON or JUnit XML for CI. `rules new` scaffolds a rule and its tests; `rules check` validates packs
//! without running their cases.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use hiveward_engine::{
    rule_listings, rule_show_text, rules_list_text, rules_markdown, RuleSelector, TestReport,
    EXIT_ERROR,
};

use crate::{emit, load_rules, to_json, Format, RuleSourceArgs};

/// The output formats of `rules test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TestFormat {
    /// `PASS`/`FAIL` lines, each failure with its `file:line` and diff, and a count line.
    Text,
    /// One JSON document (`schemas/rules-test.schema.json`).
    Json,
    /// JUnit XML: a testsuite per rule, a testcase per case.
    Junit,
}

#[derive(Subcommand)]
pub(crate) enum RulesCommand {
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
    /// Write the Markdown catalogue of the built-in packs; with DIR, of those packs instead.
    Doc {
        /// Pack folders, or folders of packs, to document instead of the built-in packs.
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Where to write it (`-`: standard output). Without DIR it is docs/rules.md; with
        /// DIR, standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Write Rhai definition files (`.d.rhai`) of the host API and the standard library into
    /// DIR, for the Rhai language server's completion and hover in rule files.
    Definitions {
        /// The folder to write them in; created when missing.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run the test cases beside each rule; with DIR, test those packs (built-ins excluded).
    Test {
        /// Pack folders, or folders of packs, to test instead of the built-in packs.
        dirs: Vec<PathBuf>,
        /// Run only the cases of these rules (repeatable, or comma-separated): rule ids, id
        /// globs (`HW-ALIAS-*`), pack names or severity bounds, as `scan --only` reads them.
        #[arg(long = "rule", value_delimiter = ',', value_name = "ID")]
        rules: Vec<String>,
        /// Run only the cases whose name contains NAME (without regard to case); the coverage
        /// check, which needs every case of a rule, is then left out.
        #[arg(long = "case", value_name = "NAME")]
        case: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TestFormat::Text)]
        format: TestFormat,
        /// Write the report to this file instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Show what the rules wrote with `print` and `debug` under every case, passed ones too
        /// (without it, only under failed cases); JSON and JUnit always carry it.
        #[arg(long)]
        trace: bool,
    },
    /// Write a new rule and its test file (and the pack's pack.toml when the pack is new),
    /// ready to pass `rules test`; existing files are never overwritten.
    New {
        /// The pack folder and the rule id, as `site-smb/SITE-SMB-001`.
        #[arg(value_name = "PACK/ID")]
        target: String,
        /// The folder that holds (or will hold) the pack folder.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Check packs as a scan loads them, and read their test files, without running a case.
    Check {
        /// Pack folders, or folders of packs.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
    },
}

pub(crate) fn rules(command: RulesCommand) -> u8 {
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
        RulesCommand::Doc { dirs, output } => doc(dirs, output),
        RulesCommand::Definitions { dir } => crate::definitions_cmd::definitions(&dir),
        RulesCommand::Test {
            dirs,
            rules,
            case,
            format,
            output,
            trace,
        } => test(dirs, &rules, case.as_deref(), format, output, trace),
        RulesCommand::New { target, dir } => crate::scaffold::new_rule(&target, &dir),
        RulesCommand::Check { dirs } => crate::scaffold::check(&dirs),
    }
}

/// `rules doc`: the catalogue of the built-in packs (by default into docs/rules.md), or of the
/// packs in `dirs` (by default to standard output). Packs that do not load exit 2.
fn doc(dirs: Vec<PathBuf>, output: Option<PathBuf>) -> u8 {
    let output = match output {
        Some(output) => output,
        None if dirs.is_empty() => PathBuf::from("docs/rules.md"),
        None => PathBuf::from("-"),
    };
    let sources = RuleSourceArgs {
        no_builtin: !dirs.is_empty(),
        rules: dirs,
    };
    let rules = match load_rules(&sources) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let markdown = rules_markdown(&rules);
    if output == Path::new("-") {
        return emit(markdown.as_bytes(), None).err().unwrap_or(0);
    }
    if let Some(parent) = output
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        if let Err(error) = std::fs::create_dir_all(parent) {
            eprintln!("error: cannot create {}: {error}", parent.display());
            return EXIT_ERROR;
        }
    }
    match std::fs::write(&output, markdown) {
        Ok(()) => emit(format!("wrote {}\n", output.display()).as_bytes(), None)
            .err()
            .unwrap_or(0),
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", output.display());
            EXIT_ERROR
        }
    }
}

/// `rules test`: exits 0 when every selected case passed, 1 when one failed, 2 when the packs
/// do not load or a filter is malformed or selects nothing.
fn test(
    dirs: Vec<PathBuf>,
    selectors: &[String],
    case: Option<&str>,
    format: TestFormat,
    output: Option<PathBuf>,
    trace: bool,
) -> u8 {
    let mut parsed = Vec::new();
    for text in selectors {
        match RuleSelector::parse(text) {
            Ok(selector) => parsed.push(selector),
            Err(message) => {
                eprintln!("error: --rule: {message}");
                return EXIT_ERROR;
            }
        }
    }
    if case.is_some_and(|case| case.trim().is_empty()) {
        eprintln!("error: --case: give part of a case name");
        return EXIT_ERROR;
    }
    let sources = RuleSourceArgs {
        no_builtin: !dirs.is_empty(),
        rules: dirs,
    };
    let rules = match load_rules(&sources) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let report = match TestReport::run(&rules, &parsed, case) {
        Ok(report) => report,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_ERROR;
        }
    };
    let rendered = match format {
        TestFormat::Text => {
            let mut text = Vec::new();
            let _ = report.write_with(&mut text, trace);
            text
        }
        TestFormat::Json => to_json(&report.json()),
        TestFormat::Junit => report.junit_xml().into_bytes(),
    };
    if let Err(code) = emit(&rendered, output.as_deref()) {
        return code;
    }
    u8::from(report.failures() > 0)
}
