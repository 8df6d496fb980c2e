//! Renders miette diagnostics as text (the binary prints it on standard error) so that no input
//! can break the rendering, the terminal or the run.
//!
//! Diagnostics quote the files they are about, and those files are hostile input: a `.reg`
//! export, a waiver, a baseline, a `pack.toml` or a rule file can hold a line of megabytes, and
//! miette's graphical handler panics when a label sits past column 65,535 (it pads with a
//! formatting width, which Rust caps at `u16::MAX`). Their names and messages can also carry
//! terminal control sequences. So before miette sees a diagnostic, [`render_diagnostic_text`] rebuilds it as
//! an owned copy in which:
//!
//! - each labelled span is shown from a small window of its own file: the label's line and one
//!   line either side; a line longer than [`MAX_LINE`] bytes is cut around the label and each
//!   cut marked with `…`; a label is shown for at most [`MAX_LABEL`] bytes of its first line.
//!   Line and column numbers stay those of the real file. No more of the file than that is
//!   printed;
//! - messages, help, labels, codes and file names have their control characters escaped
//!   ([`escape_terminal`]) and are cut after [`MAX_TEXT`] characters ([`MAX_LABEL_TEXT`] for
//!   label texts and file names);
//! - the cause chain and related diagnostics are rebuilt the same way, to a bounded depth.
//!
//! If building or rendering still fails or panics (a bug here or in miette), the diagnostic is
//! printed in a plain one-line form instead: a diagnostic never stops a scan.
//!
//! Written by hand: miette has no option to bound the width of what it quotes.

use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::terminal::escape_terminal;
use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, Severity, SourceCode, SourceSpan, SpanContents,
};

/// The longest source line, in bytes, shown whole; a longer one is cut around its label.
const MAX_LINE: usize = 160;
/// Bytes kept before a label on a cut line.
const BEFORE_LABEL: usize = 48;
/// Bytes kept after a label on a cut line.
const AFTER_LABEL: usize = 32;
/// The most bytes of a label shown; a longer label is cut, and one over several lines ends at
/// the end of its first line.
const MAX_LABEL: usize = 80;
/// Lines of context shown before and after a label's line.
const CONTEXT_LINES: usize = 1;
/// The most characters of a message, help text or code.
const MAX_TEXT: usize = 1_000;
/// The most characters of a label's text or a file name.
const MAX_LABEL_TEXT: usize = 160;
/// The most labels shown for one diagnostic.
const MAX_LABELS: usize = 8;
/// The most related diagnostics shown for one diagnostic.
const MAX_RELATED: usize = 16;
/// How deep cause chains and related diagnostics are followed.
const MAX_DEPTH: usize = 8;
/// What no line handed to miette may exceed, in characters (miette pads with a formatting
/// width, which panics over 65,535); a window that would is dropped.
const SAFE_LINE: usize = 4_096;
/// Marks where a line was cut.
const CUT: &str = "…";

/// `diagnostic` laid out by miette's graphical handler, made safe as the module describes, or
/// in plain form if that fails. The binary prints it on standard error; the fuzz harness
/// renders every diagnostic it meets through it.
pub fn render_diagnostic_text(diagnostic: &dyn Diagnostic) -> String {
    render_diagnostic_text_with(diagnostic, false)
}

/// [`render_diagnostic_text`], in colour when `color` is set (for a terminal). Only the
/// renderer's own styling is coloured: the diagnostic's texts are made safe first, as without
/// colour.
pub fn render_diagnostic_text_with(diagnostic: &dyn Diagnostic, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_context_lines(CONTEXT_LINES);
    let graphical = quietly(|| {
        let safe = Safe::new(diagnostic, None, 0);
        let mut rendered = String::new();
        handler
            .render_report(&mut rendered, &safe)
            .ok()
            .map(|()| rendered)
    });
    match graphical {
        Some(Some(rendered)) => rendered,
        _ => plain(diagnostic),
    }
}

