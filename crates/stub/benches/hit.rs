//! The cache-hit path, in-process: a client's query bytes → `parse_query` → the answer cache →
//! reply bytes, with and without DO, and the answer cache alone (a lookup among 10,000 entries,
//! an insertion). Run: `cargo bench -p lookaside-stub`. What the kernel adds on top is measured
//! by `bench/compare.sh`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

#[path = "support/wildcard.rs"]
mod wildcard;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::wire::{Edns, Question, Writer};
use lookaside_stub::Judgement;
use lookaside_stub::answer_cache::AnswerCache;
use lookaside_stub::cache::CacheKey;
use lookaside_stub::respond::{self, Served};

fn query(name: &Name, dnssec_ok: bool) -> Vec<u8> {
    let mut w = Writer::new(0x1234, 0x0100);
    w.question(&Question { name: name.clone(), qtype: 1, qclass: 1 });
    w.edns(&Edns { udp_size: 1232, dnssec_ok, ..Edns::default() });
    w.finish()
}

fn filled(n: usize) -> AnswerCache {
    let cache = AnswerCache::new(100_000, 64 << 20);
    for i in 0..n {
        let name = Name::parse(&format!("m{i}.wild.secure.example.")).unwrap();
        let key = CacheKey { name: name.clone(), qtype: 1, qclass: 1 };
        cache.put(&key, &wildcard::answer(&name), Judgement::Checked(Security::Secure), "", 3600);
    }
    cache
}

fn hit_path(c: &mut Criterion) {
    let cache = filled(10_000);
    let name = Name::parse("M42.Wild.Secure.Example.").unwrap();
    for (label, dnssec_ok) in [("hit path, query bytes to reply bytes", false), ("hit path with DO", true)] {
        let packet = query(&name, dnssec_ok);
        c.bench_function(label, |b| {
            b.iter(|| {
                let q = respond::parse_query(black_box(&packet)).ok().unwrap();
                let reply = cache.with_hit(&q.question.name, 1, 1, Instant::now(), |hit| {
                    let served =
                        Served { judgement: hit.judgement, summary: hit.summary, age: hit.age, stale: false };
                    respond::answer(&q, Some(hit.answer), served, 1232)
                });
                black_box(reply)
            })
        });
    }
    let key = CacheKey { name: name.clone(), qtype: 1, qclass: 1 };
    c.bench_function("answer cache lookup (10,000 entries)", |b| {
        b.iter(|| black_box(cache.with_hit(&key.name, 1, 1, Instant::now(), |hit| hit.answer.len())))
    });
    let fresh = Name::parse("new.wild.secure.example.").unwrap();
    let m = wildcard::answer(&fresh);
    let key = CacheKey { name: fresh, qtype: 1, qclass: 1 };
    c.bench_function("answer cache insertion (pack, share the tail, store)", |b| {
        b.iter(|| cache.put(&key, black_box(&m), Judgement::Checked(Security::Secure), "", 3600))
    });
}

criterion_group!(benches, hit_path);
criterion_main!(benches);
