//! Infers the build and the edition from the SYSTEM hive alone, for hosts whose SOFTWARE hive
//! was not collected (triage sets and corpora often hold SYSTEM only).
//!
//! * **Build** — the drivers Windows ships in the box carry the OS version as their
//!   `DriverVersion` (`6.1.7601.17514`, `10.0.16299.15` …) under
//!   `HKLM\SYSTEM\CurrentControlSet\Control\Class\{class}\NNNN`, with `ProviderName`
//!   `Microsoft`. The base build shared by most of them is the OS's base build. Service packs
//!   and feature updates re-stamp the in-box drivers, so the most common version follows them
//!   (a Windows 7 SP1 hive has 148 drivers at 7601 and 44 still at 7600). This is an inference,
//!   and [`BuildBasis::InboxDrivers`] says so; rules mark verdicts that depend on it as inferred.
//! * **Edition** — `Control\ProductOptions\ProductPolicy` holds the licensing policy values,
//!   among them `Kernel-ProductInfo`, the product type (SKU) number `GetProductInfo` returns.
//!   Windows 10 and later also write `OSProductPfn` (`Microsoft.Windows.48.X19-…`), whose third
//!   part is the same number. The number is mapped to the `EditionID` Windows writes in SOFTWARE.
//!
//! No crate decodes `ProductPolicy`, so [`product_policy_dword`] reads it by hand: a 20-byte
//! header, then entries of a 16-byte header (entry size, name size, type, data size, flags,
//! reserved), the UTF-16 name and the data. Malformed data ends the walk without a result.

use std::collections::BTreeMap;

use crate::error::EvidenceError;
use crate::registry::HostRegistry;
use crate::value::RegData;

/// `HKLM\SYSTEM\CurrentControlSet\Control\Class`.
const DEVICE_CLASSES: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\Class";
/// `HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions`.
pub const PRODUCT_OPTIONS: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions";
/// Fewer in-box drivers than this do not make a build.
const MIN_INBOX_DRIVERS: usize = 3;

/// A base build inferred from the versions of the in-box drivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverBuild {
    /// The NT major version (6, 10 …).
    pub major: u32,
    /// The NT minor version.
    pub minor: u32,
    /// The base build.
    pub build: u32,
    /// How many in-box drivers carry that version.
    pub drivers: usize,
    /// How many in-box drivers were read.
    pub inbox_drivers: usize,
    /// The key the drivers were read under, with the control set resolved.
    pub path: String,
    /// The evidence file.
    pub file: std::path::PathBuf,
}

/// The base build most in-box (`ProviderName` `Microsoft`) drivers carry; `None` when fewer
/// than three in-box drivers with a version are recorded. Ties go to the higher build.
///
/// Damage never stops the count: a class or driver key that cannot be read is left out and its
/// error returned beside the result, as is the error when `Control\Class` itself cannot be
/// listed (then there is no result).
pub fn infer_build_from_drivers(
    registry: &HostRegistry,
) -> (Option<DriverBuild>, Vec<EvidenceError>) {
    let mut damage = Vec::new();
    let classes = match registry.subkeys(DEVICE_CLASSES) {
        Ok(Some(classes)) => classes,
        Ok(None) => return (None, damage),
        Err(error) => {
            damage.push(error);
            return (None, damage);
        }
    };
    let mut counts: BTreeMap<(u32, u32, u32), usize> = BTreeMap::new();
    let mut inbox_drivers = 0;
    for class in &classes.data {
        let class_path = format!(r"{DEVICE_CLASSES}\{class}");
        let instances = match registry.subkeys(&class_path) {
            Ok(Some(instances)) => instances,
            Ok(None) => continue,
            Err(error) => {
                damage.push(error);
                continue;
            }
        };
        for instance in &instances.data {
            // Device instances are numbered 0000, 0001 …; other subkeys (Properties) are not drivers.
            if !instance.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let values = match registry.values(&format!(r"{class_path}\{instance}")) {
                Ok(Some(values)) => values,
                Ok(None) => continue,
                Err(error) => {
                    damage.push(error);
                    continue;
                }
            };
            let text = |name: &str| {
                values.data.iter().find_map(|value| match &value.data {
                    RegData::String(text) if value.name.eq_ignore_ascii_case(name) => {
                        Some(text.trim().to_string())
                    }
                    _ => None,
                })
            };
            let inbox = text("ProviderName").is_some_and(|provider| provider == "Microsoft");
            let version = text("DriverVersion").and_then(|version| parse_nt_version(&version));
            if let (true, Some(version)) = (inbox, version) {
                inbox_drivers += 1;
                *counts.entry(version).or_default() += 1;
            }
        }
    }
    let best = counts
        .into_iter()
        .max_by_key(|&((major, minor, build), count)| (count, major, minor, build));
    let found = match best {
        Some(((major, minor, build), drivers)) if inbox_drivers >= MIN_INBOX_DRIVERS => {
            Some(DriverBuild {
                major,
                minor,
                build,
                drivers,
                inbox_drivers,
                path: classes.resolved_path,
                file: classes.file,
            })
        }
        _ => None,
    };
    (found, damage)
}

