//! Writes the JSON report byte for byte as `serde_json::to_writer_pretty` would, with the
//! spooled hosts and findings read back and pretty-printed on the thread pool a chunk at a time,
//! so that the serial part of writing a fleet's report is the copy to the output.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::scan::ScanReport;
use crate::spool::Spool;

/// How many items are rendered on the pool before they are written.
const CHUNK: usize = 256;

/// The items of a report array sit two levels deep: each line an item prints after its first
/// is indented by this much more than it would be at the top level.
const ITEM_INDENT: &[u8] = b"    ";

/// Writes `report` as pretty JSON followed by a newline: the same bytes as
/// `serde_json::to_writer_pretty(out, report)` and a newline.
pub fn write_json_report(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let view = ReportView {
        tool: &report.tool,
        inputs: &report.inputs,
        profile: &report.profile,
        params: &report.params,
        rules: &report.rules,
        hosts: PrettyItems(&report.hosts),
        passed_over: &report.passed_over,
        findings: PrettyItems(&report.findings),
        rule_errors: &report.rule_errors,
        unchecked: &report.unchecked,
        notices: &report.notices,
        counts: &report.counts,
        summary: &report.summary,
    };
    serde_json::to_writer_pretty(&mut *out, &view).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// [`ScanReport`]'s fields in its order, with the spooled arrays rendered ahead. A test checks
/// that it writes what the report's own `Serialize` writes, so a field added there and not
/// here fails it.
#[derive(Serialize)]
struct ReportView<'a> {
    tool: &'a crate::inspect::ToolInfo,
    inputs: &'a Vec<String>,
    profile: &'a String,
    params: &'a std::collections::BTreeMap<String, String>,
    rules: &'a Vec<crate::scan::RuleSummary>,
    hosts: PrettyItems<'a, crate::scan::ScanHost>,
    passed_over: &'a Vec<hiveward_collectors::PassedOver>,
    findings: PrettyItems<'a, crate::finding::Finding>,
    rule_errors: &'a Vec<crate::error::RuleError>,
    unchecked: &'a Vec<crate::error::UncheckedRule>,
    notices: &'a Vec<hiveward_collectors::Notice>,
    counts: &'a crate::scan::SeverityCounts,
    summary: &'a crate::scan::ScanSummary,
}

/// A spooled array whose items are pretty-printed on the pool and written as raw JSON.
struct PrettyItems<'a, T>(&'a Spool<T>);

impl<T> Serialize for PrettyItems<'_, T>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let spool = self.0;
        let len = spool.len();
        let mut sequence = serializer.serialize_seq(Some(len))?;
        for start in (0..len).step_by(CHUNK) {
            let rendered: Vec<Option<Box<RawValue>>> = (start..len.min(start + CHUNK))
                .into_par_iter()
                .map(|position| spool.get(position).and_then(|item| pretty_item(&item)))
                .collect();
            for item in rendered.into_iter().flatten() {
                sequence.serialize_element(&item)?;
            }
        }
        sequence.end()
    }
}

/// `item` pretty-printed as it reads inside a top-level array of the report. JSON strings
/// escape their line breaks, so every raw line break is one the printer put between tokens.
fn pretty_item<T: Serialize>(item: &T) -> Option<Box<RawValue>> {
    let flat = serde_json::to_vec_pretty(item).ok()?;
    let breaks = flat.iter().filter(|byte| **byte == b'\n').count();
    let mut shifted = Vec::with_capacity(flat.len() + breaks * ITEM_INDENT.len());
    for byte in flat {
        shifted.push(byte);
        if byte == b'\n' {
            shifted.extend_from_slice(ITEM_INDENT);
        }
    }
    RawValue::from_string(String::from_utf8(shifted).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_the_report_serialises_to() {
        let report = crate::scan::sample_bundle_report();
        assert!(report.hosts.len() > 1 && report.findings.len() > 1);
        let mut expected = serde_json::to_vec_pretty(&report).unwrap();
        expected.push(b'\n');
        let mut written = Vec::new();
        write_json_report(&report, &mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn an_item_is_indented_for_its_place_in_the_report() {
        let item = serde_json::json!({"a": [1, {"b": "line\nbreak"}], "c": {}});
        let raw = pretty_item(&item).unwrap();
        assert_eq!(
            raw.get(),
            "{\n      \"a\": [\n        1,\n        {\n          \"b\": \"line\\nbreak\"\n        }\n      ],\n      \"c\": {}\n    }"
        );
    }
}
