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

use hiveward_engine::{escape_terminal, escape_terminal_lines, Finding, ScanReport};
use pulldown_cmark::{Event, Parser, Tag};

use crate::view;

/// Renders `report` as Markdown.
pub fn markdown_report(report: &ScanReport) -> String {
    let mut out = String::new();
    write_summary(report, &mut out);
    write_rules(report, &mut out);
    write_problems(report, &mut out);
    out
}

fn write_summary(report: &ScanReport, out: &mut String) {
    let counts = &report.counts;
    let summary = &report.summary;
    let [open, waived, baselined] = view::status_counts(&report.findings);
    let not_checked: usize = report.hosts.iter().map(|h| h.coverage.not_checked).sum();
    let errors: usize = report.hosts.iter().map(|h| h.coverage.errors).sum();
    let inputs: Vec<String> = report.inputs.iter().map(|input| code(input)).collect();
    let _ = writeln!(out, "## hiveward scan report\n");
    let _ = writeln!(
        out,
        "**{} finding(s)**: {} critical, {} high, {} medium, {} low, {} info; {open} open, {waived} waived, {baselined} baselined.  ",
        summary.findings, counts.critical, counts.high, counts.medium, counts.low, counts.info
    );
    let _ = writeln!(
        out,
        "{} host(s), {} rule(s), profile {}; scanned {}; {} {}.  ",
        summary.hosts,
        summary.rules,
        code(&report.profile),
        inputs.join(", "),
        report.tool.name,
        report.tool.version
    );
    let _ = writeln!(
        out,
        "**Coverage**: {} rule × host check(s) made ({} passed), {} not applicable, {not_checked} not checked, {errors} rule error(s); {} of {} host(s) with nothing checked; {} file(s) read, {} partly, {} unreadable.\n",
        summary.checked,
        summary.passed,
        summary.not_applicable,
        summary.hosts_not_checked,
        summary.hosts,
        summary.files_read,
        summary.files_partial,
        summary.files_unreadable
    );
    if report.hosts.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "| Host | OS | Critical | High | Medium | Low | Info | Checked | Not applicable | Not checked | Rule errors |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let by_host = view::ByHost::of(report);
    for (index, host) in report.hosts.iter().enumerate() {
        let by_severity = view::severity_counts(by_host.of_host(report, index));
        let os = match (&host.os, &host.os_build) {
            (Some(os), Some(build)) => format!("{os} (build {build})"),
            (Some(os), None) => os.clone(),
            _ => String::new(),
        };
        let coverage = &host.coverage;
        let _ = writeln!(
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
        );
    }
    out.push('\n');
}

fn write_rules(report: &ScanReport, out: &mut String) {
    if report.findings.is_empty() {
        let _ = writeln!(out, "No findings.\n");
        return;
    }
    let _ = writeln!(out, "### Findings by rule\n");
    // Rules with findings, highest severity first, then by id; a finding of a rule the report
    // does not list still gets its group.
    let mut rules: Vec<(&str, &str, hiveward_engine::Severity)> = Vec::new();
    for finding in &report.findings {
        if !rules.iter().any(|(id, _, _)| *id == finding.rule) {
            rules.push((&finding.rule, &finding.title, finding.severity));
        }
    }
    rules.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    for (id, title, severity) in rules {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|finding| finding.rule == id)
            .collect();
        let mut hosts: Vec<&str> = findings.iter().map(|f| f.host.as_str()).collect();
        hosts.dedup();
        let [open, waived, baselined] = view::status_counts(findings.iter().copied());
        let _ = writeln!(
            out,
            "#### {} {} · {}\n",
            severity.name().to_uppercase(),
            cell(id),
            cell(title)
        );
        let _ = writeln!(
            out,
            "{} finding(s) on {} host(s): {open} open, {waived} waived, {baselined} baselined.\n",
            findings.len(),
            hosts.len()
        );
        let _ = writeln!(out, "| Host | Status | Message | Evidence |");
        let _ = writeln!(out, "| --- | --- | --- | --- |");
        for finding in &findings {
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
            let _ = writeln!(
                out,
                "| {} | {status} | {}{inferred} | {} |",
                cell(&finding.host),
                cell(&finding.message),
                evidence.join("<br>")
            );
        }
        out.push('\n');
        // The fix once per distinct text, naming the hosts it is for when there are several.
        let mut fixes: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut fix_index: HashMap<&str, usize> = HashMap::new();
        for finding in &findings {
            let at = *fix_index.entry(&finding.fix).or_insert_with(|| {
                fixes.push((&finding.fix, Vec::new()));
                fixes.len() - 1
            });
            let hosts = &mut fixes[at].1;
            // Findings come by host: a host already named is the last one.
            if hosts.last() != Some(&finding.host.as_str()) {
                hosts.push(&finding.host);
            }
        }
        let several = fixes.len() > 1;
        for (fix, hosts) in fixes {
            let label = if several {
                let names: Vec<String> = hosts.iter().map(|host| html_text(host)).collect();
                format!("Fix for {}", names.join(", "))
            } else {
                "Fix".to_string()
            };
            let _ = writeln!(
                out,
                "<details><summary>{label}</summary>\n\n{}\n\n</details>\n",
                safe_markdown(fix).trim_end()
            );
        }
    }
}

/// Checks not made and rule errors, which the summary counts, named.
fn write_problems(report: &ScanReport, out: &mut String) {
    if report.unchecked.is_empty() && report.rule_errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Not checked and rule errors\n");
    for unchecked in &report.unchecked {
        let _ = writeln!(
            out,
            "- not checked: {} on {}: {}",
            cell(&unchecked.rule),
            cell(&unchecked.host),
            cell(&unchecked.message)
        );
    }
    for error in &report.rule_errors {
        let _ = writeln!(
            out,
            "- rule error: {} on {}: {}",
            cell(&error.rule),
            cell(&error.host),
            cell(&error.message)
        );
    }
    out.push('\n');
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
