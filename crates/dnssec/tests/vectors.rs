//! Published test vectors: the examples printed in RFC 4034 §5.4, RFC 6605 §6 (ECDSA), RFC 8080
//! §6 (EdDSA, with verified errata 4935, which corrects the printed RRSIG records), and the root
//! zone's trust anchors (the DS digests IANA publishes, recomputed from the root DNSKEYs).

mod support;

use lookaside_dnssec::TrustAnchors;
use lookaside_dnssec::canonical::group;
use lookaside_dnssec::crypto;
use lookaside_dnssec::limits::Budget;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::BogusReason;
use lookaside_dnssec::rdata::{Dnskey, Ds};
use lookaside_dnssec::rtype;
use lookaside_dnssec::verify::{Clock, ds_matches, verify_rrset};
use support::parse_record;

const RFC4034_5_4: &str = "
dskey.example.com. 86400 IN DNSKEY 256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==
dskey.example.com. 86400 IN DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
";

const RFC6605_P256: &str = "
example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==
example.net. 3600 IN DS 55648 13 2 b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17
www.example.net. 3600 IN A 192.0.2.1
www.example.net. 3600 IN RRSIG A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==
";

const RFC6605_P384: &str = "
example.net. 3600 IN DNSKEY 257 3 14 xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8/uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40
example.net. 3600 IN DS 10771 14 4 72d7b62976ce06438e9c0bf319013cf801f09ecc84b8d7e9495f27e305c6a9b0563a9b5f4d288405c3008a946df983d6
www.example.net. 3600 IN A 192.0.2.1
www.example.net. 3600 IN RRSIG A 14 3 3600 20100909102025 20100812102025 10771 example.net. /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuzWTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm
";

const RFC8080_ED25519_1: &str = "
example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=
example.com. 3600 IN DS 3613 15 2 3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b
example.com. 3600 IN MX 10 mail.example.com.
example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 3613 example.com. oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==
";

const RFC8080_ED25519_2: &str = "
example.com. 3600 IN DNSKEY 257 3 15 zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=
example.com. 3600 IN DS 35217 15 2 401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c
example.com. 3600 IN MX 10 mail.example.com.
example.com. 3600 IN RRSIG MX 15 2 3600 1440021600 1438207200 35217 example.com. zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==
";

const RFC8080_ED448: &str = "
example.com. 3600 IN DNSKEY 257 3 16 3kgROaDjrh0H2iuixWBrc8g2EpBBLCdGzHmn+G2MpTPhpj/OiBVHHSfPodx1FYYUcJKm1MDpJtIA
example.com. 3600 IN DS 9713 16 2 6ccf18d5bc5d7fc2fceb1d59d17321402f2aa8d368048db93dd811f5cb2b19c7
";

struct Vector {
    zone: Name,
    key: Dnskey,
    ds: Ds,
    records: Vec<lookaside_dnssec::Record>,
}

fn load(text: &str) -> Vector {
    let records: Vec<_> = text.lines().filter_map(parse_record).collect();
    let key_rec = records.iter().find(|r| r.rtype == rtype::DNSKEY).unwrap();
    let ds_rec = records.iter().find(|r| r.rtype == rtype::DS).unwrap();
    Vector {
        zone: key_rec.owner.clone(),
        key: Dnskey::parse(&key_rec.rdata).unwrap(),
        ds: Ds::parse(&ds_rec.rdata).unwrap(),
        records: records.iter().filter(|r| !matches!(r.rtype, rtype::DNSKEY | rtype::DS)).cloned().collect(),
    }
}

/// Key tag and DS digest of the vector; then the signature at a time inside its window, and
/// refused after it.
fn check(text: &str, tag: u16, inside: u64) {
    let v = load(text);
    assert_eq!(v.key.key_tag(), tag, "key tag");
    assert!(ds_matches(&v.zone, &v.key, &v.ds), "DS digest");
    if v.records.is_empty() {
        return;
    }
    let set = group(&v.records).into_iter().find(|s| s.rtype != rtype::RRSIG).unwrap();
    let clock = Clock { now: inside as u32, skew: 0 };
    let ok = verify_rrset(&set, &v.zone, std::slice::from_ref(&v.key), clock, &mut Budget::default());
    assert!(ok.is_ok(), "signature verifies: {ok:?}");
    let late = Clock { now: support::NOW as u32, skew: 0 };
    let r = verify_rrset(&set, &v.zone, std::slice::from_ref(&v.key), late, &mut Budget::default());
    assert!(matches!(r, Err(BogusReason::SignatureExpired { .. })), "{r:?}");
    // One flipped bit in the data and the signature fails.
    let mut tampered = set.clone();
    tampered.rdatas[0][0] ^= 1;
    let r = verify_rrset(&tampered, &v.zone, std::slice::from_ref(&v.key), clock, &mut Budget::default());
    assert!(matches!(r, Err(BogusReason::SignatureInvalid { .. })), "{r:?}");
}

#[test]
fn rfc4034_section_5_4_key_tag_and_sha1_ds() {
    check(RFC4034_5_4, 60485, 0);
}

#[test]
fn rfc6605_section_6_1_ecdsa_p256() {
    check(RFC6605_P256, 55648, 1_282_000_000);
}

