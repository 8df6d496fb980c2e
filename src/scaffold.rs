//! `hiveward rules new PACK/ID`: writes a rule and its test file that pass `rules test` as
//! written, and the pack's `pack.toml` when the pack is new; `hiveward rules check DIR`:
//! loads packs as a scan would and reads their test files, without running a case.

use std::io::Write;
use std::path::{Path, PathBuf};

use hiveward_engine::{
    check_pack_tests, parse_test_file, PackSource, RuleMeta, RuleSet, Severity, SourceFile,
    EXIT_ERROR,
};

use crate::render_diagnostic;

/// The rule file; `__ID__` and `__PACK__` are replaced.
const RULE_TEMPLATE: &str = r#"//! __ID__: the SMB server must require signing. This is a scaffold: replace the check, the
//! texts and the test cases with your own. The guide is docs/writing-rules.md; each comment
//! below names the section that explains what it sits on. The cases that test it are in
//! __ID__.tests.toml beside it (docs/writing-rules.md, "4. Tests"): run `hiveward rules test`
//! on the pack folder after each change.

// Metadata (docs/writing-rules.md, "The metadata"): literal values only. `pack` must equal the
// `name` in pack.toml, and `id` the file name (upper-case words joined by `-`).
export const RULE = #{
    id: "__ID__",
    pack: "__PACK__",
    title: "SMB server does not require signing",
    description: "The SMB server accepts unsigned sessions, which a machine in the middle can relay or alter. Say here what the rule checks and why it matters.",
    severity: "medium",
    tags: ["smb", "signing"],
    references: [],
    scope: "host",
    // Needs (docs/writing-rules.md, "The metadata" and "Outcomes"): a host without the SYSTEM
    // hive or without this key is not applicable, and `check` never runs there, so an absent
    // key is never judged by the value's default.
    needs: #{
        hives: ["SYSTEM"],
        keys: [`HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`],
    },
    // Markdown; `{{name}}` is replaced with the finding's `fix_values.name`.
    fix: `Set ``{{path}}\RequireSecuritySignature`` to 1 (REG_DWORD) on {{host}}:

    Set-SmbServerConfiguration -RequireSecuritySignature $true -Force`,
};

// Functions cannot see top-level constants (docs/writing-rules.md, "Rhai notes"): shared
// values live in functions, or in modules in the pack's lib/ folder.
fn server_params() {
    `HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters`
}

fn check(host) {
    // The host API (docs/writing-rules.md, "The host API"): `host.setting(path, name, default)`
    // gives an evidence map; an absent value takes its documented default (0: signing not
    // required), and `default_applied` records that it did.
    let signing = host.setting(server_params(), "RequireSecuritySignature", 0);
    // A value of the wrong type is never converted: report it.
    if signing.observed_type != () && signing.observed_type != "REG_DWORD" {
        return [#{
            message: `RequireSecuritySignature on ${host.name} is a ${signing.observed_type}, not a REG_DWORD.`,
            evidence: [signing],
            fix_values: #{ host: host.name, path: server_params() },
        }];
    }
    // Outcomes (docs/writing-rules.md, "Outcomes"): `[]` means the rule checked and passed.
    if signing.value == 1 {
        return [];
    }
    // Findings (docs/writing-rules.md, "Findings"): a message with the real values, the
    // evidence (with what was expected) and the values the `fix` text names.
    signing.expected = 1;
    [#{
        message: `RequireSecuritySignature on ${host.name} is ${signing.value}; it must be 1.`,
        evidence: [signing],
        fix_values: #{ host: host.name, path: server_params() },
    }]
}
"#;

/// The test file; `__ID__` is replaced.
const TESTS_TEMPLATE: &str = r#"# Test cases for __ID__ (docs/writing-rules.md, "4. Tests"). `hiveward rules test` wants a
# passing case of each kind for every rule: one where it fires, a clean one (it checks the
# host and finds nothing) and a not-applicable one (the host lacks what `needs` names).
# Each case gives the host's registry as .reg text, as `reg export` writes it.

[[case]]
name = "signing not required fires"
expect = ["__ID__"]
message_contains = "is 0; it must be 1"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters]
"RequireSecuritySignature"=dword:00000000
'''

[[case]]
name = "signing required is clean"
expect = []
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters]
"RequireSecuritySignature"=dword:00000001
'''

[[case]]
name = "no Server service is not applicable"
expect = []
outcome = "not_applicable"
reason_contains = "LanmanServer\\Parameters absent"
reg = '''
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName]
"ComputerName"="HOST"
'''
"#;

