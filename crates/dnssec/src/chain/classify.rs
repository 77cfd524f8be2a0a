//! The answer classes of RFC 4035 §5 and the verdict of each, decided in one function per class
//! (the role of Unbound's `val_classify_response` and `validate_*_response`).
//!
//! | class | answer section | proof needed | decided in |
//! |---|---|---|---|
//! | positive | the chain ends in the asked type (or any type, for ANY) | wildcard expansions: no closer match | [`Session::validate_positive`] |
//! | NODATA | nothing for the name, NOERROR | the name exists without the type | [`Session::validate_nodata`] |
//! | name error | nothing for the name, NXDOMAIN | the name and its wildcard do not exist | [`Session::validate_name_error`] |
//! | CNAME, no answer | a CNAME/DNAME chain that ends without the type | the chain, and NODATA or name error for its target | [`Session::validate_cname_noanswer`] |

use crate::canonical::{Rrset, group};
use crate::denial::{Claim, DenialSet, Proof, ProofFailure};
use crate::limits;
use crate::name::Name;
use crate::outcome::{BogusReason, DenialKind, IndeterminateReason, InsecureReason, RrsetId, Security};
use crate::rtype::{self, rcode};
use crate::verify::Verified;
use crate::wire::{Message, Question};

use super::keys::{KeyOwner, Walk};
use super::trace::{StepDetail, StepStatus};
use super::{Session, Stop};

/// The kind of answer a response is (RFC 4035 §5; Unbound's `val_classification`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AnswerClass {
    /// A CNAME/DNAME chain that ends without data of the asked type.
    CnameNoAnswer,
    /// NXDOMAIN without a chain.
    NameError,
    /// NOERROR without data or chain.
    NoData,
    /// Data of the asked type, possibly at the end of a chain.
    Positive,
}

/// One RRset of the answer chain, with the closest encloser of its wildcard expansion when the
/// RRSIG labels field says it was one (RFC 4035 §5.3.4).
#[derive(Clone, Debug)]
pub(super) struct AnswerRrset {
    pub(super) set: Rrset,
    pub(super) wildcard_ce: Option<Name>,
}

/// A response sorted once per session: its class, answer chain and denial records.
#[derive(Debug)]
pub(super) struct Classified {
    pub(super) class: AnswerClass,
    pub(super) qtype: u16,
    /// The rcode is NXDOMAIN.
    pub(super) nxdomain: bool,
    /// The answer chain from the question name: CNAMEs, DNAMEs and the data.
    pub(super) chain: Vec<AnswerRrset>,
    /// The name the chain ends at (the question name when there is no chain).
    pub(super) sname: Name,
    /// SOA, NSEC and NSEC3 RRsets of the authority section.
    pub(super) denial: Vec<Rrset>,
}

impl Classified {
    /// What a negative answer (with or without a chain before it) claims about `sname`.
    fn negative_claim(&self) -> Claim {
        if self.nxdomain {
            Claim::NameError { name: self.sname.clone() }
        } else {
            Claim::NoData { name: self.sname.clone(), qtype: self.qtype }
        }
    }
}

/// Sorts `response` into its class. `Err` for responses that cannot be validated at all: an
/// error rcode, or a chain longer than [`limits::MAX_CNAME_CHAIN`].
pub(super) fn classify(question: &Question, response: &Message) -> Result<Classified, Security> {
    let rc = response.rcode();
    if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
        return Err(Security::Indeterminate(IndeterminateReason::LookupFailed {
            what: format!("{} {} (rcode {rc})", question.name, rtype::type_name(question.qtype)),
        }));
    }
    if question.qtype == rtype::RRSIG {
        return Err(Security::Insecure(InsecureReason::RrsigQuery { name: question.name.clone() }));
    }
    let answer = group(&response.answer);
    let (chain, sname) = follow_chain(question, &answer)?;
    let denial = group(&response.authority)
        .into_iter()
        .filter(|s| matches!(s.rtype, rtype::SOA | rtype::NSEC | rtype::NSEC3))
        .collect();
    let positive =
        chain.last().is_some_and(|i| i.set.rtype == question.qtype || question.qtype == rtype::ANY);
    let class = match (positive, chain.is_empty(), rc == rcode::NXDOMAIN) {
        (true, _, _) => AnswerClass::Positive,
        (false, false, _) => AnswerClass::CnameNoAnswer,
        (false, true, true) => AnswerClass::NameError,
        (false, true, false) => AnswerClass::NoData,
    };
    Ok(Classified { class, qtype: question.qtype, nxdomain: rc == rcode::NXDOMAIN, chain, sname, denial })
}

