//! A signed wildcard expansion as a validating forwarder caches it, shared by the hit-path
//! benchmark and the cache-memory example: an A record and its RRSIG in the answer section, an
//! NSEC proof with its RRSIG in the authority section. The signatures are filler (nothing here
//! validates); their sizes are those of ECDSA P-256.

use lookaside_dnssec::name::Name;
use lookaside_dnssec::wire::{Message, Record};

/// The answer to `owner` A, expanded from `*.wild.secure.example.`.
pub fn answer(owner: &Name) -> Message {
    let zone = Name::parse("secure.example.").unwrap();
    let sig = |owner: &Name, covered: u8| {
        let mut rdata = vec![0, covered, 13, 3, 0, 0, 14, 16, 0x6b, 0, 0, 0, 0x6a, 0, 0, 0, 0x12, 0x34];
        rdata.extend_from_slice(zone.as_wire());
        rdata.extend_from_slice(&[0xab; 64]);
        Record { owner: owner.clone(), rtype: 46, class: 1, ttl: 3600, rdata }
    };
    let nsec_owner = Name::parse("exists.wild.secure.example.").unwrap();
    let mut nsec = Name::parse("www.secure.example.").unwrap().as_wire().to_vec();
    nsec.extend_from_slice(&[0, 6, 0x40, 0, 0, 0, 0, 3]);
    Message {
        flags: 0x8180,
        answer: vec![
            Record { owner: owner.clone(), rtype: 1, class: 1, ttl: 3600, rdata: vec![192, 0, 2, 4] },
            sig(owner, 1),
        ],
        authority: vec![
            Record { owner: nsec_owner.clone(), rtype: 47, class: 1, ttl: 3600, rdata: nsec },
            sig(&nsec_owner, 47),
        ],
        ..Message::default()
    }
}
