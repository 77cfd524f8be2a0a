//! Why the validator reads messages with its own tolerant reader (`wire`) rather than
//! hickory-proto's `Message::from_vec` (README "Design decisions"). Each test builds a message
//! that real, correctly signed zones produce, shows that hickory-proto 0.26 rejects the whole
//! message, and that `wire::Message::parse` reads it with the odd record intact, so that the
//! rest of the answer can still be validated (RFC 3597 §4: unknown types are opaque data;
//! RFC 5155 §8.1–8.2: NSEC3 records with an unknown hash algorithm or flags are ignored, not
//! fatal; RFC 4034 §2.1.2: a DNSKEY with protocol ≠ 3 is invalid for verification only).
//! Should hickory start accepting one of them, its test fails and the README must change.

use hickory_proto::op::Message as HickoryMessage;
use hickory_proto::rr::RecordType;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::{Message, Question, Record, flags};

/// A response for `example. SOA` carrying the SOA and one more record of `rtype` with `rdata`.
fn response_with(rtype_extra: u16, owner: &str, rdata: Vec<u8>) -> Vec<u8> {
    let name = |s: &str| Name::parse(s).unwrap();
    let soa = [
        name("ns.example.").as_wire(),
        name("admin.example.").as_wire(),
        &[0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 7, 8, 0, 9, 58, 128, 0, 0, 14, 16],
    ]
    .concat();
    let rec = |owner: &str, rtype: u16, rdata: Vec<u8>| Record {
        owner: name(owner),
        rtype,
        class: 1,
        ttl: 3600,
        rdata,
    };
    Message {
        id: 1,
        flags: flags::QR | flags::RD | flags::RA,
        questions: vec![Question { name: name("example."), qtype: rtype::SOA, qclass: 1 }],
        answer: vec![rec("example.", rtype::SOA, soa), rec(owner, rtype_extra, rdata)],
        authority: Vec::new(),
        additional: Vec::new(),
        edns: None,
    }
    .to_wire()
}

fn both_parsers(wire: &[u8], rtype_extra: u16) {
    assert!(HickoryMessage::from_vec(wire).is_err(), "hickory-proto now accepts this message");
    let ours = Message::parse(wire).expect("the tolerant reader keeps the message");
    assert_eq!(ours.answer.len(), 2);
    assert_eq!(ours.answer[1].rtype, rtype_extra, "the odd record survives as it was");
}

#[test]
fn rfc3597_record_with_empty_rdata_fails_the_whole_message_in_hickory() {
    // ldns-signzone signs `TYPE65280 \# 0` and NSD serves it; the RRSIG over it verifies.
    both_parsers(&response_with(65280, "empty.example.", Vec::new()), 65280);
}

#[test]
fn rfc5155_8_2_nsec3_with_an_unknown_hash_algorithm_fails_the_whole_message_in_hickory() {
    // Hash algorithm 2, flags 0, 0 iterations, no salt, a 20-octet hash, bitmap for A.
    let mut rdata = vec![2, 0, 0, 0, 0, 20];
    rdata.extend_from_slice(&[0xab; 20]);
    rdata.extend_from_slice(&[0, 1, 0x40]);
    both_parsers(
        &response_with(rtype::NSEC3, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", rdata),
        rtype::NSEC3,
    );
}

#[test]
fn rfc4034_2_1_2_dnskey_with_protocol_other_than_3_fails_the_whole_message_in_hickory() {
    // Flags 257, protocol 2, algorithm 13, a 64-octet key: invalid for verification, not for parsing.
    let mut rdata = vec![1, 1, 2, 13];
    rdata.extend_from_slice(&[7; 64]);
    both_parsers(&response_with(rtype::DNSKEY, "example.", rdata), rtype::DNSKEY);
}

#[test]
fn rfc4431_dlv_is_not_a_type_hickory_knows_by_name() {
    // Look-aside needs DLV (32769) in lookups, traces and `lookaside query NAME DLV`.
    assert!("DLV".parse::<RecordType>().is_err());
    assert_eq!(RecordType::from(rtype::DLV), RecordType::Unknown(rtype::DLV));
    assert_eq!(rtype::parse_type("DLV"), Some(rtype::DLV));
    assert_eq!(rtype::type_name(rtype::DLV), "DLV");
}
