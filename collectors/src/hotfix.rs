//! The servicing packages of a host: `Component Based Servicing\Packages` in SOFTWARE, with
//! each package's `CurrentState` decoded (DOMAIN.md B.2), and "is KB*n* installed?" answered
//! through [`HotfixInventory::status`].
//!
//! A `CurrentState` that is not a well-formed `REG_DWORD` is treated as absent and listed in
//! [`HotfixInventory::ignored`]; damage is listed in [`HotfixInventory::unreadable`] and never
//! discards the packages that can be read.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::error::{EvidenceError, Notice, NoticeLevel};
use crate::os::{FactSource, IgnoredValue};
use crate::registry::HostRegistry;
use crate::value::RegType;

/// `HKLM\SOFTWARE\...\Component Based Servicing\Packages`.
pub const CBS_PACKAGES: &str =
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

/// The servicing state of a CBS package, from its `CurrentState` DWORD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageState {
    /// 0x00.
    Absent,
    /// 0x05: uninstall pending (reboot).
    UninstallPending,
    /// 0x10.
    Resolving,
    /// 0x20.
    Resolved,
    /// 0x30.
    Staging,
    /// 0x40.
    Staged,
    /// 0x50: content replaced by a newer package.
    Superseded,
    /// 0x60: install pending (reboot).
    InstallPending,
    /// 0x65.
    PartiallyInstalled,
    /// 0x70.
    Installed,
    /// 0x80: installed and cannot be removed.
    Permanent,
    /// Any other code, kept as found.
    Unknown(u32),
}

impl PackageState {
    /// Decodes a `CurrentState` code.
    pub fn from_code(code: u32) -> PackageState {
        match code {
            0x00 => PackageState::Absent,
            0x05 => PackageState::UninstallPending,
            0x10 => PackageState::Resolving,
            0x20 => PackageState::Resolved,
            0x30 => PackageState::Staging,
            0x40 => PackageState::Staged,
            0x50 => PackageState::Superseded,
            0x60 => PackageState::InstallPending,
            0x65 => PackageState::PartiallyInstalled,
            0x70 => PackageState::Installed,
            0x80 => PackageState::Permanent,
            other => PackageState::Unknown(other),
        }
    }

    /// The `CurrentState` code.
    pub fn code(self) -> u32 {
        match self {
            PackageState::Absent => 0x00,
            PackageState::UninstallPending => 0x05,
            PackageState::Resolving => 0x10,
            PackageState::Resolved => 0x20,
            PackageState::Staging => 0x30,
            PackageState::Staged => 0x40,
            PackageState::Superseded => 0x50,
            PackageState::InstallPending => 0x60,
            PackageState::PartiallyInstalled => 0x65,
            PackageState::Installed => 0x70,
            PackageState::Permanent => 0x80,
            PackageState::Unknown(code) => code,
        }
    }

    /// The serialised name: `installed`, `superseded` …, `unknown_0x99` for other codes.
    pub fn name(self) -> String {
        let fixed = match self {
            PackageState::Absent => "absent",
            PackageState::UninstallPending => "uninstall_pending",
            PackageState::Resolving => "resolving",
            PackageState::Resolved => "resolved",
            PackageState::Staging => "staging",
            PackageState::Staged => "staged",
            PackageState::Superseded => "superseded",
            PackageState::InstallPending => "install_pending",
            PackageState::PartiallyInstalled => "partially_installed",
            PackageState::Installed => "installed",
            PackageState::Permanent => "permanent",
            PackageState::Unknown(code) => return format!("unknown_{code:#04x}"),
        };
        fixed.to_string()
    }

    /// Installed (0x70) or permanent (0x80).
    pub fn is_installed(self) -> bool {
        matches!(self, PackageState::Installed | PackageState::Permanent)
    }

    /// Waiting for a reboot to install (0x60) or uninstall (0x05).
    pub fn is_pending_reboot(self) -> bool {
        matches!(
            self,
            PackageState::InstallPending | PackageState::UninstallPending
        )
    }
}

impl std::fmt::Display for PackageState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for PackageState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl JsonSchema for PackageState {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PackageState".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "CBS CurrentState: absent (0x00), uninstall_pending (0x05), resolving (0x10), resolved (0x20), staging (0x30), staged (0x40), superseded (0x50), install_pending (0x60), partially_installed (0x65), installed (0x70), permanent (0x80); other codes appear as unknown_0x<hex>.",
            "type": "string",
            "pattern": "^([a-z_]+|unknown_0x[0-9a-f]+)$"
        })
    }
}

