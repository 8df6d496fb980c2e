//! `scan --timings`: how long each rule's Rhai code ran, and how many operations it took, by
//! phase, summed over a run.
//!
//! Rule authors need to know which rule makes a fleet scan slow before they can make it
//! faster. A [`RuleTimings`] attached to a [`crate::RuleSet`] adds up every call into a rule
//! (a host `check`, a fleet rule's `summarize` and its fleet `check`): the calls, the time
//! from entering the rule to its return, and the Rhai operations it counted (what
//! `max_operations` bounds). Times vary from run to run, so they never enter a report: they
//! are written apart, on standard error.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

/// The part of a rule a call ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RulePhase {
    /// A host rule's `check(host)`.
    Check,
    /// A fleet rule's `summarize(host)`, once per host.
    Summarize,
    /// A fleet rule's `check(fleet)`, once per run.
    FleetCheck,
}

impl RulePhase {
    /// Every phase, in the order a run makes them.
    pub const ALL: [RulePhase; 3] = [
        RulePhase::Check,
        RulePhase::Summarize,
        RulePhase::FleetCheck,
    ];
}

impl fmt::Display for RulePhase {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            RulePhase::Check => "check",
            RulePhase::Summarize => "summarize",
            RulePhase::FleetCheck => "fleet check",
        })
    }
}

/// The calls into one rule in one phase, summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleTiming {
    /// The rule id.
    pub rule: String,
    /// The phase.
    pub phase: RulePhase,
    /// How many calls ran (including those that failed).
    pub calls: u64,
    /// Their time, from entering the rule to its return.
    pub time: Duration,
    /// The Rhai operations they counted.
    pub operations: u64,
}

/// Running totals of the calls into every rule, by phase; shared by the worker threads.
#[derive(Debug, Default)]
pub struct RuleTimings {
    /// By rule id, one total per phase (in [`RulePhase::ALL`] order).
    totals: Mutex<HashMap<String, [Totals; 3]>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    calls: u64,
    time: Duration,
    operations: u64,
}

impl RuleTimings {
    /// Adds one call of `rule` in `phase`.
    pub(crate) fn add(&self, rule: &str, phase: RulePhase, time: Duration, operations: u64) {
        let Ok(mut totals) = self.totals.lock() else {
            return;
        };
        // Looked up by `&str` first: a rule's id is copied once, not on every call.
        let phases = match totals.get_mut(rule) {
            Some(phases) => phases,
            None => totals.entry(rule.to_string()).or_default(),
        };
        let entry = &mut phases[phase as usize];
        entry.calls += 1;
        entry.time += time;
        entry.operations += operations;
    }

    /// Every rule and phase that ran, the longest first (then by rule and phase).
    pub fn rows(&self) -> Vec<RuleTiming> {
        let totals = match self.totals.lock() {
            Ok(totals) => totals.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let mut rows: Vec<RuleTiming> = totals
            .into_iter()
            .flat_map(|(rule, phases)| {
                RulePhase::ALL
                    .into_iter()
                    .zip(phases)
                    .filter(|(_, totals)| totals.calls > 0)
                    .map(move |(phase, totals)| RuleTiming {
                        rule: rule.clone(),
                        phase,
                        calls: totals.calls,
                        time: totals.time,
                        operations: totals.operations,
                    })
            })
            .collect();
        rows.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.rule.cmp(&b.rule))
                .then_with(|| a.phase.cmp(&b.phase))
        });
        rows
    }

    /// Writes the rows as a table: each rule and phase with its calls, total and mean time,
    /// share of all the rules' time and mean operations per call, then the total.
    pub fn write_table(&self, out: &mut dyn Write) -> io::Result<()> {
        let rows = self.rows();
        let all: Duration = rows.iter().map(|row| row.time).sum();
        let calls: u64 = rows.iter().map(|row| row.calls).sum();
        writeln!(
            out,
            "timings: time in the rules' code, by rule and phase ({} call(s), {} in all; \
             with several --jobs, the threads' times add up)",
            calls,
            milliseconds(all)
        )?;
        let width = rows
            .iter()
            .map(|row| row.rule.chars().count())
            .max()
            .unwrap_or(0)
            .max("RULE".len());
        writeln!(
            out,
            "{:<width$}  {:<11}  {:>8}  {:>11}  {:>9}  {:>6}  {:>15}",
            "RULE", "PHASE", "CALLS", "TOTAL", "MEAN", "SHARE", "OPERATIONS/CALL"
        )?;
        for row in &rows {
            let mean = Duration::from_secs_f64(row.time.as_secs_f64() / row.calls.max(1) as f64);
            let share = if all.is_zero() {
                0.0
            } else {
                row.time.as_secs_f64() * 100.0 / all.as_secs_f64()
            };
            writeln!(
                out,
                "{:<width$}  {:<11}  {:>8}  {:>11}  {:>9}  {:>5.1}%  {:>15}",
                row.rule,
                row.phase.to_string(),
                row.calls,
                milliseconds(row.time),
                microseconds(mean),
                share,
                row.operations / row.calls.max(1)
            )?;
        }
        Ok(())
    }
}

fn milliseconds(time: Duration) -> String {
    format!("{:.1} ms", time.as_secs_f64() * 1_000.0)
}

fn microseconds(time: Duration) -> String {
    format!("{:.0} µs", time.as_secs_f64() * 1_000_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_add_up_by_rule_and_phase_and_the_longest_comes_first() {
        let timings = RuleTimings::default();
        timings.add("HW-A", RulePhase::Check, Duration::from_micros(10), 100);
        timings.add("HW-A", RulePhase::Check, Duration::from_micros(30), 300);
        timings.add("HW-B", RulePhase::Summarize, Duration::from_micros(50), 7);
        timings.add("HW-B", RulePhase::FleetCheck, Duration::from_micros(5), 9);
        let rows = timings.rows();
        let keys: Vec<(&str, RulePhase, u64)> = rows
            .iter()
            .map(|row| (row.rule.as_str(), row.phase, row.calls))
            .collect();
        assert_eq!(
            keys,
            [
                ("HW-B", RulePhase::Summarize, 1),
                ("HW-A", RulePhase::Check, 2),
                ("HW-B", RulePhase::FleetCheck, 1),
            ]
        );
        assert_eq!(rows[1].time, Duration::from_micros(40));
        assert_eq!(rows[1].operations, 400);
    }

    #[test]
    fn the_table_gives_means_and_shares() {
        let timings = RuleTimings::default();
        timings.add("HW-A", RulePhase::Check, Duration::from_micros(300), 1_000);
        timings.add("HW-A", RulePhase::Check, Duration::from_micros(100), 3_000);
        timings.add(
            "HW-LONGER-ID",
            RulePhase::FleetCheck,
            Duration::from_micros(100),
            5,
        );
        let mut out = Vec::new();
        timings.write_table(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("3 call(s), 0.5 ms in all"), "{text}");
        assert!(lines[1].starts_with("RULE          PHASE"), "{text}");
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            first,
            ["HW-A", "check", "2", "0.4", "ms", "200", "µs", "80.0%", "2000"]
        );
        let second: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            second,
            [
                "HW-LONGER-ID",
                "fleet",
                "check",
                "1",
                "0.1",
                "ms",
                "100",
                "µs",
                "20.0%",
                "5"
            ]
        );
    }
}
