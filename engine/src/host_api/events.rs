//! Event records as rules see them (`EventHandle`), and `host.events`: selecting the records a
//! rule asks for, within what its `needs` declares, and turning them into evidence.

use std::sync::Arc;

use hiveward_collectors::EventRecord;
use rhai::{Array, Dynamic, Engine, ImmutableString, Map, Position};

use super::reads::{note_partial_logs, RunningRule, UndeclaredRead, RUNNING_RULE, UNDECLARED_READ};
use super::{runtime, HostFacts, HostHandle, RhaiResult};
use crate::explain::{record, Read};

/// One event record as a rule sees it: `event.channel`, `provider`, `id`, `time`,
/// `record_id`, `computer`, `file` and `data` (a map of the event's fields).
///
/// A handle into the host's records rather than a map, so that the sandbox's map-size limit,
/// which counts every entry of every map an array holds, applies to what a rule builds and not
/// to the evidence it reads: a Security log's thousands of 4624 records stay one array.
#[derive(Clone)]
pub struct EventHandle {
    host: Arc<HostFacts>,
    index: usize,
}

impl EventHandle {
    fn record(&self) -> &EventRecord {
        &self.host.events[self.index]
    }
}

fn event_data(event: &EventRecord) -> Map {
    event
        .data
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().into(),
                rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT),
            )
        })
        .collect()
}

/// `event.text(name)`: the data field `name` (matched without regard to case) as text, numbers
/// in decimal; empty when the field is absent or null.
fn event_text(event: &EventRecord, name: &str) -> String {
    let found = event
        .data
        .iter()
        .find(|(field, _)| field.as_str() == name)
        .or_else(|| {
            event
                .data
                .iter()
                .find(|(field, _)| field.eq_ignore_ascii_case(name))
        });
    match found.map(|(_, value)| value) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn register_event_type(engine: &mut Engine) {
    engine
        .register_type_with_name::<EventHandle>("Event")
        .register_get("channel", |event: &mut EventHandle| -> ImmutableString {
            event.record().channel.as_str().into()
        })
        .register_get("provider", |event: &mut EventHandle| -> ImmutableString {
            event.record().provider.as_str().into()
        })
        .register_get("id", |event: &mut EventHandle| -> i64 {
            i64::from(event.record().id)
        })
        .register_get("time", |event: &mut EventHandle| -> ImmutableString {
            event.record().time.as_str().into()
        })
        .register_get("record_id", |event: &mut EventHandle| -> Dynamic {
            record_id_value(event.record().record_id)
        })
        .register_get("computer", |event: &mut EventHandle| -> ImmutableString {
            event.record().computer.as_str().into()
        })
        .register_get("file", |event: &mut EventHandle| -> ImmutableString {
            event.record().file.as_str().into()
        })
        .register_get("data", |event: &mut EventHandle| -> Map {
            event_data(event.record())
        })
        .register_fn("text", |event: &mut EventHandle, name: &str| -> String {
            event_text(event.record(), name)
        })
        .register_fn("to_string", |event: &mut EventHandle| -> String {
            let record = event.record();
            format!(
                "{} event {} (record {}, {})",
                record.channel, record.id, record.record_id, record.time
            )
        })
        .register_fn("to_debug", |event: &mut EventHandle| -> String {
            let record = event.record();
            format!(
                "Event #{{ channel: {:?}, id: {}, record_id: {}, time: {:?} }}",
                record.channel, record.id, record.record_id, record.time
            )
        });
}

/// An event record id as rules see it: an integer, or — for ids beyond the integer range, which
/// only damaged or forged logs hold — the exact id as decimal text, never a wrapped negative
/// number. Evidence `record_ids` take both back as the exact unsigned id.
fn record_id_value(id: u64) -> Dynamic {
    match rhai::INT::try_from(id) {
        Ok(id) => Dynamic::from_int(id),
        Err(_) => Dynamic::from(ImmutableString::from(id.to_string())),
    }
}

/// Whether an event field equals a filter value: strings without regard to case or surrounding
/// white space, numbers as
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
        return as_text
            .trim()
            .eq_ignore_ascii_case(wanted.to_string().trim());
    }
    if wanted.is_unit() {
        return field.is_null() || as_text.is_empty();
    }
    false
}

/// A `needs` entry as rules write it: `#{ channel: "System", ids: [4, 7] }`.
fn need_text(channel: &str, ids: &[u32], provider: Option<&str>) -> String {
    let mut text = format!("#{{ channel: {channel:?}");
    if !ids.is_empty() {
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        text.push_str(&format!(", ids: [{}]", ids.join(", ")));
    }
    if let Some(provider) = provider {
        text.push_str(&format!(", provider: {provider:?}"));
    }
    text.push_str(" }");
    text
}

