//! Denial of existence, one interface over NSEC (RFC 4035 §5.4) and NSEC3 (RFC 5155 §8).
//!
//! A [`DenialSet`] is built once from the NSEC or NSEC3 RRsets of a response that were already
//! verified with the keys of `zone`; [`DenialSet::prove`] then checks a [`Claim`] and returns a
//! typed [`Proof`] or [`ProofFailure`]. The chain walk never asks "NSEC or NSEC3?" itself: the
//! set knows which it holds (RFC 4035 §5.4 and RFC 5155 §8 are the same claims with different
//! records), and the per-record logic stays in [`crate::nsec`] and [`crate::nsec3`].

use std::fmt;

use crate::canonical::Rrset;
use crate::limits::Budget;
use crate::name::Name;
use crate::nsec::{self, DsAbsence};
use crate::nsec3::{Nsec3Failure, Nsec3Proof, Nsec3Set};
use crate::outcome::{BogusReason, DenialKind, InsecureReason, Security};
use crate::rdata::{Nsec, Nsec3};
use crate::rtype;

/// Something a denial is to prove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// An NSEC3 closest encloser proof for `name` (RFC 5155 §8.3).
    ClosestEncloser {
        /// The name whose closest encloser is to be shown.
        name: Name,
    },
    /// `name` has a DS, or proof that it has none (a delegation or not a zone cut).
    DsAbsence {
        /// The child zone.
        name: Name,
    },
    /// `name` does not exist (NXDOMAIN), nor a wildcard that could have answered it.
    NameError {
        /// The name.
        name: Name,
    },
    /// `name` exists but has no `qtype` records (NODATA).
    NoData {
        /// The name.
        name: Name,
        /// The type.
        qtype: u16,
    },
    /// NSEC3 records of `zone` that a validator may use (hash algorithm 1, known flags).
    UsableNsec3 {
        /// The zone.
        zone: Name,
    },
    /// A wildcard expansion answered `name`: no closer match exists (RFC 4035 §5.3.4).
    WildcardAnswer {
        /// The name the wildcard answered.
        name: Name,
    },
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClosestEncloser { name } => write!(f, "a closest encloser of {name} exists"),
            Self::DsAbsence { name } => write!(f, "{name} has no DS records"),
            Self::NameError { name } => write!(f, "{name} does not exist"),
            Self::NoData { name, qtype } => write!(f, "{name} has no {} records", rtype::type_name(*qtype)),
            Self::UsableNsec3 { zone } => write!(f, "usable NSEC3 records of {zone} exist"),
            Self::WildcardAnswer { name } => {
                write!(f, "no closer match than the wildcard exists for {name}")
            }
        }
    }
}

/// What a denial established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Proof {
    /// A DS lookup: the name is a delegation without DS, so the child is insecure.
    InsecureDelegation(DenialKind),
    /// A DS lookup: the name is no zone cut; the walk goes on in the same zone.
    NotZoneCut,
    /// Proven only through an NSEC3 opt-out span: the name may exist as an unsigned delegation
    /// (RFC 5155 §6, §9.2), so the answer is insecure, not secure.
    OptOut,
    /// The claim holds.
    Proven(DenialKind),
}

/// Why a claim was not proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProofFailure {
    /// The records prove something else, or too little: the claim that failed (which may be a
    /// part of the one asked, such as the wildcard's absence for a name error).
    NotProven(Claim),
    /// The records cannot be used and the answer is bogus (too many NSEC3 records or
    /// iterations, too much hash work).
    Bogus(BogusReason),
    /// The records cannot be used and the answer is insecure (NSEC3 iterations above the
    /// RFC 9276 limit).
    Insecure(InsecureReason),
}

impl ProofFailure {
    /// The verdict for an answer whose denial in `zone` failed this way.
    pub fn into_security(self, zone: &Name) -> Security {
        match self {
            Self::NotProven(claim) => Security::Bogus(BogusReason::NsecMissing { claim, zone: zone.clone() }),
            Self::Bogus(reason) => Security::Bogus(reason),
            Self::Insecure(reason) => Security::Insecure(reason),
        }
    }
}

impl From<Nsec3Failure> for ProofFailure {
    fn from(f: Nsec3Failure) -> Self {
        match f {
            Nsec3Failure::Bogus(r) => Self::Bogus(r),
            Nsec3Failure::Insecure(r) => Self::Insecure(r),
            Nsec3Failure::NotProven(claim) => Self::NotProven(claim),
        }
    }
}

/// The verified NSEC or NSEC3 records of one zone in one response.
pub enum DenialSet {
    /// NSEC records.
    Nsec {
        /// The records.
        records: Vec<Nsec>,
        /// The zone that signed them.
        zone: Name,
    },
    /// NSEC3 records with one parameter set, or why they cannot be used.
    Nsec3(Result<Nsec3Set, ProofFailure>),
    /// Neither: every claim fails.
    Empty,
}

