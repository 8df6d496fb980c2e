//! Running the `hiveward` binary from integration tests: one run's exit code and output, and
//! the checks every test makes of it (no panic, the expected exit code, JSON on stdout).

// Each test crate uses the part it needs.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// The workspace root, where `examples/` and `rules/` are.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary gave.
pub struct Run {
    /// The exit code (-1 when a signal ended it).
    pub code: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// What a finished process gave, for a run started some other way than [`hiveward`] (another
    /// environment, another user, another standard output).
    pub fn from_output(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Standard output as UTF-8 text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Standard output as UTF-8 text, borrowed from the run.
    pub fn stdout_str(&self) -> &str {
        std::str::from_utf8(&self.stdout).expect("stdout is UTF-8")
    }

    /// Standard output as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|error| {
            panic!(
                "stdout is not JSON ({error}):\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&self.stdout),
                self.stderr
            )
        })
    }

    /// No panic: Rust exits 101 on a panic and prints "panicked".
    pub fn assert_no_panic(&self) {
        assert_ne!(self.code, 101, "the binary panicked:\n{}", self.stderr);
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
    }

    /// The exit code is `expected`, with no panic.
    pub fn assert_code(&self, expected: i32) {
        self.assert_no_panic();
        assert_eq!(
            self.code,
            expected,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
    }
}

/// Runs `hiveward ARGS` in `dir`.
pub fn hiveward<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Run {
    hiveward_env(dir, args, &[])
}

/// Runs `hiveward ARGS` in `dir` with extra environment variables.
pub fn hiveward_env<S: AsRef<OsStr>>(dir: &Path, args: &[S], env: &[(&str, &str)]) -> Run {
    let output = Command::cargo_bin("hiveward")
        .expect("the hiveward binary is built")
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("hiveward runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
