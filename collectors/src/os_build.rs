//! The base build from the SYSTEM hive, for hosts whose SOFTWARE hive does not record it: first
//! from a value that records the current build exactly, else inferred from the in-box drivers.
//!
//! * **Exact** — the TPM maintenance task writes the build it runs on to
//!   `HKLM\SYSTEM\CurrentControlSet\Services\TPM\WMI\TaskOsBuildNumber` (Windows 10 and later)
//!   ([`BuildBasis::TpmTaskOsBuild`]). Other build values in SYSTEM are not used: the
//!   `Setup\Source OS (Updated on …)` keys and `Setup\BuildUpdate\SourceOSVersion` describe the
//!   release an upgrade started from, and `BuildLab` strings carry the build the release was
//!   branched at, which Windows 10 19042–19045 and Windows 11 22631 share with their base.
//! * **Inferred** — the in-box drivers carry the base build of the release their files came
//!   with ([`BuildBasis::InboxDrivers`], see `os_system`). Releases delivered as enablement
//!   packages keep their base release's drivers, so the drivers tell only a range:
//!   10.0.18362 is 18362–18363 (1903, 1909), 10.0.19041 is 19041–19045 (2004 … 22H2),
//!   10.0.22621 is 22621–22631 (Windows 11 22H2, 23H2), 10.0.26100 is 26100–26200
//!   (Windows 11 24H2, 25H2). The build is then the lowest of the range and
//!   [`OsFacts::build_range`] holds the range.
//!
//! The task's value is used only when it is a Windows 10 or later build and falls in the range
//! the drivers allow: the task runs now and then, so after a feature update it may still hold
//! the build before it.

use crate::os::{BuildBasis, FactSource, IgnoredValue, OsFacts, Platform};
use crate::os_reader::{FactReader, INBOX_DRIVERS};
use crate::os_system::infer_build_from_drivers;

/// `HKLM\SYSTEM\CurrentControlSet\Services\TPM\WMI`.
const TPM_WMI: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\TPM\WMI";
/// `HKLM\SYSTEM\CurrentControlSet\Control\Class`, where the in-box drivers are read.
const DEVICE_CLASSES: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\Class";

/// Builds the in-box drivers cannot tell apart: (driver build, highest client build, highest
/// server build). Server releases of the semi-annual channel shipped at 18363 (1909) and 19042
/// (20H2); no server release shares 22621's or 26100's drivers.
const SHARED_DRIVER_BUILDS: [(u32, u32, u32); 4] = [
    (18362, 18363, 18363),
    (19041, 19045, 19042),
    (22621, 22631, 22621),
    (26100, 26200, 26100),
];

/// A base build read from the SYSTEM hive.
pub(crate) struct SystemBuild {
    /// The build: exact, or the lowest the in-box drivers allow.
    pub(crate) build: u32,
    /// How it was found.
    pub(crate) basis: BuildBasis,
}

/// The builds that carry in-box drivers of build `base`, as `(lowest, highest)`, when there is
/// more than one for the platform (both platforms' when it is unknown).
pub(crate) fn driver_range(base: u32, platform: Option<Platform>) -> Option<(u32, u32)> {
    let (_, client, server) = SHARED_DRIVER_BUILDS
        .iter()
        .find(|(driver, _, _)| *driver == base)?;
    let high = match platform {
        Some(Platform::Server) => *server,
        Some(Platform::Client) => *client,
        None => (*client).max(*server),
    };
    (high > base).then_some((base, high))
}

