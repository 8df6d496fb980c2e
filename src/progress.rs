//! The progress line of `scan` on a terminal: the phase, and hosts and files done of the total.
//!
//! It is drawn on standard error only when that is a terminal and `--quiet` is not given, so
//! logs and pipes never hold it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The phases of a scan, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Discovering files and telling hosts apart.
    Planning,
    /// Reading each host's evidence and running the host rules.
    Hosts,
    /// Running the fleet rules over the hosts' summaries.
    Fleet,
}

impl Phase {
    fn label(self) -> &'static str {
        match self {
            Phase::Planning => "1/3 finding the hosts",
            Phase::Hosts => "2/3 reading and checking hosts",
            Phase::Fleet => "3/3 judging the fleet",
        }
    }
}

/// A progress line, or nothing when it must not be drawn.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    hosts: usize,
    files: usize,
}

impl Progress {
    /// A progress line on standard error, unless that is not a terminal or `quiet` is set.
    pub(crate) fn start(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let progress = Progress {
            bar,
            hosts: 0,
            files: 0,
        };
        progress.phase(Phase::Planning);
        progress
    }

    /// Sets the totals of the host phase: hosts and evidence files to read.
    pub(crate) fn set_totals(&mut self, hosts: usize, files: usize) {
        self.hosts = hosts;
        self.files = files;
        if let Some(bar) = &self.bar {
            bar.set_length(files as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{bar:24}] {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .progress_chars("=> "),
            );
        }
        self.advance(0, 0);
    }

    /// Enters `phase`.
    pub(crate) fn phase(&self, phase: Phase) {
        if let Some(bar) = &self.bar {
            bar.set_prefix(phase.label());
            if phase != Phase::Hosts {
                bar.set_message(String::new());
            }
        }
    }

    /// Hosts and files done in the host phase.
    pub(crate) fn advance(&self, hosts: usize, files: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(files as u64);
            bar.set_message(self.counts(hosts, files));
        }
    }

    /// The counts the line shows.
    fn counts(&self, hosts: usize, files: usize) -> String {
        format!(
            "{hosts} of {} host(s), {files} of {} file(s)",
            self.hosts, self.files
        )
    }

    /// Clears the line (before the reports are written, so they never mix with it).
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_drawn_still_counts() {
        let mut progress = Progress::start(true);
        assert!(progress.bar.is_none(), "--quiet draws nothing");
        progress.set_totals(3, 7);
        assert_eq!(progress.counts(2, 5), "2 of 3 host(s), 5 of 7 file(s)");
        progress.finish();
    }

    #[test]
    fn phases_are_numbered_in_order() {
        let labels: Vec<&str> = [Phase::Planning, Phase::Hosts, Phase::Fleet]
            .iter()
            .map(|phase| phase.label())
            .collect();
        assert_eq!(
            labels,
            [
                "1/3 finding the hosts",
                "2/3 reading and checking hosts",
                "3/3 judging the fleet"
            ]
        );
    }
}
