//! RSS growth per cached answer, for the answer cache alone: 50,000 wildcard-like answers (an A
//! record and its RRSIG per name, a shared NSEC proof). `cargo run --release --example
//! cache_memory -p lookaside-stub`.

#[path = "../benches/support/wildcard.rs"]
mod wildcard;

use std::time::Instant;

use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
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
    let cache = AnswerCache::new(100_000, 48 << 20);
    let before = rss_bytes();
    let start = Instant::now();
    for i in 0..n {
        let owner = Name::parse(&format!("m{i}.wild.secure.example.")).unwrap();
        let m = wildcard::answer(&owner);
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
