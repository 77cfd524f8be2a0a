//! Validation of a typical signed answer with warm keys, per algorithm, against ring's raw
//! verification of the same signature: the difference is the validator's own overhead
//! (parsing views, canonical form, chain bookkeeping). Run: `cargo bench -p lookaside-dnssec`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use lookaside_dnssec::canonical::{group, signed_data};
use lookaside_dnssec::chain::{KeyCache, KeyEntry, NoKeyCache, Progress, Validator};
use lookaside_dnssec::crypto;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Dnskey;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::Question;
use lookaside_dnssec::{Security, TrustAnchors};
use support::{Authority, NOW, name};

struct Warm(HashMap<Name, KeyEntry>);
impl KeyCache for Warm {
    fn key_entry(&self, zone: &Name) -> Option<KeyEntry> {
        self.0.get(zone).cloned()
    }
}

fn bench(c: &mut Criterion) {
    let auth = Authority::fixtures();
    let mut anchors = TrustAnchors::empty();
    anchors.add_text(&auth.anchor_text(), 0).unwrap();
    let validator = Validator::new(anchors);
    for alg in [5, 7, 8, 10, 13, 14, 15] {
        let zone = name(&format!("alg{alg}.example."));
        let q = Question { name: name(&format!("www.alg{alg}.example.")), qtype: rtype::A, qclass: 1 };
        let response = auth.query(&q.name, q.qtype);
        let mut s = validator.session(NOW, &NoKeyCache);
        let v = s.validate_with(&q, &response, auth.fetch());
        assert_eq!(v.security, Security::Secure);
        let warm = Warm(s.learned().iter().cloned().collect());

        let set = group(&response.answer).into_iter().find(|s| s.rtype == rtype::A).unwrap();
        let sig = set.rrsigs[0].clone();
        let keys = match warm.0.get(&zone) {
            Some(KeyEntry::Trusted { keys, .. }) => keys.clone(),
            _ => unreachable!(),
        };
        let key: Dnskey = keys.iter().find(|k| k.key_tag() == sig.key_tag).unwrap().clone();
        let data = signed_data(&set, &sig).unwrap();
        assert!(crypto::verify(alg, &key.public_key, &data, &sig.signature));

        let mut g = c.benchmark_group(format!("alg{alg}"));
        g.bench_function("validate_warm", |b| {
            b.iter(|| {
                let mut s = validator.session(NOW, &warm);
                match s.validate(black_box(&q), black_box(&response)) {
                    Progress::Done(v) => assert!(v.security.is_secure()),
                    Progress::Need(_) => unreachable!(),
                }
            })
        });
        g.bench_function("ring_verify", |b| {
            b.iter(|| {
                crypto::verify(alg, black_box(&key.public_key), black_box(&data), black_box(&sig.signature))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
