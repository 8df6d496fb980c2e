//! Rule packs: a folder with a `pack.toml` manifest, one `.rhai` file per rule, helper modules
//! in `lib/`, and `*.tests.toml` cases beside the rules. Packs load from disk or from the
//! copies built into the binary.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::RuleLoadError;
use crate::sandbox::Limits;

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
    /// each subfolder that does. Sizes are bounded by the default [`Limits`]; see
    /// [`PackSource::load_dir_within`].
    pub fn load_dir(path: &Path) -> Result<Vec<PackSource>, RuleLoadError> {
        PackSource::load_dir_within(path, &Limits::default())
    }

    /// [`PackSource::load_dir`] under `limits`: no file over its size limit is read, nor a pack
    /// over [`Limits::max_pack_bytes`]. A pack's files are never followed through symbolic
    /// links, and only regular files are read: a link or a FIFO, socket or device where a pack
    /// file belongs is an error naming it, and so is a link to a pack in a folder of packs.
    /// (`path` itself may be a link: the user named it.)
    pub fn load_dir_within(path: &Path, limits: &Limits) -> Result<Vec<PackSource>, RuleLoadError> {
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
        if std::fs::symlink_metadata(path.join("pack.toml")).is_ok() {
            return Ok(vec![Self::load_pack(path, limits)?]);
        }
        let mut folders: Vec<PathBuf> = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|error| io(error, path))? {
            let entry = entry.map_err(|error| io(error, path))?;
            let child = entry.path();
            let file_type = entry.file_type().map_err(|error| io(error, &child))?;
            if file_type.is_symlink() {
                // Only the existence of a manifest behind the link is looked at, never a file.
                if child.join("pack.toml").exists() {
                    return Err(RuleLoadError::Link { path: child });
                }
                continue;
            }
            if file_type.is_dir() && std::fs::symlink_metadata(child.join("pack.toml")).is_ok() {
                folders.push(child);
            }
        }
        folders.sort();
        if folders.is_empty() {
            return Err(RuleLoadError::NotAPack {
                path: path.to_path_buf(),
                detail: "neither it nor any folder in it holds a pack.toml".to_string(),
            });
        }
        folders
            .iter()
            .map(|folder| Self::load_pack(folder, limits))
            .collect()
    }

    fn load_pack(folder: &Path, limits: &Limits) -> Result<PackSource, RuleLoadError> {
        let mut total: u64 = 0;
        let mut read = |path: &Path, limit: usize| -> Result<SourceFile, RuleLoadError> {
            let text = read_pack_file(path, limit)?;
            total += text.len() as u64;
            if total > limits.max_pack_bytes as u64 {
                return Err(RuleLoadError::OverLimit {
                    origin: folder.display().to_string(),
                    detail: format!(
                        "the pack's files hold more than {} bytes (the limit for one pack); {} is where it went over",
                        limits.max_pack_bytes,
                        path.display()
                    ),
                });
            }
            Ok(SourceFile {
                origin: path.display().to_string(),
                file_name: path
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                text,
            })
        };
        let manifest = read(&folder.join("pack.toml"), limits.max_toml_bytes)?;
        let rule_paths = pack_files(folder, ".rhai")?;
        let test_paths = pack_files(folder, ".tests.toml")?;
        let lib = folder.join("lib");
        let lib_paths = match std::fs::symlink_metadata(&lib) {
            Err(_) => Vec::new(),
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(RuleLoadError::Link { path: lib });
            }
            Ok(metadata) if metadata.is_dir() => pack_files(&lib, ".rhai")?,
            Ok(_) => Vec::new(),
        };
        let mut load = |paths: Vec<PathBuf>, limit: usize| {
            paths
                .iter()
                .map(|path| read(path, limit))
                .collect::<Result<Vec<SourceFile>, RuleLoadError>>()
        };
        let rules = load(rule_paths, limits.max_source_bytes)?;
        let libs = load(lib_paths, limits.max_source_bytes)?;
        let tests = load(test_paths, limits.max_toml_bytes)?;
        Ok(PackSource {
            origin: folder.display().to_string(),
            builtin: false,
            manifest,
            rules,
            libs,
            tests,
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

/// The files in `dir` whose names end in `suffix`, sorted. A link or a special file with such
/// a name is an error; a folder with such a name is not a pack file and is passed over.
fn pack_files(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, RuleLoadError> {
    let io = |error: std::io::Error| RuleLoadError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let named = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.ends_with(suffix));
        if !named {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(io)?;
        if file_type.is_symlink() {
            return Err(RuleLoadError::Link { path });
        }
        if file_type.is_dir() {
            continue;
        }
        if !file_type.is_file() {
            return Err(RuleLoadError::SpecialFile {
                kind: special_kind(&file_type).to_string(),
                path,
            });
        }
        paths.push(path);
    }
    paths.sort();
    Ok(paths)
}

/// What a file that is neither a regular file, a folder nor a link is.
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "FIFO";
        }
        if file_type.is_socket() {
            return "socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "device";
        }
    }
    let _ = file_type;
    "special file"
}

/// Reads one pack file of at most `limit` bytes, as UTF-8: never through a link, never a
/// special file, and never more than `limit + 1` bytes of it.
fn read_pack_file(path: &Path, limit: usize) -> Result<String, RuleLoadError> {
    use std::io::Read;
    let io = |error: std::io::Error| RuleLoadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let before = std::fs::symlink_metadata(path).map_err(io)?;
    if before.file_type().is_symlink() {
        return Err(RuleLoadError::Link {
            path: path.to_path_buf(),
        });
    }
    if !before.is_file() {
        return Err(RuleLoadError::SpecialFile {
            path: path.to_path_buf(),
            kind: if before.is_dir() {
                "folder".to_string()
            } else {
                special_kind(&before.file_type()).to_string()
            },
        });
    }
    let too_large = |size: u64| {
        RuleLoadError::OverLimit {
        origin: path.display().to_string(),
        detail: format!("the file holds {size} bytes or more; the limit for this kind of pack file is {limit} bytes"),
    }
    };
    if before.len() > limit as u64 {
        return Err(too_large(before.len()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    // The file opened must be the regular file looked at, not a link put in its place since.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = file.metadata().map_err(io)?;
        if !opened.is_file() || opened.dev() != before.dev() || opened.ino() != before.ino() {
            return Err(RuleLoadError::Link {
                path: path.to_path_buf(),
            });
        }
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
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
