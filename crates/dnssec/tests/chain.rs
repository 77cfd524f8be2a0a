//! The chain walk against zones signed by ldns-signzone (tests/zones/make-zones.sh), with a
//! fixed clock. Every test asserts the verdict and, for bogus and insecure, the reason.

mod support;

use std::sync::Arc;

use lookaside_dnssec::TrustAnchors;
use lookaside_dnssec::chain::{KeyCache, KeyEntry, NoKeyCache, Validator, Verdict};
use lookaside_dnssec::limits;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::negative::NegativeAnchors;
use lookaside_dnssec::outcome::{BogusReason, DenialKind, IndeterminateReason, InsecureReason, Security};
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, Question, Record};
use support::{Authority, NOW, name};

fn validator(auth: &Authority) -> Validator {
    let mut anchors = TrustAnchors::empty();
    anchors.add_text(&auth.anchor_text(), 0).unwrap();
    Validator::new(anchors)
}

fn check_with(v: &Validator, auth: &Authority, qname: &str, qtype: u16, response: &Message) -> Verdict {
    let q = Question { name: name(qname), qtype, qclass: 1 };
    let mut session = v.session(NOW, &NoKeyCache);
    session.validate_with(&q, response, auth.fetch())
}

fn check(qname: &str, qtype: u16) -> Verdict {
    let auth = Authority::fixtures();
    let v = validator(&auth);
    let response = auth.query(&name(qname), qtype);
    check_with(&v, &auth, qname, qtype, &response)
}

fn assert_secure(qname: &str, qtype: u16) {
    let v = check(qname, qtype);
    assert_eq!(v.security, Security::Secure, "{qname} {}: {}", rtype::type_name(qtype), v.security);
}

fn insecure(qname: &str, qtype: u16) -> InsecureReason {
    match check(qname, qtype).security {
        Security::Insecure(r) => r,
        other => panic!("{qname}: expected insecure, got {other}"),
    }
}

fn bogus_of(v: Verdict) -> BogusReason {
    match v.security {
        Security::Bogus(r) => r,
        other => panic!("expected bogus, got {other}"),
    }
}

fn bogus(qname: &str, qtype: u16) -> BogusReason {
    bogus_of(check(qname, qtype))
}

mod rfc4035_section_5_3_positive_answers {
    use super::*;

    #[test]
    fn signed_answer_under_the_anchor_is_secure() {
        assert_secure("www.secure.example.", rtype::A);
        assert_secure("secure.example.", rtype::MX);
        assert_secure("_xmpp-client._tcp.secure.example.", rtype::SRV);
        assert_secure("_5222._tcp.xmpp.secure.example.", rtype::TLSA);
        assert_secure("big.secure.example.", rtype::TXT);
    }

    #[test]
    fn three_signed_levels_down_is_secure() {
        assert_secure("www.sub.secure.example.", rtype::A);
    }

    #[test]
    fn root_and_tld_keys_themselves_are_secure() {
        assert_secure(".", rtype::DNSKEY);
        assert_secure(".", rtype::NS);
        assert_secure("example.", rtype::DNSKEY);
        assert_secure("secure.example.", rtype::DS);
    }

    #[test]
    fn every_supported_algorithm_validates() {
        for a in [5, 7, 8, 10, 13, 14, 15] {
            assert_secure(&format!("www.alg{a}.example."), rtype::A);
        }
    }

    #[test]
    fn mixed_case_owner_and_question_are_secure() {
        assert_secure("MixedCase.secure.example.", rtype::TXT);
        assert_secure("WWW.Secure.EXAMPLE.", rtype::A);
    }

    #[test]
    fn cname_chain_within_a_zone_is_secure() {
        let v = check("cname.secure.example.", rtype::A);
        assert_eq!(v.security, Security::Secure);
        assert_secure("cname.nsec3.example.", rtype::A);
    }

    #[test]
    fn cname_into_an_insecure_zone_is_insecure() {
        let v = check("outside.secure.example.", rtype::A);
        let want = InsecureReason::NoDs { zone: name("insecure.example."), proof: DenialKind::Nsec };
        assert_eq!(v.security, Security::Insecure(want), "{}", v.security);
    }

