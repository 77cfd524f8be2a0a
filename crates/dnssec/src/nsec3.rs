//! NSEC3 denial proofs (RFC 5155 §8) with the RFC 9276 iteration limits. The NSEC3 RRsets handed
//! in have already been verified with the keys of the zone.

use crate::crypto;
use crate::denial::Claim;
use crate::limits::{self, Budget};
use crate::name::Name;
use crate::outcome::{BogusReason, InsecureReason};
use crate::rdata::Nsec3;
use crate::rtype;

/// What a proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Nsec3Proof {
    /// The claim is proven.
    Proven,
    /// Proven only through an opt-out span: the name may exist unsigned (RFC 5155 §6).
    OptOut,
}

/// A set of NSEC3 records of one zone with one parameter set, and a small hash cache.
pub struct Nsec3Set {
    records: Vec<Nsec3>,
    zone: Name,
    salt: Vec<u8>,
    iterations: u16,
    hashes: Vec<(Name, Vec<u8>)>,
}

/// Why an NSEC3 set cannot be used at all.
#[derive(Clone, Debug)]
pub enum Nsec3Failure {
    /// The answer is bogus.
    Bogus(BogusReason),
    /// The answer is insecure (iterations above the RFC 9276 limit).
    Insecure(InsecureReason),
    /// The proof does not hold; the claim says what could not be proven.
    NotProven(Claim),
}

impl Nsec3Set {
    /// Selects the usable records: hash algorithm 1, flags 0 or 1 (RFC 5155 §8.1–8.2 say to ignore
    /// others), owned directly under `zone`, with the parameters of the first such record.
    pub fn new(all: Vec<Nsec3>, zone: &Name) -> Result<Self, Nsec3Failure> {
        let usable: Vec<Nsec3> =
            all.into_iter().filter(|n| n.hash_algorithm == 1 && n.flags <= 1 && n.zone == *zone).collect();
        let Some(first) = usable.first() else {
            return Err(Nsec3Failure::NotProven(Claim::UsableNsec3 { zone: zone.clone() }));
        };
        if usable.len() > limits::MAX_NSEC3_PER_PROOF {
            return Err(Nsec3Failure::Bogus(BogusReason::WorkLimit { limit: "NSEC3 records per proof" }));
        }
        let (salt, iterations) = (first.salt.clone(), first.iterations);
        if iterations > limits::NSEC3_ITERATIONS_BOGUS {
            return Err(Nsec3Failure::Bogus(BogusReason::Nsec3IterationsTooHigh {
                iterations,
                zone: zone.clone(),
            }));
        }
        if iterations > limits::NSEC3_ITERATIONS_INSECURE {
            return Err(Nsec3Failure::Insecure(InsecureReason::Nsec3Iterations {
                zone: zone.clone(),
                iterations,
            }));
        }
        let records = usable.into_iter().filter(|n| n.salt == salt && n.iterations == iterations).collect();
        Ok(Self { records, zone: zone.clone(), salt, iterations, hashes: Vec::new() })
    }

    fn hash(&mut self, name: &Name, budget: &mut Budget) -> Result<Vec<u8>, Nsec3Failure> {
        if let Some((_, h)) = self.hashes.iter().find(|(n, _)| n == name) {
            return Ok(h.clone());
        }
        let wire = name.to_canonical_wire();
        if !budget.charge_nsec3(wire.len(), self.salt.len(), self.iterations) {
            return Err(Nsec3Failure::Bogus(BogusReason::WorkLimit {
                limit: "NSEC3 hash work per response",
            }));
        }
        let h = crypto::nsec3_hash(&wire, &self.salt, self.iterations);
        self.hashes.push((name.clone(), h.clone()));
        Ok(h)
    }

    fn matching(&mut self, name: &Name, budget: &mut Budget) -> Result<Option<&Nsec3>, Nsec3Failure> {
        let h = self.hash(name, budget)?;
        Ok(self.records.iter().find(|n| n.matches(&h)))
    }

    fn covering(&mut self, name: &Name, budget: &mut Budget) -> Result<Option<&Nsec3>, Nsec3Failure> {
        let h = self.hash(name, budget)?;
        Ok(self.records.iter().find(|n| n.covers(&h)))
    }

