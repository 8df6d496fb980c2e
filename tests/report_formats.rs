//! `--format html|csv|markdown` through the binary, against the JSON report of the same run:
//! the sample bundle's findings and numbers in each format, the same reports from `merge` as
//! from one scan, and hostile evidence and rule text escaped in each.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `hiveward ARGS` in `dir`; returns the exit code, standard output and standard error.
fn hiveward(dir: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    let output = Command::cargo_bin("hiveward")
        .expect("the hiveward binary is built")
        .current_dir(dir)
        .args(args)
        .env_remove("HIVEWARD_SHARD")
        .output()
        .expect("hiveward runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), output.stdout, stderr)
}

/// One scan of `bundle` (with `extra` options) writing JSON, HTML, CSV and Markdown.
fn scan_all(dir: &Path, bundle: &str, extra: &[&str]) -> (Value, String, Vec<u8>, String) {
    let mut args = vec![
        "scan",
        bundle,
        "--format",
        "json",
        "-o",
        "report.json",
        "--output-format",
        "html:report.html",
        "--output-format",
        "csv:report.csv",
        "--output-format",
        "markdown:report.md",
        "--fail-on",
        "never",
        // PC22's `.reg` export leaves some checks unknown.
        "--allow-partial",
    ];
    args.extend_from_slice(extra);
    let (code, _, stderr) = hiveward(dir, &args);
    assert_eq!(code, 0, "{stderr}");
    (
        serde_json::from_slice(&fs::read(dir.join("report.json")).unwrap()).unwrap(),
        fs::read_to_string(dir.join("report.html")).unwrap(),
        fs::read(dir.join("report.csv")).unwrap(),
        fs::read_to_string(dir.join("report.md")).unwrap(),
    )
}

/// The `data-count` of the element whose `data-metric` is `name`.
fn html_count(html: &str, name: &str) -> u64 {
    let marker = format!("data-metric=\"{name}\" data-count=\"");
    let rest = html
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("{name} is not on the page"));
    rest.split('"').next().unwrap().parse().unwrap()
}

fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

#[test]
fn the_sample_bundle_in_each_format_agrees_with_its_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let waivers = root().join("examples/waivers.toml");
    let (json, html, csv, markdown) = scan_all(
        dir.path(),
        bundle.to_str().unwrap(),
        &["--waivers", waivers.to_str().unwrap()],
    );
    let findings = json["findings"].as_array().unwrap();
    let summary = &json["summary"];
    assert!(
        summary["suppressed"].as_u64().unwrap() > 0,
        "the waiver applies"
    );

    // HTML: the totals, by severity and coverage, equal the JSON report's.
    for field in [
        "findings",
        "hosts",
        "rules",
        "checked",
        "passed",
        "not_applicable",
    ] {
        assert_eq!(
            html_count(&html, &format!("summary.{field}")),
            summary[field].as_u64().unwrap(),
            "{field}"
        );
    }
    for severity in ["critical", "high", "medium", "low", "info"] {
        assert_eq!(
            html_count(&html, &format!("counts.{severity}")),
            json["counts"][severity].as_u64().unwrap()
        );
    }
    let waived = findings
        .iter()
        .filter(|f| f["suppression"]["kind"] == "waiver")
        .count() as u64;
    assert_eq!(html_count(&html, "findings.waived"), waived);
    assert_eq!(
        html.matches("<article class=\"finding ").count(),
        findings.len()
    );
    assert_eq!(
        html.matches("<span class=\"stamp stamp-waived\">").count() as u64,
        waived
    );

    // CSV: one row per finding, in the JSON report's order, with its fields.
    let (header, rows) = csv_rows(&csv);
    assert_eq!(header, hiveward_report::CSV_COLUMNS);
    assert_eq!(rows.len(), findings.len());
    for (row, finding) in rows.iter().zip(findings) {
        assert_eq!(&row[0], finding["host"].as_str().unwrap());
        assert_eq!(&row[1], finding["rule"].as_str().unwrap());
        assert_eq!(&row[2], finding["severity"].as_str().unwrap());
        assert_eq!(&row[11], finding["fingerprint"].as_str().unwrap());
        let is_waived = finding["suppression"]["kind"] == "waiver";
        assert_eq!(&row[4], if is_waived { "waived" } else { "open" });
        assert_eq!(&row[12], is_waived.to_string());
    }

    // Markdown: the totals, and every rule with findings under its own heading.
    assert!(markdown.contains(&format!(
        "**{} finding(s)**: {} critical, {} high, {} medium, {} low, {} info;",
        summary["findings"],
        json["counts"]["critical"],
        json["counts"]["high"],
        json["counts"]["medium"],
        json["counts"]["low"],
        json["counts"]["info"]
    )));
    for finding in findings {
        let rule = finding["rule"].as_str().unwrap();
        let count = findings.iter().filter(|f| f["rule"] == rule).count();
        let heading = markdown
            .lines()
            .position(|line| line.starts_with("#### ") && line.contains(&format!(" {rule} · ")))
            .unwrap_or_else(|| panic!("no heading for {rule}"));
        assert!(markdown
            .lines()
            .nth(heading + 2)
            .unwrap()
            .starts_with(&format!("{count} finding(s) on ")));
    }
}

