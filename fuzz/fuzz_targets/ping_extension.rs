#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portal_state_fuzz::ping_extension(data));
