//! The only module that touches ring: signature verification, DS digests and the NSEC3 hash.
//!
//! Supported (RFC 8624 "MUST validate" plus the legacy RSA ones still seen): algorithms 5, 7, 8,
//! 10 (RSA, 1024–4096-bit moduli), 13, 14 (ECDSA), 15 (Ed25519); digests 1, 2, 4. Everything else
//! is unsupported, which makes a zone insecure rather than bogus (RFC 4035 §5.2).

use ring::{digest, signature};

use crate::iana::algorithm::{
    ECDSAP256SHA256, ECDSAP384SHA384, ED25519, RSASHA1, RSASHA1_NSEC3_SHA1, RSASHA256, RSASHA512,
};
use crate::iana::{self, digest as ds_digest};

/// Smallest RSA modulus we verify. ring refuses smaller ones, and RFC 8624 §3.1 already treats
/// them as unsafe; such keys are unsupported, hence insecure.
pub const RSA_MIN_BITS: usize = 1024;
/// Largest RSA modulus we verify (RFC 3110 allows 4096; larger keys only cost time).
pub const RSA_MAX_BITS: usize = 4096;

/// True when we can verify signatures of this DNSKEY algorithm.
pub fn algorithm_supported(algorithm: u8) -> bool {
    matches!(
        algorithm,
        RSASHA1 | RSASHA1_NSEC3_SHA1 | RSASHA256 | RSASHA512 | ECDSAP256SHA256 | ECDSAP384SHA384 | ED25519
    )
}

/// True when we can compute this DS digest type.
pub fn digest_supported(digest_type: u8) -> bool {
    matches!(digest_type, ds_digest::SHA1 | ds_digest::SHA256 | ds_digest::SHA384)
}

/// Preference among digest types (RFC 4509 §3: prefer SHA-256 over SHA-1; SHA-384 stronger still).
pub fn digest_strength(digest_type: u8) -> u8 {
    match digest_type {
        ds_digest::SHA384 => 3,
        ds_digest::SHA256 => 2,
        ds_digest::SHA1 => 1,
        _ => 0,
    }
}

/// Why a key could not be used with its algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Algorithm not implemented.
    UnsupportedAlgorithm,
    /// RSA modulus outside what we verify (see [`RSA_MIN_BITS`]).
    UnsupportedKeySize,
    /// The key octets do not have the algorithm's layout.
    Malformed,
}

/// Checks that a public key is usable before any signature work.
pub fn check_key(algorithm: u8, key: &[u8]) -> Result<(), KeyProblem> {
    match algorithm {
        RSASHA1 | RSASHA1_NSEC3_SHA1 | RSASHA256 | RSASHA512 => {
            let (_, n) = rsa_parts(key).ok_or(KeyProblem::Malformed)?;
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
                return Err(KeyProblem::UnsupportedKeySize);
            }
            Ok(())
        }
        ECDSAP256SHA256 if key.len() == 64 => Ok(()),
        ECDSAP384SHA384 if key.len() == 96 => Ok(()),
        ED25519 if key.len() == 32 => Ok(()),
        ECDSAP256SHA256 | ECDSAP384SHA384 | ED25519 => Err(KeyProblem::Malformed),
        _ => Err(KeyProblem::UnsupportedAlgorithm),
    }
}

/// RFC 3110 §2: exponent length (1 octet, or 0 then 2 octets), exponent, modulus. Leading zero
/// octets are stripped, since ring refuses them.
fn rsa_parts(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (elen, rest) = match *key.first()? {
        0 => (u16::from_be_bytes([*key.get(1)?, *key.get(2)?]) as usize, &key[3..]),
        n => (n as usize, &key[1..]),
    };
    if elen == 0 || rest.len() <= elen {
        return None;
    }
    let strip = |s: &'_ [u8]| -> usize { s.iter().take_while(|b| **b == 0).count() };
    let (e, n) = rest.split_at(elen);
    let (e, n) = (&e[strip(e)..], &n[strip(n)..]);
    if e.is_empty() || n.is_empty() {
        return None;
    }
    Some((e, n))
}

