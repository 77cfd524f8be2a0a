//! Named work limits against crafted input, and the counters that enforce them.
//!
//! KeyTrap (CVE-2023-50387) multiplies colliding keys by signatures; CVE-2023-50868 makes NSEC3
//! proofs hash many ancestors. Every maintained resolver bounds both with small counted limits
//! (figures: Unbound `MAX_VALIDATE_RRSIGS` 8, hickory `MAX_KEY_TAG_COLLISIONS` 2, Knot 8 NSEC3
//! records per answer, BIND 16 validations per resolution). Exceeding one is Bogus with EDE 6.

/// Signature verifications tried for one RRset before it is Bogus (Unbound 8, hickory 8).
/// Expired and not-yet-valid RRSIGs count too, so cheap-to-reject padding is not free.
pub const MAX_SIGNATURES_PER_RRSET: u32 = 8;
/// Signature verifications for one response, its whole chain included (Knot 32).
pub const MAX_SIGNATURES_PER_RESPONSE: u32 = 32;
/// DS records considered per zone (PowerDNS 8 per zone).
pub const MAX_DS_PER_ZONE: usize = 8;
/// NSEC3 records considered in one denial (Knot refuses more than 8).
pub const MAX_NSEC3_PER_PROOF: usize = 8;
/// NSEC3 iterations above which an answer is Insecure with EDE 27 (RFC 9276 §3.2; BIND, Knot and
/// PowerDNS use 50).
pub const NSEC3_ITERATIONS_INSECURE: u16 = 50;
/// NSEC3 iterations above which an answer is Bogus (hickory and `domain` 500).
pub const NSEC3_ITERATIONS_BOGUS: u16 = 500;
/// NSEC3 hash work per response, each distinct name hashed once and priced in SHA-1 blocks as
/// Knot does ((iterations + 1) × blocks of name and salt). RFC 9276 §3.2 lets validators treat
/// more than 50 iterations as insecure, so real names must pass at 50: a closest-encloser proof
/// for a name 127 labels deep hashes ~128 ancestors, about 16,000 blocks at 50 iterations; the
/// limit leaves room for that and bounds a crafted response to ~5 ms of SHA-1. (600, the old
/// figure, failed legitimate names 11 labels below a 50-iteration zone.)
pub const MAX_NSEC3_HASH_BLOCKS: u32 = 25_000;
/// CNAME/DNAME links followed in one answer (Unbound and BIND 11).
pub const MAX_CNAME_CHAIN: usize = 11;
/// Key lookups (DS, DNSKEY) one validation may ask for (PowerDNS `max-qperq` 50, resolved 64;
/// a name 127 labels deep needs at most this many with the label-by-label walk).
pub const MAX_KEY_QUERIES: u32 = 40;
/// Clock skew tolerated by default when checking RRSIG validity windows, in seconds. Unbound
/// uses 10 % of the validity period clamped to 1 h–24 h; we apply the lower bound as a fixed
/// allowance both ways.
pub const DEFAULT_CLOCK_SKEW: u32 = 3600;

/// Work done for one response; shared by every check so that the limits above hold per response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// Signature verifications attempted (crypto operations, plus rejected-by-time RRSIGs).
    pub signature_checks: u32,
    /// NSEC3 hash work in SHA-1 blocks.
    pub nsec3_hash_blocks: u32,
    /// Key lookups asked of the caller.
    pub key_queries: u32,
}

impl Budget {
    /// Prices one NSEC3 hash as Knot does: (iterations + 1) × ⌈(name + salt)/64⌉ blocks, at least 1.
    pub fn charge_nsec3(&mut self, name_len: usize, salt_len: usize, iterations: u16) -> bool {
        let blocks = (iterations as u32 + 1) * ((name_len + salt_len + 9).div_ceil(64) as u32).max(1);
        self.nsec3_hash_blocks = self.nsec3_hash_blocks.saturating_add(blocks);
        self.nsec3_hash_blocks <= MAX_NSEC3_HASH_BLOCKS
    }
}
