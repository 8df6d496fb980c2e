//! Fuzz target `partial`: see `hiveward_fuzz::harness::partial`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::partial(data));
