//! Two-phase fleet rules: what one host contributes (`fn summarize(host)`, reduced to plain
//! data while the host is in memory), and the [`Fleet`] that `fn check(fleet)` judges those
//! summaries through, with indexed lookups instead of nested loops.
//!
//! A summary is stored as compact JSON text, so that a fleet judged in one process and one
//! merged from shard partials see exactly the same values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, INT};

use crate::fleet_hold::HeldContribution;
use crate::fleet_selection::{register_selection_api, FleetSelection};
use crate::spool::Spool;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What one host contributes to one fleet rule: whether the rule's `needs` are met there, and
/// the summary `fn summarize(host)` made of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetContribution {
    /// The rule id.
    pub rule: String,
    /// The host, as the report names it.
    pub host: String,
    /// Why the rule does not apply to the host (its `needs` are not met), if so. The host
    /// still takes part in the fleet: it can be another host's peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    /// Why it could not be decided whether the rule's `needs` are met (damaged evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_unreadable: Option<String>,
    /// A damaged read that `summarize` caught and went on without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught_unreadable: Option<String>,
    /// The summary as compact JSON; `None` when `summarize` returned `()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Box<RawValue>>,
    /// The host's hives that were read dirty, without their transaction logs: a finding whose
    /// evidence names one of them is inferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirty_hives: Vec<String>,
    /// The host's differencing hives: a finding whose evidence names one of them is inferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_hives: Vec<String>,
    /// Why a passed verdict on the host is inferred: the first of those hives, or the first
    /// value another source holds differently, that `summarize` read, worded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_read: Option<String>,
    /// The values `summarize` read that another source of the host holds differently: a
    /// finding whose evidence names one is inferred.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disagreements: Vec<hiveward_collectors::SourceDisagreement>,
}

impl PartialEq for FleetContribution {
    fn eq(&self, other: &Self) -> bool {
        self.rule == other.rule
            && self.host == other.host
            && self.not_applicable == other.not_applicable
            && self.needs_unreadable == other.needs_unreadable
            && self.caught_unreadable == other.caught_unreadable
            && self.dirty_hives == other.dirty_hives
            && self.layer_hives == other.layer_hives
            && self.inferred_read == other.inferred_read
            && self.disagreements == other.disagreements
            && self.summary.as_ref().map(|raw| raw.get())
                == other.summary.as_ref().map(|raw| raw.get())
    }
}

/// The deepest nesting a summary may have.
const MAX_SUMMARY_DEPTH: usize = 32;

/// Turns what `summarize` returned into stored JSON: `()` is no summary; a map of plain data
/// (maps, arrays, strings, numbers, booleans, `()`) of at most `max_bytes` is kept; anything
/// else is an error saying what was wrong.
pub(crate) fn summary_json(
    value: &Dynamic,
    max_bytes: usize,
) -> Result<Option<Box<RawValue>>, String> {
    if value.is_unit() {
        return Ok(None);
    }
    if !value.is_map() {
        return Err(format!(
            "summarize(host) returned {}; it must return a map of plain data (or () when the host has nothing to contribute)",
            value.type_name()
        ));
    }
    check_plain(value, "summary", 0)?;
    let text = serde_json::to_string(value).map_err(|error| {
        format!("summarize(host) returned a summary that cannot be stored: {error}")
    })?;
    if text.len() > max_bytes {
        return Err(format!(
            "summarize(host) returned a summary of {} bytes; the limit is {max_bytes}: keep only what check(fleet) needs (names, counts, a few record ids), not whole events",
            text.len()
        ));
    }
    RawValue::from_string(text).map(Some).map_err(|error| {
        format!("summarize(host) returned a summary that cannot be stored: {error}")
    })
}

