//! Reads the operating-system facts (product, build, UBR, edition, role) from a host's SOFTWARE
//! and SYSTEM hives.
//!
//! [`read_os_facts`] reads `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` and
//! `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions\ProductType`, and names the release
//! from the base build (Windows 11 still stores "Windows 10" in `ProductName`). Without a build
//! in SOFTWARE, the build comes from SYSTEM (`os_build`). The installed servicing packages are
//! read by [`read_hotfixes`](crate::read_hotfixes).
//!
//! # Values of the wrong type
//!
//! Registry data is not coerced. A value whose type does not fit what Windows writes (a
//! `REG_SZ` `UBR`, a `REG_DWORD` `ProductName`, a `CurrentBuildNumber` that is not a number)
//! is treated as **absent** for the fact it would feed, and is listed in [`OsFacts::ignored`]
//! with the type that was found, so that a rule can report it. Reading never panics on such
//! data.
//!
//! Accepted types: strings are `REG_SZ` or `REG_EXPAND_SZ`; `UBR` is a well-formed `REG_DWORD`.
//!
//! # Damage
//!
//! Facts are read one value at a time. A value in a damaged cell reads as absent for its fact,
//! and the fact is taken from the other values that give it (the role from `InstallationType`
//! when `ProductType` is damaged). A fact that stays unknown because of damage is listed in
//! [`OsFacts::unreadable`]; damage in one key never discards the facts of another key or hive.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{EvidenceError, Notice};
use crate::os_build::{range_name, read_system_build, record_range};
use crate::os_reader::FactReader;
use crate::os_system::{edition_of_sku, read_product_sku, PRODUCT_OPTIONS};
use crate::registry::{HostRegistry, Located};
use crate::value::{RegType, RegValue};

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`.
pub const CURRENT_VERSION: &str = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";

/// What kind of machine the host is, from `ProductOptions\ProductType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `WinNT`.
    Workstation,
    /// `ServerNT`: a member or stand-alone server.
    Server,
    /// `LanmanNT`.
    DomainController,
    /// Not recorded.
    #[default]
    Unknown,
}

impl Role {
    /// Maps a `ProductType` string (`WinNT`, `ServerNT`, `LanmanNT`, any case) to a role;
    /// `None` for anything else.
    pub fn from_product_type(product_type: &str) -> Option<Role> {
        let trimmed = product_type.trim();
        if trimmed.eq_ignore_ascii_case("WinNT") {
            Some(Role::Workstation)
        } else if trimmed.eq_ignore_ascii_case("ServerNT") {
            Some(Role::Server)
        } else if trimmed.eq_ignore_ascii_case("LanmanNT") {
            Some(Role::DomainController)
        } else {
            None
        }
    }
}

/// Where [`OsFacts::role`] was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleBasis {
    /// SYSTEM `ProductOptions\ProductType`: exact, tells domain controllers apart.
    ProductType,
    /// SOFTWARE `InstallationType` (`Client` → workstation, `Server*` → server), used when
    /// `ProductType` is absent, of the wrong type or not one of the three known strings.
    /// It cannot tell a domain controller from a member server.
    InstallationType,
}

/// Client or server edition of Windows, which decides the release name at shared builds
/// (14393 is Windows 10 1607 and Server 2016).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A client edition (Windows 7, 10, 11 …).
    Client,
    /// A server edition (Windows Server 2008 R2 … 2025).
    Server,
}

/// Which value decided [`OsFacts::platform`], first match wins in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformBasis {
    /// `ProductType`: `WinNT` is a client, `ServerNT` and `LanmanNT` are servers.
    ProductType,
    /// `InstallationType`: `Client`, or a name containing `Server` (`Server`, `Server Core`,
    /// `Nano Server`).
    InstallationType,
    /// `EditionID` starting with `Server` (`ServerStandard`, `ServerDatacenter` …).
    EditionId,
    /// `ProductName`: containing `Server` means a server, anything else a client.
    ProductName,
}

