//! Resolve and validate: cache lookup, upstream query, the validator's key lookups, one retry on
//! another upstream for a bogus answer (RFC 6840 §5.9 spirit, Unbound's `val-max-restart`), and
//! caching of the result.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lookaside_dnssec::chain::{KeyCache, KeyEntry, Progress, StepStatus, Validator};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::negative::NegativeAnchors;
use lookaside_dnssec::outcome::{IndeterminateReason, InsecureReason, Security};
use lookaside_dnssec::rdata::{Nsec, soa_minimum};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, Question};
use tracing::{debug, info};

use crate::aggressive::NsecCache;
use crate::answer_cache::AnswerCache;
use crate::cache::{CacheKey, FailureBackoff, KeyStore, StaleHoldoff};
use crate::coalesce::Coalescer;
use crate::counters;
use crate::forward::{Forward, Forwards};
use crate::local::LocalData;
use crate::resolution::{Judgement, Resolution};
use crate::respond::{self, ClientQuery, Served};
use crate::upstream::{Route, Upstreams};

/// Pipeline settings.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Answers kept in the validated cache.
    pub answer_cache_size: usize,
    /// Bytes all caches may hold together (answers 3/4, unchecked CD answers 1/8, keys 1/8).
    pub cache_memory: usize,
    /// Zones kept in the key cache.
    pub key_cache_size: usize,
    /// Longest time an answer is cached, in seconds.
    pub max_ttl: u32,
    /// How long a bogus or failed resolution is remembered (RFC 9520: 1 s – 5 min).
    pub bogus_ttl: u32,
    /// Seconds past its TTL a secure or insecure answer may still be served when no upstream
    /// answers (RFC 8767); 0 turns serve-stale off.
    pub serve_stale: u32,
    /// How long a client waits for a refresh before it gets the stale answer (RFC 8767 §5,
    /// the client response timer; Unbound's stale-answer-client-timeout, 1.8 s).
    pub stale_client_timeout: Duration,
    /// Refresh an answer asked for in the last tenth of its TTL in the background (Unbound's
    /// `prefetch`), so that busy names do not expire in the clients' face.
    pub prefetch: bool,
    /// Answer NXDOMAIN and NODATA from validated NSEC records in the cache (RFC 8198, Unbound's
    /// `aggressive-nsec`).
    pub aggressive_nsec: bool,
}

/// Why an answer is refreshed in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refresh {
    /// Asked for near its expiry.
    Prefetch,
    /// Served stale while its refresh was still running.
    Stale,
}

/// Answers with a shorter TTL are not prefetched (Unbound's rule: a refresh would cost more
/// than it saves).
pub const PREFETCH_MIN_TTL: u32 = 10;
/// Prefetches queued at once; more are dropped (the answer is simply refreshed when it expires).
pub const PREFETCH_QUEUE: usize = 256;

/// Default of [`ResolverConfig::stale_client_timeout`] (as Unbound).
pub const DEFAULT_STALE_CLIENT_TIMEOUT: Duration = Duration::from_millis(1800);

/// Counters of verdicts handed out.
#[derive(Debug, Default)]
pub struct VerdictStats {
    /// Secure answers.
    pub secure: AtomicU64,
    /// Insecure answers.
    pub insecure: AtomicU64,
    /// Bogus answers.
    pub bogus: AtomicU64,
    /// Indeterminate answers (including upstream failures).
    pub indeterminate: AtomicU64,
    /// Answers to CD queries passed on without validation.
    pub unchecked: AtomicU64,
    /// Answers served from cache.
    pub cache_hits: AtomicU64,
    /// Answers that needed the upstreams.
    pub cache_misses: AtomicU64,
    /// Expired answers served because no upstream answered in time (RFC 8767).
    pub stale: AtomicU64,
    /// Answers refreshed in the background before they expired.
    pub prefetches: AtomicU64,
    /// Denials made from cached NSEC records (RFC 8198).
    pub synthesised: AtomicU64,
}

