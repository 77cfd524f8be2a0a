//! `[[watch]]`: the daemon runs the XMPP report for watched domains and exports it on the
//! metrics endpoint — verdict per record (a secure domain, one whose TLSA answer is bogus), the
//! earliest RRSIG expiry per zone, whether DLV vouched (yax.unsignedtld. through dlv.example.),
//! and with `tls = true` the TLSA match of each target (here a refused port: a finding, and a
//! WARN line). The TLSA match of real servers is in tests/xmpp_tls.rs.

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use harness::{Hierarchy, free_port};

fn scrape(addr: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else { return String::new() };
    let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The value of the series `name` whose labels include all of `labels`.
fn value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix('{')?;
        let (set, v) = rest.split_once("} ")?;
        labels
            .iter()
            .all(|(k, val)| set.contains(&format!("{k}=\"{val}\"")))
            .then(|| v.trim().parse().ok())?
    })
}

#[test]
fn watched_domains_are_exported_as_metrics_and_bad_news_is_logged() {
    let Some(h) = Hierarchy::get() else { return };
    let metrics = format!("{}:{}", h.ip, free_port(&h.ip));
    let config = h.dir.join("watch.toml");
    std::fs::write(
        &config,
        format!(
            "metrics-listen = \"{metrics}\"\nwatch-interval = 3600\n\n\
             [[watch]]\ndomain = \"secure.example.\"\ntls = true\n\n\
             [[watch]]\ndomain = \"badtlsa.secure.example.\"\n\n\
             [[watch]]\ndomain = \"yax.unsignedtld.\"\n"
        ),
    )
    .unwrap();
    let d = h.daemon(&[
        "--config",
        config.to_str().unwrap(),
        "--trust-anchor",
        h.anchor.to_str().unwrap(),
        "--lookaside",
        "dlv.example.",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = scrape(&metrics);
        if value(&text, "lookaside_watch_last_run_timestamp_seconds", &[("domain", "yax.unsignedtld.")])
            .is_some()
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no watch metrics after 30 s:\n{text}\n{}", d.log());
        std::thread::sleep(Duration::from_millis(200));
    };
    let verdict = |domain: &str, name: &str, t: &str, v: &str| {
        value(
            &text,
            "lookaside_watch_record_verdict",
            &[("domain", domain), ("name", name), ("type", t), ("verdict", v)],
        )
    };
    assert_eq!(
        verdict("secure.example.", "_xmpp-client._tcp.secure.example.", "SRV", "secure"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        verdict("secure.example.", "_xmpp-client._tcp.secure.example.", "SRV", "bogus"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        verdict("secure.example.", "_5222._tcp.xmpp.secure.example.", "TLSA", "secure"),
        Some(1.0),
        "{text}"
    );
    let bad = "_5269._tcp.target.badtlsa.secure.example.";
    assert_eq!(verdict("badtlsa.secure.example.", bad, "TLSA", "bogus"), Some(1.0), "{text}");
    assert_eq!(
        verdict("yax.unsignedtld.", "_xmpp-client._tcp.yax.unsignedtld.", "SRV", "secure"),
        Some(1.0),
        "{text}"
    );

    // The test zones are signed for 30 days from yesterday.
    let left = value(
        &text,
        "lookaside_watch_rrsig_expiry_seconds",
        &[("domain", "secure.example."), ("zone", "secure.example.")],
    )
    .unwrap_or_else(|| panic!("{text}"));
    assert!((27.0 * 86_400.0..=31.0 * 86_400.0).contains(&left), "{left} s left: {text}");
    assert_eq!(value(&text, "lookaside_watch_dlv", &[("domain", "yax.unsignedtld.")]), Some(1.0), "{text}");
    assert_eq!(value(&text, "lookaside_watch_dlv", &[("domain", "secure.example.")]), Some(0.0), "{text}");

    // tls = true: nothing listens at xmpp.secure.example. (127.0.0.1) port 5222.
    let tls = value(
        &text,
        "lookaside_watch_tlsa_match",
        &[("domain", "secure.example."), ("service", "_xmpp-client._tcp"), ("address", "127.0.0.1:5222")],
    );
    assert_eq!(tls, Some(0.0), "{text}");
    let log = d.log();
    assert!(log.contains("WARN") && log.contains("watched record is bogus"), "{log}");
    assert!(log.contains("no certificate checked: cannot connect"), "{log}");
    // Not watched with tls: no series.
    assert_eq!(value(&text, "lookaside_watch_tlsa_match", &[("domain", "yax.unsignedtld.")]), None, "{text}");
}
