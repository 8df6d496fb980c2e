//! Evidence paths as SARIF artifact locations: relative to `%SRCROOT%` when under it, else
//! absolute `file:` URIs.

use std::path::{Component, Path, PathBuf, Prefix};

use serde_sarif::sarif::{ArtifactLocation, Location, PhysicalLocation, Region};

use super::SRCROOT;

/// Turns file paths into SARIF artifact locations.
pub(crate) struct PathMapper {
    /// The directory `%SRCROOT%` stands for, absolute and normalised.
    root: PathBuf,
}

impl PathMapper {
    /// Maps paths under `root` (its `.` and `..` resolved) to `%SRCROOT%`.
    pub(crate) fn new(root: PathBuf) -> PathMapper {
        PathMapper {
            root: normalize(&root),
        }
    }

    /// `path` relative to the root when it is under it (`Ok`), else absolute (`Err`).
    fn resolve(&self, path: &str) -> std::result::Result<PathBuf, PathBuf> {
        let given = Path::new(path);
        let escapes = given
            .components()
            .any(|component| component == Component::ParentDir);
        let absolute = if given.has_root() || given.is_absolute() {
            normalize(given)
        } else if escapes {
            normalize(&self.root.join(given))
        } else {
            return Ok(given.to_path_buf());
        };
        if let Ok(relative) = absolute.strip_prefix(&self.root) {
            return Ok(relative.to_path_buf());
        }
        // The root or the path may go through a symbolic link.
        let real = std::fs::canonicalize(&absolute).ok();
        let root = std::fs::canonicalize(&self.root).ok();
        match (real, root) {
            (Some(real), Some(root)) => match real.strip_prefix(root) {
                Ok(relative) => Ok(relative.to_path_buf()),
                Err(_) => Err(absolute),
            },
            _ => Err(absolute),
        }
    }

    /// `path` relative to `%SRCROOT%` when it is under it, else as an absolute `file:` URI.
    pub(crate) fn artifact_location(&self, path: &str) -> ArtifactLocation {
        match self.resolve(path) {
            Ok(relative) => {
                let segments: Vec<String> = relative
                    .components()
                    .filter_map(|component| match component {
                        Component::Normal(name) => Some(percent_encode(&name.to_string_lossy())),
                        _ => None,
                    })
                    .collect();
                let uri = if segments.is_empty() {
                    ".".to_string()
                } else {
                    segments.join("/")
                };
                ArtifactLocation {
                    uri: Some(uri),
                    uri_base_id: Some(SRCROOT.to_string()),
                    ..Default::default()
                }
            }
            Err(absolute) => ArtifactLocation {
                uri: Some(file_uri(&absolute)),
                ..Default::default()
            },
        }
    }

    /// `path` as a relative path with `/` when it is under the root, else unchanged.
    pub(crate) fn display_path(&self, path: &str) -> String {
        match self.resolve(path) {
            Ok(relative) => {
                let parts: Vec<String> = relative
                    .components()
                    .filter_map(|component| match component {
                        Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                if parts.is_empty() {
                    ".".to_string()
                } else {
                    parts.join("/")
                }
            }
            Err(_) => path.to_string(),
        }
    }

    /// `text` with the root's absolute path taken out of the paths it names, so that the
    /// output does not depend on where the evidence sat.
    pub(crate) fn relativize_text(&self, text: &str) -> String {
        let root = self.root.to_string_lossy();
        let root = root.trim_end_matches(['/', '\\']);
        if root.is_empty() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for separator in ['/', '\\'] {
            out = out.replace(&format!("{root}{separator}"), "");
        }
        out
    }

    /// A location naming a file, with a line and column when known.
    pub(super) fn file_location(
        &self,
        path: &str,
        line: Option<(usize, Option<usize>)>,
    ) -> Location {
        Location {
            physical_location: Some(PhysicalLocation {
                artifact_location: Some(self.artifact_location(path)),
                region: line.map(|(line, column)| Region {
                    start_line: Some(line.max(1) as i64),
                    start_column: column.map(|column| column.max(1) as i64),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// An absolute `file:` URI for `path`.
fn file_uri(path: &Path) -> String {
    let mut authority = String::new();
    let mut segments: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => match prefix.kind() {
                Prefix::Disk(letter) | Prefix::VerbatimDisk(letter) => {
                    segments.push(format!("{}:", char::from(letter)));
                }
                Prefix::UNC(server, share) | Prefix::VerbatimUNC(server, share) => {
                    authority = percent_encode(&server.to_string_lossy());
                    segments.push(percent_encode(&share.to_string_lossy()));
                }
                _ => segments.push(percent_encode(&prefix.as_os_str().to_string_lossy())),
            },
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => segments.push("..".to_string()),
            Component::Normal(name) => segments.push(percent_encode(&name.to_string_lossy())),
        }
    }
    format!("file://{authority}/{}", segments.join("/"))
}

/// Percent-encodes everything but unreserved characters (RFC 3986): `%4` becomes `%254`, a
/// space `%20`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(
            percent_encode("Microsoft-Windows-SMBServer%4Security.evtx"),
            "Microsoft-Windows-SMBServer%254Security.evtx"
        );
        assert_eq!(percent_encode("My Files~_.x"), "My%20Files~_.x");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn paths_under_the_root_are_relative() {
        let mapper = PathMapper {
            root: PathBuf::from("/cases/7"),
        };
        let relative = mapper.artifact_location("/cases/7/FS01/config/SYSTEM");
        assert_eq!(relative.uri.as_deref(), Some("FS01/config/SYSTEM"));
        assert_eq!(relative.uri_base_id.as_deref(), Some(SRCROOT));
        let dotted = mapper.artifact_location("./bundle/../bundle/x y.hiv");
        assert_eq!(dotted.uri.as_deref(), Some("bundle/x%20y.hiv"));
        let outside = mapper.artifact_location("/evidence/a b/SYSTEM");
        assert_eq!(
            outside.uri.as_deref(),
            Some("file:///evidence/a%20b/SYSTEM")
        );
        assert_eq!(outside.uri_base_id, None);
        let escaping = mapper.artifact_location("../8/SYSTEM");
        assert_eq!(escaping.uri.as_deref(), Some("file:///cases/8/SYSTEM"));
    }

    #[test]
    fn texts_and_paths_lose_the_root() {
        let mapper = PathMapper {
            root: PathBuf::from("/cases/7"),
        };
        assert_eq!(
            mapper.relativize_text("/cases/7/FS01/SYSTEM: not a hive; /cases/70/x stays"),
            "FS01/SYSTEM: not a hive; /cases/70/x stays"
        );
        assert_eq!(mapper.display_path("/cases/7/a b/SYSTEM"), "a b/SYSTEM");
        assert_eq!(
            mapper.display_path("/elsewhere/SYSTEM"),
            "/elsewhere/SYSTEM"
        );
    }
}
