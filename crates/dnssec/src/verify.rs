//! RRSIG checks: an RRset against a zone's trusted keys (RFC 4035 §5.3), and DNSKEY sets against
//! DS records or anchors (RFC 4035 §5.2).

use crate::canonical::{Rrset, signed_data};
use crate::crypto;
use crate::limits::{self, Budget};
use crate::name::Name;
use crate::outcome::{BogusReason, RrsetId};
use crate::rdata::{Dnskey, Ds};

/// "Now" and the skew allowed around RRSIG validity windows. The validator never reads a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Seconds since the epoch, modulo 2^32 (RFC 4034 §3.1.5 serial arithmetic).
    pub now: u32,
    /// Seconds of skew tolerated before inception and after expiration.
    pub skew: u32,
}

impl Clock {
    /// A clock at `now` with the default skew.
    pub fn at(now: u64) -> Self {
        Self { now: now as u32, skew: limits::DEFAULT_CLOCK_SKEW }
    }
}

/// RFC 1982 serial comparison: `a` is at or before `b`.
pub fn serial_le(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

/// A verified RRset: how long its signature stays valid, for cache lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Seconds until the signature that verified expires.
    pub valid_for: u32,
    /// The RRSIG original TTL, which caps the RRset's TTL (RFC 4035 §5.3.3).
    pub original_ttl: u32,
    /// The key tag of the key that verified.
    pub key_tag: u16,
}

/// Verifies `set` with `keys`, the trusted DNSKEYs of `zone`.
///
/// ```text
/// RFC 4035 §5.3.1: the RRSIG's Signer's Name field MUST be the name of the zone that contains
/// the RRset; the RRSIG's Type Covered field MUST equal the RRset's type; the number of labels in
/// the RRset owner name MUST be greater than or equal to the value in the RRSIG's Labels field;
/// the validator's notion of the current time MUST be less than or equal to the time listed in
/// the RRSIG's Expiration field; ... greater than or equal to ... the Inception field; the
/// RRSIG's Signer's Name, Algorithm, and Key Tag fields MUST match the owner name, algorithm, and
/// key tag for some DNSKEY RR in the zone's apex DNSKEY RRset.
/// ```
pub fn verify_rrset(
    set: &Rrset,
    zone: &Name,
    keys: &[Dnskey],
    clock: Clock,
    budget: &mut Budget,
) -> Result<Verified, BogusReason> {
    let id = || RrsetId { owner: set.owner.clone(), rtype: set.rtype };
    if set.rrsigs.is_empty() {
        return Err(BogusReason::RrsigsMissing { rrset: id(), zone: zone.clone() });
    }
    let mut failure = None;
    let mut rank = 0; // higher = more informative failure
    let mut note = |f: BogusReason, r: u8, failure: &mut Option<BogusReason>| {
        if r >= rank {
            rank = r;
            *failure = Some(f);
        }
    };
    let mut attempts = 0u32;
    for sig in &set.rrsigs {
        if sig.signer != *zone || !set.owner.is_at_or_below(&sig.signer) {
            let f =
                BogusReason::WrongSigner { rrset: id(), signer: sig.signer.clone(), expected: zone.clone() };
            note(f, 1, &mut failure);
            continue;
        }
        if sig.labels as usize > set.owner.rrsig_label_count() || !crypto::algorithm_supported(sig.algorithm)
        {
            note(BogusReason::SignatureInvalid { rrset: id(), zone: zone.clone() }, 2, &mut failure);
            continue;
        }
        // Every key of the tag is a candidate (key tags collide legitimately, RFC 4034 §5.3.1);
        // each extra key tried counts against the per-RRset and per-response signature budgets
        // below, which is what bounds KeyTrap, as in Unbound.
        let candidates: Vec<&Dnskey> =
            keys.iter().filter(|k| k.algorithm == sig.algorithm && k.key_tag() == sig.key_tag).collect();
        if candidates.is_empty() {
            note(BogusReason::NoMatchingKey { rrset: id(), zone: zone.clone() }, 2, &mut failure);
            continue;
        }
        let usable: Vec<&&Dnskey> =
            candidates.iter().filter(|k| k.is_zone_key() && !k.is_revoked()).collect();
        if usable.is_empty() {
            note(BogusReason::NoZoneKey { rrset: id(), zone: zone.clone() }, 3, &mut failure);
            continue;
        }
        // Time checks count as attempts, so padding with stale RRSIGs is not free.
        attempts += 1;
        budget.signature_checks += 1;
        if attempts > limits::MAX_SIGNATURES_PER_RRSET {
            return Err(BogusReason::WorkLimit { limit: "signatures per RRset" });
        }
        if budget.signature_checks > limits::MAX_SIGNATURES_PER_RESPONSE {
            return Err(BogusReason::WorkLimit { limit: "signatures per response" });
        }
        if !serial_le(sig.inception, sig.expiration) {
            note(
                BogusReason::SignatureExpiredBeforeValid { rrset: id(), zone: zone.clone() },
                4,
                &mut failure,
            );
            continue;
        }
        if !serial_le(sig.inception, clock.now.wrapping_add(clock.skew)) {
            let f = BogusReason::SignatureNotYetValid {
                rrset: id(),
                zone: zone.clone(),
                inception: sig.inception,
            };
            note(f, 4, &mut failure);
            continue;
        }
        if !serial_le(clock.now.wrapping_sub(clock.skew), sig.expiration) {
            let f =
                BogusReason::SignatureExpired { rrset: id(), zone: zone.clone(), expiration: sig.expiration };
            note(f, 4, &mut failure);
            continue;
        }
        let Some(data) = signed_data(set, sig) else {
            note(BogusReason::SignatureInvalid { rrset: id(), zone: zone.clone() }, 5, &mut failure);
            continue;
        };
        for (i, key) in usable.iter().enumerate() {
            if i > 0 {
                attempts += 1;
                budget.signature_checks += 1;
                if attempts > limits::MAX_SIGNATURES_PER_RRSET {
                    return Err(BogusReason::WorkLimit { limit: "signatures per RRset" });
                }
                if budget.signature_checks > limits::MAX_SIGNATURES_PER_RESPONSE {
                    return Err(BogusReason::WorkLimit { limit: "signatures per response" });
                }
            }
            if crypto::verify(sig.algorithm, &key.public_key, &data, &sig.signature) {
                let valid_for = sig.expiration.wrapping_sub(clock.now);
                let valid_for = if (valid_for as i32) < 0 { 0 } else { valid_for };
                return Ok(Verified { valid_for, original_ttl: sig.original_ttl, key_tag: sig.key_tag });
            }
        }
        note(BogusReason::SignatureInvalid { rrset: id(), zone: zone.clone() }, 5, &mut failure);
    }
    Err(failure.unwrap_or(BogusReason::SignatureInvalid { rrset: id(), zone: zone.clone() }))
}

