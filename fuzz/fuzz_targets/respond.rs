//! Fuzz target: see `lookaside_stub::fuzzing::respond`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_stub::fuzzing::respond(data);
});
