//! Fuzz target `evtx_read`: see `hiveward_fuzz::harness::evtx_read`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hiveward_fuzz::harness::evtx_read(data));
