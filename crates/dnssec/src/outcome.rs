//! Verdicts and their reasons, with the RFC 8914 Extended DNS Error each maps to.
//!
//! A verdict is a value, not an error (RFC 4035 §4.3 defines the four states).

use std::fmt;

use crate::name::Name;
use crate::rtype::type_name;

pub use crate::iana::ede;

/// The security of a response (RFC 4035 §4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Security {
    /// Validation failed: the data must not be used.
    Bogus(BogusReason),
    /// No trust anchor covers the name, or the chain could not be fetched.
    Indeterminate(IndeterminateReason),
    /// The chain of trust was proven to end above the data.
    Insecure(InsecureReason),
    /// Every RRset was verified up to a trust anchor.
    Secure,
}

impl Security {
    /// True for [`Security::Secure`].
    pub fn is_secure(&self) -> bool {
        matches!(self, Self::Secure)
    }

    /// True for [`Security::Bogus`].
    pub fn is_bogus(&self) -> bool {
        matches!(self, Self::Bogus(_))
    }

    /// Short label: `secure`, `insecure`, `bogus` or `indeterminate`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Bogus(_) => "bogus",
            Self::Indeterminate(_) => "indeterminate",
            Self::Insecure(_) => "insecure",
            Self::Secure => "secure",
        }
    }

    /// The Extended DNS Error code alone, without formatting its text (for counting).
    pub fn ede_code(&self) -> Option<u16> {
        match self {
            Self::Bogus(r) => Some(r.ede_code()),
            Self::Indeterminate(r) => Some(r.ede_code()),
            Self::Insecure(r) => r.ede_code(),
            Self::Secure => None,
        }
    }

    /// The Extended DNS Error to attach, if any.
    pub fn ede(&self) -> Option<(u16, String)> {
        match self {
            Self::Bogus(r) => Some((r.ede_code(), r.to_string())),
            Self::Indeterminate(r) => Some((r.ede_code(), r.to_string())),
            Self::Insecure(r) => r.ede_code().map(|c| (c, r.to_string())),
            Self::Secure => None,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bogus(r) => write!(f, "bogus: {r}"),
            Self::Indeterminate(r) => write!(f, "indeterminate: {r}"),
            Self::Insecure(r) => write!(f, "insecure: {r}"),
            Self::Secure => f.write_str("secure"),
        }
    }
}

/// Names an RRset in messages: `owner TYPE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsetId {
    /// Owner.
    pub owner: Name,
    /// Type.
    pub rtype: u16,
}

impl fmt::Display for RrsetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.owner, type_name(self.rtype))
    }
}

/// Why a response is bogus.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BogusReason {
    /// A CNAME/DNAME chain longer than [`crate::limits::MAX_CNAME_CHAIN`].
    CnameChainTooLong,
    /// The DNSKEY RRset of a zone has no key matching its DS (or anchor), or no such key signs it.
    DnskeyMissing {
        /// The zone.
        zone: Name,
    },
    /// A DS or DLV lookup gave an answer that neither holds the record nor proves its absence.
    DsUnproven {
        /// The zone whose DS is in question.
        zone: Name,
    },
    /// Every key matching the RRSIGs lacks the ZONE bit or has the REVOKE bit.
    NoZoneKey {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
    },
    /// A denial of existence without the NSEC/NSEC3 records that prove it, or with records
    /// that prove something else.
    NsecMissing {
        /// What was to be proven.
        claim: crate::denial::Claim,
        /// The zone.
        zone: Name,
    },
    /// NSEC3 iterations above [`crate::limits::NSEC3_ITERATIONS_BOGUS`] (RFC 9276).
    Nsec3IterationsTooHigh {
        /// The iterations.
        iterations: u16,
        /// The zone.
        zone: Name,
    },
    /// No RRSIG whose key tag and algorithm match a trusted key.
    NoMatchingKey {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
    },
    /// An RRset from a signed zone came without RRSIGs.
    RrsigsMissing {
        /// The RRset.
        rrset: RrsetId,
        /// The zone expected to sign it.
        zone: Name,
    },
    /// The signatures do not verify.
    SignatureInvalid {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
    },
    /// Every RRSIG had expired.
    SignatureExpired {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
        /// Expiration (seconds since the epoch, low 32 bits).
        expiration: u32,
    },
    /// Expiration before inception.
    SignatureExpiredBeforeValid {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
    },
    /// Every RRSIG was not yet valid.
    SignatureNotYetValid {
        /// The RRset.
        rrset: RrsetId,
        /// The zone.
        zone: Name,
        /// Inception.
        inception: u32,
    },
    /// The RRSIG's signer is not the zone expected, or not an ancestor of the owner.
    WrongSigner {
        /// The RRset.
        rrset: RrsetId,
        /// The signer named.
        signer: Name,
        /// The zone that should have signed.
        expected: Name,
    },
    /// A look-aside registry's answer failed validation (RFC 5074 §5: the data is bogus too).
    Lookaside {
        /// The registry.
        registry: Name,
        /// What failed there.
        reason: Box<BogusReason>,
    },
    /// A work limit was reached (KeyTrap protection).
    WorkLimit {
        /// Which limit.
        limit: &'static str,
    },
}

