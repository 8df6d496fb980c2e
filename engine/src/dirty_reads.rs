//! Marks findings that rest on evidence whose currency is in doubt as inferred: a hive read
//! dirty, with no transaction log that could bring it up to date, or a value that two sources of
//! the host hold differently.
//!
//! A dirty hive (sequence numbers that differ, or a bad base-block checksum) that no usable
//! `.LOG1`/`.LOG2` could bring up to date is read as it is: its latest writes may be missing,
//! so a finding judged from its values rests on the assumption that they are current. Such a
//! finding is marked inferred, and its message names the file and says why. So is one judged
//! from a differencing hive (a layer of a container image): a layer above it may set the values
//! it holds differently.

use std::collections::BTreeSet;

use hiveward_collectors::{FileRecord, HiveState, SourceDisagreement, DIFFERENCING_HIVE_CODE};

use crate::finding::Finding;

/// The paths of the hives among `files` that were read dirty, as is.
pub(crate) fn dirty_hives(files: &[FileRecord]) -> impl Iterator<Item = &str> {
    files
        .iter()
        .filter(|file| matches!(file.hive_state, Some(HiveState::Dirty { .. })))
        .map(|file| file.path.as_str())
}

/// The paths of the differencing hives among `files`: layers that hold only what they changed,
/// so that a layer above them may set what was read in them differently.
pub(crate) fn layer_hives(files: &[FileRecord]) -> impl Iterator<Item = &str> {
    files
        .iter()
        .filter(|file| {
            file.notices
                .iter()
                .any(|notice| notice.code == DIFFERENCING_HIVE_CODE)
        })
        .map(|file| file.path.as_str())
}

/// Marks each finding whose evidence names one of the `dirty` hives or one of the `layers`
/// (differencing hives) as inferred, and says so in its message.
pub(crate) fn mark_findings<'a>(
    findings: &mut [Finding],
    dirty: impl IntoIterator<Item = &'a str>,
    layers: impl IntoIterator<Item = &'a str>,
) {
    if findings.is_empty() {
        return;
    }
    let dirty: BTreeSet<&str> = dirty.into_iter().collect();
    let layers: BTreeSet<&str> = layers.into_iter().collect();
    if dirty.is_empty() && layers.is_empty() {
        return;
    }
    for finding in findings {
        let named = |among: &BTreeSet<&str>| -> Vec<String> {
            let found: BTreeSet<&str> = finding
                .evidence
                .iter()
                .filter(|item| item.kind == "registry")
                .flat_map(|item| item.file.iter().chain(item.files.iter()))
                .map(String::as_str)
                .filter(|file| among.contains(file))
                .collect();
            found.into_iter().map(str::to_owned).collect()
        };
        let (dirty_named, layers_named) = (named(&dirty), named(&layers));
        let mut reasons = Vec::new();
        if !dirty_named.is_empty() {
            let (verb, subject, it, its) = if dirty_named.len() == 1 {
                ("was", "a dirty hive", "it", "its")
            } else {
                ("were", "dirty hives", "them", "their")
            };
            reasons.push(format!(
                "{} {verb} read as {subject}, with no transaction log that could bring {it} up to date, so {its} latest changes may be missing",
                dirty_named.join(", ")
            ));
        }
        if !layers_named.is_empty() {
            let (verb, subject) = if layers_named.len() == 1 {
                ("is", "a differencing hive, a layer")
            } else {
                ("are", "differencing hives, layers")
            };
            reasons.push(format!(
                "{} {verb} {subject} that holds only what it changed, so a layer above may set what was read differently",
                layers_named.join(", ")
            ));
        }
        if reasons.is_empty() {
            continue;
        }
        finding.inferred = true;
        finding.message = format!(
            "{} (Inferred: {}.)",
            finding.message.trim_end(),
            reasons.join("; "),
        );
    }
}