/// Reads TaskOsBuildNumber and the in-box drivers; records sources, notes, ignored values and
/// damage on `reader`. `None` when neither gives a build.
pub(crate) fn read_system_build(reader: &mut FactReader<'_>) -> Option<SystemBuild> {
    let task = reader.number(TPM_WMI, "TaskOsBuildNumber");
    let (drivers, damage) = infer_build_from_drivers(reader.registry);
    for error in &damage {
        reader.record_damage(INBOX_DRIVERS, DEVICE_CLASSES, error);
    }
    reader.anything |= drivers.is_some();
    let evidence = drivers.as_ref().map(|found| {
        let skipped = if damage.is_empty() {
            String::new()
        } else {
            format!(
                "; {} driver key(s) could not be read for damage and were left out",
                damage.len()
            )
        };
        format!(
            "{} ({} of {} drivers from Microsoft carry {}.{}.{}{skipped})",
            found.path, found.drivers, found.inbox_drivers, found.major, found.minor, found.build
        )
    });
    let allowed = drivers
        .as_ref()
        .map(|found| driver_range(found.build, None).unwrap_or((found.build, found.build)));
    if let Some((number, located)) = task {
        let (low, high) = allowed.unwrap_or((10240, 99_999));
        if number >= 10240 && (low..=high).contains(&number) {
            reader.note_source("TaskOsBuildNumber", &located);
            let agreement = match &evidence {
                Some(evidence) => format!(", which the in-box driver versions in {evidence} allow"),
                None => String::new(),
            };
            reader.facts.notes.push(format!(
                "build {number} from TaskOsBuildNumber in {}{agreement}; SOFTWARE does not record the build",
                located.resolved_path
            ));
            return Some(SystemBuild {
                build: number,
                basis: BuildBasis::TpmTaskOsBuild,
            });
        }
        let expected = if allowed.is_some() {
            format!("a build within {low}-{high}, which the in-box drivers allow")
        } else {
            "a Windows 10 or later build".to_string()
        };
        reader.facts.notes.push(format!(
            "TaskOsBuildNumber {number} in {} was not used: it is not {expected} (the TPM task may not have run since a feature update)",
            located.resolved_path
        ));
        reader
            .facts
            .ignored
            .push(IgnoredValue::new(&located, &expected));
    }
    let (found, evidence) = drivers.zip(evidence)?;
    reader.facts.notes.push(format!(
        "build {} inferred from the in-box driver versions in {evidence}; SOFTWARE does not record the build",
        found.build
    ));
    reader.facts.sources.push(FactSource {
        fact: "build (in-box drivers)".to_string(),
        file: found.file,
        path: found.path,
    });
    Some(SystemBuild {
        build: found.build,
        basis: BuildBasis::InboxDrivers,
    })
}

/// Once the platform is known, records the range of builds an inferred build stands for in
/// [`OsFacts::build_range`], with a note.
pub(crate) fn record_range(facts: &mut OsFacts) {
    if facts.build_basis != Some(BuildBasis::InboxDrivers) {
        return;
    }
    let Some(build) = facts.build else {
        return;
    };
    let Some((low, high)) = driver_range(build, facts.platform) else {
        return;
    };
    facts.build_range = Some((low, high));
    facts.notes.push(format!(
        "build {low}-{high} (the in-box drivers carry 10.0.{build}, shared by {low}-{high}); SOFTWARE does not record the build"
    ));
}

/// One name for a range of releases: "Windows 10 2004" and "Windows 10 22H2" give
/// "Windows 10 2004-22H2"; names that differ in more than their last word are joined with "to".
pub(crate) fn range_name(low: &str, high: &str) -> String {
    if low == high {
        return low.to_string();
    }
    let split = |name: &str| {
        name.rsplit_once(' ')
            .map(|(head, tail)| (head.to_string(), tail.to_string()))
    };
    match (split(low), split(high)) {
        (Some((low_head, low_tail)), Some((high_head, high_tail)))
            if low_head == high_head
                && ![&low_tail, &high_tail]
                    .iter()
                    .any(|tail| tail.contains(['(', ')'])) =>
        {
            format!("{low_head} {low_tail}-{high_tail}")
        }
        _ => format!("{low} to {high}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_the_platform() {
        assert_eq!(driver_range(19041, None), Some((19041, 19045)));
        assert_eq!(
            driver_range(19041, Some(Platform::Server)),
            Some((19041, 19042))
        );
        assert_eq!(driver_range(26100, Some(Platform::Server)), None);
        assert_eq!(
            driver_range(26100, Some(Platform::Client)),
            Some((26100, 26200))
        );
        assert_eq!(driver_range(17763, None), None);
        assert_eq!(driver_range(7601, None), None);
    }

    #[test]
    fn range_names_share_their_family() {
        assert_eq!(
            range_name("Windows 10 2004", "Windows 10 22H2"),
            "Windows 10 2004-22H2"
        );
        assert_eq!(
            range_name(
                "Windows Server (build 18362)",
                "Windows Server (build 18363)"
            ),
            "Windows Server (build 18362) to Windows Server (build 18363)"
        );
        assert_eq!(range_name("Windows 7", "Windows 7"), "Windows 7");
    }
}
