//! Look-aside validation (RFC 4431 record, RFC 5074 procedure), tried by the key walk only where
//! the ordinary chain ends insecure or no anchor covers the name: the fallback step of
//! [`super::keys`]. A DLV record found in a registry is read as the zone's DS, and the ordinary
//! walk goes on below it.
//!
//! The walk in one registry starts at the signer and goes up, skipping names the registry's
//! NSECs prove absent (RFC 5074 §8), with those NSECs cached across sessions (§6). It never goes
//! above the insecure point, so a DLV can extend the chain but never override a proven part of
//! it. Registry answers are validated with the ordinary chain only ([`Walk::ChainOnly`]).

use crate::canonical::{Rrset, group};
use crate::denial::{Claim, DenialSet};
use crate::name::Name;
use crate::outcome::{BogusReason, IndeterminateReason, RrsetId, Security};
use crate::rdata::{Ds, Nsec};
use crate::rtype::{self, rcode};
use crate::wire::Message;

use super::keys::{KeyOwner, Walk};
use super::trace::{StepDetail, StepStatus};
use super::{KeyEntry, Session, Stop, Validator};

/// A look-aside registry (RFC 5074 §3): a signed zone holding DLV records at `<zone>.<domain>`
/// for zones in `subtree`. Its own trust comes from the anchors (an island anchor for `domain`,
/// or the root chain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    /// The registry zone, e.g. `dlv.example.net.`.
    pub domain: Name,
    /// The part of the tree it may vouch for (the root by default).
    pub subtree: Name,
}

impl Registry {
    /// The name where the DLV for `zone` would be: `zone` with the subtree suffix replaced by the
    /// registry domain (RFC 5074 §5). `None` when it would exceed 255 octets.
    pub fn lookup_name(&self, zone: &Name) -> Option<Name> {
        let keep = zone.label_count().checked_sub(self.subtree.label_count())?;
        let labels: Vec<&[u8]> = zone.labels().take(keep).collect();
        let mut name = self.domain.clone();
        for l in labels.iter().rev() {
            name = name.prepend(l)?;
        }
        Some(name)
    }

    /// The inverse of [`Registry::lookup_name`]: the zone a name inside the registry stands for.
    pub fn zone_for(&self, lookup: &Name) -> Option<Name> {
        let keep = lookup.label_count().checked_sub(self.domain.label_count())?;
        if !lookup.is_at_or_below(&self.domain) {
            return None;
        }
        let labels: Vec<&[u8]> = lookup.labels().take(keep).collect();
        let mut name = self.subtree.clone();
        for l in labels.iter().rev() {
            name = name.prepend(l)?;
        }
        Some(name)
    }
}

impl Validator {
    /// The registries that may vouch for `name`, in precedence order. None at all for a name
    /// inside any registry: a registry never vouches for itself or another registry.
    fn registries_for(&self, name: &Name) -> Vec<Registry> {
        if self.registries.iter().any(|r| name.is_at_or_below(&r.domain)) {
            return Vec::new();
        }
        let mut list: Vec<(usize, &Registry)> =
            self.registries.iter().enumerate().filter(|(_, r)| name.is_at_or_below(&r.subtree)).collect();
        list.sort_by_key(|(i, r)| (std::cmp::Reverse(r.subtree.label_count()), *i));
        list.into_iter().map(|(_, r)| r.clone()).collect()
    }
}

/// What a look-aside registry said about one lookup name.
#[derive(Clone)]
pub(super) enum RegistryAnswer {
    /// A validated denial; `jump` is the registry name the proof lets the walk jump to (the
    /// longest common ancestor with the covering NSEC's owner), or `None` for one label up.
    Denied { jump: Option<Name> },
    /// A validated DLV RRset: the zone's DS records, and their TTL.
    Found(Vec<Ds>, u32),
    /// The registry's answer is insecure: it must not be used (RFC 5074 §5).
    Unusable,
}

