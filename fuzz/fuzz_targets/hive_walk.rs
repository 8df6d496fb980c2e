//! Fuzz target `hive_walk`: see `hiveward_fuzz::harness::hive_walk`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::hive_walk(data));
