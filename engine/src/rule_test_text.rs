//! The text and JUnit XML renderings of a `rules test` run ([`TestReport`]): `PASS`/`FAIL`
//! lines with each failure's diff and rule output, and one `<testcase>` per case.

use crate::rule_test::{CaseResult, TestReport};

impl TestReport {
    /// The report as JUnit XML: one `<testsuite>` per rule (in the order the rules' results
    /// come), one `<testcase>` per case (`classname` the rule id, with `file` and `line`), and
    /// a `<failure>` holding the diff for each failed case, and a `<system-out>` holding the
    /// rule's `print`/`debug` output for each case that has some. No timestamps or durations.
    pub fn junit_xml(&self) -> String {
        let mut rules: Vec<&str> = Vec::new();
        for result in &self.results {
            if !rules.contains(&result.rule.as_str()) {
                rules.push(&result.rule);
            }
        }
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str(&format!(
            "<testsuites name=\"hiveward rules test\" tests=\"{}\" failures=\"{}\" errors=\"0\">\n",
            self.results.len(),
            self.failures()
        ));
        for rule in rules {
            let cases: Vec<&CaseResult> = self
                .results
                .iter()
                .filter(|result| result.rule == rule)
                .collect();
            let failures = cases.iter().filter(|case| case.failure.is_some()).count();
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">\n",
                crate::junit::xml_escape(rule, true),
                cases.len()
            ));
            for case in cases {
                let line = case
                    .line
                    .map(|line| format!(" line=\"{line}\""))
                    .unwrap_or_default();
                let opening = format!(
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\"{line}",
                    crate::junit::xml_escape(&case.name, true),
                    crate::junit::xml_escape(rule, true),
                    crate::junit::xml_escape(&case.file, true)
                );
                let system_out = if case.output.is_empty() {
                    String::new()
                } else {
                    format!(
                        "      <system-out>{}</system-out>\n",
                        crate::junit::xml_escape(&case.output.join("\n"), false)
                    )
                };
                match &case.failure {
                    None if system_out.is_empty() => out.push_str(&format!("{opening}/>\n")),
                    None => out.push_str(&format!("{opening}>\n{system_out}    </testcase>\n")),
                    Some(diff) => {
                        let first = diff.lines().next().unwrap_or_default();
                        out.push_str(&format!(
                            "{opening}>\n      <failure message=\"{}\" type=\"{}\">{}\n{}</failure>\n{system_out}    </testcase>\n",
                            crate::junit::xml_escape(first, true),
                            case.kind(),
                            crate::junit::xml_escape(&case.place(), false),
                            crate::junit::xml_escape(diff, false)
                        ));
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }

    /// Writes `PASS`/`FAIL` lines (a `FAIL` line ends with the `file:line` of the case), the
    /// diffs, each failed case's `print`/`debug` output, and a closing count line, with
    /// control characters from the packs shown as visible escapes (see
    /// [`escape_terminal`](crate::escape_terminal)).
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_with(out, false)
    }

    /// [`TestReport::write`]; with `trace`, every case's output is shown, passed ones too
    /// (`rules test --trace`).
    pub fn write_with(&self, out: &mut dyn std::io::Write, trace: bool) -> std::io::Result<()> {
        use crate::terminal::escape_terminal as one_line;
        let mut text = String::new();
        for result in &self.results {
            let (rule, name) = (one_line(&result.rule), one_line(&result.name));
            match &result.failure {
                None => text.push_str(&format!("PASS {rule} {name}\n")),
                Some(diff) => {
                    text.push_str(&format!(
                        "FAIL {rule} {name} ({})\n",
                        one_line(&result.place())
                    ));
                    for line in diff.lines() {
                        text.push_str(&format!("    {}\n", one_line(line)));
                    }
                }
            }
            if (trace || result.failure.is_some()) && !result.output.is_empty() {
                text.push_str("    output:\n");
                for line in &result.output {
                    text.push_str(&format!("      | {}\n", one_line(line)));
                }
            }
        }
        text.push_str(&format!(
            "rules test: {} passed, {} failed\n",
            self.results.len() - self.failures(),
            self.failures()
        ));
        out.write_all(crate::terminal::escape_terminal_lines(&text).as_bytes())
    }
}
