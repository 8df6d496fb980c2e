//! What the JUnit report needs to know about each rule × host before it writes a testcase,
//! gathered in one pass over the hosts and one over the findings: for each (rule, host), the
//! positions of its findings in the report's spool and how many fail, fall below `--fail-on` or
//! are accepted, its rule errors and unchecked evaluations, and why the rule did not judge the
//! host. Rules and hosts are small numbers here, and each reason text is kept once, so that the
//! index of a fleet of thousands of hosts stays a few megabytes: the findings themselves are
//! read back from the spool, a testcase at a time, when it is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use hiveward_collectors::FileStatus;

use crate::error::{RuleError, UncheckedRule};
use crate::outcome::Outcome;
use crate::rule::{Scope, Severity};
use crate::scan::{RuleSummary, ScanReport};

/// The testcase name of a fleet rule that found nothing or failed.
const FLEET: &str = "(fleet)";

/// The host key of what a fleet rule reported as a whole.
const FLEET_HOST: &str = "*";

/// A host name's number: the hosts scanned come first, in report order.
type HostId = u32;

/// A rule's number: the position of the first rule with its id in the report's rules.
type RuleId = u32;

/// Host names by number, with the order the report sorts them in (case-insensitive, then as
/// written).
#[derive(Default)]
struct Names {
    names: Vec<String>,
    ids: HashMap<String, HostId>,
    /// Each name's place when the names are sorted by (lowercase, name).
    rank: Vec<u32>,
}

impl Names {
    fn intern(&mut self, name: &str) -> HostId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as HostId;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn rank_them(&mut self) {
        let mut order: Vec<(String, HostId)> = self
            .names
            .iter()
            .enumerate()
            .map(|(id, name)| (name.to_lowercase(), id as HostId))
            .collect();
        order.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| self.names[a.1 as usize].cmp(&self.names[b.1 as usize]))
        });
        self.rank = vec![0; self.names.len()];
        for (place, (_, id)) in order.into_iter().enumerate() {
            self.rank[id as usize] = place as u32;
        }
    }
}

/// The findings one rule reported on one host.
#[derive(Default)]
pub(super) struct Group {
    /// Their positions in the report's findings, in report order.
    pub(super) positions: Vec<usize>,
    /// Unsuppressed, at or above `--fail-on`.
    failing: u32,
    /// Unsuppressed, below `--fail-on` (all of them with `--fail-on never`).
    below: u32,
    /// Waived or in the baseline.
    accepted: u32,
}

/// How a testcase ends, in the order of precedence the module documentation gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The rule failed on the host: `<error>`.
    Error,
    /// Damaged evidence stopped the rule, and nothing failed: `<skipped>`.
    NotChecked,
    /// Unsuppressed findings at or above `--fail-on`: `<failure>`.
    Failure,
    /// Unsuppressed findings below `--fail-on` only: passed, with them in `<system-out>`.
    Reported,
    /// Every finding is waived or baselined: `<skipped>`.
    Accepted,
    /// The rule did not judge the host: `<skipped>` with the reason.
    Declined,
    /// The check passed.
    Passed,
}

/// Testcases, failures, errors and skipped testcases.
#[derive(Default, Clone, Copy)]
pub(super) struct Counts {
    pub(super) tests: usize,
    pub(super) failures: usize,
    pub(super) errors: usize,
    pub(super) skipped: usize,
}

impl Counts {
    pub(super) fn count(&mut self, verdict: Verdict) {
        self.tests += 1;
        match verdict {
            Verdict::Error => self.errors += 1,
            Verdict::Failure => self.failures += 1,
            Verdict::NotChecked | Verdict::Accepted | Verdict::Declined => self.skipped += 1,
            Verdict::Reported | Verdict::Passed => {}
        }
    }

    pub(super) fn add(&mut self, other: &Counts) {
        self.tests += other.tests;
        self.failures += other.failures;
        self.errors += other.errors;
        self.skipped += other.skipped;
    }

    pub(super) fn attributes(&self) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\"",
            self.tests, self.failures, self.errors, self.skipped
        )
    }
}

/// What one rule reported on one host: the input of one testcase.
pub(super) struct Case<'i> {
    /// The testcase name: the host, or `(fleet)`.
    pub(super) name: &'i str,
    pub(super) findings: Option<&'i Group>,
    pub(super) errors: &'i [&'i RuleError],
    pub(super) unchecked: &'i [&'i UncheckedRule],
    /// Why the rule did not judge the host, when it did not.
    pub(super) declined: Option<&'i str>,
    /// The assumption a passed verdict rests on, when it is inferred.
    pub(super) inferred: Option<&'i str>,
}

