//! Fix guidance shown without a finding: the rule's `{{name}}` placeholders written as `<name>`.
//!
//! A rule's fix text is a template that each finding fills with its own values. Where the text
//! stands for the rule as a whole (SARIF `help`, rule pages), the placeholders are written as
//! `<name>` so the reader sees a generic command instead of template syntax.

/// `fix` with every `{{name}}` placeholder written as `<name>`, for plain text.
pub fn generic_fix_text(fix: &str) -> String {
    generic(fix, false)
}

/// `fix` with every `{{name}}` placeholder written as `<name>` for Markdown: inside code spans
/// and fenced blocks as is, elsewhere as `&lt;name&gt;`, so that a renderer does not take it
/// for an HTML tag and drop it.
pub fn generic_fix_markdown(fix: &str) -> String {
    generic(fix, true)
}

fn generic(fix: &str, markdown: bool) -> String {
    let mut out = String::with_capacity(fix.len());
    let mut fenced = false;
    for (index, line) in fix.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        if markdown && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            fenced = !fenced;
            out.push_str(line);
            continue;
        }
        generic_line(line, markdown && !fenced, &mut out);
    }
    out
}

/// One line; `escape` says whether text outside code spans is Markdown to escape.
fn generic_line(line: &str, escape: bool, out: &mut String) {
    // The length of the backtick run that opened the code span we are in (0: not in one).
    let mut span = 0usize;
    let mut rest = line;
    while !rest.is_empty() {
        if rest.starts_with('`') {
            let run = rest.len() - rest.trim_start_matches('`').len();
            if span == 0 {
                span = run;
            } else if span == run {
                span = 0;
            }
            out.push_str(&rest[..run]);
            rest = &rest[run..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("{{") {
            if let Some(close) = after.find("}}").filter(|&close| is_name(&after[..close])) {
                let name = &after[..close];
                if escape && span == 0 {
                    out.push_str(&format!("&lt;{name}&gt;"));
                } else {
                    out.push_str(&format!("<{name}>"));
                }
                rest = &after[close + 2..];
                continue;
            }
        }
        let next = rest
            .char_indices()
            .skip(1)
            .find(|&(_, c)| c == '`' || c == '{')
            .map_or(rest.len(), |(at, _)| at);
        out.push_str(&rest[..next]);
        rest = &rest[next..];
    }
}

/// Whether `text` is a placeholder name: letters, digits and `_`, not empty.
fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_angle_names_in_text() {
        assert_eq!(
            generic_fix_text("Restart {{host}} ({{problem}}); keep {{ not one }}."),
            "Restart <host> (<problem>); keep {{ not one }}."
        );
    }

    #[test]
    fn markdown_escapes_outside_code_only() {
        let fix = "On {{host}}:\n\n```\nreg add \\\\{{host}} /f\n```\n\nRun ``setspn -S HOST/{{alias}} {{server}}`` on {{server}}.";
        assert_eq!(
            generic_fix_markdown(fix),
            "On &lt;host&gt;:\n\n```\nreg add \\\\<host> /f\n```\n\nRun ``setspn -S HOST/<alias> <server>`` on &lt;server&gt;."
        );
    }

    #[test]
    fn unbalanced_braces_and_backticks_are_kept() {
        assert_eq!(generic_fix_text("{{host"), "{{host");
        assert_eq!(generic_fix_markdown("a ` {{x}}"), "a ` <x>");
        assert_eq!(generic_fix_text("{{{name}}}"), "{<name>}");
        assert_eq!(generic_fix_text("é{{x}}ü"), "é<x>ü");
    }
}