/// The `pack.toml` of a new pack.
fn manifest_text(pack: &str) -> String {
    format!(
        "name = \"{pack}\"\nversion = \"0.1.0\"\ndescription = \"What the {pack} pack checks (replace this text).\"\nmin_hiveward = \"{}\"\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A pack made of `manifest` alone, as the loader would see it.
fn manifest_only(origin: &Path, manifest: String) -> PackSource {
    PackSource {
        origin: origin.display().to_string(),
        builtin: false,
        manifest: SourceFile {
            origin: origin.join("pack.toml").display().to_string(),
            file_name: "pack.toml".to_string(),
            text: manifest,
        },
        rules: Vec::new(),
        libs: Vec::new(),
        tests: Vec::new(),
    }
}

/// Whether `id` is a rule id, by the check the loader makes.
fn id_error(id: &str) -> Option<String> {
    RuleMeta {
        id: id.to_string(),
        pack: "pack".to_string(),
        title: "title".to_string(),
        description: "description".to_string(),
        severity: Severity::Medium,
        tags: Vec::new(),
        references: Vec::new(),
        scope: Default::default(),
        needs: Default::default(),
        fix: "fix".to_string(),
        profiles: Vec::new(),
        help_uri: None,
        inferred: false,
        params: Default::default(),
    }
    .validate()
    .err()
}

fn refuse(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: rules new: {message}");
    EXIT_ERROR
}

/// `rules new PACK/ID --dir DIR`.
pub(crate) fn new_rule(target: &str, dir: &Path) -> u8 {
    let Some((pack, id)) = target.split_once('/') else {
        return refuse(format!(
            "`{target}` is not PACK/ID: give the pack folder and the rule id, as in site-smb/SITE-SMB-001"
        ));
    };
    if let Some(message) = id_error(id) {
        return refuse(format!("`{id}` is not a rule id: {message}"));
    }
    let folder = dir.join(pack);
    // The pack name becomes a folder name; the loader's check of manifest names refuses
    // anything but lower-case letters, digits and `-`.
    if let Err(error) = manifest_only(&folder, manifest_text(pack)).parse_manifest() {
        let message = match &error {
            hiveward_engine::RuleLoadError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        return refuse(format!("`{pack}` is not a pack folder name: {message}"));
    }
    let manifest_path = folder.join("pack.toml");
    let rule_path = folder.join(format!("{id}.rhai"));
    let tests_path = folder.join(format!("{id}.tests.toml"));
    if folder.exists() && !folder.is_dir() {
        return refuse(format!("{} exists and is not a folder", folder.display()));
    }
    for path in [&rule_path, &tests_path] {
        if std::fs::symlink_metadata(path).is_ok() {
            return refuse(format!(
                "{} already exists; nothing was written (pick another id, or edit that file)",
                path.display()
            ));
        }
    }
    // An existing pack keeps its pack.toml, and its name is the one the rule must carry.
    let existing = std::fs::symlink_metadata(&manifest_path).is_ok();
    let pack_name = if existing {
        let loaded = match PackSource::load_dir(&folder) {
            Ok(mut packs) if packs.len() == 1 => packs.remove(0),
            Ok(_) => return refuse(format!("{} is not one pack", folder.display())),
            Err(error) => {
                render_diagnostic(&error);
                return refuse(format!(
                    "the pack in {} does not load; nothing was written",
                    folder.display()
                ));
            }
        };
        match loaded.parse_manifest() {
            Ok(manifest) => manifest.name,
            Err(error) => {
                render_diagnostic(&error);
                return refuse(format!(
                    "the pack in {} does not load; nothing was written",
                    folder.display()
                ));
            }
        }
    } else {
        pack.to_string()
    };
    if let Err(error) = std::fs::create_dir_all(&folder) {
        return refuse(format!("cannot create {}: {error}", folder.display()));
    }
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if !existing {
        files.push((manifest_path, manifest_text(pack)));
    }
    files.push((
        rule_path,
        RULE_TEMPLATE
            .replace("__ID__", id)
            .replace("__PACK__", &pack_name),
    ));
    files.push((tests_path, TESTS_TEMPLATE.replace("__ID__", id)));
    let mut out = String::new();
    for (path, text) in &files {
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if let Err(error) = written {
            return refuse(format!("cannot write {}: {error}", path.display()));
        }
        out.push_str(&format!("wrote {}\n", path.display()));
    }
    out.push_str(&format!("next: hiveward rules test {}\n", folder.display()));
    crate::emit(out.as_bytes(), None).err().unwrap_or(0)
}

/// `rules check DIR...`: exits 0 when every pack loads and its test files read, else 2.
pub(crate) fn check(dirs: &[PathBuf]) -> u8 {
    let mut failed = false;
    let mut packs = Vec::new();
    for dir in dirs {
        match PackSource::load_dir(dir) {
            Ok(loaded) => packs.extend(loaded),
            Err(error) => {
                render_diagnostic(&error);
                failed = true;
            }
        }
    }
    let mut out = String::new();
    match RuleSet::load(packs.clone(), hiveward_engine::Limits::default()) {
        Ok(rules) => {
            for pack in rules.packs() {
                let checked = check_pack_tests(&rules, pack);
                if checked.errors.is_empty() {
                    out.push_str(&format!(
                        "ok: {} ({} rule(s), {} test case(s))\n",
                        checked.name, checked.rules, checked.cases
                    ));
                } else {
                    failed = true;
                    for error in &checked.errors {
                        render_diagnostic(error);
                    }
                }
            }
        }
        Err(errors) => {
            failed = true;
            for error in &errors {
                render_diagnostic(error);
            }
            // The test files are read all the same, so that one run reports every mistake.
            for file in packs.iter().flat_map(|pack| &pack.tests) {
                if let Err(errors) = parse_test_file(file) {
                    for error in &errors {
                        render_diagnostic(error);
                    }
                }
            }
        }
    }
    if let Err(code) = crate::emit(out.as_bytes(), None) {
        return code;
    }
    if failed {
        eprintln!("error: rules check: the packs have errors (above)");
        EXIT_ERROR
    } else {
        0
    }
}
