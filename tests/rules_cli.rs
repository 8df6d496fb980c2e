//! End-to-end tests of `hiveward rules`: `list`, `show`, `doc` (which keeps the committed
//! `docs/rules.md` current), `test` on the built-in packs and on broken custom packs, and the
//! example pack of `docs/writing-rules.md`, followed the way a user would.

mod support;

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;
use support::{hiveward, root};

// ---------------------------------------------------------------------------------------------
// list, show, doc.
// ---------------------------------------------------------------------------------------------

#[test]
fn rules_list_shows_the_builtin_rules() {
    let run = hiveward(&root(), &["rules", "list"]);
    run.assert_code(0);
    for (id, pack) in [
        ("HW-HARD-003", "hardening-level"),
        ("HW-STRICT-001", "strict-name"),
    ] {
        let line = run
            .stdout_str()
            .lines()
            .find(|line| line.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{}", run.stdout_str()));
        assert!(line.contains(pack), "{line}");
        assert!(line.contains("medium"), "{line}");
    }
}

#[test]
fn rules_list_json_has_ids_severities_and_packs() {
    let run = hiveward(&root(), &["rules", "list", "--format", "json"]);
    run.assert_code(0);
    let listing = run.json();
    let rules = listing.as_array().expect("the listing is an array");
    for (id, pack) in [
        ("HW-HARD-003", "hardening-level"),
        ("HW-STRICT-001", "strict-name"),
    ] {
        let rule = rules
            .iter()
            .find(|rule| rule["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed: {listing}"));
        assert_eq!(rule["severity"], "medium", "{rule}");
        assert_eq!(rule["pack"], pack, "{rule}");
        assert_eq!(rule["builtin"], true, "{rule}");
        assert!(rule["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty()));
    }
}

#[test]
fn rules_show_prints_title_references_and_fix() {
    let listing = hiveward(&root(), &["rules", "list", "--format", "json"]).json();
    let meta = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["id"] == "HW-HARD-003")
        .unwrap()
        .clone();

    let run = hiveward(&root(), &["rules", "show", "HW-HARD-003"]);
    run.assert_code(0);
    let text = run.stdout_str();
    assert!(
        text.starts_with("HW-HARD-003"),
        "the id comes first:\n{text}"
    );
    assert!(
        text.contains("SPN target-name validation level does not meet the profile"),
        "{text}"
    );
    let references = meta["references"].as_array().unwrap();
    assert!(references.len() >= 2);
    assert!(text.contains("references:"), "{text}");
    for reference in references {
        let reference = reference.as_str().unwrap();
        assert!(
            text.contains(reference),
            "missing reference {reference}:\n{text}"
        );
    }
    assert!(text.contains("CIS 2.3.9.5"), "{text}");
    assert!(text.contains("fix:"), "{text}");
    let fix = meta["fix"].as_str().unwrap();
    assert!(
        text.contains(fix),
        "the fix guidance is printed in full:\n{text}"
    );
    assert!(
        text.contains("Set-SmbServerConfiguration -SmbServerNameHardeningLevel"),
        "{text}"
    );
}

#[test]
fn rules_show_of_an_unknown_id_exits_2() {
    let run = hiveward(&root(), &["rules", "show", "NOPE"]);
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout_str());
    assert!(run.stderr.contains("NOPE"), "{}", run.stderr);
}

#[test]
fn committed_rule_catalogue_is_current() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("rules.md");
    let run = hiveward(&root(), &["rules", "doc", "-o", written.to_str().unwrap()]);
    run.assert_code(0);
    let generated = fs::read_to_string(&written).expect("rules doc wrote the file");
    let committed = fs::read_to_string(root().join("docs/rules.md")).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/rules.md is out of date with the built-in rules; regenerate it with \
         `cargo run -- rules doc` and commit the result"
    );
    for id in ["HW-HARD-003", "HW-STRICT-001"] {
        assert!(generated.contains(id), "the catalogue lacks {id}");
    }
}

// ---------------------------------------------------------------------------------------------
// rules test.
// ---------------------------------------------------------------------------------------------

/// The `N passed, M failed` counts of the closing line.
fn test_counts(stdout: &str) -> (usize, usize) {
    let last = stdout.lines().last().expect("rules test printed something");
    let rest = last
        .strip_prefix("rules test: ")
        .unwrap_or_else(|| panic!("the last line is not the count line: {last}"));
    let numbers: Vec<usize> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().unwrap())
        .collect();
    assert_eq!(
        rest,
        format!("{} passed, {} failed", numbers[0], numbers[1]),
        "{last}"
    );
    (numbers[0], numbers[1])
}

