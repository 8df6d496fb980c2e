//! The read-only host API rules see: `host.reg`, `reg_type`, `key_exists`, `subkeys`, `values`,
//! `setting`, `os`, `hotfix`, `events`, `has_hive`, `has_log`, `audit_policy` and
//! `not_applicable(reason)`; the fleet API (`crate::fleet`) is registered with it.

use std::sync::Arc;

use hiveward_collectors::{
    filetime_to_rfc3339, AuditPolicy, EventRecord, FileRecord, HiveKind, HostRegistry,
    HotfixInventory, KbStatus, OsFacts, RegData, RegValue,
};
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};

use crate::explain::{record, Read};
use crate::outcome::NotApplicable;

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
    /// The channels of the event logs that were read (each log once per channel it holds),
    /// whatever records the rules asked for: a log that is present but holds no matching
    /// record is evidence that nothing happened.
    pub log_channels: Vec<String>,
    /// The computations rules kept for this host with `host.memo` (empty when built).
    pub memo: crate::memo::HostMemo,
}

impl HostFacts {
    /// The channels of the readable event logs among `files`, sorted and deduplicated (the
    /// `log_channels` of a host built from collected files).
    pub fn channels_of(files: &[FileRecord]) -> Vec<String> {
        let mut channels: Vec<String> = files
            .iter()
            .filter(|file| {
                matches!(
                    file.status,
                    hiveward_collectors::FileStatus::Read
                        | hiveward_collectors::FileStatus::Partial
                )
            })
            .filter_map(|file| file.events.as_ref())
            .flat_map(|summary| summary.channels.iter().cloned())
            .collect();
        channels.sort_by_key(|channel| channel.to_lowercase());
        channels.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        channels
    }

    /// Whether a log of `channel` was read for this host (or records of it are present).
    pub fn has_log(&self, channel: &str) -> bool {
        self.log_channels
            .iter()
            .any(|known| known.eq_ignore_ascii_case(channel))
            || self
                .events
                .iter()
                .any(|event| event.channel.eq_ignore_ascii_case(channel))
    }

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

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

fn runtime(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(message.into(), Position::NONE).into()
}

/// The error value a host read throws when the evidence itself is damaged. Rules may catch it
/// (`try { ... } catch (error) { ... }`; it prints as its message); uncaught, it makes the
/// evaluation an unchecked rule × host rather than a rule error.
#[derive(Clone, Debug)]
pub struct UnreadableEvidence {
    /// The host whose evidence could not be read.
    pub host: String,
    /// What could not be read, naming the file.
    pub message: String,
}

thread_local! {
    /// The last host whose OS facts this thread turned into a Rhai value, and that value: most
    /// rules read `host.os`, and converting it each time was a tenth of a scan's time. The
    /// weak reference keeps the host's allocation (not its evidence) alive, so its address
    /// cannot be reused by another host while it is cached.
    static OS_VALUE: std::cell::RefCell<Option<(std::sync::Weak<HostFacts>, Dynamic)>> =
        const { std::cell::RefCell::new(None) };
    /// The damaged-evidence reads of the rule running on this thread, caught or not, so that a
    /// fleet rule that skips a damaged host still leaves a trace. A rule runs on one thread.
    static UNREADABLE_READS: std::cell::RefCell<Vec<UnreadableEvidence>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The event logs read only in part that `host.events` met for the rule running on this
    /// thread (also among [`UNREADABLE_READS`]): a host rule that finds nothing there is not
    /// checked.
    static PARTIAL_LOG_READS: std::cell::RefCell<Vec<UnreadableEvidence>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The rule running on this thread and the event records it declares, which are all
    /// `host.events` gives it; `None` outside a rule's evaluation.
    static RUNNING_RULE: std::cell::RefCell<Option<RunningRule>> =
        const { std::cell::RefCell::new(None) };
    /// The first `host.events` call of the running rule that asked for records its `needs`
    /// does not declare, caught or not: it makes the evaluation a rule error.
    static UNDECLARED_READ: std::cell::RefCell<Option<UndeclaredRead>> =
        const { std::cell::RefCell::new(None) };
}

/// The rule being evaluated: its id and the event records its `needs` declares (from the top
/// level and from every alternative).
#[derive(Clone, Debug)]
struct RunningRule {
    id: String,
    events: Vec<crate::rule::EventNeed>,
}

/// A `host.events` call for records the rule does not declare.
#[derive(Clone, Debug)]
pub(crate) struct UndeclaredRead {
    /// What was asked for and the `needs` entry to declare.
    pub(crate) message: String,
    /// Where the call is, in the file named by `source`.
    pub(crate) position: Position,
    /// The source (rule or `lib/` module) of the call.
    pub(crate) source: String,
}

/// While it lives, `host.events` on this thread gives `rule` only the records its `needs`
/// declares, and a call for others is an [`UndeclaredRead`]. Dropping it restores what was
/// there before.
pub(crate) struct RunningRuleGuard {
    previous: Option<RunningRule>,
}

impl RunningRuleGuard {
    /// Marks `rule` as the rule running on this thread.
    pub(crate) fn enter(rule: &crate::rule::RuleMeta) -> RunningRuleGuard {
        let running = RunningRule {
            id: rule.id.clone(),
            events: rule.needs.all_events().into_iter().cloned().collect(),
        };
        UNDECLARED_READ.with(|read| read.borrow_mut().take());
        RunningRuleGuard {
            previous: RUNNING_RULE.with(|slot| slot.borrow_mut().replace(running)),
        }
    }
}

impl Drop for RunningRuleGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        RUNNING_RULE.with(|slot| *slot.borrow_mut() = previous);
    }
}

