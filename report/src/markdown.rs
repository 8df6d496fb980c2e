//! The Markdown report, for pull-request comments and tickets: the summary (totals, and a table
//! of each host's findings by severity and coverage), then the findings grouped by rule, each
//! rule's fix given once (once per distinct text, when the values filled in differ by host).
//!
//! Report data is untrusted: hosts, values, messages and titles come from evidence and rule
//! packs. Every such string is shown with control characters as visible escapes (as the text
//! report does), in table cells and headings with the characters Markdown would act on
//! backslash-escaped (`|`, `*`, `_`, `` ` ``, `[`, `]`, `<`, `>`, `~`, `&`, `$`), and paths and
//! values in code spans. Fix guidance is Markdown and stays Markdown, inside a `<details>`
//! block, with any raw HTML in it escaped and images turned into plain text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use hiveward_engine::{escape_terminal, escape_terminal_lines, Finding, ScanReport, Severity};
use pulldown_cmark::{Event, Parser, Tag};
use sha2::{Digest, Sha256};

use crate::view;

/// Renders `report` as Markdown ([`write_markdown_report`]'s text, in memory).
pub fn markdown_report(report: &ScanReport) -> String {
    let mut bytes = Vec::new();
    write_markdown_report(report, &mut bytes).expect("writing to memory does not fail");
    String::from_utf8(bytes).expect("the report is UTF-8")
}

/// [`markdown_report`] written to `out` as it is rendered: the report's hosts and findings are
/// read back from their spools a host and a finding at a time (each rule's findings twice: once
/// to count them, once to write them), so that a fleet's report is never held whole. A failure
/// of `out` is returned as it is (a closed pipe stays a broken pipe).
pub fn write_markdown_report(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let index = view::ReportIndex::of(report);
    write_summary(report, &index, out)?;
    write_rules(report, out)?;
    write_problems(report, out)
}

fn write_summary(
    report: &ScanReport,
    index: &view::ReportIndex,
    out: &mut dyn Write,
) -> io::Result<()> {
    let counts = &report.counts;
    let summary = &report.summary;
    let [open, waived, baselined] = index.status_totals;
    let (not_checked, errors) = (index.not_checked, index.errors);
    let inputs: Vec<String> = report.inputs.iter().map(|input| code(input)).collect();
    writeln!(out, "## hiveward scan report\n")?;
    writeln!(
        out,
        "**{} finding(s)**: {} critical, {} high, {} medium, {} low, {} info; {open} open, {waived} waived, {baselined} baselined.  ",
        summary.findings, counts.critical, counts.high, counts.medium, counts.low, counts.info
    )?;
    writeln!(
        out,
        "{} host(s), {} rule(s), profile {}; scanned {}; {} {}.  ",
        summary.hosts,
        summary.rules,
        code(&report.profile),
        inputs.join(", "),
        report.tool.name,
        report.tool.version
    )?;
    writeln!(
        out,
        "**Coverage**: {} rule × host check(s) made ({} passed{}), {} not applicable, {not_checked} not checked, {errors} rule error(s); {} of {} host(s) with nothing checked; {} file(s) read, {} partly, {} unreadable.\n",
        summary.checked,
        summary.passed,
        if summary.passed_inferred > 0 {
            format!(
                ", {} of them inferred: each says what it assumed",
                summary.passed_inferred
            )
        } else {
            String::new()
        },
        summary.not_applicable,
        summary.hosts_not_checked,
        summary.hosts,
        summary.files_read,
        summary.files_partial,
        summary.files_unreadable
    )?;
    if report.hosts.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "| Host | OS | Critical | High | Medium | Low | Info | Checked | Not applicable | Not checked | Rule errors |"
    )?;
    writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for (at, host) in report.hosts.stream().enumerate() {
        let by_severity = index.severities.get(at).copied().unwrap_or_default();
        let os = match (&host.os, &host.os_build) {
            (Some(os), Some(build)) => format!("{os} (build {build})"),
            (Some(os), None) => os.clone(),
            _ => String::new(),
        };
        let coverage = &host.coverage;
        writeln!(
            out,
            "| {} | {} | {} | {} of {} | {} | {} | {} |",
            cell(&host.name),
            cell(&os),
            by_severity
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" | "),
            coverage.checked,
            coverage.rules,
            coverage.not_applicable,
            coverage.not_checked,
            coverage.errors
        )?;
    }
    writeln!(out)
}