    #[test]
    fn dname_chain_is_secure() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let dname = auth.query(&name("dname.secure.example."), rtype::DNAME);
        let target = auth.query(&name("www.nsec3.example."), rtype::A);
        let synthesized = Record {
            owner: name("www.dname.secure.example."),
            rtype: rtype::CNAME,
            class: 1,
            ttl: 3600,
            rdata: name("www.nsec3.example.").as_wire().to_vec(),
        };
        let mut m = target.clone();
        m.answer = dname.answer.clone();
        m.answer.push(synthesized);
        m.answer.extend(target.answer);
        let verdict = check_with(&v, &auth, "www.dname.secure.example.", rtype::A, &m);
        assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
    }
}

mod rfc4035_section_5_4_denial {
    use super::*;

    #[test]
    fn nsec_nxdomain_is_secure() {
        let v = check("nothere.secure.example.", rtype::A);
        assert_eq!(v.security, Security::Secure, "{}", v.security);
    }

    #[test]
    fn nsec_nodata_is_secure() {
        assert_secure("www.secure.example.", rtype::MX);
    }

    #[test]
    fn nsec_empty_non_terminal_is_secure() {
        assert_secure("b.ent.secure.example.", rtype::A);
    }

    #[test]
    fn nsec_wildcard_answer_is_secure() {
        assert_secure("anything.wild.secure.example.", rtype::A);
        assert_secure("deeper.anything.wild.secure.example.", rtype::TXT);
    }

    #[test]
    fn nsec_wildcard_nodata_is_secure() {
        assert_secure("anything.wild.secure.example.", rtype::MX);
    }

    #[test]
    fn nsec_nxdomain_at_the_root_is_secure() {
        assert_secure("nonexistent-tld.", rtype::A);
        // Snikket's start-up probe: `. A` is a NODATA at the root.
        assert_secure(".", rtype::A);
    }

