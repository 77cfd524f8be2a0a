//! The fuzz target's seed corpus (fuzz/corpus/parse_validate) as an ordinary test: every seed
//! must run through parsing and validation without a panic. Set LOOKASIDE_WRITE_CORPUS=1 to
//! regenerate the seeds from the signed fixtures.

mod support;

use lookaside_dnssec::fuzzing::parse_and_validate;
use lookaside_dnssec::rtype;
use support::{Authority, name};

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/parse_validate")
}

#[test]
fn seed_corpus_runs_without_panic() {
    if std::env::var_os("LOOKASIDE_WRITE_CORPUS").is_some() {
        let auth = Authority::fixtures();
        let cases = [
            ("www.secure.example.", rtype::A),
            ("nothere.secure.example.", rtype::A),
            ("nothere.nsec3.example.", rtype::A),
            ("x.wild.nsec3.example.", rtype::A),
            ("example.", rtype::DNSKEY),
            ("secure.example.", rtype::DS),
            ("unsigned.optout.example.", rtype::DS),
            ("cname.secure.example.", rtype::A),
        ];
        std::fs::create_dir_all(corpus_dir()).unwrap();
        for (i, (n, t)) in cases.iter().enumerate() {
            std::fs::write(corpus_dir().join(format!("seed-{i}")), auth.query(&name(n), *t).to_wire())
                .unwrap();
        }
    }
    let mut count = 0;
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        parse_and_validate(&data);
        // Every truncation and a flipped byte at each position, too.
        for n in 0..data.len() {
            parse_and_validate(&data[..n]);
        }
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x5a;
            parse_and_validate(&d);
        }
        count += 1;
    }
    assert!(count >= 8, "seed corpus present");
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!seeds.is_empty(), "{} has seeds", dir.display());
    seeds
}

#[test]
fn wire_round_trip_corpus_runs_without_panic() {
    for data in seeds("wire_round_trip") {
        lookaside_dnssec::fuzzing::wire_round_trip(&data);
        for n in 0..data.len() {
            lookaside_dnssec::fuzzing::wire_round_trip(&data[..n]);
        }
    }
}

#[test]
fn anchors_corpus_runs_without_panic() {
    for data in seeds("anchors") {
        lookaside_dnssec::fuzzing::anchors_and_state(&data);
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0x21;
            lookaside_dnssec::fuzzing::anchors_and_state(&d);
        }
    }
}