/// Takes the undeclared `host.events` call noted on this thread since the rule started.
pub(crate) fn take_undeclared_read() -> Option<UndeclaredRead> {
    UNDECLARED_READ.with(|read| read.borrow_mut().take())
}

/// `read` over the host's OS facts as a Rhai value (`()` when there are none), made once per
/// host and thread.
fn with_os_value<R>(host: &HostHandle, read: impl FnOnce(&Dynamic) -> R) -> R {
    OS_VALUE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let current = cache
            .as_ref()
            .is_some_and(|(cached, _)| std::ptr::eq(cached.as_ptr(), Arc::as_ptr(&host.0)));
        if !current {
            *cache = None;
        }
        let (_, value) = cache.get_or_insert_with(|| {
            let value = host
                .0
                .os
                .as_ref()
                .and_then(|os| rhai::serde::to_dynamic(os).ok())
                .unwrap_or(Dynamic::UNIT);
            (Arc::downgrade(&host.0), value)
        });
        read(value)
    })
}

/// The error a read of the OS facts gives when damage hid a fact (and no other evidence
/// supplied it): a verdict that reads the OS would rest on a guess.
fn os_unknown(host: &HostHandle) -> Option<Box<EvalAltResult>> {
    let os = host.0.os.as_ref().filter(|os| !os.unreadable.is_empty())?;
    let facts: Vec<String> = os
        .unreadable
        .iter()
        .map(|fact| fact.fact.replace('_', " "))
        .collect();
    Some(unreadable(
        host,
        format!(
            "the OS facts {} of {} are unknown because {}",
            facts.join(", "),
            host.0.name,
            os.unreadable[0].message
        ),
    ))
}

/// How many damaged-evidence reads are noted on this thread.
pub(crate) fn unreadable_read_count() -> usize {
    UNREADABLE_READS.with(|reads| reads.borrow().len())
}

/// The damaged-evidence reads noted on this thread after the first `from`.
pub(crate) fn unreadable_reads_since(from: usize) -> Vec<UnreadableEvidence> {
    UNREADABLE_READS.with(|reads| {
        reads
            .borrow()
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    })
}

/// Notes `reads` again for the rule running on this thread (a kept computation caught them).
pub(crate) fn note_unreadable_reads(reads: &[UnreadableEvidence]) {
    if !reads.is_empty() {
        UNREADABLE_READS.with(|noted| noted.borrow_mut().extend_from_slice(reads));
    }
}

