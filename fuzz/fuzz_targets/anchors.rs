//! Fuzz target: see `lookaside_dnssec::fuzzing::anchors_and_state`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_dnssec::fuzzing::anchors_and_state(data);
});