/// Where [`OsFacts::build`] was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuildBasis {
    /// SOFTWARE `CurrentBuildNumber` (or `CurrentBuild`): exact.
    CurrentVersion,
    /// SYSTEM `Services\TPM\WMI\TaskOsBuildNumber`, the build the TPM maintenance task last
    /// ran on, used when SOFTWARE does not record the build and it agrees with the in-box
    /// drivers: exact.
    TpmTaskOsBuild,
    /// Inferred from the version most in-box drivers in SYSTEM `Control\Class` carry, because
    /// SOFTWARE did not record the build. Verdicts that depend on it are inferences. When the
    /// drivers are shared by several builds, the build is the lowest and
    /// [`OsFacts::build_range`] holds them all.
    InboxDrivers,
}

/// Where [`OsFacts::edition`] was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EditionBasis {
    /// SOFTWARE `EditionID`.
    EditionId,
    /// The product type (SKU) in SYSTEM `ProductOptions` (`ProductPolicy`'s
    /// `Kernel-ProductInfo`, or `OSProductPfn`), mapped to its `EditionID`.
    ProductSku,
}

/// Where [`ServicePack::number`] was taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServicePackBasis {
    /// `CSDVersion` of the form `Service Pack N`.
    CsdVersion,
    /// Inferred from the base build: 7601 is SP1, 7600 is RTM (SP 0).
    Build,
}

/// The service-pack level (Windows 7 / Server 2008 R2 era).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
pub struct ServicePack {
    /// The service-pack number; 0 means RTM.
    pub number: u32,
    /// How the number was found.
    pub basis: ServicePackBasis,
}

/// Where one fact of [`OsFacts`] was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FactSource {
    /// The fact, named like the value it came from (`ProductName`, `UBR`, `ProductType` …).
    pub fact: String,
    /// The evidence file.
    pub file: PathBuf,
    /// The full key path read, with `CurrentControlSet` replaced by the set used.
    pub path: String,
}

/// A value that exists but was not used because its type or content does not fit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct IgnoredValue {
    /// The evidence file.
    pub file: PathBuf,
    /// The full key path.
    pub path: String,
    /// The value name as stored.
    pub name: String,
    /// The type found.
    pub found_type: RegType,
    /// The data found, rendered as `reg query` would print it.
    pub found: String,
    /// What was expected, such as `REG_DWORD` or `REG_SZ holding a decimal number`.
    pub expected: String,
}

impl IgnoredValue {
    pub(crate) fn new(located: &Located<RegValue>, expected: &str) -> IgnoredValue {
        IgnoredValue {
            file: located.file.clone(),
            path: located.resolved_path.clone(),
            name: located.data.name.clone(),
            found_type: located.data.value_type,
            found: located.data.display_data(),
            expected: expected.to_string(),
        }
    }
}

/// A fact of [`OsFacts`] that is unknown because the values it comes from sit in a damaged
/// part of a hive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct UnreadableFact {
    /// The fact, named like its field of [`OsFacts`]: `name`, `product_name`,
    /// `current_version`, `build`, `ubr`, `display_version`, `edition`, `service_pack`, `role`
    /// or `platform`.
    pub fact: String,
    /// The damaged evidence file.
    pub file: PathBuf,
    /// The key that was being read, with `CurrentControlSet` resolved.
    pub path: String,
    /// What is damaged, as the hive reader words it everywhere (it names the file, the key or
    /// value, and the problem).
    pub message: String,
}

impl UnreadableFact {
    /// The damage as a report warning (`hiveward::hive::corrupt`), worded as every other read
    /// of the same damage words it, so that it can be reported once per host.
    pub fn notice(&self) -> Notice {
        Notice::warning("hiveward::hive::corrupt", &self.file, self.message.clone())
    }
}

