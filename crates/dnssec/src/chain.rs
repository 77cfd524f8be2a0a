//! The chain walk: a sans-I/O state machine that validates one response.
//!
//! The caller starts a [`Session`], calls [`Session::validate`], and gets either
//! [`Progress::Done`] with a [`Verdict`] or [`Progress::Need`] with the DS or DNSKEY lookup the
//! walk needs next; it answers with [`Session::supply`] and calls `validate` again. Work already
//! done (verified DS sets, trusted key sets, zone cuts) is kept in the session, so each call only
//! continues where the last one stopped, and no signature is checked twice.
//!
//! Order of work (RFC 4035 §5): classify the response and find the signer of every RRset
//! (answer chain, or the denial); walk from the closest trust anchor down to each signer, one
//! label at a time, with a DS lookup per label (a signed DS → fetch and verify the child's
//! DNSKEY set; a signed denial with NS → insecure delegation; without NS → no zone cut); then
//! verify each RRset and the NSEC/NSEC3 proofs with the signer's keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::anchor::{TrustAnchor, TrustAnchors};
use crate::canonical::{Rrset, group};
use crate::crypto;
use crate::limits::{self, Budget};
use crate::name::Name;
use crate::nsec::{self, DsAbsence};
use crate::nsec3::{Nsec3Failure, Nsec3Proof, Nsec3Set};
use crate::outcome::{BogusReason, DenialKind, IndeterminateReason, InsecureReason, RrsetId, Security};
use crate::rdata::{Dnskey, Ds, Nsec, Nsec3};
use crate::rtype::{self, rcode};
use crate::verify::{Clock, usable_ds, verify_rrset};
use crate::wire::{Message, Question};

/// A key lookup the walk needs: `name DS` or `name DNSKEY`, asked with DO and CD set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyQuery {
    /// Owner to ask for.
    pub name: Name,
    /// [`rtype::DS`] or [`rtype::DNSKEY`] (or [`rtype::DLV`] for look-aside).
    pub rtype: u16,
}

/// What is known about a zone's keys; the caller may cache these between sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEntry {
    /// The zone's keys failed validation.
    Bad {
        /// Why.
        reason: BogusReason,
    },
    /// The chain ends at or above this zone.
    Insecure {
        /// Why.
        reason: InsecureReason,
        /// Seconds this stays true.
        ttl: u32,
    },
    /// The zone's DNSKEY set, verified.
    Trusted {
        /// The DNSKEY set (shared: cache hits clone only the pointer).
        keys: Arc<[Dnskey]>,
        /// Seconds this stays valid (TTLs and signature expiry).
        ttl: u32,
    },
}

/// Where the caller's cache of key entries plugs in.
pub trait KeyCache {
    /// A cached entry for `zone`, if still valid.
    fn key_entry(&self, zone: &Name) -> Option<KeyEntry>;

    /// Validated NSEC records of a look-aside registry, still valid (RFC 5074 §6 aggressive
    /// negative caching): they prove names absent without asking the registry again.
    fn registry_denials(&self, _registry: &Name) -> Vec<Nsec> {
        Vec::new()
    }
}

/// A cache that knows nothing.
pub struct NoKeyCache;

impl KeyCache for NoKeyCache {
    fn key_entry(&self, _zone: &Name) -> Option<KeyEntry> {
        None
    }
}

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
    /// The DS set that vouches for the zone's keys.
    Ds(Vec<Ds>),
    /// The zone's trusted DNSKEY set.
    Keys(Arc<[Dnskey]>),
    /// Why the step failed or ended the chain.
    Reason(String),
    /// The name is no zone cut.
    NotZoneCut,
    /// Keys taken from the cache of an earlier validation.
    Cached,
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
    /// A name between zones that is no zone cut.
    NotZoneCut,
    /// Keys trusted.
    Trusted,
    /// Keys trusted through a look-aside registry (a DLV record read as the zone's DS).
    Lookaside,
}

impl StepStatus {
    /// One-letter tag: `T`, `I`, `B`, `-`, `L`.
    pub fn letter(self) -> char {
        match self {
            Self::Bogus => 'B',
            Self::Insecure => 'I',
            Self::NotZoneCut => '-',
            Self::Trusted => 'T',
            Self::Lookaside => 'L',
        }
    }
}

/// The validator's decision on one response.
#[derive(Clone, Debug)]
#[must_use]
pub struct Verdict {
    /// Secure, insecure, bogus or indeterminate.
    pub security: Security,
    /// Upper bound in seconds for caching the answer (signature expiry, original TTLs).
    pub ttl_cap: u32,
    /// The chain steps taken, top-down.
    pub steps: Vec<ChainStep>,
    /// Work done.
    pub budget: Budget,
}

impl Verdict {
    /// A one-line chain summary such as `. [T] > org [T] > broken.org [B]`.
    pub fn summary(&self) -> String {
        // One entry per zone, with the last status recorded for it (DS trusted, then keys bogus).
        let mut parts: Vec<(&Name, char)> = Vec::new();
        for s in self.steps.iter().filter(|s| s.status != StepStatus::NotZoneCut) {
            match parts.iter_mut().find(|(z, _)| *z == &s.zone) {
                Some(p) => p.1 = s.status.letter(),
                None => parts.push((&s.zone, s.status.letter())),
            }
        }
        parts.iter().map(|(z, l)| format!("{z} [{l}]")).collect::<Vec<_>>().join(" > ")
    }
}

/// What [`Session::validate`] returns.
#[derive(Debug)]
pub enum Progress {
    /// A verdict.
    Done(Verdict),
    /// Supply the answer to this lookup, then call `validate` again.
    Need(KeyQuery),
}

