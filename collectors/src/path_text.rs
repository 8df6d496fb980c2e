//! File paths as report strings that keep the paths' identity: two different paths never give
//! the same string, and the string gives the path back.
//!
//! `Path::display` and `to_string_lossy` turn every byte that is not UTF-8 into U+FFFD, so two
//! files whose names differ only there would be reported as one. [`path_text`] is what every
//! report carries instead (`FileRecord::path`, `PassedOver::path`, `Notice::file`):
//!
//! - a path that is valid Unicode and holds no backslash is its own text, unchanged;
//! - on Unix, any other path is written with escapes: each backslash as `\\`, and each byte
//!   that is not part of valid UTF-8 as `\xNN` (two lowercase hex digits). Such a text always
//!   holds a backslash and a plain one never does, so the two forms cannot be confused, and
//!   [`path_from_text`] reads either back;
//! - on Windows (where a backslash separates components and names cannot hold `<` or `>`), a
//!   UTF-16 unit that is not part of valid UTF-16 is written `<XXXX>` (four uppercase hex
//!   digits), and everything else is unchanged.
//!
//! Control characters such as a line feed stay as they are: JSON escapes them, and the text
//! reports show them through the engine's terminal escaping (`\n`, `\x1b`), which never meets a
//! raw backslash from a path and so stays lossless too.
//!
//! Written by hand: no crate gives this exact, documented, reversible form; `os_str_bytes`
//! and `bstr` escape differently or not reversibly.

use std::path::{Path, PathBuf};

/// The report string of `path`: itself when it is valid Unicode without a backslash, else the
/// escaped form the module describes. Distinct paths give distinct strings.
///
/// ```
/// use hiveward_collectors::{path_from_text, path_text};
/// use std::path::Path;
///
/// assert_eq!(path_text(Path::new("bundle/FS01_SYSTEM.HIV")), "bundle/FS01_SYSTEM.HIV");
/// # #[cfg(unix)] {
/// use std::os::unix::ffi::OsStrExt;
/// let odd = Path::new(std::ffi::OsStr::from_bytes(b"bundle/S\xff\\x.HIV"));
/// assert_eq!(path_text(odd), r"bundle/S\xff\\x.HIV");
/// assert_eq!(path_from_text(&path_text(odd)).as_deref(), Some(odd));
/// # }
/// ```
pub fn path_text(path: &Path) -> String {
    imp::path_text(path)
}

/// The path a [`path_text`] string stands for; `None` when `text` is not in that form (a
/// backslash escape other than `\\` or `\xNN`, on Unix).
pub fn path_from_text(text: &str) -> Option<PathBuf> {
    imp::path_from_text(text)
}

#[cfg(unix)]
mod imp {
    use std::ffi::OsStr;
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    pub(super) fn path_text(path: &Path) -> String {
        let bytes = path.as_os_str().as_bytes();
        if let Ok(text) = std::str::from_utf8(bytes) {
            if !text.contains('\\') {
                return text.to_string();
            }
        }
        let mut out = String::with_capacity(bytes.len() + 8);
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(c);
                }
            }
            for byte in chunk.invalid() {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
        out
    }

    pub(super) fn path_from_text(text: &str) -> Option<PathBuf> {
        if !text.contains('\\') {
            return Some(PathBuf::from(text));
        }
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] != b'\\' {
                out.push(bytes[index]);
                index += 1;
                continue;
            }
            match bytes.get(index + 1)? {
                b'\\' => {
                    out.push(b'\\');
                    index += 2;
                }
                b'x' => {
                    let hex = std::str::from_utf8(bytes.get(index + 2..index + 4)?).ok()?;
                    if !hex.bytes().all(|digit| digit.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    index += 4;
                }
                _ => return None,
            }
        }
        Some(PathBuf::from(OsStr::from_bytes(&out)))
    }
}

#[cfg(windows)]
mod imp {
    use std::ffi::OsString;
    use std::fmt::Write as _;
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    pub(super) fn path_text(path: &Path) -> String {
        if let Some(text) = path.to_str() {
            return text.to_string();
        }
        let mut out = String::new();
        for unit in char::decode_utf16(path.as_os_str().encode_wide()) {
            match unit {
                Ok(c) => out.push(c),
                Err(error) => {
                    let _ = write!(out, "<{:04X}>", error.unpaired_surrogate());
                }
            }
        }
        out
    }

