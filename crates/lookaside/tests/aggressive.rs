//! Aggressive use of the validated cache (RFC 8198): NXDOMAIN and NODATA made from NSEC records
//! of earlier secure answers, counted at a relay in front of the real Unbound upstream; never
//! from an unsigned zone, an NSEC3 zone, a delegation's NSEC, or a bogus answer.

mod harness;

use harness::{Counts, Hierarchy, Opts, ask, counting_relay, udp_exchange, udp_relay};
use lookaside_dnssec::iana::rcode;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, flags};
use std::time::Duration;

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

fn asked(counts: &Counts, what: &str) -> usize {
    counts.lock().unwrap().get(what).copied().unwrap_or(0)
}

fn nsec_owners(m: &Message) -> Vec<String> {
    m.authority.iter().filter(|r| r.rtype == rtype::NSEC).map(|r| r.owner.to_string()).collect()
}

#[test]
fn rfc8198_denials_come_from_cached_nsec_records_without_asking_upstream() {
    let h = hierarchy!();
    let (relay, counts) = counting_relay(h, h.unbound);
    let d = h.daemon(&["--upstream", &relay]);

    // NXDOMAIN: the first is asked for; its NSECs (ns → outside, and the apex's over
    // *.secure.example) deny the second, which never reaches the upstream.
    let first = ask(d.addr, "nxa.secure.example.", rtype::A, Opts::default());
    assert_eq!(first.rcode(), rcode::NXDOMAIN);
    assert!(first.has_flag(flags::AD));
    assert_eq!(asked(&counts, "nxa.secure.example. A"), 1);
    let second = ask(d.addr, "nxb.secure.example.", rtype::AAAA, Opts::default());
    assert_eq!(second.rcode(), rcode::NXDOMAIN, "{second:?}");
    assert!(second.has_flag(flags::AD), "a synthesised denial is secure");
    assert_eq!(asked(&counts, "nxb.secure.example. AAAA"), 0, "{:?}", counts.lock().unwrap());
    // The NSEC over the name (ns → outside) and the apex's, over *.secure.example.
    assert_eq!(nsec_owners(&second), ["ns.secure.example.", "secure.example."], "{second:?}");
    assert!(second.authority.iter().any(|r| r.rtype == rtype::SOA), "the SOA for negative caching");
    assert!(second.authority.iter().all(|r| r.ttl <= 3600));
    // Without DO: the denial without its proof, as any negative answer.
    let plain = ask(d.addr, "nxc.secure.example.", rtype::A, Opts { dnssec_ok: false, ..Opts::default() });
    assert_eq!(plain.rcode(), rcode::NXDOMAIN);
    assert!(nsec_owners(&plain).is_empty());
    assert_eq!(asked(&counts, "nxc.secure.example. A"), 0);

    // NODATA: mail.secure.example has A only; its NSEC denies TXT, then MX without asking.
    let txt = ask(d.addr, "mail.secure.example.", rtype::TXT, Opts::default());
    assert_eq!((txt.rcode(), txt.answer.len()), (rcode::NOERROR, 0));
    let mx = ask(d.addr, "mail.secure.example.", rtype::MX, Opts::default());
    assert_eq!((mx.rcode(), mx.answer.len()), (rcode::NOERROR, 0), "{mx:?}");
    assert!(mx.has_flag(flags::AD));
    assert_eq!(asked(&counts, "mail.secure.example. MX"), 0);
    // A type the NSEC lists is asked for, of course.
    let a = ask(d.addr, "mail.secure.example.", rtype::A, Opts::default());
    assert_eq!(a.answer.iter().filter(|r| r.rtype == rtype::A).count(), 1);
    assert_eq!(asked(&counts, "mail.secure.example. A"), 1);

    let (_, status) = d.ctl(&["status"]);
    assert!(status.contains("synthesised 3"), "{status}");
}

#[test]
fn rfc8198_never_from_unsigned_zones_nsec3_or_a_delegation() {
    let h = hierarchy!();
    let (relay, counts) = counting_relay(h, h.unbound);
    let d = h.daemon(&["--upstream", &relay]);
    // The parent's secure NSEC of the unsigned delegation is learned (a DS NODATA)...
    let ds = ask(d.addr, "unsigned.secure.example.", rtype::DS, Opts::default());
    assert!(ds.has_flag(flags::AD) && ds.answer.is_empty());
    // ...but proves nothing below the cut (RFC 4035 §5.4): names there are asked for, and are
    // insecure.
    for n in ["nxa", "nxb"] {
        let m = ask(d.addr, &format!("{n}.unsigned.secure.example."), rtype::A, Opts::default());
        assert_eq!(m.rcode(), rcode::NXDOMAIN);
        assert!(!m.has_flag(flags::AD));
        assert_eq!(asked(&counts, &format!("{n}.unsigned.secure.example. A")), 1);
    }
    // NSEC3 (possibly opt-out) is not used: each name is asked for.
    for n in ["nxa", "nxb"] {
        let m = ask(d.addr, &format!("{n}.nsec3.example."), rtype::A, Opts::default());
        assert_eq!(m.rcode(), rcode::NXDOMAIN);
        assert!(m.has_flag(flags::AD));
        assert_eq!(asked(&counts, &format!("{n}.nsec3.example. A")), 1);
    }
    let config = h.dir.join("aggressive-off.toml");
    let body = format!("trust-anchors = [\"{}\"]\n[cache]\naggressive-nsec = false\n", h.anchor.display());
    std::fs::write(&config, body).unwrap();
    let off = h.daemon(&["--config", config.to_str().unwrap(), "--upstream", &relay]);
    for n in ["nxd", "nxe"] {
        let m = ask(off.addr, &format!("{n}.secure.example."), rtype::A, Opts::default());
        assert_eq!(m.rcode(), rcode::NXDOMAIN);
        assert_eq!(asked(&counts, &format!("{n}.secure.example. A")), 1, "aggressive-nsec = false");
    }
}

#[test]
fn rfc8198_never_from_a_bogus_denial() {
    let h = hierarchy!();
    // A relay that flips a bit in every NSEC RRSIG's signature: each denial is bogus.
    let target = h.unbound;
    let (relay, counts) = udp_relay(h, move |q| {
        let mut m = Message::parse(&udp_exchange(target, q, Duration::from_secs(3))?).ok()?;
        for r in m.authority.iter_mut().filter(|r| r.rtype == rtype::RRSIG && r.rdata.get(1) == Some(&47)) {
            if let Some(last) = r.rdata.last_mut() {
                *last ^= 1;
            }
        }
        Some(m.to_wire())
    });
    let d = h.daemon(&["--upstream", &relay]);
    for n in ["nxa", "nxb"] {
        let m = ask(d.addr, &format!("{n}.secure.example."), rtype::A, Opts::default());
        assert_eq!(m.rcode(), rcode::SERVFAIL, "bogus: {m:?}");
        assert!(
            asked(&counts, &format!("{n}.secure.example. A")) >= 1,
            "{n} asked upstream, not synthesised"
        );
    }
}