/// Takes the damaged-evidence reads noted on this thread since the last call.
pub(crate) fn take_unreadable_reads() -> Vec<UnreadableEvidence> {
    UNREADABLE_READS.with(|reads| std::mem::take(&mut *reads.borrow_mut()))
}

/// Notes, without throwing, each log of `channel` on `host` that was read only in part: the
/// records a rule looks for may be among those lost, so a rule that finds none in what was read
/// is not checked rather than passed, while one that finds some still reports them.
fn note_partial_logs(host: &HostHandle, channel: &str) {
    let partial_logs = host
        .0
        .files
        .iter()
        .filter(|file| file.status == hiveward_collectors::FileStatus::Partial)
        .filter_map(|file| Some((file, file.events.as_ref()?)))
        .filter(|(_, summary)| {
            summary
                .channels
                .iter()
                .any(|known| known.eq_ignore_ascii_case(channel))
        });
    for (file, summary) in partial_logs {
        // Worded so that a summary of reasons ("Security log read only in part") counts it.
        let error = UnreadableEvidence {
            host: host.0.name.clone(),
            message: format!(
                "{channel} log read only in part: {} ({} record(s) read, {} record(s) and {} chunk(s) unreadable or missing), so the records the rule looks for may be among those lost",
                file.path, summary.records_read, summary.records_skipped, summary.chunks_skipped
            ),
        };
        record(|| Read::Unreadable {
            message: error.message.clone(),
        });
        PARTIAL_LOG_READS.with(|reads| reads.borrow_mut().push(error.clone()));
        UNREADABLE_READS.with(|reads| reads.borrow_mut().push(error));
    }
}

/// Takes the logs read only in part that `host.events` met on this thread since the last call.
pub(crate) fn take_partial_log_reads() -> Vec<UnreadableEvidence> {
    PARTIAL_LOG_READS.with(|reads| std::mem::take(&mut *reads.borrow_mut()))
}

fn unreadable(host: &HostHandle, message: String) -> Box<EvalAltResult> {
    let error = UnreadableEvidence {
        host: host.0.name.clone(),
        message,
    };
    UNREADABLE_READS.with(|reads| reads.borrow_mut().push(error.clone()));
    record(|| Read::Unreadable {
        message: error.message.clone(),
    });
    EvalAltResult::ErrorRuntime(Dynamic::from(error), Position::NONE).into()
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
        .map_err(|error| unreadable(host, format!("cannot read {path}\\{name}: {error}")))
}

fn setting(host: &HostHandle, path: &str, name: &str, default: Option<Dynamic>) -> RhaiResult<Map> {
    let found = read_value(host, path, name)?;
    record(|| Read::value("host.setting", path, name, found.as_ref(), default.as_ref()));
    // Rules read many settings per host: the map is built from its entries in key order, which
    // a B-tree takes in one pass instead of ten searches.
    let (present, resolved_path, file, observed_type, observed, value, default_applied) =
        match found {
            Some(found) => {
                let observed = reg_data_to_dynamic(&found.data.data);
                (
                    true,
                    found.resolved_path.into(),
                    hiveward_collectors::path_text(&found.file).into(),
                    found.data.value_type.name().into(),
                    observed.clone(),
                    observed,
                    false,
                )
            }
            None => {
                // Cite where the value would have been read, resolved the way a read resolves it.
                let (resolved_path, file) = match host.0.registry.locate(path) {
                    Some(place) => (
                        place.resolved_path.into(),
                        hiveward_collectors::path_text(&place.file).into(),
                    ),
                    None => (path.into(), Dynamic::UNIT),
                };
                let applied = default.is_some();
                (
                    false,
                    resolved_path,
                    file,
                    Dynamic::UNIT,
                    Dynamic::UNIT,
                    default.unwrap_or(Dynamic::UNIT),
                    applied,
                )
            }
        };
    let entries: [(&str, Dynamic); 10] = [
        ("default_applied", default_applied.into()),
        ("file", file),
        ("kind", "registry".into()),
        ("observed", observed),
        ("observed_type", observed_type),
        ("path", path.into()),
        ("present", present.into()),
        ("resolved_path", resolved_path),
        ("value", value),
        ("value_name", name.into()),
    ];
    Ok(entries
        .into_iter()
        .map(|(key, value)| (key.into(), value))
        .collect())
}

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

