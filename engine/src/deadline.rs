//! The time limit of a whole scan (`scan --timeout 90s`): its parsing, and the deadline that
//! rule evaluation checks before each rule × host evaluation and while a rule runs.

use std::time::{Duration, Instant};

/// A run's time limit as the user wrote it, such as `90s` or `10m`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// How long the run may take.
    pub duration: Duration,
    /// The text it was given as, trimmed, for messages.
    pub text: String,
}

impl Timeout {
    /// Parses a duration: one or more numbers, each followed by a unit — `ms`, `s`, `m` or `h`
    /// — such as `500ms`, `90s`, `10m` or `1h30m`. It must be more than zero.
    ///
    /// Written by hand: the workspace has no duration-parsing crate among its dependencies, and
    /// this grammar is all `--timeout` needs.
    pub fn parse(text: &str) -> Result<Timeout, String> {
        let trimmed = text.trim();
        let wrong = || {
            format!("`{trimmed}` is not a duration: write a number and a unit (ms, s, m or h), such as 90s, 10m or 1h30m")
        };
        if trimmed.is_empty() {
            return Err(wrong());
        }
        let mut total = Duration::ZERO;
        let mut rest = trimmed;
        while !rest.is_empty() {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return Err(wrong());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| wrong())?;
            rest = &rest[digits..];
            let unit_len = rest.len()
                - rest
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .len();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" => Duration::from_secs(number),
                "m" => Duration::from_secs(number.saturating_mul(60)),
                "h" => Duration::from_secs(number.saturating_mul(3600)),
                _ => return Err(wrong()),
            };
            total = total.saturating_add(part);
        }
        if total.is_zero() {
            return Err(format!(
                "--timeout {trimmed} leaves no time to run any rule: give more than 0"
            ));
        }
        Ok(Timeout {
            duration: total,
            text: trimmed.to_string(),
        })
    }
}

impl std::str::FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Timeout, String> {
        Timeout::parse(text)
    }
}

/// When a run that started with a [`Timeout`] must stop. Evaluations that have not started by
/// then are not run, and a rule still running then is stopped; both are reported as *not
/// checked*, saying that the run's timeout expired.
#[derive(Clone, Debug)]
pub struct RunDeadline {
    at: Instant,
    timeout: Timeout,
}

impl RunDeadline {
    /// A deadline `timeout` from now.
    pub fn start(timeout: Timeout) -> RunDeadline {
        RunDeadline::started_at(Instant::now(), timeout)
    }

    /// A deadline `timeout` after `started`.
    pub fn started_at(started: Instant, timeout: Timeout) -> RunDeadline {
        let at = started
            .checked_add(timeout.duration)
            // Beyond what the clock can hold: a deadline of about a century is no limit.
            .unwrap_or_else(|| started + Duration::from_secs(100 * 365 * 86_400));
        RunDeadline { at, timeout }
    }

    /// The time limit.
    pub fn timeout(&self) -> &Timeout {
        &self.timeout
    }

    /// The instant the run must stop.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The reason given for an evaluation that never started.
    pub fn not_run_reason(&self) -> String {
        format!(
            "the run's --timeout of {} expired before this rule ran",
            self.timeout.text
        )
    }

    /// The reason given for an evaluation the deadline stopped.
    pub fn stopped_reason(&self) -> String {
        format!(
            "the run's --timeout of {} expired while this rule ran",
            self.timeout.text
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        let parsed = |text: &str| Timeout::parse(text).map(|timeout| timeout.duration);
        assert_eq!(parsed("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parsed(" 10m "), Ok(Duration::from_secs(600)));
        assert_eq!(parsed("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parsed("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(Timeout::parse(" 90s").unwrap().text, "90s");
        for wrong in ["", "90", "s", "9x", "1.5s", "-1s", "10 m", "m10"] {
            assert!(Timeout::parse(wrong).is_err(), "{wrong:?} must be refused");
        }
        assert!(Timeout::parse("0s").unwrap_err().contains("more than 0"));
        assert!(Timeout::parse("99999999999999999999h").is_err());
        let huge = Timeout::parse("18446744073709551615h").unwrap();
        assert!(!RunDeadline::start(huge).expired());
    }
}
