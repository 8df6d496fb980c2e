//! Findings: what a rule reports for a host, with evidence, filled-in fix guidance and a stable
//! fingerprint.

use std::collections::BTreeMap;

use rhai::Dynamic;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::budget::{items_cut_marker, Budget};
use crate::rule::{RuleMeta, Severity};

/// One piece of evidence behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// `registry`, `event` or `note`.
    pub kind: String,
    /// The registry path as the rule wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The path it was read at, with `CurrentControlSet` resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_path: Option<String>,
    /// The value name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    /// The value as found; absent when the value is not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub observed: Option<JsonValue>,
    /// The registry type as found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_type: Option<String>,
    /// What the rule expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub expected: Option<JsonValue>,
    /// The type the rule expects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_type: Option<String>,
    /// Whether the value was absent and the OS default was used instead.
    pub default_applied: bool,
    /// The value the rule judged: the observed value, or the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub effective: Option<JsonValue>,
    /// The evidence file (the first, when the evidence comes from several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Every evidence file, sorted, when the evidence comes from more than one (event records
    /// from several logs).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub files: Vec<String>,
    /// Free text, for `note` evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The event channel, for `event` evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The event record ids, for `event` evidence.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub record_ids: Vec<u64>,
    /// How many events, for `event` evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The first event's time (RFC 3339 UTC), for `event` evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_time: Option<String>,
    /// The last event's time (RFC 3339 UTC), for `event` evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_time: Option<String>,
    /// The key's LastWriteTime (RFC 3339 UTC), for `registry` evidence about a key, such as a
    /// `MountPoints2` share key whose last write is the share's last use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_written: Option<String>,
}

/// A JSON value with a total order, so that evidence sorts deterministically.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonValue(pub serde_json::Value);

impl PartialOrd for JsonValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for JsonValue {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

/// Why a finding is accepted rather than failing the run.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionKind {
    /// A waiver from `--waivers FILE` matched the finding.
    Waiver,
    /// The finding's fingerprint is in the `--baseline FILE`.
    Baseline,
}

/// A finding that stays in the report but does not fail the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Suppression {
    /// Waiver or baseline.
    pub kind: SuppressionKind,
    /// Why it is accepted.
    pub justification: String,
    /// Who accepted it, when the waiver says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When the waiver stops applying (YYYY-MM-DD), when it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// What summaries count a finding by: its rule, host, severity and whether it is waived or
/// baselined, read back without its message, evidence and fix text (most of its size).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub(crate) struct FindingHead {
    /// The rule id.
    pub rule: String,
    /// The host.
    pub host: String,
    /// The severity.
    pub severity: Severity,
    /// How the finding is accepted, if it is.
    #[serde(default, deserialize_with = "suppression_kind")]
    pub suppression: Option<SuppressionKind>,
}

impl FindingHead {
    /// The head of `finding`.
    pub(crate) fn of(finding: &Finding) -> FindingHead {
        FindingHead {
            rule: finding.rule.clone(),
            host: finding.host.clone(),
            severity: finding.severity,
            suppression: finding
                .suppression
                .as_ref()
                .map(|suppression| suppression.kind),
        }
    }
}

/// The `kind` of a finding's `suppression`, the rest of it skipped.
fn suppression_kind<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SuppressionKind>, D::Error> {
    #[derive(Deserialize)]
    struct KindOnly {
        kind: SuppressionKind,
    }
    Ok(Option::<KindOnly>::deserialize(deserializer)?.map(|only| only.kind))
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The rule id.
    pub rule: String,
    /// The rule's pack.
    pub pack: String,
    /// The severity.
    pub severity: Severity,
    /// The host.
    pub host: String,
    /// The rule title.
    pub title: String,
    /// The message, with the real values filled in.
    pub message: String,
    /// Fix guidance in Markdown, with the concrete values filled in.
    pub fix: String,
    /// The values filled into the fix guidance.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub fix_values: BTreeMap<String, JsonValue>,
    /// The evidence.
    pub evidence: Vec<Evidence>,
    /// Whether the finding rests on an unconfirmed fact or an assumption.
    pub inferred: bool,
    /// A stable identity from the rule, the host and the evidence's identity (never its text,
    /// values or time): the same problem on the same host keeps the same fingerprint.
    pub fingerprint: String,
    /// Set when a waiver or the baseline accepts the finding; it then never fails the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppression: Option<Suppression>,
}

