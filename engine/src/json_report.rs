//! Writes the JSON report byte for byte as `serde_json::to_writer_pretty` would, with the
//! spooled hosts and findings laid out on the thread pool a chunk at a time straight from their
//! stored JSON, so that the serial part of writing a fleet's report is the copy to the output.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use crate::scan::ScanReport;
use crate::spool::Spool;

/// How many items are laid out on the pool before they are written.
const CHUNK: usize = 128;

/// The items of the report's arrays sit two levels deep.
const ITEM_DEPTH: usize = 2;

/// Writes `report` as pretty JSON followed by a newline: the same bytes as
/// `serde_json::to_writer_pretty(out, report)` and a newline.
pub fn write_json_report(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let view = ReportView {
        tool: &report.tool,
        inputs: &report.inputs,
        profile: &report.profile,
        params: &report.params,
        rules: &report.rules,
        hosts: Later,
        passed_over: &report.passed_over,
        findings: Later,
        rule_errors: &report.rule_errors,
        unchecked: &report.unchecked,
        notices: &report.notices,
        counts: &report.counts,
        summary: &report.summary,
    };
    // Everything but the two spooled arrays, which are written into their places below.
    let frame = serde_json::to_vec_pretty(&view).map_err(io::Error::other)?;
    let rest = write_up_to(out, &frame, "hosts")?;
    write_items(&report.hosts, out)?;
    let rest = write_up_to(out, rest, "findings")?;
    write_items(&report.findings, out)?;
    out.write_all(rest)?;
    out.write_all(b"\n")
}

/// Writes `frame` up to and including the opening bracket of the top-level `field`'s empty
/// array; returns what follows its closing bracket.
fn write_up_to<'f>(out: &mut dyn Write, frame: &'f [u8], field: &str) -> io::Result<&'f [u8]> {
    // A top-level field starts a line, two spaces in: raw line breaks in the output are all
    // the printer's own (strings escape theirs), so this finds the field itself.
    let marker = format!("\n  \"{field}\": []");
    let at = frame
        .windows(marker.len())
        .position(|window| window == marker.as_bytes())
        .ok_or_else(|| io::Error::other(format!("the report has no {field} field")))?;
    let open = at + marker.len() - 1;
    out.write_all(&frame[..open])?;
    Ok(&frame[open + 1..])
}

/// [`ScanReport`]'s fields in its order. A test checks that the report written through it
/// equals the report's own `Serialize`, so a field added there and not here fails it.
#[derive(Serialize)]
struct ReportView<'a> {
    tool: &'a crate::inspect::ToolInfo,
    inputs: &'a Vec<String>,
    profile: &'a String,
    params: &'a std::collections::BTreeMap<String, String>,
    rules: &'a Vec<crate::scan::RuleSummary>,
    hosts: Later,
    passed_over: &'a Vec<hiveward_collectors::PassedOver>,
    findings: Later,
    rule_errors: &'a Vec<crate::error::RuleError>,
    unchecked: &'a Vec<crate::error::UncheckedRule>,
    notices: &'a Vec<hiveward_collectors::Notice>,
    counts: &'a crate::scan::SeverityCounts,
    summary: &'a crate::scan::ScanSummary,
}

/// An array written later: an empty one in the frame.
struct Later;

impl Serialize for Later {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_seq(Some(0))?.end()
    }
}

