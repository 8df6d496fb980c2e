//! Fuzz target `waivers`: see `hiveward_fuzz::harness::waivers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::waivers(data));