    #[test]
    fn nsec_proof_that_does_not_cover_the_name_is_bogus() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let real = auth.query(&name("nothere.secure.example."), rtype::A);
        // Proof for another missing name, whose NSEC does not cover ours.
        let other = auth.query(&name("zzz.secure.example."), rtype::A);
        let mut m = real.clone();
        m.authority = other.authority;
        let r = bogus_of(check_with(&v, &auth, "nothere.secure.example.", rtype::A, &m));
        assert!(matches!(r, BogusReason::NsecMissing { .. }), "{r}");
        assert_eq!(r.ede_code(), 12);
    }

    #[test]
    fn nxdomain_without_proof_is_bogus() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name("nothere.secure.example."), rtype::A);
        m.authority.retain(|r| {
            r.rtype == rtype::SOA || (r.rtype == rtype::RRSIG && support::covered(r) == rtype::SOA)
        });
        let r = bogus_of(check_with(&v, &auth, "nothere.secure.example.", rtype::A, &m));
        assert!(
            matches!(r, BogusReason::NsecMissing { ref zone, .. } if *zone == name("secure.example.")),
            "{r}"
        );
    }

    #[test]
    fn stripped_denial_is_bogus() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name("nothere.secure.example."), rtype::A);
        m.authority.clear();
        let r = bogus_of(check_with(&v, &auth, "nothere.secure.example.", rtype::A, &m));
        assert!(matches!(r, BogusReason::NsecMissing { .. }), "{r}");
    }

    #[test]
    fn wildcard_expanded_where_a_closer_name_exists_is_bogus() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        // exists.wild.secure.example. has its own A; a wildcard expansion for it cannot be proven.
        let mut m = auth.query(&name("other.wild.secure.example."), rtype::A);
        for r in &mut m.answer {
            r.owner = name("exists.wild.secure.example.");
        }
        let r = bogus_of(check_with(&v, &auth, "exists.wild.secure.example.", rtype::A, &m));
        assert!(matches!(r, BogusReason::NsecMissing { .. }), "{r}");
    }

    #[test]
    fn wildcard_answer_with_its_proof_stripped_is_bogus() {
        // RFC 4035 §5.3.4: a wildcard expansion is secure only with a proof that no closer
        // match exists. A relay that drops the authority section must not get a secure answer.
        for (qname, zone) in [
            ("anything.wild.secure.example.", "secure.example."),
            ("x.wild.nsec3.example.", "nsec3.example."),
        ] {
            let auth = Authority::fixtures();
            let v = validator(&auth);
            let mut m = auth.query(&name(qname), rtype::A);
            assert!(!m.authority.is_empty(), "the fixture answer carries its proof");
            m.authority.clear();
            let r = bogus_of(check_with(&v, &auth, qname, rtype::A, &m));
            assert!(
                matches!(r, BogusReason::NsecMissing { zone: ref z, .. } if *z == name(zone)),
                "{qname}: {r}"
            );
            assert_eq!(r.ede_code(), 12);
        }
    }

    #[test]
    fn rrsig_queries_are_passed_on_unvalidated() {
        // RRSIGs are checked as signatures of other RRsets; a query for them gets the records
        // without AD (as Unbound), not a SERVFAIL for a missing denial.
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name("www.secure.example."), rtype::A);
        m.questions[0].qtype = rtype::RRSIG;
        m.answer.retain(|r| r.rtype == rtype::RRSIG);
        let verdict = check_with(&v, &auth, "www.secure.example.", rtype::RRSIG, &m);
        assert_eq!(
            verdict.security,
            Security::Insecure(InsecureReason::RrsigQuery { name: name("www.secure.example.") })
        );
    }

    #[test]
    fn parent_side_nsec_cannot_deny_child_data() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        // The parent's NSEC at the delegation sub.secure.example. (NS DS, no SOA) denies A there.
        let ds_denial = auth.query(&name("unsigned.secure.example."), rtype::DS);
        let mut m = ds_denial.clone();
        m.questions[0].qtype = rtype::A;
        let r = bogus_of(check_with(&v, &auth, "unsigned.secure.example.", rtype::A, &m));
        assert!(matches!(r, BogusReason::NsecMissing { .. }), "{r}");
    }
}

mod rfc5155_nsec3 {
    use super::*;

    #[test]
    fn nxdomain_is_secure() {
        assert_secure("nothere.nsec3.example.", rtype::A);
    }

    #[test]
    fn nodata_is_secure() {
        assert_secure("www.nsec3.example.", rtype::AAAA);
    }

    #[test]
    fn empty_non_terminal_is_secure() {
        assert_secure("b.ent.nsec3.example.", rtype::A);
    }

    #[test]
    fn wildcard_answer_and_nodata_are_secure() {
        assert_secure("x.wild.nsec3.example.", rtype::A);
        assert_secure("x.wild.nsec3.example.", rtype::TXT);
    }

    #[test]
    fn insecure_delegation_is_insecure() {
        let r = insecure("www.insecure.nsec3.example.", rtype::A);
        assert_eq!(
            r,
            InsecureReason::NoDs { zone: name("insecure.nsec3.example."), proof: DenialKind::Nsec3 }
        );
    }

    #[test]
    fn opt_out_delegation_is_insecure() {
        let r = insecure("www.unsigned.optout.example.", rtype::A);
        assert_eq!(
            r,
            InsecureReason::NoDs { zone: name("unsigned.optout.example."), proof: DenialKind::Nsec3OptOut }
        );
    }

    #[test]
    fn rfc9276_iterations_above_50_are_insecure_with_ede_27() {
        let r = insecure("nothere.iter100.example.", rtype::A);
        assert_eq!(r, InsecureReason::Nsec3Iterations { zone: name("iter100.example."), iterations: 100 });
        assert_eq!(r.ede_code(), Some(27));
        // Positive answers in the zone are unaffected.
        assert_secure("www.iter100.example.", rtype::A);
    }

