//! Single RFC rules checked one at a time: key flags (RFC 4034 §2.1, RFC 5011 §2.1), serial
//! arithmetic (RFC 1982 via RFC 4034 §3.1.5), clock skew, digest preference (RFC 4509 §3), and
//! the named work limits (CNAME chain length, NSEC3 records per proof).

mod support;

use lookaside_dnssec::TrustAnchors;
use lookaside_dnssec::canonical::group;
use lookaside_dnssec::chain::{NoKeyCache, Validator};
use lookaside_dnssec::limits::{self, Budget};
use lookaside_dnssec::outcome::{BogusReason, Security};
use lookaside_dnssec::rdata::{Dnskey, Ds};
use lookaside_dnssec::rtype;
use lookaside_dnssec::verify::{Clock, serial_le, usable_ds, verify_rrset};
use lookaside_dnssec::wire::{Question, Record};
use support::{Authority, NOW, name};

fn validator(auth: &Authority) -> Validator {
    let mut anchors = TrustAnchors::empty();
    anchors.add_text(&auth.anchor_text(), 0).unwrap();
    Validator::new(anchors)
}

/// The ZSK of secure.example. and the signed www A RRset.
fn zsk_and_answer(auth: &Authority) -> (Dnskey, lookaside_dnssec::canonical::Rrset) {
    let keys = auth.query(&name("secure.example."), rtype::DNSKEY);
    let answer = auth.query(&name("www.secure.example."), rtype::A);
    let set = group(&answer.answer).into_iter().find(|s| s.rtype == rtype::A).unwrap();
    let tag = set.rrsigs[0].key_tag;
    let key = keys
        .answer
        .iter()
        .filter(|r| r.rtype == rtype::DNSKEY)
        .filter_map(|r| Dnskey::parse(&r.rdata))
        .find(|k| k.key_tag() == tag)
        .unwrap();
    (key, set)
}

/// Changes a key's RDATA at `at` by `delta` and compensates at `fix`, keeping its key tag, so the
/// flag checks are reached rather than the key tag mismatch.
fn same_tag(key: &Dnskey, at: usize, delta: i16) -> Dnskey {
    let mut rdata = key.rdata.clone();
    rdata[at] = (rdata[at] as i16 + delta) as u8;
    // A public-key octet of the same parity (same weight in the sum) with room for the change.
    let fix = (4..rdata.len())
        .filter(|i| i % 2 == at % 2)
        .find(|&i| (0..=255).contains(&(rdata[i] as i16 - delta)))
        .unwrap();
    rdata[fix] = (rdata[fix] as i16 - delta) as u8;
    let k = Dnskey::parse(&rdata).unwrap();
    assert_eq!(k.key_tag(), key.key_tag());
    k
}

#[test]
fn rfc4034_2_1_1_key_without_zone_bit_is_not_used() {
    let auth = Authority::fixtures();
    let (key, set) = zsk_and_answer(&auth);
    let no_zone = same_tag(&key, 0, -1); // flags 0x0100 -> 0x0000
    assert!(!no_zone.is_zone_key());
    let r = verify_rrset(&set, &name("secure.example."), &[no_zone], Clock::at(NOW), &mut Budget::default())
        .unwrap_err();
    assert!(matches!(r, BogusReason::NoZoneKey { .. }), "{r}");
    assert_eq!(r.ede_code(), 11);
}

#[test]
fn rfc4034_2_1_2_protocol_other_than_3_is_not_used() {
    let auth = Authority::fixtures();
    let (key, set) = zsk_and_answer(&auth);
    let proto4 = same_tag(&key, 2, 1);
    assert_eq!(proto4.protocol, 4);
    let r = verify_rrset(&set, &name("secure.example."), &[proto4], Clock::at(NOW), &mut Budget::default())
        .unwrap_err();
    assert!(matches!(r, BogusReason::NoZoneKey { .. }), "{r}");
}

#[test]
fn rfc5011_2_1_revoked_key_is_not_used() {
    let auth = Authority::fixtures();
    let (key, set) = zsk_and_answer(&auth);
    let revoked = same_tag(&key, 1, 0x80);
    assert!(revoked.is_revoked());
    let r = verify_rrset(&set, &name("secure.example."), &[revoked], Clock::at(NOW), &mut Budget::default())
        .unwrap_err();
    assert!(matches!(r, BogusReason::NoZoneKey { .. }), "{r}");
    // The unmodified key verifies.
    assert!(
        verify_rrset(&set, &name("secure.example."), &[key], Clock::at(NOW), &mut Budget::default()).is_ok()
    );
}

#[test]
fn rfc1982_serial_arithmetic_crosses_the_2106_wrap() {
    assert!(serial_le(0xffff_ff00, 0x0000_0100));
    assert!(!serial_le(0x0000_0100, 0xffff_ff00));
    assert!(serial_le(5, 5));
    assert!(serial_le(1_700_000_000, 2_840_140_800)); // 2023 before 2060
}

