//! The HTML, CSV and Markdown reports of the sample bundle against its JSON report: the same
//! findings, the same numbers, the same bytes twice; and hostile report data escaped in each.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions};
use hiveward_engine::{
    run_scan, JsonValue, Limits, PackSource, RuleSet, ScanReport, ScanSettings, Suppression,
    SuppressionKind,
};
use hiveward_report::{csv_report, html_report, markdown_report, CSV_COLUMNS};
use serde_json::Value;

/// The sample bundle's report, with one finding waived and one baselined.
fn sample() -> ScanReport {
    let bundle = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/bundle");
    let rules = RuleSet::load(PackSource::builtin(), Limits::default()).expect("packs load");
    let collection = collect(
        discover(std::slice::from_ref(&bundle), &DiscoverOptions::default()),
        &CollectOptions::default(),
    );
    let settings = ScanSettings {
        inputs: vec![PathBuf::from("examples/bundle")],
        profile: "cis".to_string(),
        ..ScanSettings::default()
    };
    let mut report = run_scan(collection, &rules, &settings);
    assert!(report.findings.len() > 3, "the sample bundle has findings");
    report.findings[1].suppression = Some(Suppression {
        kind: SuppressionKind::Waiver,
        justification: "accepted until the migration".to_string(),
        owner: Some("fileservices@corp.example".to_string()),
        expires: Some("2099-12-31".to_string()),
    });
    report.findings[2].suppression = Some(Suppression {
        kind: SuppressionKind::Baseline,
        justification: "in the baseline".to_string(),
        owner: None,
        expires: None,
    });
    report.summary.suppressed = 2;
    report
}

fn json(report: &ScanReport) -> Value {
    serde_json::to_value(report).expect("the report serialises")
}

/// Every `data-metric="NAME" data-count="N"` pair on the page.
fn html_metrics(html: &str) -> BTreeMap<String, Vec<u64>> {
    let mut metrics: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for part in html.split("data-metric=\"").skip(1) {
        let (name, rest) = part.split_once('"').expect("the attribute closes");
        let count = rest
            .strip_prefix(" data-count=\"")
            .and_then(|rest| rest.split_once('"'))
            .map(|(count, _)| count.parse::<u64>().expect("a number"))
            .unwrap_or_else(|| panic!("{name} has no data-count"));
        metrics.entry(name.to_string()).or_default().push(count);
    }
    metrics
}

/// What each metric must be, computed from the JSON report.
fn expected_metric(report: &Value, name: &str) -> u64 {
    let findings = report["findings"].as_array().unwrap();
    let parts: Vec<&str> = name.split('.').collect();
    let count = |keep: &dyn Fn(&Value) -> bool| findings.iter().filter(|f| keep(f)).count() as u64;
    match parts.as_slice() {
        ["summary", field] => report["summary"][field].as_u64().unwrap(),
        ["counts", severity] => report["counts"][severity].as_u64().unwrap(),
        ["coverage", field] => report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|host| host["coverage"][field].as_u64().unwrap())
            .sum(),
        ["findings", "open"] => count(&|f| f.get("suppression").is_none()),
        ["findings", kind] => {
            let kind = if *kind == "waived" {
                "waiver"
            } else {
                "baseline"
            };
            count(&|f| f["suppression"]["kind"] == kind)
        }
        ["host", index, rest @ ..] => {
            let host = &report["hosts"][index.parse::<usize>().unwrap()];
            let name = &host["name"];
            match rest {
                ["findings"] => count(&|f| f["host"] == *name),
                ["severity", severity] => {
                    count(&|f| f["host"] == *name && f["severity"] == *severity)
                }
                ["coverage", field] => host["coverage"][field].as_u64().unwrap(),
                _ => panic!("unknown metric {name}"),
            }
        }
        ["rule", index, rest @ ..] => {
            let id = &report["rules"][index.parse::<usize>().unwrap()]["id"];
            match rest {
                ["findings"] => count(&|f| f["rule"] == *id),
                ["outcome", outcome] => report["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|host| host["outcomes"].as_array().unwrap())
                    .filter(|o| o["rule"] == *id && o["outcome"] == *outcome)
                    .count() as u64,
                _ => panic!("unknown metric {name}"),
            }
        }
        _ => panic!("unknown metric {name}"),
    }
}