/// The base build and UBR a `RollupFix` (cumulative update) package brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct RollupBuild {
    /// The base build, such as 22621.
    pub build: u32,
    /// The update build revision, such as 3296.
    pub ubr: u32,
}

/// One `Component Based Servicing\Packages` subkey.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ServicingPackage {
    /// The key name, such as `Package_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.3`.
    pub identity: String,
    /// The KB the package belongs to, upper-case with its prefix (`KB2775511`).
    pub kb: Option<String>,
    /// For `Package_for_RollupFix`, the build and UBR from the identity's version.
    pub rollup: Option<RollupBuild>,
    /// The decoded `CurrentState`; `None` when it is absent or not a `REG_DWORD`.
    pub state: Option<PackageState>,
    /// The raw `CurrentState` code.
    pub state_code: Option<u32>,
}

impl ServicingPackage {
    /// Builds a package record from its identity and `CurrentState` code, parsing the KB number
    /// and rollup build from the identity.
    pub fn new(identity: impl Into<String>, state_code: Option<u32>) -> ServicingPackage {
        let identity = identity.into();
        ServicingPackage {
            kb: kb_of_identity(&identity).map(|digits| format!("KB{digits}")),
            rollup: rollup_of_identity(&identity),
            state: state_code.map(PackageState::from_code),
            state_code,
            identity,
        }
    }

    /// The version part of the identity (`6.1.1.3`, `22621.3296.1.10`), when it has one.
    pub fn version(&self) -> Option<&str> {
        identity_version(&self.identity)
    }
}

/// `name~publisher~arch~language~version` → `version`.
fn identity_version(identity: &str) -> Option<&str> {
    identity.split('~').nth(4)
}

/// Whether a KB is installed, by the states of all its packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KbStatus {
    /// A package is installed (0x70) or permanent (0x80).
    Installed,
    /// None is installed, and one is superseded (0x50): its content was replaced by a newer
    /// package.
    Superseded,
    /// None is installed or superseded, and one waits for a reboot (0x60 install pending,
    /// 0x05 uninstall pending).
    PendingReboot,
    /// No package, or only packages in other states (staged, absent, resolved …).
    Absent,
}

/// The per-KB summary of a [`HotfixInventory`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KbSummary {
    /// `KB` followed by the number.
    pub kb: String,
    /// The status over all its packages.
    pub status: KbStatus,
    /// How many packages name it.
    pub package_count: usize,
    /// The distinct package states, ordered by code.
    pub states: Vec<PackageState>,
}

/// The servicing packages of a host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HotfixInventory {
    /// Where `Component Based Servicing\Packages` was read; `None` when the key is absent.
    pub source: Option<FactSource>,
    /// One entry per KB named by a package, ordered by KB number.
    pub kbs: Vec<KbSummary>,
    /// Every package, ordered by identity (case-insensitively).
    pub packages: Vec<ServicingPackage>,
    /// `CurrentState` values that are not a well-formed `REG_DWORD`; such packages have no
    /// state and never make their KB installed.
    pub ignored: Vec<IgnoredValue>,
    /// Damage met while reading the packages, one warning per problem, each naming the file
    /// and the key or value. When it is not empty the inventory is incomplete: the package list
    /// could not be read (then `packages` is empty), or some packages are listed without the
    /// state their damaged `CurrentState` would have given. A KB that such damage hides is not
    /// known to be absent.
    pub unreadable: Vec<Notice>,
}

impl HotfixInventory {
    /// Builds an inventory from packages: sorts them and computes the per-KB summary.
    pub fn from_packages(mut packages: Vec<ServicingPackage>) -> HotfixInventory {
        packages.sort_by(|left, right| {
            left.identity
                .to_ascii_lowercase()
                .cmp(&right.identity.to_ascii_lowercase())
                .then_with(|| left.identity.cmp(&right.identity))
        });
        let mut by_kb: BTreeMap<(u64, String), Vec<&ServicingPackage>> = BTreeMap::new();
        for package in &packages {
            if let Some(digits) = package.kb.as_deref().and_then(normalise_kb) {
                let number = digits.parse::<u64>().unwrap_or(u64::MAX);
                by_kb.entry((number, digits)).or_default().push(package);
            }
        }
        let kbs = by_kb
            .into_iter()
            .map(|((_, digits), members)| {
                let mut states: Vec<PackageState> =
                    members.iter().filter_map(|package| package.state).collect();
                states.sort_by_key(|state| state.code());
                states.dedup();
                KbSummary {
                    kb: format!("KB{digits}"),
                    status: status_of(members.iter().copied()),
                    package_count: members.len(),
                    states,
                }
            })
            .collect();
        HotfixInventory {
            source: None,
            kbs,
            packages,
            ignored: Vec::new(),
            unreadable: Vec::new(),
        }
    }

