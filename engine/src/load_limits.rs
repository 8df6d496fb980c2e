//! What a pack may cost to load: the size of each file and of the whole pack, and the compile
//! cost of each `.rhai` file, checked before Rhai sees it.
//!
//! Rhai's compile time grows with the square of the distinct variable names, map keys and
//! functions of a file (100,000 functions take minutes), so besides Rhai's own function limit
//! ([`Limits::max_functions`]) each file's distinct words are counted first. The count is a
//! cheap over-estimate: it also counts the words of strings and comments.

use std::collections::HashSet;

use crate::error::RuleLoadError;
use crate::pack::{PackSource, SourceFile};
use crate::sandbox::Limits;

/// The distinct words of `text`: runs of ASCII letters, digits and `_`, and of non-ASCII
/// characters.
pub(crate) fn distinct_words(text: &str) -> usize {
    let mut words: HashSet<&str> = HashSet::new();
    let mut start: Option<usize> = None;
    for (at, character) in text.char_indices() {
        let in_word =
            character.is_ascii_alphanumeric() || character == '_' || !character.is_ascii();
        match (in_word, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                words.insert(&text[from..at]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        words.insert(&text[from..]);
    }
    words.len()
}

fn over(file: &SourceFile, detail: String) -> RuleLoadError {
    RuleLoadError::OverLimit {
        origin: file.origin.clone(),
        detail,
    }
}

/// Checks the sizes of a pack's files and of the pack, and the distinct words of each `.rhai`
/// file; returns every problem found. Packs read from disk were already bounded while read;
/// this covers packs built in memory too.
pub(crate) fn check_pack(pack: &PackSource, limits: &Limits) -> Vec<RuleLoadError> {
    let mut errors = Vec::new();
    let tomls = std::iter::once(&pack.manifest).chain(&pack.tests);
    for file in tomls {
        if file.text.len() > limits.max_toml_bytes {
            errors.push(over(
                file,
                format!(
                    "the file holds {} bytes; the limit for pack.toml and *.tests.toml files is {} bytes",
                    file.text.len(),
                    limits.max_toml_bytes
                ),
            ));
        }
    }
    let mut pack_words = 0usize;
    for file in pack.rules.iter().chain(&pack.libs) {
        if file.text.len() > limits.max_source_bytes {
            errors.push(over(
                file,
                format!(
                    "the file holds {} bytes; the limit for one .rhai file is {} bytes: split it into rules and lib/ modules",
                    file.text.len(),
                    limits.max_source_bytes
                ),
            ));
            continue;
        }
        let words = distinct_words(&file.text);
        pack_words = pack_words.saturating_add(words);
        if words > limits.max_distinct_words {
            errors.push(over(
                file,
                format!(
                    "the file holds {words} distinct words (names, numbers and the words of strings and comments); the limit for one .rhai file is {}, because compiling takes time that grows with their square: split it into rules and lib/ modules",
                    limits.max_distinct_words
                ),
            ));
        }
    }
    let total: usize = std::iter::once(&pack.manifest)
        .chain(&pack.rules)
        .chain(&pack.libs)
        .chain(&pack.tests)
        .map(|file| file.text.len())
        .sum();
    if total > limits.max_pack_bytes {
        errors.push(RuleLoadError::OverLimit {
            origin: pack.origin.clone(),
            detail: format!(
                "the pack's files hold {total} bytes; the limit for one pack is {} bytes",
                limits.max_pack_bytes
            ),
        });
    }
    if pack_words > limits.max_pack_distinct_words && errors.is_empty() {
        errors.push(RuleLoadError::OverLimit {
            origin: pack.origin.clone(),
            detail: format!(
                "the pack's .rhai files hold {pack_words} distinct words, counted file by file; the limit for one pack is {}",
                limits.max_pack_distinct_words
            ),
        });
    }
    errors
}

/// The message for a Rhai parse error, with Rhai's function limit said in hiveward's terms.
pub(crate) fn parse_error_message(error: &rhai::ParseError, limits: &Limits) -> String {
    match error.err_type() {
        rhai::ParseErrorType::TooManyFunctions => format!(
            "too many functions: a .rhai file may define at most {} (closures included), because compiling takes time that grows with their square",
            limits.max_functions
        ),
        other => format!("syntax error: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_counted_once() {
        assert_eq!(distinct_words(""), 0);
        assert_eq!(distinct_words("let a = a + 1; // a"), 3);
        assert_eq!(distinct_words("#{ \"é1\": 1, \"é2\": 2 }"), 4);
        assert_eq!(distinct_words("x_1 x_1\nx_2"), 2);
    }
}
