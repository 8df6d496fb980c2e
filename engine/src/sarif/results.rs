//! One finding as a SARIF result: its physical location (the evidence file), its logical
//! locations (registry values, event channels, the host) and its fingerprint.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    Location, LogicalLocation, PhysicalLocation, Region, Result as SarifResult,
    Suppression as SarifSuppression,
};

use super::descriptors::sentence;
use super::paths::PathMapper;
use super::{bag, result_level, text_message, Blank};
use crate::finding::{Finding, SuppressionKind};

pub(super) fn finding_result(
    finding: &Finding,
    first_files: &BTreeMap<&str, &str>,
    first_input: Option<&str>,
    rule_index: usize,
    paths: &PathMapper,
) -> SarifResult {
    let file = finding
        .evidence
        .iter()
        .find_map(|evidence| evidence.file.clone())
        .or_else(|| {
            first_files
                .get(finding.host.as_str())
                .map(|path| path.to_string())
        })
        .or_else(|| first_input.map(str::to_string));
    let evidence: Vec<Value> = finding
        .evidence
        .iter()
        .map(|evidence| {
            let mut value = serde_json::to_value(evidence).unwrap_or(Value::Null);
            if let Some(file) = evidence.file.as_deref() {
                value["file"] = Value::from(paths.display_path(file));
            }
            if !evidence.files.is_empty() {
                value["files"] = Value::from(
                    evidence
                        .files
                        .iter()
                        .map(|file| paths.display_path(file))
                        .collect::<Vec<_>>(),
                );
            }
            value
        })
        .collect();
    // Every other evidence file (event records from several logs, values from several hives)
    // is a related location, so that no file the finding rests on goes uncited.
    let mut others: Vec<String> = Vec::new();
    for evidence in &finding.evidence {
        for other in evidence.file.iter().chain(&evidence.files) {
            if Some(other) != file.as_ref() && !others.contains(other) {
                others.push(other.clone());
            }
        }
    }
    let related: Vec<Location> = others
        .iter()
        .enumerate()
        .map(|(index, other)| Location {
            id: Some(index as i64 + 1),
            physical_location: Some(PhysicalLocation {
                artifact_location: Some(paths.artifact_location(other)),
                ..Default::default()
            }),
            message: Some(text_message("Other evidence of this finding.".to_string())),
            ..Default::default()
        })
        .collect();
    let location = Location {
        physical_location: file.map(|file| PhysicalLocation {
            artifact_location: Some(paths.artifact_location(&file)),
            region: Some(Region {
                start_line: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        }),
        logical_locations: Some(logical_locations(finding, &evidence)),
        ..Default::default()
    };
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(
        "primaryLocationLineHash".to_string(),
        finding.fingerprint.clone(),
    );
    let properties = bag([
        ("host", json!(finding.host)),
        ("inferred", json!(finding.inferred)),
        ("severity", json!(finding.severity.name())),
        ("fix", json!(finding.fix)),
        ("evidence", Value::Array(evidence)),
    ]);
    let suppressions = finding.suppression.as_ref().map(|suppression| {
        let mut properties = bag([(
            "kind",
            json!(match suppression.kind {
                SuppressionKind::Waiver => "waiver",
                SuppressionKind::Baseline => "baseline",
            }),
        )]);
        if let Some(owner) = &suppression.owner {
            properties
                .additional_properties
                .insert("owner".to_string(), json!(owner));
        }
        if let Some(expires) = &suppression.expires {
            properties
                .additional_properties
                .insert("expires".to_string(), json!(expires));
        }
        vec![SarifSuppression {
            kind: json!("external"),
            status: Some(json!("accepted")),
            justification: Some(suppression.justification.clone()),
            properties: Some(properties),
            ..Blank::blank()
        }]
    });
    SarifResult {
        rule_id: Some(finding.rule.clone()),
        rule_index: Some(rule_index as i64),
        level: Some(result_level(finding.severity)),
        message: text_message(sentence(&finding.message)),
        locations: Some(vec![location]),
        related_locations: (!related.is_empty()).then_some(related),
        partial_fingerprints: Some(fingerprints),
        properties: Some(properties),
        suppressions,
        ..Blank::blank()
    }
}

/// The registry values and keys, event channels and records, and the host of a finding.
/// `evidence` is the finding's evidence as JSON, so that event fields are read by name.
pub(super) fn logical_locations(finding: &Finding, evidence: &[Value]) -> Vec<LogicalLocation> {
    let mut locations: Vec<LogicalLocation> = Vec::new();
    let mut push = |location: LogicalLocation| {
        if !locations.iter().any(|known| {
            known.fully_qualified_name == location.fully_qualified_name
                && known.kind == location.kind
        }) {
            locations.push(location);
        }
    };
    for (item, json) in finding.evidence.iter().zip(evidence) {
        match item.kind.as_str() {
            "registry" => {
                let Some(key) = item.resolved_path.as_deref().or(item.path.as_deref()) else {
                    continue;
                };
                match item.value_name.as_deref() {
                    Some(value) => {
                        let value = if value.is_empty() { "(Default)" } else { value };
                        push(LogicalLocation {
                            name: Some(value.to_string()),
                            fully_qualified_name: Some(format!("{key}\\{value}")),
                            kind: Some("registryValue".to_string()),
                            ..Default::default()
                        });
                    }
                    None => push(LogicalLocation {
                        name: Some(key.rsplit('\\').next().unwrap_or(key).to_string()),
                        fully_qualified_name: Some(key.to_string()),
                        kind: Some("object".to_string()),
                        ..Default::default()
                    }),
                }
            }
            "event" => {
                let channel = json
                    .get("channel")
                    .and_then(Value::as_str)
                    .or(item.path.as_deref())
                    .unwrap_or_default();
                if channel.is_empty() {
                    continue;
                }
                let records: Vec<String> = json
                    .get("record_ids")
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().map(|id| id.to_string()).collect())
                    .unwrap_or_default();
                let qualified = if records.is_empty() {
                    channel.to_string()
                } else {
                    format!("{channel} record {}", records.join(", "))
                };
                push(LogicalLocation {
                    name: Some(channel.to_string()),
                    fully_qualified_name: Some(qualified),
                    kind: Some("object".to_string()),
                    ..Default::default()
                });
            }
            _ => {}
        }
    }
    push(LogicalLocation {
        name: Some(finding.host.clone()),
        fully_qualified_name: Some(finding.host.clone()),
        kind: Some("host".to_string()),
        ..Default::default()
    });
    locations
}
