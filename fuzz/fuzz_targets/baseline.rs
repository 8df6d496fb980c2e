//! Fuzz target `baseline`: see `hiveward_fuzz::harness::baseline`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::baseline(data));