/// `value` as JSON, cut to what `budget` allows (converted as [`to_json`] does when it fits).
fn json_within(value: &Dynamic, budget: &mut Budget) -> Option<JsonValue> {
    budget
        .json(value, |value| to_json(value).map(|json| json.0))
        .map(JsonValue)
}

fn to_json(value: &Dynamic) -> Option<JsonValue> {
    if value.is_unit() {
        return None;
    }
    if value.is_blob() {
        let bytes = value.clone().cast::<rhai::Blob>();
        return Some(JsonValue(serde_json::Value::String(
            hiveward_collectors::to_hex(&bytes),
        )));
    }
    rhai::serde::from_dynamic::<serde_json::Value>(value)
        .ok()
        .map(JsonValue)
}

fn text_field(map: &rhai::Map, key: &str, budget: &mut Budget) -> Result<Option<String>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(value) if value.is_unit() => Ok(None),
        Some(value) => match value.read_lock::<rhai::ImmutableString>() {
            Some(text) => Ok(Some(budget.text(text.as_str()))),
            None => Err(format!(
                "`{key}` must be a string, not {}",
                value.type_name()
            )),
        },
    }
}

/// An event record id as a rule hands it back: an integer of 0 or more, or the decimal text
/// `event.record_id` gives for ids beyond the integer range.
fn record_id(value: &Dynamic) -> Option<u64> {
    if let Ok(id) = value.as_int() {
        return u64::try_from(id).ok();
    }
    if let Some(id) = value.read_lock::<u64>() {
        return Some(*id);
    }
    let text = value.read_lock::<rhai::ImmutableString>()?;
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Evidence {
    fn from_dynamic(value: &Dynamic, budget: &mut Budget) -> Result<Evidence, String> {
        // Every item takes room, so that thousands of empty ones are cut too.
        budget.charge(16);
        if let Some(text) = value.read_lock::<rhai::ImmutableString>() {
            return Ok(Evidence::note(budget.text(text.as_str())));
        }
        let Some(map) = value.read_lock::<rhai::Map>() else {
            return Err(format!(
                "evidence items must be maps or strings, not {}",
                value.type_name()
            ));
        };
        const KNOWN: [&str; 20] = [
            "last_written",
            "files",
            "channel",
            "record_ids",
            "count",
            "first_time",
            "last_time",
            "kind",
            "path",
            "resolved_path",
            "value_name",
            "observed",
            "observed_type",
            "expected",
            "expected_type",
            "default_applied",
            "value",
            "file",
            "note",
            "present",
        ];
        if let Some(unknown) = map.keys().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(format!(
                "unknown evidence field `{unknown}` (known: {})",
                KNOWN.join(", ")
            ));
        }
        Ok(Evidence {
            kind: text_field(&map, "kind", budget)?.unwrap_or_else(|| "note".to_string()),
            path: text_field(&map, "path", budget)?,
            resolved_path: text_field(&map, "resolved_path", budget)?,
            value_name: text_field(&map, "value_name", budget)?,
            observed: map
                .get("observed")
                .and_then(|value| json_within(value, budget)),
            observed_type: text_field(&map, "observed_type", budget)?,
            expected: map
                .get("expected")
                .and_then(|value| json_within(value, budget)),
            expected_type: text_field(&map, "expected_type", budget)?,
            default_applied: map
                .get("default_applied")
                .and_then(|value| value.as_bool().ok())
                .unwrap_or(false),
            effective: map
                .get("value")
                .and_then(|value| json_within(value, budget)),
            file: text_field(&map, "file", budget)?,
            files: match map.get("files") {
                None => Vec::new(),
                Some(files) => {
                    let files = files
                        .read_lock::<rhai::Array>()
                        .ok_or_else(|| "`files` must be an array of strings".to_string())?;
                    let mut kept = Vec::new();
                    for (index, file) in files.iter().enumerate() {
                        if budget.exhausted() {
                            budget.mark_cut();
                            kept.push(items_cut_marker(files.len() - index));
                            break;
                        }
                        let file = file
                            .read_lock::<rhai::ImmutableString>()
                            .ok_or_else(|| "`files` must be an array of strings".to_string())?;
                        kept.push(budget.text(file.as_str()));
                    }
                    kept
                }
            },
            note: text_field(&map, "note", budget)?,
            channel: text_field(&map, "channel", budget)?,
            record_ids: match map.get("record_ids") {
                None => Vec::new(),
                Some(ids) => {
                    let wrong = || {
                        "`record_ids` must be an array of record ids (integers of 0 or more, as event.record_id gives them)".to_string()
                    };
                    let ids = ids.read_lock::<rhai::Array>().ok_or_else(wrong)?;
                    let mut kept = Vec::new();
                    for id in ids.iter() {
                        let id = record_id(id).ok_or_else(wrong)?;
                        // Ids past the budget are left out; `count` still says how many.
                        if budget.exhausted() {
                            budget.mark_cut();
                            continue;
                        }
                        budget.charge(21);
                        kept.push(id);
                    }
                    kept
                }
            },
            count: map
                .get("count")
                .and_then(|count| count.as_int().ok())
                .and_then(|count| u64::try_from(count).ok()),
            first_time: text_field(&map, "first_time", budget)?,
            last_time: text_field(&map, "last_time", budget)?,
            last_written: text_field(&map, "last_written", budget)?,
        })
    }

    /// One line saying what the evidence shows, for text and JUnit reports: the registry value
    /// with what was found and expected, the events with their count, record ids and times, or
    /// the note.
    pub fn summary(&self) -> String {
        let show = |value: &Option<JsonValue>| match value {
            None => "absent".to_string(),
            Some(value) => match &value.0 {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            },
        };
        match self.kind.as_str() {
            "registry" => {
                let path = self
                    .resolved_path
                    .as_deref()
                    .or(self.path.as_deref())
                    .unwrap_or_default();
                let Some(name) = self.value_name.as_deref() else {
                    // Evidence about a key rather than one of its values.
                    let written = self
                        .last_written
                        .as_deref()
                        .map(|time| format!(", last written {time}"))
                        .unwrap_or_default();
                    let note = self
                        .note
                        .as_deref()
                        .map(|note| format!(": {note}"))
                        .unwrap_or_default();
                    return format!("key {path}{written}{note}");
                };
                let observed = if self.default_applied {
                    format!("not set, default {}", show(&self.effective))
                } else {
                    match (&self.observed, self.observed_type.as_deref()) {
                        (None, _) => "absent".to_string(),
                        (Some(_), Some(kind)) => format!("{} ({kind})", show(&self.observed)),
                        (Some(_), None) => show(&self.observed),
                    }
                };
                let expected = self
                    .expected
                    .as_ref()
                    .map(|_| format!("; expected {}", show(&self.expected)))
                    .unwrap_or_default();
                format!("{path}\\{name} = {observed}{expected}")
            }
            "event" => {
                let ids: Vec<String> = self.record_ids.iter().map(u64::to_string).collect();
                format!(
                    "{}: {} event(s), record(s) {}, {} to {}",
                    self.channel.as_deref().unwrap_or_default(),
                    self.count.unwrap_or(self.record_ids.len() as u64),
                    ids.join(", "),
                    self.first_time.as_deref().unwrap_or("?"),
                    self.last_time.as_deref().unwrap_or("?")
                )
            }
            _ => self.note.clone().unwrap_or_default(),
        }
    }

    /// Free-text evidence.
    pub fn note(text: impl Into<String>) -> Evidence {
        Evidence {
            kind: "note".to_string(),
            path: None,
            resolved_path: None,
            value_name: None,
            observed: None,
            observed_type: None,
            expected: None,
            expected_type: None,
            default_applied: false,
            effective: None,
            file: None,
            files: Vec::new(),
            note: Some(text.into()),
            channel: None,
            record_ids: Vec::new(),
            count: None,
            first_time: None,
            last_time: None,
            last_written: None,
        }
    }

    /// What identifies this evidence across runs: where it was read, never what it said.
    fn identity(&self) -> String {
        match self.kind.as_str() {
            "registry" => format!(
                "registry|{}|{}",
                self.resolved_path
                    .as_deref()
                    .or(self.path.as_deref())
                    .unwrap_or_default()
                    .to_lowercase(),
                self.value_name
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
            ),
            "event" => format!(
                "event|{}",
                self.channel.as_deref().unwrap_or_default().to_lowercase()
            ),
            _ => String::new(),
        }
    }
}