impl Case<'_> {
    pub(super) fn verdict(&self) -> Verdict {
        let (failing, below, accepted) = self.findings.map_or((0, 0, 0), |group| {
            (group.failing, group.below, group.accepted)
        });
        if !self.errors.is_empty() {
            Verdict::Error
        } else if !self.unchecked.is_empty() && failing == 0 {
            Verdict::NotChecked
        } else if failing > 0 {
            Verdict::Failure
        } else if below > 0 {
            Verdict::Reported
        } else if accepted > 0 {
            Verdict::Accepted
        } else if self.declined.is_some() {
            Verdict::Declined
        } else {
            Verdict::Passed
        }
    }
}

/// Everything the testcases need, by (rule, host).
pub(super) struct CaseIndex<'r> {
    names: Names,
    /// The hosts scanned, in report order (a name twice when two hosts share it).
    evaluated: Vec<HostId>,
    /// Hosts with an id below this were scanned.
    scanned: HostId,
    /// Whether any host has evidence that was read.
    readable: bool,
    rule_ids: HashMap<&'r str, RuleId>,
    findings: BTreeMap<(RuleId, HostId), Group>,
    errors: BTreeMap<(RuleId, HostId), Vec<&'r RuleError>>,
    unchecked: BTreeMap<(RuleId, HostId), Vec<&'r UncheckedRule>>,
    /// `not applicable: …` or `not checked: …`, by (rule, host); the texts are kept once each.
    declined: HashMap<(RuleId, HostId), Rc<str>>,
    /// `passed, inferred: …`, by (rule, host), for the passed verdicts that are inferred.
    inferred: HashMap<(RuleId, HostId), Rc<str>>,
}

