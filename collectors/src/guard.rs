//! Runs a parser that is not ours so that a panic in it on hostile input becomes an error about
//! one file, quietly, instead of ending the scan of every other file.
//!
//! [`isolate`] wraps [`std::panic::catch_unwind`]. The default panic hook would still print
//! `thread '...' panicked at ...` on stderr for a panic that is caught, so the first call
//! installs a hook, chained in front of whatever hook is in place, that stays silent for a panic
//! raised inside [`isolate`] on the same thread and keeps its message for the error instead;
//! every other panic goes to the previous hook as before. Written by hand: no crate offers a
//! scoped, chained panic hook.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many [`isolate`] calls are running on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The message and place of the last panic caught on this thread.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let isolated = DEPTH.try_with(|depth| depth.get() > 0).unwrap_or(false);
            if !isolated {
                previous(info);
                return;
            }
            let message = payload_text(info.payload());
            let described = match info.location() {
                Some(location) => format!(
                    "{message} at {}:{}",
                    short_source_path(location.file()),
                    location.line()
                ),
                None => message,
            };
            let _ = LAST.try_with(|last| *last.borrow_mut() = Some(described));
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// The last three components of a source path (`nt-hive-0.3.0/src/hive.rs`), without the
/// registry folders of the machine that built the binary.
fn short_source_path(file: &str) -> String {
    let parts: Vec<&str> = file.split(['/', '\\']).collect();
    parts[parts.len().saturating_sub(3)..].join("/")
}

/// Runs `work`, turning a panic inside it into `Err` with the panic's message and source place
/// (`assertion failed: data_offset != u32::MAX at nt-hive-0.3.0/src/hive.rs:117`). Nothing is
/// printed for such a panic.
///
/// `work` must leave nothing half-changed that the caller reads afterwards; the callers here
/// only read.
pub(crate) fn isolate<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    DEPTH.with(|depth| depth.set(depth.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    DEPTH.with(|depth| depth.set(depth.get() - 1));
    result.map_err(|payload| {
        LAST.with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| payload_text(payload.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message_and_place() {
        let caught = isolate(|| -> u32 { panic!("bad offset {}", 7) }).unwrap_err();
        assert!(caught.starts_with("bad offset 7 at "), "{caught}");
        assert!(caught.contains("src/guard.rs:"), "{caught}");
        assert_eq!(isolate(|| 5), Ok(5));
    }

    #[test]
    fn nested_calls_and_later_panics_are_told_apart() {
        let outer = isolate(|| {
            let inner = isolate(|| -> () { panic!("inner") });
            assert!(inner.unwrap_err().starts_with("inner"));
            panic!("outer")
        });
        assert!(outer.unwrap_err().starts_with("outer"));
        DEPTH.with(|depth| assert_eq!(depth.get(), 0));
    }

    #[test]
    #[ignore = "run in a child process by a_caught_panic_prints_nothing"]
    fn child_panics_inside_isolate() {
        let caught = isolate(|| -> () { panic!("hidden message") });
        eprintln!("caught: {}", caught.is_err());
    }

    /// The default hook prints a caught panic on stderr; the test harness hides that, so the
    /// test runs in a child process that does not capture its output.
    #[test]
    fn a_caught_panic_prints_nothing() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "guard::tests::child_panics_inside_isolate",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains("caught: true"), "{stderr}");
        assert!(!stderr.contains("hidden message"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    #[test]
    fn source_paths_keep_the_crate_folder() {
        assert_eq!(
            short_source_path("/root/.cargo/registry/src/index/nt-hive-0.3.0/src/hive.rs"),
            "nt-hive-0.3.0/src/hive.rs"
        );
        assert_eq!(short_source_path("hive.rs"), "hive.rs");
    }
}