/// `major.minor.build[.revision]` of an NT release (major 5, 6 or 10); `None` otherwise.
fn parse_nt_version(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.split('.').map(|part| part.trim().parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next()?.ok()?;
    let build = parts.next()?.ok()?;
    let plausible = matches!(major, 5 | 6 | 10) && minor <= 4 && build >= 2195;
    plausible.then_some((major, minor, build))
}

/// The product type number (SKU) and where it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSku {
    /// The `GetProductInfo` product type.
    pub sku: u32,
    /// `ProductPolicy` or `OSProductPfn`.
    pub value_name: &'static str,
    /// The key, with the control set resolved.
    pub path: String,
    /// The evidence file.
    pub file: std::path::PathBuf,
}

/// The SKU from `ProductPolicy`'s `Kernel-ProductInfo`, else from `OSProductPfn`.
///
/// A value that cannot be read for damage is passed over, and its error returned beside the
/// result with the value's name.
pub fn read_product_sku(
    registry: &HostRegistry,
) -> (Option<ProductSku>, Vec<(&'static str, EvidenceError)>) {
    let mut damage = Vec::new();
    match registry.value(PRODUCT_OPTIONS, "ProductPolicy") {
        Ok(Some(found)) => {
            if let RegData::Bytes(blob) = &found.data.data {
                if let Some(sku) = product_policy_dword(blob, "Kernel-ProductInfo") {
                    let sku = ProductSku {
                        sku,
                        value_name: "ProductPolicy",
                        path: found.resolved_path,
                        file: found.file,
                    };
                    return (Some(sku), damage);
                }
            }
        }
        Ok(None) => {}
        Err(error) => damage.push(("ProductPolicy", error)),
    }
    match registry.value(PRODUCT_OPTIONS, "OSProductPfn") {
        Ok(Some(found)) => {
            if let Some(sku) = found.data.as_str().and_then(sku_of_product_pfn) {
                let sku = ProductSku {
                    sku,
                    value_name: "OSProductPfn",
                    path: found.resolved_path,
                    file: found.file,
                };
                return (Some(sku), damage);
            }
        }
        Ok(None) => {}
        Err(error) => damage.push(("OSProductPfn", error)),
    }
    (None, damage)
}

/// `Microsoft.Windows.48.X19-98843_8wekyb3d8bbwe` → 48.
fn sku_of_product_pfn(pfn: &str) -> Option<u32> {
    let mut parts = pfn.trim().split('.');
    let (vendor, product) = (parts.next()?, parts.next()?);
    if !vendor.eq_ignore_ascii_case("Microsoft") || !product.eq_ignore_ascii_case("Windows") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// The DWORD policy value `name` of a `ProductPolicy` blob; `None` when it is missing, not a
/// DWORD, or the blob is malformed.
pub fn product_policy_dword(blob: &[u8], name: &str) -> Option<u32> {
    const HEADER: usize = 20;
    const ENTRY_HEADER: usize = 16;
    const TYPE_DWORD: u16 = 4;
    let u16_at = |at: usize| {
        blob.get(at..at + 2)
            .map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]))
    };
    let u32_at = |at: usize| {
        blob.get(at..at + 4)
            .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let entries_size = usize::try_from(u32_at(4)?).ok()?;
    let end = HEADER.checked_add(entries_size)?.min(blob.len());
    let mut at = HEADER;
    while at + ENTRY_HEADER <= end {
        let entry_size = usize::from(u16_at(at)?);
        let name_size = usize::from(u16_at(at + 2)?);
        let data_type = u16_at(at + 4)?;
        let data_size = usize::from(u16_at(at + 6)?);
        if entry_size < ENTRY_HEADER + name_size + data_size || at + entry_size > end {
            return None;
        }
        let name_bytes = blob.get(at + ENTRY_HEADER..at + ENTRY_HEADER + name_size)?;
        let units: Vec<u16> = name_bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        let entry_name = String::from_utf16_lossy(&units);
        if entry_name.trim_end_matches('\0') == name {
            if data_type != TYPE_DWORD || data_size != 4 {
                return None;
            }
            return u32_at(at + ENTRY_HEADER + name_size);
        }
        at += entry_size;
    }
    None
}

