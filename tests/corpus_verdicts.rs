//! The corpus SYSTEM hives are at their Windows defaults. Scanned one by one with the signing,
//! SMB1, NTLM and guest/anonymous packs, each must give the verdicts its own build's defaults
//! imply. The builds and editions are what SYSTEM records (see the collectors' `os_facts`
//! test): no SOFTWARE hive comes with them, so the build is inferred from the in-box drivers and
//! every verdict that rests on it is marked inferred. A copy cut short gives the same verdicts
//! where it can still read, and "not checked", naming the file, where it cannot.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;

mod common;

const RULES: &str = "HW-SIGN-001,HW-SIGN-002,HW-SIGN-003,HW-SIGN-004,HW-SMB1-001,HW-SMB1-002,HW-SMB1-003,HW-NTLM-001,HW-NTLM-002,HW-NTLM-003,HW-NTLM-004,HW-GUEST-001,HW-ANON-001";

/// (rule, inferred) → number of findings.
type Verdicts = BTreeMap<(String, bool), usize>;

fn scan(path: &Path) -> (Verdicts, Json) {
    let report = common::scan_json(path, RULES);
    let mut verdicts = Verdicts::new();
    for finding in report["findings"].as_array().expect("findings") {
        let rule = finding["rule"].as_str().expect("rule id").to_string();
        let inferred = finding["inferred"].as_bool().unwrap_or(false);
        *verdicts.entry((rule, inferred)).or_default() += 1;
    }
    (verdicts, report)
}

fn verdicts(list: &[(&str, bool, usize)]) -> Verdicts {
    list.iter()
        .map(|(rule, inferred, count)| ((rule.to_string(), *inferred), *count))
        .collect()
}

/// The verdicts each hive's defaults imply, with the reason.
fn expected(name: &str) -> Option<(Verdicts, Vec<&'static str>)> {
    // Every hive: the SMB server and client do not require signing (0 is the default before
    // Windows 11 24H2 and none is a domain controller) and the server's SMB1 "if client agrees"
    // signing is off (server default 0; the client's EnableSecuritySignature is 1) — except on
    // SYSTEM_B, where SMB1 is not installed, so EnableSecuritySignature means nothing.
    let signing = [
        ("HW-SIGN-001", false, 1),
        ("HW-SIGN-002", false, 1),
        ("HW-SIGN-003", false, 1),
    ];
    let list: Vec<(&str, bool, usize)> = match name {
        // Windows XP: SMB1 is the only dialect; LmCompatibilityLevel 0, NoLMHash 0 and
        // NTLMMinClientSec/ServerSec 0 are XP's defaults; XP ships NullSessionShares COMCFG and
        // DFS$. AllowInsecureGuestAuth does not exist before Windows 10, so HW-GUEST-001 does
        // not apply. No mrxsmb10 driver: XP's SMB1 client is mrxsmb, its only SMB client, which
        // HW-SMB1-002 reports (inferred: the build comes from the in-box drivers).
        "dfwinreg/SYSTEM" => vec![
            ("HW-SMB1-001", true, 1),
            ("HW-SMB1-002", true, 1),
            ("HW-NTLM-001", false, 1),
            ("HW-NTLM-003", false, 2),
            ("HW-NTLM-004", false, 1),
            ("HW-ANON-001", false, 1),
        ],
        // Windows 7 SP1 and 8.1: SMB1 absent means enabled before 1709, the mrxsmb10 driver is
        // on demand / automatic, LmCompatibilityLevel absent behaves as 3, NTLMMin*Sec are
        // 0x20000000 (128-bit only); AllowInsecureGuestAuth does not exist before Windows 10,
        // so HW-GUEST-001 does not apply. NoLMHash is 1 and RestrictNullSessAccess 1 with empty
        // pipes: clean.
        "regipy/SYSTEM" | "regipy/SYSTEM_2" => vec![
            ("HW-SMB1-001", true, 1),
            ("HW-SMB1-002", false, 1),
            ("HW-NTLM-001", true, 1),
            ("HW-NTLM-003", false, 2),
        ],
        // Windows 10 1709 Education, installed without SMB1 (no srv and no mrxsmb10 keys), with
        // AllowInsecureGuestAuth 0 written: only the NTLM level and session security remain.
        "regipy/SYSTEM_B" => vec![("HW-NTLM-001", true, 1), ("HW-NTLM-003", false, 2)],
        // Windows 10 1903 Professional, upgraded from 1709 with SMB1 still installed (srv and
        // mrxsmb10 start automatically); Pro allows guest logons by default, and the SMB1
        // client uses guest access whatever AllowInsecureGuestAuth says.
        "regipy/SYSTEM_WIN_10_1709" => vec![
            ("HW-SMB1-001", true, 1),
            ("HW-SMB1-002", false, 1),
            ("HW-NTLM-001", true, 1),
            ("HW-NTLM-003", false, 2),
            ("HW-GUEST-001", true, 2),
        ],
        // Another Windows XP hive whose Lsa key sits in a damaged cell: the NTLM rules cannot
        // check it and say so; the rest is XP's defaults as above.
        "regipy/corrupted_system_hive" => vec![
            ("HW-SMB1-001", true, 1),
            ("HW-SMB1-002", true, 1),
            ("HW-ANON-001", false, 1),
        ],
        _ => return None,
    };
    let unchecked = if name == "regipy/corrupted_system_hive" {
        vec!["HW-NTLM-001", "HW-NTLM-003", "HW-NTLM-004"]
    } else {
        Vec::new()
    };
    let signing = signing
        .into_iter()
        .filter(|(rule, _, _)| !(name == "regipy/SYSTEM_B" && *rule == "HW-SIGN-003"));
    // A hive read dirty, without logs, may lack its latest writes: every finding is inferred.
    let dirty = DIRTY_WITHOUT_LOGS.contains(&name);
    let all: Vec<_> = signing
        .chain(list)
        .map(|(rule, inferred, count)| (rule, inferred || dirty, count))
        .collect();
    Some((verdicts(&all), unchecked))
}

