//! `scan --trace` and `scan --explain`: which rules a trace captures, the `trace RULE HOST:` lines
//! on standard error, and the explanation of one rule on one host, as text or JSON.

use std::collections::BTreeMap;

use hiveward_engine::{
    escape_terminal, escape_terminal_lines, explain_rule, nearest, Explanation, Read, RuleSelector,
    RuleSet, ScanSettings, Selection, Trace, EXIT_CLEAN, EXIT_ERROR,
};

use crate::deliver::ScanFormat;
use crate::scan_cmd::{set_jobs, ScanArgs};
use crate::{collect_options, emit, load_rules, plan_evidence, to_json};

/// The trace `--trace` asks for (none when it is not given); a selector that is malformed or
/// matches no rule of the scan is an error naming the nearest rule ids.
pub(crate) fn trace_of(items: &[String], rules: &RuleSet) -> Result<Option<Trace>, u8> {
    if items.is_empty() {
        return Ok(None);
    }
    let mut selectors = Vec::new();
    for item in items {
        let selector = RuleSelector::parse(item).map_err(|message| {
            eprintln!("error: --trace: {message}");
            EXIT_ERROR
        })?;
        let matched = rules
            .rules()
            .iter()
            .any(|rule| selector.matches(&rule.meta, true) || selector.matches(&rule.meta, false));
        if !matched {
            let ids: Vec<&str> = rules.rules().iter().map(|r| r.meta.id.as_str()).collect();
            eprintln!(
                "error: --trace {}: no rule of this scan matches it{}",
                selector.text(),
                nearest_text(&selector.text(), &ids)
            );
            return Err(EXIT_ERROR);
        }
        selectors.push(selector);
    }
    Ok(Some(Trace::rules(selectors)))
}

/// Writes what the traced rules wrote, sorted by host then rule, on standard error.
pub(crate) fn print_trace(trace: Option<&Trace>) {
    let Some(trace) = trace else {
        return;
    };
    let mut text = String::new();
    for output in trace.outputs() {
        for line in &output.lines {
            text.push_str(&format!(
                "trace {} {}: {}\n",
                escape_terminal(&output.rule),
                escape_terminal(&output.host),
                escape_terminal(line)
            ));
        }
    }
    eprint!("{text}");
}