/// The operating system of a host, as its hives record it.
///
/// Every field is `None` when its value is absent, was ignored for its type (see
/// [`OsFacts::ignored`] and the module documentation) or sits in a damaged cell (see
/// [`OsFacts::unreadable`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OsFacts {
    /// The release, named from the base build and the platform: "Windows 11 23H2",
    /// "Windows Server 2019", "Windows 7 SP1", "Windows Server 2008 R2 SP1". Builds that are
    /// not in the build map are named from `DisplayVersion` ("Windows 10 1909",
    /// "Windows Server, version 1809") or, failing that, carry `ProductName` as stored.
    /// `None` when neither build nor `ProductName` is known, or the platform cannot be told.
    pub name: Option<String>,
    /// `ProductName` as stored (Windows 11 still says "Windows 10 …").
    pub product_name: Option<String>,
    /// `CurrentVersion` ("6.1" for Windows 7 / 2008 R2; frozen at "6.3" from Windows 8.1 on).
    pub current_version: Option<String>,
    /// The base build, from `CurrentBuildNumber`, else `CurrentBuild`, else SYSTEM's
    /// `TaskOsBuildNumber`, else inferred from the SYSTEM hive's in-box driver versions (see
    /// [`OsFacts::build_basis`]); an inferred build shared by several releases is the lowest of
    /// them (see [`OsFacts::build_range`]).
    pub build: Option<u32>,
    /// Where [`OsFacts::build`] came from; `None` when the build is unknown.
    pub build_basis: Option<BuildBasis>,
    /// `(lowest, highest)` base build the host may run, when the build was inferred from in-box
    /// drivers that several releases share (10.0.19041 is 19041-19045); `None` otherwise.
    pub build_range: Option<(u32, u32)>,
    /// `UBR`, the update build revision (Windows 10 / Server 2016 and later): the OS build is
    /// `build.ubr`.
    pub ubr: Option<u32>,
    /// `DisplayVersion` (20H2, 23H2 …), else `ReleaseId` (1507 … 2009).
    pub display_version: Option<String>,
    /// `EditionID` (Professional, Enterprise, ServerStandard …), else the edition of the
    /// product type SYSTEM records (see [`OsFacts::edition_basis`]).
    pub edition: Option<String>,
    /// Where [`OsFacts::edition`] came from; `None` when the edition is unknown.
    pub edition_basis: Option<EditionBasis>,
    /// The product type number (`GetProductInfo` SKU) from SYSTEM `ProductPolicy` or
    /// `OSProductPfn`, when recorded.
    pub sku: Option<u32>,
    /// `InstallationType` (Client, Server, Server Core).
    pub installation_type: Option<String>,
    /// `CSDVersion` as stored ("Service Pack 1"; absent on RTM and on Windows 8 and later).
    pub csd_version: Option<String>,
    /// The service-pack level, from `CSDVersion` or inferred from build 7600/7601.
    pub service_pack: Option<ServicePack>,
    /// `ProductType` as stored in SYSTEM `ProductOptions` (`WinNT`, `ServerNT`, `LanmanNT`).
    pub product_type: Option<String>,
    /// The role, from `ProductType`, else from `InstallationType`.
    pub role: Role,
    /// Where the role came from; `None` when it is [`Role::Unknown`].
    pub role_basis: Option<RoleBasis>,
    /// Client or server edition; `None` when nothing tells.
    pub platform: Option<Platform>,
    /// Which value decided the platform.
    pub platform_basis: Option<PlatformBasis>,
    /// Where each fact was read, in reading order.
    pub sources: Vec<FactSource>,
    /// Values present but not used because of their type or content.
    pub ignored: Vec<IgnoredValue>,
    /// The facts that are unknown (`None`, or [`Role::Unknown`]) because a value they come from
    /// sits in a damaged cell, one entry per fact. A fact had from other values despite the
    /// damage is not listed (the damage is then in [`OsFacts::notes`]).
    pub unreadable: Vec<UnreadableFact>,
    /// Remarks on inconsistent data, such as a `CSDVersion` that contradicts the build.
    pub notes: Vec<String>,
}

impl OsFacts {
    /// `build.ubr` (such as `22631.3296`), when both are known.
    pub fn os_build(&self) -> Option<String> {
        Some(format!("{}.{}", self.build?, self.ubr?))
    }

    /// Whether the platform is a server edition.
    pub fn is_server(&self) -> bool {
        self.platform == Some(Platform::Server)
    }

    /// Why the fact named `field` (an [`OsFacts`] field name such as `build` or `role`) is
    /// unknown, when damage is the reason.
    pub fn unreadable_fact(&self, field: &str) -> Option<&UnreadableFact> {
        self.unreadable.iter().find(|fact| fact.fact == field)
    }
}

