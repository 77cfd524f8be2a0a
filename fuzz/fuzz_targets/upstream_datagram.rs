//! A datagram from the upstream's address, judged as the UDP path does: `cargo +nightly fuzz run upstream_datagram`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside_stub::fuzzing::upstream_datagram(data);
});
