//! What the fleet phase holds of each host's contribution while its rule judges: the host,
//! why the rule may not apply there, and where its summary waits in the rule's spool.
//!
//! At 100,000 hosts one fleet rule's summaries are tens of megabytes of JSON, and the
//! contributions around them as much again; held this way, a rule's contributions take about
//! a hundred bytes a host, and [`Fleet`](crate::fleet::Fleet) reads each summary back from
//! the spool when the rule reaches it.

use std::collections::HashMap;
use std::sync::Arc;

use rhai::Dynamic;
use serde_json::value::RawValue;

use crate::fleet::FleetContribution;
use crate::spool::Spool;

/// Distinct `not_applicable` reasons shared between hosts; past this many, each new one is
/// kept on its own. The reasons come from a rule's `needs` and seldom number more than a few.
const SHARED_REASONS: usize = 4096;

/// One host's contribution to one fleet rule, without its summary.
pub(crate) struct HeldContribution {
    /// The host, as the report names it.
    pub(crate) host: Arc<str>,
    /// Why the rule does not apply to the host (its `needs` are not met), if so.
    pub(crate) not_applicable: Option<Arc<str>>,
    /// Where the summary is in the rule's spool, if the host gave one.
    pub(crate) summary: Option<usize>,
    /// What most hosts do not have.
    rare: Option<Box<RareParts>>,
}

/// The parts of a contribution that most hosts leave empty.
#[derive(Default)]
struct RareParts {
    needs_unreadable: Option<String>,
    caught_unreadable: Option<String>,
    inferred_read: Option<String>,
    dirty_hives: Vec<String>,
    layer_hives: Vec<String>,
    disagreements: Vec<hiveward_collectors::SourceDisagreement>,
    /// Why the summary is no map of plain data (a partial file's, edited or damaged).
    bad_summary: Option<String>,
}

impl HeldContribution {
    /// Why it could not be decided whether the rule's `needs` are met.
    pub(crate) fn needs_unreadable(&self) -> Option<&str> {
        self.rare.as_ref()?.needs_unreadable.as_deref()
    }

    /// A damaged read that `summarize` caught and went on without.
    pub(crate) fn caught_unreadable(&self) -> Option<&str> {
        self.rare.as_ref()?.caught_unreadable.as_deref()
    }

    /// Why a passed verdict on the host is inferred.
    pub(crate) fn inferred_read(&self) -> Option<&str> {
        self.rare.as_ref()?.inferred_read.as_deref()
    }

    /// The host's hives that were read dirty, without their transaction logs.
    pub(crate) fn dirty_hives(&self) -> &[String] {
        self.rare
            .as_ref()
            .map(|rare| rare.dirty_hives.as_slice())
            .unwrap_or_default()
    }

    /// The host's differencing hives.
    pub(crate) fn layer_hives(&self) -> &[String] {
        self.rare
            .as_ref()
            .map(|rare| rare.layer_hives.as_slice())
            .unwrap_or_default()
    }

    /// The values `summarize` read that another source of the host holds differently.
    pub(crate) fn disagreements(&self) -> &[hiveward_collectors::SourceDisagreement] {
        self.rare
            .as_ref()
            .map(|rare| rare.disagreements.as_slice())
            .unwrap_or_default()
    }

    /// Why the summary cannot be judged: it does not read back as a map.
    pub(crate) fn bad_summary(&self) -> Option<&str> {
        self.rare.as_ref()?.bad_summary.as_deref()
    }
}

/// One fleet rule's contributions, sorted by host, and the spool their summaries wait in.
pub(crate) struct HeldRule {
    /// The rule id.
    pub(crate) rule: String,
    /// Sorted by host name without regard to case, then as written.
    pub(crate) contributions: Vec<HeldContribution>,
    /// The summaries, in the order they came.
    pub(crate) summaries: Arc<Spool<Box<RawValue>>>,
}

