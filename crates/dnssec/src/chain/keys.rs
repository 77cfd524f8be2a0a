//! The ordinary key walk (RFC 4035 §5.1–5.2; the role of Unbound's `processFindKey` and
//! `val_kentry.c`): from the closest trust anchor, or the deepest zone whose keys are already
//! known, down to a signer, one label at a time. Each label gets a DS lookup: a signed DS means
//! the child's DNSKEY set is fetched and must be signed by a key the DS names; a signed denial
//! with NS means an insecure delegation; without NS, no zone cut.

use std::sync::Arc;

use crate::anchor::TrustAnchor;
use crate::canonical::{Rrset, group};
use crate::crypto;
use crate::denial::{Claim, DenialSet, Proof, ProofFailure};
use crate::name::Name;
use crate::outcome::{BogusReason, IndeterminateReason, InsecureReason, RrsetId, Security};
use crate::rdata::{Dnskey, Ds};
use crate::rtype::{self, rcode};
use crate::verify::usable_ds;
use crate::wire::Message;

use super::trace::{StepDetail, StepStatus};
use super::{KeyEntry, KeyQuery, Session, Stop};

/// Where the trusted keys for a name were found.
pub(super) enum KeyOwner {
    /// The name is itself a zone whose keys are trusted.
    Target,
    /// The name lies inside this zone (no cut between), whose keys are trusted.
    Enclosing(Name),
}

/// Whether a walk that ends insecure may go on through the look-aside registries. Answers of a
/// registry are validated with the ordinary chain only: a registry never vouches for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Walk {
    /// The ordinary chain only.
    ChainOnly,
    /// The ordinary chain, then look-aside where it ends (RFC 5074 §5).
    WithLookaside,
}

/// What a DS lookup for a child name established.
#[derive(Clone, Debug)]
pub(super) enum DsLookup {
    /// A verified DS set, with the TTL it may be trusted for.
    Ds { set: Vec<Ds>, ttl: u32 },
    /// The name is no zone cut.
    NotZoneCut,
}