    pub(super) fn path_from_text(text: &str) -> Option<PathBuf> {
        if !text.contains('<') {
            return Some(PathBuf::from(text));
        }
        let mut units: Vec<u16> = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            units.extend(rest[..start].encode_utf16());
            let hex = rest.get(start + 1..start + 5)?;
            if rest.get(start + 5..start + 6)? != ">" {
                return None;
            }
            units.push(u16::from_str_radix(hex, 16).ok()?);
            rest = &rest[start + 6..];
        }
        units.extend(rest.encode_utf16());
        Some(PathBuf::from(OsString::from_wide(&units)))
    }
}

#[cfg(not(any(unix, windows)))]
mod imp {
    use std::path::{Path, PathBuf};

    // Paths on these platforms are Unicode strings, so nothing is lost.
    pub(super) fn path_text(path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }

    pub(super) fn path_from_text(text: &str) -> Option<PathBuf> {
        Some(PathBuf::from(text))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use proptest::prelude::*;

    use super::*;

    fn path(bytes: &[u8]) -> &Path {
        Path::new(OsStr::from_bytes(bytes))
    }

    /// The bytes of the path `text` reads back as (compared as bytes: `Path` equality would
    /// forgive `a//b` against `a/b`).
    fn read_back(text: &str) -> Option<Vec<u8>> {
        path_from_text(text).map(|path| path.as_os_str().as_bytes().to_vec())
    }

    #[test]
    fn plain_paths_are_unchanged() {
        for text in [
            "",
            "a/b/FS01_SYSTEM.HIV",
            "ünïcode/Ω.evtx",
            "new\nline",
            "esc\u{1b}[2J",
        ] {
            assert_eq!(path_text(Path::new(text)), text);
            assert_eq!(read_back(text).as_deref(), Some(text.as_bytes()));
        }
    }

    #[test]
    fn paths_that_lossy_display_confuses_stay_apart() {
        let paths: [&[u8]; 6] = [
            b"dir/a\xff.HIV",
            b"dir/a\xfe.HIV",
            b"dir/a\xef\xbf\xbd.HIV", // U+FFFD itself, what `display` shows for both above
            br"dir/a\xff.HIV",        // the escape written out literally
            br"dir/a\\xff.HIV",
            b"dir/a\\\xff.HIV",
        ];
        let texts: Vec<String> = paths.iter().map(|bytes| path_text(path(bytes))).collect();
        assert_eq!(
            texts,
            [
                r"dir/a\xff.HIV",
                r"dir/a\xfe.HIV",
                "dir/a\u{fffd}.HIV",
                r"dir/a\\xff.HIV",
                r"dir/a\\\\xff.HIV",
                r"dir/a\\\xff.HIV",
            ]
        );
        for (bytes, text) in paths.iter().zip(&texts) {
            assert_eq!(read_back(text).as_deref(), Some(*bytes), "{text}");
        }
    }

    #[test]
    fn malformed_escapes_are_refused() {
        for text in [r"a\", r"a\n", r"a\x", r"a\xf", r"a\xzz", r"a\x+f"] {
            assert_eq!(path_from_text(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn every_path_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let text = path_text(path(&bytes));
            prop_assert_eq!(read_back(&text), Some(bytes));
        }

        #[test]
        fn distinct_paths_give_distinct_texts(
            left in proptest::collection::vec(prop_oneof![Just(b'\\'), Just(b'x'), Just(b'f'), Just(0xff_u8), Just(0xc3_u8), Just(0xbf_u8), any::<u8>()], 0..8),
            right in proptest::collection::vec(prop_oneof![Just(b'\\'), Just(b'x'), Just(b'f'), Just(0xff_u8), Just(0xc3_u8), Just(0xbf_u8), any::<u8>()], 0..8),
        ) {
            prop_assume!(left != right);
            prop_assert_ne!(path_text(path(&left)), path_text(path(&right)));
        }
    }
}