/// Refuses values that do not survive a trip through JSON unchanged.
fn check_plain(value: &Dynamic, path: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_SUMMARY_DEPTH {
        return Err(format!(
            "summarize(host) returned a summary nested deeper than {MAX_SUMMARY_DEPTH} levels (at {path})"
        ));
    }
    if value.is_unit() || value.is_bool() || value.is_int() || value.is_string() || value.is_char()
    {
        return Ok(());
    }
    if value.is_float() {
        let number = value.as_float().unwrap_or_default();
        if number.is_finite() {
            return Ok(());
        }
        return Err(format!(
            "summarize(host) returned a number that is not finite at {path}"
        ));
    }
    if let Some(items) = value.read_lock::<Array>() {
        for (index, item) in items.iter().enumerate() {
            check_plain(item, &format!("{path}[{index}]"), depth + 1)?;
        }
        return Ok(());
    }
    if let Some(map) = value.read_lock::<Map>() {
        for (key, item) in map.iter() {
            check_plain(item, &format!("{path}.{key}"), depth + 1)?;
        }
        return Ok(());
    }
    Err(format!(
        "summarize(host) returned a {} at {path}; summaries hold only maps, arrays, strings, numbers, booleans and ()",
        value.type_name()
    ))
}

/// The fleet a fleet rule's `fn check(fleet)` receives: one summary per host that returned
/// one, each with a `name` field (the host's name), in host-name order.
///
/// The summaries wait in the rule's spool as compact JSON, and each becomes a Rhai map only
/// when a lookup returns it: as maps, ten thousand summaries would take several times the
/// memory of their text, and at 100,000 hosts even the text is tens of megabytes.
#[derive(Clone)]
pub struct Fleet(Arc<FleetData>);

/// One field's index: each key it holds to the summaries holding it.
type FieldIndex = HashMap<String, Arc<[usize]>>;

struct FleetData {
    /// Each summary's host and its position in `texts`, in host-name order.
    summaries: Vec<(Arc<str>, usize)>,
    texts: Arc<Spool<Box<RawValue>>>,
    names: HashMap<String, usize>,
    hosts: usize,
    indexes: Mutex<HashMap<String, Arc<FieldIndex>>>,
}

impl FleetData {
    /// The stored text of the summary at `position`; `None` if the spool lost it (the report
    /// then says results were lost).
    fn text(&self, position: usize) -> Option<Vec<u8>> {
        let (_, at) = self.summaries.get(position)?;
        self.texts.raw(*at)
    }

    /// The summary at `position` as the rule sees it: a map with the host's `name`.
    fn to_dynamic(&self, position: usize) -> Dynamic {
        let Some((host, _)) = self.summaries.get(position) else {
            return Dynamic::UNIT;
        };
        match self
            .text(position)
            .and_then(|text| serde_json::from_slice::<Dynamic>(&text).ok())
            .and_then(|value| value.try_cast::<Map>())
        {
            Some(mut map) => {
                map.insert("name".into(), (&**host).into());
                Dynamic::from_map(map)
            }
            // Checked when the contributions were held.
            None => Dynamic::UNIT,
        }
    }

    /// One field of the summary at `position`, without reading the others into maps.
    fn field(&self, position: usize, field: &str) -> Option<Dynamic> {
        let text = self.text(position)?;
        let fields: HashMap<String, &RawValue> = serde_json::from_slice(&text).ok()?;
        serde_json::from_str(fields.get(field)?.get()).ok()
    }
}

impl Fleet {
    /// The fleet of one rule's `contributions` (sorted by host), whose summaries wait in
    /// `texts`; `hosts` counts every contributing host, summary or not. A summary that does
    /// not read back as a map fails the whole fleet, with the first such host named.
    pub(crate) fn new(
        contributions: &[HeldContribution],
        texts: Arc<Spool<Box<RawValue>>>,
    ) -> Result<Fleet, String> {
        let mut summaries = Vec::new();
        let mut names = HashMap::new();
        let hosts = contributions.len();
        for contribution in contributions {
            let Some(at) = contribution.summary else {
                continue;
            };
            if let Some(problem) = contribution.bad_summary() {
                return Err(problem.to_string());
            }
            names
                .entry(contribution.host.to_lowercase())
                .or_insert(summaries.len());
            summaries.push((contribution.host.clone(), at));
        }
        Ok(Fleet(Arc::new(FleetData {
            summaries,
            texts,
            names,
            hosts,
            indexes: Mutex::new(HashMap::new()),
        })))
    }

    /// How many hosts took part, with or without a summary.
    pub(crate) fn host_count(&self) -> usize {
        self.0.hosts
    }

    /// The summary at `position` (in host-name order) as the rule sees it.
    pub(crate) fn summary(&self, position: usize) -> Dynamic {
        self.0.to_dynamic(position)
    }