impl Finding {
    /// Builds a finding from what a rule returned: a map with `message` and optionally
    /// `evidence`, `fix_values`, `inferred`, `key` (an extra identity for the fingerprint, such
    /// as an alias name) and, for fleet rules, `host`. Its text is bounded by the default
    /// [`Limits::max_finding_bytes`](crate::Limits::max_finding_bytes).
    pub fn from_dynamic(
        meta: &RuleMeta,
        host: Option<&str>,
        value: &Dynamic,
    ) -> Result<Finding, String> {
        Finding::from_dynamic_within(
            meta,
            host,
            value,
            crate::sandbox::Limits::default().max_finding_bytes,
        )
    }

    /// [`Finding::from_dynamic`] with at most `max_bytes` of text in the message, evidence and
    /// fix values together (no one string over a quarter of it), and at most `max_bytes` in the
    /// filled-in fix guidance. What does not fit is cut with a visible `…[N bytes cut]` marker,
    /// and a note evidence item says that the finding was cut. A finding within the limits is
    /// built exactly as it always was.
    pub fn from_dynamic_within(
        meta: &RuleMeta,
        host: Option<&str>,
        value: &Dynamic,
        max_bytes: usize,
    ) -> Result<Finding, String> {
        Finding::build(meta, host, value, max_bytes).map(|(finding, _)| finding)
    }

