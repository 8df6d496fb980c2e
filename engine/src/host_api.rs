//! The read-only host API rules see: `host.reg`, `reg_type`, `key_exists`, `subkeys`, `values`,
//! `setting`, `os`, `hotfix`, `events`, and `fleet.hosts` for fleet rules.

use std::sync::Arc;

use hiveward_collectors::{
    EventRecord, FileRecord, HiveKind, HostRegistry, HotfixInventory, KbStatus, OsFacts, RegData,
    RegValue,
};
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};

/// Everything a rule may read about one host.
pub struct HostFacts {
    /// The host name.
    pub name: String,
    /// Its registry.
    pub registry: HostRegistry,
    /// Its OS facts, when recorded.
    pub os: Option<OsFacts>,
    /// Its servicing packages.
    pub hotfixes: HotfixInventory,
    /// Its evidence files.
    pub files: Vec<FileRecord>,
    /// The event records read for the loaded rules, sorted by time, then record id.
    pub events: Vec<EventRecord>,
}

impl HostFacts {
    /// Whether a hive or export of `kind` is present.
    pub fn has_hive(&self, kind: &str) -> bool {
        let wanted = match kind.to_ascii_uppercase().as_str() {
            "SYSTEM" => vec![HiveKind::System],
            "SOFTWARE" => vec![HiveKind::Software],
            "HKCU" => vec![HiveKind::HkcuSoftware, HiveKind::Ntuser],
            "SAM" => vec![HiveKind::Sam],
            "SECURITY" => vec![HiveKind::Security],
            _ => return false,
        };
        let mount = match kind.to_ascii_uppercase().as_str() {
            "SYSTEM" => r"HKLM\SYSTEM",
            "SOFTWARE" => r"HKLM\SOFTWARE",
            "HKCU" => r"HKCU\Software",
            "SAM" => r"HKLM\SAM",
            _ => r"HKLM\SECURITY",
        };
        self.registry
            .hives()
            .any(|hive| wanted.contains(&hive.kind()))
            || self.registry.key_exists(mount).unwrap_or(false)
    }
}

/// The handle a rule gets as `host`: shared, never copied per evaluation.
#[derive(Clone)]
pub struct HostHandle(pub Arc<HostFacts>);

/// The handle a fleet rule gets as `fleet`.
#[derive(Clone)]
pub struct FleetHandle(pub Arc<Vec<HostHandle>>);

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn runtime(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// A registry value as a Rhai value: integers for DWORD/QWORD, strings, arrays of strings for
/// MULTI_SZ, blobs for bytes, `()` for empty.
pub fn reg_data_to_dynamic(data: &RegData) -> Dynamic {
    match data {
        RegData::Empty => Dynamic::UNIT,
        // QWORDs above i64::MAX wrap to negative numbers; registry data of that size is raw.
        RegData::Integer(value) => Dynamic::from_int(*value as i64),
        RegData::String(text) => Dynamic::from(ImmutableString::from(text.as_str())),
        RegData::MultiString(items) => Dynamic::from_array(
            items
                .iter()
                .map(|item| Dynamic::from(ImmutableString::from(item.as_str())))
                .collect(),
        ),
        RegData::Bytes(bytes) => Dynamic::from_blob(Blob::from(bytes.clone())),
    }
}

fn read_value(
    host: &HostHandle,
    path: &str,
    name: &str,
) -> RhaiResult<Option<hiveward_collectors::Located<RegValue>>> {
    host.0
        .registry
        .value(path, name)
        .map_err(|error| runtime(format!("cannot read {path}\\{name}: {error}")))
}

fn setting(host: &HostHandle, path: &str, name: &str, default: Option<Dynamic>) -> RhaiResult<Map> {
    let found = read_value(host, path, name)?;
    let mut map = Map::new();
    map.insert("kind".into(), "registry".into());
    map.insert("path".into(), path.into());
    map.insert("value_name".into(), name.into());
    match found {
        Some(found) => {
            let observed = reg_data_to_dynamic(&found.data.data);
            map.insert("present".into(), true.into());
            map.insert("resolved_path".into(), found.resolved_path.into());
            map.insert("file".into(), found.file.display().to_string().into());
            map.insert("observed_type".into(), found.data.value_type.name().into());
            map.insert("value".into(), observed.clone());
            map.insert("observed".into(), observed);
            map.insert("default_applied".into(), false.into());
        }
        None => {
            map.insert("present".into(), false.into());
            map.insert("observed".into(), Dynamic::UNIT);
            map.insert("observed_type".into(), Dynamic::UNIT);
            // Cite where the value would have been read, resolved the way a read resolves it.
            match host.0.registry.locate(path) {
                Some(place) => {
                    map.insert("resolved_path".into(), place.resolved_path.into());
                    map.insert("file".into(), place.file.display().to_string().into());
                }
                None => {
                    map.insert("resolved_path".into(), path.into());
                    map.insert("file".into(), Dynamic::UNIT);
                }
            }
            let applied = default.is_some();
            map.insert("value".into(), default.unwrap_or(Dynamic::UNIT));
            map.insert("default_applied".into(), applied.into());
        }
    }
    Ok(map)
}

fn event_to_dynamic(event: &EventRecord) -> Dynamic {
    let mut data = Map::new();
    for (name, value) in &event.data {
        data.insert(
            name.as_str().into(),
            rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT),
        );
    }
    let mut map = Map::new();
    map.insert("channel".into(), event.channel.as_str().into());
    map.insert("provider".into(), event.provider.as_str().into());
    map.insert("id".into(), Dynamic::from_int(i64::from(event.id)));
    map.insert("time".into(), event.time.as_str().into());
    map.insert(
        "record_id".into(),
        Dynamic::from_int(event.record_id as i64),
    );
    map.insert("computer".into(), event.computer.as_str().into());
    map.insert("data".into(), Dynamic::from_map(data));
    map.insert("file".into(), event.file.as_str().into());
    Dynamic::from_map(map)
}