/// Writes a spooled array's items and its closing bracket, after the opening one: each item
/// laid out from its stored JSON on the pool, a chunk at a time, the next chunk while this
/// thread writes the last.
fn write_items<T: Send + Sync>(spool: &Spool<T>, out: &mut dyn Write) -> io::Result<()> {
    let len = spool.len();
    let lay_out = |chunk: usize| -> Vec<Option<Vec<u8>>> {
        let start = chunk * CHUNK;
        (start..len.min(start + CHUNK))
            .into_par_iter()
            .map(|position| {
                spool.raw(position).map(|compact| {
                    let mut pretty = Vec::with_capacity(compact.len() * 3 / 2);
                    reindent(&compact, ITEM_DEPTH, &mut pretty);
                    pretty
                })
            })
            .collect()
    };
    let mut first = true;
    made_ahead(len.div_ceil(CHUNK), lay_out, |laid_out| {
        for item in laid_out.into_iter().flatten() {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            out.write_all(&b"  ".repeat(ITEM_DEPTH))?;
            out.write_all(&item)?;
            first = false;
        }
        Ok(())
    })?;
    if first {
        out.write_all(b"]")
    } else {
        out.write_all(b"\n  ]")
    }
}

/// Hands `make(0)`, `make(1)`, ... `make(count - 1)` to `take` in order, on this thread, while a
/// helper thread makes the next one: at most two are waiting at once. `take` failing stops
/// the making.
pub(crate) fn made_ahead<C: Send>(
    count: usize,
    make: impl Fn(usize) -> C + Sync,
    mut take: impl FnMut(C) -> io::Result<()>,
) -> io::Result<()> {
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let make = &make;
        scope.spawn(move || {
            for index in 0..count {
                if sender.send(make(index)).is_err() {
                    break;
                }
            }
        });
        for made in receiver {
            take(made)?;
        }
        Ok(())
    })
}