impl BogusReason {
    /// True for the failures an upstream that strips or loses DNSSEC records causes: RRSIGs,
    /// DNSKEYs or denial proofs missing. A resolver blames its upstream for a run of these
    /// (and probes it again) rather than the zones.
    pub fn looks_like_upstream_damage(&self) -> bool {
        matches!(
            self,
            Self::RrsigsMissing { .. }
                | Self::DnskeyMissing { .. }
                | Self::DsUnproven { .. }
                | Self::NsecMissing { .. }
        )
    }

    /// The RFC 8914 INFO-CODE.
    pub fn ede_code(&self) -> u16 {
        match self {
            Self::CnameChainTooLong => ede::OTHER,
            Self::DnskeyMissing { .. } | Self::NoMatchingKey { .. } => ede::DNSKEY_MISSING,
            Self::DsUnproven { .. } => ede::NSEC_MISSING,
            Self::Lookaside { reason, .. } => reason.ede_code(),
            Self::NoZoneKey { .. } => ede::NO_ZONE_KEY_BIT,
            Self::NsecMissing { .. } => ede::NSEC_MISSING,
            Self::Nsec3IterationsTooHigh { .. } => ede::UNSUPPORTED_NSEC3_ITERATIONS,
            Self::RrsigsMissing { .. } => ede::RRSIGS_MISSING,
            Self::SignatureExpired { .. } => ede::SIGNATURE_EXPIRED,
            Self::SignatureExpiredBeforeValid { .. } => ede::SIGNATURE_EXPIRED_BEFORE_VALID,
            Self::SignatureNotYetValid { .. } => ede::SIGNATURE_NOT_YET_VALID,
            Self::SignatureInvalid { .. } | Self::WrongSigner { .. } | Self::WorkLimit { .. } => {
                ede::DNSSEC_BOGUS
            }
        }
    }
}

pub use crate::civil_time::format_time;

impl fmt::Display for BogusReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CnameChainTooLong => {
                write!(f, "CNAME chain longer than {} links", crate::limits::MAX_CNAME_CHAIN)
            }
            Self::DnskeyMissing { zone } => {
                write!(f, "no DNSKEY of {zone} matches its DS and signs the key set")
            }
            Self::DsUnproven { zone } => {
                write!(f, "DS lookup for {zone} neither returned a signed DS nor proved there is none")
            }
            Self::NoZoneKey { rrset, zone } => {
                write!(f, "{rrset}: the signing key of {zone} lacks the zone bit or is revoked")
            }
            Self::NsecMissing { claim, zone } => write!(f, "{zone}: no valid NSEC/NSEC3 proof that {claim}"),
            Self::Nsec3IterationsTooHigh { iterations, zone } => write!(
                f,
                "{zone}: NSEC3 with {iterations} iterations (more than {})",
                crate::limits::NSEC3_ITERATIONS_BOGUS
            ),
            Self::NoMatchingKey { rrset, zone } => {
                write!(f, "{rrset}: no RRSIG made by a trusted DNSKEY of {zone}")
            }
            Self::RrsigsMissing { rrset, zone } => write!(f, "{rrset}: no RRSIG, but {zone} is signed"),
            Self::SignatureInvalid { rrset, zone } => {
                write!(f, "{rrset}: signature by {zone} does not verify")
            }
            Self::SignatureExpired { rrset, zone, expiration } => {
                write!(f, "{rrset}: RRSIG by {zone} expired {}", format_time(*expiration))
            }
            Self::SignatureExpiredBeforeValid { rrset, zone } => {
                write!(f, "{rrset}: RRSIG by {zone} expires before its inception")
            }
            Self::SignatureNotYetValid { rrset, zone, inception } => {
                write!(f, "{rrset}: RRSIG by {zone} not valid before {}", format_time(*inception))
            }
            Self::WrongSigner { rrset, signer, expected } => {
                write!(f, "{rrset}: signed by {signer}, expected {expected}")
            }
            Self::Lookaside { registry, reason } => write!(f, "look-aside registry {registry}: {reason}"),
            Self::WorkLimit { limit } => write!(f, "validation work limit reached: {limit}"),
        }
    }
}

/// How the end of the chain was proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialKind {
    /// An NSEC record.
    Nsec,
    /// An NSEC3 record.
    Nsec3,
    /// An NSEC3 opt-out span.
    Nsec3OptOut,
}

impl fmt::Display for DenialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Nsec => "NSEC",
            Self::Nsec3 => "NSEC3",
            Self::Nsec3OptOut => "NSEC3 opt-out",
        })
    }
}