    /// The packages that belong to `kb` (`KB2775511`, `kb2775511` or `2775511`). The KB
    /// matches only as a whole number: `KB5000` does not match `KB5000802`. Input that is not
    /// a KB number matches nothing.
    pub fn packages_for(&self, kb: &str) -> Vec<&ServicingPackage> {
        let Some(wanted) = normalise_kb(kb) else {
            return Vec::new();
        };
        self.packages
            .iter()
            .filter(|package| {
                package
                    .kb
                    .as_deref()
                    .and_then(normalise_kb)
                    .is_some_and(|known| known == wanted)
            })
            .collect()
    }

    /// Whether `kb` is installed: [`KbStatus::Installed`] when any of its packages is 0x70 or
    /// 0x80, else [`KbStatus::Superseded`] for 0x50, else [`KbStatus::PendingReboot`] for
    /// 0x60/0x05, else [`KbStatus::Absent`]. Matching is as in [`HotfixInventory::packages_for`].
    pub fn status(&self, kb: &str) -> KbStatus {
        status_of(self.packages_for(kb).into_iter())
    }

    /// The highest rollup build among installed or permanent `RollupFix` packages.
    pub fn installed_rollup(&self) -> Option<RollupBuild> {
        self.packages
            .iter()
            .filter(|package| package.state.is_some_and(PackageState::is_installed))
            .filter_map(|package| package.rollup)
            .max()
    }
}

fn status_of<'a>(packages: impl Iterator<Item = &'a ServicingPackage>) -> KbStatus {
    let states: Vec<PackageState> = packages.filter_map(|package| package.state).collect();
    if states.iter().any(|state| state.is_installed()) {
        KbStatus::Installed
    } else if states.contains(&PackageState::Superseded) {
        KbStatus::Superseded
    } else if states.iter().any(|state| state.is_pending_reboot()) {
        KbStatus::PendingReboot
    } else {
        KbStatus::Absent
    }
}

/// `KB2775511`, `kb2775511`, ` 2775511 ` → `2775511`; anything else → `None`.
fn normalise_kb(kb: &str) -> Option<String> {
    let trimmed = kb.trim();
    let digits = match trimmed.get(..2) {
        Some(prefix) if prefix.eq_ignore_ascii_case("kb") => &trimmed[2..],
        _ => trimmed,
    };
    (!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| digits.to_string())
}

/// The package name: the identity up to its first `~`.
fn package_name(identity: &str) -> &str {
    identity.split('~').next().unwrap_or(identity)
}

/// After `Package_for_` or `Package_<n>_for_` (any case), the rest of the package name.
fn after_package_for(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    let rest = lower.strip_prefix("package_")?;
    let skip = if let Some(after) = rest.strip_prefix("for_") {
        rest.len() - after.len()
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest[digits..].strip_prefix("_for_")?;
        digits + "_for_".len()
    };
    name.get("package_".len() + skip..)
}

/// The KB digits of `Package_for_KB<n>`, `Package_for_KB<n>_<suffix>`, `Package_<m>_for_KB<n>`.
fn kb_of_identity(identity: &str) -> Option<String> {
    let rest = after_package_for(package_name(identity))?;
    if !rest.get(..2)?.eq_ignore_ascii_case("kb") {
        return None;
    }
    let tail = &rest[2..];
    let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    match tail[digits.len()..].chars().next() {
        None | Some('_') => Some(digits),
        Some(_) => None,
    }
}

/// `Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3296.1.10` → 22621.3296.
fn rollup_of_identity(identity: &str) -> Option<RollupBuild> {
    let rest = after_package_for(package_name(identity))?;
    if !rest.eq_ignore_ascii_case("RollupFix") {
        return None;
    }
    let version = identity_version(identity)?;
    let mut parts = version.split('.');
    let build = parts.next()?.parse().ok()?;
    let ubr = parts.next()?.parse().ok()?;
    Some(RollupBuild { build, ubr })
}

