//! The caches are bounded in bytes (issue: 16,000 fresh names with a signed 52 kB wildcard answer
//! took the daemon from 234 MB to 1.40 GB). A hierarchy of its own serves a wildcard with a large
//! signed TXT set; a flood of distinct names under it must leave the daemon's resident memory
//! within its cache budget plus a fixed allowance.

mod harness;

use std::time::Duration;

use harness::{Hierarchy, Opts, query_bytes, udp_exchange};
use lookaside_dnssec::rtype;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_flood_of_large_answers_stays_within_the_cache_budget() {
    // 24 strings of 250 octets: a ~6 kB signed TXT answer for every name under big.secure.example.
    let strings: Vec<String> =
        (0..24).map(|i| format!("\"{}\"", char::from(b'a' + i as u8).to_string().repeat(250))).collect();
    let extra = format!("*.big.secure.example. 3600 IN TXT {}\n", strings.join(" "));
    let Some(h) = Hierarchy::start(Some(&extra)) else { return };
    let config = h.dir.join("memory.toml");
    std::fs::write(
        &config,
        format!("trust-anchors = [\"{}\"]\n[cache]\nmemory = \"2M\"\n", h.anchor.display()),
    )
    .unwrap();
    let d = h.daemon(&["--config", config.to_str().unwrap()]);
    let ask = |i: usize| {
        let q = query_bytes(7, &format!("n{i}.big.secure.example."), rtype::TXT, Opts::default());
        udp_exchange(d.addr, &q, Duration::from_secs(5))
    };
    for i in 0..100 {
        ask(i);
    }
    let before = rss_kib(d.pid());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let addr = d.addr;
            std::thread::spawn(move || {
                for i in (1000 + t..5000).step_by(8) {
                    let q = query_bytes(7, &format!("n{i}.big.secure.example."), rtype::TXT, Opts::default());
                    udp_exchange(addr, &q, Duration::from_secs(5));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let after = rss_kib(d.pid());
    let (_, status) = d.ctl(&["status"]);
    let bytes: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("cache answers ").and_then(|r| r.split(" bytes ").nth(1)))
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or_else(|| panic!("{status}"));
    assert!(bytes <= 2 << 20, "caches hold {bytes} bytes, budget 2 MiB");
    // 4,000 answers of ~6 kB each would be ~24 MB of record data alone; the budget is 2 MiB, and
    // the allocator and runtime keep some slack.
    let growth = after.saturating_sub(before);
    assert!(growth < 12 * 1024, "resident memory grew {growth} KiB (from {before} KiB) for a 2 MiB cache");
}