    #[test]
    fn rfc9276_iterations_above_500_are_bogus() {
        let r = bogus("nothere.iter600.example.", rtype::A);
        assert_eq!(
            r,
            BogusReason::Nsec3IterationsTooHigh { iterations: 600, zone: name("iter600.example.") }
        );
        assert_eq!(r.ede_code(), 27);
    }

    #[test]
    fn nsec3_proof_for_another_name_is_bogus() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name("nothere.nsec3.example."), rtype::A);
        m.authority = auth.query(&name("www.nsec3.example."), rtype::AAAA).authority;
        m.flags = (m.flags & !0xf) | 3;
        let r = bogus_of(check_with(&v, &auth, "nothere.nsec3.example.", rtype::A, &m));
        assert!(matches!(r, BogusReason::NsecMissing { .. }), "{r}");
    }
}

mod rfc4035_section_5_2_chain {
    use super::*;

    #[test]
    fn delegation_without_ds_is_insecure() {
        let r = insecure("www.insecure.example.", rtype::A);
        assert_eq!(r, InsecureReason::NoDs { zone: name("insecure.example."), proof: DenialKind::Nsec });
        let r = insecure("www.unsigned.secure.example.", rtype::A);
        assert_eq!(r.zone(), &name("unsigned.secure.example."));
    }

    #[test]
    fn unsigned_tld_is_insecure() {
        let r = insecure("yax.unsignedtld.", rtype::A);
        assert_eq!(r, InsecureReason::NoDs { zone: name("unsignedtld."), proof: DenialKind::Nsec });
    }

    #[test]
    fn unsupported_algorithm_only_is_insecure() {
        let r = insecure("www.alg16.example.", rtype::A);
        assert_eq!(r, InsecureReason::UnsupportedAlgorithm { zone: name("alg16.example.") });
        assert_eq!(r.ede_code(), Some(1));
    }

    #[test]
    fn unsupported_digest_only_is_insecure() {
        let r = insecure("www.digest3.example.", rtype::A);
        assert_eq!(r, InsecureReason::UnsupportedDigest { zone: name("digest3.example.") });
        assert_eq!(r.ede_code(), Some(2));
    }

    #[test]
    fn expired_signatures_are_bogus() {
        let r = bogus("www.expired.example.", rtype::A);
        assert!(
            matches!(r, BogusReason::SignatureExpired { ref zone, .. } if *zone == name("expired.example.")),
            "{r}"
        );
        assert_eq!(r.ede_code(), 7);
        assert!(r.to_string().contains("expired 2021-01-01"), "{r}");
    }

    #[test]
    fn not_yet_valid_signatures_are_bogus() {
        let r = bogus("www.future.example.", rtype::A);
        assert!(matches!(r, BogusReason::SignatureNotYetValid { .. }), "{r}");
        assert_eq!(r.ede_code(), 8);
    }

    #[test]
    fn ds_naming_an_unpublished_key_is_bogus() {
        let r = bogus("www.nokey.example.", rtype::A);
        assert_eq!(r, BogusReason::DnskeyMissing { zone: name("nokey.example.") });
        assert_eq!(r.ede_code(), 9);
    }

    #[test]
    fn dnskey_set_not_signed_by_the_ds_key_is_bogus() {
        let r = bogus("www.kskunsigned.example.", rtype::A);
        assert_eq!(r, BogusReason::DnskeyMissing { zone: name("kskunsigned.example.") });
    }

    #[test]
    fn no_anchor_is_indeterminate() {
        let auth = Authority::fixtures();
        let v = Validator::new(TrustAnchors::empty());
        let m = auth.query(&name("www.secure.example."), rtype::A);
        let verdict = check_with(&v, &auth, "www.secure.example.", rtype::A, &m);
        assert_eq!(verdict.security, Security::Indeterminate(IndeterminateReason::NoTrustAnchor));
    }

