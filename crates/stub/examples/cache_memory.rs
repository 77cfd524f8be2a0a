//! RSS growth per cached answer, for the answer cache alone: 50,000 wildcard-like answers (an A
//! record and its RRSIG per name, a shared NSEC proof). `cargo run --release --example
//! cache_memory -p lookaside-stub`.

use std::time::Instant;

use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::wire::{Message, Record};
use lookaside_stub::Judgement;
use lookaside_stub::answer_cache::AnswerCache;
use lookaside_stub::cache::CacheKey;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let n = 50_000;
    let zone = Name::parse("secure.example.").unwrap();
    let sig = |owner: &Name, covered: u16| {
        let mut rdata = vec![0, covered as u8, 13, 3, 0, 0, 14, 16, 0x66, 0, 0, 0, 0x65, 0, 0, 0, 0x12, 0x34];
        rdata.extend_from_slice(zone.as_wire());
        rdata.extend_from_slice(&[0xab; 64]);
        Record { owner: owner.clone(), rtype: 46, class: 1, ttl: 3600, rdata }
    };
    let nsec_owner = Name::parse("exists.wild.secure.example.").unwrap();
    let mut nsec = Name::parse("www.secure.example.").unwrap().as_wire().to_vec();
    nsec.extend_from_slice(&[0, 6, 0x40, 0, 0, 0, 0, 3]);
    let cache = AnswerCache::new(100_000, 48 << 20);
    let before = rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        let owner = Name::parse(&format!("m{i}.wild.secure.example.")).unwrap();
        let m = Message {
            flags: 0x8180,
            answer: vec![
                Record { owner: owner.clone(), rtype: 1, class: 1, ttl: 3600, rdata: vec![192, 0, 2, 4] },
                sig(&owner, 1),
            ],
            authority: vec![
                Record { owner: nsec_owner.clone(), rtype: 47, class: 1, ttl: 3600, rdata: nsec.clone() },
                sig(&nsec_owner, 47),
            ],
            ..Message::default()
        };
        let key = CacheKey { name: owner, qtype: 1, qclass: 1 };
        cache.put(&key, &m, Judgement::Checked(Security::Secure), "", 3600);
    }
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{n} answers: {} entries, {} bytes by the estimate, RSS growth {} B per answer, {:.0} ns per insertion",
        cache.len(),
        cache.bytes(),
        grown / n,
        start.elapsed().as_nanos() as f64 / n as f64
    );
}