/// The resolver: upstreams, validator and caches.
pub struct Resolver {
    upstreams: Upstreams,
    validator: Validator,
    answers: AnswerCache,
    unchecked: AnswerCache,
    keys: KeyStore,
    /// Validated NSEC records and SOAs, for RFC 8198 denials.
    nsecs: NsecCache,
    config: ResolverConfig,
    /// Verdict counters (shared across reloads).
    pub stats: Arc<VerdictStats>,
    /// Client questions being resolved: identical ones wait for the first.
    questions: Coalescer<(CacheKey, bool), Resolution>,
    /// DS and DNSKEY lookups in flight, shared by every session that needs them.
    key_lookups: Coalescer<(Name, u16, Route, bool), Option<Message>>,
    /// Consecutive failures per question, for the RFC 9520 backoff.
    failures: FailureBackoff,
    /// The operator's local data, answered before anything else.
    local: LocalData,
    /// Domains with upstreams of their own.
    forwards: Forwards,
    /// Questions whose refresh failed lately: served stale at once.
    stale_holdoff: StaleHoldoff,
    /// Where cache hits near their expiry send their question for a background refresh (set
    /// by [`Resolver::start_refresher`]), and the questions queued or being refreshed.
    prefetch_queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<(Question, Refresh)>>,
    prefetching: std::sync::Mutex<std::collections::HashSet<CacheKey>>,
}

/// Which try at a question a validation is.
#[derive(Clone, Copy, Debug)]
enum Attempt {
    /// The first: any upstream, every cached key entry.
    First,
    /// After a bogus answer from `avoid`: the answer and every key lookup go to the other
    /// upstreams first, and the key entries the first try found bad are not trusted (they may be
    /// the bad upstream's doing).
    Retry { avoid: SocketAddr },
    /// After a bogus answer with a single upstream: everything asked again over TCP, where a
    /// forged datagram cannot reach (RFC 5452 §9.3), without trusting the bad key entries.
    RetryOverTcp,
    /// The recheck of a negative trust anchor: what the verdict would be without it.
    IgnoringNegativeAnchors,
}

impl Attempt {
    fn avoid(self) -> Option<SocketAddr> {
        match self {
            Self::Retry { avoid } => Some(avoid),
            _ => None,
        }
    }

    fn over_tcp(self) -> bool {
        matches!(self, Self::RetryOverTcp)
    }
}

/// The key cache as a retry sees it: without the entries marked bad.
struct WithoutBadEntries<'a>(&'a KeyStore);

