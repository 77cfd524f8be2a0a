//! The record of a validation: one [`ChainStep`] per thing learned about a zone, top-down, for
//! `lookaside trace`, logs and the chain summary in EDE texts.
//!
//! The session is re-entered after every key lookup and walks the known part of the chain again
//! from memory; [`Trace`] is the one place that keeps each step from being recorded twice.

use std::fmt;
use std::sync::Arc;

use crate::name::Name;
use crate::outcome::RrsetId;
use crate::rdata::{Dnskey, Ds};

/// One step of the chain, for traces and the EDE summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainStep {
    /// The zone (or name) this step is about.
    pub zone: Name,
    /// What happened.
    pub status: StepStatus,
    /// What the step used or found.
    pub detail: StepDetail,
}

/// The evidence of a chain step; formatted only when shown (traces, logs).
#[derive(Clone, Debug)]
pub enum StepDetail {
    /// Keys taken from the cache of an earlier validation.
    Cached,
    /// The DS set that vouches for the zone's keys.
    Ds(Vec<Ds>),
    /// The zone's trusted DNSKEY set.
    Keys(Arc<[Dnskey]>),
    /// The name is no zone cut.
    NotZoneCut,
    /// Why the step failed or ended the chain.
    Reason(String),
    /// An RRset verified with the key of this tag.
    Signed {
        /// The RRset.
        rrset: RrsetId,
        /// The key that signed it.
        key_tag: u16,
    },
}

impl PartialEq for StepDetail {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Ds(a), Self::Ds(b)) => a == b,
            (Self::Keys(a), Self::Keys(b)) => Arc::ptr_eq(a, b) || a == b,
            (Self::Reason(a), Self::Reason(b)) => a == b,
            (Self::NotZoneCut, Self::NotZoneCut) | (Self::Cached, Self::Cached) => true,
            (Self::Signed { rrset: a, key_tag: x }, Self::Signed { rrset: b, key_tag: y }) => {
                a == b && x == y
            }
            _ => false,
        }
    }
}
impl Eq for StepDetail {}

impl fmt::Display for StepDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ds(set) => {
                f.write_str("DS")?;
                if set.is_empty() {
                    f.write_str(" (trust anchor keys)")?;
                }
                for d in set {
                    write!(f, " {}/alg {}/digest {}", d.key_tag, d.algorithm, d.digest_type)?;
                }
                Ok(())
            }
            Self::Keys(keys) => {
                f.write_str("DNSKEY")?;
                for k in keys.iter() {
                    let role = if k.flags & crate::rdata::FLAG_SEP != 0 { "KSK" } else { "ZSK" };
                    write!(f, " {}/alg {}/{role}", k.key_tag(), k.algorithm)?;
                }
                Ok(())
            }
            Self::Reason(r) => f.write_str(r),
            Self::NotZoneCut => f.write_str("no zone cut"),
            Self::Cached => f.write_str("keys cached"),
            Self::Signed { rrset, key_tag } => write!(f, "{rrset} signed by key {key_tag}"),
        }
    }
}

/// The state of one step of the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// Validation failed here.
    Bogus,
    /// The chain ends here.
    Insecure,
    /// Keys trusted through a look-aside registry (a DLV record read as the zone's DS).
    Lookaside,
    /// A name between zones that is no zone cut.
    NotZoneCut,
    /// Keys trusted.
    Trusted,
}

impl StepStatus {
    /// One-letter tag: `T`, `I`, `B`, `-`, `L`.
    pub fn letter(self) -> char {
        match self {
            Self::Bogus => 'B',
            Self::Insecure => 'I',
            Self::Lookaside => 'L',
            Self::NotZoneCut => '-',
            Self::Trusted => 'T',
        }
    }
}

/// The steps of one session, each recorded once however often the walk passes it.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    steps: Vec<ChainStep>,
}

impl Trace {
    /// Records a step unless the same step is already there.
    pub fn record(&mut self, zone: &Name, status: StepStatus, detail: StepDetail) {
        let step = ChainStep { zone: zone.clone(), status, detail };
        if !self.steps.contains(&step) {
            self.steps.push(step);
        }
    }

    /// Records that `zone`'s keys are trusted, unless a step already showed them (verified in
    /// this session, or taken from the cache).
    pub fn record_keys(&mut self, zone: &Name, keys: &Arc<[Dnskey]>) {
        let shown = self
            .steps
            .iter()
            .any(|s| s.zone == *zone && matches!(s.detail, StepDetail::Keys(_) | StepDetail::Cached));
        if !shown {
            self.record(zone, StepStatus::Trusted, StepDetail::Keys(keys.clone()));
        }
    }

    /// Records that `zone`'s keys came from the cache, unless the zone already has a step.
    pub fn record_cached(&mut self, zone: &Name) {
        if !self.steps.iter().any(|s| s.zone == *zone) {
            self.record(zone, StepStatus::Trusted, StepDetail::Cached);
        }
    }

    /// The steps so far, top-down.
    pub fn steps(&self) -> &[ChainStep] {
        &self.steps
    }
}

/// A one-line chain summary such as `. [T] > org [T] > broken.org [B]`: one entry per zone, with
/// the last status recorded for it (DS trusted, then keys bogus).
pub fn summary(steps: &[ChainStep]) -> String {
    let mut parts: Vec<(&Name, char)> = Vec::new();
    for s in steps.iter().filter(|s| s.status != StepStatus::NotZoneCut) {
        match parts.iter_mut().find(|(z, _)| *z == &s.zone) {
            Some(p) => p.1 = s.status.letter(),
            None => parts.push((&s.zone, s.status.letter())),
        }
    }
    parts.iter().map(|(z, l)| format!("{z} [{l}]")).collect::<Vec<_>>().join(" > ")
}