/// The `EditionID` Windows writes for a product type (`GetProductInfo` constants); `None` for
/// numbers without a known edition.
pub fn edition_of_sku(sku: u32) -> Option<&'static str> {
    Some(match sku {
        1 => "Ultimate",
        2 => "HomeBasic",
        3 => "HomePremium",
        4 => "Enterprise",
        5 => "HomeBasicN",
        6 => "Business",
        7 => "ServerStandard",
        8 => "ServerDatacenter",
        10 => "ServerEnterprise",
        11 => "Starter",
        12 => "ServerDatacenterCore",
        13 => "ServerStandardCore",
        14 => "ServerEnterpriseCore",
        16 => "BusinessN",
        26 => "HomePremiumN",
        27 => "EnterpriseN",
        28 => "UltimateN",
        48 => "Professional",
        49 => "ProfessionalN",
        98 => "CoreN",
        99 => "CoreCountrySpecific",
        100 => "CoreSingleLanguage",
        101 => "Core",
        121 => "Education",
        122 => "EducationN",
        125 => "EnterpriseS",
        126 => "EnterpriseSN",
        161 => "ProfessionalWorkstation",
        162 => "ProfessionalWorkstationN",
        164 => "ProfessionalEducation",
        165 => "ProfessionalEducationN",
        175 => "ServerRdsh",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_entry(name: &str, data_type: u16, data: &[u8]) -> Vec<u8> {
        let name_bytes: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut size = 16 + name_bytes.len() + data.len();
        size += (4 - size % 4) % 4;
        let mut entry = Vec::new();
        entry.extend((size as u16).to_le_bytes());
        entry.extend((name_bytes.len() as u16).to_le_bytes());
        entry.extend(data_type.to_le_bytes());
        entry.extend((data.len() as u16).to_le_bytes());
        entry.extend([0u8; 8]);
        entry.extend(&name_bytes);
        entry.extend(data);
        entry.resize(size, 0);
        entry
    }

    fn policy_blob(entries: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = entries.concat();
        let mut blob = Vec::new();
        blob.extend(((20 + body.len() + 4) as u32).to_le_bytes());
        blob.extend((body.len() as u32).to_le_bytes());
        blob.extend(4u32.to_le_bytes());
        blob.extend(0u32.to_le_bytes());
        blob.extend(1u32.to_le_bytes());
        blob.extend(body);
        blob.extend(0x45u32.to_le_bytes());
        blob
    }

    #[test]
    fn finds_the_dword_among_other_entries() {
        let blob = policy_blob(&[
            policy_entry("Kernel-MUI-Language-Allowed", 1, &[b'x', 0, 0, 0]),
            policy_entry("Kernel-ProductInfo", 4, &48u32.to_le_bytes()),
        ]);
        assert_eq!(product_policy_dword(&blob, "Kernel-ProductInfo"), Some(48));
        assert_eq!(product_policy_dword(&blob, "Kernel-Missing"), None);
    }

    #[test]
    fn a_non_dword_or_malformed_entry_gives_nothing() {
        let blob = policy_blob(&[policy_entry("Kernel-ProductInfo", 1, b"4\0\0\0")]);
        assert_eq!(product_policy_dword(&blob, "Kernel-ProductInfo"), None);
        let mut truncated = policy_blob(&[policy_entry("Kernel-ProductInfo", 4, &[1, 0, 0, 0])]);
        truncated.truncate(30);
        assert_eq!(product_policy_dword(&truncated, "Kernel-ProductInfo"), None);
        // An entry that claims to be smaller than its own header must not loop or panic.
        let mut zero = policy_blob(&[policy_entry("A", 4, &[1, 0, 0, 0])]);
        zero[20] = 0;
        zero[21] = 0;
        assert_eq!(product_policy_dword(&zero, "A"), None);
        assert_eq!(product_policy_dword(&[], "A"), None);
    }

    #[test]
    fn reads_the_sku_from_a_product_pfn() {
        assert_eq!(
            sku_of_product_pfn("Microsoft.Windows.121.X19-98885_8wekyb3d8bbwe"),
            Some(121)
        );
        assert_eq!(sku_of_product_pfn("Contoso.Windows.48.X"), None);
        assert_eq!(sku_of_product_pfn("Microsoft.Windows"), None);
    }

    #[test]
    fn parses_only_nt_versions() {
        assert_eq!(parse_nt_version("6.1.7601.17514"), Some((6, 1, 7601)));
        assert_eq!(parse_nt_version("10.0.16299.15"), Some((10, 0, 16299)));
        assert_eq!(parse_nt_version("8.4.1.1"), None);
        assert_eq!(parse_nt_version("5.1.2600.2180"), Some((5, 1, 2600)));
        assert_eq!(parse_nt_version("10.0.100.0"), None);
        assert_eq!(parse_nt_version("garbage"), None);
    }
}
