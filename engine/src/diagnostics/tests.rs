//! Tests of the safe diagnostic rendering: windows around long lines, escaping, and the
//! plain fallback.

use std::sync::Arc;

use miette::NamedSource;

use super::*;

/// A hand-made diagnostic: a message, a help,
/// a source with labels, related diagnostics and a cause.
#[derive(Default)]
struct Test {
    message: String,
    help: Option<String>,
    source: Option<Arc<dyn SourceCode>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Test>,
    cause: Option<Box<Test>>,
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Test {}

impl Diagnostic for Test {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_deref()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.related
                .iter()
                .map(|related| related as &dyn Diagnostic),
        ))
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.cause.as_deref().map(|cause| cause as &dyn Diagnostic)
    }
}

/// One label in a named file, the shape every hiveward diagnostic has.
fn located(name: &str, text: &str, offset: usize, len: usize, message: &str) -> Test {
    Test {
        message: format!("{name}: {message}"),
        help: Some("fix the file".to_string()),
        source: Some(Arc::new(NamedSource::new(name, text.to_string()))),
        labels: vec![LabeledSpan::new(Some(message.to_string()), offset, len)],
        ..Test::default()
    }
}

fn assert_no_control(rendered: &str) {
    assert!(
        !rendered
            .chars()
            .any(|c| c != '\n' && crate::terminal::is_terminal_control(c)),
        "{rendered:?}"
    );
}

/// miette itself panics on this: the reason the module exists.
#[test]
fn miette_alone_panics_past_column_65535() {
    let text = format!("{}BAD\n", "a".repeat(70_000));
    let diagnostic = located("long.reg", &text, 70_000, 3, "bad");
    let outcome = quietly(|| {
        let mut out = String::new();
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .render_report(&mut out, &diagnostic)
    });
    assert!(
        outcome.is_none(),
        "miette no longer panics here; the window could go"
    );
}

#[test]
fn a_label_past_column_65535_is_shown_from_a_window() {
    let text = format!(
        "first line\r\n{}BAD{}\r\nlast line\r\n",
        "a".repeat(70_000),
        "z".repeat(5_000)
    );
    let offset = "first line\r\n".len() + 70_000;
    let rendered = render_diagnostic_text(&located("long.reg", &text, offset, 3, "bad type"));
    assert!(rendered.contains("[long.reg:2:70001]"), "{rendered}");
    assert!(rendered.contains("1 │ first line"), "{rendered}");
    assert!(rendered.contains("3 │ last line"), "{rendered}");
    let window = format!(
        "…{}BAD{}…",
        "a".repeat(BEFORE_LABEL),
        "z".repeat(AFTER_LABEL)
    );
    assert!(rendered.contains(&window), "{rendered}");
    assert!(rendered.contains("bad type"), "{rendered}");
    assert!(!rendered.contains('\r'), "{rendered:?}");
    assert!(
        rendered.len() < 2_000,
        "{} bytes:\n{rendered}",
        rendered.len()
    );
}

#[test]
fn short_lines_are_shown_whole_with_real_line_numbers() {
    let text = "one\ntwo\nthree = bad\nfour\nfive\n";
    let rendered = render_diagnostic_text(&located("w.toml", text, 16, 3, "not a value"));
    assert!(rendered.contains("[w.toml:3:9]"), "{rendered}");
    for shown in ["2 │ two", "3 │ three = bad", "4 │ four"] {
        assert!(rendered.contains(shown), "{shown}: {rendered}");
    }
    assert!(
        !rendered.contains("one") && !rendered.contains("five"),
        "{rendered}"
    );
}

#[test]
fn long_context_lines_are_cut() {
    let text = format!("{}\nbad\n{}\n", "p".repeat(90_000), "n".repeat(90_000));
    let rendered = render_diagnostic_text(&located("c.reg", &text, 90_001, 3, "here"));
    assert!(rendered.contains("[c.reg:2:1]"), "{rendered}");
    assert!(
        rendered.contains(&format!("{}…", "p".repeat(MAX_LINE))),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("{}…", "n".repeat(MAX_LINE))),
        "{rendered}"
    );
    assert!(rendered.len() < 2_000, "{}", rendered.len());
}

#[test]
fn a_label_spanning_many_lines_is_cut_at_its_first_line() {
    let text = format!("key = [\n{}]\n", "  1,\n".repeat(100_000));
    let rendered =
        render_diagnostic_text(&located("p.toml", &text, 6, text.len() - 6, "never closed"));
    assert!(rendered.contains("[p.toml:1:7]"), "{rendered}");
    assert!(rendered.lines().count() < 20, "{rendered}");
}

