//! DNSSEC Look-aside Validation (RFC 4431, RFC 5074) against the signed fixtures: registry
//! dlv.example. (chained from the root, subtree: everything) and dlv2.example. (anchored by its
//! own key file, subtree: unsignedtld.). The situations follow the checklist of Unbound's
//! historical DLV scenarios (dlv_anchor, dlv_ask_higher, dlv_insecure, dlv_unused, …), re-created
//! with our own zones and a real signer.

mod support;

use std::cell::RefCell;
use std::collections::HashMap;

use lookaside_dnssec::TrustAnchors;
use lookaside_dnssec::chain::{KeyCache, KeyEntry, KeyQuery, NoKeyCache, Registry, Validator, Verdict};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::negative::NegativeAnchors;
use lookaside_dnssec::outcome::{BogusReason, DenialKind, IndeterminateReason, InsecureReason, Security};
use lookaside_dnssec::rdata::Nsec;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, Question};
use support::{Authority, NOW, fixtures, name};

fn anchors(with_root: bool) -> TrustAnchors {
    let mut a = TrustAnchors::empty();
    if with_root {
        a.add_text(&std::fs::read_to_string(fixtures().join("root.ds")).unwrap(), 0).unwrap();
    }
    a.add_text(&std::fs::read_to_string(fixtures().join("dlv2.example.ds")).unwrap(), 0).unwrap();
    a
}

fn registries() -> Vec<Registry> {
    vec![
        Registry { domain: name("dlv.example."), subtree: Name::root() },
        Registry { domain: name("dlv2.example."), subtree: name("unsignedtld.") },
    ]
}

fn validator() -> Validator {
    Validator::new(anchors(true)).with_registries(registries())
}

/// A verdict, the lookups it asked for, and the keys and registry NSECs it learned.
type Run = (Verdict, Vec<KeyQuery>, Vec<(Name, KeyEntry)>, Vec<(Name, Nsec, u32)>);

/// Validates and records every lookup asked for.
fn run(v: &Validator, auth: &Authority, qname: &str, qtype: u16, cache: &(dyn KeyCache + Sync)) -> Run {
    let q = Question { name: name(qname), qtype, qclass: 1 };
    let response = auth.query(&q.name, qtype);
    let asked = RefCell::new(Vec::new());
    let mut s = v.session(NOW, cache);
    let verdict = s.validate_with(&q, &response, |k| {
        asked.borrow_mut().push(k.clone());
        Some(auth.query(&k.name, k.rtype))
    });
    (verdict, asked.into_inner(), s.learned().to_vec(), s.learned_denials().to_vec())
}

fn check(qname: &str, qtype: u16) -> (Verdict, Vec<KeyQuery>) {
    let auth = Authority::fixtures();
    let (v, asked, _, _) = run(&validator(), &auth, qname, qtype, &NoKeyCache);
    (v, asked)
}

fn dlv_queries(asked: &[KeyQuery]) -> Vec<String> {
    asked.iter().filter(|q| q.rtype == rtype::DLV).map(|q| q.name.to_string()).collect()
}

