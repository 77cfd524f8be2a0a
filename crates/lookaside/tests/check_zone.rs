//! `lookaside check-zone` against real servers: the test hierarchy's NSD (healthy zones, expired
//! signatures, high NSEC3 iterations, RSASHA1, a zone rescued only by DLV), a second NSD serving
//! an out-of-sync copy (another serial, other keys), a relay that rewrites the question's case
//! (the `YAX.IM` problem), a silent address and a recursive server that is not authoritative.
//! Every finding is asserted by its words; each would vanish if its check were removed.

mod harness;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use harness::{Hierarchy, free_port, start_nsd, udp_exchange, udp_relay, wait_for, yyyymmdd};
use serde_json::Value;

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

/// The findings of a `--json` report as (severity, check, message).
fn findings(out: &str) -> Vec<(String, String, String)> {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["check"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(found: &[(String, String, String)], severity: &str, check: &str, words: &str) -> bool {
    found.iter().any(|(s, c, m)| s == severity && c == check && m.contains(words))
}

#[test]
fn a_healthy_delegated_zone_passes_with_its_xmpp_records_signed() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["check-zone", "secure.example."]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("check-zone secure.example. at ns.secure.example. ({})", h.ip)), "{out}");
    for line in [
        "ok       sync       1 server(s) serve SOA serial 1",
        "ok       signatures the SOA and DNSKEY signatures verify; the first to expire does so ",
        "ok       algorithm  algorithm 13: MUST be supported by validators",
        "ok       nsec3      the zone uses NSEC (no NSEC3PARAM)",
        "which signs the DNSKEY set",
        "ok       xmpp       SRV _xmpp-client._tcp.secure.example. is signed",
        "ok       xmpp       A xmpp.secure.example. is signed",
        "ok       xmpp       TLSA _5269._tcp.xmpp.secure.example. is signed",
        " days left, --warn-days 7)",
        "Result: 0 error(s), 0 warning(s)",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(out.contains("ok       ds         the parent's DS set (secure): DS "), "{out}");
    // The signatures of the test hierarchy end in 30 days: under --warn-days 40 each is named.
    let (code, out) = h.cli(&["check-zone", "secure.example.", "--warn-days", "40", "--json"]);
    assert_eq!(code, 1, "warnings only: {out}");
    let f = findings(&out);
    assert!(has(&f, "warning", "signatures", "RRSIG secure.example. SOA by key "), "{f:?}");
    assert!(has(&f, "warning", "signatures", "hours left, under --warn-days 40): re-sign"), "{f:?}");
    assert!(has(&f, "warning", "signatures", "RRSIG _5269._tcp.xmpp.secure.example. TLSA by key "), "{f:?}");
}

