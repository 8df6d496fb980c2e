//! The summary's table of hosts, written in two passes over the report's hosts (read back from
//! their spool one at a time): the first measures each column, the second writes each row as
//! the whole table would lay it out. `comfy-table` lays out both the heading and each row, with
//! every column given the width the first pass measured, so a row reads the same as in a table
//! of every host, without the table of every host in memory.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use comfy_table::{Cell, CellAlignment, ColumnConstraint, LineStyle, Table, TableStyle, Width};
use hiveward_collectors::Role;

use super::SEVERITIES;
use crate::rule::Severity;
use crate::scan::ScanReport;
use crate::terminal::escape_terminal as one_line;

/// The role as the host table shows it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Workstation => "workstation",
        Role::Server => "server",
        Role::DomainController => "domain controller",
        Role::Unknown => "-",
    }
}

/// Counts a finding of `severity` in a row of findings per severity, most severe first.
fn count_severity(row: &mut [usize; 5], severity: Severity) {
    if let Some(column) = SEVERITIES.iter().position(|known| *known == severity) {
        row[column] += 1;
    }
}

/// The table of hosts: one row per host (and one per host that only a fleet rule's finding
/// names), with its findings by severity and how its rules ended.
pub(super) fn write_host_table(report: &ScanReport, out: &mut dyn Write) -> io::Result<()> {
    let by_host = severities_by_host(report);
    let failed = report.hosts.stream().any(|host| host.coverage.errors > 0);
    let header = header(failed);
    // First pass: each column is as wide as its widest cell.
    let mut widths = content_widths(None, Some(header.clone()));
    for_each_row(report, &by_host, failed, &mut |row| {
        let row_widths = content_widths(Some(row), None);
        for (width, cell) in widths.iter_mut().zip(row_widths) {
            *width = (*width).max(cell);
        }
        Ok(())
    })?;
    writeln!(
        out,
        "Hosts (CHECKED: rules that judged the host, N/A: rules not applicable, NOT CHECKED: rules stopped by damaged or incomplete evidence or --timeout):"
    )?;
    // Second pass: the heading and its rule, then each row, laid out at those widths.
    for line in lines(None, Some(header), &widths) {
        writeln!(out, "{}", line.trim_end())?;
    }
    for_each_row(report, &by_host, failed, &mut |row| {
        for line in lines(Some(row), None, &widths) {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    })
}

/// Each host's findings by severity, most severe first, by host name (read from the spool a
/// finding at a time).
fn severities_by_host(report: &ScanReport) -> BTreeMap<String, [usize; 5]> {
    let mut by_host: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for finding in report.finding_heads() {
        count_severity(by_host.entry(finding.host).or_default(), finding.severity);
    }
    by_host
}

/// The headings; the first three columns hold text, the others numbers: right-aligned,
/// headings too. `failed` adds the column of rule errors.
fn header(failed: bool) -> Vec<Cell> {
    let mut header = vec![
        "HOST",
        "OS",
        "ROLE",
        "CRIT",
        "HIGH",
        "MED",
        "LOW",
        "INFO",
        "CHECKED",
        "N/A",
        "NOT CHECKED",
    ];
    if failed {
        header.push("FAILED");
    }
    header
        .iter()
        .enumerate()
        .map(|(index, title)| {
            let cell = Cell::new(*title);
            if index < 3 {
                cell
            } else {
                cell.set_alignment(CellAlignment::Right)
            }
        })
        .collect()
}

/// Gives `each` the table's rows in order: one per host scanned (the first host of a name
/// counts the findings on that name), then one per host that only findings name, by name.
fn for_each_row(
    report: &ScanReport,
    by_host: &BTreeMap<String, [usize; 5]>,
    failed: bool,
    each: &mut dyn FnMut(Vec<Cell>) -> io::Result<()>,
) -> io::Result<()> {
    let number = |value: usize| Cell::new(value).set_alignment(CellAlignment::Right);
    let mut counted: HashSet<&str> = HashSet::new();
    for host in report.hosts.stream() {
        let os = match (&host.os, &host.os_build) {
            (Some(name), Some(build)) => format!("{} ({})", one_line(name), one_line(build)),
            (Some(name), None) => one_line(name).into_owned(),
            (None, Some(build)) => format!("build {}", one_line(build)),
            (None, None) => "-".to_string(),
        };
        let severities = match by_host.get_key_value(host.name.as_str()) {
            Some((name, severities)) if counted.insert(name.as_str()) => *severities,
            _ => [0; 5],
        };
        let coverage = &host.coverage;
        let mut row = vec![
            Cell::new(one_line(&host.name)),
            Cell::new(os),
            Cell::new(role_name(host.role)),
        ];
        row.extend(severities.into_iter().map(number));
        row.push(number(coverage.checked));
        row.push(number(coverage.not_applicable));
        row.push(number(coverage.not_checked));
        if failed {
            row.push(number(coverage.errors));
        }
        each(row)?;
    }
    // Hosts only fleet findings name (not among the hosts scanned).
    for (host, severities) in by_host {
        if counted.contains(host.as_str()) {
            continue;
        }
        let mut row = vec![Cell::new(one_line(host)), Cell::new("-"), Cell::new("-")];
        row.extend(severities.iter().map(|count| number(*count)));
        row.extend(["-", "-", "-"].map(|dash| Cell::new(dash).set_alignment(CellAlignment::Right)));
        if failed {
            row.push(Cell::new("-").set_alignment(CellAlignment::Right));
        }
        each(row)?;
    }
    Ok(())
}

/// A table of the host table's style holding `row` or the heading `header`.
fn table(row: Option<Vec<Cell>>, header: Option<Vec<Cell>>) -> Table {
    let mut table = Table::new();
    table.load_style(TableStyle::new().header_separator(LineStyle::none().fill('-')));
    if let Some(header) = header {
        table.set_header(header);
    }
    if let Some(row) = row {
        table.add_row(row);
    }
    table
}

/// How wide the content of each cell of `row` (or `header`) is, as `comfy-table` measures it.
fn content_widths(row: Option<Vec<Cell>>, header: Option<Vec<Cell>>) -> Vec<u16> {
    table(row, header).column_max_content_widths()
}

/// The lines of `row` (or of `header` and the rule under it) in a table whose columns have
/// the content `widths` given: two spaces between columns, none after the last.
fn lines(row: Option<Vec<Cell>>, header: Option<Vec<Cell>>, widths: &[u16]) -> Vec<String> {
    let mut table = table(row, header);
    let last = widths.len().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        let padding = if index == last { 0 } else { 2 };
        let width = widths.get(index).copied().unwrap_or(1);
        column.set_padding((0, padding));
        column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
            width.saturating_add(padding),
        )));
    }
    table.lines().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanHost;

    /// The table as one `comfy-table` of every row lays it out.
    fn whole_table(report: &ScanReport) -> String {
        let by_host = severities_by_host(report);
        let failed = report.hosts.stream().any(|host| host.coverage.errors > 0);
        let mut table = table(None, Some(header(failed)));
        for_each_row(report, &by_host, failed, &mut |row| {
            table.add_row(row);
            Ok(())
        })
        .unwrap();
        let last = table.column_iter_mut().count() - 1;
        for (index, column) in table.column_iter_mut().enumerate() {
            column.set_padding((0, if index == last { 0 } else { 2 }));
        }
        let mut text = String::new();
        for line in table.lines() {
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    #[test]
    fn each_row_reads_as_in_one_table_of_every_host() {
        let mut report = crate::test_support::sample_bundle_report();
        let mut hosts: Vec<ScanHost> = report.hosts.stream().collect();
        // Wide and zero-width characters, an empty name, a name twice, a long OS.
        let first = hosts[0].clone();
        for (name, os) in [
            ("服务器-東京", Some("Windows Server 2022 数据中心版")),
            ("e\u{301}\u{200d}", None),
            ("", Some("x")),
            (
                first.name.as_str(),
                Some("a much longer operating system name than the others"),
            ),
        ] {
            let mut host = first.clone();
            host.name = name.to_string();
            host.os = os.map(str::to_string);
            hosts.push(host);
        }
        let plain = hosts.clone();
        hosts[1].coverage.errors = 2;
        let mut findings: Vec<crate::finding::Finding> = report.findings.stream().collect();
        let mut fleet_only = findings[0].clone();
        fleet_only.host = "ZZ-名前だけ".to_string();
        findings.push(fleet_only);
        report.findings = findings.into();
        for (hosts, failed) in [(hosts, true), (plain, false)] {
            report.hosts = hosts.into();
            let mut written = Vec::new();
            write_host_table(&report, &mut written).unwrap();
            let written = String::from_utf8(written).unwrap();
            let (heading, table) = written.split_once('\n').unwrap();
            assert!(heading.starts_with("Hosts (CHECKED:"), "{heading}");
            assert_eq!(table, whole_table(&report));
            assert_eq!(table.lines().next().unwrap().ends_with("FAILED"), failed);
            assert!(table.contains("服务器-東京"), "{table}");
            assert!(table.contains("ZZ-名前だけ"), "{table}");
        }
    }
}