/// Why `rule` may not read the records of `channel` with `ids` (empty: every id it declares),
/// naming the `needs` entry to add; `None` when it declares them.
fn undeclared_events(rule: &RunningRule, channel: &str, ids: &[i64]) -> Option<String> {
    let entries: Vec<&crate::rule::EventNeed> = rule
        .events
        .iter()
        .filter(|need| need.channel.eq_ignore_ascii_case(channel))
        .collect();
    // Ids outside the range of event ids select nothing, declared or not.
    let missing: Vec<u32> = ids
        .iter()
        .filter_map(|id| u32::try_from(*id).ok())
        .filter(|id| {
            !entries
                .iter()
                .any(|need| need.ids.is_empty() || need.ids.contains(id))
        })
        .collect();
    if !entries.is_empty() && missing.is_empty() {
        return None;
    }
    let asked = if missing.is_empty() {
        format!("{channel} events")
    } else {
        let listed: Vec<String> = missing.iter().map(u32::to_string).collect();
        format!(
            "{channel} event{} {}",
            if missing.len() == 1 { "" } else { "s" },
            listed.join(", ")
        )
    };
    let fix = match entries.iter().find(|need| !need.ids.is_empty()) {
        Some(need) => {
            let mut all = need.ids.clone();
            all.extend(missing.iter().copied());
            format!(
                "add {} to its `needs.events` entry for {channel:?}: `{}`",
                if missing.len() == 1 { "it" } else { "them" },
                need_text(&need.channel, &all, need.provider.as_deref())
            )
        }
        None if rule.events.is_empty() => {
            let declare = need_text(channel, &missing, None);
            format!(
                "declare {} in its `needs`: `needs: #{{ events: [{declare}] }}`",
                if missing.len() == 1 { "it" } else { "them" }
            )
        }
        None => format!(
            "add `{}` to its `needs.events`",
            need_text(channel, &missing, None)
        ),
    };
    Some(format!(
        "host.events: rule {} reads {asked}, which its `needs` does not declare, so a scan would not read them: {fix}",
        rule.id
    ))
}

pub(super) fn select_events(
    host: &HostHandle,
    filter: &Map,
    call: Option<&rhai::NativeCallContext>,
) -> RhaiResult<Array> {
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
    crate::memo::note_event_read();
    // The running rule sees only the records it declares, whatever other rules declare: the
    // same records a scan of that rule alone would read.
    let declared: Option<Vec<crate::rule::EventNeed>> = RUNNING_RULE
        .with(|slot| {
            let slot = slot.borrow();
            let rule = slot.as_ref()?;
            if let Some(message) = undeclared_events(rule, &channel, &ids) {
                return Some(Err(message));
            }
            Some(Ok(rule.events.clone()))
        })
        .transpose()
        .map_err(|message| {
            UNDECLARED_READ.with(|read| {
                read.borrow_mut().get_or_insert_with(|| UndeclaredRead {
                    message: message.clone(),
                    position: call.map_or(Position::NONE, |call| call.call_position()),
                    source: call
                        .and_then(|call| call.call_source())
                        .unwrap_or_default()
                        .to_string(),
                });
            });
            runtime(message)
        })?;
    note_partial_logs(host, &channel);
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
        .enumerate()
        .filter(|(_, event)| event.channel.eq_ignore_ascii_case(&channel))
        .filter(|(_, event)| ids.is_empty() || ids.contains(&i64::from(event.id)))
        .filter(|(_, event)| {
            declared.as_ref().is_none_or(|declared| {
                declared
                    .iter()
                    .any(|need| need_matches(need, &event.channel, &event.provider, event.id))
            })
        })
        .filter(|(_, event)| {
            provider
                .as_deref()
                .is_none_or(|provider| event.provider.eq_ignore_ascii_case(provider))
        })
        .filter(|(_, event)| {
            since
                .as_deref()
                .is_none_or(|since| event.time.as_str() >= since)
        })
        .filter(|(_, event)| {
            conditions.iter().all(|(name, wanted)| {
                event
                    .data
                    .iter()
                    .find(|(field, _)| field.eq_ignore_ascii_case(name))
                    .is_some_and(|(_, value)| field_matches(value, wanted))
            })
        })
        .map(|(index, _)| {
            Dynamic::from(EventHandle {
                host: Arc::clone(&host.0),
                index,
            })
        })
        .collect::<Array>())
    .inspect(|selected| {
        record(|| {
            let record_ids: Vec<u64> = selected
                .iter()
                .filter_map(|event| event.clone().try_cast::<EventHandle>())
                .map(|event| event.record().record_id)
                .collect();
            Read::events(&channel, &ids, &record_ids)
        })
    })
}

/// Whether `need` declares an event of `channel`, `provider` and `id` (as the collectors'
/// `EventNeedFilter` selects records).
fn need_matches(need: &crate::rule::EventNeed, channel: &str, provider: &str, id: u32) -> bool {
    need.channel.eq_ignore_ascii_case(channel)
        && (need.ids.is_empty() || need.ids.contains(&id))
        && need
            .provider
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(provider))
}

/// Evidence citing event records: the file (and, when the records come from several, `files`,
/// every one of them), channel, record ids, count, and first and last times of the events given
/// (as `host.events` returns them).
pub(super) fn event_evidence(events: &Array) -> RhaiResult<Map> {
    let mut record_ids = Array::new();
    let mut channel = String::new();
    let mut files: Vec<String> = Vec::new();
    let mut times: Vec<String> = Vec::new();
    for event in events.iter() {
        let event = event.clone().try_cast::<EventHandle>().ok_or_else(|| {
            runtime("event_evidence takes the events host.events returned".to_string())
        })?;
        let record = event.record();
        if channel.is_empty() {
            channel = record.channel.clone();
        }
        record_ids.push(record_id_value(record.record_id));
        if !files.contains(&record.file) {
            files.push(record.file.clone());
        }
        times.push(record.time.clone());
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
    if files.len() > 1 {
        files.sort();
        evidence.insert(
            "files".into(),
            Dynamic::from_array(files.into_iter().map(Dynamic::from).collect()),
        );
    }
    Ok(evidence)
}