impl<'r> CaseIndex<'r> {
    /// Reads `report`'s hosts and findings once each, from their spools.
    pub(super) fn of(report: &'r ScanReport, fail_on: Option<Severity>) -> CaseIndex<'r> {
        let mut rule_ids = HashMap::new();
        for (at, rule) in report.rules.iter().enumerate() {
            rule_ids.entry(rule.id.as_str()).or_insert(at as RuleId);
        }
        let mut names = Names::default();
        let mut evaluated = Vec::new();
        let mut readable = false;
        let mut texts: HashSet<Rc<str>> = HashSet::new();
        let mut declined = HashMap::new();
        let mut inferred = HashMap::new();
        for host in report.hosts.stream() {
            let id = names.intern(&host.name);
            evaluated.push(id);
            readable |= host
                .files
                .iter()
                .any(|file| matches!(file.status, FileStatus::Read | FileStatus::Partial));
            for outcome in &host.outcomes {
                let Some(rule) = rule_ids.get(outcome.rule.as_str()) else {
                    continue;
                };
                let reason = outcome.reason.as_deref().unwrap_or("no reason given");
                let text = match outcome.outcome {
                    Outcome::NotApplicable => format!("not applicable: {reason}"),
                    Outcome::NotChecked => format!("not checked: {reason}"),
                    Outcome::Passed if outcome.inferred => format!("passed, {reason}"),
                    _ => continue,
                };
                let text = match texts.get(text.as_str()) {
                    Some(known) => known.clone(),
                    None => {
                        let text: Rc<str> = Rc::from(text);
                        texts.insert(text.clone());
                        text
                    }
                };
                // A later host of the same name has the last word, as in a map by name.
                if outcome.outcome == Outcome::Passed {
                    declined.remove(&(*rule, id));
                    inferred.insert((*rule, id), text);
                } else {
                    inferred.remove(&(*rule, id));
                    declined.insert((*rule, id), text);
                }
            }
        }
        let scanned = names.names.len() as HostId;
        let mut findings: BTreeMap<(RuleId, HostId), Group> = BTreeMap::new();
        for (position, finding) in report.findings.stream().enumerate() {
            let Some(rule) = rule_ids.get(finding.rule.as_str()) else {
                continue;
            };
            let group = findings
                .entry((*rule, names.intern(&finding.host)))
                .or_default();
            group.positions.push(position);
            if finding.suppression.is_some() {
                group.accepted += 1;
            } else if fail_on.is_some_and(|threshold| finding.severity >= threshold) {
                group.failing += 1;
            } else {
                group.below += 1;
            }
        }
        let mut errors: BTreeMap<(RuleId, HostId), Vec<&RuleError>> = BTreeMap::new();
        for error in &report.rule_errors {
            if let Some(rule) = rule_ids.get(error.rule.as_str()) {
                let host = names.intern(&error.host);
                errors.entry((*rule, host)).or_default().push(error);
            }
        }
        let mut unchecked: BTreeMap<(RuleId, HostId), Vec<&UncheckedRule>> = BTreeMap::new();
        for item in &report.unchecked {
            if let Some(rule) = rule_ids.get(item.rule.as_str()) {
                let host = names.intern(&item.host);
                unchecked.entry((*rule, host)).or_default().push(item);
            }
        }
        names.rank_them();
        CaseIndex {
            names,
            evaluated,
            scanned,
            readable,
            rule_ids,
            findings,
            errors,
            unchecked,
            declined,
            inferred,
        }
    }

    /// The testcases of `rule`, in order: every host scanned and then the other hosts its
    /// findings, errors and unchecked evaluations name, for a host rule; for a fleet rule, the
    /// hosts named and those it did not judge, sorted, and `(fleet)` when it failed as a whole,
    /// was stopped, or has no other testcase.
    pub(super) fn cases(&self, rule: &RuleSummary) -> Vec<Case<'_>> {
        let Some(&id) = self.rule_ids.get(rule.id.as_str()) else {
            return Vec::new();
        };
        let by_rank = |host: &HostId| self.names.rank[*host as usize];
        // Hosts named in this rule's findings, errors and unchecked evaluations, sorted.
        let range = (id, 0)..=(id, HostId::MAX);
        let mut named: Vec<HostId> = self
            .findings
            .range(range.clone())
            .map(|(key, _)| key.1)
            .chain(self.errors.range(range.clone()).map(|(key, _)| key.1))
            .chain(self.unchecked.range(range).map(|(key, _)| key.1))
            .collect();
        named.sort_by_key(by_rank);
        named.dedup();
        let fleet_host = self.names.ids.get(FLEET_HOST).copied();
        let hosts: Vec<(&str, Option<HostId>)> = match rule.scope {
            Scope::Host => self
                .evaluated
                .iter()
                .chain(named.iter().filter(|host| **host >= self.scanned))
                .map(|host| (self.names.names[*host as usize].as_str(), Some(*host)))
                .collect(),
            Scope::Fleet => {
                let mut hosts: Vec<HostId> = named
                    .iter()
                    .copied()
                    .filter(|host| Some(*host) != fleet_host)
                    .collect();
                let failed = fleet_host.is_some_and(|star| self.errors.contains_key(&(id, star)));
                if !failed {
                    // Hosts the fleet rule did not judge, or passed by inference, each with its
                    // reason.
                    for host in &self.evaluated {
                        if named.binary_search_by_key(&by_rank(host), by_rank).is_err()
                            && (self.declined.contains_key(&(id, *host))
                                || self.inferred.contains_key(&(id, *host)))
                        {
                            hosts.push(*host);
                        }
                    }
                    hosts.sort_by_key(by_rank);
                }
                let mut hosts: Vec<(&str, Option<HostId>)> = hosts
                    .into_iter()
                    .map(|host| (self.names.names[host as usize].as_str(), Some(host)))
                    .collect();
                let stopped =
                    fleet_host.is_some_and(|star| self.unchecked.contains_key(&(id, star)));
                if failed || stopped || (hosts.is_empty() && self.readable) {
                    hosts.push((FLEET, fleet_host));
                }
                hosts
            }
        };
        hosts
            .into_iter()
            .map(|(name, host)| match host {
                Some(host) => Case {
                    name,
                    findings: self.findings.get(&(id, host)),
                    errors: self.errors.get(&(id, host)).map_or(&[], Vec::as_slice),
                    unchecked: self.unchecked.get(&(id, host)).map_or(&[], Vec::as_slice),
                    declined: self.declined.get(&(id, host)).map(|text| &**text),
                    inferred: self.inferred.get(&(id, host)).map(|text| &**text),
                },
                None => Case {
                    name,
                    findings: None,
                    errors: &[],
                    unchecked: &[],
                    declined: None,
                    inferred: None,
                },
            })
            .collect()
    }
}
