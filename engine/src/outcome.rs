//! How each rule × host evaluation ended — findings, passed, not applicable, not checked or
//! rule error — and whether a host has the evidence a rule needs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::host_api::HostFacts;
use crate::rule::{HiveNeed, Needs};

/// How one rule × host evaluation ended. Every rule run on a host ends in exactly one.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
    Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule looked and reported findings.
    Findings,
    /// The rule looked and found nothing wrong.
    #[default]
    Passed,
    /// The rule does not apply: the evidence it needs is absent (a hive, key, service or log),
    /// or the setting does not exist on this build. The reason says which.
    NotApplicable,
    /// The rule could not look: evidence it read is damaged or unreadable. The reason names
    /// the file.
    NotChecked,
    /// The rule failed while running (see `rule_errors`).
    Error,
}

impl Outcome {
    /// The name used in reports: `findings`, `passed`, `not_applicable`, `not_checked`, `error`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Findings => "findings",
            Outcome::Passed => "passed",
            Outcome::NotApplicable => "not_applicable",
            Outcome::NotChecked => "not_checked",
            Outcome::Error => "error",
        }
    }

    /// Parses a name as [`Outcome::name`] writes it (`-` and `_` alike, any case).
    pub fn parse(text: &str) -> Option<Outcome> {
        let wanted = text.trim().replace('-', "_").to_lowercase();
        [
            Outcome::Findings,
            Outcome::Passed,
            Outcome::NotApplicable,
            Outcome::NotChecked,
            Outcome::Error,
        ]
        .into_iter()
        .find(|outcome| outcome.name() == wanted)
    }

    /// Whether the rule really judged the host: findings or passed.
    pub fn is_checked(self) -> bool {
        matches!(self, Outcome::Findings | Outcome::Passed)
    }
}

/// One rule's outcome on one host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct RuleOutcome {
    /// The rule id.
    pub rule: String,
    /// The host.
    pub host: String,
    /// How the evaluation ended.
    pub outcome: Outcome,
    /// Why the rule did not apply, could not check, or failed; for a passed verdict marked
    /// `inferred`, the assumption it rests on. `None` when it looked and assumed nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many findings it reported on the host.
    pub findings: usize,
    /// A passed verdict that rests on an assumption: the rule read a hive that was read dirty,
    /// without the transaction logs that hold its latest writes (the reason names it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub inferred: bool,
}

/// For `skip_serializing_if`: a flag left out of the JSON when false.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// The reason of a passed verdict that read `hive`, a hive read dirty with no transaction log
/// that could bring it up to date.
pub(crate) fn passed_on_dirty_hive(hive: &str) -> String {
    format!(
        "inferred: it read {hive}, a hive read dirty with no transaction log that could bring it up to date, so the latest changes to the settings it judged may be missing"
    )
}

/// Why a passed verdict that read a differencing hive is inferred.
pub(crate) fn passed_on_layer_hive(hive: &str) -> String {
    format!(
        "inferred: it read {hive}, a differencing hive that holds only what its layer changed, so a layer above it may set the settings it judged differently"
    )
}

/// Why a passed verdict that read values other sources of the host hold differently is
/// inferred, after its `inferred: ` (or a dirty hive's reason): each value with every other
/// copy (the first few values, then a count); `None` when there are none.
pub(crate) fn disputed_values_read(
    disagreements: &[hiveward_collectors::SourceDisagreement],
) -> Option<String> {
    // Each disputed value once, with every other copy of it, in the order they were read.
    let mut values: Vec<(&hiveward_collectors::SourceDisagreement, Vec<String>)> = Vec::new();
    for item in disagreements {
        let other = format!("{} holds {}", item.other_file, item.other);
        match values.iter_mut().find(|(read, _)| {
            read.key.eq_ignore_ascii_case(&item.key)
                && read.value.eq_ignore_ascii_case(&item.value)
                && read.read_file == item.read_file
        }) {
            Some((_, others)) => others.push(other),
            None => values.push((item, vec![other])),
        }
    }
    let mut read: Vec<String> = values
        .iter()
        .take(DISPUTED_VALUES_NAMED)
        .map(|(item, others)| {
            format!(
                "it read {} = {} from {}, but {}",
                item.value_path(),
                item.read,
                item.read_file,
                others.join(" and "),
            )
        })
        .collect();
    if read.is_empty() {
        return None;
    }
    if values.len() > DISPUTED_VALUES_NAMED {
        read.push(format!(
            "{} more value(s) held differently",
            values.len() - DISPUTED_VALUES_NAMED
        ));
    }
    Some(format!(
        "{}: which copy is current cannot be told",
        read.join("; ")
    ))
}

/// How many disputed values an inferred pass names before it counts the rest.
const DISPUTED_VALUES_NAMED: usize = 3;

/// A host's coverage: how many of the rules run could really look at it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Coverage {
    /// Rules run on the host.
    pub rules: usize,
    /// Rules that judged it: findings plus passed.
    pub checked: usize,
    /// Rules that reported findings.
    pub findings: usize,
    /// Rules that found nothing wrong.
    pub passed: usize,
    /// Of those, rules whose verdict is inferred: they read a hive read dirty, with no usable
    /// transaction log. Left out of the JSON when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub passed_inferred: usize,
    /// Rules that do not apply, for want of evidence or of the setting.
    pub not_applicable: usize,
    /// Rules stopped by damaged or unreadable evidence.
    pub not_checked: usize,
    /// Rules that failed.
    pub errors: usize,
}

