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

/// Questions whose answers seed the `validate_fixtures` target, with the verdict each must
/// reach in the fixture world: every answer class, NSEC and NSEC3, wildcards, CNAME/DNAME,
/// every algorithm, look-aside through both registries, and the broken zones.
const WORLD_CASES: &[(&str, u16, &str)] = &[
    ("www.secure.example.", rtype::A, "secure"),
    ("nothere.secure.example.", rtype::A, "secure"),
    ("www.secure.example.", rtype::MX, "secure"),
    ("anything.wild.secure.example.", rtype::A, "secure"),
    ("b.ent.secure.example.", rtype::A, "secure"),
    ("cname.secure.example.", rtype::A, "secure"),
    ("big.secure.example.", rtype::TXT, "secure"),
    ("www.sub.secure.example.", rtype::A, "secure"),
    ("www.unsigned.secure.example.", rtype::A, "insecure"),
    ("nothere.nsec3.example.", rtype::A, "secure"),
    ("x.wild.nsec3.example.", rtype::A, "secure"),
    ("b.ent.nsec3.example.", rtype::A, "secure"),
    ("www.nsec3.example.", rtype::AAAA, "secure"),
    ("www.insecure.nsec3.example.", rtype::A, "insecure"),
    ("www.unsigned.optout.example.", rtype::A, "secure"), // rescued by its DLV record
    ("nothere.iter100.example.", rtype::A, "insecure"),
    ("www.alg8.example.", rtype::A, "secure"),
    ("www.alg13.example.", rtype::A, "secure"),
    ("www.alg15.example.", rtype::A, "secure"),
    ("www.digest3.example.", rtype::A, "insecure"), // GOST digest only: unsupported
    ("www.expired.example.", rtype::A, "bogus"),
    ("www.kskunsigned.example.", rtype::A, "bogus"),
    ("www.nokey.example.", rtype::A, "bogus"),
    ("conference.yax.unsignedtld.", rtype::A, "secure"),
    ("nothere.yax.unsignedtld.", rtype::A, "secure"),
    ("www.deleg.unsignedtld.", rtype::A, "secure"),
    ("www.badkey.unsignedtld.", rtype::A, "bogus"),
    ("www.nodlv.unsignedtld.", rtype::A, "insecure"),
    ("secure.example.", rtype::DS, "secure"),
    ("example.", rtype::DNSKEY, "secure"),
];

fn world_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/world")
}

fn verdict_word(s: &lookaside_dnssec::Security) -> &'static str {
    use lookaside_dnssec::Security::*;
    match s {
        Secure => "secure",
        Insecure(_) => "insecure",
        Bogus(_) => "bogus",
        Indeterminate(_) => "indeterminate",
    }
}

/// The key-lookup table and the seeds, made from the signed fixtures: every lookup the cases
/// ask for, answered by the fixture zones (ldns-signzone output, tests/zones/make-zones.sh).
fn make_world() -> (Vec<u8>, Vec<Vec<u8>>) {
    use lookaside_dnssec::fuzzing::{FIXTURE_NOW, frame};
    let auth = Authority::fixtures();
    let world = world_validator();
    let mut table: Vec<(lookaside_dnssec::KeyQuery, Vec<u8>)> = Vec::new();
    let mut seeds = Vec::new();
    for (n, t, _) in WORLD_CASES {
        let q = lookaside_dnssec::Question { name: name(n), qtype: *t, qclass: 1 };
        let answer = auth.query(&q.name, *t);
        let mut session = world.session(FIXTURE_NOW, &lookaside_dnssec::chain::NoKeyCache);
        let _ = session.validate_with(&q, &answer, |k| {
            let m = auth.query(&k.name, k.rtype);
            if !table.iter().any(|(seen, _)| seen == k) {
                table.push((k.clone(), m.to_wire()));
            }
            Some(m)
        });
        seeds.push(frame(&[answer.to_wire()]));
    }
    // Broken links for the fuzzer to start from: secure.example.'s DNSKEY answered with
    // sub.secure.example.'s, and yax.unsignedtld.'s (vouched for by
    // its DLV record) with other.unsignedtld.'s.
    let swap = |asked: (&str, u16), given: (&str, u16)| {
        let mut m = auth.query(&name(given.0), given.1);
        m.questions[0] = lookaside_dnssec::Question { name: name(asked.0), qtype: asked.1, qclass: 1 };
        m.to_wire()
    };
    seeds.push(frame(&[
        auth.query(&name("www.secure.example."), rtype::A).to_wire(),
        swap(("secure.example.", rtype::DNSKEY), ("sub.secure.example.", rtype::DNSKEY)),
    ]));
    seeds.push(frame(&[
        auth.query(&name("conference.yax.unsignedtld."), rtype::A).to_wire(),
        swap(("yax.unsignedtld.", rtype::DNSKEY), ("other.unsignedtld.", rtype::DNSKEY)),
    ]));
    let table: Vec<Vec<u8>> = table.into_iter().map(|(_, m)| m).collect();
    (frame(&table), seeds)
}