#[test]
fn builtin_rule_tests_pass() {
    let run = hiveward(&root(), &["rules", "test"]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout_str().lines().collect();
    let (passed, failed) = test_counts(run.stdout_str());
    assert_eq!(failed, 0, "{}", run.stdout_str());
    assert!(passed >= 10, "only {passed} cases:\n{}", run.stdout_str());
    let (cases, last) = lines.split_at(lines.len() - 1);
    assert_eq!(last[0], format!("rules test: {passed} passed, 0 failed"));
    assert_eq!(cases.len(), passed, "{}", run.stdout_str());
    for line in cases {
        assert!(line.starts_with("PASS "), "not a PASS line: {line}");
    }
    for id in ["HW-HARD-003", "HW-STRICT-001"] {
        assert!(
            cases
                .iter()
                .any(|line| line.starts_with(&format!("PASS {id} "))),
            "no case of {id} ran:\n{}",
            run.stdout_str()
        );
    }
}

const PACK_TOML: &str = r#"name = "e2e-tests"
version = "1.0.0"
description = "A pack for testing `rules test`."
min_hiveward = "0.1.0"
"#;

/// A rule that fires when `EnablePlainTextPassword` is 1.
fn plain_rule(id: &str) -> String {
    format!(
        r#"export const RULE = #{{
    id: "{id}",
    pack: "e2e-tests",
    title: "Unencrypted passwords may be sent to SMB servers",
    description: "EnablePlainTextPassword = 1 lets the SMB client send clear-text passwords.",
    severity: "high",
    needs: #{{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] }},
    fix: "Set EnablePlainTextPassword to 0.",
}};

fn check(host) {{
    let value = host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`, "EnablePlainTextPassword");
    if value == 1 {{
        return [#{{ message: `EnablePlainTextPassword is 1 on ${{host.name}}.` }}];
    }}
    []
}}
"#
    )
}

/// A test case for `plain_rule` with the value `plain`, expecting `expect`.
fn plain_case(name: &str, expect: &str, plain: u32) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = {expect}
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:{plain:08x}
'''

"#
    )
}

/// A not-applicable case for `plain_rule`: the host has no Workstation service key.
fn plain_not_applicable_case(name: &str, reason: &str) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = []
outcome = "not_applicable"
reason_contains = '{reason}'
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"
'''

"#
    )
}

/// The reason the engine gives when the Workstation service key is absent.
const NO_WORKSTATION: &str =
    r"key HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters absent";

/// Writes a pack with `plain_rule(id)` and `tests` as its test file, in `dir/pack`.
fn write_pack(dir: &Path, id: &str, tests: &str) {
    let pack = dir.join("pack");
    fs::create_dir_all(&pack).unwrap();
    fs::write(pack.join("pack.toml"), PACK_TOML).unwrap();
    fs::write(pack.join(format!("{id}.rhai")), plain_rule(id)).unwrap();
    fs::write(pack.join(format!("{id}.tests.toml")), tests).unwrap();
}

/// The `FAIL` blocks of `rules test` output: the header line and its indented detail lines.
fn fail_blocks(stdout: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in stdout.lines() {
        if line.starts_with("    ") {
            if let Some((_, details)) = current.as_mut() {
                details.push(line.trim().to_string());
            }
            continue;
        }
        blocks.extend(current.take());
        if line.starts_with("FAIL ") {
            current = Some((line.to_string(), Vec::new()));
        }
    }
    blocks.extend(current);
    blocks
}

fn block<'b>(blocks: &'b [(String, Vec<String>)], needle: &str) -> &'b (String, Vec<String>) {
    blocks
        .iter()
        .find(|(header, _)| header.contains(needle))
        .unwrap_or_else(|| panic!("no FAIL line with {needle:?} in {blocks:#?}"))
}

#[test]
fn rules_test_reports_wrong_expectations_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-WRONG-001";
    let tests = plain_case(
        "expects a finding where there is none",
        r#"["E2E-WRONG-001"]"#,
        0,
    ) + &plain_case("expects silence where it fires", "[]", 1);
    write_pack(dir.path(), id, &tests);
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    let (passed, failed) = test_counts(run.stdout_str());
    assert_eq!(passed, 0, "{}", run.stdout_str());
    assert!(failed >= 2, "{}", run.stdout_str());
    assert!(
        !run.stdout_str()
            .lines()
            .any(|line| line.starts_with("PASS ")),
        "{}",
        run.stdout_str()
    );
    let blocks = fail_blocks(run.stdout_str());

    let (header, diff) = block(&blocks, "expects a finding where there is none");
    assert!(header.starts_with(&format!("FAIL {id} ")), "{header}");
    assert!(
        header.contains(&format!("{id}.tests.toml")),
        "the FAIL line names the test file: {header}"
    );
    assert_eq!(
        diff,
        &[
            format!("- expected: [\"{id}\"]"),
            "+ actual:   []".to_string()
        ],
        "{}",
        run.stdout_str()
    );

    let (header, diff) = block(&blocks, "expects silence where it fires");
    assert!(header.starts_with(&format!("FAIL {id} ")), "{header}");
    assert_eq!(
        diff,
        &[
            "- expected: []".to_string(),
            format!("+ actual:   [\"{id}\"]")
        ],
        "{}",
        run.stdout_str()
    );
}

#[test]
fn rules_test_requires_a_clean_case() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-COVER-001";
    write_pack(
        dir.path(),
        id,
        &(plain_case("fires when allowed", r#"["E2E-COVER-001"]"#, 1)
            + &plain_not_applicable_case("no workstation service", NO_WORKSTATION)),
    );
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    assert!(
        run.stdout_str()
            .lines()
            .any(|line| line == format!("PASS {id} fires when allowed")),
        "{}",
        run.stdout_str()
    );
    let blocks = fail_blocks(run.stdout_str());
    assert_eq!(
        blocks.len(),
        1,
        "only the clean case is missing: {blocks:#?}"
    );
    let (header, detail) = block(&blocks, "(coverage)");
    assert!(
        header.starts_with(&format!("FAIL {id} (coverage)")),
        "{header}"
    );
    assert!(
        detail.iter().any(|line| line.contains("clean case")),
        "{detail:?}"
    );
    assert_eq!(test_counts(run.stdout_str()), (2, 1));
}

/// Every rule needs a case where it does not apply, a "clean" case that is silent only because
/// the rule did not apply is not clean, and a not-applicable case checks its reason.
#[test]
fn rules_test_requires_a_not_applicable_case_and_a_checked_clean_case() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-NA-001";
    let vacuous = plain_not_applicable_case("silent without the service", NO_WORKSTATION)
        .replace("outcome = \"not_applicable\"\n", "")
        .replace(&format!("reason_contains = '{NO_WORKSTATION}'\n"), "");
    write_pack(
        dir.path(),
        id,
        &(plain_case("fires", r#"["E2E-NA-001"]"#, 1) + &plain_case("clean", "[]", 0) + &vacuous),
    );
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    let blocks = fail_blocks(run.stdout_str());
    let (_, detail) = block(&blocks, "silent without the service");
    assert!(
        detail[0].starts_with("- expected the rule to check and pass"),
        "{detail:?}"
    );
    assert_eq!(
        detail[1],
        format!("+ outcomes: HOST not_applicable ({NO_WORKSTATION})")
    );
    let (_, detail) = block(&blocks, "(coverage)");
    assert!(
        detail
            .iter()
            .any(|line| line.contains("the rule has no not-applicable case")),
        "{detail:?}"
    );
    assert_eq!(
        test_counts(run.stdout_str()),
        (2, 2),
        "{}",
        run.stdout_str()
    );

    // Written as a not-applicable case with the wrong reason, it fails and shows the reason.
    let wrong = plain_not_applicable_case("wrong reason", "SOFTWARE hive absent");
    write_pack(
        dir.path(),
        id,
        &(plain_case("fires", r#"["E2E-NA-001"]"#, 1) + &plain_case("clean", "[]", 0) + &wrong),
    );
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    let blocks = fail_blocks(run.stdout_str());
    let (_, detail) = block(&blocks, "wrong reason");
    assert_eq!(
        detail[0],
        "- expected a reason containing \"SOFTWARE hive absent\" on HOST"
    );
    assert_eq!(
        detail[1],
        format!("+ reason: \"{}\"", NO_WORKSTATION.replace('\\', "\\\\"))
    );

    // With the right reason, the pack passes whole.
    let right = plain_not_applicable_case("no service", NO_WORKSTATION);
    write_pack(
        dir.path(),
        id,
        &(plain_case("fires", r#"["E2E-NA-001"]"#, 1) + &plain_case("clean", "[]", 0) + &right),
    );
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(0);
    assert_eq!(
        test_counts(run.stdout_str()),
        (3, 0),
        "{}",
        run.stdout_str()
    );
}

#[test]
fn rules_test_names_the_place_of_invalid_toml() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-TOML-001";
    // Line 3 opens a string that never closes.
    let tests = "[[case]]\nexpect = []\nname = \"unterminated\nreg = ''\n";
    write_pack(dir.path(), id, tests);
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    let blocks = fail_blocks(run.stdout_str());
    let origin = Path::new("pack")
        .join(format!("{id}.tests.toml"))
        .display()
        .to_string();
    let (header, detail) = block(&blocks, "(file)");
    assert!(header.contains(&origin), "{header}");
    let place = format!("{origin}:3:");
    let line = detail
        .iter()
        .find(|line| line.starts_with(&place))
        .unwrap_or_else(|| panic!("no detail line starts with {place}: {detail:?}"));
    let column = line[place.len()..].split(':').next().unwrap_or_default();
    assert!(
        !column.is_empty() && column.chars().all(|c| c.is_ascii_digit()),
        "file:line:col expected: {line}"
    );
}

// ---------------------------------------------------------------------------------------------
// docs/writing-rules.md, followed by a user.
// ---------------------------------------------------------------------------------------------

/// The fenced blocks labelled `file=PATH`, as (path, content).
fn labelled_files(markdown: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut in_fence = false;
    for line in markdown.lines() {
        if let Some(info) = line.strip_prefix("```") {
            if in_fence {
                if info.trim().is_empty() {
                    in_fence = false;
                    files.extend(current.take());
                    continue;
                }
            } else {
                in_fence = true;
                current = info
                    .split_whitespace()
                    .find_map(|word| word.strip_prefix("file="))
                    .map(|path| (path.to_string(), String::new()));
                continue;
            }
        }
        if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    files
}

/// The transcripts of `$ hiveward ...` commands in the guide's fenced blocks: the command's
/// arguments and the lines shown after it.
fn transcripts(markdown: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut found = Vec::new();
    let mut in_fence = false;
    let mut current: Option<(Vec<String>, Vec<String>)> = None;
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            found.extend(current.take());
            continue;
        }
        if !in_fence {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ hiveward ") {
            found.extend(current.take());
            current = Some((
                command.split_whitespace().map(str::to_string).collect(),
                Vec::new(),
            ));
        } else if let Some((_, shown)) = current.as_mut() {
            shown.push(line.to_string());
        }
    }
    found
}