#[test]
fn the_html_numbers_equal_the_json_report() {
    let report = sample();
    let json = json(&report);
    let html = html_report(&report).unwrap();
    let metrics = html_metrics(&html);
    for (name, counts) in &metrics {
        let expected = expected_metric(&json, name);
        for count in counts {
            assert_eq!(*count, expected, "{name}");
        }
    }
    // The numbers a reader looks for first are all there.
    let hosts = json["hosts"].as_array().unwrap().len();
    let rules = json["rules"].as_array().unwrap().len();
    for name in [
        "summary.findings",
        "summary.hosts",
        "summary.rules",
        "summary.checked",
        "summary.passed",
        "summary.not_applicable",
        "coverage.not_checked",
        "coverage.errors",
        "findings.open",
        "findings.waived",
        "findings.baselined",
        "counts.critical",
        "counts.high",
        "counts.medium",
        "counts.low",
        "counts.info",
    ] {
        assert!(metrics.contains_key(name), "{name} is not on the page");
    }
    for host in 0..hosts {
        for severity in ["critical", "high", "medium", "low", "info"] {
            assert!(metrics.contains_key(&format!("host.{host}.severity.{severity}")));
        }
        assert!(metrics.contains_key(&format!("host.{host}.coverage.checked")));
    }
    for rule in 0..rules {
        assert!(metrics.contains_key(&format!("rule.{rule}.findings")));
    }
    assert_eq!(metrics["findings.waived"], [1]);
    assert_eq!(metrics["findings.baselined"], [1]);
    assert!(html.contains(r#"<span class="num" data-metric="summary.findings" data-count="#));
    assert!(html.contains(&format!(
        r#"id="count-findings">{}<"#,
        json["summary"]["findings"]
    )));
}

#[test]
fn the_html_shows_every_finding_with_its_evidence_and_fix() {
    let report = sample();
    let html = html_report(&report).unwrap();
    assert_eq!(
        html.matches("<article class=\"finding ").count(),
        report.findings.len()
    );
    for (index, finding) in report.findings.iter().enumerate() {
        let card = html
            .split(&format!("id=\"f-{}\"", index + 1))
            .nth(1)
            .and_then(|rest| rest.split("</article>").next())
            .expect("each finding has a card");
        assert!(card.contains(&format!("data-outcome=\"findings {}\"", status(finding))));
        assert!(card.contains(&finding.fingerprint));
        assert!(card.contains("<h5>Fix</h5>"));
        for evidence in &finding.evidence {
            if let Some(name) = &evidence.value_name {
                assert!(card.contains(name.as_str()), "{name} not in {card}");
            }
        }
    }
    assert_eq!(
        html.matches("<span class=\"stamp stamp-waived\">").count(),
        1
    );
    assert_eq!(
        html.matches("<span class=\"stamp stamp-baselined\">")
            .count(),
        1
    );
    assert!(html.contains("accepted until the migration"));
}

fn status(finding: &hiveward_engine::Finding) -> &'static str {
    match finding.suppression.as_ref().map(|s| s.kind) {
        None => "open",
        Some(SuppressionKind::Waiver) => "waived",
        Some(SuppressionKind::Baseline) => "baselined",
    }
}

#[test]
fn the_html_loads_nothing_from_anywhere() {
    let html = html_report(&sample()).unwrap();
    for loader in ["src=", "<link rel=\"stylesheet\"", "@import", "url("] {
        assert!(!html.contains(loader), "{loader} in the page");
    }
    assert_eq!(html.matches("<script").count(), 1, "one inline script");
    assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
    // The policy, with its quotes escaped as the attribute needs.
    assert!(html.contains(
        "Content-Security-Policy\" content=\"default-src &#x27;none&#x27;; style-src &#x27;sha256-"
    ));
}

#[test]
fn csv_has_one_row_per_finding_with_the_json_fields() {
    let report = sample();
    let json = json(&report);
    let bytes = csv_report(&report).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, CSV_COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(rows.len(), findings.len());
    let column = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    for (row, finding) in rows.iter().zip(findings) {
        for field in [
            "host",
            "rule",
            "severity",
            "title",
            "message",
            "fingerprint",
        ] {
            assert_eq!(
                row[column(field)],
                finding[field].as_str().unwrap().to_string(),
                "{field}"
            );
        }
        let kind = finding["suppression"]["kind"].as_str();
        assert_eq!(&row[column("waived")], (kind == Some("waiver")).to_string());
        assert_eq!(
            &row[column("baselined")],
            (kind == Some("baseline")).to_string()
        );
        let outcome = match kind {
            None => "open",
            Some("waiver") => "waived",
            _ => "baselined",
        };
        assert_eq!(&row[column("outcome")], outcome);
        let first_line = finding["fix"].as_str().unwrap().lines().next().unwrap();
        assert!(row[column("fix_summary")].starts_with(first_line.trim()));
        let evidence = finding["evidence"].as_array().unwrap();
        assert_eq!(
            row[column("evidence_path")].split("; ").count(),
            evidence.len().max(1)
        );
        for item in evidence {
            if let Some(name) = item["value_name"].as_str() {
                assert!(row[column("evidence_path")].contains(&format!("\\{name}")));
            }
            if let Some(file) = item["file"].as_str() {
                assert!(row[column("evidence_file")].contains(file));
            }
        }
    }
}

#[test]
fn markdown_lists_every_rule_with_findings_and_the_totals() {
    let report = sample();
    let json = json(&report);
    let markdown = markdown_report(&report);
    let summary = &json["summary"];
    assert!(markdown.contains(&format!(
        "**{} finding(s)**: {} critical, {} high, {} medium, {} low, {} info; {} open, 1 waived, 1 baselined.",
        summary["findings"],
        json["counts"]["critical"],
        json["counts"]["high"],
        json["counts"]["medium"],
        json["counts"]["low"],
        json["counts"]["info"],
        summary["findings"].as_u64().unwrap() - 2
    )));
    let inferred = match summary["passed_inferred"].as_u64() {
        Some(count) if count > 0 => {
            format!(", {count} of them inferred: each says what it assumed")
        }
        _ => String::new(),
    };
    assert!(markdown.contains(&format!(
        "**Coverage**: {} rule × host check(s) made ({} passed{inferred}), {} not applicable,",
        summary["checked"], summary["passed"], summary["not_applicable"]
    )));
    let findings = json["findings"].as_array().unwrap();
    let mut rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort();
    rules.dedup();
    assert_eq!(markdown.matches("\n#### ").count(), rules.len());
    for rule in rules {
        let of_rule: Vec<&Value> = findings.iter().filter(|f| f["rule"] == rule).collect();
        let heading = markdown
            .lines()
            .position(|line| line.starts_with("#### ") && line.contains(&format!(" {rule} · ")))
            .unwrap_or_else(|| panic!("no heading for {rule}"));
        let count_line = markdown.lines().nth(heading + 2).unwrap();
        assert!(
            count_line.starts_with(&format!("{} finding(s) on ", of_rule.len())),
            "{rule}: {count_line}"
        );
        // One table row per finding under the heading.
        let rows = markdown
            .lines()
            .skip(heading + 6)
            .take_while(|line| line.starts_with("| "))
            .count();
        assert_eq!(rows, of_rule.len(), "{rule}");
    }
    for host in json["hosts"].as_array().unwrap() {
        let name = host["name"].as_str().unwrap();
        let coverage = &host["coverage"];
        assert!(markdown.contains(&format!(
            "| {} of {} | {} | {} | {} |",
            coverage["checked"],
            coverage["rules"],
            coverage["not_applicable"],
            coverage["not_checked"],
            coverage["errors"]
        )));
        assert!(markdown.contains(&format!("\n| {name} | ")));
    }
}

#[test]
fn each_format_gives_the_same_bytes_for_the_same_report() {
    let (one, two) = (sample(), sample());
    assert_eq!(html_report(&one).unwrap(), html_report(&two).unwrap());
    assert_eq!(csv_report(&one).unwrap(), csv_report(&two).unwrap());
    assert_eq!(markdown_report(&one), markdown_report(&two));
}

const HOSTILE: &str = "<script>alert(1)</script>|=cmd|' /C calc'!A0 \"quoted\" 'single'\nsecond line & <b>bold</b> *em* [x](javascript:alert(1))";

/// The sample report with hostile strings in the host name, title, message, evidence, fix and
/// waiver justification of its first finding.
fn hostile() -> ScanReport {
    let mut report = sample();
    let host = report.findings[0].host.clone();
    let hostile_host = format!("=HOST<script>|{host}");
    for finding in report.findings.iter_mut().filter(|f| f.host == host) {
        finding.host = hostile_host.clone();
    }
    for item in report.hosts.iter_mut().filter(|h| h.name == host) {
        item.name = hostile_host.clone();
    }
    let finding = &mut report.findings[0];
    finding.title = HOSTILE.to_string();
    finding.message = HOSTILE.to_string();
    finding.fix = format!("{HOSTILE}\n\n<img src=x onerror=alert(1)>\n\n```\n{HOSTILE}\n```\n");
    finding.evidence[0].observed = Some(JsonValue(Value::String(HOSTILE.to_string())));
    finding.evidence[0].value_name = Some(HOSTILE.to_string());
    finding.suppression = Some(Suppression {
        kind: SuppressionKind::Waiver,
        justification: HOSTILE.to_string(),
        owner: Some("-owner".to_string()),
        expires: None,
    });
    report
}

#[test]
fn hostile_strings_are_escaped_in_html() {
    let html = html_report(&hostile()).unwrap();
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("<b>bold"), "raw markup from the report");
    assert!(!html.contains("<img"));
    assert!(!html.contains("href=\"javascript"), "no link to a script");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(
        html.contains(r"second line \n second") || html.contains(r"\nsecond line"),
        "line feeds shown as escapes in one-line fields"
    );
}