    /// The finding and the bytes of text it holds.
    pub(crate) fn build(
        meta: &RuleMeta,
        host: Option<&str>,
        value: &Dynamic,
        max_bytes: usize,
    ) -> Result<(Finding, usize), String> {
        let Some(map) = value.read_lock::<rhai::Map>() else {
            return Err(format!(
                "a finding must be a map like #{{ message: \"...\" }}, not {}",
                value.type_name()
            ));
        };
        const KNOWN: [&str; 6] = [
            "message",
            "evidence",
            "fix_values",
            "inferred",
            "host",
            "key",
        ];
        if let Some(unknown) = map.keys().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(format!(
                "unknown finding field `{unknown}` (known: {})",
                KNOWN.join(", ")
            ));
        }
        let mut budget = Budget::new(max_bytes);
        // The host must name a host of the bundle and the key only feeds the fingerprint:
        // neither is cut (both are within the sandbox's string size).
        let mut whole = Budget::new(usize::MAX);
        let message = text_field(&map, "message", &mut budget)?
            .ok_or_else(|| "a finding needs a `message`".to_string())?;
        let host = match (host, text_field(&map, "host", &mut whole)?) {
            (_, Some(named)) => named,
            (Some(host), None) => host.to_string(),
            (None, None) => {
                return Err("a fleet rule's finding must name its `host`".to_string());
            }
        };
        let mut evidence = Vec::new();
        let mut left_out = 0;
        match map.get("evidence") {
            None => {}
            Some(items) if items.is_array() => {
                let items = items.read_lock::<rhai::Array>();
                let items = items.iter().flat_map(|array| array.iter());
                for item in items {
                    if budget.exhausted() {
                        left_out += 1;
                        continue;
                    }
                    evidence.push(Evidence::from_dynamic(item, &mut budget)?);
                }
            }
            Some(item) => evidence.push(Evidence::from_dynamic(item, &mut budget)?),
        }
        let mut fix_values = BTreeMap::new();
        if let Some(values) = map.get("fix_values") {
            let Some(values) = values.read_lock::<rhai::Map>() else {
                return Err("`fix_values` must be a map".to_string());
            };
            for (index, (name, value)) in values.iter().enumerate() {
                if budget.exhausted() {
                    budget.mark_cut();
                    fix_values.insert(
                        "…".to_string(),
                        JsonValue(serde_json::Value::String(items_cut_marker(
                            values.len() - index,
                        ))),
                    );
                    break;
                }
                budget.charge(4);
                let name = budget.text(name.as_str());
                fix_values.insert(
                    name,
                    json_within(value, &mut budget).unwrap_or(JsonValue(serde_json::Value::Null)),
                );
            }
        }
        let inferred = meta.inferred
            || map
                .get("inferred")
                .and_then(|value| value.as_bool().ok())
                .unwrap_or(false);
        let extra_key = text_field(&map, "key", &mut whole)?.unwrap_or_default();
        let plain_values: BTreeMap<String, serde_json::Value> = fix_values
            .iter()
            .map(|(name, value)| (name.clone(), value.0.clone()))
            .collect();
        let fingerprint = fingerprint(&meta.id, &host, &evidence, &extra_key);
        let (fix, fix_cut) = meta.render_fix_within(&plain_values, max_bytes);
        if left_out > 0 {
            budget.mark_cut();
            evidence.push(Evidence::note(format!(
                "…[{left_out} more evidence item(s) cut]"
            )));
        }
        if budget.was_cut() || fix_cut {
            evidence.push(Evidence::note(format!(
                "hiveward cut this finding to its limits: {max_bytes} bytes for the message, evidence and fix values together ({} for one text), and {max_bytes} for the fix guidance; the places marked …[cut] lost the rest",
                (max_bytes / 4).max(1)
            )));
        }
        let used = budget.used().saturating_add(fix.len());
        Ok((
            Finding {
                rule: meta.id.clone(),
                pack: meta.pack.clone(),
                severity: meta.severity,
                title: meta.title.clone(),
                fix,
                host,
                message,
                fix_values,
                evidence,
                inferred,
                fingerprint,
                suppression: None,
            },
            used,
        ))
    }
}