/// A rule with findings: its id, the title and severity of its first finding, and the
/// positions of its findings in the report.
struct RuleGroup {
    id: String,
    title: String,
    severity: Severity,
    positions: Vec<usize>,
}

/// One fix text of a rule, shown once: where a finding with it is in the report, and the
/// hosts it is for.
struct FixGroup {
    first: usize,
    hosts: Vec<String>,
}

fn write_rules(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    if report.findings.is_empty() {
        return writeln!(out, "No findings.\n");
    }
    writeln!(out, "### Findings by rule\n")?;
    // Rules with findings, highest severity first, then by id; a finding of a rule the report
    // does not list still gets its group.
    let mut rules: Vec<RuleGroup> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (at, finding) in report.findings.stream().enumerate() {
        let group = *by_id.entry(finding.rule.clone()).or_insert_with(|| {
            rules.push(RuleGroup {
                id: finding.rule.clone(),
                title: finding.title.clone(),
                severity: finding.severity,
                positions: Vec::new(),
            });
            rules.len() - 1
        });
        rules[group].positions.push(at);
    }
    rules.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    for rule in &rules {
        write_rule(report, rule, out)?;
    }
    Ok(())
}

/// One rule's findings: first read to count them and to find the distinct fix texts, then
/// read again as each is written.
fn write_rule(report: &ScanReport, rule: &RuleGroup, out: &mut dyn Write) -> io::Result<()> {
    let findings = || {
        rule.positions
            .iter()
            .filter_map(|at| report.findings.get(*at).map(|finding| (*at, finding)))
    };
    let mut count = 0;
    let mut hosts = 0;
    let mut last_host: Option<String> = None;
    let mut statuses = [0; 3];
    // The fix once per distinct text (known by its digest: the texts stay in the spool),
    // naming the hosts it is for when there are several.
    let mut fixes: Vec<FixGroup> = Vec::new();
    let mut fix_index: HashMap<[u8; 32], usize> = HashMap::new();
    for (at, finding) in findings() {
        count += 1;
        if last_host.as_deref() != Some(finding.host.as_str()) {
            hosts += 1;
        }
        statuses[view::status_slot(&finding)] += 1;
        let digest: [u8; 32] = Sha256::digest(finding.fix.as_bytes()).into();
        let group = *fix_index.entry(digest).or_insert_with(|| {
            fixes.push(FixGroup {
                first: at,
                hosts: Vec::new(),
            });
            fixes.len() - 1
        });
        let hosts = &mut fixes[group].hosts;
        // Findings come by host: a host already named is the last one.
        if hosts.last() != Some(&finding.host) {
            hosts.push(finding.host.clone());
        }
        last_host = Some(finding.host);
    }
    let [open, waived, baselined] = statuses;
    writeln!(
        out,
        "#### {} {} · {}\n",
        rule.severity.name().to_uppercase(),
        cell(&rule.id),
        cell(&rule.title)
    )?;
    writeln!(
        out,
        "{count} finding(s) on {hosts} host(s): {open} open, {waived} waived, {baselined} baselined.\n"
    )?;
    writeln!(out, "| Host | Status | Message | Evidence |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for (_, finding) in findings() {
        write_finding_row(&finding, out)?;
    }
    writeln!(out)?;
    let several = fixes.len() > 1;
    for fix in fixes {
        let Some(finding) = report.findings.get(fix.first) else {
            continue;
        };
        let label = if several {
            let names: Vec<String> = fix.hosts.iter().map(|host| html_text(host)).collect();
            format!("Fix for {}", names.join(", "))
        } else {
            "Fix".to_string()
        };
        writeln!(
            out,
            "<details><summary>{label}</summary>\n\n{}\n\n</details>\n",
            safe_markdown(&finding.fix).trim_end()
        )?;
    }
    Ok(())
}