impl KeyCache for WithoutBadEntries<'_> {
    fn key_entry(&self, zone: &Name) -> Option<KeyEntry> {
        self.0.key_entry(zone).filter(|e| !matches!(e, KeyEntry::Bad { .. }))
    }

    fn registry_denials(&self, registry: &Name) -> Vec<Nsec> {
        self.0.registry_denials(registry)
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Resolver {
    /// A resolver over these upstreams and this validator.
    pub fn new(upstreams: Upstreams, validator: Validator, config: ResolverConfig) -> Self {
        let failure_capacity = config.answer_cache_size / 4 + 1;
        Self {
            answers: AnswerCache::with_stale(
                config.answer_cache_size,
                config.cache_memory / 4 * 3,
                Duration::from_secs(u64::from(config.serve_stale)),
            ),
            unchecked: AnswerCache::new(config.answer_cache_size / 4 + 1, config.cache_memory / 8),
            keys: KeyStore::new(config.key_cache_size, config.cache_memory / 8, config.bogus_ttl),
            nsecs: NsecCache::new(),
            upstreams,
            validator,
            config,
            stats: Arc::new(VerdictStats::default()),
            questions: Coalescer::default(),
            key_lookups: Coalescer::default(),
            failures: FailureBackoff::new(failure_capacity),
            local: LocalData::default(),
            forwards: Forwards::default(),
            stale_holdoff: StaleHoldoff::new(failure_capacity),
            prefetch_queue: std::sync::OnceLock::new(),
            prefetching: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// Sends the names under these domains to their own upstreams.
    pub fn with_forwards(mut self, forwards: Forwards) -> Self {
        self.forwards = forwards;
        self
    }

    /// The forwarded domains (for `ctl status`).
    pub fn forwards(&self) -> &Forwards {
        &self.forwards
    }

    /// The upstreams for `name` and the forward it falls under, if any.
    fn route(&self, name: &Name) -> (&Upstreams, Option<&Forward>) {
        match self.forwards.for_name(name) {
            Some(f) => (&f.upstreams, Some(f)),
            None => (&self.upstreams, None),
        }
    }

    /// Answers these names from the configuration (`[[local]]`), before cache and upstreams.
    pub fn with_local_data(mut self, local: LocalData) -> Self {
        self.local = local;
        self
    }

    /// Shares the counters of the resolver this one replaces (on reload).
    pub fn with_stats(mut self, stats: Arc<VerdictStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The negative trust anchors, configured and run-time, as the validator reads them.
    pub fn negative_anchors(&self) -> &Arc<NegativeAnchors> {
        self.validator.negative_anchors()
    }

    /// Numbers of cached answers and of cached zone keys.
    pub fn cache_sizes(&self) -> (usize, usize) {
        (self.answers.len() + self.unchecked.len(), self.keys.len())
    }

    /// Bytes the caches hold, by their estimate.
    pub fn cache_bytes(&self) -> usize {
        self.answers.bytes() + self.unchecked.bytes() + self.keys.bytes()
    }

    /// Drops cached answers at or below `name` (and every cached key, which is cheap to refetch).
    pub fn flush_name(&self, name: &Name) -> usize {
        let n = self.answers.remove_where(|k, _| k.name.is_at_or_below(name))
            + self.unchecked.remove_where(|k, _| k.name.is_at_or_below(name));
        self.keys.clear();
        self.nsecs.clear();
        n
    }

    /// Validates `question` afresh, ignoring the answer cache and the negative trust anchors:
    /// what the verdict would be without them (for the automatic recheck of negative anchors).
    pub async fn validate_fresh(&self, question: &Question) -> Option<Security> {
        let (res, _) = self.resolve_validated(question, Attempt::IgnoringNegativeAnchors).await;
        res.security().cloned()
    }

    /// Drops cached bogus and failed answers.
    pub fn flush_bogus(&self) -> usize {
        self.answers.remove_where(|_, j| j.is_failure())
    }

    /// The upstreams (for counters).
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// The validator.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Drops every cached answer and key.
    pub fn flush(&self) {
        self.answers.clear();
        self.unchecked.clear();
        self.keys.clear();
        self.nsecs.clear();
    }

    /// The answer from the caches alone, without waiting: the listener's fast path, which
    /// answers cache hits without spawning a task. A miss goes on with
    /// [`Resolver::resolve_uncached`], so each query probes the cache once.
    pub fn cached(&self, question: &Question, checking_disabled: bool) -> Option<Resolution> {
        if !self.local.is_empty()
            && let Some(local) = self.local.answer(question)
        {
            counters::get().local_answers.increment(1);
            return Some(local);
        }
        let key = CacheKey { name: question.name.clone(), qtype: question.qtype, qclass: question.qclass };
        let now = Instant::now();
        let hit = match self.answers.get(&key, now) {
            // A validated answer serves CD queries too, but never a bogus one: CD wants the data.
            Some(hit) if !checking_disabled || !hit.judgement.is_failure() => hit,
            _ if checking_disabled => self.unchecked.get(&key, now)?,
            _ => return None,
        };
        if self.note_hit(&hit.judgement, hit.ttl, hit.age, checking_disabled) {
            self.queue_refresh(question, key, Refresh::Prefetch);
        }
        Some(Resolution::from_cache(hit))
    }

    /// The reply to `query` from the caches alone, or `None` on a miss: the listener's hit
    /// path. The packed answer is served in place, under its shard's lock, without parsing or
    /// copying records (see [`crate::answer_cache`]).
    pub fn cached_reply(&self, query: &ClientQuery, limit: usize) -> Option<Vec<u8>> {
        let q = &query.question;
        if !self.local.is_empty() {
            return self
                .cached(q, query.checking_disabled())
                .map(|r| respond::build_response(query, &r, limit));
        }
        let cd = query.checking_disabled();
        let now = Instant::now();
        let serve = |cache: &AnswerCache, skip_failure: bool| {
            cache.with_hit(&q.name, q.qtype, q.qclass, now, |hit| {
                // A validated answer serves CD queries too, but never a bogus one: CD wants the data.
                if skip_failure && hit.judgement.is_failure() {
                    return None;
                }
                let served =
                    Served { judgement: hit.judgement, summary: hit.summary, age: hit.age, stale: false };
                let reply = respond::answer(query, Some(hit.answer), served, limit);
                let refresh = self.note_hit(hit.judgement, hit.ttl, hit.age, cd);
                Some((reply, refresh))
            })
        };
        let (reply, refresh) = match serve(&self.answers, cd).flatten() {
            Some(r) => r,
            None if cd => serve(&self.unchecked, false).flatten()?,
            None => return None,
        };
        if refresh {
            let key = CacheKey { name: q.name.clone(), qtype: q.qtype, qclass: q.qclass };
            self.queue_refresh(q, key, Refresh::Prefetch);
        }
        Some(reply)
    }

    /// Counts a cache hit; true when it should be refreshed in the background (asked for in
    /// the last tenth of its life, with `prefetch` on). The caller queues the refresh, outside
    /// the cache's lock.
    fn note_hit(&self, judgement: &Judgement, ttl: u32, age: u32, cd: bool) -> bool {
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        counters::get().cache_hits.increment(1);
        self.count(judgement);
        self.config.prefetch
            && !cd
            && ttl >= PREFETCH_MIN_TTL
            && u64::from(age) * 10 >= u64::from(ttl) * 9
            && !judgement.is_failure()
    }

    /// Starts the background refresher: answers near expiry (`prefetch`) and stale answers
    /// whose client stopped waiting (RFC 8767 §5: the refresh goes on after the stale answer is
    /// sent). It holds the resolver weakly: a resolver replaced on reload ends with its users.
    pub fn start_refresher(self: &Arc<Self>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Question, Refresh)>(PREFETCH_QUEUE);
        if self.prefetch_queue.set(tx).is_err() {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some((question, why)) = rx.recv().await {
                let Some(resolver) = weak.upgrade() else { break };
                tokio::spawn(async move {
                    let key = CacheKey {
                        name: question.name.clone(),
                        qtype: question.qtype,
                        qclass: question.qclass,
                    };
                    if why == Refresh::Prefetch {
                        resolver.stats.prefetches.fetch_add(1, Ordering::Relaxed);
                        counters::get().prefetches.increment(1);
                    }
                    // Straight to the upstreams (shared with any client asking meanwhile): a
                    // stale answer must not stand in for its own refresh.
                    resolver
                        .questions
                        .run((key.clone(), false), || resolver.resolve_miss(&question, false))
                        .await;
                    resolver.prefetching.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                });
            }
        });
    }

    fn queue_refresh(&self, question: &Question, key: CacheKey, why: Refresh) {
        let Some(queue) = self.prefetch_queue.get() else { return };
        let mut inflight = self.prefetching.lock().unwrap_or_else(|e| e.into_inner());
        if inflight.len() >= PREFETCH_QUEUE || !inflight.insert(key.clone()) {
            return;
        }
        if queue.try_send((question.clone(), why)).is_err() {
            inflight.remove(&key);
        }
    }

    /// Resolves `question`: from the cache, else as [`Resolver::resolve_uncached`].
    pub async fn resolve(&self, question: &Question, checking_disabled: bool) -> Resolution {
        match self.cached(question, checking_disabled) {
            Some(hit) => hit,
            None => self.resolve_uncached(question, checking_disabled).await,
        }
    }

    /// Resolves `question` after a cache miss. With `checking_disabled` the data is returned
    /// unchecked (and cached apart from validated answers, so it never reaches a client without
    /// CD). Otherwise it is validated, with one retry on another upstream for a bogus answer.
    /// Identical questions in flight share one resolution (one upstream query, one validation).
    pub async fn resolve_uncached(&self, question: &Question, checking_disabled: bool) -> Resolution {
        let key = CacheKey { name: question.name.clone(), qtype: question.qtype, qclass: question.qclass };
        let stale = if checking_disabled { None } else { self.stale_answer(&key) };
        if let Some(st) = &stale
            && self.stale_holdoff.holds(&key)
        {
            return self.serve_stale(st.clone());
        }
        let work = self
            .questions
            .run((key.clone(), checking_disabled), || self.resolve_miss(question, checking_disabled));
        let (resolution, joined) = match &stale {
            None => work.await,
            // RFC 8767 §5: a client with stale data at hand waits only so long for the refresh.
            Some(st) => match tokio::time::timeout(self.config.stale_client_timeout, work).await {
                Ok(r) => r,
                Err(_) => {
                    // The refresh goes on in the background; until it lands, stale at once.
                    self.stale_holdoff.failed(&key);
                    self.queue_refresh(question, key.clone(), Refresh::Stale);
                    return self.serve_stale(st.clone());
                }
            },
        };
        if joined {
            counters::get().coalesced.increment(1);
        }
        if let Some(st) = stale
            && resolution.judgement.is_failure()
        {
            self.stale_holdoff.failed(&key);
            return self.serve_stale(st);
        }
        resolution
    }

    /// The expired answer for `key` that may be served stale (RFC 8767): within the stale
    /// window, secure or insecure when cached (never bogus or failed data), and with every
    /// signature still inside its validity period (stale serving must not outlive a proof).
    fn stale_answer(&self, key: &CacheKey) -> Option<Resolution> {
        if self.config.serve_stale == 0 {
            return None;
        }
        let (hit, _) = self.answers.get_stale(key, Instant::now())?;
        if !matches!(hit.judgement, Judgement::Checked(Security::Secure | Security::Insecure(_))) {
            return None;
        }
        let now = unix_now();
        let signatures_expire = hit
            .response
            .answer
            .iter()
            .chain(&hit.response.authority)
            .filter(|r| r.rtype == rtype::RRSIG)
            .filter_map(|r| {
                r.rdata.get(8..12).map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            })
            .min();
        if signatures_expire.is_some_and(|t| t <= now) {
            return None;
        }
        let mut r = Resolution::from_cache(hit);
        r.age = 0;
        r.stale = true;
        Some(r)
    }

    fn serve_stale(&self, r: Resolution) -> Resolution {
        self.stats.stale.fetch_add(1, Ordering::Relaxed);
        counters::get().stale_answers.increment(1);
        r
    }

    async fn resolve_miss(&self, question: &Question, checking_disabled: bool) -> Resolution {
        let key = CacheKey { name: question.name.clone(), qtype: question.qtype, qclass: question.qclass };
        self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        counters::get().cache_misses.increment(1);
        if checking_disabled {
            let r = self.resolve_unchecked(question, key).await;
            self.count(&r.judgement);
            return r;
        }
        let synthesised = if self.config.aggressive_nsec { self.aggressive_denial(question) } else { None };
        let (mut resolution, from) = match synthesised {
            Some(r) => (r, None),
            None => self.resolve_validated(question, Attempt::First).await,
        };
        // A bogus answer is asked again before the verdict is cached, so that one forged or
        // broken reply cannot pin a SERVFAIL: on another upstream, or over TCP when there is one.
        if matches!(resolution.security(), Some(Security::Bogus(_))) {
            let retry = match from {
                Some(first) if self.route(&question.name).0.addrs().len() > 1 => {
                    Attempt::Retry { avoid: first }
                }
                _ => Attempt::RetryOverTcp,
            };
            debug!(%question.name, ?retry, "bogus answer, asking again");
            resolution = self.resolve_validated(question, retry).await.0;
        }
        self.count(&resolution.judgement);
        let ttl = match (resolution.security(), &resolution.response) {
            (Some(Security::Insecure(InsecureReason::NegativeTrustAnchor { zone })), Some(r)) => {
                // Not past the anchor's lapse: after it, the answer is validated again.
                let now = unix_now();
                let left = self.negative_anchors().covering(zone, now).and_then(|a| a.remaining(now));
                let left = left.map_or(u32::MAX, |s| u32::try_from(s).unwrap_or(u32::MAX));
                self.answer_ttl(r).min(left)
            }
            (Some(Security::Secure | Security::Insecure(_)), Some(r)) => self.answer_ttl(r),
            // RFC 9520 §3.2: 1 s, doubling while the question keeps failing, up to bogus-ttl.
            _ => self.failures.next_ttl(&key, self.config.bogus_ttl),
        };
        if matches!(resolution.security(), Some(Security::Secure | Security::Insecure(_))) {
            self.failures.forget(&key);
        }
        if let Some(Security::Bogus(reason)) = resolution.security() {
            info!(name = %question.name, qtype = %rtype::type_name(question.qtype), chain = %resolution.summary, "bogus: {reason}");
        }
        // A failed refresh leaves the stale answer in place, to be served instead (RFC 8767).
        if resolution.judgement.is_failure() && self.stale_answer(&key).is_some() {
            return resolution;
        }
        // A failure caches its verdict, not the upstream's message (a bogus KeyTrap answer is
        // tens of kilobytes, and its data is never served from the cache: CD asks upstream anew).
        let none = Message::default();
        let response = match &resolution.response {
            Some(r) if !resolution.judgement.is_failure() => r,
            _ => &none,
        };
        self.answers.put(&key, response, resolution.judgement.clone(), &resolution.summary, ttl);
        resolution
    }

    /// A denial of `question` from validated NSEC records in the cache (RFC 8198), unless a
    /// negative trust anchor or a forward without validation covers the name (their answers
    /// must not be secure).
    fn aggressive_denial(&self, question: &Question) -> Option<Resolution> {
        if self.negative_anchors().covering(&question.name, unix_now()).is_some()
            || self.route(&question.name).1.is_some_and(|f| !f.validate)
        {
            return None;
        }
        let m = self.nsecs.synthesize(question)?;
        self.stats.synthesised.fetch_add(1, Ordering::Relaxed);
        counters::get().aggressive_answers.increment(1);
        debug!(name = %question.name, rcode = m.rcode(), "denied from cached NSEC records (RFC 8198)");
        Some(Resolution::synthesised(m))
    }

    async fn resolve_unchecked(&self, question: &Question, key: CacheKey) -> Resolution {
        match self.route(&question.name).0.query(question, None).await {
            Ok((m, _)) => {
                let m = Arc::new(m);
                let ttl = self.answer_ttl(&m);
                self.unchecked.put(&key, &m, Judgement::Unchecked, "", ttl);
                Resolution::unchecked(m)
            }
            Err(e) => Resolution::failed(&e),
        }
    }

    /// One upstream answer and its validation; also returns which upstream answered.
    async fn resolve_validated(
        &self,
        question: &Question,
        attempt: Attempt,
    ) -> (Resolution, Option<SocketAddr>) {
        let avoid = attempt.avoid();
        let tcp = attempt.over_tcp();
        let (upstreams, forward) = self.route(&question.name);
        let (response, from) = match upstreams.query_with(question, avoid, tcp).await {
            Ok(r) => r,
            Err(e) => return (Resolution::failed(&e), None),
        };
        if let Some(f) = forward.filter(|f| !f.validate) {
            let reason = InsecureReason::ForwardedUnvalidated { zone: f.domain.clone() };
            return (Resolution::insecure_by_policy(response, reason), Some(from));
        }
        // A first try asks for its keys where the answer came from: when that upstream is broken,
        // the whole verdict is, and the retry leaves it out entirely. A retry spreads them over
        // the others.
        let route = match attempt {
            Attempt::Retry { .. } | Attempt::RetryOverTcp => Route { avoid, prefer: None },
            _ => Route { avoid, prefer: Some(from) },
        };
        let without_bad = WithoutBadEntries(&self.keys);
        let cache: &(dyn KeyCache + Sync) = match attempt {
            Attempt::Retry { .. } | Attempt::RetryOverTcp => &without_bad,
            _ => &self.keys,
        };
        let mut session = self.validator.session(unix_now(), cache);
        if let Attempt::IgnoringNegativeAnchors = attempt {
            session.ignore_negative_anchors();
        }
        // DNSKEY answers fetched alongside the DS of the same zone (see below), by owner.
        let mut fetched_keys: Vec<(Name, Option<Message>)> = Vec::new();
        let verdict = loop {
            match session.validate(question, &response) {
                Progress::Done(v) => break v,
                Progress::Need(q) => {
                    if q.rtype == rtype::DNSKEY
                        && let Some(i) = fetched_keys.iter().position(|(n, _)| *n == q.name)
                    {
                        let (_, answer) = fetched_keys.swap_remove(i);
                        session.supply(q, answer);
                        continue;
                    }
                    let kq = Question { name: q.name.clone(), qtype: q.rtype, qclass: question.qclass };
                    let answer = if q.rtype == rtype::DS {
                        // The walk asks a zone's DNSKEY set right after its DS set whenever the
                        // zone is signed: both go out at once, a round trip saved per level
                        // (one query wasted where the delegation turns out unsigned).
                        let keys = Question { qtype: rtype::DNSKEY, ..kq.clone() };
                        let (ds, dnskey) = tokio::join!(
                            self.key_lookup(&kq, route, tcp),
                            self.key_lookup(&keys, route, tcp)
                        );
                        fetched_keys.push((keys.name, dnskey));
                        ds
                    } else {
                        self.key_lookup(&kq, route, tcp).await
                    };
                    session.supply(q, answer);
                }
            }
        };
        counters::get().signature_checks.increment(verdict.budget.signature_checks as u64);
        counters::get().key_lookups.increment(verdict.budget.key_queries as u64);
        for (zone, entry) in session.learned() {
            self.keys.put(zone.clone(), entry.clone());
        }
        for (registry, nsec, ttl) in session.learned_denials() {
            self.keys.put_denial(registry.clone(), nsec.clone(), (*ttl).min(self.config.max_ttl));
        }
        for step in verdict.steps.iter().filter(|s| s.status == StepStatus::Lookaside) {
            debug!(name = %question.name, zone = %step.zone, "secured via look-aside: {}", step.detail);
        }
        debug!(name = %question.name, qtype = %rtype::type_name(question.qtype), chain = %verdict.summary(), "{}", verdict.security);
        match &verdict.security {
            Security::Bogus(reason) => upstreams.note_validation(from, reason.looks_like_upstream_damage()),
            Security::Secure => upstreams.note_validation(from, false),
            _ => {}
        }
        // A failure from an upstream its probe found unfit is that upstream's doing: say so,
        // instead of a chain message that blames the zone.
        if matches!(verdict.security, Security::Bogus(_) | Security::Indeterminate(_))
            && let Some((_, reason)) = upstreams.fitness(from).filter(|(f, _)| !f.usable())
        {
            let why = IndeterminateReason::UpstreamUnfit { upstream: from.to_string(), reason };
            return (Resolution::indeterminate(why, verdict.summary()), Some(from));
        }
        let mut response = response;
        if verdict.security.is_secure() && verdict.ttl_cap > 0 {
            cap_ttls(&mut response, verdict.ttl_cap);
        }
        // RFC 8198 §4: only NSEC records the validator found secure.
        if verdict.security.is_secure() && self.config.aggressive_nsec {
            self.nsecs.learn(&response);
        }
        (Resolution::validated(response, verdict), Some(from))
    }

    /// One DS, DNSKEY or DLV lookup, shared with every session asking the same at the same time.
    async fn key_lookup(&self, kq: &Question, route: Route, tcp: bool) -> Option<Message> {
        let lookup =
            || async { self.route(&kq.name).0.query_routed(kq, route, tcp).await.ok().map(|(m, _)| m) };
        let (answer, _) = self.key_lookups.run((kq.name.clone(), kq.qtype, route, tcp), lookup).await;
        debug!(
            name = %kq.name,
            qtype = %rtype::type_name(kq.qtype),
            rcode = ?answer.as_ref().map(Message::rcode),
            answers = answer.as_ref().map_or(0, |m| m.answer.len()),
            "key lookup"
        );
        answer
    }

    /// TTL for caching an answer: the smallest record TTL (negative answers: the SOA's TTL and
    /// MINIMUM, RFC 2308 §5), at most the configured maximum.
    fn answer_ttl(&self, m: &Message) -> u32 {
        let mut ttl = self.config.max_ttl;
        for r in m.answer.iter().chain(m.authority.iter()) {
            ttl = ttl.min(r.ttl);
            if r.rtype == rtype::SOA && m.answer.is_empty() {
                ttl = ttl.min(soa_minimum(&r.rdata).unwrap_or(0));
            }
        }
        if m.answer.is_empty() && m.authority.is_empty() && m.rcode() != rcode::NOERROR {
            ttl = ttl.min(self.config.bogus_ttl);
        }
        ttl
    }

    fn count(&self, j: &Judgement) {
        counters::get().answer(j);
        let Judgement::Checked(s) = j else {
            self.stats.unchecked.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let c = match s {
            Security::Secure => &self.stats.secure,
            Security::Insecure(_) => &self.stats.insecure,
            Security::Bogus(_) => &self.stats.bogus,
            Security::Indeterminate(_) => &self.stats.indeterminate,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Caps record TTLs so that no secure record outlives its signature (RFC 4035 §5.3.3).
fn cap_ttls(m: &mut Message, cap: u32) {
    for r in m.answer.iter_mut().chain(m.authority.iter_mut()) {
        r.ttl = r.ttl.min(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookaside_dnssec::outcome::BogusReason;
    use lookaside_dnssec::wire::Record;

    fn resolver(serve_stale: u32) -> Resolver {
        let config = ResolverConfig {
            answer_cache_size: 100,
            cache_memory: 1 << 20,
            key_cache_size: 10,
            max_ttl: 3600,
            bogus_ttl: 30,
            serve_stale,
            stale_client_timeout: DEFAULT_STALE_CLIENT_TIMEOUT,
            prefetch: false,
            aggressive_nsec: true,
        };
        let validator = Validator::new(lookaside_dnssec::TrustAnchors::empty());
        Resolver::new(Upstreams::new(vec![]), validator, config)
    }

    fn key(n: &str) -> CacheKey {
        CacheKey { name: Name::parse(n).unwrap(), qtype: rtype::A, qclass: 1 }
    }

    /// An answer with one A record and an RRSIG over it expiring at `expiration`.
    fn answer(n: &str, expiration: u32) -> Arc<Message> {
        let owner = Name::parse(n).unwrap();
        let mut sig = vec![0, 1, 13, 2, 0, 0, 0, 60];
        sig.extend_from_slice(&expiration.to_be_bytes());
        sig.extend_from_slice(&[0; 4]);
        let a =
            Record { owner: owner.clone(), rtype: rtype::A, class: 1, ttl: 60, rdata: vec![192, 0, 2, 1] };
        let rrsig = Record { owner, rtype: rtype::RRSIG, class: 1, ttl: 60, rdata: sig };
        Arc::new(Message { answer: vec![a, rrsig], ..Default::default() })
    }

    #[test]
    fn only_secure_or_insecure_answers_with_live_signatures_are_served_stale() {
        let r = resolver(3600);
        let later = (unix_now() + 86_400) as u32;
        let earlier = (unix_now() - 60) as u32;
        let secure = Judgement::Checked(Security::Secure);
        let bogus = Judgement::Checked(Security::Bogus(BogusReason::CnameChainTooLong));
        let failed = Judgement::Checked(Security::Indeterminate(IndeterminateReason::LookupFailed {
            what: "z".into(),
        }));
        r.answers.put(&key("good.example."), &answer("good.example.", later), secure.clone(), "", 1);
        r.answers.put(&key("old-sig.example."), &answer("old-sig.example.", earlier), secure, "", 1);
        r.answers.put(&key("bogus.example."), &answer("bogus.example.", later), bogus, "", 1);
        r.answers.put(&key("failed.example."), &Arc::new(Message::default()), failed, "", 1);
        assert!(r.stale_answer(&key("good.example.")).is_none(), "not stale while fresh");
        std::thread::sleep(Duration::from_millis(1100));
        let stale = r.stale_answer(&key("good.example.")).expect("served stale");
        assert!(stale.stale && stale.security().is_some_and(Security::is_secure));
        assert!(r.stale_answer(&key("old-sig.example.")).is_none(), "never past signature expiration");
        assert!(r.stale_answer(&key("bogus.example.")).is_none(), "never bogus data");
        assert!(r.stale_answer(&key("failed.example.")).is_none(), "never a failure");
        let off = resolver(0);
        off.answers.put(
            &key("good.example."),
            &answer("good.example.", later),
            Judgement::Checked(Security::Secure),
            "",
            1,
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert!(off.stale_answer(&key("good.example.")).is_none(), "serve-stale = 0 is off");
    }
}
