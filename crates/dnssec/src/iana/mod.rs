//! IANA DNS parameters in one place: record types and classes ([`rtype`]), rcodes
//! ([`rcode`]), Extended DNS Error codes ([`ede`]), DNSSEC algorithms ([`algorithm`]), DS
//! digest types ([`digest`]) and EDNS option codes ([`edns_option`]). Each is a plain integer
//! constant, so values we do not know survive as numbers (a DLV record, algorithm 16).

pub mod rtype;

pub use rtype::rcode;

/// Extended DNS Error codes we produce (RFC 8914 §4 and the IANA registry).
#[allow(missing_docs)]
pub mod ede {
    pub const OTHER: u16 = 0;
    pub const UNSUPPORTED_DNSKEY_ALGORITHM: u16 = 1;
    pub const UNSUPPORTED_DS_DIGEST: u16 = 2;
    pub const STALE_ANSWER: u16 = 3;
    pub const DNSSEC_INDETERMINATE: u16 = 5;
    pub const DNSSEC_BOGUS: u16 = 6;
    pub const SIGNATURE_EXPIRED: u16 = 7;
    pub const SIGNATURE_NOT_YET_VALID: u16 = 8;
    pub const DNSKEY_MISSING: u16 = 9;
    pub const RRSIGS_MISSING: u16 = 10;
    pub const NO_ZONE_KEY_BIT: u16 = 11;
    pub const NSEC_MISSING: u16 = 12;
    pub const CACHED_ERROR: u16 = 13;
    pub const PROHIBITED: u16 = 18;
    pub const NO_REACHABLE_AUTHORITY: u16 = 22;
    pub const NETWORK_ERROR: u16 = 23;
    pub const INVALID_DATA: u16 = 24;
    pub const SIGNATURE_EXPIRED_BEFORE_VALID: u16 = 25;
    pub const UNSUPPORTED_NSEC3_ITERATIONS: u16 = 27;
}

/// DNSSEC algorithm numbers (RFC 8624 §3.1 and the IANA registry) that the validator knows.
pub mod algorithm {
    /// RSA/SHA-1 (RFC 3110); deprecated for signing by RFC 8624.
    pub const RSASHA1: u8 = 5;
    /// RSA/SHA-1 with NSEC3 (RFC 5155).
    pub const RSASHA1_NSEC3_SHA1: u8 = 7;
    /// RSA/SHA-256 (RFC 5702).
    pub const RSASHA256: u8 = 8;
    /// RSA/SHA-512 (RFC 5702).
    pub const RSASHA512: u8 = 10;
    /// ECDSA P-256 with SHA-256 (RFC 6605).
    pub const ECDSAP256SHA256: u8 = 13;
    /// ECDSA P-384 with SHA-384 (RFC 6605).
    pub const ECDSAP384SHA384: u8 = 14;
    /// Ed25519 (RFC 8080).
    pub const ED25519: u8 = 15;
    /// Ed448 (RFC 8080); ring has no Ed448, so zones signed only with it are insecure.
    pub const ED448: u8 = 16;
}

/// DS (and DLV) digest types (RFC 4034 §5.1.3, RFC 4509, RFC 6605).
pub mod digest {
    /// SHA-1.
    pub const SHA1: u8 = 1;
    /// SHA-256 (RFC 4509).
    pub const SHA256: u8 = 2;
    /// SHA-384 (RFC 6605).
    pub const SHA384: u8 = 4;
}

/// EDNS(0) option codes (RFC 6891 §6.1.2 and the IANA registry).
pub mod edns_option {
    /// Padding (RFC 7830).
    pub const PADDING: u16 = 12;
    /// Extended DNS Error (RFC 8914).
    pub const EDE: u16 = 15;
}
