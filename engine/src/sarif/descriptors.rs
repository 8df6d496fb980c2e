//! The SARIF rule descriptors: each loaded rule's metadata as `tool.driver.rules`, its tags
//! and the PascalCase names SARIF viewers show.

use std::collections::BTreeSet;

use serde_json::json;
use serde_sarif::sarif::{MultiformatMessageString, ReportingConfiguration, ReportingDescriptor};

use super::{bag, level_name, plain, security_severity, Blank, GITHUB_MAX_TAGS};
use crate::fix_text::{generic_fix_markdown, generic_fix_text};
use crate::rule::{RuleMeta, Severity};

/// Ends `text` with a full stop unless it already ends a sentence.
pub(super) fn sentence(text: &str) -> String {
    let trimmed = text.trim_end();
    if trimmed.is_empty() || trimmed.ends_with(['.', '!', '?']) {
        trimmed.to_string()
    } else {
        format!("{trimmed}.")
    }
}

/// A PascalCase identifier made from a rule title: `Strict name checking is disabled` becomes
/// `StrictNameCheckingIsDisabled`. Words in capitals are capitalised (`SMB` becomes `Smb`);
/// a name that would start with a digit starts with `Rule`.
pub(crate) fn pascal_case(title: &str) -> String {
    let mut name = String::new();
    let cleaned: String = title.chars().filter(|c| !matches!(c, '\'' | '’')).collect();
    for word in cleaned.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            continue;
        };
        name.push(first.to_ascii_uppercase());
        let rest = chars.as_str();
        let shouting = word.len() > 2 && !word.chars().any(|c| c.is_ascii_lowercase());
        if shouting {
            name.push_str(&rest.to_ascii_lowercase());
        } else {
            name.push_str(rest);
        }
    }
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "Rule");
    }
    name
}

fn rule_tags(tags: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out: Vec<String> = tags
        .iter()
        .filter(|tag| seen.insert(tag.to_lowercase()))
        .cloned()
        .collect();
    if !seen.contains("security") {
        if out.len() >= GITHUB_MAX_TAGS {
            out.truncate(GITHUB_MAX_TAGS - 1);
        }
        out.push("security".to_string());
    } else if out.len() > GITHUB_MAX_TAGS {
        let security = out
            .iter()
            .position(|tag| tag.eq_ignore_ascii_case("security"))
            .map(|at| out.remove(at));
        out.truncate(GITHUB_MAX_TAGS - 1);
        out.extend(security);
    }
    out
}

fn is_web_uri(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(char::is_whitespace)
}

pub(super) fn rule_descriptor(meta: &RuleMeta) -> ReportingDescriptor {
    let mut markdown = generic_fix_markdown(meta.fix.trim_end());
    if !meta.references.is_empty() {
        markdown.push_str("\n\n**References**\n");
        for reference in &meta.references {
            if is_web_uri(reference) {
                markdown.push_str(&format!("\n- <{reference}>"));
            } else {
                markdown.push_str(&format!("\n- {reference}"));
            }
        }
    }
    let help_uri = meta
        .help_uri
        .clone()
        .filter(|uri| is_web_uri(uri))
        .or_else(|| {
            meta.references
                .iter()
                .find(|reference| is_web_uri(reference))
                .cloned()
        });
    let mut properties = bag([
        ("security-severity", json!(security_severity(meta.severity))),
        ("severity", json!(meta.severity.name())),
        ("pack", json!(meta.pack)),
    ]);
    properties.tags = Some(rule_tags(&meta.tags));
    if !meta.references.is_empty() {
        properties
            .additional_properties
            .insert("references".to_string(), json!(meta.references));
    }
    ReportingDescriptor {
        id: meta.id.clone(),
        name: Some(pascal_case(&meta.title)),
        short_description: Some(plain(&sentence(&meta.title))),
        full_description: Some(plain(&sentence(&meta.description))),
        help: Some(MultiformatMessageString {
            text: generic_fix_text(meta.fix.trim_end()),
            markdown: Some(markdown),
            ..Blank::blank()
        }),
        help_uri,
        default_configuration: Some(ReportingConfiguration {
            level: Some(json!(level_name(meta.severity))),
            ..Default::default()
        }),
        properties: Some(properties),
        ..Blank::blank()
    }
}

pub(super) fn minimal_descriptor(id: &str, title: &str, severity: Severity) -> ReportingDescriptor {
    let mut properties = bag([
        ("security-severity", json!(security_severity(severity))),
        ("severity", json!(severity.name())),
    ]);
    properties.tags = Some(vec!["security".to_string()]);
    ReportingDescriptor {
        id: id.to_string(),
        name: Some(pascal_case(title)),
        short_description: Some(plain(&sentence(title))),
        full_description: Some(plain(&sentence(title))),
        help: Some(plain(&sentence(title))),
        default_configuration: Some(ReportingConfiguration {
            level: Some(json!(level_name(severity))),
            ..Default::default()
        }),
        properties: Some(properties),
        ..Blank::blank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pascal_case() {
        assert_eq!(
            pascal_case("Strict name checking is disabled (DisableStrictNameChecking = 1)"),
            "StrictNameCheckingIsDisabledDisableStrictNameChecking1"
        );
        assert_eq!(
            pascal_case("SPN target-name validation level doesn't meet the profile"),
            "SpnTargetNameValidationLevelDoesntMeetTheProfile"
        );
        assert_eq!(pascal_case("2 hosts share a name"), "Rule2HostsShareAName");
        assert_eq!(pascal_case("!!"), "Rule");
    }

    #[test]
    fn tags_always_include_security_within_the_limit() {
        let many: Vec<String> = (0..30).map(|n| format!("t{n}")).collect();
        let tags = rule_tags(&many);
        assert_eq!(tags.len(), GITHUB_MAX_TAGS);
        assert_eq!(tags.last().map(String::as_str), Some("security"));
        assert_eq!(
            rule_tags(&["smb".to_string(), "security".to_string()]),
            ["smb", "security"]
        );
    }
}
