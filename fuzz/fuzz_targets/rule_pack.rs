//! Fuzz target `rule_pack`: see `hiveward_fuzz::harness::rule_pack`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::rule_pack(data));