#[test]
fn the_writing_rules_guide_works_as_written() {
    let guide = root().join("docs/writing-rules.md");
    let Ok(markdown) = fs::read_to_string(&guide) else {
        println!("skipped: docs/writing-rules.md does not exist yet");
        return;
    };
    let files = labelled_files(&markdown);
    assert!(
        files.iter().any(|(path, _)| path.ends_with("pack.toml")),
        "the guide labels no pack.toml block with file=PATH: {:?}",
        files.iter().map(|(path, _)| path).collect::<Vec<_>>()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut packs: Vec<PathBuf> = Vec::new();
    for (path, text) in &files {
        let relative = Path::new(path);
        assert!(
            relative
                .components()
                .all(|component| matches!(component, Component::Normal(_))),
            "the guide's file path {path} must be relative and stay inside the pack"
        );
        let target = dir.path().join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, text).unwrap();
        if relative.file_name() == Some("pack.toml".as_ref()) {
            packs.push(relative.parent().unwrap().to_path_buf());
        }
    }

    for pack in &packs {
        let pack_arg = pack.to_str().unwrap();
        let tested = hiveward(dir.path(), &["rules", "test", pack_arg]);
        tested.assert_code(0);
        let (passed, failed) = test_counts(tested.stdout_str());
        assert_eq!(failed, 0, "{}", tested.stdout_str());
        assert!(passed >= 2, "{}", tested.stdout_str());

        let listing = hiveward(
            dir.path(),
            &[
                "rules",
                "list",
                "--rules",
                pack_arg,
                "--no-builtin",
                "--format",
                "json",
            ],
        );
        listing.assert_code(0);
        let ids: Vec<String> = listing
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| rule["id"].as_str().unwrap().to_string())
            .collect();
        assert!(!ids.is_empty(), "the guide's pack {pack_arg} has no rule");
        for id in &ids {
            hiveward(dir.path(), &["rules", "show", id, "--rules", pack_arg]).assert_code(0);
        }

        let bundle = root().join("examples/bundle");
        let scan = hiveward(
            dir.path(),
            &[
                "scan",
                "--rules",
                pack_arg,
                bundle.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        assert!(
            scan.code == 0 || scan.code == 1,
            "scan --rules {pack_arg} exits {}:\n{}",
            scan.code,
            scan.stderr
        );
        let report = scan.json();
        assert_eq!(report["rule_errors"], Value::Array(Vec::new()), "{report}");
        let ran: Vec<&str> = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| rule["id"].as_str().unwrap())
            .collect();
        for id in &ids {
            assert!(ran.contains(&id.as_str()), "{id} did not run: {ran:?}");
        }
        assert!(ran.contains(&"HW-STRICT-001"), "built-ins run beside it");

        let alone = hiveward(
            dir.path(),
            &[
                "scan",
                "--rules",
                pack_arg,
                "--no-builtin",
                bundle.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        assert!(alone.code == 0 || alone.code == 1, "{}", alone.stderr);
        let report = alone.json();
        let ran: Vec<String> = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rule| rule["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ran, ids, "--no-builtin runs only the pack's rules");
    }

    // The `rules test` transcripts the guide shows are what the command prints.
    let mut compared = 0;
    for (args, shown) in transcripts(&markdown) {
        if args.first().map(String::as_str) != Some("rules")
            || args.get(1).map(String::as_str) != Some("test")
            || args.len() < 3
        {
            continue;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = hiveward(dir.path(), &args);
        run.assert_code(0);
        let actual: Vec<&str> = run.stdout_str().lines().collect();
        let shown: Vec<&str> = shown
            .iter()
            .map(String::as_str)
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert_eq!(
            actual,
            shown,
            "docs/writing-rules.md shows other output for `hiveward {}`",
            args.join(" ")
        );
        compared += 1;
    }
    println!(
        "followed docs/writing-rules.md: {} pack(s), {compared} `rules test` transcript(s) compared",
        packs.len()
    );
}

/// `inferred = true|false` in a case checks the inferred mark of every finding.
#[test]
fn rules_test_checks_the_inferred_mark() {
    let dir = tempfile::tempdir().unwrap();
    let id = "E2E-INFER-001";
    let pack = dir.path().join("pack");
    fs::create_dir_all(&pack).unwrap();
    fs::write(pack.join("pack.toml"), PACK_TOML).unwrap();
    // Fires on 1, and marks the finding inferred when the value is absent (default 1 assumed).
    fs::write(
        pack.join(format!("{id}.rhai")),
        plain_rule(id).replace(
            "    if value == 1 {",
            "    if value == () {\n        return [#{ message: `assumed 1 on ${host.name}`, inferred: true }];\n    }\n    if value == 1 {",
        ),
    )
    .unwrap();
    let absent = r#"[[case]]
name = "NAME"
expect = ["E2E-INFER-001"]
inferred = WANT
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"Other"=dword:00000001
'''

"#;
    let tests = absent
        .replace("NAME", "absent is inferred")
        .replace("WANT", "true")
        + &absent
            .replace("NAME", "absent claimed as not inferred")
            .replace("WANT", "false")
        + &plain_case("explicit 1 is not inferred", r#"["E2E-INFER-001"]"#, 1)
            .replace("expect =", "inferred = false\nexpect =")
        + &plain_case("explicit 0 is clean", "[]", 0)
        + &plain_not_applicable_case("no workstation service", NO_WORKSTATION);
    fs::write(pack.join(format!("{id}.tests.toml")), tests).unwrap();
    let run = hiveward(dir.path(), &["rules", "test", "pack"]);
    run.assert_code(1);
    assert_eq!(
        test_counts(run.stdout_str()),
        (4, 1),
        "{}",
        run.stdout_str()
    );
    let blocks = fail_blocks(run.stdout_str());
    let (_, diff) = block(&blocks, "absent claimed as not inferred");
    assert_eq!(diff[0], "- expected every finding not inferred", "{diff:?}");
    assert!(
        diff[1].starts_with("+ inferred: [\"assumed 1 on HOST\"]"),
        "{diff:?}"
    );
}
