//! The answer policy (`respond::build_response`), one test per row and column of the README's
//! table: what a client gets for each verdict, by the DO, AD and CD bits it sent (RFC 4035 §3.2,
//! RFC 6840 §5.7–5.9, RFC 8914), plus truncation (RFC 7766 §5) and the echo of the question's
//! spelling. No network: the policy is a pure function of the query and the resolution.

use std::sync::Arc;

use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::{BogusReason, DenialKind, IndeterminateReason, InsecureReason, Security};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Edns, Message, Question, Record, flags};
use lookaside_stub::respond::{ClientQuery, EDNS_OPTION_EDE, build_response};
use lookaside_stub::{Judgement, Resolution};

fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// What the client sent: `ad`/`cd` header bits, and EDNS with DO when `dnssec_ok` is given.
fn query(qname: &str, ad: bool, cd: bool, dnssec_ok: Option<bool>) -> ClientQuery {
    let mut f = flags::RD;
    if ad {
        f |= flags::AD;
    }
    if cd {
        f |= flags::CD;
    }
    ClientQuery {
        id: 0x1234,
        flags: f,
        question: Question { name: name(qname), qtype: rtype::A, qclass: rtype::CLASS_IN },
        edns: dnssec_ok.map(|d| Edns { udp_size: 1232, dnssec_ok: d, ..Edns::default() }),
    }
}

/// An upstream answer for www.example. A: the A record with its RRSIG, and an NSEC in the
/// authority section (standing for any DNSSEC record the client did not ask for).
fn upstream_answer() -> Message {
    let rec = |owner: &str, rtype: u16, rdata: Vec<u8>| Record {
        owner: name(owner),
        rtype,
        class: rtype::CLASS_IN,
        ttl: 300,
        rdata,
    };
    Message {
        id: 7,
        flags: flags::QR | flags::RD | flags::RA,
        questions: vec![Question { name: name("www.example."), qtype: rtype::A, qclass: rtype::CLASS_IN }],
        answer: vec![
            rec("www.example.", rtype::A, vec![192, 0, 2, 1]),
            rec("www.example.", rtype::RRSIG, vec![0; 40]),
        ],
        authority: vec![rec("www.example.", rtype::NSEC, vec![0, 0, 6, 0x40, 0, 0, 0, 0, 3])],
        additional: Vec::new(),
        edns: None,
    }
}

fn resolution(judgement: Judgement) -> Resolution {
    Resolution {
        response: Some(Arc::new(upstream_answer())),
        judgement,
        summary: ". [T] > example. [B]".into(),
        age: 0,
        cached: false,
        steps: Vec::new(),
        stale: false,
    }
}

fn secure() -> Judgement {
    Judgement::Checked(Security::Secure)
}

fn insecure() -> Judgement {
    Judgement::Checked(Security::Insecure(InsecureReason::NoDs {
        zone: name("example."),
        proof: DenialKind::Nsec,
    }))
}

fn bogus() -> Judgement {
    Judgement::Checked(Security::Bogus(BogusReason::DnskeyMissing { zone: name("example.") }))
}

fn indeterminate() -> Judgement {
    Judgement::Checked(Security::Indeterminate(IndeterminateReason::LookupFailed {
        what: "example. DNSKEY".into(),
    }))
}

fn answer(q: &ClientQuery, j: Judgement) -> Message {
    Message::parse(&build_response(q, &resolution(j), 65535)).unwrap()
}

fn has(m: &Message, t: u16) -> bool {
    m.answer.iter().chain(m.authority.iter()).any(|r| r.rtype == t)
}

fn ede(m: &Message) -> Option<(u16, String)> {
    let e = m.edns.as_ref()?;
    let (_, data) = e.options.iter().find(|(c, _)| *c == EDNS_OPTION_EDE)?;
    Some((u16::from_be_bytes([data[0], data[1]]), String::from_utf8_lossy(&data[2..]).into_owned()))
}

/// Data, no DNSSEC records, no AD.
fn assert_plain_data(m: &Message) {
    assert_eq!(m.rcode(), rcode::NOERROR);
    assert!(has(m, rtype::A));
    assert!(!has(m, rtype::RRSIG) && !has(m, rtype::NSEC), "no DNSSEC records without DO");
    assert!(!m.has_flag(flags::AD));
}

fn assert_servfail_with_ede(m: &Message, code: u16) {
    assert_eq!(m.rcode(), rcode::SERVFAIL);
    assert!(m.answer.is_empty() && m.authority.is_empty());
    let (c, text) = ede(m).expect("an EDE");
    assert_eq!(c, code);
    assert!(text.starts_with(". [T] > example. [B]: "), "chain summary first: {text}");
}

mod no_do_no_ad {
    use super::*;

    #[test]
    fn secure_is_data_without_ad_or_dnssec_records() {
        assert_plain_data(&answer(&query("www.example.", false, false, Some(false)), secure()));
        assert_plain_data(&answer(&query("www.example.", false, false, None), secure()));
    }