#[test]
fn clock_skew_is_configurable() {
    let auth = Authority::fixtures();
    let q = Question { name: name("www.future.example."), qtype: rtype::A, qclass: 1 };
    let m = auth.query(&q.name, q.qtype);
    let strict = validator(&auth);
    let v = strict.session(NOW, &NoKeyCache).validate_with(&q, &m, auth.fetch());
    assert!(matches!(v.security, Security::Bogus(BogusReason::SignatureNotYetValid { .. })));
    // With 30 years of tolerated skew, signatures from 2050 are accepted.
    let lenient = validator(&auth).with_skew(30 * 365 * 86_400);
    let v = lenient.session(NOW, &NoKeyCache).validate_with(&q, &m, auth.fetch());
    assert_eq!(v.security, Security::Secure, "{}", v.security);
}

#[test]
fn rfc4509_3_strongest_digest_only() {
    let ds = |t: u8| Ds { key_tag: 1, algorithm: 13, digest_type: t, digest: vec![0; 32] };
    let set = [ds(1), ds(2), ds(3)];
    assert_eq!(usable_ds(&set).iter().map(|d| d.digest_type).collect::<Vec<_>>(), vec![2]);
    let set = [ds(1), ds(4), ds(2)];
    assert_eq!(usable_ds(&set).iter().map(|d| d.digest_type).collect::<Vec<_>>(), vec![4]);
    let set = [ds(3), Ds { algorithm: 16, ..ds(2) }];
    assert!(usable_ds(&set).is_empty());
}

#[test]
fn cname_chain_longer_than_the_limit_is_bogus() {
    let auth = Authority::fixtures();
    let v = validator(&auth);
    let mut m = auth.query(&name("www.secure.example."), rtype::A);
    m.answer.clear();
    for i in 0..=limits::MAX_CNAME_CHAIN {
        m.answer.push(Record {
            owner: name(&format!("c{i}.secure.example.")),
            rtype: rtype::CNAME,
            class: 1,
            ttl: 60,
            rdata: name(&format!("c{}.secure.example.", i + 1)).as_wire().to_vec(),
        });
    }
    let q = Question { name: name("c0.secure.example."), qtype: rtype::A, qclass: 1 };
    let verdict = v.session(NOW, &NoKeyCache).validate_with(&q, &m, auth.fetch());
    assert_eq!(verdict.security, Security::Bogus(BogusReason::CnameChainTooLong));
    assert_eq!(BogusReason::CnameChainTooLong.ede_code(), 0);
}

#[test]
fn more_nsec3_records_than_the_limit_is_bogus() {
    let auth = Authority::fixtures();
    let v = validator(&auth);
    let mut m = auth.query(&name("nothere.nsec3.example."), rtype::A);
    let zone = auth.zones.iter().find(|z| z.apex == name("nsec3.example.")).unwrap();
    m.authority
        .retain(|r| r.rtype == rtype::SOA || (r.rtype == rtype::RRSIG && support::covered(r) == rtype::SOA));
    m.authority.extend(
        zone.records
            .iter()
            .filter(|r| {
                r.rtype == rtype::NSEC3 || (r.rtype == rtype::RRSIG && support::covered(r) == rtype::NSEC3)
            })
            .cloned(),
    );
    let n3 = m.authority.iter().filter(|r| r.rtype == rtype::NSEC3).count();
    assert!(n3 > limits::MAX_NSEC3_PER_PROOF, "{n3}");
    let q = Question { name: name("nothere.nsec3.example."), qtype: rtype::A, qclass: 1 };
    let verdict = v.session(NOW, &NoKeyCache).validate_with(&q, &m, auth.fetch());
    assert_eq!(
        verdict.security,
        Security::Bogus(BogusReason::WorkLimit { limit: "NSEC3 records per proof" })
    );
}

#[test]
fn rfc4034_5_3_1_every_key_of_a_colliding_tag_is_tried() {
    // Three keys share the signer's tag and algorithm; the real one comes last. Key tags collide
    // legitimately, so all are tried, within the per-RRset signature budget.
    let auth = Authority::fixtures();
    let (key, set) = zsk_and_answer(&auth);
    let keys = [same_tag(&key, 10, 1), same_tag(&key, 12, 2), key];
    let mut budget = Budget::default();
    let v = verify_rrset(&set, &name("secure.example."), &keys, Clock::at(NOW), &mut budget);
    assert!(v.is_ok(), "{v:?}");
    assert_eq!(budget.signature_checks, 3);
}

#[test]
fn rfc9276_3_2_deep_names_under_nsec3_are_proven_within_the_work_limit() {
    // 100 labels below nsec3.example. (5 iterations): ~100 ancestor hashes. The old budget of
    // 600 SHA-1 blocks made this legitimate NXDOMAIN bogus (EDE 6).
    let auth = Authority::fixtures();
    let v = validator(&auth);
    let qname = format!("{}nsec3.example.", "a.".repeat(100));
    let q = Question { name: name(&qname), qtype: rtype::A, qclass: 1 };
    let response = auth.query(&q.name, rtype::A);
    let mut session = v.session(NOW, &NoKeyCache);
    let verdict = session.validate_with(&q, &response, auth.fetch());
    assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
    assert!(verdict.budget.nsec3_hash_blocks > 600, "{} blocks", verdict.budget.nsec3_hash_blocks);
    assert!(verdict.budget.nsec3_hash_blocks <= limits::MAX_NSEC3_HASH_BLOCKS);
}