#[test]
fn control_characters_are_escaped_everywhere() {
    let name = "evil\u{1b}]0;title\u{7}.reg";
    let text = "ok\n\"x\"=\u{1b}[2Jbad\u{9b}\u{202e}\nok\n";
    let rendered =
        render_diagnostic_text(&located(name, text, 7, 8, "type \u{1b}[31mred\nfake: line"));
    assert_no_control(&rendered);
    assert!(rendered.contains(r"evil\x1b]0;title\x07.reg"), "{rendered}");
    assert!(rendered.contains(r"\x1b[2Jbad\u{9b}\u{202e}"), "{rendered}");
    assert!(
        rendered.contains(r"type \x1b[31mred\nfake: line"),
        "{rendered}"
    );
}

#[test]
fn long_messages_are_cut() {
    let message = "m".repeat(100_000);
    let rendered = render_diagnostic_text(&located("x.reg", "a\n", 0, 1, &message));
    assert!(rendered.contains("more characters"), "{rendered}");
    assert!(rendered.len() < 4 * MAX_TEXT + 2_000, "{}", rendered.len());
}

#[test]
fn a_label_outside_the_file_drops_only_the_snippet() {
    let rendered = render_diagnostic_text(&located("x.reg", "short\n", 500, 3, "far away"));
    assert!(rendered.contains("x.reg: far away"), "{rendered}");
    assert!(rendered.contains("help: fix the file"), "{rendered}");
}

#[test]
fn labels_at_the_end_and_in_invalid_utf8_are_shown() {
    let rendered = render_diagnostic_text(&located("e.reg", "abc", 3, 0, "ends early"));
    assert!(rendered.contains("[e.reg:1:4]"), "{rendered}");

    let mut bytes = vec![0xff; 300];
    bytes.extend_from_slice("é".repeat(200).as_bytes());
    let rendered = render_diagnostic_text(&Test {
        message: "bytes".to_string(),
        source: Some(Arc::new(bytes)),
        labels: vec![LabeledSpan::new(Some("here".to_string()), 301, 3)],
        ..Test::default()
    });
    assert!(rendered.contains("here"), "{rendered}");
    assert!(rendered.contains('…'), "{rendered}");
    assert!(rendered.contains('é'), "{rendered}");
}

#[test]
fn several_labels_each_get_their_window() {
    let text = format!("{}A\nmiddle\n{}B\n", "x".repeat(70_000), "y".repeat(70_000));
    let rendered = render_diagnostic_text(&Test {
        message: "two places".to_string(),
        source: Some(Arc::new(NamedSource::new("two.reg", text))),
        labels: vec![
            LabeledSpan::new(Some("second".to_string()), 140_009, 1),
            LabeledSpan::new(Some("first".to_string()), 70_000, 1),
        ],
        ..Test::default()
    });
    assert!(rendered.contains("[two.reg:1:70001]"), "{rendered}");
    assert!(rendered.contains("[two.reg:3:70001]"), "{rendered}");
    assert!(
        rendered.contains("first") && rendered.contains("second"),
        "{rendered}"
    );
    assert!(rendered.len() < 3_000, "{}", rendered.len());
}

/// A source that panics when read: the diagnostic still comes out, in plain form.
#[test]
fn a_panic_while_rendering_falls_back_to_plain_text() {
    struct Exploding;
    impl SourceCode for Exploding {
        fn read_span<'a>(
            &'a self,
            _: &SourceSpan,
            _: usize,
            _: usize,
        ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
            panic!("boom")
        }
    }
    let rendered = render_diagnostic_text(&Test {
        message: "the \u{1b}[2J message".to_string(),
        help: Some("the help".to_string()),
        source: Some(Arc::new(Exploding)),
        labels: vec![LabeledSpan::new(None, 0, 1)],
        ..Test::default()
    });
    assert_eq!(rendered, "error: the \\x1b[2J message\n  help: the help\n");
}

#[test]
fn causes_and_related_diagnostics_are_made_safe_too() {
    let long = format!("{}X\n", "b".repeat(80_000));
    let rendered = render_diagnostic_text(&Test {
        message: "outer".to_string(),
        related: vec![located("r.reg", &long, 80_000, 1, "related \u{7}")],
        cause: Some(Box::new(located("i.reg", &long, 80_000, 1, "inner \u{7}"))),
        ..Test::default()
    });
    assert_no_control(&rendered);
    assert!(rendered.contains(r"related \x07"), "{rendered}");
    assert!(rendered.contains(r"inner \x07"), "{rendered}");
    assert!(rendered.contains("[r.reg:1:80001]"), "{rendered}");
    assert!(rendered.len() < 4_000, "{}", rendered.len());
}