    /// Every summary, read as the rule walks them.
    fn all(&self) -> FleetSelection {
        FleetSelection::all(self.clone(), self.0.summaries.len())
    }

    fn by_name(&self, name: &str) -> Dynamic {
        self.0
            .names
            .get(&name.to_lowercase())
            .map(|&at| self.summary(at))
            .unwrap_or(Dynamic::UNIT)
    }

    /// The summaries `field` holds `value` in, read as the rule walks them.
    fn by(&self, field: &str, value: &Dynamic) -> FleetSelection {
        let found = index_key(value)
            .and_then(|key| self.index(field).get(&key).cloned())
            .unwrap_or_else(|| Arc::from(Vec::new()));
        FleetSelection::listed(self.clone(), found)
    }

    /// How many summaries `fleet.by(field, value)` would return, without reading any of them.
    fn count(&self, field: &str, value: &Dynamic) -> usize {
        index_key(value)
            .and_then(|key| self.index(field).get(&key).map(|found| found.len()))
            .unwrap_or(0)
    }

    /// The index of `field`, built on first use: every key the field holds (a string, number
    /// or boolean; each item of an array; each key of a map) to the summaries holding it.
    fn index(&self, field: &str) -> Arc<FieldIndex> {
        let mut indexes = match self.0.indexes.lock() {
            Ok(indexes) => indexes,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(index) = indexes.get(field) {
            return index.clone();
        }
        let mut listed: HashMap<String, Vec<usize>> = HashMap::new();
        for at in 0..self.0.summaries.len() {
            let Some(value) = self.0.field(at, field) else {
                continue;
            };
            let mut keys = Vec::new();
            keys_of(&value, &mut keys);
            keys.sort();
            keys.dedup();
            for key in keys {
                listed.entry(key).or_default().push(at);
            }
        }
        let index: FieldIndex = listed
            .into_iter()
            .map(|(key, found)| (key, Arc::from(found)))
            .collect();
        let index = Arc::new(index);
        indexes.insert(field.to_string(), index.clone());
        index
    }
}

/// The lookup key of a single value: strings without regard to case, integers and booleans as
/// written; other values are not keys.
fn index_key(value: &Dynamic) -> Option<String> {
    if let Some(text) = value.read_lock::<ImmutableString>() {
        return Some(text.to_lowercase());
    }
    if let Some(character) = value.read_lock::<char>() {
        return Some(character.to_lowercase().to_string());
    }
    if let Some(number) = value.read_lock::<INT>() {
        return Some(number.to_string());
    }
    if let Some(flag) = value.read_lock::<bool>() {
        return Some(flag.to_string());
    }
    None
}

fn keys_of(value: &Dynamic, keys: &mut Vec<String>) {
    if let Some(items) = value.read_lock::<Array>() {
        keys.extend(items.iter().filter_map(index_key));
    } else if let Some(map) = value.read_lock::<Map>() {
        keys.extend(map.keys().map(|key| key.to_lowercase()));
    } else if let Some(key) = index_key(value) {
        keys.push(key);
    }
}

/// Registers the `Fleet` type and its lookups.
pub(crate) fn register_fleet_api(engine: &mut Engine) {
    register_selection_api(engine);
    engine
        .register_type_with_name::<Fleet>("Fleet")
        .register_get("hosts", |fleet: &mut Fleet| -> FleetSelection {
            fleet.all()
        })
        .register_get("len", |fleet: &mut Fleet| -> INT {
            fleet.0.summaries.len() as INT
        })
        .register_fn("len", |fleet: &mut Fleet| -> INT {
            fleet.0.summaries.len() as INT
        })
        .register_get("host_count", |fleet: &mut Fleet| -> INT {
            fleet.0.hosts as INT
        })
        .register_fn("by_name", |fleet: &mut Fleet, name: &str| -> Dynamic {
            fleet.by_name(name)
        })
        .register_fn(
            "by",
            |fleet: &mut Fleet, field: &str, value: Dynamic| -> FleetSelection {
                fleet.by(field, &value)
            },
        )
        // Whether, and how often, a key occurs: an index lookup that reads no summary, where
        // `fleet.by(...)` would read every match only to test or count them (a domain every
        // host belongs to matches the whole fleet).
        .register_fn(
            "has",
            |fleet: &mut Fleet, field: &str, value: Dynamic| -> bool {
                fleet.count(field, &value) > 0
            },
        )
        .register_fn(
            "count",
            |fleet: &mut Fleet, field: &str, value: Dynamic| -> INT {
                INT::try_from(fleet.count(field, &value)).unwrap_or(INT::MAX)
            },
        )
        .register_fn(
            "by_build",
            |fleet: &mut Fleet, build: INT| -> FleetSelection {
                fleet.by("build", &Dynamic::from_int(build))
            },
        )
        .register_fn("to_string", |fleet: &mut Fleet| -> String {
            format!("fleet of {} host(s)", fleet.0.hosts)
        })
        .register_fn("to_debug", |fleet: &mut Fleet| -> String {
            format!("Fleet({} summaries)", fleet.0.summaries.len())
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contribution(host: &str, summary: Option<&str>) -> FleetContribution {
        FleetContribution {
            rule: "X".to_string(),
            host: host.to_string(),
            not_applicable: None,
            needs_unreadable: None,
            caught_unreadable: None,
            summary: summary.map(|text| RawValue::from_string(text.to_string()).unwrap()),
            dirty_hives: Vec::new(),
            layer_hives: Vec::new(),
            inferred_read: None,
            disagreements: Vec::new(),
        }
    }

    #[test]
    fn summaries_must_be_plain_maps_within_the_limit() {
        let mut map = Map::new();
        map.insert("own".into(), Dynamic::from_array(vec!["FS01".into()]));
        let stored = summary_json(&Dynamic::from_map(map.clone()), 1024)
            .unwrap()
            .unwrap();
        assert_eq!(stored.get(), r#"{"own":["FS01"]}"#);
        assert!(summary_json(&Dynamic::UNIT, 1024).unwrap().is_none());
        assert!(summary_json(&Dynamic::from("text"), 1024)
            .unwrap_err()
            .contains("must return a map"));
        assert!(summary_json(&Dynamic::from_map(map.clone()), 4)
            .unwrap_err()
            .contains("limit is 4"));
        map.insert("blob".into(), Dynamic::from_blob(vec![1, 2]));
        assert!(summary_json(&Dynamic::from_map(map), 1024)
            .unwrap_err()
            .contains("summary.blob"));
    }

    #[test]
    fn lookups_find_summaries_by_name_and_by_field_without_regard_to_case() {
        let held = crate::fleet_hold::hold([
            contribution(
                "WS03",
                Some(r#"{"own":["ws03"],"mounts":{"files":1},"build":17763}"#),
            ),
            contribution("FS01", Some(r#"{"own":["fs01","files"],"build":17763}"#)),
            contribution("WS02", None),
        ]);
        let [rule] = held.as_slice() else {
            panic!("one rule")
        };
        let fleet = Fleet::new(&rule.contributions, rule.summaries.clone()).unwrap();
        assert_eq!(fleet.host_count(), 3);
        assert_eq!(fleet.0.summaries.len(), 2);
        let found = fleet.by("own", &Dynamic::from("FILES"));
        assert_eq!(found.len(), 1);
        let name = found.get(0).unwrap().read_lock::<Map>().unwrap()["name"].to_string();
        assert_eq!(name, "FS01");
        assert_eq!(fleet.by("build", &Dynamic::from_int(17763)).len(), 2);
        assert_eq!(fleet.by("mounts", &Dynamic::from("Files")).len(), 1);
        assert!(fleet.by("own", &Dynamic::from("nothing")).is_empty());
        assert!(fleet.by("missing", &Dynamic::from("x")).is_empty());
        // Counting agrees with the lookups it stands in for, and a value that is no key (a map)
        // counts nothing, as `by` finds nothing for it.
        let cases = [
            ("own", Dynamic::from("FILES")),
            ("build", Dynamic::from_int(17763)),
            ("mounts", Dynamic::from("Files")),
            ("own", Dynamic::from("nothing")),
            ("missing", Dynamic::from("x")),
            ("own", Dynamic::from_map(Map::new())),
        ];
        for (field, value) in &cases {
            assert_eq!(
                fleet.count(field, value),
                fleet.by(field, value).len(),
                "{field}"
            );
        }
        assert_eq!(fleet.count("build", &Dynamic::from_int(17763)), 2);
    }
}
