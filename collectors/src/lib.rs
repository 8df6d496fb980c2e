//! Evidence discovery and readers for offline Windows registry hives and `.reg` exports.
//!
//! hiveward scans *evidence bundles*: hives saved with `REG SAVE`, raw hives from triage
//! collections (often dirty, with `.LOG1`/`.LOG2` beside them), `.reg` exports and EVTX logs.
//! This crate turns a set of paths into per-host facts:
//!
//! 1. [`discover`] walks the inputs, recognises files by content ([`sniff_file`]), pairs
//!    transaction logs with their hives, and groups files into candidate hosts for the flat
//!    `HOST_SYSTEM.HIV` layout, one folder per host, and triage trees.
//! 2. [`collect`] opens each file — hives through nt-hive over a memory map, recovered in memory
//!    when dirty — names each host from its `ComputerName`, and builds a [`HostRegistry`] that
//!    answers `HKLM\SYSTEM\CurrentControlSet\...`, `HKLM\SOFTWARE\...` and `HKCU\Software\...`
//!    paths without regard to case.
//! 3. [`read_os_facts`] and [`read_hotfixes`] read the product, build, role and servicing
//!    packages.
//! 4. [`read_evtx`] reads EVTX logs on the `evtx` crate, renders only the records the loaded
//!    rules declare ([`EventSelection`]), normalises them to [`EventRecord`]s, and reads damaged
//!    logs as far as they go. Hosts named only by their logs take the `Computer` field's first
//!    label, so they merge with the hive-based host of the same name.
//!
//! Bad input never panics: a file that cannot be read becomes a [`FileRecord`] with status
//! [`FileStatus::Unreadable`] and an [`EvidenceError`] notice, and the other files are still read.
//!
//! # Example
//!
//! ```
//! use hiveward_collectors::{collect, discover, CollectOptions, DiscoverOptions, RegExport, RegistrySource, HostRegistry};
//! use std::path::Path;
//!
//! let text = "Windows Registry Editor Version 5.00\r\n\r\n\
//!     [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters]\r\n\
//!     \"SmbServerNameHardeningLevel\"=dword:00000002\r\n";
//! let export = RegExport::parse(Path::new("FS01_lanman.reg"), text.as_bytes()).unwrap();
//! let mut registry = HostRegistry::new();
//! registry.add(RegistrySource::Export(export));
//! let level = registry
//!     .value(r"HKLM\System\CurrentControlSet\Services\LanmanServer\Parameters", "smbservernamehardeninglevel")
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(level.data.as_integer(), Some(2));
//!
//! // A whole bundle: discover, then collect.
//! let empty = discover(&[], &DiscoverOptions::default());
//! let collection = collect(empty, &CollectOptions::default());
//! assert!(collection.hosts.is_empty());
//! ```
#![deny(missing_docs)]

mod audit_policy;
mod bundle;
mod detect;
mod error;
mod evtx;
mod guard;
mod hive;
mod host;
mod hotfix;
mod identity;
mod os;
mod os_build;
mod os_reader;
mod os_system;
mod path_text;
mod recovery;
mod registry;
mod regtext;
mod value;

pub use crate::{
    audit_policy::{AuditLayout, AuditPolicy, AuditPolicyError, SubcategoryAudit, POL_ADT_EV_KEY},
    bundle::{
        discover, host_prefix, DiscoverOptions, Discovery, EvidenceFile, FileGroup, GroupLayout,
        PassedOver,
    },
    detect::{sniff_bytes, sniff_file, FileKind},
    error::{EvidenceError, Notice, NoticeLevel},
    evtx::{
        read_evtx, read_evtx_with, EventCount, EventNeedFilter, EventRecord, EventSelection,
        EvtxReadOptions, EvtxSummary, EVTX_DAMAGED_CODE,
    },
    hive::{
        base_block_checksum, BaseBlock, HiveFile, HiveKind, HiveState, Truncation, BASE_BLOCK_SIZE,
        DIFFERENCING_HIVE_CODE, TRUNCATED_HIVE_CODE,
    },
    host::{
        collect, collect_host, mark_damaged_files, plan, CollectOptions, Collection, FileRecord,
        FileStatus, Host, NameSource, Plan, PlannedHost, DEFAULT_CONTROL_SET_KEYS,
    },
    hotfix::{
        read_hotfixes, HotfixInventory, KbStatus, KbSummary, PackageState, RollupBuild,
        ServicingPackage, CBS_PACKAGES as CBS_PACKAGES_KEY,
    },
    os::{
        read_os_facts, BuildBasis, EditionBasis, FactSource, IgnoredValue, OsFacts, Platform,
        PlatformBasis, Role, RoleBasis, ServicePack, ServicePackBasis, UnreadableFact,
        CURRENT_VERSION as OS_CURRENT_VERSION_KEY,
    },
    os_system::PRODUCT_OPTIONS as OS_PRODUCT_OPTIONS_KEY,
    path_text::{path_from_text, path_text},
    recovery::{recover, Recovered, RecoveryError, SkippedLog, TransactionLogInput},
    registry::{
        is_control_set_name, short_root_name, ControlSetChoice, HostRegistry, Located, RegPath,
        RegistrySource, SourceDisagreement, SOURCES_DISAGREE_CODE,
    },
    regtext::{LostValue, RawRegValue, RegExport, RegExportKey},
    value::{
        encode_utf16_sz, filetime_to_rfc3339, rfc3339_to_filetime, to_hex, RegData, RegType,
        RegValue,
    },
};