/// For `skip_serializing_if`: a count left out of the JSON when zero.
pub(crate) fn is_zero(value: &usize) -> bool {
    *value == 0
}

impl Coverage {
    /// Counts `outcomes`.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a RuleOutcome>) -> Coverage {
        let mut coverage = Coverage::default();
        for outcome in outcomes {
            coverage.add(outcome.outcome);
            if outcome.inferred && outcome.outcome == Outcome::Passed {
                coverage.passed_inferred += 1;
            }
        }
        coverage
    }

    /// Counts one more outcome.
    pub fn add(&mut self, outcome: Outcome) {
        self.rules += 1;
        match outcome {
            Outcome::Findings => self.findings += 1,
            Outcome::Passed => self.passed += 1,
            Outcome::NotApplicable => self.not_applicable += 1,
            Outcome::NotChecked => self.not_checked += 1,
            Outcome::Error => self.errors += 1,
        }
        self.checked = self.findings + self.passed;
    }
}

pub use crate::not_applicable::{InferredPass, NotApplicable};

/// Why a host does not meet `needs`: `Ok(None)` when it does, `Ok(Some(reason))` when evidence
/// is missing, `Err(message)` when a key could not be read because the evidence is damaged.
pub(crate) fn unmet_needs(needs: &Needs, host: &HostFacts) -> Result<Option<String>, String> {
    let mut missing: Vec<String> = Vec::new();
    let absent_hives: Vec<HiveNeed> = needs
        .hives
        .iter()
        .copied()
        .filter(|hive| !host.has_hive(hive.name()))
        .collect();
    for hive in &absent_hives {
        missing.push(format!("{} hive absent", hive_label(*hive)));
    }
    for key in &needs.keys {
        let exists = host
            .registry
            .key_exists(key)
            .map_err(|error| format!("cannot read {key}: {error}"))?;
        // A key under a hive that is absent altogether is already said once.
        let hive_said = key_hive(key).is_some_and(|hive| absent_hives.contains(&hive));
        if !exists && !hive_said {
            missing.push(format!("key {key} absent"));
        }
    }
    if needs.hives.is_empty() && needs.keys.is_empty() && !needs.events.is_empty() {
        let mut channels: Vec<&str> = Vec::new();
        for event in &needs.events {
            if !channels
                .iter()
                .any(|known| known.eq_ignore_ascii_case(&event.channel))
            {
                channels.push(&event.channel);
            }
        }
        if !channels.iter().any(|channel| host.has_log(channel)) {
            missing.push(format!("no {} log", channels.join(" or ")));
        }
    }
    if !missing.is_empty() {
        return Ok(Some(missing.join("; ")));
    }
    if needs.any.is_empty() {
        return Ok(None);
    }
    let mut reasons = Vec::new();
    for alternative in &needs.any {
        match unmet_needs(alternative, host)? {
            None => return Ok(None),
            // Alternatives that lack the same thing ("SOFTWARE hive absent") say it once.
            Some(reason) if !reasons.contains(&reason) => reasons.push(reason),
            Some(_) => {}
        }
    }
    Ok(Some(reasons.join(", and ")))
}

fn hive_label(hive: HiveNeed) -> &'static str {
    match hive {
        HiveNeed::Hkcu => "HKCU (NTUSER.DAT or HKCU\\Software)",
        other => other.name(),
    }
}

