//! Resolve and validate: cache lookup, upstream query, the validator's key lookups, one retry on
//! another upstream for a bogus answer (RFC 6840 §5.9 spirit, Unbound's `val-max-restart`), and
//! caching of the result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lookaside_dnssec::chain::{Progress, Validator};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::{IndeterminateReason, Security};
use lookaside_dnssec::rdata::soa_minimum;
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, Question};
use tracing::{debug, info};

use crate::cache::{AnswerCache, CacheKey, KeyStore};
use crate::upstream::Upstreams;

/// Pipeline settings.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Answers kept in the validated cache.
    pub answer_cache_size: usize,
    /// Zones kept in the key cache.
    pub key_cache_size: usize,
    /// Longest time an answer is cached, in seconds.
    pub max_ttl: u32,
    /// How long a bogus or failed resolution is remembered (RFC 9520: 1 s – 5 min).
    pub bogus_ttl: u32,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self { answer_cache_size: 100_000, key_cache_size: 10_000, max_ttl: 86_400, bogus_ttl: 30 }
    }
}

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
    /// Answers served from cache.
    pub cache_hits: AtomicU64,
    /// Answers that needed the upstreams.
    pub cache_misses: AtomicU64,
}

/// The outcome of one resolution.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The upstream's response (`None` when no upstream answered).
    pub response: Option<Arc<Message>>,
    /// Its verdict; for CD queries the data is unjudged unless it came from the validated cache.
    pub security: Security,
    /// One-line chain summary, for EDE texts and logs.
    pub summary: String,
    /// Seconds the data spent in the cache, subtracted from TTLs on output.
    pub age: u32,
    /// True when served from cache.
    pub cached: bool,
    /// The chain steps of the validation (empty when served from cache).
    pub steps: Vec<lookaside_dnssec::chain::ChainStep>,
}

/// The resolver: upstreams, validator and caches.
pub struct Resolver {
    upstreams: Upstreams,
    validator: Validator,
    answers: AnswerCache,
    unchecked: AnswerCache,
    keys: KeyStore,
    config: ResolverConfig,
    /// Verdict counters (shared across reloads).
    pub stats: Arc<VerdictStats>,
    ntas: Arc<NegativeAnchors>,
}

/// Negative trust anchors added at run time (RFC 7646), each with an expiry, as BIND's
/// `rndc nta`. Shared across reloads.
#[derive(Debug, Default)]
pub struct NegativeAnchors {
    inner: std::sync::Mutex<Vec<(Name, Instant)>>,
}

impl NegativeAnchors {
    /// Adds (or extends) an anchor for `zone` until `until`.
    pub fn add(&self, zone: Name, until: Instant) {
        let mut list = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(z, _)| *z != zone);
        list.push((zone, until));
    }

    /// Removes the anchor for `zone`; true when there was one.
    pub fn remove(&self, zone: &Name) -> bool {
        let mut list = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let before = list.len();
        list.retain(|(z, _)| z != zone);
        list.len() != before
    }

    /// The live anchors with their remaining time.
    pub fn list(&self) -> Vec<(Name, std::time::Duration)> {
        let now = Instant::now();
        let mut list = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(_, until)| *until > now);
        list.iter().map(|(z, until)| (z.clone(), *until - now)).collect()
    }

    /// The live anchor covering `name`, if any.
    pub fn covering(&self, name: &Name) -> Option<Name> {
        let now = Instant::now();
        let list = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().filter(|(z, until)| *until > now && name.is_at_or_below(z)).map(|(z, _)| z.clone()).next()
    }
}

impl Resolver {
    /// A resolver over these upstreams and this validator.
    pub fn new(upstreams: Upstreams, validator: Validator, config: ResolverConfig) -> Self {
        Self {
            answers: AnswerCache::new(config.answer_cache_size),
            unchecked: AnswerCache::new(config.answer_cache_size / 4 + 1),
            keys: KeyStore::new(config.key_cache_size, config.bogus_ttl),
            upstreams,
            validator,
            config,
            stats: Arc::new(VerdictStats::default()),
            ntas: Arc::new(NegativeAnchors::default()),
        }
    }

    /// Shares counters and run-time negative trust anchors with the resolver this one replaces.
    pub fn with_shared(mut self, stats: Arc<VerdictStats>, ntas: Arc<NegativeAnchors>) -> Self {
        self.stats = stats;
        self.ntas = ntas;
        self
    }