/// Whether an event field equals a filter value: strings without regard to case, numbers as
/// numbers (a numeric string equals the same number), arrays as "any of".
fn field_matches(field: &serde_json::Value, wanted: &Dynamic) -> bool {
    if wanted.is_array() {
        return wanted
            .read_lock::<Array>()
            .is_some_and(|items| items.iter().any(|item| field_matches(field, item)));
    }
    let as_text = match field {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    if let Ok(number) = wanted.as_int() {
        return as_text.trim().parse::<i64>().ok() == Some(number)
            || field.as_i64() == Some(number);
    }
    if wanted.is_string() {
        return as_text.eq_ignore_ascii_case(&wanted.to_string());
    }
    if wanted.is_unit() {
        return field.is_null() || as_text.is_empty();
    }
    false
}

fn select_events(host: &HostHandle, filter: &Map) -> RhaiResult<Array> {
    const KNOWN: [&str; 6] = ["channel", "id", "ids", "provider", "since", "where"];
    if let Some(unknown) = filter.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(runtime(format!(
            "host.events: unknown filter key `{unknown}` (known: {})",
            KNOWN.join(", ")
        )));
    }
    let channel = filter
        .get("channel")
        .filter(|value| value.is_string())
        .map(|value| value.to_string())
        .ok_or_else(|| {
            runtime("host.events needs a filter map with a `channel` string".to_string())
        })?;
    let mut ids: Vec<i64> = Vec::new();
    if let Some(id) = filter.get("id") {
        ids.push(
            id.as_int()
                .map_err(|_| runtime("host.events: `id` must be an integer".to_string()))?,
        );
    }
    if let Some(list) = filter.get("ids") {
        let list = list.read_lock::<Array>().ok_or_else(|| {
            runtime("host.events: `ids` must be an array of integers".to_string())
        })?;
        for id in list.iter() {
            ids.push(id.as_int().map_err(|_| {
                runtime("host.events: `ids` must be an array of integers".to_string())
            })?);
        }
    }
    let provider = filter.get("provider").map(|value| value.to_string());
    let since = filter.get("since").map(|value| value.to_string());
    let conditions: Vec<(String, Dynamic)> = match filter.get("where") {
        None => Vec::new(),
        Some(value) => value
            .read_lock::<Map>()
            .ok_or_else(|| {
                runtime("host.events: `where` must be a map of field names to values".to_string())
            })?
            .iter()
            .map(|(name, value)| (name.to_string(), value.clone()))
            .collect(),
    };
    Ok(host
        .0
        .events
        .iter()
        .filter(|event| event.channel.eq_ignore_ascii_case(&channel))
        .filter(|event| ids.is_empty() || ids.contains(&i64::from(event.id)))
        .filter(|event| {
            provider
                .as_deref()
                .is_none_or(|provider| event.provider.eq_ignore_ascii_case(provider))
        })
        .filter(|event| {
            since
                .as_deref()
                .is_none_or(|since| event.time.as_str() >= since)
        })
        .filter(|event| {
            conditions.iter().all(|(name, wanted)| {
                event
                    .data
                    .iter()
                    .find(|(field, _)| field.eq_ignore_ascii_case(name))
                    .is_some_and(|(_, value)| field_matches(value, wanted))
            })
        })
        .map(event_to_dynamic)
        .collect())
}

