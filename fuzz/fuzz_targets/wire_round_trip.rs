//! Fuzz target: see `lookaside_dnssec::fuzzing::wire_round_trip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_dnssec::fuzzing::wire_round_trip(data);
});
