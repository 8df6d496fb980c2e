//! The hotfix inventory from Component Based Servicing.

use super::*;

const CBS: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages";

/// A SOFTWARE hive with one CBS package per `(identity, CurrentState line)`.
fn cbs_text(packages: &[(&str, &str)]) -> String {
    let mut text = software_text(&[r#""CurrentBuildNumber"="7601""#]);
    for (identity, state) in packages {
        text.push_str(&format!("\r\n[{CBS}\\{identity}]\r\n{state}\r\n"));
    }
    text
}

fn hotfix_registry() -> HostRegistry {
    let text = cbs_text(&[
        // Installed, with a superseded sibling: installed wins.
        (
            "Package_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.3",
            r#""CurrentState"=dword:00000070"#,
        ),
        (
            "Package_for_KB2775511_SP1~31bf3856ad364e35~amd64~~6.1.1.3",
            r#""CurrentState"=dword:00000050"#,
        ),
        // Permanent through a numbered package.
        (
            "Package_1_for_KB2732673~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000080"#,
        ),
        // Superseded only.
        (
            "Package_for_KB2728738~31bf3856ad364e35~amd64~~6.1.1.1",
            r#""CurrentState"=dword:00000050"#,
        ),
        // Install pending, and an uninstall pending.
        (
            "Package_for_KB2878378~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000060"#,
        ),
        (
            "Package_for_KB3000000_SP1~31bf3856ad364e35~amd64~~6.1.1.0",
            r#""CurrentState"=dword:00000005"#,
        ),
        // Installed KB5000802: KB5000 must not match it.
        (
            "Package_for_KB5000802~31bf3856ad364e35~amd64~~10.0.1.8",
            r#""CurrentState"=dword:00000070"#,
        ),
        // Staged only: not installed.
        (
            "Package_for_KB4000000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"=dword:00000040"#,
        ),
        // An unknown code and a CurrentState of the wrong type.
        (
            "Package_for_KB4100000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"=dword:00000099"#,
        ),
        (
            "Package_for_KB4200000~31bf3856ad364e35~amd64~~10.0.1.0",
            r#""CurrentState"="112""#,
        ),
        // A cumulative update identified by build.UBR, and a non-KB package.
        (
            "Package_for_RollupFix~31bf3856ad364e35~amd64~~22621.3296.1.10",
            r#""CurrentState"=dword:00000070"#,
        ),
        (
            "Microsoft-Windows-Foundation-Package~31bf3856ad364e35~amd64~~6.1.7601.17514",
            r#""CurrentState"=dword:00000070"#,
        ),
    ]);
    registry(&[("H_SOFTWARE.HIV", &text)])
}

fn status(inventory: &hiveward_collectors::HotfixInventory, kb: &str) -> Value {
    to_json(&inventory.status(kb))
}

#[test]
fn kb_status_follows_the_package_states() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    assert_eq!(inventory.packages.len(), 12);
    assert_eq!(status(&inventory, "KB2775511"), "installed");
    assert_eq!(status(&inventory, "KB2732673"), "installed");
    assert_eq!(status(&inventory, "KB2728738"), "superseded");
    assert_eq!(status(&inventory, "KB2878378"), "pending_reboot");
    assert_eq!(status(&inventory, "KB3000000"), "pending_reboot");
    assert_eq!(status(&inventory, "KB4000000"), "absent");
    assert_eq!(status(&inventory, "KB4100000"), "absent");
    assert_eq!(status(&inventory, "KB4200000"), "absent");
    assert_eq!(status(&inventory, "KB9999999"), "absent");
}

#[test]
fn kb_matches_only_as_a_whole_number() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    assert_eq!(status(&inventory, "KB5000802"), "installed");
    assert_eq!(status(&inventory, "KB5000"), "absent");
    assert_eq!(status(&inventory, "KB500080"), "absent");
    assert!(inventory.packages_for("KB5000").is_empty());
    // Case and prefix do not matter; the _SP1 suffix still names KB2775511.
    assert_eq!(status(&inventory, "kb2775511"), "installed");
    assert_eq!(status(&inventory, "2775511"), "installed");
    assert_eq!(inventory.packages_for("2775511").len(), 2);
    assert_eq!(status(&inventory, "KB3000000"), "pending_reboot");
    // Not a KB number at all.
    assert_eq!(status(&inventory, "KB"), "absent");
    assert_eq!(status(&inventory, "RollupFix"), "absent");
}

