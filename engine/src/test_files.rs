//! `hiveward rules check`: reads the `*.tests.toml` files of a pack without running a case, so
//! that a mistake in them (an unknown field, a case without a name, a rule without a test
//! file) is reported, with its file and line, before `rules test` is run.

use crate::error::RuleLoadError;
use crate::pack::SourceFile;
use crate::rule_test::CaseFile;
use crate::ruleset::{LoadedPack, RuleSet};

/// What [`check_pack_tests`] found in one loaded pack.
#[derive(Debug)]
pub struct PackTestCheck {
    /// The pack name.
    pub name: String,
    /// The pack's folder, or `builtin:NAME`.
    pub origin: String,
    /// The number of rules in the pack.
    pub rules: usize,
    /// The number of test cases in its test files.
    pub cases: usize,
    /// What is wrong, each naming its file and line; empty when the pack is sound.
    pub errors: Vec<RuleLoadError>,
}

/// Parses one test file as `rules test` reads it, without running its cases: the number of
/// cases, or what is wrong (a TOML mistake, an unknown field, a missing or empty case name).
pub fn parse_test_file(file: &SourceFile) -> Result<usize, Vec<RuleLoadError>> {
    let parsed: CaseFile = toml::from_str(&file.text).map_err(|error| {
        vec![RuleLoadError::in_file(
            file,
            error.span().map_or(0, |span| span.start),
            format!("invalid test file: {}", error.message().trim_end()),
        )]
    })?;
    let errors: Vec<RuleLoadError> = parsed
        .case
        .iter()
        .filter(|case| case.name.get_ref().trim().is_empty())
        .map(|case| {
            RuleLoadError::in_file(
                file,
                case.name.span().start,
                "the case has an empty `name`: give each case a name that says what it shows",
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(parsed.case.len())
    } else {
        Err(errors)
    }
}

/// Checks the test files of `pack` (one of `rules.packs()`) without running them: each must
/// parse (see [`parse_test_file`]) and be named after a rule of the pack, and each rule of the
/// pack must have a test file (`RULE-ID.tests.toml` beside it).
pub fn check_pack_tests(rules: &RuleSet, pack: &LoadedPack) -> PackTestCheck {
    let mut errors = Vec::new();
    let mut cases = 0;
    let pack_rules: Vec<_> = rules
        .rules()
        .iter()
        .filter(|rule| rule.meta.pack == pack.manifest.name && rule.builtin == pack.builtin)
        .collect();
    let mut tested: Vec<String> = Vec::new();
    for file in &pack.tests {
        let id = file.file_name.trim_end_matches(".tests.toml");
        match pack_rules
            .iter()
            .find(|rule| rule.meta.id.eq_ignore_ascii_case(id))
        {
            Some(rule) => tested.push(rule.meta.id.clone()),
            None => errors.push(RuleLoadError::in_file(
                file,
                0,
                format!(
                    "no rule of pack `{}` has the id {id}: name a test file after the rule it tests (RULE-ID.tests.toml)",
                    pack.manifest.name
                ),
            )),
        }
        match parse_test_file(file) {
            Ok(count) => cases += count,
            Err(found) => errors.extend(found),
        }
    }
    for rule in &pack_rules {
        if !tested.contains(&rule.meta.id) {
            errors.push(RuleLoadError::in_file(
                &rule.file,
                rule.file.text.find(&rule.meta.id).unwrap_or(0),
                format!(
                    "rule {id} has no test file: add {id}.tests.toml beside it, with a case where it fires, a clean case and a not-applicable case",
                    id = rule.meta.id
                ),
            ));
        }
    }
    PackTestCheck {
        name: pack.manifest.name.clone(),
        origin: pack.origin.clone(),
        rules: pack_rules.len(),
        cases,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile {
            origin: "p/X-1.tests.toml".to_string(),
            file_name: "X-1.tests.toml".to_string(),
            text: text.to_string(),
        }
    }

    #[test]
    fn counts_cases_without_running_them() {
        let text =
            "[[case]]\nname = \"a\"\nexpect = []\n\n[[case]]\nname = \"b\"\nexpect = [\"X-1\"]\n";
        assert_eq!(parse_test_file(&file(text)).unwrap(), 2);
    }

    #[test]
    fn reports_unknown_fields_and_missing_or_empty_names() {
        let unknown = parse_test_file(&file("[[case]]\nname = \"a\"\nexpect = []\nexpcet = 1\n"))
            .unwrap_err();
        assert!(unknown[0].to_string().contains("p/X-1.tests.toml:4:"));
        assert!(unknown[0].to_string().contains("unknown field `expcet`"));
        let missing = parse_test_file(&file("[[case]]\nexpect = []\n")).unwrap_err();
        assert!(missing[0].to_string().contains("missing field `name`"));
        let empty = parse_test_file(&file("[[case]]\nname = \" \"\nexpect = []\n")).unwrap_err();
        assert!(empty[0].to_string().contains("p/X-1.tests.toml:2:"));
        assert!(empty[0].to_string().contains("empty `name`"));
    }
}
