//! `hiveward rules test` for CI and for teams writing their own rules: `--rule`, `--case`,
//! `--format text|json|junit`, the `file:line` of each case; test cases that run like scans
//! (a rule sees only the event records its `needs` declares, in a test and in a scan); the
//! coverage hint; and load errors inside `needs` reported at the wrong field.

#[path = "../support/mod.rs"]
mod support;

use std::fs;
use std::path::{Path, PathBuf};

use hiveward_evtxwriter::{Event, EvtxWriter};
use serde_json::Value;
use support::{hiveward, Run};

mod coverage_hint;
mod formats;
mod like_scans;
mod needs_errors;
mod selection;

use like_scans::{spooler_cases, spooler_rule};

impl Run {
    /// The lines of standard output.
    fn lines(&self) -> Vec<&str> {
        self.stdout_str().lines().collect()
    }
}

fn write(path: &Path, text: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const PACK: &str = "e2e";

fn manifest() -> String {
    format!(
        "name = \"{PACK}\"\nversion = \"1.0.0\"\ndescription = \"Rules for testing `rules test`.\"\nmin_hiveward = \"0.1.0\"\n"
    )
}

/// A rule that fires when `EnablePlainTextPassword` is 1 (needs the Workstation key).
fn plain_rule(id: &str) -> String {
    format!(
        r#"export const RULE = #{{
    id: "{id}",
    pack: "{PACK}",
    title: "Unencrypted passwords may be sent to SMB servers",
    description: "EnablePlainTextPassword = 1 lets the SMB client send clear-text passwords.",
    severity: "high",
    needs: #{{ keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`] }},
    fix: "Set EnablePlainTextPassword to 0.",
}};

fn check(host) {{
    let value = host.reg(`HKLM\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters`, "EnablePlainTextPassword");
    if value == 1 {{
        return [#{{ message: `EnablePlainTextPassword is 1 on ${{host.name}}.` }}];
    }}
    []
}}
"#
    )
}

/// A case for `plain_rule` with the value `plain`, expecting `expect`.
fn plain_case(name: &str, expect: &str, plain: u32) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = {expect}
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanWorkstation\Parameters]
"EnablePlainTextPassword"=dword:{plain:08x}
'''

"#
    )
}

/// A not-applicable case for `plain_rule`: no Workstation service key.
fn plain_not_applicable(name: &str) -> String {
    format!(
        r#"[[case]]
name = "{name}"
expect = []
outcome = "not_applicable"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="CORE01"
'''

"#
    )
}

/// The three cases every rule needs, all passing.
fn complete_cases(id: &str) -> String {
    plain_case("fires when allowed", &format!("[\"{id}\"]"), 1)
        + &*plain_case("clean when refused", "[]", 0)
        + &*plain_not_applicable("no workstation service")
}

/// Writes the pack `dir/e2e` with the given rules (id, rule text, tests text).
fn write_pack(dir: &Path, rules: &[(&str, String, String)]) -> PathBuf {
    let pack = dir.join(PACK);
    let _ = fs::remove_dir_all(&pack);
    write(&pack.join("pack.toml"), manifest());
    for (id, rule, tests) in rules {
        write(&pack.join(format!("{id}.rhai")), rule);
        write(&pack.join(format!("{id}.tests.toml")), tests);
    }
    pack
}

/// A pack of three plain rules, each with complete cases; `E2E-B-001` has one failing case
/// (the last of its file).
fn three_rule_pack(dir: &Path) {
    let b_tests = complete_cases("E2E-B-001") + &*plain_case("wrongly expects silence", "[]", 1);
    write_pack(
        dir,
        &[
            (
                "E2E-A-001",
                plain_rule("E2E-A-001"),
                complete_cases("E2E-A-001"),
            ),
            (
                "E2E-A-002",
                plain_rule("E2E-A-002"),
                complete_cases("E2E-A-002"),
            ),
            ("E2E-B-001", plain_rule("E2E-B-001"), b_tests),
        ],
    );
}

/// The rule ids of the PASS and FAIL lines, in order, deduplicated.
fn rules_shown(run: &Run) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in run.lines() {
        if let Some(rest) = line
            .strip_prefix("PASS ")
            .or_else(|| line.strip_prefix("FAIL "))
        {
            let id = rest.split(' ').next().unwrap().to_string();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

/// The 1-based line of the `n`-th (from 0) `[[case]]` header of `text`.
fn header_line(text: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim() == "[[case]]")
        .nth(n)
        .map(|(index, _)| index + 1)
        .expect("the header exists")
}
