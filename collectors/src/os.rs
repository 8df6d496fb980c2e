//! Reads the operating-system facts (product, build, UBR, edition, role) and the installed
//! servicing packages from a host's SOFTWARE and SYSTEM hives.
//!
//! Two readers:
//!
//! * [`read_os_facts`] reads `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion` and
//!   `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions\ProductType`, and names the release
//!   from the base build (Windows 11 still stores "Windows 10" in `ProductName`).
//! * [`read_hotfixes`] lists `Component Based Servicing\Packages` with each package's decoded
//!   `CurrentState`, and answers "is KB*n* installed?" through [`HotfixInventory::status`].
//!
//! # Values of the wrong type
//!
//! Registry data is not coerced. A value whose type does not fit what Windows writes (a
//! `REG_SZ` `UBR`, a `REG_DWORD` `ProductName`, a `CurrentBuildNumber` that is not a number,
//! a `REG_SZ` `CurrentState`) is treated as **absent** for the fact it would feed, and is
//! listed in [`OsFacts::ignored`] or [`HotfixInventory::ignored`] with the type that was found,
//! so that a rule can report it. Reading never panics on such data.
//!
//! Accepted types: strings are `REG_SZ` or `REG_EXPAND_SZ`; `UBR` and `CurrentState` are a
//! well-formed `REG_DWORD`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