    #[test]
    fn failed_key_lookup_is_indeterminate() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let m = auth.query(&name("www.secure.example."), rtype::A);
        let q = Question { name: name("www.secure.example."), qtype: rtype::A, qclass: 1 };
        let mut session = v.session(NOW, &NoKeyCache);
        let verdict = session.validate_with(&q, &m, |_| None);
        assert!(matches!(
            verdict.security,
            Security::Indeterminate(IndeterminateReason::LookupFailed { .. })
        ));
    }

    #[test]
    fn negative_trust_anchor_makes_a_bogus_zone_insecure() {
        let auth = Authority::fixtures();
        let mut anchors = TrustAnchors::empty();
        anchors.add_text(&auth.anchor_text(), 0).unwrap();
        let negative = Arc::new(NegativeAnchors::configured(&[name("expired.example.")]));
        let v = Validator::new(anchors).with_negative_anchors(negative);
        let m = auth.query(&name("www.expired.example."), rtype::A);
        let verdict = check_with(&v, &auth, "www.expired.example.", rtype::A, &m);
        assert_eq!(
            verdict.security,
            Security::Insecure(InsecureReason::NegativeTrustAnchor { zone: name("expired.example.") })
        );
    }

    #[test]
    fn rfc7646_runtime_negative_anchor_lapses_and_its_recheck_sees_through_it() {
        let auth = Authority::fixtures();
        let mut anchors = TrustAnchors::empty();
        anchors.add_text(&auth.anchor_text(), 0).unwrap();
        let negative = Arc::new(NegativeAnchors::default());
        assert!(negative.add_runtime(name("expired.example."), NOW + 60));
        let v = Validator::new(anchors).with_negative_anchors(negative);
        let q = Question { name: name("www.expired.example."), qtype: rtype::A, qclass: 1 };
        let m = auth.query(&q.name, rtype::A);
        let run = |now: u64, ignore: bool| {
            let mut session = v.session(now, &NoKeyCache);
            if ignore {
                session.ignore_negative_anchors();
            }
            session.validate_with(&q, &m, auth.fetch()).security
        };
        assert!(matches!(run(NOW, false), Security::Insecure(InsecureReason::NegativeTrustAnchor { .. })));
        assert!(
            matches!(run(NOW + 60, false), Security::Bogus(BogusReason::SignatureExpired { .. })),
            "lapsed"
        );
        assert!(matches!(run(NOW, true), Security::Bogus(BogusReason::SignatureExpired { .. })), "recheck");
    }

    #[test]
    fn island_of_trust_anchor_applies_below_it() {
        let auth = Authority::fixtures();
        let mut anchors = TrustAnchors::empty();
        let ds = std::fs::read_to_string(support::fixtures().join("yax.unsignedtld.ds")).unwrap();
        anchors.add_text(&ds, 0).unwrap();
        let v = Validator::new(anchors);
        let m = auth.query(&name("_xmpp-client._tcp.yax.unsignedtld."), rtype::SRV);
        let verdict = check_with(&v, &auth, "_xmpp-client._tcp.yax.unsignedtld.", rtype::SRV, &m);
        assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
        let m = auth.query(&name("conference.yax.unsignedtld."), rtype::A);
        let verdict = check_with(&v, &auth, "conference.yax.unsignedtld.", rtype::A, &m);
        assert_eq!(verdict.security, Security::Secure, "{}", verdict.security);
    }

    #[test]
    fn summary_names_each_zone() {
        let v = check("www.expired.example.", rtype::A);
        assert_eq!(v.summary(), ". [T] > example. [T] > expired.example. [B]");
        let v = check("www.sub.secure.example.", rtype::A);
        assert_eq!(v.summary(), ". [T] > example. [T] > secure.example. [T] > sub.secure.example. [T]");
    }
}

mod tampering {
    use super::*;