    #[test]
    fn insecure_is_data() {
        assert_plain_data(&answer(&query("www.example.", false, false, Some(false)), insecure()));
    }

    #[test]
    fn bogus_and_indeterminate_are_servfail_with_ede() {
        let q = query("www.example.", false, false, Some(false));
        assert_servfail_with_ede(&answer(&q, bogus()), 9);
        assert_servfail_with_ede(&answer(&q, indeterminate()), 22);
    }
}

mod ad_without_do {
    use super::*;

    #[test]
    fn rfc6840_5_8_secure_gets_ad_without_dnssec_records() {
        let m = answer(&query("www.example.", true, false, None), secure());
        assert!(m.has_flag(flags::AD));
        assert!(has(&m, rtype::A) && !has(&m, rtype::RRSIG));
    }

    #[test]
    fn insecure_has_no_ad() {
        assert_plain_data(&answer(&query("www.example.", true, false, None), insecure()));
    }

    #[test]
    fn bogus_is_servfail_with_ede() {
        assert_servfail_with_ede(&answer(&query("www.example.", true, false, Some(false)), bogus()), 9);
        // Without EDNS there is no OPT record to carry the EDE (RFC 8914 §2): SERVFAIL alone.
        let m = answer(&query("www.example.", true, false, None), bogus());
        assert_eq!(m.rcode(), rcode::SERVFAIL);
        assert!(m.edns.is_none());
    }
}

mod dnssec_ok {
    use super::*;

    #[test]
    fn secure_has_ad_signatures_and_proofs() {
        let m = answer(&query("www.example.", false, false, Some(true)), secure());
        assert!(m.has_flag(flags::AD));
        assert!(has(&m, rtype::RRSIG) && has(&m, rtype::NSEC));
        assert!(m.edns.as_ref().is_some_and(|e| e.dnssec_ok), "DO echoed");
    }

    #[test]
    fn insecure_is_data_without_ad() {
        let m = answer(&query("www.example.", false, false, Some(true)), insecure());
        assert_eq!(m.rcode(), rcode::NOERROR);
        assert!(has(&m, rtype::A) && !m.has_flag(flags::AD));
    }

    #[test]
    fn bogus_is_servfail_with_ede() {
        assert_servfail_with_ede(&answer(&query("www.example.", false, false, Some(true)), bogus()), 9);
    }
}

mod checking_disabled {
    use super::*;

    #[test]
    fn secure_is_data_with_ad() {
        let m = answer(&query("www.example.", false, true, Some(true)), secure());
        assert!(m.has_flag(flags::AD) && m.has_flag(flags::CD));
        assert!(has(&m, rtype::RRSIG));
    }

    #[test]
    fn insecure_is_data_without_ad() {
        let m = answer(&query("www.example.", false, true, Some(true)), insecure());
        assert!(has(&m, rtype::A) && !m.has_flag(flags::AD));
    }

    #[test]
    fn rfc4035_3_2_2_bogus_is_the_data_as_received_without_ad() {
        for j in [bogus(), indeterminate(), Judgement::Unchecked] {
            let m = answer(&query("www.example.", false, true, Some(true)), j.clone());
            assert_eq!(m.rcode(), rcode::NOERROR, "{j:?}");
            assert!(has(&m, rtype::A) && has(&m, rtype::RRSIG), "{j:?}");
            assert!(!m.has_flag(flags::AD), "{j:?}");
        }
    }

    #[test]
    fn unchecked_data_never_reaches_a_client_without_cd() {
        let m = answer(&query("www.example.", false, false, Some(true)), Judgement::Unchecked);
        assert_eq!(m.rcode(), rcode::SERVFAIL);
        assert!(m.answer.is_empty());
    }
}

#[test]
fn rfc7766_5_too_large_for_udp_is_empty_with_tc() {
    let q = query("www.example.", false, false, Some(true));
    let m = Message::parse(&build_response(&q, &resolution(secure()), 60)).unwrap();
    assert!(m.has_flag(flags::TC));
    assert!(m.answer.is_empty() && m.authority.is_empty());
    assert_eq!(m.questions[0].name, name("www.example."));
}

#[test]
fn question_and_owners_take_the_clients_spelling() {
    let q = query("WwW.ExAmPlE.", false, false, Some(false));
    let bytes = build_response(&q, &resolution(secure()), 65535);
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.id, 0x1234);
    assert!(m.questions[0].name.eq_exact(&name("WwW.ExAmPlE.")), "question echoed byte for byte");
    let a = m.answer.iter().find(|r| r.rtype == rtype::A).unwrap();
    assert!(a.owner.eq_exact(&name("WwW.ExAmPlE.")), "owner {} in the client's spelling", a.owner);
}

#[test]
fn cached_answers_age_their_ttls() {
    let q = query("www.example.", false, false, Some(false));
    let mut res = resolution(secure());
    res.age = 100;
    let m = Message::parse(&build_response(&q, &res, 65535)).unwrap();
    assert_eq!(m.answer[0].ttl, 200);
}
