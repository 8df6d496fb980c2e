//! Rule packs: a folder with a `pack.toml` manifest, one `.rhai` file per rule, helper modules
//! in `lib/`, and `*.tests.toml` cases beside the rules. Packs load from disk or from the
//! copies built into the binary.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::RuleLoadError;

/// The built-in packs, embedded from the workspace's `rules/` folder at build time.
static BUILTIN_RULES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../rules");

/// A pack's `pack.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackManifest {
    /// The pack name; every rule's `pack` field must equal it.
    pub name: String,
    /// The pack's own version.
    pub version: String,
    /// What the pack checks.
    pub description: String,
    /// The oldest hiveward release that can run the pack.
    pub min_hiveward: String,
}

/// One text file of a pack, with the name it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Where it came from: a path on disk, or `builtin:PACK/FILE` for embedded packs.
    pub origin: String,
    /// The file name without folders, such as `HW-HARD-003.rhai`.
    pub file_name: String,
    /// Its text.
    pub text: String,
}

/// The files of one pack, before compilation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackSource {
    /// Where the pack came from: a folder path or `builtin:NAME`.
    pub origin: String,
    /// Whether it is built into the binary.
    pub builtin: bool,
    /// `pack.toml`.
    pub manifest: SourceFile,
    /// The rule files, sorted by name.
    pub rules: Vec<SourceFile>,
    /// The helper modules in `lib/`, sorted by name.
    pub libs: Vec<SourceFile>,
    /// The `*.tests.toml` files, sorted by name.
    pub tests: Vec<SourceFile>,
}

