//! Fuzz target `site_config`: see `hiveward_fuzz::harness::site_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::site_config(data));
