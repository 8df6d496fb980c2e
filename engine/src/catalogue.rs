//! `hiveward rules list|show|doc`: the rule catalogue as text, JSON and Markdown.
//!
//! The text forms show control characters in rule metadata as visible escapes (see
//! [`escape_terminal`](crate::escape_terminal)): packs come from other teams.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

use crate::rule::RuleMeta;
use crate::ruleset::RuleSet;
use crate::terminal::{escape_terminal as one_line, escape_terminal_lines};

/// One rule in `rules list --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RuleListing {
    /// The metadata.
    #[serde(flatten)]
    pub meta: RuleMeta,
    /// The rule file.
    pub file: String,
    /// Whether it is built in.
    pub builtin: bool,
}

/// Every loaded rule with its file, sorted by id.
pub fn rule_listings(rules: &RuleSet) -> Vec<RuleListing> {
    rules
        .rules()
        .iter()
        .map(|rule| RuleListing {
            meta: rule.meta.clone(),
            file: rule.file.origin.clone(),
            builtin: rule.builtin,
        })
        .collect()
}

/// One line per rule: id, severity, pack, title.
pub fn rules_list_text(rules: &RuleSet) -> String {
    let mut out = String::new();
    for rule in rules.rules() {
        let _ = writeln!(
            out,
            "{:<14} {:<8} {:<16} {}",
            one_line(&rule.meta.id),
            rule.meta.severity.name(),
            one_line(&rule.meta.pack),
            one_line(&rule.meta.title)
        );
    }
    let _ = writeln!(out, "{} rule(s)", rules.rules().len());
    escape_terminal_lines(&out).into_owned()
}

/// All metadata of one rule and its fix guidance.
pub fn rule_show_text(meta: &RuleMeta, file: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", one_line(&meta.id), one_line(&meta.title));
    let _ = writeln!(out, "pack:        {}", one_line(&meta.pack));
    let _ = writeln!(out, "severity:    {}", meta.severity);
    let _ = writeln!(out, "scope:       {}", meta.scope.name());
    let _ = writeln!(out, "file:        {}", one_line(file));
    if !meta.tags.is_empty() {
        let _ = writeln!(out, "tags:        {}", one_line(&meta.tags.join(", ")));
    }
    let profiles = if meta.profiles.is_empty() {
        "all".to_string()
    } else {
        meta.profiles.join(", ")
    };
    let _ = writeln!(out, "profiles:    {}", one_line(&profiles));
    if meta.inferred {
        let _ = writeln!(
            out,
            "inferred:    yes (rests on a fact still to be confirmed)"
        );
    }
    let _ = writeln!(out, "applies when: {}", one_line(&needs_text(&meta.needs)));
    for event in meta.needs.all_events() {
        let ids: Vec<String> = event.ids.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "reads events: {} {}",
            one_line(&event.channel),
            ids.join(", ")
        );
    }
    let _ = writeln!(out, "\n{}\n", escape_terminal_lines(&meta.description));
    if !meta.params.is_empty() {
        let _ = writeln!(out, "parameters (--param NAME=VALUE):");
        for (name, meaning) in &meta.params {
            let _ = writeln!(out, "  - {}: {}", one_line(name), one_line(meaning));
        }
    }
    if !meta.references.is_empty() {
        let _ = writeln!(out, "references:");
        for reference in &meta.references {
            let _ = writeln!(out, "  - {}", one_line(reference));
        }
    }
    let _ = writeln!(out, "\nfix:\n{}", escape_terminal_lines(&meta.fix));
    escape_terminal_lines(&out).into_owned()
}

/// What a rule needs to apply, in words: `SYSTEM hive, key HKLM\...` or `one of: (...) or (...)`.
pub(crate) fn needs_text(needs: &crate::rule::Needs) -> String {
    let mut parts: Vec<String> = needs
        .hives
        .iter()
        .map(|hive| format!("{} hive", hive.name()))
        .collect();
    parts.extend(needs.keys.iter().map(|key| format!("key {key}")));
    if needs.hives.is_empty() && needs.keys.is_empty() && !needs.events.is_empty() {
        let mut channels: Vec<&str> = Vec::new();
        for event in &needs.events {
            if !channels.contains(&event.channel.as_str()) {
                channels.push(&event.channel);
            }
        }
        parts.push(format!("a {} log", channels.join(" or ")));
    }
    if !needs.any.is_empty() {
        let alternatives: Vec<String> = needs
            .any
            .iter()
            .map(|alternative| format!("({})", needs_text(alternative)))
            .collect();
        parts.push(format!("one of {}", alternatives.join(" or ")));
    }
    if parts.is_empty() {
        "always".to_string()
    } else {
        parts.join(", ")
    }
}

/// The Markdown catalogue written to `docs/rules.md`.
pub fn rules_markdown(rules: &RuleSet) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# hiveward rule catalogue\n");
    if rules.packs().iter().all(|pack| pack.builtin) {
        let _ = writeln!(
            out,
            "Generated by `hiveward rules doc` from the built-in packs; do not edit by hand.\n"
        );
    } else {
        let names: Vec<String> = rules
            .packs()
            .iter()
            .map(|pack| format!("`{}`", pack.manifest.name))
            .collect();
        let _ = writeln!(
            out,
            "Generated by `hiveward rules doc` from the pack(s) {}; do not edit by hand.\n",
            names.join(", ")
        );
    }
    for pack in rules.packs() {
        let _ = writeln!(
            out,
            "## Pack `{}` {}\n\n{}\n",
            pack.manifest.name, pack.manifest.version, pack.manifest.description
        );
        let _ = writeln!(out, "| Rule | Severity | Title |\n|---|---|---|");
        let members: Vec<_> = rules
            .rules()
            .iter()
            .filter(|rule| rule.meta.pack == pack.manifest.name)
            .collect();
        for rule in &members {
            let _ = writeln!(
                out,
                "| [{id}](#{anchor}) | {} | {} |",
                rule.meta.severity,
                rule.meta.title.replace('|', "\\|"),
                id = rule.meta.id,
                anchor = rule.meta.id.to_lowercase()
            );
        }
        let _ = writeln!(out);
        for rule in members {
            let meta = &rule.meta;
            let _ = writeln!(out, "### {}\n", meta.id);
            let _ = writeln!(
                out,
                "**{}** ({} severity, {:?} scope)\n",
                meta.title, meta.severity, meta.scope
            );
            let _ = writeln!(out, "{}\n", meta.description);
            let _ = writeln!(
                out,
                "Applies when: {} (otherwise *not applicable*, with the reason).\n",
                needs_text(&meta.needs).replace('\\', "\\\\")
            );
            if !meta.profiles.is_empty() {
                let _ = writeln!(out, "Profiles: {}\n", meta.profiles.join(", "));
            }
            if !meta.params.is_empty() {
                let _ = writeln!(out, "Parameters (`--param NAME=VALUE`):\n");
                for (name, meaning) in &meta.params {
                    let _ = writeln!(out, "- `{name}`: {meaning}");
                }
                let _ = writeln!(out);
            }
            if !meta.references.is_empty() {
                let _ = writeln!(out, "References:\n");
                for reference in &meta.references {
                    let _ = writeln!(out, "- {reference}");
                }
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "Fix:\n\n{}\n", meta.fix);
        }
    }
    out
}