/// A finding's row in its rule's table: host, status, message and evidence.
fn write_finding_row(finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
    let status = match &finding.suppression {
        Some(suppression) => format!(
            "{}: {}",
            view::status(finding),
            cell(&suppression.justification)
        ),
        None => "open".to_string(),
    };
    let inferred = if finding.inferred { " (inferred)" } else { "" };
    let evidence: Vec<String> = finding.evidence.iter().map(evidence_cell).collect();
    writeln!(
        out,
        "| {} | {status} | {}{inferred} | {} |",
        cell(&finding.host),
        cell(&finding.message),
        evidence.join("<br>")
    )
}

/// Checks not made and rule errors, which the summary counts, named.
fn write_problems(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    if report.unchecked.is_empty() && report.rule_errors.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Not checked and rule errors\n")?;
    for unchecked in &report.unchecked {
        writeln!(
            out,
            "- not checked: {} on {}: {}",
            cell(&unchecked.rule),
            cell(&unchecked.host),
            cell(&unchecked.message)
        )?;
    }
    for error in &report.rule_errors {
        writeln!(
            out,
            "- rule error: {} on {}: {}",
            cell(&error.rule),
            cell(&error.host),
            cell(&error.message)
        )?;
    }
    writeln!(out)
}

/// One evidence item in a table cell: `path` = value; expected X [file].
fn evidence_cell(evidence: &hiveward_engine::Evidence) -> String {
    let location = view::evidence_location(evidence);
    let found = view::evidence_found(evidence);
    let mut text = if location.is_empty() {
        cell(&found)
    } else if evidence.kind == "event" {
        format!("{}: {}", code(&location), cell(&found))
    } else {
        format!("{} = {}", code(&location), code(&found))
    };
    let expected = view::evidence_expected(evidence);
    if !expected.is_empty() {
        let _ = write!(text, "; expected {}", code(&expected));
    }
    let files = view::evidence_files(evidence);
    if !files.is_empty() {
        let _ = write!(text, " in {}", code(&files));
    }
    text
}