#[test]
fn each_format_goes_to_standard_output_too() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let bundle = bundle.to_str().unwrap();
    for (format, start) in [
        ("html", "<!DOCTYPE html>"),
        ("csv", "host,rule,severity,title,outcome,"),
        ("markdown", "## hiveward scan report"),
    ] {
        let (code, stdout, stderr) = hiveward(dir.path(), &["scan", bundle, "--format", format]);
        assert_eq!(code, 1, "high findings fail the run as usual: {stderr}");
        assert!(
            String::from_utf8_lossy(&stdout).starts_with(start),
            "{format}"
        );
    }
    let (code, _, stderr) = hiveward(
        dir.path(),
        &["scan", bundle, "--output-format", "pdf:report.pdf"],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("expected text, json, sarif, junit, html, csv or markdown"),
        "{stderr}"
    );
}

#[test]
fn each_report_reads_the_same_on_standard_output_in_its_file_and_beside_another() {
    // Every format is written as it is rendered: to standard output, to `-o FILE` and to
    // `--output-format FORMAT:FILE` alike, in one run or several.
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let bundle = bundle.to_str().unwrap();
    let waivers = root().join("examples/waivers.toml");
    let waivers = waivers.to_str().unwrap();
    let common = [
        "--waivers",
        waivers,
        "--fail-on",
        "medium",
        "--color",
        "never",
    ];
    let formats = ["junit", "html", "markdown", "text", "csv"];
    let mut args = vec!["scan", bundle, "--format", "json", "-o", "all.json"];
    let files: Vec<String> = formats
        .iter()
        .map(|format| format!("{format}:beside.{format}"))
        .collect();
    for file in &files {
        args.extend(["--output-format", file.as_str()]);
    }
    args.extend(common);
    let (code, _, stderr) = hiveward(dir.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    for format in formats {
        let mut args = vec!["scan", bundle, "--format", format];
        args.extend(common);
        let (code, stdout, stderr) = hiveward(dir.path(), &args);
        assert_eq!(code, 1, "{format}: {stderr}");
        assert!(!stdout.is_empty(), "{format}");
        let file = format!("alone.{format}");
        args.extend(["-o", file.as_str()]);
        let (code, _, stderr) = hiveward(dir.path(), &args);
        assert_eq!(code, 1, "{format}: {stderr}");
        assert!(
            fs::read(dir.path().join(&file)).unwrap() == stdout,
            "{format}: -o and standard output differ"
        );
        assert!(
            fs::read(dir.path().join(format!("beside.{format}"))).unwrap() == stdout,
            "{format}: --output-format and standard output differ"
        );
    }
}

#[test]
fn merge_writes_the_same_html_csv_and_markdown_as_one_scan() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = root().join("examples/bundle");
    let bundle = bundle.to_str().unwrap();
    let (_, html, csv, markdown) = scan_all(dir.path(), bundle, &[]);
    for shard in ["1/2", "2/2"] {
        let file = format!("partial-{}.json", &shard[..1]);
        let (code, _, stderr) = hiveward(
            dir.path(),
            &["scan", bundle, "--shard", shard, "--partial", &file],
        );
        assert_eq!(code, 0, "{stderr}");
    }
    let (code, _, stderr) = hiveward(
        dir.path(),
        &[
            "merge",
            "partial-1.json",
            "partial-2.json",
            "--format",
            "html",
            "-o",
            "merged.html",
            "--output-format",
            "csv:merged.csv",
            "--output-format",
            "markdown:merged.md",
            "--fail-on",
            "never",
            "--allow-partial",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(fs::read_to_string(dir.path().join("merged.html")).unwrap() == html);
    assert_eq!(fs::read(dir.path().join("merged.csv")).unwrap(), csv);
    assert_eq!(
        fs::read_to_string(dir.path().join("merged.md")).unwrap(),
        markdown
    );
}

const PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters";

/// A rule pack whose rule puts hostile text in its title, fix, message and evidence.
fn hostile_pack(root: &Path) -> PathBuf {
    let pack = root.join("evil");
    fs::create_dir_all(&pack).unwrap();
    fs::write(
        pack.join("pack.toml"),
        "name = \"evil\"\nversion = \"0.1.0\"\ndescription = \"Test pack.\"\nmin_hiveward = \"0.1.0\"\n",
    )
    .unwrap();
    fs::write(
        pack.join("EVIL-002.rhai"),
        format!(
            r#"export const RULE = #{{
    id: "EVIL-002",
    pack: "evil",
    title: "<script>alert('title')</script> | =cmd",
    description: "Hostile strings.",
    severity: "high",
    fix: "=cmd|' /C calc'!A0 with <b>bold</b>\n\n<script>alert('fix')</script>\n\n![x](http://example.invalid/x.png) [a](javascript:alert(1))",
}};

fn check(host) {{
    let comment = host.setting(`{PARAMETERS}`, "Comment");
    [#{{ message: "=HYPERLINK(\"x\") on " + host.name + "\n\"quoted\" | <img src=x>", evidence: [comment] }}]
}}
"#
        ),
    )
    .unwrap();
    pack
}

fn hostile_bundle(root: &Path) -> PathBuf {
    let bundle = root.join("bundle");
    fs::create_dir_all(&bundle).unwrap();
    fs::write(
        bundle.join("EVIL_SYSTEM.HIV"),
        hiveward_testkit::hive_from_reg(
            "Windows Registry Editor Version 5.00\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters]\r\n\
             \"Comment\"=\"<script>alert(1)</script>|=cmd \\\"q\\\" `tick` *em*\"\r\n\r\n\
             [HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n\
             \"ComputerName\"=\"@EVIL<b>|HOST\"\r\n",
        ),
    )
    .unwrap();
    bundle
}

#[test]
fn hostile_evidence_and_rule_text_are_escaped_in_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let pack = hostile_pack(dir.path());
    let bundle = hostile_bundle(dir.path());
    let (json, html, csv, markdown) = scan_all(
        dir.path(),
        bundle.to_str().unwrap(),
        &["--no-builtin", "--rules", pack.to_str().unwrap()],
    );
    let finding = &json["findings"][0];
    assert_eq!(finding["host"], "@EVIL<b>|HOST", "{json:#}");
    let comment = "<script>alert(1)</script>|=cmd \"q\" `tick` *em*";
    assert_eq!(finding["evidence"][0]["observed"], comment);

    // HTML: only the page's own script and no markup from the report; the text shows escaped.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    for raw in ["<b>", "<img", "<script>alert", "href=\"javascript"] {
        assert!(!html.contains(raw), "{raw} in the page");
    }
    assert!(html.contains("@EVIL&lt;b&gt;|HOST"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;|=cmd &quot;q&quot;"));

    // CSV: quoting keeps the fields whole; cells that start like formulas start with '.
    let (header, rows) = csv_rows(&csv);
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| rows[0][header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(cell("host"), "'@EVIL<b>|HOST");
    assert_eq!(
        cell("message"),
        "'=HYPERLINK(\"x\") on @EVIL<b>|HOST\n\"quoted\" | <img src=x>"
    );
    assert!(
        cell("evidence_value").starts_with(comment),
        "{}",
        cell("evidence_value")
    );
    assert_eq!(cell("fix_summary"), "'=cmd|' /C calc'!A0 with <b>bold</b>");

    // Markdown: special characters escaped (values stay literal in code spans), raw HTML in
    // the fix escaped, images and script links turned into text.
    for shown in [
        r"| @EVIL\<b\>\|HOST |",
        r"\<script\>alert('title')\</script\> \| =cmd",
        r#"=HYPERLINK("x") on @EVIL\<b\>\|HOST\n"quoted" \| \<img src=x\>"#,
        "&lt;script>alert('fix')&lt;/script>",
        r"\![x](http://example.invalid/x.png) \[a](javascript:alert(1))",
        r#"``<script>alert(1)</script>\|=cmd "q" `tick` *em* (REG_SZ)``"#,
    ] {
        assert!(markdown.contains(shown), "{shown} not in:\n{markdown}");
    }
    assert!(!markdown.contains("<b>bold"), "{markdown}");
}