    fn tamper(qname: &str, qtype: u16, f: impl Fn(&mut Message)) -> BogusReason {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name(qname), qtype);
        f(&mut m);
        bogus_of(check_with(&v, &auth, qname, qtype, &m))
    }

    #[test]
    fn flipped_signature_byte_is_bogus() {
        let r = tamper("www.secure.example.", rtype::A, |m| {
            for r in m.answer.iter_mut().filter(|r| r.rtype == rtype::RRSIG) {
                let n = r.rdata.len();
                r.rdata[n - 5] ^= 0x40;
            }
        });
        assert!(matches!(r, BogusReason::SignatureInvalid { .. }), "{r}");
        assert_eq!(r.ede_code(), 6);
    }

    #[test]
    fn changed_data_is_bogus() {
        let r = tamper("www.secure.example.", rtype::A, |m| {
            m.answer.iter_mut().find(|r| r.rtype == rtype::A).unwrap().rdata[3] = 99;
        });
        assert!(matches!(r, BogusReason::SignatureInvalid { .. }), "{r}");
    }

    #[test]
    fn missing_rrsig_is_bogus() {
        let r = tamper("www.secure.example.", rtype::A, |m| m.answer.retain(|r| r.rtype != rtype::RRSIG));
        assert!(matches!(r, BogusReason::RrsigsMissing { .. }), "{r}");
        assert_eq!(r.ede_code(), 10);
    }

    #[test]
    fn signer_outside_the_owner_is_bogus() {
        let r = tamper("www.secure.example.", rtype::A, |m| {
            let rec = m.answer.iter_mut().find(|r| r.rtype == rtype::RRSIG).unwrap();
            let mut rdata = rec.rdata[..18].to_vec();
            rdata.extend_from_slice(name("nsec3.example.").as_wire());
            rdata.extend_from_slice(&[0; 64]);
            rec.rdata = rdata;
        });
        assert!(matches!(r, BogusReason::WrongSigner { .. }), "{r}");
    }

    #[test]
    fn rrsig_labels_above_owner_count_is_bogus() {
        let r = tamper("www.secure.example.", rtype::A, |m| {
            m.answer.iter_mut().find(|r| r.rtype == rtype::RRSIG).unwrap().rdata[3] = 9;
        });
        assert!(matches!(r, BogusReason::SignatureInvalid { .. }), "{r}");
    }

    #[test]
    fn keytrap_many_signatures_stop_at_the_limit() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let mut m = auth.query(&name("www.secure.example."), rtype::A);
        let sig = m.answer.iter().find(|r| r.rtype == rtype::RRSIG).unwrap().clone();
        m.answer.retain(|r| r.rtype != rtype::RRSIG);
        for i in 0..50u8 {
            let mut bad = sig.clone();
            let n = bad.rdata.len();
            bad.rdata[n - 1] = i;
            bad.rdata[n - 2] ^= 0xff;
            m.answer.push(bad);
        }
        let verdict = check_with(&v, &auth, "www.secure.example.", rtype::A, &m);
        assert!(
            verdict.budget.signature_checks <= limits::MAX_SIGNATURES_PER_RESPONSE,
            "{:?}",
            verdict.budget
        );
        let r = bogus_of(verdict);
        assert_eq!(r, BogusReason::WorkLimit { limit: "signatures per RRset" });
    }
}

mod key_cache {
    use super::*;
    use std::collections::HashMap;

    struct MapCache(HashMap<Name, KeyEntry>);
    impl KeyCache for MapCache {
        fn key_entry(&self, zone: &Name) -> Option<KeyEntry> {
            self.0.get(zone).cloned()
        }
    }

    #[test]
    fn learned_keys_spare_the_second_walk() {
        let auth = Authority::fixtures();
        let v = validator(&auth);
        let q = Question { name: name("www.secure.example."), qtype: rtype::A, qclass: 1 };
        let m = auth.query(&q.name, q.qtype);
        let mut s = v.session(NOW, &NoKeyCache);
        let first = s.validate_with(&q, &m, auth.fetch());
        assert_eq!(first.security, Security::Secure);
        // DNSKEY ., DS example., DNSKEY example., DS secure.example., DNSKEY secure.example.
        assert_eq!(first.budget.key_queries, 5);
        let cache = MapCache(s.learned().iter().cloned().collect());
        let mut s2 = v.session(NOW, &cache);
        let second = s2.validate_with(&q, &m, auth.fetch());
        assert_eq!(second.security, Security::Secure);
        assert_eq!(second.budget.key_queries, 0);
        assert_eq!(second.budget.signature_checks, 1);
    }
}