/// Verifies `sig` over `data` with a DNSKEY public key. `false` for any mismatch or malformed input.
pub fn verify(algorithm: u8, key: &[u8], data: &[u8], sig: &[u8]) -> bool {
    match algorithm {
        RSASHA1 | RSASHA1_NSEC3_SHA1 | RSASHA256 | RSASHA512 => {
            let Some((e, n)) = rsa_parts(key) else { return false };
            let params = match algorithm {
                RSASHA1 | RSASHA1_NSEC3_SHA1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                RSASHA256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                _ => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            };
            // ring wants the signature exactly as long as the modulus.
            if sig.len() > n.len() {
                return false;
            }
            let mut padded;
            let sig = if sig.len() < n.len() {
                padded = vec![0u8; n.len() - sig.len()];
                padded.extend_from_slice(sig);
                &padded[..]
            } else {
                sig
            };
            signature::RsaPublicKeyComponents { n, e }.verify(params, data, sig).is_ok()
        }
        ECDSAP256SHA256 | ECDSAP384SHA384 => {
            let (alg, len): (&'static dyn signature::VerificationAlgorithm, usize) =
                if algorithm == ECDSAP256SHA256 {
                    (&signature::ECDSA_P256_SHA256_FIXED, 64)
                } else {
                    (&signature::ECDSA_P384_SHA384_FIXED, 96)
                };
            if key.len() != len || sig.len() != len {
                return false;
            }
            let mut point = Vec::with_capacity(len + 1);
            point.push(4);
            point.extend_from_slice(key);
            signature::UnparsedPublicKey::new(alg, &point).verify(data, sig).is_ok()
        }
        ED25519 => {
            key.len() == 32
                && signature::UnparsedPublicKey::new(&signature::ED25519, key).verify(data, sig).is_ok()
        }
        _ => false,
    }
}

/// DS digest of (owner ‖ DNSKEY RDATA); `None` for unsupported digest types.
pub fn ds_digest(digest_type: u8, data: &[u8]) -> Option<Vec<u8>> {
    let alg = match digest_type {
        iana::digest::SHA1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        iana::digest::SHA256 => &digest::SHA256,
        iana::digest::SHA384 => &digest::SHA384,
        _ => return None,
    };
    Some(digest::digest(alg, data).as_ref().to_vec())
}

/// The NSEC3 hash of RFC 5155 §5: IH(salt, x, 0) = H(x ‖ salt), then `iterations` more rounds.
/// `name` must already be in canonical (lower-case wire) form.
pub fn nsec3_hash(name: &[u8], salt: &[u8], iterations: u16) -> Vec<u8> {
    let alg = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    let mut ctx = digest::Context::new(alg);
    ctx.update(name);
    ctx.update(salt);
    let mut h = ctx.finish();
    for _ in 0..iterations {
        let mut ctx = digest::Context::new(alg);
        ctx.update(h.as_ref());
        ctx.update(salt);
        h = ctx.finish();
    }
    h.as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::base32hex_encode;
    use crate::name::Name;

    #[test]
    fn rfc5155_appendix_a_hashes() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let cases = [
            ("example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
            ("w.example", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
            ("*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
            ("x.w.example", "b4um86eghhds6nea196smvmlo4ors995"),
            ("xx.example", "t644ebqk9bibcna874givr6joj62mlhv"),
        ];
        for (name, hash) in cases {
            let wire = Name::parse(name).unwrap().to_canonical_wire();
            assert_eq!(base32hex_encode(&nsec3_hash(&wire, &salt, 12)), hash, "{name}");
        }
    }

    #[test]
    fn small_rsa_keys_are_unsupported() {
        // 512-bit modulus, exponent 65537.
        let mut key = vec![3, 1, 0, 1, 0xc0];
        key.extend_from_slice(&[0x11; 63]);
        assert_eq!(check_key(8, &key), Err(KeyProblem::UnsupportedKeySize));
        assert_eq!(check_key(16, &[0; 57]), Err(KeyProblem::UnsupportedAlgorithm));
        assert_eq!(check_key(13, &[0; 63]), Err(KeyProblem::Malformed));
    }
}
