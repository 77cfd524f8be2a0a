//! The byte stream of a pipelined TCP/TLS upstream connection with queries pending: `cargo +nightly fuzz run upstream_stream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_stub::fuzzing::upstream_stream(data);
});