/// The hive a key path written as rules write it lives in.
fn key_hive(key: &str) -> Option<HiveNeed> {
    let upper = key.to_ascii_uppercase();
    if upper.starts_with(r"HKLM\SYSTEM") {
        Some(HiveNeed::System)
    } else if upper.starts_with(r"HKLM\SOFTWARE") {
        Some(HiveNeed::Software)
    } else if upper.starts_with("HKCU") {
        Some(HiveNeed::Hkcu)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hiveward_collectors::SourceDisagreement;

    #[test]
    fn outcome_names_round_trip() {
        for outcome in [
            Outcome::Findings,
            Outcome::Passed,
            Outcome::NotApplicable,
            Outcome::NotChecked,
            Outcome::Error,
        ] {
            assert_eq!(Outcome::parse(outcome.name()), Some(outcome));
        }
        assert_eq!(
            Outcome::parse("Not-Applicable"),
            Some(Outcome::NotApplicable)
        );
        assert_eq!(Outcome::parse("clean"), None);
    }

    fn disputed(value: &str, read: &str, other_file: &str, other: &str) -> SourceDisagreement {
        SourceDisagreement {
            key: r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters".into(),
            value: value.into(),
            read_file: "FS1/SYSTEM".into(),
            read: read.into(),
            other_file: other_file.into(),
            other: other.into(),
        }
    }

    /// The reason a pass that read `disagreements` (and no dirty hive) gives.
    fn passed_on_disagreements(disagreements: &[SourceDisagreement]) -> Option<String> {
        crate::host_api::InferredReads {
            doubtful_hive: None,
            disagreements: disagreements.to_vec(),
        }
        .reason()
    }

    #[test]
    fn an_inferred_pass_names_every_other_copy_of_each_disputed_value() {
        assert_eq!(passed_on_disagreements(&[]), None);
        let key = r"HKLM\SYSTEM\ControlSet001\Services\LanmanServer\Parameters";
        // One value three sources hold differently: both other copies, in one clause.
        let reason = passed_on_disagreements(&[
            disputed(
                "RequireSecuritySignature",
                "0 (REG_DWORD)",
                "FS1/a.reg",
                "1 (REG_DWORD)",
            ),
            disputed(
                "requiresecuritysignature",
                "0 (REG_DWORD)",
                "FS1/b.reg",
                "2 (REG_DWORD)",
            ),
        ]);
        assert_eq!(
            reason.as_deref(),
            Some(
                format!(
                    "inferred: it read {key}\\RequireSecuritySignature = 0 (REG_DWORD) from FS1/SYSTEM, \
                     but FS1/a.reg holds 1 (REG_DWORD) and FS1/b.reg holds 2 (REG_DWORD): which copy \
                     is current cannot be told"
                )
                .as_str()
            )
        );
        // Past three values, the rest are counted.
        let many: Vec<SourceDisagreement> = ["A", "B", "C", "D", "E"]
            .iter()
            .map(|name| disputed(name, "0 (REG_DWORD)", "FS1/a.reg", "absent"))
            .collect();
        let reason = passed_on_disagreements(&many).unwrap();
        assert_eq!(reason.matches("it read ").count(), 3, "{reason}");
        assert!(
            reason.ends_with(
                "; 2 more value(s) held differently: which copy is current cannot be told"
            ),
            "{reason}"
        );
    }

    #[test]
    fn a_pass_on_a_dirty_hive_and_a_disputed_value_names_both() {
        let mut reads = crate::host_api::InferredReads::default();
        assert_eq!(reads.reason(), None);
        reads.disagreements = vec![disputed(
            "Size",
            "1 (REG_DWORD)",
            "FS1/a.reg",
            "3 (REG_DWORD)",
        )];
        let disputed_only = reads.reason().unwrap();
        assert!(
            disputed_only.starts_with("inferred: it read HKLM"),
            "{disputed_only}"
        );
        reads.doubtful_hive = Some(passed_on_dirty_hive("FS1/SYSTEM"));
        let both = reads.reason().unwrap();
        assert!(
            both.starts_with(&passed_on_dirty_hive("FS1/SYSTEM")),
            "{both}"
        );
        assert!(
            both.ends_with("; and it read HKLM\\SYSTEM\\ControlSet001\\Services\\LanmanServer\\Parameters\\Size = 1 (REG_DWORD) from FS1/SYSTEM, but FS1/a.reg holds 3 (REG_DWORD): which copy is current cannot be told"),
            "{both}"
        );
    }

    /// A host with no evidence at all.
    fn empty_host() -> HostFacts {
        HostFacts {
            name: "EMPTY".to_string(),
            registry: hiveward_collectors::HostRegistry::new(),
            os: None,
            hotfixes: Default::default(),
            files: Vec::new(),
            events: Vec::new(),
            log_channels: Vec::new(),
            memo: Default::default(),
        }
    }

    #[test]
    fn a_key_under_an_absent_hive_is_not_named_again() {
        let host = empty_host();
        let needs = Needs {
            hives: vec![HiveNeed::System],
            keys: vec![
                r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters".to_string(),
                r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion".to_string(),
            ],
            ..Needs::default()
        };
        assert_eq!(
            unmet_needs(&needs, &host),
            Ok(Some(
                r"SYSTEM hive absent; key HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion absent"
                    .to_string()
            ))
        );
    }

    #[test]
    fn alternatives_that_lack_the_same_hive_name_it_once() {
        let host = empty_host();
        let software = |key: &str| Needs {
            hives: vec![HiveNeed::Software],
            keys: vec![key.to_string()],
            ..Needs::default()
        };
        let needs = Needs {
            any: vec![
                software(r"HKLM\SOFTWARE\Microsoft\Updates"),
                software(r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Hotfix"),
                Needs {
                    hives: vec![HiveNeed::System],
                    ..Needs::default()
                },
            ],
            ..Needs::default()
        };
        assert_eq!(
            unmet_needs(&needs, &host),
            Ok(Some(
                "SOFTWARE hive absent, and SYSTEM hive absent".to_string()
            ))
        );
    }

    #[test]
    fn coverage_counts_only_findings_and_passed_as_checked() {
        let mut coverage = Coverage::default();
        for outcome in [
            Outcome::Findings,
            Outcome::Passed,
            Outcome::NotApplicable,
            Outcome::NotChecked,
            Outcome::Error,
        ] {
            coverage.add(outcome);
        }
        assert_eq!(coverage.rules, 5);
        assert_eq!(coverage.checked, 2);
        assert_eq!(coverage.not_applicable, 1);
    }
}
