//! The host's servicing packages as rules read them: `host.hotfix_packages(kb)` and
//! `host.rollup_packages(build)`, from the collector's CBS inventory.

use hiveward_collectors::ServicingPackage;
use rhai::{Array, Dynamic, Map};

use super::reads::{note_hive_read, unreadable};
use super::{HostHandle, RhaiResult};
use crate::explain::{record, Read};

/// `host.hotfix_packages(kb)`: the servicing packages of `kb` in the host's CBS inventory, each
/// `#{ identity, code, state }` (`code` the `CurrentState` REG_DWORD, `()` when it is not one;
/// `state` its name), in identity order; `()` when no inventory was collected. Throws like a
/// damaged read when damage left the inventory incomplete, or when the host's evidence cannot
/// say whether the `Packages` key exists (a `.reg` export that does not hold it).
pub(super) fn hotfix_packages(host: &HostHandle, kb: &str) -> RhaiResult<Dynamic> {
    let call = format!("host.hotfix_packages({kb:?})");
    listed(host, &call, &format!("the packages of {kb}"), |host| {
        host.0
            .hotfixes
            .packages_for(kb)
            .into_iter()
            .map(|package| package_map(package).into())
            .collect()
    })
}

/// `host.rollup_packages(build)`: the `Package_for_RollupFix` (cumulative update) packages of
/// base build `build`, each `#{ identity, version, build, ubr, code, state }` (`version` the
/// identity's version, `7601.24000.1.0`), in identity order; `()` without an inventory; throws
/// as [`hotfix_packages`] does.
pub(super) fn rollup_packages(host: &HostHandle, build: i64) -> RhaiResult<Dynamic> {
    let call = format!("host.rollup_packages({build})");
    listed(
        host,
        &call,
        &format!("the rollups of build {build}"),
        |host| {
            host.0
                .hotfixes
                .packages
                .iter()
                .filter_map(|package| {
                    let rollup = package.rollup?;
                    (i64::from(rollup.build) == build).then(|| {
                        let mut item = package_map(package);
                        let version = package.version().unwrap_or_default();
                        item.insert("version".into(), version.to_string().into());
                        item.insert("build".into(), Dynamic::from_int(i64::from(rollup.build)));
                        item.insert("ubr".into(), Dynamic::from_int(i64::from(rollup.ubr)));
                        item.into()
                    })
                })
                .collect()
        },
    )
}

/// What `select` lists from the inventory, or `()` without one; the errors of
/// [`hotfix_packages`], naming `what`.
fn listed(
    host: &HostHandle,
    call: &str,
    what: &str,
    select: impl FnOnce(&HostHandle) -> Array,
) -> RhaiResult<Dynamic> {
    let key = hiveward_collectors::CBS_PACKAGES_KEY;
    if let Some(damage) = host.0.hotfixes.unreadable.first() {
        return Err(unreadable(
            host,
            format!(
                "cannot list {what} on {}: the hotfix inventory is incomplete: {}",
                host.0.name, damage.message
            ),
        ));
    }
    if host.0.hotfixes.source.is_none() {
        // No inventory: either the key is absent, or the evidence cannot tell (that throws).
        host.0
            .registry
            .key_exists(key)
            .map_err(|error| unreadable(host, format!("cannot read {key}: {error}")))?;
        record(|| Read::fact(call.to_string(), "()".to_string()));
        return Ok(Dynamic::UNIT);
    }
    note_hive_read(host, key, None);
    let packages = select(host);
    record(|| Read::fact(call.to_string(), format!("{} package(s)", packages.len())));
    Ok(packages.into())
}

/// A package as rules see it: `#{ identity, code, state }`.
fn package_map(package: &ServicingPackage) -> Map {
    let mut item = Map::new();
    item.insert("identity".into(), package.identity.clone().into());
    item.insert(
        "code".into(),
        package
            .state_code
            .map_or(Dynamic::UNIT, |code| Dynamic::from_int(i64::from(code))),
    );
    item.insert(
        "state".into(),
        package
            .state
            .map_or(Dynamic::UNIT, |state| state.name().into()),
    );
    item
}