/// The hives whose sequence numbers differ and that come without their .LOG1/.LOG2
/// (SYSTEM_B, dirty too, is recovered from the logs beside it).
const DIRTY_WITHOUT_LOGS: [&str; 2] = ["regipy/SYSTEM_2", "regipy/SYSTEM_WIN_10_1709"];

#[test]
fn corpus_system_hives_give_the_verdicts_of_their_defaults() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    for name in hiveward_testkit::CORPUS_SYSTEM_HIVES {
        let path = corpus.join("hives").join(name);
        if !path.is_file() {
            hiveward_testkit::skip_or_fail(&format!("{} is not in the corpus", path.display()));
            continue;
        }
        let (verdicts, report) = scan(&path);
        let (want, want_unchecked) = expected(name).expect("every hive has its verdicts");
        assert_eq!(verdicts, want, "{name}");
        for finding in report["findings"].as_array().expect("findings") {
            let message = finding["message"].as_str().expect("message");
            assert_eq!(
                message.contains("was read as a dirty hive, with no transaction log that could bring it up to date"),
                DIRTY_WITHOUT_LOGS.contains(&name),
                "{name}: {message}"
            );
        }
        // So is every pass there (each rule that passed read the hive, the host's only file).
        // Elsewhere a pass is inferred only for an assumption of its own, which it names.
        let dirty = DIRTY_WITHOUT_LOGS.contains(&name);
        let mut passes = 0;
        let mut inferred_passes = 0;
        for host in report["hosts"].as_array().expect("hosts") {
            for outcome in host["outcomes"].as_array().expect("outcomes") {
                if outcome["outcome"] != "passed" {
                    continue;
                }
                passes += 1;
                let reason = outcome["reason"].as_str().unwrap_or_default();
                if outcome["inferred"] == true {
                    inferred_passes += 1;
                    assert!(reason.starts_with("inferred: "), "{name}: {outcome}");
                } else {
                    assert!(!dirty && reason.is_empty(), "{name}: {outcome}");
                }
                assert_eq!(
                    reason.contains(
                        "a hive read dirty with no transaction log that could bring it up to date"
                    ),
                    dirty,
                    "{name}: {outcome}"
                );
            }
        }
        assert!(passes > 0, "{name}: some rules pass");
        if dirty {
            assert_eq!(inferred_passes, passes, "{name}");
        }
        assert_eq!(
            report["summary"]["passed_inferred"].as_u64().unwrap_or(0),
            inferred_passes,
            "{name}"
        );
        assert_eq!(report["summary"]["rule_errors"], 0, "{name}");
        let unchecked: Vec<&str> = report["unchecked"]
            .as_array()
            .expect("unchecked list")
            .iter()
            .map(|item| item["rule"].as_str().expect("rule"))
            .collect();
        assert_eq!(unchecked, want_unchecked, "{name}");
        // Verdicts that rest on the inferred build or a dirty read say so in the message.
        for finding in report["findings"].as_array().expect("findings") {
            if finding["inferred"] == true {
                let message = finding["message"].as_str().unwrap_or_default();
                let lower = message.to_lowercase();
                assert!(
                    lower.contains("inferred") || lower.contains("assumed"),
                    "{name}: {message}"
                );
            }
        }
    }
}