impl Session<'_> {
    /// Looks `target` up in the registries that cover it; `bound` is the insecure point P: a DLV
    /// may only extend the chain at or below it, never override a proven part of the tree.
    /// Without a DLV, the ordinary chain's verdict `fallback` stands.
    pub(super) fn look_aside(
        &mut self,
        target: &Name,
        bound: Option<Name>,
        fallback: Security,
    ) -> Result<KeyOwner, Stop> {
        for registry in self.validator.registries_for(target) {
            if let Some(zone) = self.walk_registry(&registry, target, bound.as_ref())? {
                return self.walk_down(zone, target);
            }
        }
        Err(fallback.into())
    }

    /// The DLV walk in one registry (RFC 5074 §5, §6, §8): from `target` up, skipping names the
    /// registry's NSECs prove absent. `Some(zone)` when a DLV made `zone`'s keys trusted.
    fn walk_registry(
        &mut self,
        registry: &Registry,
        target: &Name,
        bound: Option<&Name>,
    ) -> Result<Option<Name>, Stop> {
        let mut candidate = target.clone();
        loop {
            if !candidate.is_at_or_below(&registry.subtree)
                || bound.is_some_and(|b| !candidate.is_at_or_below(b))
            {
                return Ok(None);
            }
            // Keys an earlier look-aside made trusted.
            if let Some(e @ KeyEntry::Trusted { .. }) =
                self.keys.get(&candidate).cloned().or_else(|| self.cache.key_entry(&candidate))
            {
                self.keys.insert(candidate.clone(), e);
                self.trace.record(&candidate, StepStatus::Lookaside, StepDetail::Cached);
                return Ok(Some(candidate));
            }
            let next_up = candidate.parent();
            let Some(lookup) = registry.lookup_name(&candidate) else {
                // Too long once the registry is appended: try the enclosing name.
                match next_up {
                    Some(n) => {
                        candidate = n;
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            match self.ask_registry(registry, &lookup)? {
                RegistryAnswer::Found(ds, ttl) => {
                    let detail = format!("DLV found in {} at {lookup}", registry.domain);
                    self.trace.record(&candidate, StepStatus::Lookaside, StepDetail::Reason(detail));
                    let entry = self.verify_dnskey_set(&candidate, &ds, &[], ttl)?;
                    self.remember(&candidate, entry.clone());
                    self.accept_entry(&candidate, &entry)?;
                    return Ok(Some(candidate));
                }
                RegistryAnswer::Unusable => return Ok(None),
                RegistryAnswer::Denied { jump } => {
                    if candidate == registry.subtree {
                        return Ok(None);
                    }
                    let jumped = jump
                        .and_then(|ca| {
                            if ca == registry.domain {
                                Some(registry.subtree.clone())
                            } else {
                                registry.zone_for(&ca)
                            }
                        })
                        .filter(|n| n.label_count() < candidate.label_count() && candidate.is_below(n));
                    match jumped.or(next_up) {
                        Some(n) => candidate = n,
                        None => return Ok(None),
                    }
                }
            }
        }
    }

    /// Asks the registry for `lookup DLV` (or answers from its cached NSECs) and validates the
    /// reply under the registry's own chain, without look-aside.
    fn ask_registry(&mut self, registry: &Registry, lookup: &Name) -> Result<RegistryAnswer, Stop> {
        if let Some(answer) = self.registry_answers.get(lookup) {
            return Ok(answer.clone());
        }
        if let Some(answer) = self.denial_from_cache(registry, lookup) {
            return Ok(answer);
        }
        let Some(response) = self.supplied_answer(lookup, rtype::DLV)?.cloned() else {
            let what = format!("{lookup} DLV (look-aside registry {})", registry.domain);
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed { what }).into());
        };
        let rc = response.rcode();
        if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
            let what = format!("{lookup} DLV (look-aside registry {}, rcode {rc})", registry.domain);
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed { what }).into());
        }
        let result = self.judge_registry_answer(registry, lookup, &response);
        if let Ok(answer) = &result {
            self.registry_answers.insert(lookup.clone(), answer.clone());
        }
        match result {
            Err(Stop::Final(Security::Bogus(reason))) => Err(Security::Bogus(BogusReason::Lookaside {
                registry: registry.domain.clone(),
                reason: Box::new(reason),
            })
            .into()),
            Err(Stop::Final(Security::Insecure(_))) => Ok(RegistryAnswer::Unusable),
            other => other,
        }
    }

    /// RFC 5074 §5: a DLV RRset signed under the registry's own chain, or a signed denial of one;
    /// an insecure registry answer is unusable.
    fn judge_registry_answer(
        &mut self,
        registry: &Registry,
        lookup: &Name,
        response: &Message,
    ) -> Result<RegistryAnswer, Stop> {
        let answer = group(&response.answer);
        if let Some(set) = answer.iter().find(|s| s.owner == *lookup && s.rtype == rtype::DLV) {
            let zone = match self.signer_zone(set, Walk::ChainOnly)? {
                Ok(zone) => zone,
                Err(_) => return Ok(RegistryAnswer::Unusable),
            };
            let keys = self.trusted_keys(&zone);
            let v = self.verify(set, &zone, &keys).map_err(Security::Bogus)?;
            let ds = set.rdatas.iter().filter_map(|r| Ds::parse(r)).collect();
            return Ok(RegistryAnswer::Found(ds, set.ttl.min(v.valid_for).min(v.original_ttl)));
        }
        let nxdomain = response.rcode() == rcode::NXDOMAIN;
        let authority = group(&response.authority);
        let denial: Vec<Rrset> = authority
            .iter()
            .filter(|s| matches!(s.rtype, rtype::SOA | rtype::NSEC | rtype::NSEC3))
            .cloned()
            .collect();
        let Some(signer) = denial.iter().find_map(|s| s.rrsigs.first()).map(|r| r.signer.clone()) else {
            // Unsigned denial: fine only where the registry itself is insecure.
            return match self.find_keys(lookup, Walk::ChainOnly) {
                Err(Stop::Final(Security::Insecure(_))) => Ok(RegistryAnswer::Unusable),
                Err(other) => Err(other),
                Ok(_) => {
                    let claim = Claim::NoData { name: lookup.clone(), qtype: rtype::DLV };
                    Err(Security::Bogus(BogusReason::NsecMissing { claim, zone: registry.domain.clone() })
                        .into())
                }
            };
        };
        if !lookup.is_at_or_below(&signer) {
            let rrset = RrsetId { owner: lookup.clone(), rtype: rtype::DLV };
            return Err(Security::Bogus(BogusReason::WrongSigner {
                rrset,
                signer,
                expected: registry.domain.clone(),
            })
            .into());
        }
        match self.find_keys(&signer, Walk::ChainOnly)? {
            KeyOwner::Target => {}
            KeyOwner::Enclosing(zone) => {
                let rrset = RrsetId { owner: lookup.clone(), rtype: rtype::DLV };
                return Err(
                    Security::Bogus(BogusReason::WrongSigner { rrset, signer, expected: zone }).into()
                );
            }
        }
        let keys = self.trusted_keys(&signer);
        let mut ttl = u32::MAX;
        for s in &denial {
            let v = self.verify(s, &signer, &keys).map_err(Security::Bogus)?;
            ttl = ttl.min(s.ttl).min(v.valid_for).min(v.original_ttl);
        }
        let claim = if nxdomain {
            Claim::NameError { name: lookup.clone() }
        } else {
            Claim::NoData { name: lookup.clone(), qtype: rtype::DLV }
        };
        let mut set = DenialSet::from_rrsets(&denial, &signer);
        match set.prove(&claim, None, &mut self.budget) {
            Ok(_) => {}
            Err(failure) => return Err(failure.into_security(&signer).into()),
        }
        let nsecs = set.nsec_records();
        if nsecs.is_empty() {
            // NSEC3 hides names: no skipping, one label at a time.
            return Ok(RegistryAnswer::Denied { jump: None });
        }
        for n in nsecs {
            self.learned_denials.push((registry.domain.clone(), n.clone(), ttl));
        }
        Ok(jump_for(nsecs, lookup))
    }

    /// A denial for `lookup` from NSECs of this registry validated earlier (RFC 5074 §6).
    fn denial_from_cache(&self, registry: &Registry, lookup: &Name) -> Option<RegistryAnswer> {
        let mut known: Vec<Nsec> = self.cache.registry_denials(&registry.domain);
        known.extend(
            self.learned_denials.iter().filter(|(r, _, _)| *r == registry.domain).map(|(_, n, _)| n.clone()),
        );
        if let Some(m) = known.iter().find(|n| n.owner == *lookup) {
            return (!m.types.contains(rtype::DLV)).then_some(RegistryAnswer::Denied { jump: None });
        }
        known.iter().any(|n| n.covers(lookup)).then(|| jump_for(&known, lookup))
    }
}

/// Where a validated NSEC denial lets the DLV walk go next (RFC 5074 §8): NODATA at the name →
/// one label up; a covering NSEC (NXDOMAIN or empty non-terminal) → the longest common ancestor
/// of the name and the NSEC's owner, since no DLV can sit between them.
fn jump_for(nsecs: &[Nsec], lookup: &Name) -> RegistryAnswer {
    if nsecs.iter().any(|n| n.owner == *lookup) {
        return RegistryAnswer::Denied { jump: None };
    }
    let jump = nsecs.iter().find(|n| n.covers(lookup)).map(|n| lookup.common_ancestor(&n.owner));
    RegistryAnswer::Denied { jump }
}