fn world_anchor_texts() -> [String; 2] {
    use support::fixtures;
    [
        std::fs::read_to_string(fixtures().join("root.ds")).unwrap(),
        std::fs::read_to_string(fixtures().join("dlv2.example.ds")).unwrap(),
    ]
}

/// The validator of the fixture world, as `FixtureWorld` builds it (for recording lookups).
fn world_validator() -> lookaside_dnssec::Validator {
    use lookaside_dnssec::chain::Registry;
    use lookaside_dnssec::fuzzing::FIXTURE_REGISTRIES;
    let mut anchors = lookaside_dnssec::TrustAnchors::empty();
    for text in world_anchor_texts() {
        anchors.add_text(&text, 0).unwrap();
    }
    let registries =
        FIXTURE_REGISTRIES.iter().map(|(d, s)| Registry { domain: name(d), subtree: name(s) }).collect();
    lookaside_dnssec::Validator::new(anchors).with_registries(registries)
}

#[test]
fn validate_fixtures_world_reaches_every_verdict() {
    use lookaside_dnssec::fuzzing::{FIXTURE_NOW, FIXTURE_REGISTRIES, FixtureWorld};
    let (table, seeds) = make_world();
    let corpus = corpus_dir().join("../validate_fixtures");
    if std::env::var_os("LOOKASIDE_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(world_dir()).unwrap();
        std::fs::write(world_dir().join("lookups.bin"), &table).unwrap();
        std::fs::create_dir_all(&corpus).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(corpus.join(format!("seed-{i}")), s).unwrap();
        }
    }
    // The committed table is what the committed zones give (re-signing the zones means
    // regenerating it: LOOKASIDE_WRITE_CORPUS=1, see fuzz/world/make.sh).
    let committed = std::fs::read(world_dir().join("lookups.bin")).unwrap();
    assert!(committed == table, "fuzz/world/lookups.bin is stale: run fuzz/world/make.sh");
    let anchors = world_anchor_texts();
    let world =
        FixtureWorld::new(&committed, &[&anchors[0], &anchors[1]], &FIXTURE_REGISTRIES, FIXTURE_NOW).unwrap();
    for (i, (n, t, expected)) in WORLD_CASES.iter().enumerate() {
        let seed = std::fs::read(corpus.join(format!("seed-{i}"))).unwrap();
        let v = world.validate(&seed).expect("a seed parses");
        assert_eq!(verdict_word(&v.security), *expected, "{n} {t}: {:?}", v.security);
    }
    // The broken links are bogus, and say where.
    for (i, zone) in [(WORLD_CASES.len(), "secure.example"), (WORLD_CASES.len() + 1, "yax.unsignedtld")] {
        let seed = std::fs::read(corpus.join(format!("seed-{i}"))).unwrap();
        let v = world.validate(&seed).unwrap();
        assert!(v.security.is_bogus(), "seed {i}: {:?}", v.security);
        assert!(v.summary().contains(zone), "seed {i}: {}", v.summary());
    }
    // Every seed, cut and flipped: no panic.
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        for n in (0..data.len()).step_by(7) {
            world.validate(&data[..n]);
        }
        for i in (0..data.len()).step_by(3) {
            let mut d = data.clone();
            d[i] ^= 0x5a;
            world.validate(&d);
        }
    }
}