/// The one-line fallback: `error: MESSAGE`, and the help on a line of its own.
fn plain(diagnostic: &dyn Diagnostic) -> String {
    quietly(|| {
        let mut out = format!("error: {}\n", clean(&diagnostic.to_string()));
        if let Some(help) = diagnostic.help() {
            out.push_str(&format!("  help: {}\n", clean(&help.to_string())));
        }
        out
    })
    .unwrap_or_else(|| "error: (a diagnostic that could not be displayed)\n".to_string())
}

thread_local! {
    /// Whether a panic on this thread is expected and caught, so the hook stays silent.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`, catching a panic; the panic message is not printed (a panic on another thread
/// is still reported as usual).
fn quietly<T>(work: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|quiet| quiet.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    QUIET.with(|quiet| quiet.set(was));
    result.ok()
}

/// `text` with control characters escaped, cut after [`MAX_TEXT`] characters.
fn clean(text: &str) -> String {
    let escaped = escape_terminal(text);
    match escaped.char_indices().nth(MAX_TEXT) {
        None => escaped.into_owned(),
        Some((end, _)) => format!(
            "{}{CUT} ({} more characters)",
            &escaped[..end],
            escaped[end..].chars().count()
        ),
    }
}

/// An owned, bounded and escaped copy of a diagnostic, safe to hand to miette.
#[derive(Debug)]
struct Safe {
    message: String,
    code: Option<String>,
    severity: Option<Severity>,
    help: Option<String>,
    url: Option<String>,
    source: Option<Windows>,
    labels: Vec<LabeledSpan>,
    related: Vec<Safe>,
    cause: Option<Box<Safe>>,
}

impl Safe {
    /// The safe copy of `diagnostic`, whose labels point into its own source or, when it has
    /// none, into `parent_source`.
    fn new(
        diagnostic: &dyn Diagnostic,
        parent_source: Option<&dyn SourceCode>,
        depth: usize,
    ) -> Safe {
        let source = diagnostic.source_code().or(parent_source);
        let (windows, labels) = match (source, diagnostic.labels()) {
            (Some(source), Some(labels)) => {
                let mut labels: Vec<LabeledSpan> = labels.collect();
                labels.sort_by_key(LabeledSpan::offset);
                labels.truncate(MAX_LABELS);
                Windows::around(source, &labels)
            }
            _ => (None, Vec::new()),
        };
        let deeper = depth < MAX_DEPTH;
        let cause = match (diagnostic.diagnostic_source(), diagnostic.source()) {
            _ if !deeper => None,
            (Some(inner), _) => Some(Box::new(Safe::new(inner, source, depth + 1))),
            (None, Some(error)) => Some(Box::new(Safe::from_error(error, depth + 1))),
            (None, None) => None,
        };
        let related = match diagnostic.related() {
            Some(related) if deeper => related
                .take(MAX_RELATED)
                .map(|related| Safe::new(related, source, depth + 1))
                .collect(),
            _ => Vec::new(),
        };
        Safe {
            message: clean(&diagnostic.to_string()),
            code: diagnostic.code().map(|code| clean(&code.to_string())),
            severity: diagnostic.severity(),
            help: diagnostic.help().map(|help| clean(&help.to_string())),
            url: diagnostic.url().map(|url| clean(&url.to_string())),
            source: windows,
            labels,
            related,
            cause,
        }
    }

    /// The safe copy of a plain error and its causes.
    fn from_error(error: &dyn std::error::Error, depth: usize) -> Safe {
        Safe {
            message: clean(&error.to_string()),
            code: None,
            severity: None,
            help: None,
            url: None,
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
            cause: error
                .source()
                .filter(|_| depth < MAX_DEPTH)
                .map(|inner| Box::new(Safe::from_error(inner, depth + 1))),
        }
    }
}

impl fmt::Display for Safe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Safe {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

impl Diagnostic for Safe {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|code| Box::new(code) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<Severity> {
        self.severity
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.url
            .as_ref()
            .map(|url| Box::new(url) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|source| source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related
                    .iter()
                    .map(|related| related as &dyn Diagnostic),
            ))
        }
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.cause.as_deref().map(|cause| cause as &dyn Diagnostic)
    }
}