impl PackSource {
    /// The built-in packs, sorted by folder name.
    pub fn builtin() -> Vec<PackSource> {
        let mut packs: Vec<PackSource> = BUILTIN_RULES
            .dirs()
            .filter_map(|dir| {
                let name = dir.path().file_name()?.to_str()?.to_string();
                let file = |file: &include_dir::File<'_>| {
                    let file_name = file.path().file_name()?.to_str()?.to_string();
                    Some(SourceFile {
                        origin: format!("builtin:{}", file.path().display()),
                        file_name,
                        text: file.contents_utf8()?.to_string(),
                    })
                };
                let manifest = dir.get_file(dir.path().join("pack.toml")).and_then(file)?;
                let mut rules = Vec::new();
                let mut tests = Vec::new();
                for entry in dir.files() {
                    let Some(source) = file(entry) else { continue };
                    if source.file_name.ends_with(".tests.toml") {
                        tests.push(source);
                    } else if source.file_name.ends_with(".rhai") {
                        rules.push(source);
                    }
                }
                let mut libs: Vec<SourceFile> = dir
                    .get_dir(dir.path().join("lib"))
                    .map(|lib| {
                        lib.files()
                            .filter_map(file)
                            .filter(|source| source.file_name.ends_with(".rhai"))
                            .collect()
                    })
                    .unwrap_or_default();
                rules.sort_by(|a, b| a.file_name.cmp(&b.file_name));
                tests.sort_by(|a, b| a.file_name.cmp(&b.file_name));
                libs.sort_by(|a, b| a.file_name.cmp(&b.file_name));
                Some(PackSource {
                    origin: format!("builtin:{name}"),
                    builtin: true,
                    manifest,
                    rules,
                    libs,
                    tests,
                })
            })
            .collect();
        packs.sort_by(|a, b| a.origin.cmp(&b.origin));
        packs
    }

    /// Loads the packs under `path`: the folder itself when it holds a `pack.toml`, otherwise
    /// each subfolder that does.
    pub fn load_dir(path: &Path) -> Result<Vec<PackSource>, RuleLoadError> {
        let io = |source: std::io::Error, at: &Path| RuleLoadError::Io {
            path: at.to_path_buf(),
            error: source,
        };
        if !path.is_dir() {
            return Err(RuleLoadError::NotAPack {
                path: path.to_path_buf(),
                detail: "it is not a folder".to_string(),
            });
        }
        if path.join("pack.toml").is_file() {
            return Ok(vec![Self::load_pack(path)?]);
        }
        let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|error| io(error, path))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|child| child.join("pack.toml").is_file())
            .collect();
        folders.sort();
        if folders.is_empty() {
            return Err(RuleLoadError::NotAPack {
                path: path.to_path_buf(),
                detail: "neither it nor any folder in it holds a pack.toml".to_string(),
            });
        }
        folders
            .iter()
            .map(|folder| Self::load_pack(folder))
            .collect()
    }

    fn load_pack(folder: &Path) -> Result<PackSource, RuleLoadError> {
        let read = |path: &Path| -> Result<SourceFile, RuleLoadError> {
            let text = std::fs::read_to_string(path).map_err(|source| RuleLoadError::Io {
                path: path.to_path_buf(),
                error: source,
            })?;
            Ok(SourceFile {
                origin: path.display().to_string(),
                file_name: path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                text,
            })
        };
        let list = |dir: &Path, suffix: &str| -> Result<Vec<SourceFile>, RuleLoadError> {
            if !dir.is_dir() {
                return Ok(Vec::new());
            }
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|source| RuleLoadError::Io {
                    path: dir.to_path_buf(),
                    error: source,
                })?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| {
                    path.is_file()
                        && path
                            .file_name()
                            .and_then(|name| name.to_str())
                            .is_some_and(|name| name.ends_with(suffix))
                })
                .collect();
            paths.sort();
            paths.iter().map(|path| read(path)).collect()
        };
        Ok(PackSource {
            origin: folder.display().to_string(),
            builtin: false,
            manifest: read(&folder.join("pack.toml"))?,
            rules: list(folder, ".rhai")?,
            libs: list(&folder.join("lib"), ".rhai")?,
            tests: list(folder, ".tests.toml")?,
        })
    }

    /// Parses and checks the manifest.
    pub fn parse_manifest(&self) -> Result<PackManifest, RuleLoadError> {
        let manifest: PackManifest = toml::from_str(&self.manifest.text).map_err(|error| {
            RuleLoadError::in_file(
                &self.manifest,
                error.span().map(|span| span.start).unwrap_or(0),
                format!("invalid pack.toml: {}", error.message()),
            )
        })?;
        let name_ok = !manifest.name.is_empty()
            && manifest.name.len() <= 64
            && manifest
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !manifest.name.starts_with('-');
        if !name_ok {
            return Err(RuleLoadError::in_file(
                &self.manifest,
                self.manifest.text.find("name").unwrap_or(0),
                format!(
                    "pack name `{}` must be lower-case letters, digits and `-`",
                    manifest.name
                ),
            ));
        }
        if !version_at_least(env!("CARGO_PKG_VERSION"), &manifest.min_hiveward) {
            return Err(RuleLoadError::in_file(
                &self.manifest,
                self.manifest.text.find("min_hiveward").unwrap_or(0),
                format!(
                    "pack `{}` needs hiveward {} or later; this is {}",
                    manifest.name,
                    manifest.min_hiveward,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        Ok(manifest)
    }
}

/// Compares dotted version numbers (`0.1.0`); missing parts count as 0, suffixes are ignored.
pub fn version_at_least(have: &str, need: &str) -> bool {
    let parse = |text: &str| -> Vec<u64> {
        text.split(['-', '+'])
            .next()
            .unwrap_or_default()
            .split('.')
            .map(|part| part.trim().parse().unwrap_or(0))
            .collect()
    };
    let (have, need) = (parse(have), parse(need));
    for index in 0..have.len().max(need.len()) {
        let left = have.get(index).copied().unwrap_or(0);
        let right = need.get(index).copied().unwrap_or(0);
        if left != right {
            return left > right;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("0.10.0", "0.9.5"));
        assert!(version_at_least("1.0", "1.0.0"));
        assert!(!version_at_least("0.1.0", "0.2.0"));
        assert!(version_at_least("0.2.0-dev", "0.2"));
    }
}
