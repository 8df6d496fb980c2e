//! Defect 10: file, pack and compile bounds.

use super::*;

fn over_limit(error: &RuleLoadError) -> (&str, &str) {
    match error {
        RuleLoadError::OverLimit { origin, detail } => (origin, detail),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn a_huge_rule_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    let huge = folder.join("T-HUGE-001.rhai");
    // 16 MB of zeros, without writing them (a sparse file): only its size is looked at.
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let error = PackSource::load_dir(&folder).expect_err("too large");
    let (origin, detail) = over_limit(&error);
    assert_eq!(origin, huge.display().to_string());
    assert!(
        detail.contains(&Limits::default().max_source_bytes.to_string()),
        "{detail}"
    );
}

#[test]
fn a_pack_over_its_total_size_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, _) = pack_on_disk(dir.path());
    for index in 0..4 {
        let filler = format!("// {}\n", "x".repeat(3_000));
        let id = format!("T-FILL-00{index}");
        std::fs::write(
            folder.join(format!("{id}.rhai")),
            rule(&id, "", &format!("{filler}fn check(host) {{ [] }}")),
        )
        .unwrap();
    }
    let limits = Limits {
        max_pack_bytes: 10_000,
        ..Limits::default()
    };
    let error = PackSource::load_dir_within(&folder, &limits).expect_err("too large");
    let (origin, detail) = over_limit(&error);
    assert_eq!(origin, folder.display().to_string());
    assert!(detail.contains("10000 bytes"), "{detail}");
    // The same pack, built in memory, is refused when it loads.
    let loaded = PackSource::load_dir(&folder).unwrap();
    let errors = RuleSet::load(loaded, limits).err().expect("too large");
    assert!(errors
        .iter()
        .any(|error| matches!(error, RuleLoadError::OverLimit { origin, .. } if origin == &folder.display().to_string())));
}

fn load_errors(text: &str, limits: Limits) -> Vec<String> {
    match RuleSet::load(vec![pack("p", &[("T-COST-001", text)])], limits) {
        Ok(_) => panic!("the rule must not load"),
        Err(errors) => errors.iter().map(|error| error.to_string()).collect(),
    }
}

#[test]
fn too_many_functions_are_a_load_error_naming_the_file() {
    let functions: String = (0..300).map(|n| format!("fn f{n}() {{ {n} }}\n")).collect();
    let text = rule(
        "T-COST-001",
        "",
        &format!("{functions}fn check(host) {{ [] }}"),
    );
    let errors = load_errors(&text, Limits::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/T-COST-001.rhai:"),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("too many functions: a .rhai file may define at most 256"),
        "{errors:?}"
    );
}

#[test]
fn too_many_distinct_names_are_a_load_error_naming_the_file() {
    let lets: String = (0..3_000)
        .map(|n| format!("    let v{n} = {n};\n"))
        .collect();
    let text = rule(
        "T-COST-001",
        "",
        &format!("fn check(host) {{\n{lets}    []\n}}"),
    );
    let errors = load_errors(&text, Limits::default());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("/packs/p/T-COST-001.rhai: the file holds"),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("the limit for one .rhai file is 2048"),
        "{errors:?}"
    );
    // The same file loads under a limit that allows it.
    let limits = Limits {
        max_distinct_words: 10_000,
        ..Limits::default()
    };
    assert!(RuleSet::load(vec![pack("p", &[("T-COST-001", &text)])], limits).is_ok());
}

#[test]
fn a_pack_of_many_costly_files_is_bounded_as_a_whole() {
    let lets: String = (0..40).map(|n| format!("    let v{n} = {n};\n")).collect();
    let rules: Vec<(String, String)> = (0..3)
        .map(|n| {
            let id = format!("T-COST-00{n}");
            let text = rule(&id, "", &format!("fn check(host) {{\n{lets}    []\n}}"));
            (id, text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = rules
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let limits = Limits {
        max_pack_distinct_words: 100,
        ..Limits::default()
    };
    let errors = RuleSet::load(vec![pack("p", &borrowed)], limits)
        .err()
        .expect("over");
    let shown: Vec<String> = errors.iter().map(|error| error.to_string()).collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].starts_with("/packs/p: the pack's .rhai files hold"),
        "{shown:?}"
    );
}
