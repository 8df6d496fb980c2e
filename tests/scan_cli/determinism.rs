//! Determinism.

use super::*;

fn assert_same_for_any_thread_count(dir: &Path, input: &str, format: &str) -> Run {
    let only = ["--only", "HW-STRICT-001,HW-HARD-003"];
    let one = hiveward(
        dir,
        &[
            "scan", input, "--format", format, "--jobs", "1", only[0], only[1],
        ],
    );
    one.assert_no_panic();
    for attempt in 0..2 {
        let two = hiveward(
            dir,
            &[
                "scan", input, "--format", format, "--jobs", "2", only[0], only[1],
            ],
        );
        assert_eq!(two.code, one.code);
        assert!(
            one.stdout == two.stdout,
            "--jobs 1 and --jobs 2 (attempt {attempt}) give different {format} for {input}"
        );
    }
    one
}

#[test]
fn output_is_byte_identical_for_any_thread_count_on_the_sample_bundle() {
    for format in ["json", "text"] {
        let run = assert_same_for_any_thread_count(&root(), "examples/bundle", format);
        run.assert_code(0);
    }
}

#[test]
fn output_is_byte_identical_for_any_thread_count_on_many_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let copies = 6;
    for copy in 1..=copies {
        for entry in fs::read_dir(&bundle).unwrap() {
            let source = entry.unwrap().path();
            let name = source.file_name().unwrap().to_str().unwrap().to_string();
            let host = name.split('_').next().unwrap();
            let folder = dir.path().join("fleet").join(format!("site{copy}-{host}"));
            fs::create_dir_all(&folder).unwrap();
            fs::copy(&source, folder.join(&name)).unwrap();
        }
    }
    let run = assert_same_for_any_thread_count(dir.path(), "fleet", "json");
    run.assert_code(0);
    let report = run.json();
    assert_no_rule_errors(&report);
    let evaluations = report["summary"]["evaluations"].as_u64().unwrap();
    assert!(
        evaluations >= 2 * 2 * copies,
        "only {evaluations} evaluations"
    );
    let fired = rule_hosts(&report);
    let count = |rule: &str| fired.iter().filter(|(id, _)| id == rule).count();
    assert_eq!(count("HW-STRICT-001"), copies as usize, "{fired:?}");
    assert_eq!(count("HW-HARD-003"), copies as usize, "{fired:?}");
    assert_eq!(fired.len(), 2 * copies as usize, "{fired:?}");
    assert_matches_schema(&report);

    assert_same_for_any_thread_count(dir.path(), "fleet", "text").assert_code(0);
}

/// Every built-in rule (host and fleet rules, events, inferred builds) over the sample bundle
/// and the corpus: JSON and SARIF are byte-identical whatever the thread count.
#[test]
fn all_builtin_rules_give_identical_reports_for_any_thread_count() {
    let mut inputs = vec![root().join("examples/bundle")];
    if let Some(corpus) = hiveward_testkit::corpus_dir() {
        inputs.push(corpus);
    }
    for input in inputs {
        let input = input.to_str().unwrap().to_string();
        for format in ["json", "sarif"] {
            let scan = |jobs: &str| {
                hiveward(
                    &root(),
                    &[
                        "scan",
                        &input,
                        "--format",
                        format,
                        "--jobs",
                        jobs,
                        "--fail-on",
                        "never",
                    ],
                )
            };
            let one = scan("1");
            one.assert_no_panic();
            assert!(
                matches!(one.code, 0 | 3),
                "{input}: exit {}\n{}",
                one.code,
                one.stderr
            );
            let two = scan("2");
            assert_eq!(two.code, one.code, "{input}");
            assert!(
                one.stdout == two.stdout,
                "--jobs 1 and --jobs 2 give different {format} for {input}"
            );
            if format == "json" {
                let report = one.json();
                assert_no_rule_errors(&report);
                assert!(
                    report["summary"]["findings"].as_u64().unwrap() > 0,
                    "{input}"
                );
            }
        }
    }
}