/// The short, escaped excerpts of a file that a safe diagnostic shows, one per label, laid end
/// to end in a virtual text. Each excerpt answers for the real lines and columns it shows.
#[derive(Debug)]
struct Windows {
    name: Option<String>,
    windows: Vec<Window>,
}

/// One excerpt: a few lines around one label.
#[derive(Debug)]
struct Window {
    /// Where the excerpt starts in the virtual text.
    start: usize,
    /// The excerpt, escaped, lines cut.
    text: String,
    /// The zero-based line of the real file the excerpt's first line is.
    first_line: usize,
    /// Where the label starts in the virtual text.
    label_start: usize,
    /// The label's zero-based byte column in the real file.
    label_column: usize,
}

/// One line of an excerpt, as bytes of the real file.
struct RawLine<'a> {
    bytes: &'a [u8],
    /// The label's start and end within `bytes`, for the label's own line.
    label: Option<(usize, usize)>,
}

impl Windows {
    /// The excerpts of `source` around `labels`, and the labels moved into them. A label whose
    /// place cannot be read is left out.
    fn around(
        source: &dyn SourceCode,
        labels: &[LabeledSpan],
    ) -> (Option<Windows>, Vec<LabeledSpan>) {
        let mut name = None;
        let mut windows = Vec::new();
        let mut moved = Vec::new();
        let mut start = 0;
        for label in labels {
            let Some((window, label_len, window_name)) = Window::build(source, label, start) else {
                continue;
            };
            if window
                .text
                .split('\n')
                .any(|line| line.chars().count() > SAFE_LINE)
            {
                continue;
            }
            name = name.or(window_name);
            moved.push(LabeledSpan::new_with_span(
                label.label().map(clean_label),
                SourceSpan::new(window.label_start.into(), label_len),
            ));
            start = window.start + window.text.len() + 1;
            windows.push(window);
        }
        if windows.is_empty() {
            return (None, Vec::new());
        }
        (Some(Windows { name, windows }), moved)
    }
}

/// A label's text: escaped, and shorter than a message may be.
fn clean_label(text: &str) -> String {
    let cleaned = clean(text);
    match cleaned.char_indices().nth(MAX_LABEL_TEXT) {
        None => cleaned,
        Some((end, _)) => format!("{}{CUT}", &cleaned[..end]),
    }
}

impl Window {
    /// The excerpt around `label`, placed at `start` of the virtual text, with the label's
    /// length in it and the file's name.
    fn build(
        source: &dyn SourceCode,
        label: &LabeledSpan,
        start: usize,
    ) -> Option<(Window, usize, Option<String>)> {
        let offset = label.offset();
        let probe = SourceSpan::new(offset.into(), label.len().min(1));
        let contents = source
            .read_span(&probe, CONTEXT_LINES, CONTEXT_LINES)
            .ok()?;
        let data = contents.data();
        let at = offset.checked_sub(contents.span().offset())?;
        if at > data.len() {
            return None;
        }
        let line_start = data[..at]
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |index| index + 1);
        let line_end = data[at..]
            .iter()
            .position(|byte| *byte == b'\n')
            .map_or(data.len(), |index| at + index);
        let label_line = contents.line()
            + data[..line_start]
                .iter()
                .filter(|byte| **byte == b'\n')
                .count();
        let mut lines = Vec::new();
        if line_start > 0 {
            let end = line_start - 1;
            let begin = data[..end]
                .iter()
                .rposition(|byte| *byte == b'\n')
                .map_or(0, |index| index + 1);
            lines.push(RawLine {
                bytes: &data[begin..end],
                label: None,
            });
        }
        let first_line = label_line - lines.len();
        let own = trim_cr(&data[line_start..line_end]);
        let label_from = (at - line_start).min(own.len());
        let label_to = label_from
            .saturating_add(label.len())
            .min(own.len())
            .min(label_from + MAX_LABEL);
        lines.push(RawLine {
            bytes: own,
            label: Some((label_from, label_to)),
        });
        if line_end < data.len() {
            let rest = &data[line_end + 1..];
            let end = rest
                .iter()
                .position(|byte| *byte == b'\n')
                .unwrap_or(rest.len());
            if end > 0 || line_end + 1 < data.len() {
                lines.push(RawLine {
                    bytes: &rest[..end],
                    label: None,
                });
            }
        }