/// Why a response is insecure: the point where the chain ends, and how we know.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsecureReason {
    /// A signed denial proves the delegation to `zone` has no DS.
    NoDs {
        /// The unsigned child zone.
        zone: Name,
        /// The proof.
        proof: DenialKind,
    },
    /// `zone` is under a negative trust anchor.
    NegativeTrustAnchor {
        /// The anchor.
        zone: Name,
    },
    /// NSEC3 with iterations above [`crate::limits::NSEC3_ITERATIONS_INSECURE`] (RFC 9276 §3.2).
    Nsec3Iterations {
        /// The zone.
        zone: Name,
        /// The iterations.
        iterations: u16,
    },
    /// A query for RRSIG records: they are checked only as the signatures of other RRsets, so
    /// they are passed on unvalidated, without AD (as Unbound does).
    RrsigQuery {
        /// The name asked for.
        name: Name,
    },
    /// The answer is the operator's local data (`[[local]]` in the configuration), not DNS:
    /// nothing to prove, so no AD.
    LocalData {
        /// The configured name.
        name: Name,
    },
    /// `zone` is forwarded with validation off by the operator's policy (`dnssec = "off"`, as
    /// Unbound's `domain-insecure`).
    ForwardedUnvalidated {
        /// The forwarded domain.
        zone: Name,
    },
    /// The DS set (or anchor) of `zone` lists only algorithms we cannot verify.
    UnsupportedAlgorithm {
        /// The zone.
        zone: Name,
    },
    /// The DS set of `zone` uses only digest types we cannot compute.
    UnsupportedDigest {
        /// The zone.
        zone: Name,
    },
}

impl InsecureReason {
    /// The zone where the chain ends.
    pub fn zone(&self) -> &Name {
        match self {
            Self::NoDs { zone, .. }
            | Self::NegativeTrustAnchor { zone }
            | Self::Nsec3Iterations { zone, .. }
            | Self::RrsigQuery { name: zone }
            | Self::LocalData { name: zone }
            | Self::ForwardedUnvalidated { zone }
            | Self::UnsupportedAlgorithm { zone }
            | Self::UnsupportedDigest { zone } => zone,
        }
    }

    /// An informational EDE for the insecure answer, where one applies.
    pub fn ede_code(&self) -> Option<u16> {
        match self {
            Self::Nsec3Iterations { .. } => Some(ede::UNSUPPORTED_NSEC3_ITERATIONS),
            Self::UnsupportedAlgorithm { .. } => Some(ede::UNSUPPORTED_DNSKEY_ALGORITHM),
            Self::UnsupportedDigest { .. } => Some(ede::UNSUPPORTED_DS_DIGEST),
            Self::NoDs { .. }
            | Self::NegativeTrustAnchor { .. }
            | Self::RrsigQuery { .. }
            | Self::LocalData { .. }
            | Self::ForwardedUnvalidated { .. } => None,
        }
    }
}

impl fmt::Display for InsecureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDs { zone, proof } => write!(f, "chain ends at {zone} (no DS, proven by {proof})"),
            Self::NegativeTrustAnchor { zone } => write!(f, "{zone} is a negative trust anchor"),
            Self::Nsec3Iterations { zone, iterations } => write!(
                f,
                "{zone}: NSEC3 with {iterations} iterations (more than {}) is treated as insecure",
                crate::limits::NSEC3_ITERATIONS_INSECURE
            ),
            Self::RrsigQuery { name } => {
                write!(f, "{name} RRSIG: signatures are passed on unvalidated (they prove other RRsets)")
            }
            Self::LocalData { name } => write!(f, "{name} is local data from the configuration"),
            Self::ForwardedUnvalidated { zone } => {
                write!(f, "{zone} is forwarded with dnssec = \"off\": not validated, by policy")
            }
            Self::UnsupportedAlgorithm { zone } => {
                write!(f, "chain ends at {zone} (only unsupported DNSKEY algorithms)")
            }
            Self::UnsupportedDigest { zone } => {
                write!(f, "chain ends at {zone} (only unsupported DS digest types)")
            }
        }
    }
}

/// Why no verdict could be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndeterminateReason {
    /// A key lookup failed (network, upstream error).
    LookupFailed {
        /// What was looked up.
        what: String,
    },
    /// The upstream that answered was found unfit by its probe: the failure is its doing,
    /// not the zone's.
    UpstreamUnfit {
        /// The upstream.
        upstream: String,
        /// What its probe found, e.g. "answered NXDOMAIN to . DNSKEY".
        reason: String,
    },
    /// No trust anchor covers the name.
    NoTrustAnchor,
}

impl IndeterminateReason {
    /// The RFC 8914 INFO-CODE.
    pub fn ede_code(&self) -> u16 {
        match self {
            Self::LookupFailed { .. } => ede::NO_REACHABLE_AUTHORITY,
            Self::UpstreamUnfit { .. } => ede::NETWORK_ERROR,
            Self::NoTrustAnchor => ede::DNSSEC_INDETERMINATE,
        }
    }
}

impl fmt::Display for IndeterminateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LookupFailed { what } => write!(f, "lookup of {what} failed"),
            Self::UpstreamUnfit { upstream, reason } => {
                write!(f, "upstream {upstream} does not serve DNSSEC data ({reason})")
            }
            Self::NoTrustAnchor => f.write_str("no trust anchor covers the name"),
        }
    }
}
