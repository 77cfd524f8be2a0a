//! The validator in a world where signatures verify: answers and key lookups made from the
//! signed test zones (fuzz/world/make.sh), some replaced by the fuzzer's frames:
//! `cargo +nightly fuzz run validate_fixtures`.
#![no_main]

use std::sync::OnceLock;

use lookaside_dnssec::fuzzing::{FIXTURE_NOW, FIXTURE_REGISTRIES, FixtureWorld};

fn world() -> &'static FixtureWorld {
    static WORLD: OnceLock<FixtureWorld> = OnceLock::new();
    WORLD.get_or_init(|| {
        let anchors = [
            include_str!("../../crates/dnssec/tests/fixtures/root.ds"),
            include_str!("../../crates/dnssec/tests/fixtures/dlv2.example.ds"),
        ];
        let lookups = include_bytes!("../world/lookups.bin");
        FixtureWorld::new(lookups, &anchors, &FIXTURE_REGISTRIES, FIXTURE_NOW).expect("the fixture world")
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = world().validate(data);
});