/// Reads the OS facts; `None` when neither SOFTWARE nor SYSTEM holds any of the values read
/// and no damage was met on the way.
///
/// Reads `ProductName`, `CurrentVersion`, `CurrentBuildNumber` (else `CurrentBuild`), `UBR`,
/// `DisplayVersion` (else `ReleaseId`), `EditionID`, `InstallationType` and `CSDVersion` from
/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, and `ProductType` from
/// `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions`. A value of the wrong type is
/// treated as absent and listed in [`OsFacts::ignored`]. Damage is met value by value: it never
/// discards the facts of other values, keys or hives, and the facts it leaves unknown are
/// listed in [`OsFacts::unreadable`]. No error is returned at present; the `Result` is kept for
/// callers.
pub fn read_os_facts(registry: &HostRegistry) -> Result<Option<OsFacts>, EvidenceError> {
    let mut reader = FactReader::new(registry);
    let product_name = reader.string(CURRENT_VERSION, "ProductName");
    let current_version = reader.string(CURRENT_VERSION, "CurrentVersion");
    let mut build = reader.decimal_string(CURRENT_VERSION, "CurrentBuildNumber");
    if build.is_none() {
        build = reader.decimal_string(CURRENT_VERSION, "CurrentBuild");
    }
    let ubr = reader.dword(CURRENT_VERSION, "UBR");
    let mut display_version = reader.string(CURRENT_VERSION, "DisplayVersion");
    if display_version.is_none() {
        display_version = reader.string(CURRENT_VERSION, "ReleaseId");
    }
    let mut edition = reader.string(CURRENT_VERSION, "EditionID");
    let installation_type = reader.string(CURRENT_VERSION, "InstallationType");
    let csd_version = reader.string(CURRENT_VERSION, "CSDVersion");
    let product_type = reader.string(PRODUCT_OPTIONS, "ProductType");
    let mut build_basis = build.map(|_| BuildBasis::CurrentVersion);
    if build.is_none() {
        if let Some(found) = read_system_build(&mut reader) {
            build = Some(found.build);
            build_basis = Some(found.basis);
        }
    }
    let (product_sku, sku_damage) = read_product_sku(registry);
    for (name, error) in &sku_damage {
        reader.record_damage(name, PRODUCT_OPTIONS, error);
    }
    let mut edition_basis = edition.as_ref().map(|_| EditionBasis::EditionId);
    if let Some(found) = &product_sku {
        reader.anything = true;
        reader.facts.sources.push(FactSource {
            fact: format!("product type ({})", found.value_name),
            file: found.file.clone(),
            path: found.path.clone(),
        });
        if edition.is_none() {
            match edition_of_sku(found.sku) {
                Some(name) => {
                    edition = Some(name.to_string());
                    edition_basis = Some(EditionBasis::ProductSku);
                }
                None => reader.facts.notes.push(format!(
                    "product type {} in {} has no known edition name",
                    found.sku, found.value_name
                )),
            }
        }
    }
    if !reader.anything {
        return Ok(None);
    }

    let (role, role_basis) = match product_type.as_deref().and_then(Role::from_product_type) {
        Some(role) => (role, Some(RoleBasis::ProductType)),
        None => match installation_type
            .as_deref()
            .and_then(platform_of_installation)
        {
            Some(Platform::Client) => (Role::Workstation, Some(RoleBasis::InstallationType)),
            Some(Platform::Server) => (Role::Server, Some(RoleBasis::InstallationType)),
            None => (Role::Unknown, None),
        },
    };
    if let Some(raw) = product_type
        .as_deref()
        .filter(|raw| Role::from_product_type(raw).is_none())
    {
        reader.facts.notes.push(format!(
            "ProductType {raw:?} is not WinNT, ServerNT or LanmanNT; the role was not taken from it"
        ));
    }

    let (platform, platform_basis) = decide_platform(
        product_type.as_deref(),
        installation_type.as_deref(),
        edition.as_deref(),
        product_name.as_deref(),
    );

    let service_pack = service_pack(csd_version.as_deref(), build, &mut reader.facts.notes);

    let facts = &mut reader.facts;
    facts.build_basis = build_basis;
    facts.edition_basis = edition_basis;
    facts.sku = product_sku.map(|found| found.sku);
    facts.product_name = product_name;
    facts.current_version = current_version;
    facts.build = build;
    facts.ubr = ubr;
    facts.display_version = display_version;
    facts.edition = edition;
    facts.installation_type = installation_type;
    facts.csd_version = csd_version;
    facts.service_pack = service_pack;
    facts.product_type = product_type;
    facts.role = role;
    facts.role_basis = role_basis;
    facts.platform = platform;
    facts.platform_basis = platform_basis;
    record_range(facts);
    facts.name = match facts.build_range {
        Some((low, high)) => {
            let name_of = |build| {
                release_name(
                    Some(build),
                    platform,
                    facts.display_version.as_deref(),
                    service_pack,
                    facts.product_name.as_deref(),
                )
            };
            match (name_of(low), name_of(high)) {
                (Some(low), Some(high)) => Some(range_name(&low, &high)),
                (low, high) => low.or(high),
            }
        }
        None => release_name(
            build,
            platform,
            facts.display_version.as_deref(),
            service_pack,
            facts.product_name.as_deref(),
        ),
    };
    Ok(Some(reader.finish()))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn platform_of_installation(installation_type: &str) -> Option<Platform> {
    let trimmed = installation_type.trim();
    if trimmed.eq_ignore_ascii_case("Client") {
        Some(Platform::Client)
    } else if contains_ignore_case(trimmed, "server") {
        Some(Platform::Server)
    } else {
        None
    }
}

fn decide_platform(
    product_type: Option<&str>,
    installation_type: Option<&str>,
    edition: Option<&str>,
    product_name: Option<&str>,
) -> (Option<Platform>, Option<PlatformBasis>) {
    if let Some(role) = product_type.and_then(Role::from_product_type) {
        let platform = match role {
            Role::Workstation => Platform::Client,
            _ => Platform::Server,
        };
        return (Some(platform), Some(PlatformBasis::ProductType));
    }
    if let Some(platform) = installation_type.and_then(platform_of_installation) {
        return (Some(platform), Some(PlatformBasis::InstallationType));
    }
    if let Some(edition) = edition {
        if edition.trim().to_ascii_lowercase().starts_with("server") {
            return (Some(Platform::Server), Some(PlatformBasis::EditionId));
        }
    }
    if let Some(name) = product_name {
        let platform = if contains_ignore_case(name, "server") {
            Platform::Server
        } else {
            Platform::Client
        };
        return (Some(platform), Some(PlatformBasis::ProductName));
    }
    (None, None)
}

/// Parses `Service Pack N` (any case, surrounding text allowed after the number).
fn parse_csd_version(csd: &str) -> Option<u32> {
    let lower = csd.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("service pack")?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn service_pack(
    csd: Option<&str>,
    build: Option<u32>,
    notes: &mut Vec<String>,
) -> Option<ServicePack> {
    let inferred = match build {
        Some(7601) => Some(1),
        Some(7600) => Some(0),
        _ => None,
    };
    match csd.and_then(parse_csd_version) {
        Some(number) => {
            if let (Some(expected), Some(build)) = (inferred, build) {
                if expected != number {
                    notes.push(format!(
                        "CSDVersion says service pack {number} but build {build} means service pack {expected}; CSDVersion was used"
                    ));
                }
            }
            Some(ServicePack {
                number,
                basis: ServicePackBasis::CsdVersion,
            })
        }
        None => inferred.map(|number| ServicePack {
            number,
            basis: ServicePackBasis::Build,
        }),
    }
}

/// Windows 10 / 11 release labels by base build.
const CLIENT_RELEASES: [(u32, &str); 19] = [
    (10240, "1507"),
    (10586, "1511"),
    (14393, "1607"),
    (15063, "1703"),
    (16299, "1709"),
    (17134, "1803"),
    (17763, "1809"),
    (18362, "1903"),
    (18363, "1909"),
    (19041, "2004"),
    (19042, "20H2"),
    (19043, "21H1"),
    (19044, "21H2"),
    (19045, "22H2"),
    (22000, "21H2"),
    (22621, "22H2"),
    (22631, "23H2"),
    (26100, "24H2"),
    (26200, "25H2"),
];

/// Long-term server releases by base build.
const SERVER_RELEASES: [(u32, &str); 4] = [
    (14393, "Windows Server 2016"),
    (17763, "Windows Server 2019"),
    (20348, "Windows Server 2022"),
    (26100, "Windows Server 2025"),
];

fn lookup<'a>(table: &[(u32, &'a str)], build: u32) -> Option<&'a str> {
    table
        .iter()
        .find(|(known, _)| *known == build)
        .map(|(_, label)| *label)
}