#[test]
fn rfc6605_section_6_2_ecdsa_p384_with_sha384_ds() {
    check(RFC6605_P384, 10771, 1_282_000_000);
}

#[test]
fn rfc8080_section_6_1_ed25519_examples() {
    check(RFC8080_ED25519_1, 3613, 1_439_000_000);
    check(RFC8080_ED25519_2, 35217, 1_439_000_000);
}

#[test]
fn rfc8080_section_6_2_ed448_digest_computes_but_the_algorithm_is_unsupported() {
    check(RFC8080_ED448, 9713, 0);
    assert!(!crypto::algorithm_supported(16));
}

#[test]
fn root_ds_digests_match_the_root_dnskeys() {
    let root = support::fixtures().join("../../../../trust-anchors");
    let mut keys = TrustAnchors::empty();
    keys.add_text(&std::fs::read_to_string(root.join("root.key")).unwrap(), 0).unwrap();
    let mut ds = TrustAnchors::empty();
    ds.add_text(&std::fs::read_to_string(root.join("root.ds")).unwrap(), 0).unwrap();
    let keys = &keys.closest(&Name::root()).unwrap().keys;
    let ds = &ds.closest(&Name::root()).unwrap().ds;
    assert_eq!(keys.iter().map(Dnskey::key_tag).collect::<Vec<_>>(), vec![20326, 38696]);
    for (k, d) in keys.iter().zip(ds) {
        assert!(ds_matches(&Name::root(), k, d), "DS {} matches its DNSKEY", d.key_tag);
    }
    // The built-in anchors are exactly the shipped file.
    let builtin = TrustAnchors::builtin_root();
    assert_eq!(&builtin.closest(&Name::root()).unwrap().ds, ds);
    // A revoked key no longer matches its DS: its flags are part of the digest (RFC 5011 §2.1).
    let mut revoked = keys[0].rdata.clone();
    revoked[1] |= 0x80;
    let revoked = Dnskey::parse(&revoked).unwrap();
    assert!(revoked.is_revoked());
    assert!(!ds_matches(&Name::root(), &revoked, &ds[0]));
}

/// RFC 5702 §6: the RSA/SHA-256 example uses a 512-bit key, below what we verify (RFC 8624
/// §3.1; ring refuses it): its key tag is right and the key is unsupported, hence insecure. The
/// RSA/SHA-512 example (1024 bits) verifies.
#[test]
fn rfc5702_section_6_rsa_sha256_and_sha512() {
    let records = |alg: u8, key: &str, tag: u16, sig: &str| -> (Dnskey, lookaside_dnssec::canonical::Rrset) {
        let text = format!(
            "example.net. 3600 IN DNSKEY 256 3 {alg} {key}\n\
             www.example.net. 3600 IN A 192.0.2.91\n\
             www.example.net. 3600 IN RRSIG A {alg} 3 3600 20300101000000 20000101000000 {tag} example.net. {sig}\n"
        );
        let recs: Vec<_> = text.lines().filter_map(parse_record).collect();
        let key = Dnskey::parse(&recs[0].rdata).unwrap();
        let set = group(&recs[1..]).into_iter().next().unwrap();
        (key, set)
    };
    let (k256, set256) = records(
        8,
        "AwEAAcFcGsaxxdgiuuGmCkVImy4h99CqT7jwY3pexPGcnUFtR2Fh36BponcwtkZ4cAgtvd4Qs8PkxUdp6p/DlUmObdk=",
        9033,
        "kRCOH6u7l0QGy9qpC9l1sLncJcOKFLJ7GhiUOibu4teYp5VE9RncriShZNz85mwlMgNEacFYK/lPtPiVYP4bwg==",
    );
    assert_eq!(k256.key_tag(), 9033);
    assert_eq!(crypto::check_key(8, &k256.public_key), Err(crypto::KeyProblem::UnsupportedKeySize));
    let clock = Clock { now: support::NOW as u32, skew: 0 };
    assert!(
        verify_rrset(&set256, &Name::parse("example.net.").unwrap(), &[k256], clock, &mut Budget::default())
            .is_err()
    );

    let (k512, set512) = records(
        10,
        "AwEAAdHoNTOW+et86KuJOWRDp1pndvwb6Y83nSVXXyLA3DLroROUkN6X0O6pnWnjJQujX/AyhqFDxj13tOnD9u/1kTg7cV6rklMrZDtJCQ5PCl/D7QNPsgVsMu1J2Q8gpMpztNFLpPBz1bWXjDtaR7ZQBlZ3PFY12ZTSncorffcGmhOL",
        3740,
        "tsb4wnjRUDnB1BUi+t6TMTXThjVnG+eCkWqjvvjhzQL1d0YRoOe0CbxrVDYd0xDtsuJRaeUw1ep94PzEWzr0iGYgZBWm/zpq+9fOuagYJRfDqfReKBzMweOLDiNa8iP5g9vMhpuv6OPlvpXwm9Sa9ZXIbNl1MBGk0fthPgxdDLw=",
    );
    assert_eq!(k512.key_tag(), 3740);
    let ok =
        verify_rrset(&set512, &Name::parse("example.net.").unwrap(), &[k512], clock, &mut Budget::default());
    assert!(ok.is_ok(), "{ok:?}");
}
