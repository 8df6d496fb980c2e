//! hiveward's fuzz harnesses, one per cargo-fuzz target in `fuzz_targets/`.
//!
//! The harness functions live in [`harness`], which `tests/fuzz_regressions.rs` also compiles
//! (through `#[path]`), so every saved crash input replays through exactly the code the fuzzer
//! ran, as an ordinary stable test.
#![deny(missing_docs)]

pub mod harness;