#[test]
fn dlv_anchor_zone_under_an_unsigned_tld_is_secure() {
    let (v, asked) = check("yax.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    // dlv2.example. (subtree unsignedtld., signed with NSEC3) first, one label at a time: yax,
    // then its apex (where the DLV for unsignedtld. itself would be); then dlv.example.
    assert_eq!(
        dlv_queries(&asked),
        vec!["yax.dlv2.example.", "dlv2.example.", "yax.unsignedtld.dlv.example."]
    );
    assert!(
        v.summary().contains("yax.unsignedtld. [L]") || v.summary().contains("yax.unsignedtld. [T]"),
        "{}",
        v.summary()
    );
    assert!(v.steps.iter().any(|s| s.detail.to_string().contains("DLV found in dlv.example.")));
}

#[test]
fn xmpp_records_in_a_dlv_secured_zone_are_secure() {
    for (n, t) in [
        ("_xmpp-client._tcp.yax.unsignedtld.", rtype::SRV),
        ("_xmpp-server._tcp.yax.unsignedtld.", rtype::SRV),
        ("xmpp.yax.unsignedtld.", rtype::A),
        ("_5222._tcp.xmpp.yax.unsignedtld.", rtype::TLSA),
        ("_5269._tcp.xmpp.yax.unsignedtld.", rtype::TLSA),
    ] {
        let (v, _) = check(n, t);
        assert_eq!(v.security, Security::Secure, "{n}: {}", v.security);
    }
}

#[test]
fn dlv_ask_higher_child_with_ordinary_ds_is_secure() {
    // conference.yax.unsignedtld. has a DS in yax.unsignedtld., which has a DLV.
    let (v, asked) = check("conference.yax.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    // The registry denies the conference name first; the proof makes the walk go up.
    assert!(
        dlv_queries(&asked).contains(&"conference.yax.unsignedtld.dlv.example.".to_string()),
        "{asked:?}"
    );
}

#[test]
fn a_name_several_labels_below_the_apex_is_secure() {
    let (v, _) = check("x.y.z.yax.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    // A secure denial inside the DLV-secured zone, too.
    let (v, _) = check("nothere.yax.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
}

#[test]
fn dlv_insecure_no_dlv_anywhere_stays_insecure() {
    let (v, asked) = check("www.nodlv.unsignedtld.", rtype::A);
    assert_eq!(
        v.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec })
    );
    // The walk stops at the insecure point unsignedtld.: never above it (downgrade rule). In
    // dlv.example. (subtree: the root) the apex would stand for the root: never asked. In
    // dlv2.example. (subtree unsignedtld.) the apex stands for unsignedtld. itself: asked.
    let q = dlv_queries(&asked);
    assert!(!q.iter().any(|n| n == "dlv.example."), "{q:?}");
    assert!(
        q.iter().all(|n| n.contains("unsignedtld.") || n.starts_with("nodlv.") || n == "dlv2.example."),
        "{q:?}"
    );
}

#[test]
fn dlv_matching_no_key_is_bogus_and_names_the_zone() {
    let (v, _) = check("www.badkey.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Bogus(BogusReason::DnskeyMissing { zone: name("badkey.unsignedtld.") }));
}

#[test]
fn val_unalgo_dlv_only_unsupported_algorithms_is_insecure() {
    let (v, _) = check("www.unalgo.unsignedtld.", rtype::A);
    assert_eq!(
        v.security,
        Security::Insecure(InsecureReason::UnsupportedAlgorithm { zone: name("unalgo.unsignedtld.") })
    );
}

#[test]
fn dlv_unused_for_a_zone_secure_from_the_root_even_with_a_wrong_dlv() {
    // The registry holds a DLV for secure.example. naming a key that is not published: ignored.
    let (v, asked) = check("www.secure.example.", rtype::A);
    assert_eq!(v.security, Security::Secure);
    assert!(dlv_queries(&asked).is_empty(), "registry never asked: {asked:?}");
}

#[test]
fn bogus_is_never_rescued() {
    let (v, asked) = check("www.expired.example.", rtype::A);
    assert!(
        matches!(v.security, Security::Bogus(BogusReason::SignatureExpired { ref zone, .. }) if *zone == name("expired.example.")),
        "{}",
        v.security
    );
    assert!(dlv_queries(&asked).is_empty());
}

#[test]
fn overlapping_registries_most_specific_first_then_the_next() {
    // other.unsignedtld. is only in dlv2.example. (subtree unsignedtld., consulted first).
    let (v, asked) = check("www.other.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    assert_eq!(dlv_queries(&asked), vec!["other.dlv2.example."]);
    // yax.unsignedtld. is only in dlv.example.: dlv2 says no, then dlv.example. says yes.
    let (v, _) = check("yax.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure);
}

#[test]
fn registry_chained_from_the_root_works_without_its_own_anchor() {
    let auth = Authority::fixtures();
    let mut a = TrustAnchors::empty();
    a.add_text(&std::fs::read_to_string(fixtures().join("root.ds")).unwrap(), 0).unwrap();
    let v = Validator::new(a)
        .with_registries(vec![Registry { domain: name("dlv.example."), subtree: Name::root() }]);
    let (verdict, _, _, _) = run(&v, &auth, "yax.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
}

#[test]
fn registry_without_anchor_or_chain_is_unusable() {
    // dlv2.example. has no DS: without its anchor file its answers are insecure, so unusable.
    let auth = Authority::fixtures();
    let mut a = TrustAnchors::empty();
    a.add_text(&std::fs::read_to_string(fixtures().join("root.ds")).unwrap(), 0).unwrap();
    let v = Validator::new(a)
        .with_registries(vec![Registry { domain: name("dlv2.example."), subtree: name("unsignedtld.") }]);
    let (verdict, _, _, _) = run(&v, &auth, "www.other.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(
        verdict.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec }),
        "{}",
        verdict.security
    );
}

#[test]
fn registry_alone_without_root_anchor_rescues_indeterminate() {
    let auth = Authority::fixtures();
    let v = Validator::new(anchors(false)).with_registries(registries());
    let (verdict, _, _, _) = run(&v, &auth, "www.other.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
    let (verdict, _, _, _) = run(&v, &auth, "www.nodlv.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(verdict.security, Security::Indeterminate(IndeterminateReason::NoTrustAnchor));
}

#[test]
fn unreachable_registry_is_indeterminate_never_insecure() {
    let auth = Authority::fixtures();
    let v = validator();
    let q = Question { name: name("www.nodlv.unsignedtld."), qtype: rtype::A, qclass: 1 };
    let response = auth.query(&q.name, q.qtype);
    let mut s = v.session(NOW, &NoKeyCache);
    let verdict = s.validate_with(&q, &response, |k| {
        if k.rtype == rtype::DLV { None } else { Some(auth.query(&k.name, k.rtype)) }
    });
    match verdict.security {
        Security::Indeterminate(IndeterminateReason::LookupFailed { what }) => {
            assert!(what.contains("look-aside registry"), "{what}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn bogus_registry_answer_makes_the_data_bogus() {
    let auth = Authority::fixtures();
    let v = validator();
    let q = Question { name: name("yax.unsignedtld."), qtype: rtype::A, qclass: 1 };
    let response = auth.query(&q.name, q.qtype);
    let mut s = v.session(NOW, &NoKeyCache);
    let verdict = s.validate_with(&q, &response, |k| {
        let mut m: Message = auth.query(&k.name, k.rtype);
        if k.rtype == rtype::DLV {
            for r in m.answer.iter_mut().chain(m.authority.iter_mut()).filter(|r| r.rtype == rtype::RRSIG) {
                let n = r.rdata.len();
                r.rdata[n - 3] ^= 0x10;
            }
        }
        Some(m)
    });
    match &verdict.security {
        Security::Bogus(BogusReason::Lookaside { registry, .. }) => {
            assert_eq!(*registry, name("dlv2.example."))
        }
        other => panic!("{other}"),
    }
}

#[test]
fn names_under_a_negative_trust_anchor_are_not_looked_up() {
    let auth = Authority::fixtures();
    let negative = NegativeAnchors::configured(&[name("yax.unsignedtld.")]);
    let v = Validator::new(anchors(true))
        .with_registries(registries())
        .with_negative_anchors(std::sync::Arc::new(negative));
    let (verdict, asked, _, _) = run(&v, &auth, "yax.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(
        verdict.security,
        Security::Insecure(InsecureReason::NegativeTrustAnchor { zone: name("yax.unsignedtld.") })
    );
    assert!(dlv_queries(&asked).is_empty());
}

#[test]
fn names_inside_a_registry_are_never_looked_up_in_it() {
    let (v, asked) = check("yax.unsignedtld.dlv.example.", rtype::DLV);
    assert_eq!(v.security, Security::Secure);
    assert!(dlv_queries(&asked).is_empty());
}

struct Cache {
    keys: HashMap<Name, KeyEntry>,
    denials: Vec<(Name, Nsec)>,
}
impl KeyCache for Cache {
    fn key_entry(&self, zone: &Name) -> Option<KeyEntry> {
        self.keys.get(zone).cloned()
    }
    fn registry_denials(&self, registry: &Name) -> Vec<Nsec> {
        self.denials.iter().filter(|(r, _)| r == registry).map(|(_, n)| n.clone()).collect()
    }
}

#[test]
fn dlv_insecure_negcache_second_lookup_uses_cached_nsecs() {
    // dlv.example. is signed with NSEC, whose proofs can be cached and reused (RFC 5074 §6).
    let auth = Authority::fixtures();
    let v = Validator::new(anchors(true)).with_registries(vec![registries().remove(0)]);
    let (first, asked1, keys, denials) = run(&v, &auth, "www.nodlv.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(
        first.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec })
    );
    assert!(!dlv_queries(&asked1).is_empty());
    let cache = Cache {
        keys: keys.into_iter().collect(),
        denials: denials.into_iter().map(|(r, n, _)| (r, n)).collect(),
    };
    // The same name again, and a sibling the cached NSECs also cover: no registry query at all.
    let (second, asked2, _, _) = run(&v, &auth, "www.nodlv.unsignedtld.", rtype::A, &cache);
    assert_eq!(
        second.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec })
    );
    assert_eq!(dlv_queries(&asked2), Vec::<String>::new());
}

#[test]
fn lookup_names_replace_the_subtree_suffix() {
    let r = Registry { domain: name("trustbroker.example.net."), subtree: name("org.") };
    assert_eq!(r.lookup_name(&name("example.org.")).unwrap(), name("example.trustbroker.example.net."));
    assert_eq!(r.lookup_name(&name("org.")).unwrap(), name("trustbroker.example.net."));
    assert_eq!(r.zone_for(&name("example.trustbroker.example.net.")).unwrap(), name("example.org."));
    // Too long for 255 octets: None, and the walk moves up instead.
    let long = Name::parse(&vec!["a".repeat(60); 4].join(".")).unwrap();
    assert!(Registry { domain: name("dlv.example."), subtree: Name::root() }.lookup_name(&long).is_none());
}

#[test]
fn a_shared_cache_keeps_every_verdict() {
    // As the daemon does: one key cache across many queries.
    let auth = Authority::fixtures();
    let v = validator();
    let mut cache = Cache { keys: HashMap::new(), denials: Vec::new() };
    for (n, t, want_secure) in [
        ("_xmpp-client._tcp.yax.unsignedtld.", rtype::SRV, true),
        ("conference.yax.unsignedtld.", rtype::A, true),
        ("www.nodlv.unsignedtld.", rtype::A, false),
        ("www.other.unsignedtld.", rtype::A, true),
        ("yax.unsignedtld.", rtype::A, true),
    ] {
        let (verdict, _, keys, denials) = run(&v, &auth, n, t, &cache);
        assert_eq!(verdict.security.is_secure(), want_secure, "{n}: {}", verdict.security);
        cache.keys.extend(keys);
        cache.denials.extend(denials.into_iter().map(|(r, n, _)| (r, n)));
    }
}

#[test]
fn dlv_ds_lookup_ds_of_a_zone_under_an_unsigned_parent_is_insecure() {
    // The DS of yax.unsignedtld. is denied by the unsigned parent: insecure, even though a
    // registry vouches for yax.unsignedtld.'s own keys.
    let (v, _) = check("yax.unsignedtld.", rtype::DS);
    assert_eq!(
        v.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec }),
        "{}",
        v.security
    );
}

#[test]
fn dlv_keyretry_dlv_found_but_the_keys_are_expired_is_bogus() {
    let (v, _) = check("www.expiredkeys.unsignedtld.", rtype::A);
    match v.security {
        Security::Bogus(BogusReason::SignatureExpired { zone, .. }) => {
            assert_eq!(zone, name("expiredkeys.unsignedtld."))
        }
        other => panic!("{other}"),
    }
}

#[test]
fn dlv_optout_child_of_an_opt_out_span_with_a_dlv_is_secure() {
    let (v, _) = check("www.unsigned.optout.example.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
}

#[test]
fn dlv_remove_nodel_a_registry_that_does_not_exist_leaves_insecure() {
    let auth = Authority::fixtures();
    let v = Validator::new(anchors(true))
        .with_registries(vec![Registry { domain: name("nosuch.example."), subtree: Name::root() }]);
    let (verdict, asked, _, _) = run(&v, &auth, "yax.unsignedtld.", rtype::A, &NoKeyCache);
    assert_eq!(
        verdict.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec })
    );
    assert!(!dlv_queries(&asked).is_empty());
}

#[test]
fn cname_from_a_root_secured_zone_into_a_dlv_secured_one_is_secure() {
    let (v, _) = check("todlv.secure.example.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    let auth = Authority::fixtures();
    let plain = Validator::new(anchors(true));
    let (v, _, _, _) = run(&plain, &auth, "todlv.secure.example.", rtype::A, &NoKeyCache);
    assert_eq!(
        v.security,
        Security::Insecure(InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec }),
        "without registries: {}",
        v.security
    );
}

#[test]
fn dlv_delegation_the_dlv_sits_in_a_child_zone_of_the_registry() {
    let (v, asked) = check("www.deleg.unsignedtld.", rtype::A);
    assert_eq!(v.security, Security::Secure, "{}", v.security);
    // The registry's delegation was followed: the child zone's keys were fetched.
    assert!(
        asked.iter().any(|q| q.rtype == rtype::DS && q.name == name("deleg.unsignedtld.dlv.example.")),
        "{asked:?}"
    );
    assert!(v.steps.iter().any(|s| {
        s.detail.to_string().contains("DLV found in dlv.example. at deleg.unsignedtld.dlv.example.")
    }));
}

#[test]
fn rfc4431_dlv_records_computed_from_a_zones_keys_match_the_signers() {
    // The registry's DLV records were written by ldns-key2ds from the KSKs; ds_for must give the
    // same RDATA from the zone's published DNSKEY set.
    use lookaside_dnssec::rdata::{Dnskey, Ds};
    use lookaside_dnssec::verify::ds_for;
    let auth = Authority::fixtures();
    for zone in ["yax.unsignedtld.", "unsigned.optout.example.", "expiredkeys.unsignedtld."] {
        let dlv = auth.query(&name(&format!("{zone}dlv.example.")), rtype::DLV);
        let published: Vec<Ds> =
            dlv.answer.iter().filter(|r| r.rtype == rtype::DLV).filter_map(|r| Ds::parse(&r.rdata)).collect();
        assert!(!published.is_empty(), "{zone}: a DLV record in the fixture");
        let keys = auth.query(&name(zone), rtype::DNSKEY);
        let computed: Vec<Ds> = keys
            .answer
            .iter()
            .filter(|r| r.rtype == rtype::DNSKEY)
            .filter_map(|r| Dnskey::parse(&r.rdata))
            .filter(|k| k.flags & 1 == 1)
            .filter_map(|k| ds_for(&name(zone), &k, 2))
            .collect();
        assert!(published.iter().all(|p| computed.contains(p)), "{zone}: {published:?} vs {computed:?}");
    }
}