#[test]
fn signature_nsec3_and_algorithm_problems_are_named() {
    let h = hierarchy!();
    let (code, out) = h.cli(&["check-zone", "expired.example."]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ERROR    signatures RRSIG expired.example. DNSKEY by key "), "{out}");
    assert!(out.contains(": expired 2021-01-01"), "{out}");
    let (code, out) = h.cli(&["check-zone", "future.example."]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("inception 2050-01-01 00:00:00 UTC is in the future"), "{out}");

    let (code, out) = h.cli(&["check-zone", "iter100.example."]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ERROR    nsec3      NSEC3 iterations 100: above 50, lookaside, BIND, Knot and PowerDNS treat the zone's denials as insecure"), "{out}");
    assert!(
        out.contains("WARNING  nsec3      NSEC3 salt of 1 octet(s): RFC 9276 §3.1 says no salt"),
        "{out}"
    );
    let (_, out) = h.cli(&["check-zone", "iter600.example."]);
    assert!(
        out.contains(
            "NSEC3 iterations 600: above 500, validators (lookaside among them) find the zone's denials bogus"
        ),
        "{out}"
    );
    let (code, out) = h.cli(&["check-zone", "nsec3.example."]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WARNING  nsec3      NSEC3 iterations 5: RFC 9276 §3.1 says 0"), "{out}");
    let (code, out) = h.cli(&["check-zone", "alg5.example."]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "WARNING  algorithm  algorithm 5: RSASHA1 is NOT RECOMMENDED for signing (RFC 8624 §3.1)"
        ),
        "{out}"
    );
    let (_, out) = h.cli(&["check-zone", "kskunsigned.example."]);
    assert!(out.contains("but that key does not sign the DNSKEY set"), "{out}");
    assert!(out.contains("ERROR    ds         the parent's DS set"), "{out}");
    assert!(out.contains("no record matches a key that signs the DNSKEY set: validators will find kskunsigned.example. bogus"), "{out}");
}

#[test]
fn dlv_records_and_a_ds_file_are_checked_against_the_signing_keys() {
    let h = hierarchy!();
    let zones = h.dir.join("zones");
    // yax.unsignedtld.: no DS (its TLD is not signed); without a registry that is a warning.
    let (code, out) = h.cli(&["check-zone", "yax.unsignedtld."]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WARNING  ds         no DS for yax.unsignedtld. at the parent and no look-aside registry is configured"), "{out}");
    let (code, out) = h.cli(&["check-zone", "yax.unsignedtld.", "--lookaside", "dlv.example."]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok       ds         the DLV set in registry dlv.example.: DS "), "{out}");
    // "What if I published this": the right DS file, and a DS for a key nobody signs with.
    let ds = zones.join("yax.unsignedtld.ds");
    let (code, out) = h.cli(&["check-zone", "yax.unsignedtld.", "--ds", ds.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok       ds         the given DS/DLV file: DS "), "{out}");
    let stray = h.dir.join("stray.ds");
    std::fs::write(&stray, format!("yax.unsignedtld. 3600 IN DLV 4242 13 2 {}\n", "AB".repeat(32))).unwrap();
    let (code, out) = h.cli(&["check-zone", "yax.unsignedtld.", "--ds", stray.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("DS 4242 13 2 matches no published key (a stale or mistyped record)"), "{out}");
    assert!(
        out.contains(
            "ERROR    ds         the given DS/DLV file: no record matches a key that signs the DNSKEY set"
        ),
        "{out}"
    );
    // A file that is not DS records is a clear error.
    std::fs::write(&stray, "yax.unsignedtld. 3600 IN DS 4242 13\n").unwrap();
    let (code, out) = h.cli(&["check-zone", "yax.unsignedtld.", "--ds", stray.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("line 1: expected \"KEY-TAG ALGORITHM DIGEST-TYPE DIGEST\""), "{out}");
}

/// Upper-cases the letters of the question name of a DNS message (and so of every owner
/// compressed against it): what some servers did to `yax.im`.
fn upcase_question(mut reply: Vec<u8>) -> Vec<u8> {
    let mut i = 12;
    while i < reply.len() && reply[i] != 0 {
        let len = reply[i] as usize;
        for b in reply.iter_mut().skip(i + 1).take(len) {
            b.make_ascii_uppercase();
        }
        i += len + 1;
    }
    reply
}

#[test]
fn out_of_sync_case_changing_silent_and_lame_servers_are_named() {
    let h = hierarchy!();
    let scratch = h.dir.join("check-zone-second");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    // A second signing of the hierarchy: serial 2, other keys.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let status = Command::new(harness::repo_root().join("tests/zones/make-zones.sh"))
        .arg(scratch.join("zones"))
        .arg(yyyymmdd(now - 86_400))
        .arg(yyyymmdd(now + 30 * 86_400))
        .arg(&h.ip)
        .env("SOA_SERIAL", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port(&h.ip);
    let _second =
        start_nsd(&scratch, &scratch.join("zones"), &format!("{}@{port}", h.ip), Some("secure.example."));
    let second: SocketAddr = format!("{}:{port}", h.ip).parse().unwrap();
    wait_for(second, "secure.example.", &scratch.join(format!("nsd-{}-{port}.out", h.ip.replace('.', "-"))));
    let nsd: SocketAddr = format!("{}:53", h.ip).parse().unwrap();
    let (relay, _) = udp_relay(h, move |q| udp_exchange(nsd, q, Duration::from_secs(3)).map(upcase_question));
    let silent = std::net::UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();

    let nsd_s = nsd.to_string();
    let second_s = second.to_string();
    let (code, out) =
        h.cli(&["check-zone", "secure.example.", "--ns", &nsd_s, "--ns", &second_s, "--ns", &relay]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("ERROR    sync       the servers are out of sync: SOA serials differ ({nsd_s}: 1; {second_s}: 2; {relay}: 1)")),
        "{out}"
    );
    assert!(out.contains("ERROR    sync       the servers are out of sync: DNSKEY sets differ"), "{out}");
    assert!(
        out.contains(&format!("ERROR    case       {relay} changes the case of the question: asked SeCuRe.ExAmPlE., answered SECURE.EXAMPLE.")),
        "{out}"
    );
    assert_eq!(out.matches("changes the case").count(), 1, "only the relay: {out}");

    let unbound = h.unbound.to_string();
    let (code, out) = h.cli(&["check-zone", "secure.example.", "--ns", &silent_addr, "--ns", &unbound]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("ERROR    servers    {silent_addr} does not answer (UDP and TCP, 3 s each)")),
        "{out}"
    );
    assert!(
        out.contains(&format!("ERROR    servers    {unbound} is not authoritative for secure.example. (answered REFUSED")) ||
        out.contains(&format!("ERROR    servers    {unbound} is not authoritative for secure.example. (answered NOERROR without AA)")),
        "{out}"
    );
    drop(silent);
}
