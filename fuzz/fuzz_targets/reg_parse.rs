//! Fuzz target `reg_parse`: see `hiveward_fuzz::harness::reg_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::reg_parse(data));