#[test]
fn inventory_serialises_sorted_with_codes_and_rollups() {
    let inventory = read_hotfixes(&hotfix_registry()).expect("hotfixes read");
    let value = to_json(&inventory);
    let identities: Vec<String> = value["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| package["identity"].as_str().expect("identity").to_string())
        .collect();
    let mut sorted = identities.clone();
    sorted.sort_by_key(|identity| identity.to_ascii_lowercase());
    assert_eq!(identities, sorted);

    let kbs: Vec<&str> = value["kbs"]
        .as_array()
        .expect("kbs")
        .iter()
        .map(|kb| kb["kb"].as_str().expect("kb"))
        .collect();
    assert_eq!(
        kbs,
        [
            "KB2728738",
            "KB2732673",
            "KB2775511",
            "KB2878378",
            "KB3000000",
            "KB4000000",
            "KB4100000",
            "KB4200000",
            "KB5000802"
        ]
    );
    let summary = value["kbs"]
        .as_array()
        .expect("kbs")
        .iter()
        .find(|kb| kb["kb"] == "KB2775511")
        .expect("KB2775511 summary")
        .clone();
    assert_eq!(
        summary,
        json!({"kb": "KB2775511", "status": "installed", "package_count": 2,
               "states": ["superseded", "installed"]})
    );

    let package = |prefix: &str| {
        value["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .find(|package| {
                package["identity"]
                    .as_str()
                    .is_some_and(|identity| identity.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("{prefix} listed"))
            .clone()
    };
    let unknown = package("Package_for_KB4100000");
    assert_eq!(unknown["state"], "unknown_0x99");
    assert_eq!(unknown["state_code"], 0x99);
    let permanent = package("Package_1_for_KB2732673");
    assert_eq!(permanent["kb"], "KB2732673");
    assert_eq!(permanent["state"], "permanent");
    assert_eq!(permanent["state_code"], 0x80);
    let wrong = package("Package_for_KB4200000");
    assert_eq!(wrong["state"], Value::Null);
    assert_eq!(wrong["state_code"], Value::Null);
    assert_eq!(value["ignored"][0]["name"], "CurrentState");
    assert_eq!(value["ignored"][0]["found_type"], "REG_SZ");
    let rollup = package("Package_for_RollupFix");
    assert_eq!(rollup["kb"], Value::Null);
    assert_eq!(rollup["rollup"], json!({"build": 22621, "ubr": 3296}));
    let foundation = package("Microsoft-Windows-Foundation-Package");
    assert_eq!(foundation["kb"], Value::Null);
    assert_eq!(foundation["rollup"], Value::Null);

    let rollup = inventory.installed_rollup().expect("installed rollup");
    assert_eq!((rollup.build, rollup.ubr), (22621, 3296));
    assert_eq!(value["source"]["file"], "H_SOFTWARE.HIV");

    // Reading twice gives the same JSON.
    let again = to_json(&read_hotfixes(&hotfix_registry()).expect("hotfixes read"));
    assert_eq!(value, again);
}

#[test]
fn no_servicing_key_gives_an_empty_inventory() {
    let software = software_text(&[r#""CurrentBuildNumber"="17763""#]);
    let inventory = read_hotfixes(&registry(&[("N_SOFTWARE.HIV", &software)])).unwrap();
    assert!(inventory.packages.is_empty());
    assert!(inventory.kbs.is_empty());
    assert!(inventory.source.is_none());
    assert_eq!(status(&inventory, "KB2775511"), "absent");
    let empty = read_hotfixes(&HostRegistry::new()).unwrap();
    assert!(empty.packages.is_empty());
}