impl Session<'_> {
    /// The keys for `target`: the ordinary chain, and with [`Walk::WithLookaside`], where that
    /// ends insecure (or no anchor covers the name), the look-aside registries as a fallback.
    pub(super) fn find_keys(&mut self, target: &Name, walk: Walk) -> Result<KeyOwner, Stop> {
        let chain = self.walk_chain(target);
        if walk == Walk::ChainOnly || self.validator.registries.is_empty() {
            return chain;
        }
        match chain {
            Err(Stop::Final(Security::Insecure(reason)))
                if !matches!(reason, InsecureReason::NegativeTrustAnchor { .. }) =>
            {
                let bound = reason.zone().clone();
                self.look_aside(target, Some(bound), Security::Insecure(reason))
            }
            Err(Stop::Final(Security::Indeterminate(IndeterminateReason::NoTrustAnchor))) => {
                self.look_aside(target, None, Security::Indeterminate(IndeterminateReason::NoTrustAnchor))
            }
            other => other,
        }
    }

    /// The zone whose keys must verify `set`: `Ok(Ok(zone))` when it must be verified with that
    /// zone's keys, `Ok(Err(reason))` when it lies in an insecure zone.
    pub(super) fn signer_zone(
        &mut self,
        set: &Rrset,
        walk: Walk,
    ) -> Result<Result<Name, InsecureReason>, Stop> {
        let id = || RrsetId { owner: set.owner.clone(), rtype: set.rtype };
        let Some(sig) = set.rrsigs.first() else {
            // Unsigned: acceptable only below an insecure point.
            return match self.find_keys(&set.owner, walk) {
                Err(Stop::Final(Security::Insecure(reason))) => Ok(Err(reason)),
                Err(other) => Err(other),
                Ok(KeyOwner::Target) => {
                    Err(Security::Bogus(BogusReason::RrsigsMissing { rrset: id(), zone: set.owner.clone() })
                        .into())
                }
                Ok(KeyOwner::Enclosing(zone)) => {
                    Err(Security::Bogus(BogusReason::RrsigsMissing { rrset: id(), zone }).into())
                }
            };
        };
        let signer = sig.signer.clone();
        if !set.owner.is_at_or_below(&signer) {
            return Err(Security::Bogus(BogusReason::WrongSigner {
                rrset: id(),
                signer,
                expected: set.owner.clone(),
            })
            .into());
        }
        match self.find_keys(&signer, walk) {
            Err(Stop::Final(Security::Insecure(reason))) => Ok(Err(reason)),
            Err(other) => Err(other),
            Ok(KeyOwner::Target) => Ok(Ok(signer)),
            Ok(KeyOwner::Enclosing(zone)) => {
                Err(Security::Bogus(BogusReason::WrongSigner { rrset: id(), signer, expected: zone }).into())
            }
        }
    }

    /// The trusted DNSKEY set of `zone` (empty when not trusted).
    pub(super) fn trusted_keys(&self, zone: &Name) -> Arc<[Dnskey]> {
        match self.keys.get(zone) {
            Some(KeyEntry::Trusted { keys, .. }) => keys.clone(),
            _ => Arc::from(Vec::new()),
        }
    }

    /// Keeps an entry for this session and for the caller's cache.
    pub(super) fn remember(&mut self, zone: &Name, entry: KeyEntry) {
        self.keys.insert(zone.clone(), entry.clone());
        self.learned.push((zone.clone(), entry));
    }

    /// The answer supplied for `name rtype`, or a stop that asks for it.
    pub(super) fn supplied_answer(&self, name: &Name, rtype: u16) -> Result<Option<&Message>, Stop> {
        let q = KeyQuery { name: name.clone(), rtype };
        match self.supplied.get(&q) {
            Some(r) => Ok(r.as_ref()),
            None => Err(Stop::Need(q)),
        }
    }

    /// Walks from the closest anchor (or the deepest known entry) down to `target`.
    fn walk_chain(&mut self, target: &Name) -> Result<KeyOwner, Stop> {
        if !self.ignore_negative
            && let Some(nta) = self.validator.negative.covering(target, self.now)
        {
            return Err(Security::Insecure(InsecureReason::NegativeTrustAnchor { zone: nta.zone }).into());
        }
        let Some(anchor) = self.validator.anchors.closest(target).cloned() else {
            return Err(Security::Indeterminate(IndeterminateReason::NoTrustAnchor).into());
        };
        let (zone, entry) = match self.deepest_known(target, &anchor.zone) {
            Some(known) => known,
            None => {
                let e = self.anchor_entry(&anchor)?;
                (anchor.zone.clone(), e)
            }
        };
        self.accept_entry(&zone, &entry)?;
        self.walk_down(zone, target)
    }

    /// The deepest name at or above `target` and at or below `anchor` with a known entry (this
    /// session's or the cache's). The trusted zones above it are traced as cached.
    fn deepest_known(&mut self, target: &Name, anchor: &Name) -> Option<(Name, KeyEntry)> {
        let mut found = None;
        let mut n = Some(target.clone());
        while let Some(cur) = n {
            if !cur.is_at_or_below(anchor) {
                break;
            }
            if !self.keys.contains_key(&cur)
                && let Some(e) = self.cache.key_entry(&cur)
            {
                self.keys.insert(cur.clone(), e);
            }
            if let Some(e) = self.keys.get(&cur) {
                found = Some((cur.clone(), e.clone()));
                break;
            }
            n = cur.parent();
        }
        let (zone, entry) = found?;
        // Name the trusted zones above it, for the summary.
        let mut above = Vec::new();
        let mut n = zone.parent();
        while let Some(cur) = n {
            if !cur.is_at_or_below(anchor) {
                break;
            }
            if let Some(KeyEntry::Trusted { .. }) =
                self.keys.get(&cur).cloned().or_else(|| self.cache.key_entry(&cur))
            {
                above.push(cur.clone());
            }
            n = cur.parent();
        }
        for z in above.iter().rev() {
            self.trace.record_cached(z);
        }
        Some((zone, entry))
    }

    /// From a trusted `zone` down to `target`, one DS lookup per label.
    pub(super) fn walk_down(&mut self, mut zone: Name, target: &Name) -> Result<KeyOwner, Stop> {
        let mut pos = zone.clone();
        while pos != *target {
            let child = target.trim_to(pos.label_count() + 1);
            if let Some(e) = self.keys.get(&child).cloned() {
                self.accept_entry(&child, &e)?;
                zone = child.clone();
                pos = child;
                continue;
            }
            match self.lookup_ds(&zone, &child)? {
                DsLookup::NotZoneCut => {
                    self.trace.record(&child, StepStatus::NotZoneCut, StepDetail::NotZoneCut);
                }
                DsLookup::Ds { set, ttl } => {
                    let entry = self.verify_dnskey_set(&child, &set, &[], ttl)?;
                    self.remember(&child, entry.clone());
                    self.accept_entry(&child, &entry)?;
                    zone = child.clone();
                }
            }
            pos = child;
        }
        match self.keys.get(&zone) {
            Some(KeyEntry::Trusted { .. }) if zone == *target => Ok(KeyOwner::Target),
            _ => Ok(KeyOwner::Enclosing(zone)),
        }
    }

    /// Goes on below a trusted entry; an insecure or bad one ends the walk with its verdict.
    pub(super) fn accept_entry(&mut self, zone: &Name, entry: &KeyEntry) -> Result<(), Stop> {
        match entry {
            KeyEntry::Trusted { keys, .. } => {
                self.trace.record_keys(zone, keys);
                Ok(())
            }
            KeyEntry::Insecure { reason, .. } => {
                self.trace.record(zone, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                Err(Security::Insecure(reason.clone()).into())
            }
            KeyEntry::Bad { reason } => {
                self.trace.record(zone, StepStatus::Bogus, StepDetail::Reason(reason.to_string()));
                Err(Security::Bogus(reason.clone()).into())
            }
        }
    }

    /// The entry for a trust anchor's zone: its DNSKEY set checked against the anchor.
    fn anchor_entry(&mut self, anchor: &TrustAnchor) -> Result<KeyEntry, Stop> {
        if !anchor.ds.is_empty() {
            self.trace.record(&anchor.zone, StepStatus::Trusted, StepDetail::Ds(anchor.ds.clone()));
        }
        let entry = if anchor.keys.is_empty() && usable_ds(&anchor.ds).is_empty() {
            KeyEntry::Insecure { reason: unsupported_reason(&anchor.zone, &anchor.ds), ttl: 3600 }
        } else {
            self.verify_dnskey_set(&anchor.zone, &anchor.ds, &anchor.keys, u32::MAX)?
        };
        self.remember(&anchor.zone, entry.clone());
        Ok(entry)
    }

    /// Fetches and checks `zone`'s DNSKEY set against DS records and/or anchor keys
    /// (RFC 4035 §5.2): some key matching them must sign the set.
    pub(super) fn verify_dnskey_set(
        &mut self,
        zone: &Name,
        ds: &[Ds],
        anchor_keys: &[Dnskey],
        ds_ttl: u32,
    ) -> Result<KeyEntry, Stop> {
        let usable = usable_ds(ds);
        if usable.is_empty() && anchor_keys.is_empty() {
            return Ok(KeyEntry::Insecure { reason: unsupported_reason(zone, ds), ttl: ds_ttl.min(3600) });
        }
        let Some(response) = self.supplied_answer(zone, rtype::DNSKEY)? else {
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what: format!("{zone} DNSKEY"),
            })
            .into());
        };
        let sets = group(&response.answer);
        let Some(set) = sets.into_iter().find(|s| s.owner == *zone && s.rtype == rtype::DNSKEY) else {
            return Ok(KeyEntry::Bad { reason: BogusReason::DnskeyMissing { zone: zone.clone() } });
        };
        let keys: Vec<Dnskey> = set.rdatas.iter().filter_map(|r| Dnskey::parse(r)).collect();
        let entry_points: Vec<Dnskey> = keys
            .iter()
            .filter(|k| {
                anchor_keys.iter().any(|a| a.rdata == k.rdata)
                    || usable.iter().any(|d| crate::verify::ds_matches(zone, k, d))
            })
            .cloned()
            .collect();
        if entry_points.is_empty() {
            // All DS name algorithms we support, yet none matches a published key.
            return Ok(KeyEntry::Bad { reason: BogusReason::DnskeyMissing { zone: zone.clone() } });
        }
        let supported: Vec<Dnskey> = entry_points
            .iter()
            .filter(|k| crypto::check_key(k.algorithm, &k.public_key).is_ok())
            .cloned()
            .collect();
        if supported.is_empty() {
            return Ok(KeyEntry::Insecure {
                reason: InsecureReason::UnsupportedAlgorithm { zone: zone.clone() },
                ttl: set.ttl,
            });
        }
        match self.verify(&set, zone, &supported) {
            Ok(v) => {
                let rrset = RrsetId { owner: zone.clone(), rtype: rtype::DNSKEY };
                self.trace.record(
                    zone,
                    StepStatus::Trusted,
                    StepDetail::Signed { rrset, key_tag: v.key_tag },
                );
                let ttl = set.ttl.min(v.original_ttl).min(v.valid_for).min(ds_ttl);
                Ok(KeyEntry::Trusted { keys: keys.into(), ttl })
            }
            Err(BogusReason::NoMatchingKey { .. }) => {
                Ok(KeyEntry::Bad { reason: BogusReason::DnskeyMissing { zone: zone.clone() } })
            }
            Err(reason @ BogusReason::WorkLimit { .. }) => Err(Security::Bogus(reason).into()),
            Err(reason) => Ok(KeyEntry::Bad { reason }),
        }
    }

    /// Looks up `child DS` in `zone` (once per session) and remembers a bogus or insecure end.
    fn lookup_ds(&mut self, zone: &Name, child: &Name) -> Result<DsLookup, Stop> {
        if let Some(s) = self.ds_lookups.get(child) {
            return Ok(s.clone());
        }
        let lookup = match self.judge_ds_answer(zone, child) {
            Ok(s) => s,
            Err(Stop::Final(Security::Bogus(reason))) => {
                self.remember(child, KeyEntry::Bad { reason: reason.clone() });
                return Err(Security::Bogus(reason).into());
            }
            Err(Stop::Final(Security::Insecure(reason))) => {
                self.remember(child, KeyEntry::Insecure { reason: reason.clone(), ttl: 3600 });
                self.trace.record(child, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                return Err(Security::Insecure(reason).into());
            }
            Err(other) => return Err(other),
        };
        self.ds_lookups.insert(child.clone(), lookup.clone());
        Ok(lookup)
    }

    /// RFC 4035 §5.2: the DS answer for `child`, signed by `zone`: a DS set, or a signed proof
    /// that there is none (insecure delegation) or that `child` is no zone cut.
    fn judge_ds_answer(&mut self, zone: &Name, child: &Name) -> Result<DsLookup, Stop> {
        let response = match self.supplied_answer(child, rtype::DS)? {
            Some(r) => r.clone(),
            None => {
                return Err(Security::Indeterminate(IndeterminateReason::LookupFailed {
                    what: format!("{child} DS"),
                })
                .into());
            }
        };
        let rc = response.rcode();
        if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what: format!("{child} DS (rcode {rc})"),
            })
            .into());
        }
        let keys = self.trusted_keys(zone);
        let answer = group(&response.answer);
        if let Some(set) = answer.iter().find(|s| s.owner == *child && s.rtype == rtype::DS) {
            let v = self.verify(set, zone, &keys).map_err(Security::Bogus)?;
            let ds: Vec<Ds> = set.rdatas.iter().filter_map(|r| Ds::parse(r)).collect();
            self.trace.record(child, StepStatus::Trusted, StepDetail::Ds(ds.clone()));
            return Ok(DsLookup::Ds { set: ds, ttl: set.ttl.min(v.valid_for).min(v.original_ttl) });
        }
        // No DS: the denial must be signed by the parent zone and prove it.
        let proofs: Vec<Rrset> = group(&response.authority)
            .into_iter()
            .filter(|s| matches!(s.rtype, rtype::NSEC | rtype::NSEC3))
            .collect();
        if proofs.is_empty() {
            return Err(Security::Bogus(BogusReason::DsUnproven { zone: child.clone() }).into());
        }
        for set in &proofs {
            self.verify(set, zone, &keys).map_err(Security::Bogus)?;
        }
        let claim = Claim::DsAbsence { name: child.clone() };
        match DenialSet::from_rrsets(&proofs, zone).prove(&claim, None, &mut self.budget) {
            Ok(Proof::InsecureDelegation(proof)) => {
                Err(Security::Insecure(InsecureReason::NoDs { zone: child.clone(), proof }).into())
            }
            Ok(_) => Ok(DsLookup::NotZoneCut),
            Err(ProofFailure::NotProven(_)) => {
                Err(Security::Bogus(BogusReason::DsUnproven { zone: child.clone() }).into())
            }
            Err(failure) => Err(failure.into_security(child).into()),
        }
    }
}

/// Why a zone whose DS records name nothing we support is insecure (RFC 4035 §5.2).
pub(super) fn unsupported_reason(zone: &Name, ds: &[Ds]) -> InsecureReason {
    if ds.iter().any(|d| crypto::digest_supported(d.digest_type)) {
        InsecureReason::UnsupportedAlgorithm { zone: zone.clone() }
    } else {
        InsecureReason::UnsupportedDigest { zone: zone.clone() }
    }
}