/// Configuration and anchors; cheap to share between sessions.
#[derive(Clone, Debug)]
pub struct Validator {
    anchors: TrustAnchors,
    skew: u32,
    registries: Vec<Registry>,
}

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
    /// A validator with these anchors and the default clock skew.
    pub fn new(anchors: TrustAnchors) -> Self {
        Self { anchors, skew: limits::DEFAULT_CLOCK_SKEW, registries: Vec::new() }
    }

    /// Adds look-aside registries, in configured order. Precedence when several cover a name: the
    /// most specific subtree first, then configured order (RFC 5074 §7 leaves it to us).
    pub fn with_registries(mut self, registries: Vec<Registry>) -> Self {
        self.registries = registries;
        self
    }

    /// The registries, in configured order.
    pub fn registries(&self) -> &[Registry] {
        &self.registries
    }

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

    /// Sets the clock skew allowed around signature validity windows.
    pub fn with_skew(mut self, skew: u32) -> Self {
        self.skew = skew;
        self
    }

    /// The anchors.
    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// Starts validating one response at time `now` (seconds since the epoch).
    pub fn session<'a>(&'a self, now: u64, cache: &'a (dyn KeyCache + Sync)) -> Session<'a> {
        Session {
            validator: self,
            clock: Clock { now: now as u32, skew: self.skew },
            cache,
            budget: Budget::default(),
            supplied: HashMap::new(),
            keys: HashMap::new(),
            ds_steps: HashMap::new(),
            learned: Vec::new(),
            learned_denials: Vec::new(),
            in_lookaside: false,
            steps: Vec::new(),
            verified: HashMap::new(),
            dlv_answers: HashMap::new(),
        }
    }
}

#[derive(Clone, Debug)]
enum DsStep {
    Ds { set: Vec<Ds>, ttl: u32 },
    NotZoneCut,
}

/// The validation of one response; see the module documentation.
pub struct Session<'a> {
    validator: &'a Validator,
    clock: Clock,
    cache: &'a (dyn KeyCache + Sync),
    budget: Budget,
    supplied: HashMap<KeyQuery, Option<Message>>,
    keys: HashMap<Name, KeyEntry>,
    ds_steps: HashMap<Name, DsStep>,
    learned: Vec<(Name, KeyEntry)>,
    learned_denials: Vec<(Name, Nsec, u32)>,
    in_lookaside: bool,
    steps: Vec<ChainStep>,
    /// RRsets already verified in this session (the same SOA or NSEC comes back in several
    /// answers, and `validate` walks the known part again after each lookup): checked once.
    verified: HashMap<Vec<u8>, crate::verify::Verified>,
    /// Registry answers already judged, by lookup name.
    dlv_answers: HashMap<Name, DlvAnswer>,
}

/// What a look-aside registry said about one lookup name.
#[derive(Clone)]
enum DlvAnswer {
    /// A validated DLV RRset: the zone's DS records, and their TTL.
    Found(Vec<Ds>, u32),
    /// A validated denial; `jump` is the registry name the proof lets the walk jump to (the
    /// longest common ancestor with the covering NSEC's owner), or `None` for one label up.
    Denied { jump: Option<Name> },
    /// The registry's answer is insecure: it must not be used (RFC 5074 §5).
    Unusable,
}

/// Internal: the walk stops for a lookup, or with a final security state.
enum Stop {
    Need(KeyQuery),
    Final(Security),
}

impl From<Security> for Stop {
    fn from(s: Security) -> Self {
        Stop::Final(s)
    }
}

/// What the key walk found for a target name.
enum Keys {
    /// The target is a zone whose keys are trusted.
    Zone,
    /// The target is inside `zone` (not a cut), which is trusted.
    Inside(Name),
}

/// One RRset (or denial) to verify, with the zone that should sign it.
struct Item {
    set: Rrset,
    /// Closest encloser of a wildcard expansion, when the RRSIG labels say it was one.
    wildcard_ce: Option<Name>,
}

impl<'a> Session<'a> {
    /// Hands in the answer to a lookup the walk asked for; `None` when the lookup failed.
    pub fn supply(&mut self, query: KeyQuery, response: Option<Message>) {
        self.budget.key_queries += 1;
        self.supplied.insert(query, response);
    }

    /// Verifies an RRset with a zone's keys, at most once per session for the same data and
    /// signatures.
    fn verify(
        &mut self,
        set: &Rrset,
        zone: &Name,
        keys: &[Dnskey],
    ) -> Result<crate::verify::Verified, BogusReason> {
        let mut key = zone.to_canonical_wire();
        key.extend_from_slice(&set.owner.to_canonical_wire());
        key.extend_from_slice(&set.rtype.to_be_bytes());
        let mut rdatas: Vec<&Vec<u8>> = set.rdatas.iter().collect();
        rdatas.sort();
        for r in rdatas {
            key.extend_from_slice(&(r.len() as u16).to_be_bytes());
            key.extend_from_slice(r);
        }
        for sig in &set.rrsigs {
            key.extend_from_slice(&sig.signed_prefix);
            key.extend_from_slice(&sig.signature);
        }
        // The key set is part of the question: a DNSKEY set must be signed by a key its DS names.
        for k in keys {
            key.extend_from_slice(&k.key_tag().to_be_bytes());
            key.push(k.algorithm);
        }
        if let Some(v) = self.verified.get(&key) {
            return Ok(*v);
        }
        let v = verify_rrset(set, zone, keys, self.clock, &mut self.budget)?;
        self.verified.insert(key, v);
        Ok(v)
    }

    /// Key entries learned during this session, for the caller's cache.
    pub fn learned(&self) -> &[(Name, KeyEntry)] {
        &self.learned
    }

    /// Validated registry NSECs learned during this session (registry, record, TTL), for the
    /// caller's aggressive negative cache.
    pub fn learned_denials(&self) -> &[(Name, Nsec, u32)] {
        &self.learned_denials
    }