/// Marks each finding whose evidence cites a value where `disagreements` says reads took it,
/// while another source of the host holds it differently, as inferred, and says so in its
/// message, naming both copies.
pub(crate) fn mark_disagreeing_findings(
    findings: &mut [Finding],
    disagreements: &[SourceDisagreement],
) {
    if disagreements.is_empty() {
        return;
    }
    for finding in findings {
        let mut cited: Vec<&SourceDisagreement> = Vec::new();
        for item in finding
            .evidence
            .iter()
            .filter(|item| item.kind == "registry")
        {
            let (Some(name), Some(file)) = (&item.value_name, &item.file) else {
                continue;
            };
            let Some(key) = item.resolved_path.as_ref().or(item.path.as_ref()) else {
                continue;
            };
            for disagreement in disagreements {
                if disagreement.key.eq_ignore_ascii_case(key)
                    && disagreement.value.eq_ignore_ascii_case(name)
                    && disagreement.read_file == *file
                    && !cited.contains(&disagreement)
                {
                    cited.push(disagreement);
                }
            }
        }
        if cited.is_empty() {
            continue;
        }
        finding.inferred = true;
        let copies: Vec<String> = cited
            .iter()
            .map(|item| {
                format!(
                    "{} holds {} as {}, not {} as {}, which was read",
                    item.other_file,
                    item.value_path(),
                    item.other,
                    item.read,
                    item.read_file
                )
            })
            .collect();
        finding.message = format!(
            "{} (Inferred: {}; which copy is current cannot be told.)",
            finding.message.trim_end(),
            copies.join("; "),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Evidence;

    fn finding(evidence: Vec<Evidence>) -> Finding {
        Finding {
            rule: "R".into(),
            pack: "p".into(),
            severity: crate::rule::Severity::Medium,
            host: "H".into(),
            title: "t".into(),
            message: "SMB signing is off.".into(),
            fix: String::new(),
            fix_values: Default::default(),
            evidence,
            inferred: false,
            fingerprint: "f".into(),
            suppression: None,
        }
    }

    fn registry(file: &str) -> Evidence {
        let mut item = Evidence::note("");
        item.kind = "registry".into();
        item.note = None;
        item.file = Some(file.into());
        item
    }

    #[test]
    fn a_finding_read_from_a_dirty_hive_is_inferred_and_says_which_file() {
        let mut findings = vec![
            finding(vec![registry("a/SYSTEM")]),
            finding(vec![registry("a/SOFTWARE"), registry("b/SYSTEM")]),
        ];
        mark_findings(&mut findings, ["b/SYSTEM"], []);
        assert!(!findings[0].inferred);
        assert_eq!(findings[0].message, "SMB signing is off.");
        assert!(findings[1].inferred);
        assert_eq!(
            findings[1].message,
            "SMB signing is off. (Inferred: b/SYSTEM was read as a dirty hive, with no transaction log that could bring it up to date, so its latest changes may be missing.)"
        );
    }

    #[test]
    fn a_finding_read_from_a_differencing_hive_is_inferred_and_says_why() {
        let mut findings = vec![
            finding(vec![registry("c/SYSTEM")]),
            finding(vec![registry("b/SYSTEM"), registry("c/SYSTEM")]),
            finding(vec![registry("a/SYSTEM")]),
        ];
        mark_findings(&mut findings, ["b/SYSTEM"], ["c/SYSTEM"]);
        assert!(findings[0].inferred);
        assert_eq!(
            findings[0].message,
            "SMB signing is off. (Inferred: c/SYSTEM is a differencing hive, a layer that holds only what it changed, so a layer above may set what was read differently.)"
        );
        assert!(findings[1].inferred);
        assert_eq!(
            findings[1].message,
            "SMB signing is off. (Inferred: b/SYSTEM was read as a dirty hive, with no transaction log that could bring it up to date, so its latest changes may be missing; c/SYSTEM is a differencing hive, a layer that holds only what it changed, so a layer above may set what was read differently.)"
        );
        assert!(!findings[2].inferred);
    }

    #[test]
    fn notes_and_events_naming_a_dirty_hive_do_not_count() {
        let mut note = Evidence::note("b/SYSTEM");
        note.file = Some("b/SYSTEM".into());
        let mut findings = vec![finding(vec![note])];
        mark_findings(&mut findings, ["b/SYSTEM"], []);
        assert!(!findings[0].inferred);
    }
}
