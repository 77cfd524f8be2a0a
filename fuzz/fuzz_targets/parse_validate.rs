//! Parsing and validation of arbitrary bytes: `cargo +nightly fuzz run parse_validate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_dnssec::fuzzing::parse_and_validate(data);
});
