//! Runs libyal's `evtxexport -f xml` as an outside oracle and splits its output into records.

use std::path::Path;
use std::process::Command;

/// What `evtxexport -f xml` printed for one file.
pub struct EvtxExport {
    /// Whether it read the whole file (exit status 0); it stops at the first record its XML
    /// reader rejects and exits 1.
    pub complete: bool,
    /// One XML text per record, in file order.
    pub records: Vec<String>,
}

/// Runs `evtxexport -f xml PATH`. Panics when the tool cannot be started: check
/// [`crate::oracle_available`] first.
pub fn evtxexport_xml(path: &Path) -> EvtxExport {
    let output = Command::new("evtxexport")
        .args(["-f", "xml"])
        .arg(path)
        .output()
        .expect("evtxexport runs");
    let text = String::from_utf8_lossy(&output.stdout);
    EvtxExport {
        complete: output.status.success(),
        records: text
            .split("<Event xmlns")
            .skip(1)
            .map(str::to_string)
            .collect(),
    }
}

/// The text of the first `<name …>text</name>` element in `record` (empty for `<name/>`),
/// XML escapes left as they are.
pub fn element_text<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    let open = record.find(&format!("<{name}"))?;
    let rest = &record[open + name.len() + 1..];
    let close = rest.find('>')?;
    if rest[..close].ends_with('/') {
        return Some("");
    }
    let content = &rest[close + 1..];
    Some(&content[..content.find(&format!("</{name}>"))?])
}

/// The text of `<Data Name="name">text</Data>` in `record`.
pub fn data_field<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("<Data Name=\"{name}\">");
    let start = record.find(&marker)? + marker.len();
    let rest = &record[start..];
    Some(&rest[..rest.find("</Data>")?])
}

/// Undoes the five XML escapes.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