    /// Validates `response` to `question`.
    pub fn validate(&mut self, question: &Question, response: &Message) -> Progress {
        match self.run(question, response) {
            Ok(ttl_cap) => self.done(Security::Secure, ttl_cap),
            Err(Stop::Final(security)) => self.done(security, 0),
            Err(Stop::Need(q)) => {
                if self.budget.key_queries >= limits::MAX_KEY_QUERIES {
                    let s = Security::Bogus(BogusReason::WorkLimit { limit: "key lookups per response" });
                    return self.done(s, 0);
                }
                Progress::Need(q)
            }
        }
    }

    /// Convenience for synchronous callers: answers every lookup with `fetch`.
    pub fn validate_with(
        &mut self,
        question: &Question,
        response: &Message,
        mut fetch: impl FnMut(&KeyQuery) -> Option<Message>,
    ) -> Verdict {
        loop {
            match self.validate(question, response) {
                Progress::Done(v) => return v,
                Progress::Need(q) => {
                    let answer = fetch(&q);
                    self.supply(q, answer);
                }
            }
        }
    }

    fn done(&mut self, security: Security, ttl_cap: u32) -> Progress {
        Progress::Done(Verdict { security, ttl_cap, steps: self.steps.clone(), budget: self.budget.clone() })
    }

    fn step(&mut self, zone: &Name, status: StepStatus, detail: StepDetail) {
        let step = ChainStep { zone: zone.clone(), status, detail };
        // Calls of `validate` after a lookup walk the known part again: record each step once.
        if !self.steps.contains(&step) {
            self.steps.push(step);
        }
    }