fn nearest_text(name: &str, known: &[&str]) -> String {
    let found = nearest(name, known);
    if found.is_empty() {
        String::new()
    } else {
        format!(
            "; the nearest: {}",
            found
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// `scan --explain RULE --host NAME`: exits 0 with the explanation, 2 when the rule or host is
/// unknown or the invocation is wrong.
pub(crate) fn explain(args: &ScanArgs, rule: &str, host: &str) -> u8 {
    let json = match args.report.format {
        ScanFormat::Text => false,
        ScanFormat::Json => true,
        _ => {
            eprintln!("error: --explain writes text or json (--format text|json)");
            return EXIT_ERROR;
        }
    };
    if let Err(code) = set_jobs(args.jobs) {
        return code;
    }
    let mut rules = match load_rules(&args.sources) {
        Ok(rules) => rules,
        Err(code) => return code,
    };
    let params: BTreeMap<String, String> = args.params.iter().cloned().collect();
    if let Err(message) = rules.check_params(params.keys().map(String::as_str)) {
        eprintln!("error: {message}");
        return EXIT_ERROR;
    }
    let Some(id) = rules.rule(rule).map(|found| found.meta.id.clone()) else {
        let ids: Vec<&str> = rules.rules().iter().map(|r| r.meta.id.as_str()).collect();
        eprintln!(
            "error: --explain: unknown rule `{rule}`{}",
            nearest_text(rule, &ids)
        );
        return EXIT_ERROR;
    };
    let selection = Selection {
        only: vec![id.clone()],
        exclude: Vec::new(),
        profile: args.profile.clone(),
    };
    if let Err(message) = rules.select(&selection) {
        eprintln!("error: {message}");
        return EXIT_ERROR;
    }
    if rules.rules().is_empty() {
        eprintln!(
            "error: --explain: rule {id} is not in profile {}",
            args.profile
        );
        return EXIT_ERROR;
    }
    let threads = args.jobs.unwrap_or_else(rayon::current_num_threads);
    let plan = plan_evidence(&args.evidence, threads);
    let options = collect_options(
        hiveward_collectors::EventSelection::from_needs(rules.event_needs()),
        threads,
    );
    let settings = ScanSettings {
        inputs: args.evidence.paths.clone(),
        profile: args.profile.clone(),
        params,
        require: Vec::new(),
        deadline: None,
    };
    let explanation = match explain_rule(&plan.hosts, &rules, &settings, &options, &id, host) {
        Ok(explanation) => explanation,
        Err(message) => {
            eprintln!("error: --explain: {message}");
            return EXIT_ERROR;
        }
    };
    let rendered = if json {
        to_json(&explanation)
    } else {
        escape_terminal_lines(&explanation_text(&explanation))
            .into_owned()
            .into_bytes()
    };
    emit(&rendered, args.report.output.as_deref())
        .err()
        .unwrap_or(EXIT_CLEAN)
}

/// The text of an explanation.
pub(crate) fn explanation_text(explanation: &Explanation) -> String {
    let mut text = format!(
        "explain {} on {}: {} ({} rule)\n\n",
        explanation.rule, explanation.host, explanation.title, explanation.scope
    );
    text.push_str(&format!(
        "evidence files of {} ({}):\n",
        explanation.host,
        explanation.files.len()
    ));
    for file in &explanation.files {
        text.push_str(&format!(
            "  {}  {}, {}\n",
            file.path, file.kind, file.status
        ));
    }
    text.push_str(&format!(
        "\nneeds: {}{}\n",
        explanation.needs.replace('_', " "),
        explanation
            .needs_reason
            .as_deref()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default()
    ));
    let phase = if explanation.scope == "fleet" {
        " by summarize(host)"
    } else {
        ""
    };
    text.push_str(&format!(
        "\nreads{phase} ({}, in order):\n",
        explanation.reads.len()
    ));
    if explanation.reads.is_empty() {
        text.push_str("  (none)\n");
    }
    for (index, read) in explanation.reads.iter().enumerate() {
        text.push_str(&format!("  {:>3}. {}\n", index + 1, read_text(read)));
    }
    if explanation.reads_cut > 0 {
        text.push_str(&format!(
            "  … {} more read(s) not listed\n",
            explanation.reads_cut
        ));
    }
    if let Some(summary) = &explanation.summary {
        text.push_str(&format!("\nsummary: {summary}\n"));
    }
    text.push_str("\noutput:\n");
    if explanation.output.is_empty() {
        text.push_str("  (none)\n");
    }
    for line in &explanation.output {
        text.push_str(&format!("  | {line}\n"));
    }
    let count = if explanation.findings.is_empty() {
        String::new()
    } else {
        format!(" ({} finding(s))", explanation.findings.len())
    };
    text.push_str(&format!(
        "\noutcome: {}{count}{}\n",
        explanation.outcome,
        explanation
            .reason
            .as_deref()
            .map(|reason| format!(" ({reason})"))
            .unwrap_or_default()
    ));
    for finding in &explanation.findings {
        text.push_str(&format!(
            "  {:<8} {}{}\n",
            finding.severity.to_uppercase(),
            if finding.inferred { "(inferred) " } else { "" },
            finding.message
        ));
    }
    text
}

/// One read as a line.
fn read_text(read: &Read) -> String {
    match read {
        Read::Value {
            call,
            key,
            value_name,
            found,
            value_type,
            file,
            default_applied,
        } => {
            let name = if value_name.is_empty() {
                "(Default)"
            } else {
                value_name
            };
            match found {
                Some(found) => format!(
                    "{call} {key}\\{name} = {found} ({}) [{}]",
                    value_type.as_deref().unwrap_or("?"),
                    file.as_deref().unwrap_or("?")
                ),
                None => match default_applied {
                    Some(default) => {
                        format!("{call} {key}\\{name}: absent; default applied: {default}")
                    }
                    None => format!("{call} {key}\\{name}: absent"),
                },
            }
        }
        Read::Key {
            call,
            key,
            found,
            detail,
        } => match (found, detail) {
            (true, Some(detail)) => format!("{call} {key}: {detail}"),
            (true, None) => format!("{call} {key}: present"),
            (false, _) => format!("{call} {key}: absent"),
        },
        Read::Events {
            channel,
            ids,
            returned,
            first_record_ids,
        } => {
            let ids = if ids.is_empty() {
                String::new()
            } else {
                format!(
                    " ids [{}]",
                    ids.iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let first = if first_record_ids.is_empty() {
                String::new()
            } else {
                format!(
                    " (record ids {}{})",
                    first_record_ids
                        .iter()
                        .map(|id| id.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    if *returned > first_record_ids.len() {
                        ", …"
                    } else {
                        ""
                    }
                )
            };
            format!("host.events {channel}{ids}: {returned} record(s){first}")
        }
        Read::Fact { call, result } => format!("{call} = {result}"),
        Read::Unreadable { message } => format!("unreadable: {message}"),
    }
}
