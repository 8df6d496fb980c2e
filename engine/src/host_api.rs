//! The read-only host API rules see: `host.reg`, `reg_type`, `key_exists`, `subkeys`, `values`,
//! `setting`, `os`, `hotfix`, `hotfix_packages`, `rollup_packages`, `events`, `has_hive`,
//! `has_log`, `audit_policy`, `not_applicable(reason)` and `passed_inferred(reason)`; the fleet
//! API (`crate::fleet`) is registered with it.

use std::sync::Arc;

use hiveward_collectors::{
    filetime_to_rfc3339, AuditPolicy, EventRecord, FileRecord, HiveKind, HostRegistry,
    HotfixInventory, KbStatus, OsFacts, RegData, RegValue,
};
use rhai::{Array, Blob, Dynamic, Engine, EvalAltResult, ImmutableString, Map, Position};

use crate::explain::{record, Read};
use crate::outcome::{InferredPass, NotApplicable};

mod events;
mod hotfixes;
mod reads;

use events::{event_evidence, register_event_type, select_events};
use reads::unreadable;
pub use reads::UnreadableEvidence;
use reads::{note_hive_read, note_value_read, note_values_read};
pub(crate) use reads::{
    note_inferred_reads, note_unreadable_reads, take_inferred_reads, take_partial_log_reads,
    take_undeclared_read, take_unreadable_reads, unreadable_read_count, unreadable_reads_since,
    InferredReads, RunningRuleGuard,
};

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
        // Rules and `needs` ask this several times per rule: no copy of `kind` is made.
        const KINDS: [(&str, &[HiveKind], &str); 5] = [
            ("SYSTEM", &[HiveKind::System], r"HKLM\SYSTEM"),
            ("SOFTWARE", &[HiveKind::Software], r"HKLM\SOFTWARE"),
            (
                "HKCU",
                &[HiveKind::HkcuSoftware, HiveKind::Ntuser],
                r"HKCU\Software",
            ),
            ("SAM", &[HiveKind::Sam], r"HKLM\SAM"),
            ("SECURITY", &[HiveKind::Security], r"HKLM\SECURITY"),
        ];
        let Some((_, wanted, mount)) = KINDS
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(kind))
        else {
            return false;
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

thread_local! {
    /// The last host whose OS facts this thread turned into a Rhai value, and that value: most
    /// rules read `host.os`, and converting it each time was a tenth of a scan's time. The
    /// weak reference keeps the host's allocation (not its evidence) alive, so its address
    /// cannot be reused by another host while it is cached.
    static OS_VALUE: std::cell::RefCell<Option<(std::sync::Weak<HostFacts>, Dynamic)>> =
        const { std::cell::RefCell::new(None) };
}

/// Notes the hives the OS facts come from (`SOFTWARE`'s `CurrentVersion` and `SYSTEM`'s
/// `ProductOptions`) as read by the running rule.
fn note_os_read(host: &HostHandle) {
    note_hive_read(host, hiveward_collectors::OS_CURRENT_VERSION_KEY, None);
    note_hive_read(host, hiveward_collectors::OS_PRODUCT_OPTIONS_KEY, None);
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
) -> RhaiResult<Option<Arc<hiveward_collectors::Located<RegValue>>>> {
    let found = host
        .0
        .registry
        .value_shared(path, name)
        .map_err(|error| unreadable(host, format!("cannot read {path}\\{name}: {error}")))?;
    note_hive_read(host, path, found.as_ref().map(|found| found.file.as_path()));
    if let Some(found) = &found {
        note_value_read(host, name, found);
    }
    Ok(found)
}

fn setting(host: &HostHandle, path: &str, name: &str, default: Option<Dynamic>) -> RhaiResult<Map> {
    let found = read_value(host, path, name)?;
    record(|| {
        Read::value(
            "host.setting",
            path,
            name,
            found.as_deref(),
            default.as_ref(),
        )
    });
    // Rules read many settings per host: the map is built from its entries in key order, which
    // a B-tree takes in one pass instead of ten searches.
    let (present, resolved_path, file, observed_type, observed, value, default_applied) =
        match found {
            Some(found) => {
                let observed = reg_data_to_dynamic(&found.data.data);
                (
                    true,
                    found.resolved_path.as_str().into(),
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

/// Evidence about a key: `kind: "registry"`, `path`, `resolved_path`, `file`, `present`, and
/// `last_written` (its LastWriteTime as RFC 3339 UTC; `()` for `.reg` exports, which record
/// none).
fn key_info(host: &HostHandle, path: &str) -> RhaiResult<Map> {
    let found = host
        .0
        .registry
        .key_last_written(path)
        .map_err(|error| unreadable(host, format!("cannot read {path}: {error}")))?;
    note_hive_read(host, path, found.as_ref().map(|found| found.file.as_path()));
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
    note_hive_read(host, path, found.as_ref().map(|found| found.file.as_path()));
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
    crate::array_api::register_array_api(engine);
    engine
        .register_type_with_name::<NotApplicable>("NotApplicable")
        .register_fn("not_applicable", |reason: ImmutableString| {
            NotApplicable::new(None, reason)
        })
        .register_fn(
            "not_applicable",
            |host: ImmutableString, reason: ImmutableString| NotApplicable::new(Some(host), reason),
        )
        .register_fn("to_string", |item: &mut NotApplicable| -> String {
            format!("not applicable: {}", item.reason())
        })
        .register_fn("to_debug", |item: &mut NotApplicable| -> String {
            format!("not_applicable({:?})", item.reason())
        })
        .register_type_with_name::<InferredPass>("InferredPass")
        .register_fn("passed_inferred", |reason: ImmutableString| {
            InferredPass::new(None, reason)
        })
        .register_fn(
            "passed_inferred",
            |host: ImmutableString, reason: ImmutableString| InferredPass::new(Some(host), reason),
        )
        .register_fn("to_string", |item: &mut InferredPass| -> String {
            format!("passed, inferred: {}", item.reason())
        })
        .register_fn("to_debug", |item: &mut InferredPass| -> String {
            format!("passed_inferred({:?})", item.reason())
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
                record(|| Read::value("host.reg", path, name, found.as_deref(), None));
                Ok(found
                    .map(|found| reg_data_to_dynamic(&found.data.data))
                    .unwrap_or(Dynamic::UNIT))
            },
        )
        .register_fn(
            "reg_type",
            |host: &mut HostHandle, path: &str, name: &str| -> RhaiResult<Dynamic> {
                let found = read_value(host, path, name)?;
                record(|| Read::value("host.reg_type", path, name, found.as_deref(), None));
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
                note_hive_read(host, path, None);
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
                note_hive_read(host, path, found.as_ref().map(|found| found.file.as_path()));
                // Under HKCU the listing merges every user's hive: each one was read.
                for file in host.0.registry.user_sources_holding(path).iter().skip(1) {
                    note_hive_read(host, path, Some(file));
                }
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
                note_hive_read(host, path, found.as_ref().map(|found| found.file.as_path()));
                if let Some(found) = &found {
                    note_values_read(host, found);
                }
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
            note_os_read(host);
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
                note_os_read(host);
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
                note_hive_read(host, hiveward_collectors::CBS_PACKAGES_KEY, None);
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
            "hotfix_packages",
            |host: &mut HostHandle, kb: &str| -> RhaiResult<Dynamic> {
                hotfixes::hotfix_packages(host, kb)
            },
        )
        .register_fn(
            "rollup_packages",
            |host: &mut HostHandle, build: i64| -> RhaiResult<Dynamic> {
                hotfixes::rollup_packages(host, build)
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