/// The stable fingerprint: SHA-256 over the rule id, the host name (case-folded), the identity
/// of each piece of evidence, and the rule's own key, shortened to 32 hex digits.
pub fn fingerprint(rule: &str, host: &str, evidence: &[Evidence], key: &str) -> String {
    let mut identities: Vec<String> = evidence.iter().map(Evidence::identity).collect();
    identities.sort();
    identities.dedup();
    let mut hasher = Sha256::new();
    for part in [rule.to_string(), host.to_lowercase(), key.to_lowercase()]
        .into_iter()
        .chain(identities)
    {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::Spool;

    fn finding(rule: &str, host: &str, suppression: Option<SuppressionKind>) -> Finding {
        Finding {
            rule: rule.into(),
            pack: "p".into(),
            severity: Severity::High,
            host: host.into(),
            title: "t".into(),
            message: "a message with \"quotes\" and \\ back-slashes".into(),
            fix: "fix".into(),
            fix_values: BTreeMap::from([(
                "suppression".to_string(),
                JsonValue(serde_json::json!({ "kind": "waiver" })),
            )]),
            evidence: vec![Evidence::note("a note")],
            inferred: false,
            fingerprint: "f".into(),
            suppression: suppression.map(|kind| Suppression {
                kind,
                justification: "accepted".into(),
                owner: Some("ops".into()),
                expires: None,
            }),
        }
    }

    #[test]
    fn heads_read_back_from_a_spool_are_those_of_the_findings() {
        let findings = [
            finding("HW-A", "FS01", None),
            finding("HW-B", "PC22", Some(SuppressionKind::Waiver)),
            finding("HW-C", "WKS7", Some(SuppressionKind::Baseline)),
        ];
        let expected: Vec<FindingHead> = findings.iter().map(FindingHead::of).collect();
        let spool: Spool<Finding> = Spool::new();
        for finding in &findings {
            spool.push(finding);
        }
        let decoded: Vec<FindingHead> = spool.stream_as(FindingHead::of).collect();
        assert_eq!(decoded, expected);
        // Once the findings are in memory, the heads are made from them.
        assert_eq!(spool.items().len(), 3);
        let made: Vec<FindingHead> = spool.stream_as(FindingHead::of).collect();
        assert_eq!(made, expected);
        assert_eq!(expected[1].suppression, Some(SuppressionKind::Waiver));
        assert_eq!(expected[0].suppression, None);
    }
}
