//! The chain walk: a sans-I/O state machine that validates one response.
//!
//! The caller starts a [`Session`], calls [`Session::validate`], and gets either
//! [`Progress::Done`] with a [`Verdict`] or [`Progress::Need`] with the DS or DNSKEY lookup the
//! walk needs next; it answers with [`Session::supply`] and calls `validate` again. Work already
//! done (verified DS sets, trusted key sets, zone cuts) is kept in the session, so each call only
//! continues where the last one stopped, and no signature is checked twice.
//!
//! Order of work (RFC 4035 §5), one file each:
//! - [`classify`]: sort the response into one answer class, once per session (Unbound's
//!   `val_classify_response`), with one `validate_<class>` function per class: the one place
//!   where that class's verdict is decided;
//! - [`keys`]: the ordinary key walk from the closest trust anchor down to each signer, one label
//!   at a time, with a DS lookup per label (a signed DS → fetch and verify the child's DNSKEY
//!   set; a signed denial with NS → insecure delegation; without NS → no zone cut);
//! - [`dlv`]: where that walk ends insecure or finds no anchor, look-aside through the
//!   configured registries (RFC 5074), as an explicit fallback step;
//! - [`trace`]: the steps taken, recorded once each, for traces and EDE texts.
//!
//! Denial proofs go through [`crate::denial::DenialSet`], signatures through
//! [`crate::verify`].

mod classify;
pub mod dlv;
mod keys;
pub mod trace;

use std::collections::HashMap;
use std::sync::Arc;

pub use dlv::Registry;
pub use trace::{ChainStep, StepDetail, StepStatus};

use crate::anchor::TrustAnchors;
use crate::canonical::Rrset;
use crate::limits::{self, Budget};
use crate::name::Name;
use crate::negative::NegativeAnchors;
use crate::outcome::{BogusReason, InsecureReason, Security};
use crate::rdata::{Dnskey, Nsec};
use crate::verify::{Clock, Verified, verify_rrset};
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
        trace::summary(&self.steps)
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
    negative: Arc<NegativeAnchors>,
    skew: u32,
    registries: Vec<Registry>,
}

impl Validator {
    /// A validator with these anchors and the default clock skew.
    pub fn new(anchors: TrustAnchors) -> Self {
        Self {
            anchors,
            negative: Arc::new(NegativeAnchors::default()),
            skew: limits::DEFAULT_CLOCK_SKEW,
            registries: Vec::new(),
        }
    }

    /// Uses this set of negative trust anchors (RFC 7646), shared with whoever adds to it (the
    /// control socket) and with the validator this one replaces on reload.
    pub fn with_negative_anchors(mut self, negative: Arc<NegativeAnchors>) -> Self {
        self.negative = negative;
        self
    }

    /// The negative trust anchors.
    pub fn negative_anchors(&self) -> &Arc<NegativeAnchors> {
        &self.negative
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
            // RRSIG times are 32-bit serial numbers (RFC 4034 §3.1.5): the low bits are the time.
            clock: Clock { now: now as u32, skew: self.skew },
            now,
            ignore_negative: false,
            cache,
            budget: Budget::default(),
            supplied: HashMap::new(),
            keys: HashMap::new(),
            ds_lookups: HashMap::new(),
            learned: Vec::new(),
            learned_denials: Vec::new(),
            trace: trace::Trace::default(),
            verified: HashMap::new(),
            registry_answers: HashMap::new(),
            classified: None,
        }
    }
}

/// The validation of one response; see the module documentation.
pub struct Session<'a> {
    validator: &'a Validator,
    clock: Clock,
    /// Seconds since the epoch, for the negative anchors' expiry.
    now: u64,
    /// The negative trust anchors are not consulted (their recheck).
    ignore_negative: bool,
    cache: &'a (dyn KeyCache + Sync),
    budget: Budget,
    /// Answers to the key lookups asked so far (`None`: the lookup failed).
    supplied: HashMap<KeyQuery, Option<Message>>,
    /// Key entries known in this session, from the cache or learned.
    keys: HashMap<Name, KeyEntry>,
    /// DS lookups already judged, by child zone.
    ds_lookups: HashMap<Name, keys::DsLookup>,
    learned: Vec<(Name, KeyEntry)>,
    learned_denials: Vec<(Name, Nsec, u32)>,
    trace: trace::Trace,
    /// RRsets already verified in this session (the same SOA or NSEC comes back in several
    /// answers, and `validate` walks the known part again after each lookup): checked once.
    verified: HashMap<Vec<u8>, Verified>,
    /// Registry answers already judged, by lookup name.
    registry_answers: HashMap<Name, dlv::RegistryAnswer>,
    /// The response's answer class, computed on the first call of `validate`.
    classified: Option<Result<Arc<classify::Classified>, Security>>,
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

impl<'a> Session<'a> {
    /// Hands in the answer to a lookup the walk asked for; `None` when the lookup failed.
    pub fn supply(&mut self, query: KeyQuery, response: Option<Message>) {
        self.budget.key_queries += 1;
        self.supplied.insert(query, response);
    }

    /// Validates as if no negative trust anchor existed: for the recheck that removes one once
    /// its zone validates again (RFC 7646 §2.1).
    pub fn ignore_negative_anchors(&mut self) {
        self.ignore_negative = true;
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

    /// Validates `response` to `question`. Call again with the same arguments after each
    /// [`Session::supply`]: the answer class is computed once, and the walk resumes from what the
    /// session already knows.
    pub fn validate(&mut self, question: &Question, response: &Message) -> Progress {
        let classified = match &self.classified {
            Some(c) => c.clone(),
            None => {
                let c = classify::classify(question, response).map(Arc::new);
                self.classified = Some(c.clone());
                c
            }
        };
        let result = match classified {
            Ok(c) => self.validate_class(&c),
            Err(security) => Err(Stop::Final(security)),
        };
        match result {
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
        Progress::Done(Verdict {
            security,
            ttl_cap,
            steps: self.trace.steps().to_vec(),
            budget: self.budget.clone(),
        })
    }

    /// Verifies an RRset with a zone's keys, at most once per session for the same data and
    /// signatures.
    fn verify(&mut self, set: &Rrset, zone: &Name, keys: &[Dnskey]) -> Result<Verified, BogusReason> {
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
}