/// Follows the CNAME/DNAME chain from the question name through the answer section.
fn follow_chain(question: &Question, answer: &[Rrset]) -> Result<(Vec<AnswerRrset>, Name), Security> {
    let mut chain = Vec::new();
    let mut sname = question.name.clone();
    let qtype = question.qtype;
    let link = |set: &Rrset| AnswerRrset { wildcard_ce: wildcard_ce(set), set: set.clone() };
    for _ in 0..=limits::MAX_CNAME_CHAIN {
        if let Some(set) =
            answer.iter().find(|s| s.owner == sname && (s.rtype == qtype || qtype == rtype::ANY))
        {
            chain.push(link(set));
            if qtype == rtype::ANY {
                for other in answer.iter().filter(|s| s.owner == sname && s.rtype != set.rtype) {
                    chain.push(link(other));
                }
            }
            return Ok((chain, sname));
        }
        // DNAME (RFC 6672): validate the DNAME; the synthesized CNAME is unsigned.
        if let Some(set) = answer.iter().find(|s| s.rtype == rtype::DNAME && sname.is_below(&s.owner)) {
            chain.push(link(set));
            let Some(target) = set.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok()) else {
                return Ok((chain, sname));
            };
            let keep = sname.label_count() - set.owner.label_count();
            let prefix: Vec<Vec<u8>> = sname.labels().take(keep).map(<[u8]>::to_vec).collect();
            let mut next = Some(target);
            for label in prefix.iter().rev() {
                next = next.and_then(|n| n.prepend(label));
            }
            let Some(next) = next else { return Ok((chain, sname)) };
            // The CNAME synthesized from the DNAME is unsigned (RFC 6672 §5.3.1); it must agree
            // with the DNAME, and is then skipped.
            if let Some(synth) = answer.iter().find(|s| s.owner == sname && s.rtype == rtype::CNAME)
                && synth.rrsigs.is_empty()
                && synth.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok()) != Some(next.clone())
            {
                let rrset = RrsetId { owner: synth.owner.clone(), rtype: rtype::CNAME };
                return Err(Security::Bogus(BogusReason::RrsigsMissing { rrset, zone: set.owner.clone() }));
            }
            sname = next;
            continue;
        }
        if let Some(set) = answer.iter().find(|s| s.owner == sname && s.rtype == rtype::CNAME) {
            chain.push(link(set));
            match set.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok()) {
                Some(t) => sname = t,
                None => return Ok((chain, sname)),
            }
            continue;
        }
        return Ok((chain, sname));
    }
    Err(Security::Bogus(BogusReason::CnameChainTooLong))
}

/// The closest encloser of a wildcard expansion, from the RRSIG labels field (RFC 4035 §5.3.4).
fn wildcard_ce(set: &Rrset) -> Option<Name> {
    let sig = set.rrsigs.first()?;
    let labels = sig.labels as usize;
    if labels < set.owner.rrsig_label_count() { Some(set.owner.trim_to(labels)) } else { None }
}

/// The running decision of one class: the TTL cap of what verified, and the first reason the
/// answer is only insecure.
struct Tally {
    ttl_cap: u32,
    insecure: Option<InsecureReason>,
}

impl Tally {
    fn new() -> Self {
        Self { ttl_cap: u32::MAX, insecure: None }
    }

    fn signed(&mut self, v: Verified) {
        self.ttl_cap = self.ttl_cap.min(v.valid_for).min(v.original_ttl);
    }

    fn insecure(&mut self, reason: InsecureReason) {
        self.insecure.get_or_insert(reason);
    }

    /// The verdict: `Ok` with the TTL cap when everything verified.
    fn finish(self) -> Result<u32, Stop> {
        match self.insecure {
            Some(reason) => Err(Security::Insecure(reason).into()),
            None => Ok(if self.ttl_cap == u32::MAX { 0 } else { self.ttl_cap }),
        }
    }
}

/// The zones whose keys sign the chain's RRsets, by index into the chain.
struct ChainSigners {
    zones: Vec<(usize, Name)>,
}