fn register_event_type(engine: &mut Engine) {
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

/// Evidence about a key: `kind: "registry"`, `path`, `resolved_path`, `file`, `present`, and
/// `last_written` (its LastWriteTime as RFC 3339 UTC; `()` for `.reg` exports, which record
/// none).
fn key_info(host: &HostHandle, path: &str) -> RhaiResult<Map> {
    let found = host
        .0
        .registry
        .key_last_written(path)
        .map_err(|error| unreadable(host, format!("cannot read {path}: {error}")))?;
    record(|| Read::key("host.key_info", path, found.is_some(), None));
    let mut map = Map::new();
    map.insert("kind".into(), "registry".into());
    map.insert("path".into(), path.into());
    match found {
        Some(found) => {
            map.insert("present".into(), true.into());
            map.insert("resolved_path".into(), found.resolved_path.into());
            map.insert(
                "file".into(),
                hiveward_collectors::path_text(&found.file).into(),
            );
            map.insert(
                "last_written".into(),
                found
                    .data
                    .and_then(filetime_to_rfc3339)
                    .map(Dynamic::from)
                    .unwrap_or(Dynamic::UNIT),
            );
        }
        None => {
            map.insert("present".into(), false.into());
            map.insert("last_written".into(), Dynamic::UNIT);
        }
    }
    Ok(map)
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

fn select_events(
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
fn event_evidence(events: &Array) -> RhaiResult<Map> {
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

/// `host.audit_policy()`: the system audit policy decoded from the SECURITY hive's
/// `Policy\PolAdtEv` value, read when a rule asks (nothing is kept per host). `()` when the
/// value is absent (no SECURITY hive, or no such key or value); a damaged read, or a value that
/// is not in a documented layout, throws like a damaged read, so the rule is not checked.
fn audit_policy(host: &HostHandle) -> RhaiResult<Dynamic> {
    let path = hiveward_collectors::POL_ADT_EV_KEY;
    let found = host
        .0
        .registry
        .value(path, "")
        .map_err(|error| unreadable(host, format!("cannot read {path}\\(Default): {error}")))?;
    let Some(found) = found else {
        return Ok(Dynamic::UNIT);
    };
    let file = hiveward_collectors::path_text(&found.file);
    let value_type = found.data.value_type.name();
    let place = format!(
        "{}\\(Default) ({value_type}) in {file}",
        found.resolved_path
    );
    let bytes: &[u8] = match &found.data.data {
        RegData::Bytes(bytes) => bytes,
        RegData::Empty => &[],
        _ => {
            return Err(unreadable(
                host,
                format!(
                    "cannot decode the audit policy of {}: {place} is not binary data",
                    host.0.name
                ),
            ))
        }
    };
    let policy = AuditPolicy::decode(bytes).map_err(|error| {
        unreadable(
            host,
            format!(
                "cannot decode the audit policy of {}: {place}: {error}",
                host.0.name
            ),
        )
    })?;
    let last_written = host
        .0
        .registry
        .key_last_written(path)
        .map_err(|error| unreadable(host, format!("cannot read {path}: {error}")))?
        .and_then(|found| found.data)
        .and_then(filetime_to_rfc3339)
        .map(Dynamic::from)
        .unwrap_or(Dynamic::UNIT);

    let mut subcategories = Map::new();
    for item in policy.subcategories() {
        let mut entry = Map::new();
        entry.insert("category".into(), item.category.into());
        entry.insert("success".into(), item.success.into());
        entry.insert("failure".into(), item.failure.into());
        entry.insert("setting".into(), item.setting().into());
        entry.insert("guid".into(), item.guid.as_str().into());
        entry.insert("position".into(), Dynamic::from_int(item.position as i64));
        subcategories.insert(item.name.into(), entry.into());
    }
    let hex = Dynamic::from(hiveward_collectors::to_hex(bytes));
    let mut evidence = Map::new();
    evidence.insert("kind".into(), "registry".into());
    evidence.insert("path".into(), path.into());
    evidence.insert("resolved_path".into(), found.resolved_path.into());
    evidence.insert("value_name".into(), "(Default)".into());
    evidence.insert("file".into(), file.into());
    evidence.insert("present".into(), true.into());
    evidence.insert("observed".into(), hex.clone());
    evidence.insert("observed_type".into(), value_type.into());
    evidence.insert("value".into(), hex);
    evidence.insert("default_applied".into(), false.into());
    evidence.insert("last_written".into(), last_written);

    let layout = policy.layout();
    let mut map = Map::new();
    map.insert("layout".into(), layout.id.into());
    map.insert("systems".into(), layout.systems.into());
    map.insert(
        "subcategory_count".into(),
        Dynamic::from_int(layout.subcategory_count() as i64),
    );
    map.insert("subcategories".into(), subcategories.into());
    map.insert(
        "undetermined".into(),
        Dynamic::from_array(
            policy
                .undetermined()
                .iter()
                .map(|name| Dynamic::from(*name))
                .collect(),
        ),
    );
    map.insert("evidence".into(), evidence.into());
    Ok(map.into())
}

/// Registers the host and fleet API on `engine`.
pub(crate) fn register_host_api(engine: &mut Engine) {
    register_event_type(engine);
    crate::name_api::register_name_api(engine);
    engine
        .register_type_with_name::<NotApplicable>("NotApplicable")
        .register_fn("not_applicable", |reason: &str| NotApplicable {
            host: None,
            reason: reason.to_string(),
        })
        .register_fn("not_applicable", |host: &str, reason: &str| NotApplicable {
            host: Some(host.to_string()),
            reason: reason.to_string(),
        })
        .register_fn("to_string", |item: &mut NotApplicable| -> String {
            format!("not applicable: {}", item.reason)
        })
        .register_fn("to_debug", |item: &mut NotApplicable| -> String {
            format!("not_applicable({:?})", item.reason)
        })
        .register_fn("has_log", |host: &mut HostHandle, channel: &str| -> bool {
            let found = host.0.has_log(channel);
            record(|| Read::fact(format!("host.has_log({channel:?})"), found.to_string()));
            found
        });
    engine
        .register_type_with_name::<UnreadableEvidence>("UnreadableEvidence")
        .register_fn("to_string", |error: &mut UnreadableEvidence| -> String {
            error.message.clone()
        })
        .register_fn("to_debug", |error: &mut UnreadableEvidence| -> String {
            error.message.clone()
        });
    engine
        .register_type_with_name::<HostHandle>("Host")
        .register_get("name", |host: &mut HostHandle| -> ImmutableString {
            host.0.name.as_str().into()
        })
        .register_fn(
            "reg",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Dynamic> {
                let found = read_value(host, path, name)?;
                record(|| Read::value("host.reg", path, name, found.as_ref(), None));
                Ok(found
                    .map(|found| reg_data_to_dynamic(&found.data.data))
                    .unwrap_or(Dynamic::UNIT))
            },
        )
        .register_fn(
            "reg_type",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Dynamic> {
                let found = read_value(host, path, name)?;
                record(|| Read::value("host.reg_type", path, name, found.as_ref(), None));
                Ok(found
                    .map(|found| Dynamic::from(found.data.value_type.name()))
                    .unwrap_or(Dynamic::UNIT))
            },
        )
        .register_fn(
            "key_exists",
            |host: &mut HostHandle, path: &str| -> RhaiResult<bool> {
                let found = host
                    .0
                    .registry
                    .key_exists(path)
                    .map_err(|error| unreadable(host, format!("cannot read {path}: {error}")))?;
                record(|| Read::key("host.key_exists", path, found, None));
                Ok(found)
            },
        )
        .register_fn(
            "subkeys",
            |host: &mut HostHandle, path: &str| -> RhaiResult<Array> {
                let found =
                    host.0.registry.subkeys(path).map_err(|error| {
                        unreadable(host, format!("cannot read {path}: {error}"))
                    })?;
                let count = found.as_ref().map(|found| found.data.len());
                record(|| Read::listing("host.subkeys", path, count));
                Ok(found
                    .map(|found| found.data.into_iter().map(Dynamic::from).collect())
                    .unwrap_or_default())
            },
        )
        .register_fn(
            "values",
            |host: &mut HostHandle, path: &str| -> RhaiResult<Array> {
                let found =
                    host.0.registry.values(path).map_err(|error| {
                        unreadable(host, format!("cannot read {path}: {error}"))
                    })?;
                let count = found.as_ref().map(|found| found.data.len());
                record(|| Read::listing("host.values", path, count));
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
        .register_get("os", |host: &mut HostHandle| -> RhaiResult<Dynamic> {
            if let Some(error) = os_unknown(host) {
                return Err(error);
            }
            let os = with_os_value(host, Dynamic::clone);
            record(|| Read::fact("host.os".to_string(), os.to_string()));
            Ok(os)
        })
        .register_fn(
            "os_fact",
            |host: &mut HostHandle, name: &str| -> RhaiResult<Dynamic> {
                if let Some(error) = os_unknown(host) {
                    return Err(error);
                }
                let fact = with_os_value(host, |os| {
                    os.read_lock::<Map>()
                        .and_then(|map| map.get(name).cloned())
                        .unwrap_or(Dynamic::UNIT)
                });
                record(|| Read::fact(format!("host.os_fact({name:?})"), fact.to_string()));
                Ok(fact)
            },
        )
        .register_fn(
            "key_info",
            |host: &mut HostHandle, path: &str| -> RhaiResult<Map> { key_info(host, path) },
        )
        .register_fn("has_hive", |host: &mut HostHandle, kind: &str| -> bool {
            let found = host.0.has_hive(kind);
            record(|| Read::fact(format!("host.has_hive({kind:?})"), found.to_string()));
            found
        })
        .register_fn(
            "audit_policy",
            |host: &mut HostHandle| -> RhaiResult<Dynamic> {
                let policy = audit_policy(host)?;
                record(|| Read::audit_policy(&policy));
                Ok(policy)
            },
        )
        .register_fn(
            "hotfix",
            |host: &mut HostHandle, kb: &str| -> RhaiResult<ImmutableString> {
                let status = host.0.hotfixes.status(kb);
                // "absent" from an inventory that damage left incomplete is not known.
                if status == KbStatus::Absent {
                    if let Some(damage) = host.0.hotfixes.unreadable.first() {
                        return Err(unreadable(
                            host,
                            format!(
                                "cannot tell whether {kb} is installed on {}: the hotfix inventory is incomplete: {}",
                                host.0.name, damage.message
                            ),
                        ));
                    }
                }
                let status = match status {
                    KbStatus::Installed => "installed",
                    KbStatus::Superseded => "superseded",
                    KbStatus::PendingReboot => "pending_reboot",
                    KbStatus::Absent => "absent",
                };
                record(|| Read::fact(format!("host.hotfix({kb:?})"), status.to_string()));
                Ok(status.into())
            },
        )
        .register_fn(
            "events",
            |call: rhai::NativeCallContext,
             host: &mut HostHandle,
             filter: Map|
             -> RhaiResult<Array> { select_events(host, &filter, Some(&call)) },
        )
        .register_fn(
            "memo",
            |call: rhai::NativeCallContext,
             host: &mut HostHandle,
             compute: rhai::FnPtr|
             -> RhaiResult<Dynamic> { crate::memo::memo(&call, host, compute) },
        )
        .register_fn("event_evidence", |events: Array| -> RhaiResult<Map> {
            event_evidence(&events)
        });
    crate::fleet::register_fleet_api(engine);
}