/// `text` inside raw HTML (the `<summary>` of a fix): one line, with `&`, `<`, `>` and `"`
/// as entities.
fn html_text(text: &str) -> String {
    escape_terminal(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The characters escaped in inline text: those that could start emphasis, code, links, raw
/// HTML, entities, strikethrough or math, or end a table cell.
const INLINE_SPECIAL: &[char] = &['`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '$'];

/// `text` for a table cell or heading: one line, with control characters shown as escapes and
/// Markdown's special characters backslash-escaped (a backslash itself only where it would
/// escape what follows).
pub(crate) fn cell(text: &str) -> String {
    let text = escape_terminal(text);
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let escapes_next = chars.peek().is_some_and(|next| next.is_ascii_punctuation());
            out.push_str(if escapes_next { "\\\\" } else { "\\" });
        } else if INLINE_SPECIAL.contains(&c) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` as a code span that survives a table cell: fenced with more backticks than it holds,
/// with `|` escaped (GitHub splits cells before it parses code spans).
pub(crate) fn code(text: &str) -> String {
    let text = escape_terminal(text).replace('|', "\\|");
    if text.is_empty() {
        return "` `".to_string();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Fix guidance as Markdown that cannot break out of its block: control characters shown as
/// escapes, raw HTML escaped (so it shows as text), images and links to anything but `http:`,
/// `https:` and `mailto:` turned into their text. Each pass escapes what the last parse found;
/// text that still holds any after a few passes is shown as a fenced code block instead.
pub(crate) fn safe_markdown(fix: &str) -> String {
    let mut text = escape_terminal_lines(fix).into_owned();
    for _ in 0..4 {
        let edits = unsafe_spots(&text);
        if edits.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len() + edits.len() * 4);
        let mut last = 0;
        for (offset, replacement) in edits {
            out.push_str(&text[last..offset]);
            out.push_str(replacement);
            // Every spot is one ASCII character.
            last = offset + 1;
        }
        out.push_str(&text[last..]);
        text = out;
    }
    if unsafe_spots(&text).is_empty() {
        return text;
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{text}\n{fence}")
}

/// Where `text` holds raw HTML, an image or an unsafe link, with what to put in place of the
/// character there, by offset.
fn unsafe_spots(text: &str) -> Vec<(usize, &'static str)> {
    let mut edits: Vec<(usize, &'static str)> = Vec::new();
    let escape_first =
        |at: usize, edits: &mut Vec<(usize, &'static str)>| match text.as_bytes().get(at) {
            Some(b'!') => edits.push((at, "\\!")),
            Some(b'[') => edits.push((at, "\\[")),
            Some(b'<') => edits.push((at, "&lt;")),
            _ => {}
        };
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Html(_) | Event::InlineHtml(_) => {
                for (offset, c) in text[range.clone()].char_indices() {
                    match c {
                        '<' => edits.push((range.start + offset, "&lt;")),
                        '&' => edits.push((range.start + offset, "&amp;")),
                        _ => {}
                    }
                }
            }
            Event::Start(Tag::Image { .. }) => escape_first(range.start, &mut edits),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                ..
            }) if !view::safe_link(link_type, &dest_url) => escape_first(range.start, &mut edits),
            _ => {}
        }
    }
    edits.sort_by_key(|(offset, _)| *offset);
    edits.dedup_by_key(|(offset, _)| *offset);
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spilled_report_is_written_a_rule_at_a_time_as_it_reads_in_memory() {
        let report = view::sample_fleet(40);
        let in_memory = report.clone();
        assert_eq!(in_memory.hosts.items().len(), report.hosts.len());
        assert_eq!(in_memory.findings.items().len(), report.findings.len());
        let mut streamed = Vec::new();
        write_markdown_report(&report, &mut streamed).unwrap();
        let streamed = String::from_utf8(streamed).unwrap();
        assert_eq!(streamed, markdown_report(&in_memory));
        assert_eq!(streamed, markdown_report(&report));
        // A row per host in the summary, and one per finding under its rule.
        let rows = streamed
            .lines()
            .filter(|line| line.starts_with("| "))
            .filter(|line| !line.starts_with("| Host |") && !line.starts_with("| --- |"))
            .count();
        assert_eq!(rows, report.hosts.len() + report.findings.len());
        assert!(
            streamed.contains("<details><summary>Fix for "),
            "several fix texts"
        );
        // Pushing to a spool read into memory is a programming error that debug builds catch:
        // these pushes show that writing the report read neither spool whole.
        report.findings.push(&report.findings.get(0).unwrap());
        report.hosts.push(&report.hosts.get(0).unwrap());
    }

    #[test]
    fn cells_escape_what_markdown_would_act_on() {
        assert_eq!(cell("a|b"), r"a\|b");
        assert_eq!(cell("<script>"), r"\<script\>");
        assert_eq!(cell("*x* _y_ [l](u)"), r"\*x\* \_y\_ \[l\](u)");
        assert_eq!(cell(r"HKLM\SYSTEM"), r"HKLM\SYSTEM");
        assert_eq!(cell(r"a\*b"), r"a\\\*b");
        assert_eq!(cell("two\nlines"), r"two\nlines");
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code("x"), "`x`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(code("a|b"), r"`a\|b`");
        assert_eq!(code(""), "` `");
    }

    #[test]
    fn raw_html_and_images_in_fix_text_become_text() {
        let fix = "Run `<b>` first.\n\n<script>alert(1)</script>\n\nSee ![x](http://e/x.png) and <b>bold</b> &amp; more.\n\n[a](javascript:alert(1)) [b][r] <javascript:alert(2)> [ok](https://e/)\n\n[r]: javascript:alert(3)\n";
        let safe = safe_markdown(fix);
        assert!(safe.contains("Run `<b>` first."), "{safe}");
        assert!(safe.contains("&lt;script>alert(1)&lt;/script>"), "{safe}");
        assert!(safe.contains(r"See \![x](http://e/x.png)"), "{safe}");
        assert!(safe.contains("&lt;b>bold&lt;/b>"), "{safe}");
        assert!(safe.contains("[ok](https://e/)"), "{safe}");
        assert!(unsafe_spots(&safe).is_empty(), "{safe}");
        for event in Parser::new(&safe) {
            match event {
                Event::Html(_) | Event::InlineHtml(_) | Event::Start(Tag::Image { .. }) => {
                    panic!("{event:?} in {safe}")
                }
                Event::Start(Tag::Link { dest_url, .. }) => {
                    assert!(
                        ["https://e/", "http://e/x.png"].contains(&&*dest_url),
                        "{safe}"
                    )
                }
                _ => {}
            }
        }
    }
}