/// Names the release from the base build (DOMAIN.md B.1 build map).
fn release_name(
    build: Option<u32>,
    platform: Option<Platform>,
    display_version: Option<&str>,
    service_pack: Option<ServicePack>,
    product_name: Option<&str>,
) -> Option<String> {
    let fallback = || product_name.map(|name| name.trim().to_string());
    let (Some(build), Some(platform)) = (build, platform) else {
        return fallback();
    };
    let server = platform == Platform::Server;
    let sp_suffix = match service_pack {
        Some(pack) if pack.number > 0 => format!(" SP{}", pack.number),
        _ => String::new(),
    };
    let display = display_version
        .map(str::trim)
        .filter(|label| !label.is_empty());
    let name = match build {
        2195 if server => "Windows 2000 Server".to_string(),
        2195 => "Windows 2000".to_string(),
        2600 => "Windows XP".to_string(),
        3790 if server => "Windows Server 2003".to_string(),
        3790 => "Windows XP x64".to_string(),
        6000..=6003 if server => "Windows Server 2008".to_string(),
        6000..=6003 => "Windows Vista".to_string(),
        7600 | 7601 if server => format!("Windows Server 2008 R2{sp_suffix}"),
        7600 | 7601 => format!("Windows 7{sp_suffix}"),
        9200 if server => "Windows Server 2012".to_string(),
        9200 => "Windows 8".to_string(),
        9600 if server => "Windows Server 2012 R2".to_string(),
        9600 => "Windows 8.1".to_string(),
        10240.. if server => match lookup(&SERVER_RELEASES, build) {
            Some(name) => name.to_string(),
            None => match display {
                Some(label) => format!("Windows Server, version {label}"),
                None => format!("Windows Server (build {build})"),
            },
        },
        10240.. => {
            let family = if build >= 22000 {
                "Windows 11"
            } else {
                "Windows 10"
            };
            match lookup(&CLIENT_RELEASES, build).or(display) {
                Some(label) => format!("{family} {label}"),
                None => family.to_string(),
            }
        }
        _ => return fallback(),
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csd_version_and_names() {
        assert_eq!(parse_csd_version("Service Pack 1"), Some(1));
        assert_eq!(parse_csd_version("service pack 2, v.3244"), Some(2));
        assert_eq!(parse_csd_version("SP1"), None);
        let sp1 = Some(ServicePack {
            number: 1,
            basis: ServicePackBasis::Build,
        });
        assert_eq!(
            release_name(Some(7601), Some(Platform::Server), None, sp1, None).as_deref(),
            Some("Windows Server 2008 R2 SP1")
        );
        assert_eq!(
            release_name(
                Some(19045),
                Some(Platform::Client),
                Some("22H2"),
                None,
                None
            )
            .as_deref(),
            Some("Windows 10 22H2")
        );
        assert_eq!(
            release_name(
                Some(25398),
                Some(Platform::Server),
                Some("23H2"),
                None,
                None
            )
            .as_deref(),
            Some("Windows Server, version 23H2")
        );
        assert_eq!(
            release_name(
                Some(6002),
                Some(Platform::Server),
                None,
                None,
                Some("Windows Server (R) 2008 Standard")
            )
            .as_deref(),
            Some("Windows Server 2008")
        );
        // Builds outside the map keep ProductName as stored.
        assert_eq!(
            release_name(
                Some(5000),
                Some(Platform::Server),
                None,
                None,
                Some("Windows Server (R) 2008 Standard")
            )
            .as_deref(),
            Some("Windows Server (R) 2008 Standard")
        );
        assert_eq!(release_name(None, None, None, None, None), None);
    }
}