#[test]
fn hostile_strings_are_quoted_and_guarded_in_csv() {
    let report = hostile();
    let bytes = csv_report(&report).unwrap();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        report.findings.len(),
        "quoting keeps one record per finding"
    );
    let column = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let row = &rows[0];
    assert_eq!(
        &row[column("message")],
        HOSTILE,
        "quotes, pipes and line feeds round-trip"
    );
    assert_eq!(&row[column("title")], HOSTILE);
    assert_eq!(
        &row[column("host")],
        format!("'{}", report.findings[0].host)
    );
    assert_eq!(&row[column("justification")], HOSTILE);
    assert!(row[column("evidence_value")].starts_with(HOSTILE.split('\n').next().unwrap()));
    for row in &rows {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a formula cell: {cell:?}"
            );
        }
    }
}

#[test]
fn hostile_strings_are_escaped_in_markdown() {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    let markdown = markdown_report(&hostile());
    // Parsed as GitHub does (with tables), the only markup is the report's own: the fix's
    // `<details>` wrapper and the `<br>` between evidence items; every table row keeps its
    // cells; no image, no link to a script.
    let mut cells = 0;
    let mut rows = Vec::new();
    for event in Parser::new_ext(&markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                let html = html.trim();
                let summary = html
                    .strip_prefix("<details><summary>")
                    .and_then(|rest| rest.strip_suffix("</summary>"));
                assert!(
                    summary.is_some_and(|label| !label.contains('<'))
                        || ["</details>", "<br>"].contains(&html),
                    "raw markup {html:?} in:\n{markdown}"
                );
            }
            Event::Start(Tag::Image { .. }) => panic!("an image in:\n{markdown}"),
            Event::Start(Tag::Link { dest_url, .. }) => {
                assert!(!dest_url.contains("javascript"), "{dest_url}")
            }
            Event::Start(Tag::TableRow) | Event::Start(Tag::TableHead) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableRow) | Event::End(TagEnd::TableHead) => rows.push(cells),
            _ => {}
        }
    }
    assert!(
        rows.iter().all(|cells| *cells == 4 || *cells == 11),
        "{rows:?}"
    );
    assert!(markdown.contains(r"\<script\>alert(1)\</script\>\|=cmd\|"));
    assert!(
        markdown.contains(r"\nsecond line"),
        "line feeds shown as escapes in cells"
    );
}