/// The end of the JSON string that starts at `at` (just past its closing quote, or the end of
/// `bytes` when it is not closed).
fn string_end(bytes: &[u8], at: usize) -> usize {
    let mut at = at + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Lays out compact JSON (as `serde_json::to_vec` writes it) the way serde_json's pretty
/// printer does for a value `depth` levels deep, without parsing it into a value again.
/// Written here because no crate re-indents to serde_json's exact layout from the bytes:
/// compact JSON has no whitespace outside strings, so one pass that copies strings whole and
/// breaks lines around brackets and commas gives the same bytes.
pub(crate) fn reindent(compact: &[u8], depth: usize, out: &mut Vec<u8>) {
    let newline = |out: &mut Vec<u8>, level: usize| {
        out.push(b'\n');
        for _ in 0..level {
            out.extend_from_slice(b"  ");
        }
    };
    let mut level = depth;
    let mut at = 0;
    while at < compact.len() {
        let byte = compact[at];
        match byte {
            b'"' => {
                let end = string_end(compact, at);
                out.extend_from_slice(&compact[at..end]);
                at = end;
                continue;
            }
            b'{' | b'[' => {
                out.push(byte);
                let close = if byte == b'{' { b'}' } else { b']' };
                if compact.get(at + 1) == Some(&close) {
                    out.push(close);
                    at += 2;
                    continue;
                }
                level += 1;
                newline(out, level);
            }
            b'}' | b']' => {
                level = level.saturating_sub(1);
                newline(out, level);
                out.push(byte);
            }
            b',' => {
                out.push(b',');
                newline(out, level);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(byte),
        }
        at += 1;
    }
}

/// The elements of a compact JSON array (as `serde_json::to_vec` writes a sequence), each as
/// `serde_json::to_vec` writes the element; `None` when `compact` is not an array. One pass
/// that skips strings, as [`reindent`] does.
pub(crate) fn array_elements(compact: &[u8]) -> Option<Vec<&[u8]>> {
    let inner = compact.strip_prefix(b"[")?.strip_suffix(b"]")?;
    let mut elements = Vec::new();
    if inner.is_empty() {
        return Some(elements);
    }
    let (mut depth, mut start, mut at) = (0usize, 0, 0);
    while at < inner.len() {
        match inner[at] {
            b'"' => {
                at = string_end(inner, at);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                elements.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    elements.push(&inner[start..]);
    Some(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_the_report_serialises_to() {
        let report = crate::test_support::sample_bundle_report();
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
    fn items_of_many_chunks_are_written_in_order() {
        let mut report = crate::test_support::sample_bundle_report();
        let findings: Vec<crate::finding::Finding> = report.findings.stream().collect();
        let many = Spool::new();
        for at in 0..3 * CHUNK + 5 {
            let mut finding = findings[at % findings.len()].clone();
            finding.message = format!("{} (#{at})", finding.message);
            many.push(&finding);
        }
        report.findings = many;
        let mut expected = serde_json::to_vec_pretty(&report).unwrap();
        expected.push(b'\n');
        let mut written = Vec::new();
        write_json_report(&report, &mut written).unwrap();
        assert!(written == expected, "the report differs from serde_json's");
    }

    #[test]
    fn made_ahead_hands_over_in_order_and_stops_at_an_error() {
        let mut taken = Vec::new();
        made_ahead(
            50,
            |index| index * 2,
            |made| {
                taken.push(made);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(taken, (0..50).map(|index| index * 2).collect::<Vec<_>>());

        let made = std::sync::atomic::AtomicUsize::new(0);
        let error = made_ahead(
            1000,
            |index| {
                made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                index
            },
            |index| match index {
                3 => Err(io::Error::other("disk full")),
                _ => Ok(()),
            },
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "disk full");
        // Made: the four taken, one waiting and one being handed over when the taking failed.
        let made = made.load(std::sync::atomic::Ordering::SeqCst);
        assert!((4..=6).contains(&made), "{made} made");
    }

    #[test]
    fn empty_arrays_stay_empty() {
        let mut report = crate::test_support::sample_bundle_report();
        report.hosts = Spool::new();
        report.findings = Spool::new();
        let mut expected = serde_json::to_vec_pretty(&report).unwrap();
        expected.push(b'\n');
        let mut written = Vec::new();
        write_json_report(&report, &mut written).unwrap();
        assert_eq!(written, expected);
        assert!(String::from_utf8(written)
            .unwrap()
            .contains("\"findings\": [],"));
    }

    /// Values with every kind of token, nested, empty and with strings that hold brackets,
    /// commas, colons, quotes, backslashes and line breaks.
    fn samples() -> Vec<serde_json::Value> {
        use serde_json::json;
        vec![
            json!({}),
            json!([]),
            json!("plain"),
            json!(-12.5e3),
            json!({"a": [1, {"b": "line\nbreak"}], "c": {}, "d": [], "e": null}),
            json!([[[]], [{}], {"k": [true, false]}]),
            json!({"tricky": "{[,:]} \"quoted\" \\ back\\slash \\\" \u{1}", "ü": "ünïcode"}),
            json!({"nested": {"deeper": {"deepest": [1, 2, {"x": "y"}]}}}),
        ]
    }

    #[test]
    fn an_array_comes_apart_into_its_elements_as_each_encodes() {
        let values = samples();
        for count in 0..=values.len() {
            let list = &values[..count];
            let compact = serde_json::to_vec(list).unwrap();
            let elements = array_elements(&compact).unwrap();
            let expected: Vec<Vec<u8>> = list
                .iter()
                .map(|value| serde_json::to_vec(value).unwrap())
                .collect();
            assert_eq!(elements, expected, "{count} elements");
        }
        assert_eq!(array_elements(b"{}"), None);
        assert_eq!(array_elements(b"[1]]"), None);
    }

    #[test]
    fn reindenting_gives_serde_jsons_pretty_layout_at_any_depth() {
        for value in samples() {
            let compact = serde_json::to_vec(&value).unwrap();
            let pretty = String::from_utf8(serde_json::to_vec_pretty(&value).unwrap()).unwrap();
            for depth in 0..4 {
                let mut out = Vec::new();
                reindent(&compact, depth, &mut out);
                let expected = pretty.replace('\n', &format!("\n{}", "  ".repeat(depth)));
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    expected,
                    "{value} at {depth}"
                );
            }
        }
    }
}
