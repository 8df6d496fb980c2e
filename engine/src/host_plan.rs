//! Where the host phase finds the planned hosts: a slice in memory, or a [`SpooledPlan`] that
//! keeps a large bundle's plan in a temporary file and reads each host as a worker takes it.
//!
//! The plan holds every evidence file's record (its path, kind, state and notices): about
//! 1.7 KB per host of two hives, which at 100,000 hosts was most of a scan's memory for the
//! whole host phase and after it.

use std::borrow::Cow;

use hiveward_collectors::PlannedHost;

use crate::spool::Spool;

/// The planned hosts of a scan, by position in the plan.
pub trait HostPlan: Sync {
    /// How many hosts.
    fn host_count(&self) -> usize;

    /// The host at `index`, or `None` past the end (or when a spooled host cannot be read
    /// back: the spool notes it, and the report says results were lost).
    fn planned(&self, index: usize) -> Option<Cow<'_, PlannedHost>>;
}

impl HostPlan for [PlannedHost] {
    fn host_count(&self) -> usize {
        self.len()
    }

    fn planned(&self, index: usize) -> Option<Cow<'_, PlannedHost>> {
        self.get(index).map(Cow::Borrowed)
    }
}

impl HostPlan for Vec<PlannedHost> {
    fn host_count(&self) -> usize {
        self.len()
    }

    fn planned(&self, index: usize) -> Option<Cow<'_, PlannedHost>> {
        self.get(index).map(Cow::Borrowed)
    }
}

/// A plan's hosts in a temporary file: only their positions stay in memory.
#[derive(Default)]
pub struct SpooledPlan {
    hosts: Spool<PlannedHost>,
}

impl SpooledPlan {
    /// Moves `hosts` to a temporary file, in order.
    pub fn new(hosts: Vec<PlannedHost>) -> SpooledPlan {
        let spooled = SpooledPlan::default();
        for host in hosts {
            spooled.hosts.push(&host);
        }
        spooled
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Every host, in plan order, each read when it is reached.
    pub fn stream(&self) -> impl Iterator<Item = PlannedHost> + '_ {
        self.hosts.stream()
    }
}

impl HostPlan for SpooledPlan {
    fn host_count(&self) -> usize {
        self.hosts.len()
    }

    fn planned(&self, index: usize) -> Option<Cow<'_, PlannedHost>> {
        self.hosts.get(index).map(Cow::Owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hiveward_collectors::{FileKind, FileRecord, FileStatus, GroupLayout, NameSource};

    fn planned(name: &str) -> PlannedHost {
        PlannedHost {
            name: name.to_string(),
            name_source: NameSource::Directory,
            layout: GroupLayout::Directory,
            files: vec![FileRecord {
                path: format!("/bundle/{name}/SYSTEM"),
                kind: FileKind::Hive,
                hive_kind: None,
                hive_state: None,
                logs: Vec::new(),
                status: FileStatus::Read,
                events: None,
                notices: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_spooled_plan_gives_back_the_hosts_it_was_given_by_position() {
        let hosts: Vec<PlannedHost> = (0..5_000).map(|n| planned(&format!("H{n}"))).collect();
        let spooled = SpooledPlan::new(hosts.clone());
        assert_eq!(spooled.host_count(), hosts.host_count());
        for index in [4_999, 0, 2_500, 1] {
            assert_eq!(
                spooled.planned(index).as_deref(),
                hosts.planned(index).as_deref()
            );
        }
        assert!(spooled.planned(5_000).is_none());
        assert!(spooled.stream().eq(hosts.into_iter()));
    }
}
