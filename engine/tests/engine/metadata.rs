//! Metadata validation.

use super::*;

/// A valid rule with one metadata field per line, so each problem has a line of its own.
const META_RULE: &str = r#"//! A rule for the metadata tests.
export const RULE = #{
    id: "T-META-001",
    pack: "p",
    title: "Title",
    description: "Description",
    severity: "low",
    fix: "Fix it.",
};

fn check(host) {
    []
}
"#;

/// Loads `packs`, which must fail, and returns the load errors as displayed.
fn load_errors(packs: Vec<PackSource>) -> Vec<String> {
    match RuleSet::load(packs, Limits::default()) {
        Ok(_) => panic!("the packs must not load"),
        Err(errors) => errors.iter().map(|error| error.to_string()).collect(),
    }
}

/// Checks that `text` fails to load with one error at `line` of its file that mentions
/// `needle`.
fn assert_meta_error(text: &str, line: usize, needle: &str) {
    let errors = load_errors(vec![pack("p", &[("T-META-001", text)])]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let prefix = format!("{}:{line}:", rule_origin("p", "T-META-001"));
    assert!(
        errors[0].starts_with(&prefix),
        "the error must point at line {line} ({:?}): {}",
        text.lines().nth(line - 1).unwrap_or_default(),
        errors[0]
    );
    assert!(
        errors[0].contains(needle),
        "the error must mention {needle:?}: {}",
        errors[0]
    );
}

#[test]
fn the_metadata_template_loads() {
    let rules = load(vec![pack("p", &[("T-META-001", META_RULE)])]);
    let rule = rules.rule("T-META-001").expect("the rule");
    assert_eq!(rule.meta.severity, Severity::Low);
    assert_eq!(rule.file.origin, rule_origin("p", "T-META-001"));
}

#[test]
fn a_missing_fix_is_a_load_error_at_the_rule_map() {
    assert_meta_error(
        &META_RULE.replace("    fix: \"Fix it.\",\n", ""),
        2,
        "missing field `fix`",
    );
}

#[test]
fn an_unknown_severity_is_a_load_error_at_its_line() {
    assert_meta_error(&META_RULE.replace("\"low\"", "\"urgent\""), 7, "urgent");
}

#[test]
fn an_unknown_field_is_a_load_error_at_its_line() {
    assert_meta_error(
        &META_RULE.replace(
            "    fix: \"Fix it.\",\n",
            "    fix: \"Fix it.\",\n    colour: \"red\",\n",
        ),
        9,
        "unknown field `colour`",
    );
}

#[test]
fn a_malformed_id_is_a_load_error_at_its_line() {
    for id in [
        "t-meta-001",
        "T_META_001",
        "TMETA",
        "T--001",
        "-T-001",
        "1T-001",
    ] {
        assert_meta_error(
            &META_RULE.replace("T-META-001", id),
            3,
            &format!("id `{id}` must look like"),
        );
    }
}

#[test]
fn a_pack_name_other_than_the_manifest_is_a_load_error_at_its_line() {
    assert_meta_error(
        &META_RULE.replace("pack: \"p\"", "pack: \"other\""),
        4,
        "the rule says pack `other` but sits in pack `p`",
    );
}

#[test]
fn a_rule_without_check_is_a_load_error() {
    for replacement in ["fn verify(host)", "fn check()", "fn check(a, b, c)"] {
        assert_meta_error(
            &META_RULE.replace("fn check(host)", replacement),
            1,
            "must define `fn check(host)`",
        );
    }
}

#[test]
fn a_rule_without_metadata_is_a_load_error() {
    assert_meta_error(
        &META_RULE.replace(
            "export const RULE = #{",
            "fn meta() { 1 }\nexport const RULE = meta();\nconst UNUSED = #{",
        ),
        3,
        "must export its metadata",
    );
}

#[test]
fn a_duplicate_rule_id_across_packs_is_a_load_error_at_the_id() {
    let second = META_RULE.replace("pack: \"p\"", "pack: \"p2\"");
    let errors = load_errors(vec![
        pack("p", &[("T-META-001", META_RULE)]),
        pack("p2", &[("T-META-001", &second)]),
    ]);
    assert_eq!(
        errors,
        [format!(
            "{}:3:10: rule id T-META-001 is already defined in {}",
            rule_origin("p2", "T-META-001"),
            rule_origin("p", "T-META-001")
        )]
    );
}

#[test]
fn a_pack_for_a_newer_hiveward_is_a_load_error_at_min_hiveward() {
    let errors = load_errors(vec![pack_with_manifest(
        "p",
        &manifest_text("p", "99.0.0"),
        &[("T-META-001", META_RULE)],
    )]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/pack.toml:4:1: pack `p` needs hiveward 99.0.0 or later"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_syntax_error_is_a_load_error_at_its_line_and_column() {
    let errors = load_errors(vec![pack(
        "p",
        &[(
            "T-META-001",
            &META_RULE.replace("    []\n", "    let x = ;\n"),
        )],
    )]);
    assert_eq!(
        errors,
        [format!(
            "{}:12:13: syntax error: Unexpected ';'",
            rule_origin("p", "T-META-001")
        )]
    );
}

#[test]
fn every_load_error_is_reported_at_once() {
    let errors = load_errors(vec![
        pack(
            "p",
            &[
                ("T-META-001", &META_RULE.replace("\"low\"", "\"urgent\"")),
                (
                    "T-META-002",
                    &META_RULE
                        .replace("T-META-001", "T-META-002")
                        .replace("    []\n", "    let x = ;\n"),
                ),
            ],
        ),
        pack_with_manifest("q", &manifest_text("q", "99.0.0"), &[]),
    ]);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("/packs/p/T-META-001.rhai:"));
    assert!(errors[1].starts_with("/packs/p/T-META-002.rhai:12:13:"));
    assert!(errors[2].starts_with("/packs/q/pack.toml:4:1:"));
}
