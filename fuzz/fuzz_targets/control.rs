//! Control-socket command lines, run against a resolver: `cargo +nightly fuzz run control`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lookaside::fuzzing::control_line(data);
});
