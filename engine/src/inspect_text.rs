//! Renders the `inspect` report as readable text, grouped by host.
//!
//! Names, paths, values and messages from the evidence go through
//! [`escape_terminal`](crate::escape_terminal), and the finished text through
//! [`escape_terminal_lines`] as a last guard, so no control sequence reaches the terminal.

use std::io::{self, Write};

use hiveward_collectors::{
    BuildBasis, FileKind, FileRecord, FileStatus, HiveKind, HiveState, KbStatus, Role,
};

use crate::inspect::{HostReport, InspectReport, KeyReport};
use crate::terminal::{escape_terminal as one_line, escape_terminal_lines};

/// Writes `report` as text, with control characters from the evidence shown as visible escapes
/// (see [`escape_terminal`](crate::escape_terminal)).
pub fn write_inspect_text(report: &InspectReport, out: &mut dyn Write) -> io::Result<()> {
    let mut text = Vec::new();
    write_report(report, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    out.write_all(escape_terminal_lines(&text).as_bytes())
}

fn write_report(report: &InspectReport, out: &mut dyn Write) -> io::Result<()> {
    for host in &report.hosts {
        write_host(host, out)?;
        writeln!(out)?;
    }
    if !report.passed_over.is_empty() {
        writeln!(out, "passed over")?;
        for skipped in &report.passed_over {
            writeln!(
                out,
                "  {}: {}",
                one_line(&skipped.path),
                one_line(&skipped.reason)
            )?;
        }
        writeln!(out)?;
    }
    let summary = &report.summary;
    writeln!(
        out,
        "{} host{}; {} file{} read, {} partly read, {} listed, {} unreadable, {} passed over",
        summary.hosts,
        plural(summary.hosts),
        summary.files_read,
        plural(summary.files_read),
        summary.files_partial,
        summary.files_listed,
        summary.files_unreadable,
        summary.passed_over
    )?;
    if report.nothing_readable() {
        writeln!(out, "nothing could be read from the inputs")?;
    }
    Ok(())
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn write_host(host: &HostReport, out: &mut dyn Write) -> io::Result<()> {
    let source = match host.name_source {
        hiveward_collectors::NameSource::ComputerName => "ComputerName",
        hiveward_collectors::NameSource::FilePrefix => "file-name prefix",
        hiveward_collectors::NameSource::Directory => "folder name",
        hiveward_collectors::NameSource::FileName => "file name",
        hiveward_collectors::NameSource::EventComputer => "the event logs' Computer field",
    };
    writeln!(out, "host {} (name from {source})", one_line(&host.name))?;
    if let Some(os) = &host.os {
        let mut parts = Vec::new();
        match (os.build_range, os.os_build()) {
            (Some((low, high)), _) => parts.push(format!("build {low}-{high}")),
            (None, Some(build)) => parts.push(format!("build {build}")),
            (None, None) => parts.extend(os.build.map(|build| format!("build {build}"))),
        }
        match os.build_basis {
            Some(BuildBasis::InboxDrivers) => {
                parts.push("build inferred from in-box drivers".to_string())
            }
            Some(BuildBasis::TpmTaskOsBuild) => {
                parts.push("build from SYSTEM's TaskOsBuildNumber".to_string())
            }
            Some(BuildBasis::CurrentVersion) | None => {}
        }
        parts.extend(
            os.edition
                .as_deref()
                .map(|edition| one_line(edition).into_owned()),
        );
        parts.push(role_name(os.role).to_string());
        let name = os
            .name
            .clone()
            .or_else(|| os.product_name.clone())
            .unwrap_or_else(|| "unknown product".to_string());
        writeln!(
            out,
            "  os           {} ({})",
            one_line(&name),
            parts.join(", ")
        )?;
        if !os.unreadable.is_empty() {
            let facts: Vec<&str> = os
                .unreadable
                .iter()
                .map(|fact| fact.fact.as_str())
                .collect();
            let mut files: Vec<String> = os
                .unreadable
                .iter()
                .map(|fact| one_line(&hiveward_collectors::path_text(&fact.file)).into_owned())
                .collect();
            files.sort();
            files.dedup();
            writeln!(
                out,
                "  unreadable   {} (damaged hive: {})",
                one_line(&facts.join(", ")),
                files.join(", ")
            )?;
        }
    }
    if let Some(choice) = &host.control_set {
        writeln!(
            out,
            "  control set  {} (chosen by {})",
            one_line(&choice.name),
            one_line(&choice.chosen_by)
        )?;
    }
    if !host.hotfixes.kbs.is_empty() {
        let listed: Vec<String> = host
            .hotfixes
            .kbs
            .iter()
            .map(|summary| {
                format!(
                    "{} {}",
                    one_line(&summary.kb),
                    kb_status_name(summary.status)
                )
            })
            .collect();
        writeln!(out, "  hotfixes     {}", listed.join(", "))?;
    }
    if !host.hotfixes.unreadable.is_empty() {
        writeln!(
            out,
            "  hotfixes     incomplete: {} servicing key(s) could not be read (damaged hive)",
            host.hotfixes.unreadable.len()
        )?;
    }
    writeln!(out, "  files")?;
    for file in &host.files {
        write_file(file, out)?;
    }
    for notice in &host.notices {
        let level = format!("{:?}", notice.level).to_lowercase();
        writeln!(out, "  {level}: {}", one_line(&notice.message))?;
    }
    if !host.event_counts.is_empty() {
        writeln!(out, "  events")?;
        let mut channel = "";
        let mut line = String::new();
        for count in &host.event_counts {
            if count.channel != channel {
                if !line.is_empty() {
                    writeln!(out, "{line}")?;
                }
                channel = &count.channel;
                line = format!("    {}:", one_line(channel));
            }
            line.push_str(&format!(" {}×{}", count.id, count.count));
        }
        if !line.is_empty() {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(key) = &host.key {
        write_key(key, out)?;
    }
    Ok(())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Workstation => "workstation",
        Role::Server => "server",
        Role::DomainController => "domain controller",
        Role::Unknown => "role unknown",
    }
}

fn kb_status_name(status: KbStatus) -> &'static str {
    match status {
        KbStatus::Installed => "installed",
        KbStatus::Superseded => "superseded",
        KbStatus::PendingReboot => "pending reboot",
        KbStatus::Absent => "absent",
    }
}

fn describe_kind(file: &FileRecord) -> String {
    match (file.kind, file.hive_kind) {
        (FileKind::Hive, Some(kind)) => format!("{} hive", hive_kind_name(kind)),
        (FileKind::Hive, None) => "hive".to_string(),
        (FileKind::RegExport, _) => ".reg export".to_string(),
        (FileKind::Evtx, _) => "event log (EVTX)".to_string(),
        (FileKind::Empty, _) => "empty file".to_string(),
        (FileKind::TransactionLogOld | FileKind::TransactionLogNew, _) => {
            "transaction log".to_string()
        }
        (FileKind::Unknown, _) => "unrecognised file".to_string(),
    }
}

/// The display name of a hive type.
pub fn hive_kind_name(kind: HiveKind) -> &'static str {
    match kind {
        HiveKind::System => "SYSTEM",
        HiveKind::Software => "SOFTWARE",
        HiveKind::HkcuSoftware => r"HKCU\Software",
        HiveKind::Ntuser => "NTUSER.DAT",
        HiveKind::AccountProfile => "default or service-account profile",
        HiveKind::Sam => "SAM",
        HiveKind::Security => "SECURITY",
        HiveKind::Other => "other",
    }
}

fn write_file(file: &FileRecord, out: &mut dyn Write) -> io::Result<()> {
    let status = match file.status {
        FileStatus::Read => "read",
        FileStatus::Partial => "partial",
        FileStatus::Listed => "listed",
        FileStatus::Unreadable => "unreadable",
    };
    let state = match &file.hive_state {
        Some(HiveState::Clean) => ", clean".to_string(),
        Some(HiveState::Dirty { .. }) => ", dirty".to_string(),
        Some(HiveState::Recovered { logs, .. }) => {
            let logs: Vec<_> = logs.iter().map(|log| one_line(log)).collect();
            format!(", recovered from {}", logs.join(", "))
        }
        None => String::new(),
    };
    let truncated = if file
        .notices
        .iter()
        .any(|notice| notice.code == hiveward_collectors::TRUNCATED_HIVE_CODE)
    {
        ", truncated"
    } else {
        ""
    };
    writeln!(
        out,
        "    {status:<10} {}  [{}{state}{truncated}]",
        one_line(&file.path),
        describe_kind(file)
    )?;
    if let Some(summary) = &file.events {
        writeln!(
            out,
            "               {} record(s) read, {} skipped; channel {}; computer {}",
            summary.records_read,
            summary.records_skipped,
            one_line(&summary.channels.join(", ")),
            one_line(&summary.computers.join(", "))
        )?;
    }
    for notice in &file.notices {
        let level = format!("{:?}", notice.level).to_lowercase();
        writeln!(out, "               {level}: {}", one_line(&notice.message))?;
    }
    Ok(())
}

fn write_key(key: &KeyReport, out: &mut dyn Write) -> io::Result<()> {
    if !key.found {
        writeln!(out, "  key {}: not present", one_line(&key.requested))?;
    } else {
        writeln!(
            out,
            "  key {}",
            one_line(key.resolved_path.as_deref().unwrap_or(&key.requested))
        )?;
        if let Some(file) = &key.file {
            writeln!(out, "    from {}", one_line(file))?;
        }
        if let Some(time) = &key.last_written {
            writeln!(out, "    last written {}", one_line(time))?;
        }
        if let Some(choice) = &key.control_set {
            writeln!(
                out,
                "    CurrentControlSet = {} ({})",
                one_line(&choice.name),
                one_line(&choice.chosen_by)
            )?;
        }
        // Names are padded (by characters) to the longest one of at most 64 characters; a longer
        // name is not padded, so no width comes near the formatter's limit of 65,535.
        let names: Vec<_> = key
            .values
            .iter()
            .map(|value| {
                if value.name.is_empty() {
                    "(Default)".into()
                } else {
                    one_line(&value.name)
                }
            })
            .collect();
        let width = names
            .iter()
            .map(|name| name.chars().count().max(9))
            .filter(|width| *width <= 64)
            .max()
            .unwrap_or(9);
        for (value, name) in key.values.iter().zip(&names) {
            writeln!(
                out,
                "    {name:<width$}  {:<14} {}",
                value.value_type.name(),
                one_line(&value.display_data())
            )?;
            if !value.past_end.is_empty() {
                let shown: Vec<String> = value
                    .past_end
                    .iter()
                    .map(|text| format!("{:?}", one_line(text)))
                    .collect();
                writeln!(
                    out,
                    "    {:<width$}  stored after the empty string that ends the list, which Windows does not read: {}",
                    "",
                    shown.join(", ")
                )?;
            }
        }
        for subkey in &key.subkeys {
            writeln!(out, "    [{}]", one_line(subkey))?;
        }
        for item in &key.disagreements {
            writeln!(
                out,
                "    differs: {} is {} in {} (read) and {} in {}",
                one_line(item.shown_name()),
                one_line(&item.read),
                one_line(&item.read_file),
                one_line(&item.other),
                one_line(&item.other_file)
            )?;
        }
    }
    if let Some(error) = &key.error {
        writeln!(out, "    warning: {}", one_line(&error.message))?;
    }
    Ok(())
}
