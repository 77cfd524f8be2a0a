//! Property tests: canonical name order (RFC 4034 §6.1) against a plain reference, and NSEC3
//! hash comparison (RFC 5155 §8.3: hash labels compare without regard to case).

use lookaside_dnssec::codec::base32hex_encode;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Nsec3;
use lookaside_dnssec::wire::Record;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'B'), Just(b'z'), Just(b'-'), Just(b'0')],
            1..4
        ),
        proptest::collection::vec(any::<u8>().prop_filter("no dot", |b| *b != b'.'), 1..3),
    ]
}

fn name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(label(), 0..4).prop_map(|labels| {
        let mut wire = Vec::new();
        for l in &labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        Name::from_wire(wire).unwrap()
    })
}

/// The order spelled out: labels right to left, each lower-cased, shorter prefix first.
fn reference(a: &Name, b: &Name) -> std::cmp::Ordering {
    let la: Vec<Vec<u8>> = a.labels().map(|l| l.to_ascii_lowercase()).collect();
    let lb: Vec<Vec<u8>> = b.labels().map(|l| l.to_ascii_lowercase()).collect();
    la.iter().rev().cmp(lb.iter().rev())
}

proptest! {
    #[test]
    fn canonical_order_matches_the_reference(a in name(), b in name()) {
        prop_assert_eq!(a.cmp(&b), reference(&a, &b));
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a == b, a.cmp(&b).is_eq());
    }

    #[test]
    fn canonical_order_is_transitive(a in name(), b in name(), c in name()) {
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
    }

    #[test]
    fn a_name_sorts_before_its_descendants(a in name(), l in label()) {
        if let Some(child) = a.prepend(&l) {
            prop_assert!(a < child);
            prop_assert!(child.is_below(&a));
        }
    }

    #[test]
    fn nsec3_hash_labels_compare_case_insensitively(owner in any::<[u8; 20]>(), next in any::<[u8; 20]>(), probe in any::<[u8; 20]>(), upper in any::<bool>()) {
        let mut text = base32hex_encode(&owner);
        if upper {
            text = text.to_uppercase();
        }
        let zone = Name::parse("example.").unwrap();
        let mut rdata = vec![1, 0, 0, 0, 0, 20];
        rdata.extend_from_slice(&next);
        let record = Record { owner: zone.prepend(text.as_bytes()).unwrap(), rtype: 50, class: 1, ttl: 0, rdata };
        let n = Nsec3::from_record(&record).unwrap();
        prop_assert_eq!(&n.owner_hash[..], &owner[..]);
        prop_assert!(n.matches(&owner));
        // Covering is strict and consistent with byte order, with wrap-around at the end.
        let covers = if owner < next { owner < probe && probe < next } else { probe > owner || probe < next };
        prop_assert_eq!(n.covers(&probe), covers && probe != owner);
    }
}