    /// The run-time negative trust anchors.
    pub fn negative_anchors(&self) -> &Arc<NegativeAnchors> {
        &self.ntas
    }

    /// Numbers of cached answers and of cached zone keys.
    pub fn cache_sizes(&self) -> (usize, usize) {
        (self.answers.len() + self.unchecked.len(), self.keys.len())
    }

    /// Drops cached answers at or below `name` (and every cached key, which is cheap to refetch).
    pub fn flush_name(&self, name: &Name) -> usize {
        let n = self.answers.remove_where(|k, _| k.name.is_at_or_below(name))
            + self.unchecked.remove_where(|k, _| k.name.is_at_or_below(name));
        self.keys.clear();
        n
    }

    /// Validates `question` afresh, ignoring caches and run-time negative trust anchors: what the
    /// verdict would be without the anchor (for the automatic recheck of negative anchors).
    pub async fn validate_fresh(&self, question: &Question) -> Security {
        self.resolve_validated(question, None).await.0.security
    }

    /// Drops cached bogus and failed answers.
    pub fn flush_bogus(&self) -> usize {
        self.answers.remove_where(|_, v| !matches!(v.security, Security::Secure | Security::Insecure(_)))
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
    }

    /// The answer from the caches alone, without waiting: the listener's fast path, which
    /// answers cache hits without spawning a task.
    pub fn cached(&self, question: &Question, checking_disabled: bool) -> Option<Resolution> {
        let key = CacheKey { name: question.name.clone(), qtype: question.qtype, qclass: question.qclass };
        self.lookup_cache(&key, checking_disabled)
    }

    fn lookup_cache(&self, key: &CacheKey, checking_disabled: bool) -> Option<Resolution> {
        let now = Instant::now();
        let hit = match self.answers.get(key, now) {
            // A validated answer serves CD queries too, but never a bogus one: CD wants the data.
            Some(hit) if !checking_disabled || !hit.security.is_bogus() => hit,
            _ if checking_disabled => self.unchecked.get(key, now)?,
            _ => return None,
        };
        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lookaside_cache_hits_total").increment(1);
        self.count(&hit.security);
        Some(Resolution {
            age: hit.age(now),
            response: Some(hit.response),
            security: hit.security,
            summary: hit.summary.to_string(),
            cached: true,
            steps: Vec::new(),
        })
    }

    /// Resolves `question`. With `checking_disabled` the data is returned unjudged (from a cache
    /// apart from the validated one, so it never reaches a client without CD).
    pub async fn resolve(&self, question: &Question, checking_disabled: bool) -> Resolution {
        let key = CacheKey { name: question.name.clone(), qtype: question.qtype, qclass: question.qclass };
        if let Some(hit) = self.lookup_cache(&key, checking_disabled) {
            return hit;
        }
        if checking_disabled {
            return self.resolve_unchecked(question, key).await;
        }
        self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lookaside_cache_misses_total").increment(1);
        if let Some(zone) = self.ntas.covering(&question.name) {
            // Under a run-time negative trust anchor: the data, unjudged and uncached.
            let mut r = self.resolve_unchecked(question, key).await;
            if r.response.is_some() {
                r.security =
                    Security::Insecure(lookaside_dnssec::outcome::InsecureReason::NegativeTrustAnchor {
                        zone,
                    });
            }
            self.count(&r.security);
            return r;
        }
        let mut result = self.resolve_validated(question, None).await;
        if result.0.security.is_bogus()
            && self.upstreams.addrs().len() > 1
            && let Some(first) = result.1
        {
            debug!(%question.name, "bogus answer, asking another upstream");
            result = self.resolve_validated(question, Some(first)).await;
        }
        let (resolution, _) = result;
        self.count(&resolution.security);
        let ttl = match (&resolution.security, &resolution.response) {
            (Security::Secure | Security::Insecure(_), Some(r)) => self.answer_ttl(r),
            _ => self.config.bogus_ttl,
        };
        if let Security::Bogus(reason) = &resolution.security {
            info!(name = %question.name, qtype = %rtype::type_name(question.qtype), chain = %resolution.summary, "bogus: {reason}");
        }
        let response = resolution.response.clone().unwrap_or_else(|| Arc::new(Message::default()));
        self.answers.put(key, response, resolution.security.clone(), resolution.summary.clone(), ttl);
        resolution
    }