/// Holds `contributions` (of any rules, in any order, read one at a time) for the fleet
/// phase: grouped by rule in the order the rules are first met, each rule's sorted by host,
/// every summary moved to its rule's spool as it comes.
pub(crate) fn hold(contributions: impl IntoIterator<Item = FleetContribution>) -> Vec<HeldRule> {
    let mut rules: Vec<HeldRule> = Vec::new();
    let mut reasons: HashMap<String, Arc<str>> = HashMap::new();
    for contribution in contributions {
        let at = match rules.iter().position(|held| held.rule == contribution.rule) {
            Some(at) => at,
            None => {
                rules.push(HeldRule {
                    rule: contribution.rule.clone(),
                    contributions: Vec::new(),
                    summaries: Arc::new(Spool::new()),
                });
                rules.len() - 1
            }
        };
        let held = &mut rules[at];
        let not_applicable = contribution
            .not_applicable
            .map(|reason| shared_reason(&mut reasons, reason));
        let bad_summary = contribution
            .summary
            .as_deref()
            .and_then(|raw| summary_problem(&contribution.host, raw));
        let summary = contribution.summary.map(|raw| held.summaries.push(&raw));
        let rare = RareParts {
            needs_unreadable: contribution.needs_unreadable,
            caught_unreadable: contribution.caught_unreadable,
            inferred_read: contribution.inferred_read,
            dirty_hives: contribution.dirty_hives,
            layer_hives: contribution.layer_hives,
            disagreements: contribution.disagreements,
            bad_summary,
        };
        let is_rare = rare.needs_unreadable.is_some()
            || rare.caught_unreadable.is_some()
            || rare.inferred_read.is_some()
            || !rare.dirty_hives.is_empty()
            || !rare.layer_hives.is_empty()
            || !rare.disagreements.is_empty()
            || rare.bad_summary.is_some();
        held.contributions.push(HeldContribution {
            host: Arc::from(contribution.host),
            not_applicable,
            summary,
            rare: is_rare.then(|| Box::new(rare)),
        });
    }
    for held in &mut rules {
        held.contributions
            .sort_by_cached_key(|item| (item.host.to_lowercase(), item.host.clone()));
        held.contributions.shrink_to_fit();
    }
    rules
}

/// `reason`, shared with every other host that gave the same one.
fn shared_reason(reasons: &mut HashMap<String, Arc<str>>, reason: String) -> Arc<str> {
    if let Some(shared) = reasons.get(&reason) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(reason.as_str());
    if reasons.len() < SHARED_REASONS {
        reasons.insert(reason, shared.clone());
    }
    shared
}

/// Why a stored summary cannot be judged: it does not read back, or is not a map. Summaries
/// made in this process never fail; a partial file's may have been edited.
fn summary_problem(host: &str, raw: &RawValue) -> Option<String> {
    match serde_json::from_str::<Dynamic>(raw.get()) {
        Err(error) => Some(format!(
            "the summary of {host} cannot be read back: {error}"
        )),
        Ok(value) if !value.is_map() => Some(format!("the summary of {host} is not a map")),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contribution(rule: &str, host: &str, summary: Option<&str>) -> FleetContribution {
        FleetContribution {
            rule: rule.to_string(),
            host: host.to_string(),
            not_applicable: Some("no Security log".to_string()),
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
    fn contributions_are_grouped_by_rule_sorted_by_host_and_their_summaries_spooled() {
        let mut dirty = contribution("A", "ws02", Some("[1]"));
        dirty.dirty_hives = vec!["SYSTEM".to_string()];
        let held = hold([
            contribution("A", "WS03", Some(r#"{"own":["ws03"]}"#)),
            contribution("B", "FS01", None),
            dirty,
            contribution("A", "FS01", Some(r#"{"own":["fs01"]}"#)),
        ]);
        assert_eq!(
            held.iter()
                .map(|rule| rule.rule.as_str())
                .collect::<Vec<_>>(),
            ["A", "B"]
        );
        let a = &held[0];
        let hosts: Vec<&str> = a.contributions.iter().map(|item| &*item.host).collect();
        assert_eq!(hosts, ["FS01", "ws02", "WS03"]);
        let fs01 = a.contributions[0].summary.unwrap();
        assert_eq!(a.summaries.raw(fs01).unwrap(), br#"{"own":["fs01"]}"#);
        // The reason is shared, not copied; the rare parts are kept where they occur.
        let b = &held[1];
        assert!(Arc::ptr_eq(
            a.contributions[0].not_applicable.as_ref().unwrap(),
            b.contributions[0].not_applicable.as_ref().unwrap()
        ));
        assert_eq!(a.contributions[1].dirty_hives(), ["SYSTEM"]);
        assert_eq!(
            a.contributions[1].bad_summary(),
            Some("the summary of ws02 is not a map")
        );
        assert!(a.contributions[0].bad_summary().is_none());
        assert!(b.contributions[0].summary.is_none());
    }
}