use crate::error::EvidenceError;
use crate::os_system::{edition_of_sku, infer_build_from_drivers, read_product_sku};
use crate::registry::{HostRegistry, Located};
use crate::value::{RegType, RegValue};

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`.
const CURRENT_VERSION: &str = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";
/// `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions`.
const PRODUCT_OPTIONS: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions";
/// `HKLM\SOFTWARE\...\Component Based Servicing\Packages`.
const CBS_PACKAGES: &str =
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

/// What kind of machine the host is, from `ProductOptions\ProductType`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, JsonSchema)]
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
    /// Inferred from the version most in-box drivers in SYSTEM `Control\Class` carry, because
    /// SOFTWARE did not record the build. Verdicts that depend on it are inferences.
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
    fn new(located: &Located<RegValue>, expected: &str) -> IgnoredValue {
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

/// The operating system of a host, as its hives record it.
///
/// Every field is `None` when its value is absent or was ignored for its type (see
/// [`OsFacts::ignored`] and the module documentation).
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
    /// The base build, from `CurrentBuildNumber`, else `CurrentBuild`, else inferred from the
    /// SYSTEM hive's in-box driver versions (see [`OsFacts::build_basis`]).
    pub build: Option<u32>,
    /// Where [`OsFacts::build`] came from; `None` when the build is unknown.
    pub build_basis: Option<BuildBasis>,
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
}

/// Reads OS facts value by value, remembering sources and ignored values.
struct FactReader<'a> {
    registry: &'a HostRegistry,
    facts: OsFacts,
    anything: bool,
}

impl FactReader<'_> {
    fn read(&mut self, path: &str, name: &str) -> Result<Option<Located<RegValue>>, EvidenceError> {
        let found = self.registry.value(path, name)?;
        if found.is_some() {
            self.anything = true;
        }
        Ok(found)
    }

    fn note_source(&mut self, fact: &str, located: &Located<RegValue>) {
        self.facts.sources.push(FactSource {
            fact: fact.to_string(),
            file: located.file.clone(),
            path: located.resolved_path.clone(),
        });
    }

    /// A `REG_SZ`/`REG_EXPAND_SZ` value; other types are recorded as ignored.
    fn string(&mut self, path: &str, name: &str) -> Result<Option<String>, EvidenceError> {
        let Some(located) = self.read(path, name)? else {
            return Ok(None);
        };
        match (located.data.value_type, located.data.as_str()) {
            (RegType::Sz | RegType::ExpandSz, Some(text)) => {
                let text = text.to_string();
                self.note_source(name, &located);
                Ok(Some(text))
            }
            _ => {
                self.facts
                    .ignored
                    .push(IgnoredValue::new(&located, "REG_SZ"));
                Ok(None)
            }
        }
    }

    /// A string value holding a decimal number, such as `CurrentBuildNumber`.
    fn decimal_string(&mut self, path: &str, name: &str) -> Result<Option<u32>, EvidenceError> {
        let Some(located) = self.read(path, name)? else {
            return Ok(None);
        };
        let parsed = match (located.data.value_type, located.data.as_str()) {
            (RegType::Sz | RegType::ExpandSz, Some(text)) => text.trim().parse::<u32>().ok(),
            _ => None,
        };
        match parsed {
            Some(number) => {
                self.note_source(name, &located);
                Ok(Some(number))
            }
            None => {
                self.facts.ignored.push(IgnoredValue::new(
                    &located,
                    "REG_SZ holding a decimal number",
                ));
                Ok(None)
            }
        }
    }

    /// A well-formed `REG_DWORD`.
    fn dword(&mut self, path: &str, name: &str) -> Result<Option<u32>, EvidenceError> {
        let Some(located) = self.read(path, name)? else {
            return Ok(None);
        };
        let number = match located.data.value_type {
            RegType::Dword => located
                .data
                .as_integer()
                .and_then(|value| u32::try_from(value).ok()),
            _ => None,
        };
        match number {
            Some(number) => {
                self.note_source(name, &located);
                Ok(Some(number))
            }
            None => {
                self.facts
                    .ignored
                    .push(IgnoredValue::new(&located, "REG_DWORD"));
                Ok(None)
            }
        }
    }
}

/// Reads the OS facts; `None` when neither SOFTWARE nor SYSTEM holds any of the values read.
///
/// Reads `ProductName`, `CurrentVersion`, `CurrentBuildNumber` (else `CurrentBuild`), `UBR`,
/// `DisplayVersion` (else `ReleaseId`), `EditionID`, `InstallationType` and `CSDVersion` from
/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, and `ProductType` from
/// `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions`. A value of the wrong type is
/// treated as absent and listed in [`OsFacts::ignored`]. Errors come only from hives that
/// cannot be read.
pub fn read_os_facts(registry: &HostRegistry) -> Result<Option<OsFacts>, EvidenceError> {
    let mut reader = FactReader {
        registry,
        facts: OsFacts::default(),
        anything: false,
    };
    let product_name = reader.string(CURRENT_VERSION, "ProductName")?;
    let current_version = reader.string(CURRENT_VERSION, "CurrentVersion")?;
    let mut build = reader.decimal_string(CURRENT_VERSION, "CurrentBuildNumber")?;
    if build.is_none() {
        build = reader.decimal_string(CURRENT_VERSION, "CurrentBuild")?;
    }
    let ubr = reader.dword(CURRENT_VERSION, "UBR")?;
    let mut display_version = reader.string(CURRENT_VERSION, "DisplayVersion")?;
    if display_version.is_none() {
        display_version = reader.string(CURRENT_VERSION, "ReleaseId")?;
    }
    let mut edition = reader.string(CURRENT_VERSION, "EditionID")?;
    let installation_type = reader.string(CURRENT_VERSION, "InstallationType")?;
    let csd_version = reader.string(CURRENT_VERSION, "CSDVersion")?;
    let product_type = reader.string(PRODUCT_OPTIONS, "ProductType")?;
    let mut build_basis = build.map(|_| BuildBasis::CurrentVersion);
    if build.is_none() {
        if let Some(inferred) = infer_build_from_drivers(registry)? {
            reader.anything = true;
            reader.facts.notes.push(format!(
                "build {} inferred from the in-box driver versions in {} ({} of {} drivers from Microsoft carry {}.{}.{}); SOFTWARE does not record the build",
                inferred.build,
                inferred.path,
                inferred.drivers,
                inferred.inbox_drivers,
                inferred.major,
                inferred.minor,
                inferred.build
            ));
            reader.facts.sources.push(FactSource {
                fact: "build (in-box drivers)".to_string(),
                file: inferred.file.clone(),
                path: inferred.path.clone(),
            });
            build = Some(inferred.build);
            build_basis = Some(BuildBasis::InboxDrivers);
        }
    }
    let product_sku = read_product_sku(registry)?;
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
    let mut facts = reader.facts;
    facts.build_basis = build_basis;
    facts.edition_basis = edition_basis;
    facts.sku = product_sku.map(|found| found.sku);

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
        facts.notes.push(format!(
            "ProductType {raw:?} is not WinNT, ServerNT or LanmanNT; the role was not taken from it"
        ));
    }

    let (platform, platform_basis) = decide_platform(
        product_type.as_deref(),
        installation_type.as_deref(),
        edition.as_deref(),
        product_name.as_deref(),
    );

    let service_pack = service_pack(csd_version.as_deref(), build, &mut facts.notes);

    facts.name = release_name(
        build,
        platform,
        display_version.as_deref(),
        service_pack,
        product_name.as_deref(),
    );
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
    Ok(Some(facts))
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
    let version = identity.split('~').nth(4)?;
    let mut parts = version.split('.');
    let build = parts.next()?.parse().ok()?;
    let ubr = parts.next()?.parse().ok()?;
    Some(RollupBuild { build, ubr })
}

/// Reads `Component Based Servicing\Packages`: every subkey with its `CurrentState`.
///
/// An absent key gives an empty inventory with no `source`. A `CurrentState` that is absent
/// leaves the package without a state; one of the wrong type does too and is listed in
/// [`HotfixInventory::ignored`]. Errors come only from hives that cannot be read.
pub fn read_hotfixes(registry: &HostRegistry) -> Result<HotfixInventory, EvidenceError> {
    let Some(listing) = registry.subkeys(CBS_PACKAGES)? else {
        return Ok(HotfixInventory::default());
    };
    let mut packages = Vec::with_capacity(listing.data.len());
    let mut ignored = Vec::new();
    for identity in &listing.data {
        let path = format!("{CBS_PACKAGES}\\{identity}");
        let state_code = match registry.value(&path, "CurrentState")? {
            None => None,
            Some(located) => {
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
