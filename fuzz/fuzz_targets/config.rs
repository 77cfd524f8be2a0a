//! The configuration file: `cargo +nightly fuzz run config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside::fuzzing::config_file(data);
});
