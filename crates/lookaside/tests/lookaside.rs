//! Look-aside validation through the daemon, against NSD serving the registries dlv.example.
//! (chained from the test root) and dlv2.example. (own anchor file, subtree unsignedtld.), with
//! Unbound as the upstream. The yax.unsignedtld. zone sits under an unsigned TLD, as yax.im did.

mod harness;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{Hierarchy, Opts, ask, dig, ede, udp_exchange};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, flags};

macro_rules! hierarchy {
    () => {
        match Hierarchy::get() {
            Some(h) => h,
            None => return,
        }
    };
}

/// dlv.example. from the command line (chained from the root); dlv2.example. from a config
/// file, since only the file can give a registry a subtree.
fn registry_args(h: &Hierarchy) -> Vec<String> {
    let dlv2 = h.dir.join("zones/dlv2.example.ds");
    let config = h.dir.join("lookaside-registries.toml");
    let text = format!(
        "trust-anchors = [\"{}\"]\n\n[[lookaside]]\ndomain = \"dlv2.example.\"\nanchor = \"{}\"\nsubtree = \"unsignedtld.\"\n",
        h.anchor.display(),
        dlv2.display()
    );
    std::fs::write(&config, text).unwrap();
    vec!["--config".into(), config.display().to_string(), "--lookaside".into(), "dlv.example.".into()]
}

#[test]
fn xmpp_records_under_an_unsigned_tld_come_back_with_ad() {
    let h = hierarchy!();
    let args = registry_args(h);
    let d = h.daemon(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for (name, t) in [
        ("_xmpp-client._tcp.yax.unsignedtld.", rtype::SRV),
        ("_xmpp-server._tcp.yax.unsignedtld.", rtype::SRV),
        ("xmpp.yax.unsignedtld.", rtype::A),
        ("_5222._tcp.xmpp.yax.unsignedtld.", rtype::TLSA),
        ("_5269._tcp.xmpp.yax.unsignedtld.", rtype::TLSA),
        ("conference.yax.unsignedtld.", rtype::A),
        ("www.other.unsignedtld.", rtype::A),
    ] {
        let m = ask(d.addr, name, t, Opts::default());
        assert_eq!(m.rcode(), rcode::NOERROR, "{name}");
        assert!(m.has_flag(flags::AD), "{name}: AD through look-aside: {m:?}\n{}", d.log());
        assert!(m.answer.iter().any(|r| r.rtype == t), "{name}");
    }
    let out = dig(d.addr, &["+dnssec", "_xmpp-client._tcp.yax.unsignedtld.", "SRV"]);
    assert!(out.contains("flags: qr rd ra ad"), "{out}");
}

#[test]
fn without_a_registry_the_same_zone_is_insecure() {
    let h = hierarchy!();
    let d = h.daemon(&[]);
    let m = ask(d.addr, "_xmpp-client._tcp.yax.unsignedtld.", rtype::SRV, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(!m.has_flag(flags::AD));
}

#[test]
fn registry_verdicts_bogus_insecure_and_ignored() {
    let h = hierarchy!();
    let args = registry_args(h);
    let d = h.daemon(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let m = ask(d.addr, "www.badkey.unsignedtld.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::SERVFAIL);
    let e = ede(&m);
    assert_eq!(e[0].0, 9, "{e:?}");
    assert!(e[0].1.contains("badkey.unsignedtld."), "{e:?}");
    let m = ask(d.addr, "www.nodlv.unsignedtld.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(!m.has_flag(flags::AD), "no DLV: insecure");
    let m = ask(d.addr, "www.unalgo.unsignedtld.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(!m.has_flag(flags::AD), "unsupported DLV algorithm: insecure");
    // A wrong DLV for a zone secure from the root changes nothing.
    let m = ask(d.addr, "www.secure.example.", rtype::A, Opts::default());
    assert!(m.has_flag(flags::AD));
}

/// A relay in front of Unbound that counts the DLV queries passing through.
fn counting_relay(h: &Hierarchy) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let sock = UdpSocket::bind(format!("{}:0", h.ip)).unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let counts = Arc::new(Mutex::new(HashMap::new()));
    let c = counts.clone();
    let unbound = h.unbound;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, peer)) = sock.recv_from(&mut buf) {
            let q = buf[..n].to_vec();
            if let Ok(m) = Message::parse(&q)
                && m.questions[0].qtype == rtype::DLV
            {
                // Lower case: queries carry a random case (0x20).
                *c.lock().unwrap().entry(m.questions[0].name.to_string().to_lowercase()).or_insert(0) += 1;
            }
            if let Some(reply) = udp_exchange(unbound, &q, Duration::from_secs(3)) {
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    (addr, counts)
}

#[test]
fn second_lookup_is_answered_from_the_registry_nsecs() {
    let h = hierarchy!();
    let (relay, counts) = counting_relay(h);
    let mut args = registry_args(h);
    args.extend(["--upstream".into(), relay]);
    let d = h.daemon(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let m = ask(d.addr, "www.nodlv.unsignedtld.", rtype::A, Opts::default());
    assert!(!m.has_flag(flags::AD));
    // dlv.example. is signed with NSEC: its proofs are cached and reused (RFC 5074 §6).
    // (dlv2.example. uses NSEC3, which cannot be reused for other names: it is asked again.)
    let nsec_registry = |c: &HashMap<String, usize>| -> usize {
        c.iter().filter(|(n, _)| n.ends_with(".dlv.example.")).map(|(_, k)| k).sum()
    };
    let first = nsec_registry(&counts.lock().unwrap());
    assert!(first > 0, "the registry was asked");
    // Another name of the same zone, not in the answer cache: the cached NSECs answer for it.
    let m = ask(d.addr, "mail.nodlv.unsignedtld.", rtype::A, Opts::default());
    assert_eq!(m.rcode(), rcode::NXDOMAIN);
    let second = nsec_registry(&counts.lock().unwrap());
    assert_eq!(second, first, "no dlv.example. query for the second name: {:?}", counts.lock().unwrap());
}
