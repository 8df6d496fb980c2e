//! Fuzz target `hive_recovery`: see `hiveward_fuzz::harness::hive_recovery`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::hive_recovery(data));