impl Session<'_> {
    /// Validates the classified response; `Ok` carries the TTL cap of a secure answer.
    pub(super) fn validate_class(&mut self, c: &Classified) -> Result<u32, Stop> {
        match c.class {
            AnswerClass::Positive => self.validate_positive(c),
            AnswerClass::NoData => self.validate_nodata(c),
            AnswerClass::NameError => self.validate_name_error(c),
            AnswerClass::CnameNoAnswer => self.validate_cname_noanswer(c),
        }
    }

    /// Positive answers (RFC 4035 §5.3): every RRset of the chain signed by the zone it lies
    /// in, or that zone insecure; a wildcard expansion in a signed zone needs a denial of any
    /// closer match (§5.3.4), without which it is bogus.
    fn validate_positive(&mut self, c: &Classified) -> Result<u32, Stop> {
        let mut tally = Tally::new();
        let signers = self.chain_signers(&c.chain, &mut tally)?;
        let wildcards = wildcard_claims(c, &signers);
        let denial_zone = match wildcards.first() {
            None => None,
            Some((claim, _)) => Some(self.denial_signer(c, None, claim)?),
        };
        self.verify_chain(&c.chain, &signers, &mut tally)?;
        if let Some(zone) = denial_zone {
            self.check_denial(c, &zone, &wildcards, &mut tally)?;
        }
        tally.finish()
    }

    /// NODATA (RFC 4035 §5.4): a signed NSEC/NSEC3 proof that the name exists without the type
    /// (or an empty non-terminal, or a wildcard without it), from the zone of the name.
    fn validate_nodata(&mut self, c: &Classified) -> Result<u32, Stop> {
        let mut tally = Tally::new();
        let claim = Claim::NoData { name: c.sname.clone(), qtype: c.qtype };
        let zone = self.denial_signer(c, Some(&c.sname), &claim)?;
        self.check_denial(c, &zone, &[(claim, None)], &mut tally)?;
        tally.finish()
    }

    /// Name error (RFC 4035 §5.4): a signed proof that the name does not exist and that no
    /// wildcard could have answered it.
    fn validate_name_error(&mut self, c: &Classified) -> Result<u32, Stop> {
        let mut tally = Tally::new();
        let claim = Claim::NameError { name: c.sname.clone() };
        let zone = self.denial_signer(c, Some(&c.sname), &claim)?;
        self.check_denial(c, &zone, &[(claim, None)], &mut tally)?;
        tally.finish()
    }

    /// A CNAME/DNAME chain without the data (Unbound's `CNAME_NOANSWER`): the chain as for a
    /// positive answer, then NODATA or name error for the chain's target.
    fn validate_cname_noanswer(&mut self, c: &Classified) -> Result<u32, Stop> {
        let mut tally = Tally::new();
        let signers = self.chain_signers(&c.chain, &mut tally)?;
        let mut claims = vec![(c.negative_claim(), None)];
        claims.extend(wildcard_claims(c, &signers));
        let zone = self.denial_signer(c, Some(&c.sname), &claims[0].0)?;
        self.verify_chain(&c.chain, &signers, &mut tally)?;
        self.check_denial(c, &zone, &claims, &mut tally)?;
        tally.finish()
    }

    /// Finds the keys for the signer of every chain RRset (may ask for lookups). RRsets in an
    /// insecure zone are noted in `tally` and need no signature.
    fn chain_signers(&mut self, chain: &[AnswerRrset], tally: &mut Tally) -> Result<ChainSigners, Stop> {
        let mut zones = Vec::new();
        for (i, link) in chain.iter().enumerate() {
            match self.signer_zone(&link.set, Walk::WithLookaside)? {
                Ok(zone) => zones.push((i, zone)),
                Err(reason) => tally.insecure(reason),
            }
        }
        Ok(ChainSigners { zones })
    }

    /// Verifies each chain RRset with its signer's keys.
    fn verify_chain(
        &mut self,
        chain: &[AnswerRrset],
        signers: &ChainSigners,
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        for (i, zone) in &signers.zones {
            let set = &chain[*i].set;
            let keys = self.trusted_keys(zone);
            let v = self.verify(set, zone, &keys).map_err(|r| {
                self.trace.record(zone, StepStatus::Bogus, StepDetail::Reason(r.to_string()));
                Security::Bogus(r)
            })?;
            let rrset = RrsetId { owner: set.owner.clone(), rtype: set.rtype };
            self.trace.record(zone, StepStatus::Trusted, StepDetail::Signed { rrset, key_tag: v.key_tag });
            tally.signed(v);
        }
        Ok(())
    }

    /// The zone whose keys must sign the denial, with its keys found. `denied` is the name a
    /// negative answer is about (it must lie in the signer's zone); `None` for the wildcard
    /// proof of a positive answer. Without any signed denial record, the answer is bogus unless
    /// the zone is insecure.
    fn denial_signer(&mut self, c: &Classified, denied: Option<&Name>, claim: &Claim) -> Result<Name, Stop> {
        let Some(signed) = c.denial.iter().find(|s| !s.rrsigs.is_empty()) else {
            // An unsigned denial is fine only in an insecure zone. A DS lives in the parent
            // zone, so its denial comes from there.
            let name = denied.unwrap_or(&c.sname);
            let denier = if c.qtype == rtype::DS && denied.is_some() {
                name.parent().unwrap_or_else(Name::root)
            } else {
                name.clone()
            };
            let zone = match self.find_keys(&denier, Walk::WithLookaside)? {
                KeyOwner::Target => name.clone(),
                KeyOwner::Enclosing(zone) => zone,
            };
            return Err(Security::Bogus(BogusReason::NsecMissing { claim: claim.clone(), zone }).into());
        };
        let signer = signed.rrsigs[0].signer.clone();
        let rrset = || RrsetId { owner: signed.owner.clone(), rtype: signed.rtype };
        if let Some(name) = denied
            && !name.is_at_or_below(&signer)
        {
            let expected = name.clone();
            return Err(Security::Bogus(BogusReason::WrongSigner { rrset: rrset(), signer, expected }).into());
        }
        match self.find_keys(&signer, Walk::WithLookaside)? {
            KeyOwner::Target => Ok(signer),
            KeyOwner::Enclosing(expected) => {
                Err(Security::Bogus(BogusReason::WrongSigner { rrset: rrset(), signer, expected }).into())
            }
        }
    }

    /// Verifies the denial RRsets with `zone`'s keys and proves each claim (with the closest
    /// encloser of a wildcard expansion where the claim needs one). Opt-out proofs and
    /// unusable NSEC3 parameters make the answer insecure; anything else unproven, bogus.
    fn check_denial(
        &mut self,
        c: &Classified,
        zone: &Name,
        claims: &[(Claim, Option<Name>)],
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        let keys = self.trusted_keys(zone);
        for s in &c.denial {
            match self.verify(s, zone, &keys) {
                Ok(v) => tally.signed(v),
                Err(reason) => return Err(self.denial_failed(zone, Security::Bogus(reason))),
            }
        }
        let mut set = DenialSet::from_rrsets(&c.denial, zone);
        for (claim, ce) in claims {
            match set.prove(claim, ce.as_ref(), &mut self.budget) {
                Ok(Proof::OptOut) => {
                    // RFC 5155 §9.2: an opt-out span may hide an unsigned delegation: not secure.
                    let reason = InsecureReason::NoDs { zone: zone.clone(), proof: DenialKind::Nsec3OptOut };
                    self.trace.record(zone, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                    tally.insecure(reason);
                }
                Ok(_) => {}
                Err(ProofFailure::Insecure(reason)) => {
                    self.trace.record(zone, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                    tally.insecure(reason);
                }
                Err(failure) => return Err(self.denial_failed(zone, failure.into_security(zone))),
            }
        }
        Ok(())
    }

    /// Records where a denial failed, for traces, and stops with it.
    fn denial_failed(&mut self, zone: &Name, s: Security) -> Stop {
        if let Security::Bogus(r) = &s {
            self.trace.record(zone, StepStatus::Bogus, StepDetail::Reason(r.to_string()));
        }
        s.into()
    }
}

/// The wildcard expansions among the chain's RRsets in signed zones, as claims to prove.
fn wildcard_claims(c: &Classified, signers: &ChainSigners) -> Vec<(Claim, Option<Name>)> {
    signers
        .zones
        .iter()
        .filter_map(|(i, _)| {
            let link = &c.chain[*i];
            let ce = link.wildcard_ce.clone()?;
            Some((Claim::WildcardAnswer { name: link.set.owner.clone() }, Some(ce)))
        })
        .collect()
}
