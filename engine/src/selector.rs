//! Rule selectors for `--only` and `--exclude`: ids, id globs, pack names and severity bounds.

use globset::{GlobBuilder, GlobMatcher};

use crate::rule::{RuleMeta, Severity};

/// One item of `--only` or `--exclude`.
///
/// - `HW-ALIAS-001`: a rule id (any case);
/// - `HW-ALIAS-*`, `HW-?MB1-00[12]`: a glob over rule ids (any case);
/// - `cname-spn` or `pack:cname-spn`: every rule of a pack;
/// - `severity>=high` (also `>`, `<=`, `<`, `=`): the rules of those severities.
#[derive(Debug, Clone)]
pub enum RuleSelector {
    /// A rule id, or a pack name when no rule has that id.
    Name(String),
    /// `pack:NAME`.
    Pack(String),
    /// A glob over rule ids.
    Glob(String, GlobMatcher),
    /// `severity OP LEVEL`.
    Severity(Comparison, Severity),
}

/// How a severity bound compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>=`
    AtLeast,
    /// `>`
    Above,
    /// `<=`
    AtMost,
    /// `<`
    Below,
    /// `=` or `==`
    Equal,
}

impl RuleSelector {
    /// Reads one selector; a malformed glob or severity is an error saying what is expected.
    pub fn parse(text: &str) -> Result<RuleSelector, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty rule selector".to_string());
        }
        let lower = text.to_ascii_lowercase();
        if let Some(bound) = lower.strip_prefix("severity") {
            return parse_severity(text, bound.trim_start());
        }
        if let Some(pack) = lower.strip_prefix("pack:") {
            return Ok(RuleSelector::Pack(pack.trim().to_string()));
        }
        if text.contains(['*', '?', '[']) {
            let glob = GlobBuilder::new(text)
                .case_insensitive(true)
                .literal_separator(false)
                .build()
                .map_err(|error| format!("`{text}` is not a valid glob: {error}"))?;
            return Ok(RuleSelector::Glob(text.to_string(), glob.compile_matcher()));
        }
        Ok(RuleSelector::Name(text.to_string()))
    }

    /// Whether the rule `meta` is selected; `any_id` says whether some loaded rule has the
    /// id a [`RuleSelector::Name`] gives (then it names that rule, not a pack).
    pub fn matches(&self, meta: &RuleMeta, name_is_rule: bool) -> bool {
        match self {
            RuleSelector::Name(name) if name_is_rule => meta.id.eq_ignore_ascii_case(name),
            RuleSelector::Name(name) | RuleSelector::Pack(name) => {
                meta.pack.eq_ignore_ascii_case(name)
            }
            RuleSelector::Glob(_, glob) => glob.is_match(&meta.id),
            RuleSelector::Severity(comparison, level) => match comparison {
                Comparison::AtLeast => meta.severity >= *level,
                Comparison::Above => meta.severity > *level,
                Comparison::AtMost => meta.severity <= *level,
                Comparison::Below => meta.severity < *level,
                Comparison::Equal => meta.severity == *level,
            },
        }
    }

    /// The selector as the user wrote it.
    pub fn text(&self) -> String {
        match self {
            RuleSelector::Name(name) => name.clone(),
            RuleSelector::Pack(name) => format!("pack:{name}"),
            RuleSelector::Glob(text, _) => text.clone(),
            RuleSelector::Severity(comparison, level) => {
                let op = match comparison {
                    Comparison::AtLeast => ">=",
                    Comparison::Above => ">",
                    Comparison::AtMost => "<=",
                    Comparison::Below => "<",
                    Comparison::Equal => "=",
                };
                format!("severity{op}{}", level.name())
            }
        }
    }
}

fn parse_severity(text: &str, bound: &str) -> Result<RuleSelector, String> {
    let (comparison, rest) = [
        (">=", Comparison::AtLeast),
        ("<=", Comparison::AtMost),
        ("==", Comparison::Equal),
        (">", Comparison::Above),
        ("<", Comparison::Below),
        ("=", Comparison::Equal),
    ]
    .iter()
    .find_map(|(op, comparison)| bound.strip_prefix(op).map(|rest| (*comparison, rest)))
    .ok_or_else(|| {
        format!("`{text}` is not a severity bound: write severity>=LEVEL (or >, <=, <, =)")
    })?;
    let level = Severity::parse(rest.trim()).ok_or_else(|| {
        format!(
            "`{text}` names no severity: expected info, low, medium, high or critical after the comparison"
        )
    })?;
    Ok(RuleSelector::Severity(comparison, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_bounds_parse_with_every_comparison() {
        for (text, comparison, level) in [
            ("severity>=high", Comparison::AtLeast, Severity::High),
            ("SEVERITY > medium", Comparison::Above, Severity::Medium),
            ("severity<=low", Comparison::AtMost, Severity::Low),
            ("severity<info", Comparison::Below, Severity::Info),
            ("severity=critical", Comparison::Equal, Severity::Critical),
            ("severity==critical", Comparison::Equal, Severity::Critical),
        ] {
            match RuleSelector::parse(text) {
                Ok(RuleSelector::Severity(found, found_level)) => {
                    assert_eq!((found, found_level), (comparison, level), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(RuleSelector::parse("severity>=urgent")
            .unwrap_err()
            .contains("names no severity"));
        assert!(RuleSelector::parse("severity~high")
            .unwrap_err()
            .contains("not a severity bound"));
    }

    #[test]
    fn globs_packs_and_names_are_told_apart() {
        assert!(matches!(
            RuleSelector::parse("hw-alias-*"),
            Ok(RuleSelector::Glob(..))
        ));
        assert!(matches!(
            RuleSelector::parse("pack:smb1"),
            Ok(RuleSelector::Pack(pack)) if pack == "smb1"
        ));
        assert!(matches!(
            RuleSelector::parse(" HW-SMB1-001 "),
            Ok(RuleSelector::Name(name)) if name == "HW-SMB1-001"
        ));
        assert!(RuleSelector::parse("HW-[").is_err());
        assert!(RuleSelector::parse("  ").is_err());
    }
}