/// Each rule's outcome on the report's one host: (outcome, reason).
fn outcomes(report: &Json) -> BTreeMap<String, (String, String)> {
    let hosts = report["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 1, "{report:#}");
    hosts[0]["outcomes"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|outcome| {
            (
                outcome["rule"].as_str().expect("rule").to_string(),
                (
                    outcome["outcome"].as_str().expect("outcome").to_string(),
                    outcome["reason"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_truncated_copy_gives_the_whole_hives_verdicts_or_says_it_could_not_look() {
    let Some(corpus) = hiveward_testkit::corpus_dir() else {
        return;
    };
    let whole_path = corpus.join("hives/regipy/SYSTEM");
    let (whole_verdicts, whole) = scan(&whole_path);
    let bytes = std::fs::read(&whole_path).expect("the corpus hive reads");
    let whole_outcomes = outcomes(&whole);
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut same, mut not_checked) = (0, 0);
    for percent in [10, 30, 50] {
        let cut_path = dir.path().join(format!("CUT{percent}")).join("SYSTEM");
        std::fs::create_dir_all(cut_path.parent().unwrap()).expect("creates the folder");
        std::fs::write(&cut_path, &bytes[..bytes.len() * percent / 100]).expect("writes the copy");
        let (cut_verdicts, cut) = scan(&cut_path);

        let file = &cut["hosts"][0]["files"][0];
        assert_eq!(file["status"], "partial", "{file:#}");
        assert!(
            file["notices"]
                .as_array()
                .expect("notices")
                .iter()
                .any(|notice| notice["code"] == "hiveward::hive::truncated"
                    && notice["level"] == "warning"),
            "{file:#}"
        );
        for (rule, (outcome, reason)) in outcomes(&cut) {
            if outcome == "not_checked" {
                assert!(
                    reason.contains(&cut_path.display().to_string())
                        && reason.contains("the file is truncated"),
                    "{percent}%: {rule}: {reason}"
                );
                not_checked += 1;
            } else {
                assert_eq!(
                    outcome, whole_outcomes[&rule].0,
                    "{percent}%: {rule}: {reason}"
                );
                same += 1;
            }
        }
        // Every finding a cut copy gives, the whole hive gives too.
        for (verdict, count) in &cut_verdicts {
            assert_eq!(
                whole_verdicts.get(verdict),
                Some(count),
                "{percent}%: {verdict:?}"
            );
        }
    }
    assert!(
        same > 10 && not_checked > 5,
        "{same} same, {not_checked} not checked"
    );
}