    /// RFC 5155 §8.3 closest encloser proof for `qname`: the closest ancestor with a matching NSEC3
    /// (which must not be a delegation or DNAME), and an NSEC3 covering the next closer name.
    /// Returns the closest encloser and whether the NSEC3 covering the next closer name is opt-out.
    fn closest_encloser(&mut self, qname: &Name, budget: &mut Budget) -> Result<(Name, bool), Nsec3Failure> {
        let fail = || Nsec3Failure::NotProven(Claim::ClosestEncloser { name: qname.clone() });
        if !qname.is_below(&self.zone) {
            return Err(fail());
        }
        let mut candidate = qname.parent().ok_or_else(fail)?;
        loop {
            if let Some(m) = self.matching(&candidate, budget)? {
                let delegation = m.types.contains(rtype::NS) && !m.types.contains(rtype::SOA);
                if delegation || m.types.contains(rtype::DNAME) {
                    return Err(fail());
                }
                let next_closer = qname.child_towards(&candidate).ok_or_else(fail)?;
                let opt_out = self.covering(&next_closer, budget)?.ok_or_else(fail)?.opt_out();
                return Ok((candidate, opt_out));
            }
            if candidate == self.zone {
                return Err(fail());
            }
            candidate = candidate.parent().ok_or_else(fail)?;
        }
    }

    /// NXDOMAIN (RFC 5155 §8.4): closest encloser proof plus a covered wildcard. An opt-out span
    /// over the next closer name means the name may exist unsigned.
    pub fn prove_name_error(
        &mut self,
        qname: &Name,
        budget: &mut Budget,
    ) -> Result<Nsec3Proof, Nsec3Failure> {
        let (ce, opt_out) = self.closest_encloser(qname, budget)?;
        let wildcard =
            ce.wildcard().ok_or_else(|| Nsec3Failure::NotProven(Claim::NameError { name: qname.clone() }))?;
        if self.covering(&wildcard, budget)?.is_none() {
            return Err(Nsec3Failure::NotProven(Claim::NameError { name: wildcard }));
        }
        Ok(if opt_out { Nsec3Proof::OptOut } else { Nsec3Proof::Proven })
    }

    /// NODATA (RFC 5155 §8.5–8.7): a matching NSEC3 without the type (and without CNAME); for DS a
    /// closest encloser proof whose next closer name is covered by an opt-out NSEC3; wildcard
    /// NODATA through a matching NSEC3 at the wildcard.
    pub fn prove_nodata(
        &mut self,
        qname: &Name,
        qtype: u16,
        budget: &mut Budget,
    ) -> Result<Nsec3Proof, Nsec3Failure> {
        let what = || Nsec3Failure::NotProven(Claim::NoData { name: qname.clone(), qtype });
        if let Some(m) = self.matching(qname, budget)? {
            if m.types.contains(qtype) || m.types.contains(rtype::CNAME) {
                return Err(what());
            }
            let wrong_side = if qtype == rtype::DS {
                m.types.contains(rtype::SOA) && !qname.is_root()
            } else {
                m.types.contains(rtype::NS) && !m.types.contains(rtype::SOA)
            };
            return if wrong_side { Err(what()) } else { Ok(Nsec3Proof::Proven) };
        }
        let (ce, opt_out) = self.closest_encloser(qname, budget).map_err(|_| what())?;
        if qtype == rtype::DS {
            return if opt_out { Ok(Nsec3Proof::OptOut) } else { Err(what()) };
        }
        let wildcard = ce.wildcard().ok_or_else(what)?;
        match self.matching(&wildcard, budget)? {
            Some(w) if !w.types.contains(qtype) && !w.types.contains(rtype::CNAME) => Ok(Nsec3Proof::Proven),
            _ => Err(what()),
        }
    }

    /// A wildcard answer (RFC 5155 §8.8): the next closer name below the closest encloser `ce`
    /// (known from the RRSIG labels) is covered.
    pub fn prove_wildcard_answer(
        &mut self,
        qname: &Name,
        ce: &Name,
        budget: &mut Budget,
    ) -> Result<Nsec3Proof, Nsec3Failure> {
        let fail = || Nsec3Failure::NotProven(Claim::WildcardAnswer { name: qname.clone() });
        let next_closer = qname.child_towards(ce).ok_or_else(fail)?;
        let opt_out = self.covering(&next_closer, budget)?.ok_or_else(fail)?.opt_out();
        Ok(if opt_out { Nsec3Proof::OptOut } else { Nsec3Proof::Proven })
    }

    /// For the chain walk: what the records say about a DS at `name`. `Ok(Some(opt_out))` when
    /// `name` is an insecure delegation, `Ok(None)` when it is no zone cut.
    pub fn ds_absence(&mut self, name: &Name, budget: &mut Budget) -> Result<Option<bool>, Nsec3Failure> {
        if let Some(delegation) = self.matching(name, budget)?.map(|m| m.types.contains(rtype::NS)) {
            self.prove_nodata(name, rtype::DS, budget)?;
            return Ok(if delegation { Some(false) } else { None });
        }
        let (_, opt_out) = self.closest_encloser(name, budget)?;
        // No NSEC3 for the name: either it does not exist, or it is an unsigned delegation inside
        // an opt-out span (RFC 5155 §6).
        Ok(if opt_out { Some(true) } else { None })
    }
}
