#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portal_state_fuzz::proof_verify(data));