/// The DS (or DLV, the same layout) that names `key` of `zone` with `digest_type` (RFC 4034
/// §5.1.4: the digest of the owner's canonical wire form and the DNSKEY RDATA; RFC 4431 §2 for
/// DLV); `None` for a digest type we cannot compute.
pub fn ds_for(zone: &Name, key: &Dnskey, digest_type: u8) -> Option<Ds> {
    let mut data = zone.to_canonical_wire();
    data.extend_from_slice(&key.rdata);
    let digest = crypto::ds_digest(digest_type, &data)?;
    Some(Ds { key_tag: key.key_tag(), algorithm: key.algorithm, digest_type, digest })
}

/// True when `ds` (or a DLV with the same layout) names `key` of `zone`.
pub fn ds_matches(zone: &Name, key: &Dnskey, ds: &Ds) -> bool {
    if ds.algorithm != key.algorithm || ds.key_tag != key.key_tag() {
        return false;
    }
    let mut data = zone.to_canonical_wire();
    data.extend_from_slice(&key.rdata);
    crypto::ds_digest(ds.digest_type, &data).is_some_and(|d| d == ds.digest)
}

/// The DS records worth using: supported algorithm and digest, and of those only the strongest
/// digest type present (RFC 4509 §3: a SHA-1 DS is ignored when a SHA-256 one exists).
pub fn usable_ds(set: &[Ds]) -> Vec<&Ds> {
    let supported: Vec<&Ds> = set
        .iter()
        .take(limits::MAX_DS_PER_ZONE)
        .filter(|d| crypto::algorithm_supported(d.algorithm) && crypto::digest_supported(d.digest_type))
        .collect();
    let best = supported.iter().map(|d| crypto::digest_strength(d.digest_type)).max().unwrap_or(0);
    supported.into_iter().filter(|d| crypto::digest_strength(d.digest_type) == best).collect()
}