/// Reads `Component Based Servicing\Packages`: every subkey with its `CurrentState`.
///
/// An absent key gives an empty inventory with no `source`. A `CurrentState` that is absent
/// leaves the package without a state; one of the wrong type does too and is listed in
/// [`HotfixInventory::ignored`]. Damage never discards what can be read: a package whose
/// `CurrentState` sits in a damaged cell is kept without a state, a package list that cannot be
/// read gives an empty inventory, and each problem is listed once in
/// [`HotfixInventory::unreadable`]. No error is returned at present; the `Result` is kept for
/// callers.
pub fn read_hotfixes(registry: &HostRegistry) -> Result<HotfixInventory, EvidenceError> {
    let listing = match registry.subkeys(CBS_PACKAGES) {
        Ok(Some(listing)) => listing,
        Ok(None) => return Ok(HotfixInventory::default()),
        // Not in a `.reg` export or a differencing hive: no inventory, as without the hive (the
        // rules that judge hotfixes read the key themselves and say it is unknown).
        Err(error) if error.is_unknown_in_file() => return Ok(HotfixInventory::default()),
        Err(error) => {
            return Ok(HotfixInventory {
                unreadable: vec![error.to_notice(NoticeLevel::Warning)],
                ..HotfixInventory::default()
            })
        }
    };
    let mut packages = Vec::with_capacity(listing.data.len());
    let mut ignored = Vec::new();
    let mut unreadable: Vec<Notice> = Vec::new();
    for identity in &listing.data {
        let path = format!("{CBS_PACKAGES}\\{identity}");
        let state_code = match registry.value(&path, "CurrentState") {
            Ok(None) => None,
            Ok(Some(located)) => {
                let code = match located.data.value_type {
                    RegType::Dword => located
                        .data
                        .as_integer()
                        .and_then(|value| u32::try_from(value).ok()),
                    _ => None,
                };
                if code.is_none() {
                    ignored.push(IgnoredValue::new(&located, "REG_DWORD"));
                }
                code
            }
            Err(error) => {
                let notice = error.to_notice(NoticeLevel::Warning);
                if !unreadable.contains(&notice) {
                    unreadable.push(notice);
                }
                None
            }
        };
        packages.push(ServicingPackage::new(identity.clone(), state_code));
    }
    let mut inventory = HotfixInventory::from_packages(packages);
    inventory.source = Some(FactSource {
        fact: "Component Based Servicing\\Packages".to_string(),
        file: listing.file,
        path: listing.resolved_path,
    });
    inventory.ignored = ignored;
    inventory.unreadable = unreadable;
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_numbers_come_from_whole_tokens() {
        let cases = [
            (
                "Package_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.3",
                Some("2775511"),
            ),
            (
                "Package_for_KB2775511_SP1~31bf3856ad364e35~amd64~~6.1.1.3",
                Some("2775511"),
            ),
            (
                "Package_1_for_KB5000802~31bf3856ad364e35~amd64~~10.0.1.8",
                Some("5000802"),
            ),
            (
                "package_12_for_kb4014329~31bf3856ad364e35~x86~~10.0.1.0",
                Some("4014329"),
            ),
            (
                "Package_for_KB2775511x~31bf3856ad364e35~amd64~~6.1.1.3",
                None,
            ),
            (
                "Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3296.1.10",
                None,
            ),
            (
                "Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~10.0.1",
                None,
            ),
            ("Package_x_for_KB1~a", None),
            ("Package_for_KB~a", None),
            ("", None),
        ];
        for (identity, expected) in cases {
            assert_eq!(kb_of_identity(identity).as_deref(), expected, "{identity}");
        }
    }

    #[test]
    fn rollups_carry_build_and_ubr() {
        assert_eq!(
            rollup_of_identity("Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3296.1.10"),
            Some(RollupBuild {
                build: 22621,
                ubr: 3296
            })
        );
        assert_eq!(
            rollup_of_identity("Package_for_RollupFix~31bf3856ad364e35~amd64~~x"),
            None
        );
        assert_eq!(rollup_of_identity("Package_for_RollupFix"), None);
    }

    #[test]
    fn kb_input_is_normalised() {
        assert_eq!(normalise_kb("kb2775511").as_deref(), Some("2775511"));
        assert_eq!(normalise_kb(" KB2775511 ").as_deref(), Some("2775511"));
        assert_eq!(normalise_kb("2775511").as_deref(), Some("2775511"));
        assert_eq!(normalise_kb("KB"), None);
        assert_eq!(normalise_kb("KB27x"), None);
        assert_eq!(normalise_kb("ü"), None);
        assert_eq!(normalise_kb("€"), None);
        assert_eq!(kb_of_identity("Package_for_€"), None);
    }

    #[test]
    fn unknown_state_codes_keep_their_number() {
        let state = PackageState::from_code(0x99);
        assert_eq!(state, PackageState::Unknown(0x99));
        assert_eq!(state.code(), 0x99);
        assert_eq!(state.name(), "unknown_0x99");
        assert_eq!(PackageState::from_code(0x65).name(), "partially_installed");
        for code in [0, 5, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x65, 0x70, 0x80] {
            assert_eq!(PackageState::from_code(code).code(), code);
        }
    }
}