/// Evidence citing event records: the file, channel, record ids, count, and first and last
/// times of the events given (maps as `host.events` returns them).
fn event_evidence(events: &Array) -> RhaiResult<Map> {
    let mut record_ids = Array::new();
    let mut channel = String::new();
    let mut files: Vec<String> = Vec::new();
    let mut times: Vec<String> = Vec::new();
    for event in events.iter() {
        let map = event.read_lock::<Map>().ok_or_else(|| {
            runtime("event_evidence takes the events host.events returned".to_string())
        })?;
        if channel.is_empty() {
            channel = map
                .get("channel")
                .map(|value| value.to_string())
                .unwrap_or_default();
        }
        if let Some(id) = map.get("record_id") {
            record_ids.push(id.clone());
        }
        if let Some(file) = map.get("file").map(|value| value.to_string()) {
            if !files.contains(&file) {
                files.push(file);
            }
        }
        if let Some(time) = map.get("time").map(|value| value.to_string()) {
            times.push(time);
        }
    }
    times.sort();
    let mut evidence = Map::new();
    evidence.insert("kind".into(), "event".into());
    evidence.insert("channel".into(), channel.into());
    evidence.insert("count".into(), Dynamic::from_int(events.len() as i64));
    evidence.insert("record_ids".into(), record_ids.into());
    evidence.insert(
        "first_time".into(),
        times
            .first()
            .cloned()
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT),
    );
    evidence.insert(
        "last_time".into(),
        times
            .last()
            .cloned()
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT),
    );
    evidence.insert(
        "file".into(),
        files
            .first()
            .cloned()
            .map(Dynamic::from)
            .unwrap_or(Dynamic::UNIT),
    );
    Ok(evidence)
}

/// Registers the host and fleet API on `engine`.
pub(crate) fn register_host_api(engine: &mut Engine) {
    engine
        .register_type_with_name::<HostHandle>("Host")
        .register_type_with_name::<FleetHandle>("Fleet")
        .register_get("name", |host: &mut HostHandle| -> ImmutableString {
            host.0.name.as_str().into()
        })
        .register_fn(
            "reg",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Dynamic> {
                Ok(read_value(host, path, name)?
                    .map(|found| reg_data_to_dynamic(&found.data.data))
                    .unwrap_or(Dynamic::UNIT))
            },
        )
        .register_fn(
            "reg_type",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Dynamic> {
                Ok(read_value(host, path, name)?
                    .map(|found| Dynamic::from(found.data.value_type.name()))
                    .unwrap_or(Dynamic::UNIT))
            },
        )
        .register_fn(
            "key_exists",
            |host: &mut HostHandle, path: &str| -> RhaiResult<bool> {
                host.0
                    .registry
                    .key_exists(path)
                    .map_err(|error| runtime(format!("cannot read {path}: {error}")))
            },
        )
        .register_fn(
            "subkeys",
            |host: &mut HostHandle, path: &str| -> RhaiResult<Array> {
                let found = host
                    .0
                    .registry
                    .subkeys(path)
                    .map_err(|error| runtime(format!("cannot read {path}: {error}")))?;
                Ok(found
                    .map(|found| found.data.into_iter().map(Dynamic::from).collect())
                    .unwrap_or_default())
            },
        )
        .register_fn(
            "values",
            |host: &mut HostHandle, path: &str| -> RhaiResult<Array> {
                let found = host
                    .0
                    .registry
                    .values(path)
                    .map_err(|error| runtime(format!("cannot read {path}: {error}")))?;
                Ok(found
                    .map(|found| {
                        found
                            .data
                            .iter()
                            .map(|value| {
                                let mut map = Map::new();
                                map.insert("name".into(), value.name.as_str().into());
                                map.insert("type".into(), value.value_type.name().into());
                                map.insert("data".into(), reg_data_to_dynamic(&value.data));
                                Dynamic::from_map(map)
                            })
                            .collect()
                    })
                    .unwrap_or_default())
            },
        )
        .register_fn(
            "setting",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Map> {
                setting(host, path, name, None)
            },
        )
        .register_fn(
            "setting",
            |host: &mut HostHandle, path: &str, name: &str, default: Dynamic| -> RhaiResult<Map> {
                setting(host, path, name, Some(default))
            },
        )
        .register_get("os", |host: &mut HostHandle| -> Dynamic {
            host.0
                .os
                .as_ref()
                .and_then(|os| rhai::serde::to_dynamic(os).ok())
                .unwrap_or(Dynamic::UNIT)
        })
        .register_fn("has_hive", |host: &mut HostHandle, kind: &str| -> bool {
            host.0.has_hive(kind)
        })
        .register_fn(
            "hotfix",
            |host: &mut HostHandle, kb: &str| -> ImmutableString {
                match host.0.hotfixes.status(kb) {
                    KbStatus::Installed => "installed",
                    KbStatus::Superseded => "superseded",
                    KbStatus::PendingReboot => "pending_reboot",
                    KbStatus::Absent => "absent",
                }
                .into()
            },
        )
        .register_fn(
            "events",
            |host: &mut HostHandle, filter: Map| -> RhaiResult<Array> {
                select_events(host, &filter)
            },
        )
        .register_fn("event_evidence", |events: Array| -> RhaiResult<Map> {
            event_evidence(&events)
        })
        .register_get("hosts", |fleet: &mut FleetHandle| -> Array {
            fleet.0.iter().cloned().map(Dynamic::from).collect()
        });
}