    async fn resolve_unchecked(&self, question: &Question, key: CacheKey) -> Resolution {
        match self.upstreams.query(question, None).await {
            Ok((m, _)) => {
                let m = Arc::new(m);
                let security = Security::Indeterminate(IndeterminateReason::LookupFailed {
                    what: "nothing (checking disabled by the client)".into(),
                });
                let ttl = self.answer_ttl(&m);
                self.unchecked.put(key, m.clone(), security.clone(), String::new(), ttl);
                Resolution {
                    response: Some(m),
                    security,
                    summary: String::new(),
                    age: 0,
                    cached: false,
                    steps: Vec::new(),
                }
            }
            Err(e) => failed(&e),
        }
    }

    /// One upstream answer and its validation; also returns which upstream answered.
    async fn resolve_validated(
        &self,
        question: &Question,
        avoid: Option<std::net::SocketAddr>,
    ) -> (Resolution, Option<std::net::SocketAddr>) {
        let (response, from) = match self.upstreams.query(question, avoid).await {
            Ok(r) => r,
            Err(e) => return (failed(&e), None),
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut session = self.validator.session(now, &self.keys);
        let verdict = loop {
            match session.validate(question, &response) {
                Progress::Done(v) => break v,
                Progress::Need(q) => {
                    let kq = Question { name: q.name.clone(), qtype: q.rtype, qclass: question.qclass };
                    let answer = self.upstreams.query(&kq, None).await.ok().map(|(m, _)| m);
                    debug!(
                        name = %kq.name,
                        qtype = %rtype::type_name(kq.qtype),
                        rcode = ?answer.as_ref().map(Message::rcode),
                        answers = answer.as_ref().map_or(0, |m| m.answer.len()),
                        "key lookup"
                    );
                    session.supply(q, answer);
                }
            }
        };
        metrics::counter!("lookaside_signature_checks_total")
            .increment(verdict.budget.signature_checks as u64);
        metrics::counter!("lookaside_key_lookups_total").increment(verdict.budget.key_queries as u64);
        for (zone, entry) in session.learned() {
            self.keys.put(zone.clone(), entry.clone());
        }
        for (registry, nsec, ttl) in session.learned_denials() {
            self.keys.put_denial(registry.clone(), nsec.clone(), (*ttl).min(self.config.max_ttl));
        }
        let summary = verdict.summary();
        for step in
            verdict.steps.iter().filter(|s| s.status == lookaside_dnssec::chain::StepStatus::Lookaside)
        {
            debug!(name = %question.name, zone = %step.zone, "secured via look-aside: {}", step.detail);
        }
        debug!(name = %question.name, qtype = %rtype::type_name(question.qtype), chain = %summary, "{}", verdict.security);
        let ttl_cap = verdict.ttl_cap;
        let mut response = response;
        if verdict.security.is_secure() && ttl_cap > 0 {
            cap_ttls(&mut response, ttl_cap);
        }
        let resolution = Resolution {
            response: Some(Arc::new(response)),
            security: verdict.security,
            summary,
            age: 0,
            cached: false,
            steps: verdict.steps,
        };
        (resolution, Some(from))
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

    fn count(&self, s: &Security) {
        metrics::counter!("lookaside_answers_total", "verdict" => s.label()).increment(1);
        if let Some((code, _)) = s.ede() {
            metrics::counter!("lookaside_ede_total", "code" => code.to_string()).increment(1);
        }
        let c = match s {
            Security::Secure => &self.stats.secure,
            Security::Insecure(_) => &self.stats.insecure,
            Security::Bogus(_) => &self.stats.bogus,
            Security::Indeterminate(_) => &self.stats.indeterminate,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

fn failed(e: &crate::upstream::UpstreamError) -> Resolution {
    let what = match e {
        crate::upstream::UpstreamError::Unreachable { question, tried } => {
            format!("{question} (no answer from {tried} upstream(s))")
        }
        other => other.to_string(),
    };
    Resolution {
        response: None,
        security: Security::Indeterminate(IndeterminateReason::LookupFailed { what }),
        summary: String::new(),
        age: 0,
        cached: false,
        steps: Vec::new(),
    }
}

/// Caps record TTLs so that no secure record outlives its signature (RFC 4035 §5.3.3).
fn cap_ttls(m: &mut Message, cap: u32) {
    for r in m.answer.iter_mut().chain(m.authority.iter_mut()) {
        r.ttl = r.ttl.min(cap);
    }
}