impl DenialSet {
    /// Reads the NSEC and NSEC3 RRsets among `sets` (other types are ignored). NSEC wins when a
    /// response carries both: a zone is signed with one or the other (RFC 5155 §10.4), and the
    /// NSEC chain needs no hashing.
    pub fn from_rrsets(sets: &[Rrset], zone: &Name) -> Self {
        let nsecs: Vec<Nsec> = sets
            .iter()
            .filter(|s| s.rtype == rtype::NSEC)
            .flat_map(|s| s.rdatas.iter().filter_map(|r| Nsec::from_rdata(&s.owner, r)))
            .collect();
        if !nsecs.is_empty() {
            return Self::Nsec { records: nsecs, zone: zone.clone() };
        }
        let nsec3s: Vec<Nsec3> = sets
            .iter()
            .filter(|s| s.rtype == rtype::NSEC3)
            .flat_map(|s| s.rdatas.iter().filter_map(|r| Nsec3::from_rdata(&s.owner, r)))
            .collect();
        if nsec3s.is_empty() {
            return Self::Empty;
        }
        Self::Nsec3(Nsec3Set::new(nsec3s, zone).map_err(ProofFailure::from))
    }

    /// The NSEC records, for the look-aside registry's aggressive negative cache (RFC 5074 §6).
    pub fn nsec_records(&self) -> &[Nsec] {
        match self {
            Self::Nsec { records, .. } => records,
            _ => &[],
        }
    }

    /// Checks `claim`. For [`Claim::WildcardAnswer`] the closest encloser (known from the RRSIG
    /// labels field) is `wildcard_ce`; other claims ignore it.
    pub fn prove(
        &mut self,
        claim: &Claim,
        wildcard_ce: Option<&Name>,
        budget: &mut Budget,
    ) -> Result<Proof, ProofFailure> {
        match self {
            Self::Empty => Err(ProofFailure::NotProven(claim.clone())),
            Self::Nsec { records, zone } => {
                prove_with_nsec(records, zone, claim).map_err(ProofFailure::NotProven)
            }
            Self::Nsec3(Err(f)) => Err(f.clone()),
            Self::Nsec3(Ok(set)) => prove_with_nsec3(set, claim, wildcard_ce, budget),
        }
    }
}

fn prove_with_nsec(records: &[Nsec], zone: &Name, claim: &Claim) -> Result<Proof, Claim> {
    let proven = Proof::Proven(DenialKind::Nsec);
    match claim {
        Claim::NameError { name } => nsec::prove_name_error(records, name, zone).map(|()| proven),
        Claim::NoData { name, qtype } => nsec::prove_nodata(records, name, *qtype).map(|()| proven),
        Claim::WildcardAnswer { name } => nsec::prove_wildcard_answer(records, name).map(|()| proven),
        Claim::DsAbsence { name } => match nsec::ds_absence(records, name)? {
            DsAbsence::InsecureDelegation => Ok(Proof::InsecureDelegation(DenialKind::Nsec)),
            DsAbsence::NoDelegation => Ok(Proof::NotZoneCut),
        },
        Claim::ClosestEncloser { .. } | Claim::UsableNsec3 { .. } => Err(claim.clone()),
    }
}

fn prove_with_nsec3(
    set: &mut Nsec3Set,
    claim: &Claim,
    wildcard_ce: Option<&Name>,
    budget: &mut Budget,
) -> Result<Proof, ProofFailure> {
    let proof = match claim {
        Claim::NameError { name } => set.prove_name_error(name, budget)?,
        Claim::NoData { name, qtype } => set.prove_nodata(name, *qtype, budget)?,
        Claim::WildcardAnswer { name } => {
            let ce = wildcard_ce.ok_or_else(|| ProofFailure::NotProven(claim.clone()))?;
            set.prove_wildcard_answer(name, ce, budget)?
        }
        Claim::DsAbsence { name } => {
            return Ok(match set.ds_absence(name, budget)? {
                Some(true) => Proof::InsecureDelegation(DenialKind::Nsec3OptOut),
                Some(false) => Proof::InsecureDelegation(DenialKind::Nsec3),
                None => Proof::NotZoneCut,
            });
        }
        Claim::ClosestEncloser { .. } | Claim::UsableNsec3 { .. } => {
            return Err(ProofFailure::NotProven(claim.clone()));
        }
    };
    Ok(match proof {
        Nsec3Proof::Proven => Proof::Proven(DenialKind::Nsec3),
        Nsec3Proof::OptOut => Proof::OptOut,
    })
}