    /// The whole check; `Ok` carries the TTL cap of a secure answer.
    fn run(&mut self, question: &Question, response: &Message) -> Result<u32, Stop> {
        let rc = response.rcode();
        if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what: format!("{} {} (rcode {rc})", question.name, rtype::type_name(question.qtype)),
            })
            .into());
        }
        let answer = group(&response.answer);
        let authority = group(&response.authority);
        let (items, sname) = self.collect_chain(question, &answer)?;
        let positive =
            items.last().is_some_and(|i| i.set.rtype == question.qtype || question.qtype == rtype::ANY);
        let negative = !positive;
        // Phase 1: resolve the keys of every signer (may ask for lookups).
        let mut worst = Security::Secure;
        let mut ttl_cap = u32::MAX;
        let mut zones: Vec<(usize, Name)> = Vec::new();
        let mut insecure: Option<InsecureReason> = None;
        for (i, item) in items.iter().enumerate() {
            match self.signer_keys(&item.set)? {
                Ok(zone) => zones.push((i, zone)),
                Err(reason) => {
                    insecure.get_or_insert(reason);
                }
            }
        }
        // Denial: the SOA and NSEC/NSEC3 sets from the authority section, and whichever wildcard
        // expansions need a proof.
        let denial: Vec<Rrset> = authority
            .iter()
            .filter(|s| matches!(s.rtype, rtype::SOA | rtype::NSEC | rtype::NSEC3))
            .cloned()
            .collect();
        let needs_denial = negative || items.iter().any(|i| i.wildcard_ce.is_some());
        let mut denial_zone = None;
        if needs_denial {
            let signed = denial.iter().find(|s| !s.rrsigs.is_empty());
            match signed {
                Some(s) => {
                    let signer = s.rrsigs[0].signer.clone();
                    if !sname.is_at_or_below(&signer) && negative {
                        let rrset = RrsetId { owner: s.owner.clone(), rtype: s.rtype };
                        return Err(Security::Bogus(BogusReason::WrongSigner {
                            rrset,
                            signer,
                            expected: sname.clone(),
                        })
                        .into());
                    }
                    match self.find_keys(&signer)? {
                        Keys::Zone => denial_zone = Some(signer),
                        Keys::Inside(zone) => {
                            let rrset = RrsetId { owner: s.owner.clone(), rtype: s.rtype };
                            return Err(Security::Bogus(BogusReason::WrongSigner {
                                rrset,
                                signer,
                                expected: zone,
                            })
                            .into());
                        }
                    }
                }
                None if negative => {
                    // An unsigned denial is fine only in an insecure zone. A DS lives in the
                    // parent zone, so its denial comes from there.
                    let denier = if question.qtype == rtype::DS {
                        sname.parent().unwrap_or_else(Name::root)
                    } else {
                        sname.clone()
                    };
                    let zone = match self.find_keys(&denier)? {
                        Keys::Zone => sname.clone(),
                        Keys::Inside(zone) => zone,
                    };
                    let what = if rc == rcode::NXDOMAIN {
                        format!("{sname} does not exist")
                    } else {
                        format!("{sname} has no {} records", rtype::type_name(question.qtype))
                    };
                    return Err(Security::Bogus(BogusReason::NsecMissing { what, zone }).into());
                }
                None => {}
            }
        }
        // Phase 2: verify.
        for (i, zone) in &zones {
            let keys = self.trusted_keys(zone);
            let v = self.verify(&items[*i].set, zone, &keys).map_err(|r| {
                self.step(zone, StepStatus::Bogus, StepDetail::Reason(r.to_string()));
                Security::Bogus(r)
            })?;
            let rrset = RrsetId { owner: items[*i].set.owner.clone(), rtype: items[*i].set.rtype };
            self.step(zone, StepStatus::Trusted, StepDetail::Signed { rrset, key_tag: v.key_tag });
            ttl_cap = ttl_cap.min(v.valid_for).min(v.original_ttl);
        }
        if let Some(reason) = insecure {
            worst = Security::Insecure(reason);
        }
        if let Some(zone) = denial_zone {
            let result = self.check_denial(
                &denial,
                &zone,
                &items,
                &sname,
                question.qtype,
                negative,
                rc == rcode::NXDOMAIN,
            );
            let result = match result {
                Ok(r) => r,
                Err(Stop::Final(s)) => {
                    self.denial_step(&zone, &s);
                    return Err(s.into());
                }
                Err(other) => return Err(other),
            };
            match result {
                Ok(cap) => ttl_cap = ttl_cap.min(cap),
                Err(s) => {
                    self.denial_step(&zone, &s);
                    if worst.is_secure() {
                        worst = s;
                    }
                }
            }
        }
        match worst {
            Security::Secure => Ok(if ttl_cap == u32::MAX { 0 } else { ttl_cap }),
            other => Err(other.into()),
        }
    }

    /// Verifies the denial RRsets and proves the denial and any wildcard expansion.
    /// `Ok(Ok(ttl_cap))` when secure, `Ok(Err(security))` when the proof is only insecure.
    #[allow(clippy::too_many_arguments)]
    fn check_denial(
        &mut self,
        denial: &[Rrset],
        zone: &Name,
        items: &[Item],
        sname: &Name,
        qtype: u16,
        negative: bool,
        nxdomain: bool,
    ) -> Result<Result<u32, Security>, Stop> {
        let keys = self.trusted_keys(zone);
        let mut ttl_cap = u32::MAX;
        for s in denial {
            let v = self.verify(s, zone, &keys).map_err(Security::Bogus)?;
            ttl_cap = ttl_cap.min(v.valid_for).min(v.original_ttl);
        }
        let mut result = if negative {
            self.prove_denial(denial, zone, sname, qtype, nxdomain)?
        } else {
            Security::Secure
        };
        for item in items.iter().filter(|i| i.wildcard_ce.is_some()) {
            let ce = item.wildcard_ce.clone().unwrap_or_else(Name::root);
            let r = self.prove_wildcard(denial, zone, &item.set.owner, &ce)?;
            if !r.is_secure() {
                result = r;
            }
        }
        Ok(if result.is_secure() { Ok(ttl_cap) } else { Err(result) })
    }

    /// Records where a denial failed or ended the chain, for traces.
    fn denial_step(&mut self, zone: &Name, s: &Security) {
        let status = match s {
            Security::Bogus(_) => StepStatus::Bogus,
            Security::Insecure(_) => StepStatus::Insecure,
            _ => return,
        };
        let detail = match s {
            Security::Bogus(r) => r.to_string(),
            Security::Insecure(r) => r.to_string(),
            _ => String::new(),
        };
        self.step(zone, status, StepDetail::Reason(detail));
    }

    /// Follows the CNAME/DNAME chain from the question name through the answer section.
    fn collect_chain(&self, question: &Question, answer: &[Rrset]) -> Result<(Vec<Item>, Name), Stop> {
        let mut items = Vec::new();
        let mut sname = question.name.clone();
        let qtype = question.qtype;
        for _ in 0..=limits::MAX_CNAME_CHAIN {
            let item = |set: &Rrset| Item { wildcard_ce: wildcard_ce(set), set: set.clone() };
            if let Some(set) =
                answer.iter().find(|s| s.owner == sname && (s.rtype == qtype || qtype == rtype::ANY))
            {
                items.push(item(set));
                if qtype == rtype::ANY {
                    for other in answer.iter().filter(|s| s.owner == sname && s.rtype != set.rtype) {
                        items.push(item(other));
                    }
                }
                return Ok((items, sname));
            }
            // DNAME (RFC 6672): validate the DNAME; the synthesized CNAME is unsigned.
            if let Some(set) = answer.iter().find(|s| s.rtype == rtype::DNAME && sname.is_below(&s.owner)) {
                items.push(item(set));
                let Some(target) = set.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok()) else {
                    return Ok((items, sname));
                };
                let keep = sname.label_count() - set.owner.label_count();
                let prefix: Vec<Vec<u8>> = sname.labels().take(keep).map(<[u8]>::to_vec).collect();
                let mut next = Some(target);
                for label in prefix.iter().rev() {
                    next = next.and_then(|n| n.prepend(label));
                }
                let Some(next) = next else { return Ok((items, sname)) };
                // The CNAME synthesized from the DNAME is unsigned (RFC 6672 §5.3.1); it must
                // agree with the DNAME, and is then skipped.
                if let Some(synth) = answer.iter().find(|s| s.owner == sname && s.rtype == rtype::CNAME)
                    && synth.rrsigs.is_empty()
                    && synth.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok())
                        != Some(next.clone())
                {
                    let rrset = RrsetId { owner: synth.owner.clone(), rtype: rtype::CNAME };
                    return Err(Security::Bogus(BogusReason::RrsigsMissing {
                        rrset,
                        zone: set.owner.clone(),
                    })
                    .into());
                }
                sname = next;
                continue;
            }
            if let Some(set) = answer.iter().find(|s| s.owner == sname && s.rtype == rtype::CNAME) {
                items.push(item(set));
                let target = set.rdatas.first().and_then(|r| Name::from_wire(r.clone()).ok());
                match target {
                    Some(t) => sname = t,
                    None => return Ok((items, sname)),
                }
                continue;
            }
            return Ok((items, sname));
        }
        Err(Security::Bogus(BogusReason::CnameChainTooLong).into())
    }

    /// Resolves the keys for an RRset's signer. `Ok(Some(zone))` when it must be verified with
    /// that zone's keys, `Ok(None)` when it lies in an insecure zone.
    fn signer_keys(&mut self, set: &Rrset) -> Result<Result<Name, InsecureReason>, Stop> {
        let id = || RrsetId { owner: set.owner.clone(), rtype: set.rtype };
        let Some(sig) = set.rrsigs.first() else {
            // Unsigned: acceptable only below an insecure point.
            return match self.find_keys(&set.owner) {
                Err(Stop::Final(Security::Insecure(reason))) => Ok(Err(reason)),
                Err(other) => Err(other),
                Ok(Keys::Zone) => {
                    Err(Security::Bogus(BogusReason::RrsigsMissing { rrset: id(), zone: set.owner.clone() })
                        .into())
                }
                Ok(Keys::Inside(zone)) => {
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
        match self.find_keys(&signer) {
            Err(Stop::Final(Security::Insecure(reason))) => Ok(Err(reason)),
            Err(other) => Err(other),
            Ok(Keys::Zone) => Ok(Ok(signer)),
            Ok(Keys::Inside(zone)) => {
                Err(Security::Bogus(BogusReason::WrongSigner { rrset: id(), signer, expected: zone }).into())
            }
        }
    }

    fn trusted_keys(&self, zone: &Name) -> Arc<[Dnskey]> {
        match self.keys.get(zone) {
            Some(KeyEntry::Trusted { keys, .. }) => keys.clone(),
            _ => Arc::from(Vec::new()),
        }
    }

    fn remember(&mut self, zone: &Name, entry: KeyEntry) {
        self.keys.insert(zone.clone(), entry.clone());
        self.learned.push((zone.clone(), entry));
    }

    fn response(&self, name: &Name, rtype: u16) -> Result<Option<&Message>, Stop> {
        let q = KeyQuery { name: name.clone(), rtype };
        match self.supplied.get(&q) {
            Some(r) => Ok(r.as_ref()),
            None => Err(Stop::Need(q)),
        }
    }

    /// The keys for `target`: the ordinary chain, and where it ends insecure (or no anchor
    /// covers the name) the look-aside registries (RFC 5074 §5).
    fn find_keys(&mut self, target: &Name) -> Result<Keys, Stop> {
        let normal = self.find_keys_normal(target);
        if self.in_lookaside || self.validator.registries.is_empty() {
            return normal;
        }
        match normal {
            Err(Stop::Final(Security::Insecure(reason)))
                if !matches!(reason, InsecureReason::NegativeTrustAnchor { .. }) =>
            {
                let bound = reason.zone().clone();
                self.lookaside(target, Some(bound), Security::Insecure(reason))
            }
            Err(Stop::Final(Security::Indeterminate(IndeterminateReason::NoTrustAnchor))) => {
                self.lookaside(target, None, Security::Indeterminate(IndeterminateReason::NoTrustAnchor))
            }
            other => other,
        }
    }

    /// Walks from the closest anchor (or the deepest cached entry) down to `target`.
    fn find_keys_normal(&mut self, target: &Name) -> Result<Keys, Stop> {
        if let Some(nta) = self.validator.anchors.negative_for(target) {
            return Err(Security::Insecure(InsecureReason::NegativeTrustAnchor { zone: nta.clone() }).into());
        }
        let Some(anchor) = self.validator.anchors.closest(target).cloned() else {
            return Err(Security::Indeterminate(IndeterminateReason::NoTrustAnchor).into());
        };
        // Start at the deepest name with a known entry, at or below the anchor.
        let mut start = None;
        let mut n = Some(target.clone());
        while let Some(cur) = n {
            if !cur.is_at_or_below(&anchor.zone) {
                break;
            }
            if !self.keys.contains_key(&cur)
                && let Some(e) = self.cache.key_entry(&cur)
            {
                self.keys.insert(cur.clone(), e);
            }
            if let Some(e) = self.keys.get(&cur) {
                start = Some((cur.clone(), e.clone()));
                break;
            }
            n = cur.parent();
        }
        let (zone, entry) = match start {
            Some(s) => {
                // Started from a cached entry: name the trusted zones above it, for the summary.
                let mut above = Vec::new();
                let mut n = s.0.parent();
                while let Some(cur) = n {
                    if !cur.is_at_or_below(&anchor.zone) {
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
                    // Only zones this session has not shown yet (calls after a lookup walk again).
                    if !self.steps.iter().any(|s| s.zone == *z) {
                        self.step(z, StepStatus::Trusted, StepDetail::Cached);
                    }
                }
                s
            }
            None => {
                let e = self.anchor_entry(&anchor)?;
                (anchor.zone.clone(), e)
            }
        };
        self.entry_outcome(&zone, &entry)?;
        self.walk_down(zone, target)
    }

    /// From a trusted `zone` down to `target`, one DS lookup per label.
    fn walk_down(&mut self, mut zone: Name, target: &Name) -> Result<Keys, Stop> {
        let mut pos = zone.clone();
        while pos != *target {
            let child = target.trim_to(pos.label_count() + 1);
            if let Some(e) = self.keys.get(&child).cloned() {
                self.entry_outcome(&child, &e)?;
                zone = child.clone();
                pos = child;
                continue;
            }
            match self.ds_step(&zone, &child)? {
                DsStep::NotZoneCut => {
                    self.step(&child, StepStatus::NotZoneCut, StepDetail::NotZoneCut);
                }
                DsStep::Ds { set, ttl } => {
                    let entry = self.dnskey_entry(&child, &set, &[], ttl)?;
                    self.remember(&child, entry.clone());
                    self.entry_outcome(&child, &entry)?;
                    zone = child.clone();
                }
            }
            pos = child;
        }
        if zone == *target {
            match self.keys.get(&zone) {
                Some(KeyEntry::Trusted { .. }) => Ok(Keys::Zone),
                _ => Ok(Keys::Inside(zone)),
            }
        } else {
            Ok(Keys::Inside(zone))
        }
    }

    /// Looks `target` up in the registries that cover it; `bound` is the insecure point P: a DLV
    /// may only extend the chain at or below it, never override a proven part of the tree.
    fn lookaside(&mut self, target: &Name, bound: Option<Name>, fallback: Security) -> Result<Keys, Stop> {
        for registry in self.validator.registries_for(target) {
            if let Some(zone) = self.lookaside_in(&registry, target, bound.as_ref())? {
                return self.walk_down(zone, target);
            }
        }
        Err(fallback.into())
    }

    /// The DLV walk in one registry (RFC 5074 §5, §6, §8): from `target` up, skipping names the
    /// registry's NSECs prove absent. `Some(zone)` when a DLV made `zone`'s keys trusted.
    fn lookaside_in(
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
                self.step(&candidate, StepStatus::Lookaside, StepDetail::Cached);
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
            match self.registry_lookup(registry, &lookup)? {
                DlvAnswer::Found(ds, ttl) => {
                    let detail = format!("DLV found in {} at {lookup}", registry.domain);
                    self.step(&candidate, StepStatus::Lookaside, StepDetail::Reason(detail));
                    let entry = self.dnskey_entry(&candidate, &ds, &[], ttl)?;
                    self.remember(&candidate, entry.clone());
                    self.entry_outcome(&candidate, &entry)?;
                    return Ok(Some(candidate));
                }
                DlvAnswer::Unusable => return Ok(None),
                DlvAnswer::Denied { jump } => {
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
    fn registry_lookup(&mut self, registry: &Registry, lookup: &Name) -> Result<DlvAnswer, Stop> {
        if let Some(answer) = self.dlv_answers.get(lookup) {
            return Ok(answer.clone());
        }
        if let Some(answer) = self.cached_denial(registry, lookup) {
            return Ok(answer);
        }
        let Some(response) = self.response(lookup, rtype::DLV)?.cloned() else {
            let what = format!("{lookup} DLV (look-aside registry {})", registry.domain);
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed { what }).into());
        };
        let rc = response.rcode();
        if rc != rcode::NOERROR && rc != rcode::NXDOMAIN {
            let what = format!("{lookup} DLV (look-aside registry {}, rcode {rc})", registry.domain);
            return Err(Security::Indeterminate(IndeterminateReason::LookupFailed { what }).into());
        }
        self.in_lookaside = true;
        let result = self.registry_verdict(registry, lookup, &response);
        self.in_lookaside = false;
        if let Ok(answer) = &result {
            self.dlv_answers.insert(lookup.clone(), answer.clone());
        }
        match result {
            Err(Stop::Final(Security::Bogus(reason))) => Err(Security::Bogus(BogusReason::Lookaside {
                registry: registry.domain.clone(),
                reason: Box::new(reason),
            })
            .into()),
            Err(Stop::Final(Security::Insecure(_))) => Ok(DlvAnswer::Unusable),
            other => other,
        }
    }

    fn registry_verdict(
        &mut self,
        registry: &Registry,
        lookup: &Name,
        response: &Message,
    ) -> Result<DlvAnswer, Stop> {
        let answer = group(&response.answer);
        if let Some(set) = answer.iter().find(|s| s.owner == *lookup && s.rtype == rtype::DLV) {
            let zone = match self.signer_keys(set)? {
                Ok(zone) => zone,
                Err(_) => return Ok(DlvAnswer::Unusable),
            };
            let keys = self.trusted_keys(&zone);
            let v = self.verify(set, &zone, &keys).map_err(Security::Bogus)?;
            let ds = set.rdatas.iter().filter_map(|r| Ds::parse(r)).collect();
            return Ok(DlvAnswer::Found(ds, set.ttl.min(v.valid_for).min(v.original_ttl)));
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
            return match self.find_keys(lookup) {
                Err(Stop::Final(Security::Insecure(_))) => Ok(DlvAnswer::Unusable),
                Err(other) => Err(other),
                Ok(_) => {
                    let what = format!("{lookup} has no DLV records");
                    Err(Security::Bogus(BogusReason::NsecMissing { what, zone: registry.domain.clone() })
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
        match self.find_keys(&signer)? {
            Keys::Zone => {}
            Keys::Inside(zone) => {
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
        let nsecs: Vec<Nsec> =
            records_of(&denial, rtype::NSEC).iter().filter_map(Nsec::from_record).collect();
        if !nsecs.is_empty() {
            let proof = if nxdomain {
                nsec::prove_name_error(&nsecs, lookup, &signer)
            } else {
                nsec::prove_nodata(&nsecs, lookup, rtype::DLV)
            };
            proof.map_err(|what| Security::Bogus(BogusReason::NsecMissing { what, zone: signer.clone() }))?;
            for n in &nsecs {
                self.learned_denials.push((registry.domain.clone(), n.clone(), ttl));
            }
            return Ok(jump_for(&nsecs, lookup));
        }
        let nsec3s: Vec<Nsec3> =
            records_of(&denial, rtype::NSEC3).iter().filter_map(Nsec3::from_record).collect();
        if nsec3s.is_empty() {
            let what = format!("{lookup} has no DLV records");
            return Err(Security::Bogus(BogusReason::NsecMissing { what, zone: signer }).into());
        }
        let mut set = Nsec3Set::new(&nsec3s, &signer).map_err(|f| nsec3_stop(f, &signer))?;
        let proof = if nxdomain {
            set.prove_name_error(lookup, &mut self.budget)
        } else {
            set.prove_nodata(lookup, rtype::DLV, &mut self.budget)
        };
        proof.map_err(|f| nsec3_stop(f, &signer))?;
        // NSEC3 hides names: no skipping, one label at a time.
        Ok(DlvAnswer::Denied { jump: None })
    }

    /// A denial for `lookup` from NSECs of this registry validated earlier (RFC 5074 §6).
    fn cached_denial(&self, registry: &Registry, lookup: &Name) -> Option<DlvAnswer> {
        let mut known: Vec<Nsec> = self.cache.registry_denials(&registry.domain);
        known.extend(
            self.learned_denials.iter().filter(|(r, _, _)| *r == registry.domain).map(|(_, n, _)| n.clone()),
        );
        if let Some(m) = known.iter().find(|n| n.owner == *lookup) {
            return (!m.types.contains(rtype::DLV)).then_some(DlvAnswer::Denied { jump: None });
        }
        known.iter().any(|n| n.covers(lookup)).then(|| jump_for(&known, lookup))
    }

    /// Turns a non-trusted entry into the final verdict.
    fn entry_outcome(&mut self, zone: &Name, entry: &KeyEntry) -> Result<(), Stop> {
        match entry {
            KeyEntry::Trusted { keys, .. } => {
                if !self
                    .steps
                    .iter()
                    .any(|s| s.zone == *zone && matches!(s.detail, StepDetail::Keys(_) | StepDetail::Cached))
                {
                    self.step(zone, StepStatus::Trusted, StepDetail::Keys(keys.clone()));
                }
                Ok(())
            }
            KeyEntry::Insecure { reason, .. } => {
                self.step(zone, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                Err(Security::Insecure(reason.clone()).into())
            }
            KeyEntry::Bad { reason } => {
                self.step(zone, StepStatus::Bogus, StepDetail::Reason(reason.to_string()));
                Err(Security::Bogus(reason.clone()).into())
            }
        }
    }

    fn anchor_entry(&mut self, anchor: &TrustAnchor) -> Result<KeyEntry, Stop> {
        if !anchor.ds.is_empty() {
            self.step(&anchor.zone, StepStatus::Trusted, StepDetail::Ds(anchor.ds.clone()));
        }
        let entry = if anchor.keys.is_empty() && usable_ds(&anchor.ds).is_empty() {
            KeyEntry::Insecure { reason: unsupported_reason(&anchor.zone, &anchor.ds), ttl: 3600 }
        } else {
            self.dnskey_entry(&anchor.zone, &anchor.ds, &anchor.keys, u32::MAX)?
        };
        self.remember(&anchor.zone, entry.clone());
        Ok(entry)
    }

    /// Fetches and checks `zone`'s DNSKEY set against DS records and/or anchor keys
    /// (RFC 4035 §5.2): some key matching them must sign the set.
    fn dnskey_entry(
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
        let Some(response) = self.response(zone, rtype::DNSKEY)? else {
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
                self.step(zone, StepStatus::Trusted, StepDetail::Signed { rrset, key_tag: v.key_tag });
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

    /// Looks up `child DS` in `zone` and classifies the answer.
    fn ds_step(&mut self, zone: &Name, child: &Name) -> Result<DsStep, Stop> {
        if let Some(s) = self.ds_steps.get(child) {
            return Ok(s.clone());
        }
        let result = self.ds_step_uncached(zone, child);
        let step = match result {
            Ok(s) => s,
            Err(Stop::Final(Security::Bogus(reason))) => {
                self.remember(child, KeyEntry::Bad { reason: reason.clone() });
                return Err(Security::Bogus(reason).into());
            }
            Err(Stop::Final(Security::Insecure(reason))) => {
                self.remember(child, KeyEntry::Insecure { reason: reason.clone(), ttl: 3600 });
                self.step(child, StepStatus::Insecure, StepDetail::Reason(reason.to_string()));
                return Err(Security::Insecure(reason).into());
            }
            Err(other) => return Err(other),
        };
        self.ds_steps.insert(child.clone(), step.clone());
        Ok(step)
    }

    fn ds_step_uncached(&mut self, zone: &Name, child: &Name) -> Result<DsStep, Stop> {
        let response = match self.response(child, rtype::DS)? {
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
            self.step(child, StepStatus::Trusted, StepDetail::Ds(ds.clone()));
            return Ok(DsStep::Ds { set: ds, ttl: set.ttl.min(v.valid_for).min(v.original_ttl) });
        }
        // No DS: the denial must be signed by the parent zone and prove it.
        let authority = group(&response.authority);
        let proofs: Vec<&Rrset> =
            authority.iter().filter(|s| matches!(s.rtype, rtype::NSEC | rtype::NSEC3)).collect();
        if proofs.is_empty() {
            return Err(Security::Bogus(BogusReason::DsUnproven { zone: child.clone() }).into());
        }
        for set in &proofs {
            self.verify(set, zone, &keys).map_err(Security::Bogus)?;
        }
        let records: Vec<_> = response.authority.iter().collect();
        let nsecs: Vec<Nsec> =
            records.iter().filter(|r| r.rtype == rtype::NSEC).filter_map(|r| Nsec::from_record(r)).collect();
        if !nsecs.is_empty() {
            return match nsec::ds_absence(&nsecs, child) {
                Ok(DsAbsence::InsecureDelegation) => Err(Security::Insecure(InsecureReason::NoDs {
                    zone: child.clone(),
                    proof: DenialKind::Nsec,
                })
                .into()),
                Ok(DsAbsence::NoDelegation) => Ok(DsStep::NotZoneCut),
                Err(_) => Err(Security::Bogus(BogusReason::DsUnproven { zone: child.clone() }).into()),
            };
        }
        let nsec3s: Vec<Nsec3> = records
            .iter()
            .filter(|r| r.rtype == rtype::NSEC3)
            .filter_map(|r| Nsec3::from_record(r))
            .collect();
        let mut set = Nsec3Set::new(&nsec3s, zone).map_err(|f| nsec3_stop(f, child))?;
        match set.ds_absence(child, &mut self.budget).map_err(|f| nsec3_stop(f, child))? {
            Some(opt_out) => {
                let proof = if opt_out { DenialKind::Nsec3OptOut } else { DenialKind::Nsec3 };
                Err(Security::Insecure(InsecureReason::NoDs { zone: child.clone(), proof }).into())
            }
            None => Ok(DsStep::NotZoneCut),
        }
    }

    fn prove_denial(
        &mut self,
        denial: &[Rrset],
        zone: &Name,
        sname: &Name,
        qtype: u16,
        nxdomain: bool,
    ) -> Result<Security, Stop> {
        let nsecs: Vec<Nsec> = records_of(denial, rtype::NSEC).iter().filter_map(Nsec::from_record).collect();
        let what = || {
            if nxdomain {
                format!("{sname} does not exist")
            } else {
                format!("{sname} has no {} records", rtype::type_name(qtype))
            }
        };
        if !nsecs.is_empty() {
            let r = if nxdomain {
                nsec::prove_name_error(&nsecs, sname, zone)
            } else {
                nsec::prove_nodata(&nsecs, sname, qtype)
            };
            return match r {
                Ok(()) => Ok(Security::Secure),
                Err(what) => {
                    Err(Security::Bogus(BogusReason::NsecMissing { what, zone: zone.clone() }).into())
                }
            };
        }
        let nsec3s: Vec<Nsec3> =
            records_of(denial, rtype::NSEC3).iter().filter_map(Nsec3::from_record).collect();
        if nsec3s.is_empty() {
            return Err(Security::Bogus(BogusReason::NsecMissing { what: what(), zone: zone.clone() }).into());
        }
        let mut set = Nsec3Set::new(&nsec3s, zone).map_err(|f| nsec3_stop(f, zone))?;
        let r = if nxdomain {
            set.prove_name_error(sname, &mut self.budget)
        } else {
            set.prove_nodata(sname, qtype, &mut self.budget)
        };
        match r {
            Ok(Nsec3Proof::Proven) => Ok(Security::Secure),
            // RFC 5155 §9.2: an opt-out span may hide an unsigned delegation: not secure.
            Ok(Nsec3Proof::OptOut) => Ok(Security::Insecure(InsecureReason::NoDs {
                zone: zone.clone(),
                proof: DenialKind::Nsec3OptOut,
            })),
            Err(f) => Err(nsec3_stop(f, zone)),
        }
    }

    fn prove_wildcard(
        &mut self,
        denial: &[Rrset],
        zone: &Name,
        owner: &Name,
        ce: &Name,
    ) -> Result<Security, Stop> {
        let nsecs: Vec<Nsec> = records_of(denial, rtype::NSEC).iter().filter_map(Nsec::from_record).collect();
        if !nsecs.is_empty() {
            return nsec::prove_wildcard_answer(&nsecs, owner).map(|()| Security::Secure).map_err(|what| {
                Security::Bogus(BogusReason::NsecMissing { what, zone: zone.clone() }).into()
            });
        }
        let nsec3s: Vec<Nsec3> =
            records_of(denial, rtype::NSEC3).iter().filter_map(Nsec3::from_record).collect();
        if nsec3s.is_empty() {
            let what = format!("no closer match than the wildcard exists for {owner}");
            return Err(Security::Bogus(BogusReason::NsecMissing { what, zone: zone.clone() }).into());
        }
        let mut set = Nsec3Set::new(&nsec3s, zone).map_err(|f| nsec3_stop(f, zone))?;
        match set.prove_wildcard_answer(owner, ce, &mut self.budget) {
            Ok(Nsec3Proof::Proven) => Ok(Security::Secure),
            Ok(Nsec3Proof::OptOut) => Ok(Security::Insecure(InsecureReason::NoDs {
                zone: zone.clone(),
                proof: DenialKind::Nsec3OptOut,
            })),
            Err(f) => Err(nsec3_stop(f, zone)),
        }
    }
}

/// Where a validated NSEC denial lets the DLV walk go next (RFC 5074 §8): NODATA at the name →
/// one label up; a covering NSEC (NXDOMAIN or empty non-terminal) → the longest common ancestor
/// of the name and the NSEC's owner, since no DLV can sit between them.
fn jump_for(nsecs: &[Nsec], lookup: &Name) -> DlvAnswer {
    if nsecs.iter().any(|n| n.owner == *lookup) {
        return DlvAnswer::Denied { jump: None };
    }
    let jump = nsecs.iter().find(|n| n.covers(lookup)).map(|n| lookup.common_ancestor(&n.owner));
    DlvAnswer::Denied { jump }
}

fn nsec3_stop(f: Nsec3Failure, zone: &Name) -> Stop {
    match f {
        Nsec3Failure::Bogus(r) => Security::Bogus(r).into(),
        Nsec3Failure::Insecure(r) => Security::Insecure(r).into(),
        Nsec3Failure::NotProven(what) => {
            Security::Bogus(BogusReason::NsecMissing { what, zone: zone.clone() }).into()
        }
    }
}

fn records_of(sets: &[Rrset], t: u16) -> Vec<crate::wire::Record> {
    sets.iter()
        .filter(|s| s.rtype == t)
        .flat_map(|s| {
            s.rdatas.iter().map(|r| crate::wire::Record {
                owner: s.owner.clone(),
                rtype: s.rtype,
                class: s.class,
                ttl: s.ttl,
                rdata: r.clone(),
            })
        })
        .collect()
}

/// The closest encloser of a wildcard expansion, from the RRSIG labels field (RFC 4035 §5.3.4).
fn wildcard_ce(set: &Rrset) -> Option<Name> {
    let sig = set.rrsigs.first()?;
    let labels = sig.labels as usize;
    if labels < set.owner.rrsig_label_count() { Some(set.owner.trim_to(labels)) } else { None }
}

fn unsupported_reason(zone: &Name, ds: &[Ds]) -> InsecureReason {
    if ds.iter().any(|d| crypto::digest_supported(d.digest_type)) {
        InsecureReason::UnsupportedAlgorithm { zone: zone.clone() }
    } else {
        InsecureReason::UnsupportedDigest { zone: zone.clone() }
    }
}
