//! Suppressed findings and GitHub's limits.

use super::*;

#[test]
fn waived_and_baselined_findings_are_suppressed_or_omitted() {
    let fixture = Fixture::new();
    let mut report = fixture.report.clone();
    let justification = "FILES is still reached through the alias until the move in June";
    for finding in report.findings.iter_mut() {
        if finding.rule == "HW-STRICT-001" {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Waiver,
                justification: justification.to_string(),
                owner: Some("ops@example.org".to_string()),
                expires: Some("2031-06-30".to_string()),
            });
        }
        if finding.rule == "T-LOW-001" && finding.host == "AAA" {
            finding.suppression = Some(Suppression {
                kind: SuppressionKind::Baseline,
                justification: "in the baseline".to_string(),
                owner: None,
                expires: None,
            });
        }
    }
    let sarif = sarif_json(&report, &fixture.rules, &fixture.options());
    assert_eq!(results(&sarif).len(), report.findings.len());
    let waived = result_for(&sarif, "HW-STRICT-001", "FS01");
    let suppressions = waived["suppressions"].as_array().unwrap();
    assert_eq!(suppressions.len(), 1);
    assert_eq!(suppressions[0]["kind"], "external");
    assert_eq!(suppressions[0]["status"], "accepted");
    assert_eq!(suppressions[0]["justification"], justification);
    assert_eq!(suppressions[0]["properties"]["kind"], "waiver");
    assert_eq!(suppressions[0]["properties"]["owner"], "ops@example.org");
    let baselined = result_for(&sarif, "T-LOW-001", "AAA");
    assert_eq!(baselined["suppressions"][0]["kind"], "external");
    assert_eq!(
        baselined["suppressions"][0]["justification"],
        "in the baseline"
    );
    assert_eq!(
        baselined["suppressions"][0]["properties"]["kind"],
        "baseline"
    );
    let suppressed = results(&sarif)
        .iter()
        .filter(|result| result.get("suppressions").is_some())
        .count();
    assert_eq!(suppressed, 2);

    let omitted = sarif_json(
        &report,
        &fixture.rules,
        &SarifOptions {
            omit_suppressed: true,
            ..fixture.options()
        },
    );
    assert_eq!(results(&omitted).len(), report.findings.len() - 2);
    assert!(results(&omitted)
        .iter()
        .all(|result| result.get("suppressions").is_none() && result["ruleId"] != "HW-STRICT-001"));
    // The rule stays in the driver, and the left-out count is noted.
    assert!(driver_rules(&omitted)
        .iter()
        .any(|rule| rule["id"] == "HW-STRICT-001"));
    assert!(notifications(&omitted).iter().any(|notification| {
        notification["level"] == "note"
            && notification["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("2 waived or baselined")
    }));
}

#[test]
fn truncation_keeps_the_highest_severity_results() {
    let fixture = Fixture::new();
    let total = fixture.report.findings.len();
    // The report lists AAA's findings first; the only high one is on FS01.
    assert_eq!(fixture.report.findings[0].host, "AAA");
    let sarif = fixture.sarif(&SarifOptions {
        max_results: 1,
        ..fixture.options()
    });
    let kept = results(&sarif);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["ruleId"], "T-HIGH-001");
    assert_eq!(kept[0]["properties"]["host"], "FS01");
    let notice = notifications(&sarif)
        .iter()
        .find(|notification| {
            notification["message"]["text"]
                .as_str()
                .unwrap()
                .contains("left out")
        })
        .expect("a notification about the left-out results");
    assert_eq!(notice["level"], "warning");
    assert!(notice["message"]["text"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{} of {total} results were left out", total - 1)));
    assert_eq!(notice["properties"]["omitted"], total - 1);

    // Kept results stay in report order: medium ones after the high one, lows dropped.
    let three = fixture.sarif(&SarifOptions {
        max_results: 3,
        ..fixture.options()
    });
    let severities: Vec<&str> = results(&three)
        .iter()
        .map(|result| result["properties"]["severity"].as_str().unwrap())
        .collect();
    assert!(!severities.contains(&"low"), "{severities:?}");
    assert_eq!(
        results(&three)[0]["properties"]["host"],
        "AAA",
        "report order"
    );
    assert_eq!(severities.iter().filter(|s| **s == "high").count(), 1);

    // A gzip budget smaller than the full output drops results too, and never fails.
    let full = sarif_bytes(&fixture.report, &fixture.rules, &fixture.options());
    let none = fixture.sarif(&SarifOptions {
        max_results: 0,
        ..fixture.options()
    });
    assert!(results(&none).is_empty());
    let empty_size = gzip_len(&sarif_bytes(
        &fixture.report,
        &fixture.rules,
        &SarifOptions {
            max_results: 0,
            ..fixture.options()
        },
    ));
    let budget = empty_size + 200;
    let squeezed_bytes = sarif_bytes(
        &fixture.report,
        &fixture.rules,
        &SarifOptions {
            max_gzip_bytes: budget,
            ..fixture.options()
        },
    );
    assert!(gzip_len(&squeezed_bytes) <= budget);
    assert!(gzip_len(&full) > budget);
    let squeezed: Value = serde_json::from_slice(&squeezed_bytes).unwrap();
    assert!(results(&squeezed).len() < total);
    assert!(notifications(&squeezed)
        .iter()
        .any(|notification| notification["message"]["text"]
            .as_str()
            .unwrap()
            .contains("left out")));
    let tiny = fixture.sarif(&SarifOptions {
        max_gzip_bytes: 1,
        ..fixture.options()
    });
    assert!(
        results(&tiny).is_empty(),
        "an impossible budget still gives a log"
    );
}

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap().len()
}
