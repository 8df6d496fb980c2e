//! Visible escaping of terminal control characters, for every human-facing output.
//!
//! Evidence comes from machines that may be compromised, and rule packs and waivers from other
//! teams: a `ComputerName`, a value's data, a file name, an event field, a rule's message or fix
//! text can all hold ESC, BEL, OSC or CSI sequences that retitle or clear the terminal the text
//! report is printed on, or bidirectional overrides that make text read other than it is
//! stored. The text reports, `rules` listings and diagnostics on standard error pass every such
//! string through [`escape_terminal`] (or [`escape_terminal_lines`] for multi-line text such as
//! fix guidance), which shows each control character as a visible escape:
//!
//! | character | shown as |
//! |---|---|
//! | line feed, carriage return, tab | `\n`, `\r`, `\t` |
//! | other C0 controls (U+0000–U+001F) and DEL (U+007F) | `\xNN`, e.g. `\x1b` for ESC |
//! | C1 controls (U+0080–U+009F) | `\u{NN}`, e.g. `\u{9b}` for CSI |
//! | bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) | `\u{NNNN}`, e.g. `\u{202e}` |
//!
//! A backslash is left as it is, so registry paths read as written. JSON and SARIF carry the raw
//! strings (JSON escapes control characters itself) and JUnit escapes XML.
//!
//! The text report may add colour of its own ([`ColorChoice`]): the escaping then keeps only the
//! SGR sequences the report itself puts in, after every string from outside was escaped.
//!
//! Written by hand: the crates that deal with terminal sequences (`strip-ansi-escapes`,
//! `console`) remove ANSI sequences silently and leave C1 and bidi controls alone, while a report
//! must show what the evidence held, and `str::escape_debug` also escapes backslashes and quotes.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw: C0 controls, DEL, C1 controls, and the
/// bidirectional embedding, override and isolate characters.
pub fn is_terminal_control(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every control character shown as a visible escape, line feeds included: for
/// text that must stay on one line (names, paths, messages, values).
///
/// ```
/// use hiveward_engine::escape_terminal;
///
/// assert_eq!(escape_terminal("FS01\u{1b}]0;owned\u{7}"), r"FS01\x1b]0;owned\x07");
/// assert_eq!(escape_terminal("two\nlines"), r"two\nlines");
/// assert_eq!(escape_terminal(r"HKLM\SYSTEM"), r"HKLM\SYSTEM");
/// ```
pub fn escape_terminal(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// `text` with every control character shown as a visible escape except line feeds, which
/// stay: for multi-line text such as fix guidance, laid out one line at a time. A carriage
/// return is escaped too, so it cannot move the cursor back over what a line printed.
///
/// ```
/// use hiveward_engine::escape_terminal_lines;
///
/// assert_eq!(escape_terminal_lines("1. run\n2. reboot\r\u{9b}2J"), "1. run\n2. reboot\\r\\u{9b}2J");
/// ```
pub fn escape_terminal_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let needs = |c: char| is_terminal_control(c) && !(keep_newlines && c == '\n');
    let Some(first) = text.find(needs) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        if !needs(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            _ => {
                let _ = write!(out, "{}", c.escape_unicode());
            }
        }
    }
    Cow::Owned(out)
}

/// When the text report is in colour (`--color auto|always|never`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal, unless `NO_COLOR` is set (not empty);
    /// `CLICOLOR_FORCE` (not empty or `0`) colours a pipe too, `CLICOLOR=0` turns it off.
    #[default]
    Auto,
    /// Always colour (even a pipe), whatever the environment says.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether text written to standard output is coloured. On Windows, a console that does not
    /// yet take ANSI sequences is switched to them when the answer is yes.
    pub fn for_stdout(self) -> bool {
        let on = self.for_stream(&std::io::stdout());
        if on && cfg!(windows) {
            let _ = anstream::AutoStream::always_ansi(std::io::stdout());
        }
        on
    }

    /// Whether text written to standard error is coloured (see [`ColorChoice::for_stdout`]).
    pub fn for_stderr(self) -> bool {
        let on = self.for_stream(&std::io::stderr());
        if on && cfg!(windows) {
            let _ = anstream::AutoStream::always_ansi(std::io::stderr());
        }
        on
    }

    fn for_stream<S: anstream::stream::RawStream>(self, stream: &S) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // anstream reads NO_COLOR, CLICOLOR_FORCE, CLICOLOR and TERM, and whether the stream
            // is a terminal, in that order.
            ColorChoice::Auto => !matches!(
                anstream::AutoStream::choice(stream),
                anstream::ColorChoice::Never
            ),
        }
    }
}

