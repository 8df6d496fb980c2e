//! `host.hotfix_packages(kb)` and `host.rollup_packages(build)`: CBS packages with their states,
//! so that a rule can tell a package uninstalled or staged from none, and uninstall pending from
//! install pending.

mod common;

use common::{bare_host, evaluate, host_from_reg, load_with, manifest_text, pack_source};
use hiveward_engine::{Limits, Outcome, RuleSet};

const SOFTWARE: &str = r#"Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"CurrentBuildNumber"="7601"
"ProductName"="Windows 7 Enterprise"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_KB2775511_SP1~31bf3856ad364e35~amd64~~6.1.1.0]
"CurrentState"=dword:00000005

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_1_for_KB2775511~31bf3856ad364e35~amd64~~6.1.1.0]
"CurrentState"=dword:00000040

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_KB27755110~31bf3856ad364e35~amd64~~6.1.1.0]
"CurrentState"=dword:00000070

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_KB2732673~31bf3856ad364e35~amd64~~6.1.1.0]
"CurrentState"="installed"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24000.1.0]
"CurrentState"=dword:00000070

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_RollupFix~31bf3856ad364e35~amd64~~7601.24214.1.2]
"CurrentState"=dword:00000060

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages\Package_for_RollupFix~31bf3856ad364e35~amd64~~9600.20000.1.0]
"CurrentState"=dword:00000070
"#;

/// A rule that reports what `host.hotfix_packages` gave for three KBs, as one finding.
const RULE: &str = r#"export const RULE = #{ id: "T-KB-001", pack: "p", title: "t", description: "d", severity: "low", fix: "f" };
fn shown(list) {
    if list == () { return "()"; }
    let out = [];
    for item in list { out.push(`${item.identity.sub_string(0, item.identity.index_of("~"))}=${item.code}/${item.state}`); }
    out.sort();
    `${out}`
}
fn rollups(list) {
    if list == () { return "()"; }
    let out = [];
    for item in list { out.push(`${item.version}=${item.build}.${item.ubr}/${item.code}/${item.state}`); }
    `${out}`
}
fn check(host) {
    [#{ message: `${shown(host.hotfix_packages("KB2775511"))} ${shown(host.hotfix_packages("2732673"))} ${shown(host.hotfix_packages("KB1"))} ${rollups(host.rollup_packages(7601))}` }]
}
"#;

fn rules() -> RuleSet {
    load_with(
        vec![pack_source(
            "p",
            &manifest_text("p", "0.1.0"),
            &[("T-KB-001", RULE)],
            &[],
        )],
        Limits::default(),
    )
}

#[test]
fn packages_come_with_their_codes_and_states_and_match_whole_kb_numbers() {
    let evaluation = evaluate(&rules(), &[host_from_reg("WKS7", SOFTWARE)]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.findings.len(), 1, "{:?}", evaluation.outcomes);
    assert_eq!(
        evaluation.findings[0].message,
        "[\"Package_1_for_KB2775511=64/staged\", \"Package_for_KB2775511_SP1=5/uninstall_pending\"] \
         [\"Package_for_KB2732673=/\"] [] \
         [\"7601.24000.1.0=7601.24000/112/installed\", \"7601.24214.1.2=7601.24214/96/install_pending\"]"
    );
}

#[test]
fn a_host_without_an_inventory_gets_unit() {
    let evaluation = evaluate(&rules(), &[bare_host("EMPTY")]);
    assert!(
        evaluation.rule_errors.is_empty(),
        "{:?}",
        evaluation.rule_errors
    );
    assert_eq!(evaluation.outcomes[0].outcome, Outcome::Findings);
    assert_eq!(evaluation.findings[0].message, "() () () ()");
}