        let mut text = String::new();
        let mut label_at = (0, 0);
        for (index, line) in lines.iter().enumerate() {
            if index > 0 {
                text.push('\n');
            }
            match line.label {
                None => text.push_str(&show_context_line(trim_cr(line.bytes))),
                Some((from, to)) => {
                    let (before, label, after) = show_label_line(line.bytes, from, to);
                    text.push_str(&before);
                    label_at = (text.len(), label.len());
                    text.push_str(&label);
                    text.push_str(&after);
                }
            }
        }
        let window = Window {
            start,
            text,
            first_line,
            label_start: start + label_at.0,
            label_column: at - line_start,
        };
        let name = contents.name().map(clean_label);
        Some((window, label_at.1, name))
    }
}

/// `bytes` without the carriage return of a CRLF line end.
fn trim_cr(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// `bytes` as escaped text.
fn show(bytes: &[u8]) -> String {
    escape_terminal(&String::from_utf8_lossy(bytes)).into_owned()
}

/// `index` moved back to the start of the UTF-8 character it falls in (at most three bytes).
fn char_start(bytes: &[u8], mut index: usize) -> usize {
    for _ in 0..3 {
        if index == 0 || index >= bytes.len() || bytes[index] & 0xC0 != 0x80 {
            break;
        }
        index -= 1;
    }
    index
}

/// `index` moved on to the end of the UTF-8 character it falls in (at most three bytes).
fn char_end(bytes: &[u8], mut index: usize) -> usize {
    for _ in 0..3 {
        if index >= bytes.len() || bytes[index] & 0xC0 != 0x80 {
            break;
        }
        index += 1;
    }
    index
}

/// A context line: whole when short, else its start and a cut mark.
fn show_context_line(bytes: &[u8]) -> String {
    if bytes.len() <= MAX_LINE {
        return show(bytes);
    }
    format!("{}{CUT}", show(&bytes[..char_start(bytes, MAX_LINE)]))
}

/// The label's line in three parts — before the label, the label, after it — cut around the
/// label when the line is long.
fn show_label_line(bytes: &[u8], from: usize, to: usize) -> (String, String, String) {
    let from = char_start(bytes, from);
    let to = char_end(bytes, to.max(from));
    let (keep_from, keep_to) = if bytes.len() <= MAX_LINE {
        (0, bytes.len())
    } else {
        (
            char_start(bytes, from.saturating_sub(BEFORE_LABEL)),
            char_end(bytes, to.saturating_add(AFTER_LABEL).min(bytes.len())),
        )
    };
    let mut before = String::new();
    if keep_from > 0 {
        before.push_str(CUT);
    }
    before.push_str(&show(&bytes[keep_from..from]));
    let mut after = show(&bytes[to..keep_to]);
    if keep_to < bytes.len() {
        after.push_str(CUT);
    }
    (before, show(&bytes[from..to]), after)
}

impl SourceCode for Windows {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let end = span.offset().saturating_add(span.len());
        let window = self
            .windows
            .iter()
            .find(|window| span.offset() >= window.start && end <= window.start + window.text.len())
            .ok_or(MietteError::OutOfBounds)?;
        let local = SourceSpan::new((span.offset() - window.start).into(), span.len());
        let contents = <str as SourceCode>::read_span(
            window.text.as_str(),
            &local,
            context_lines_before,
            context_lines_after,
        )?;
        let column = if context_lines_before == 0 && span.offset() == window.label_start {
            window.label_column
        } else {
            contents.column()
        };
        let line = contents.line() + window.first_line;
        let span = SourceSpan::new(
            (contents.span().offset() + window.start).into(),
            contents.span().len(),
        );
        let data = contents.data();
        let line_count = contents.line_count();
        Ok(Box::new(match &self.name {
            Some(name) => {
                MietteSpanContents::new_named(name.clone(), data, span, line, column, line_count)
            }
            None => MietteSpanContents::new(data, span, line, column, line_count),
        }))
    }
}

#[cfg(test)]
mod tests;