/// Text with colours: [`escape_terminal_lines`], except that the SGR sequences the report itself
/// puts in (`ESC [` digits and `;` `m`, which only set colours) stay. Every string that comes from
/// evidence, packs or waivers was escaped on its own before, so an ESC it held is already shown
/// as `\x1b`: what is kept here can only be the report's own colouring.
pub(crate) fn escape_terminal_lines_keeping_colour(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return escape_terminal_lines(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&escape_terminal_lines(&rest[..at]));
        let after = &rest[at + 1..];
        let body = after
            .strip_prefix('[')
            .map(|params| params.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';'));
        match body.and_then(|body| body.strip_prefix('m')) {
            Some(tail) => {
                out.push_str(&rest[at..rest.len() - tail.len()]);
                rest = tail;
            }
            None => {
                out.push_str("\\x1b");
                rest = after;
            }
        }
    }
    out.push_str(&escape_terminal_lines(rest));
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_survives_the_last_guard_and_nothing_else_does() {
        let text = "\u{1b}[1;31mHIGH\u{1b}[0m \u{1b}]0;title\u{7} \u{1b}[2J \u{1b}[31";
        assert_eq!(
            escape_terminal_lines_keeping_colour(text),
            "\u{1b}[1;31mHIGH\u{1b}[0m \\x1b]0;title\\x07 \\x1b[2J \\x1b[31"
        );
        assert_eq!(escape_terminal_lines_keeping_colour("a\nb\r"), "a\nb\\r");
    }

    /// Every character the escaper must catch, with how it must look.
    const CASES: &[(&str, &str)] = &[
        ("\u{1b}]0;title\u{7}", r"\x1b]0;title\x07"),
        ("\u{1b}[2J\u{1b}[H", r"\x1b[2J\x1b[H"),
        ("\u{0}", r"\x00"),
        ("\u{1f}", r"\x1f"),
        ("\u{7f}", r"\x7f"),
        ("\u{80}", r"\u{80}"),
        ("\u{9b}31m", r"\u{9b}31m"),
        ("\u{9f}", r"\u{9f}"),
        ("a\u{202e}b", r"a\u{202e}b"),
        (
            "\u{202a}\u{202b}\u{202c}\u{202d}",
            r"\u{202a}\u{202b}\u{202c}\u{202d}",
        ),
        (
            "\u{2066}\u{2067}\u{2068}\u{2069}",
            r"\u{2066}\u{2067}\u{2068}\u{2069}",
        ),
        ("tab\there", r"tab\there"),
        ("cr\rhere", r"cr\rhere"),
    ];

    #[test]
    fn control_characters_are_shown_not_sent() {
        for (raw, shown) in CASES {
            assert_eq!(escape_terminal(raw), *shown, "{raw:?}");
            assert_eq!(escape_terminal_lines(raw), *shown, "{raw:?}");
            assert!(!escape_terminal(raw).chars().any(is_terminal_control));
        }
    }

    #[test]
    fn line_feeds_stay_only_in_multi_line_text() {
        assert_eq!(escape_terminal("a\nb\r\n"), r"a\nb\r\n");
        assert_eq!(escape_terminal_lines("a\nb\r\n"), "a\nb\\r\n");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in [
            "",
            r"HKLM\SYSTEM\CurrentControlSet",
            "Windows Server 2019 — build 17763 ×2 ÿ \u{a0}\u{200f}",
            "C:\\temp\\x1b is a name, not an escape",
        ] {
            assert!(
                matches!(escape_terminal(text), Cow::Borrowed(_)),
                "{text:?}"
            );
            assert_eq!(escape_terminal(text), text);
        }
    }

    #[test]
    fn just_outside_the_ranges_is_left_alone() {
        for c in [
            '\u{20}', '\u{7e}', '\u{a0}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
        ] {
            assert!(!is_terminal_control(c), "{c:?}");
        }
    }
}
