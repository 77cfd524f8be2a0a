//! Answer and key caches, TTL-bounded and memory-bounded (an LRU of a configured number of
//! entries). Keys are case-insensitive names; validated keys live apart from answers so that a
//! flood of unique names cannot evict the root's and TLDs' keys (as Unbound's key cache).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use lookaside_dnssec::chain::{KeyCache, KeyEntry};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Nsec;
use lookaside_dnssec::wire::Message;
use lru::LruCache;

use crate::resolution::Judgement;

/// What an answer is cached under: the question, case-insensitively.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct CacheKey {
    /// The name (its `Eq`/`Hash` ignore case).
    pub name: Name,
    /// Type.
    pub qtype: u16,
    /// Class.
    pub qclass: u16,
}

/// A cached resolution.
#[derive(Clone, Debug)]
pub struct CachedAnswer {
    /// The upstream's response, DNSSEC records included.
    pub response: Arc<Message>,
    /// Its verdict, or that it was not checked (the cache of CD answers).
    pub judgement: Judgement,
    /// The chain summary for EDE texts (shared: cache hits do not copy it).
    pub summary: Arc<str>,
    stored: Instant,
}

impl CachedAnswer {
    /// Seconds since it was stored, for TTL aging.
    pub fn age(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.stored).as_secs() as u32
    }
}

/// An LRU of at most a configured number of entries, each with an expiry; the one mechanism
/// under both caches. Never locked across an await.
struct ExpiringLru<K: std::hash::Hash + Eq, V> {
    inner: Mutex<LruCache<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> ExpiringLru<K, V> {
    fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self { inner: Mutex::new(LruCache::new(cap)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<K, (V, Instant)>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A live entry; an expired one is dropped on the way.
    fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut inner = self.lock();
        match inner.get(key) {
            Some((v, expires)) if *expires > now => Some(v.clone()),
            Some(_) => {
                inner.pop(key);
                None
            }
            None => None,
        }
    }

    /// Stores an entry; true when another entry was evicted to make room.
    fn put(&self, key: K, value: V, expires: Instant) -> bool {
        let evicted = self.lock().push(key.clone(), (value, expires));
        evicted.is_some_and(|(k, _)| k != key)
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn remove_where(&self, drop: impl Fn(&K, &V) -> bool) -> usize {
        let mut inner = self.lock();
        let keys: Vec<K> = inner.iter().filter(|(k, (v, _))| drop(k, v)).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            inner.pop(k);
        }
        keys.len()
    }
}

/// An LRU cache of answers with per-entry expiry.
pub struct AnswerCache {
    entries: ExpiringLru<CacheKey, CachedAnswer>,
}

impl AnswerCache {
    /// A cache of at most `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Self { entries: ExpiringLru::new(capacity) }
    }

    /// A live entry, if any.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<CachedAnswer> {
        self.entries.get(key, now)
    }

    /// Stores an answer for `ttl` seconds (nothing for 0).
    pub fn put(
        &self,
        key: CacheKey,
        response: Arc<Message>,
        judgement: Judgement,
        summary: String,
        ttl: u32,
    ) {
        if ttl == 0 {
            return;
        }
        let now = Instant::now();
        let entry = CachedAnswer { response, judgement, summary: summary.into(), stored: now };
        if self.entries.put(key, entry, now + Duration::from_secs(ttl as u64)) {
            metrics::counter!("lookaside_cache_evictions_total").increment(1);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Drops the entries for which `drop` is true; returns how many.
    pub fn remove_where(&self, drop: impl Fn(&CacheKey, &CachedAnswer) -> bool) -> usize {
        self.entries.remove_where(drop)
    }
}

/// How long a failed resolution is remembered: RFC 9520 §3.2 asks for an exponential backoff,
/// starting at 1 s, so that one forged or unlucky answer does not deny a name for long, while a
/// name that keeps failing is not asked for again and again. Consecutive failures of a question
/// are counted for [`FAILURE_MEMORY`].
pub struct FailureBackoff {
    counts: ExpiringLru<CacheKey, u32>,
}

/// How long consecutive failures of a question are remembered for the backoff.
pub const FAILURE_MEMORY: Duration = Duration::from_secs(900);

impl FailureBackoff {
    /// Remembers failures of at most `capacity` questions.
    pub fn new(capacity: usize) -> Self {
        Self { counts: ExpiringLru::new(capacity) }
    }

    /// Counts one more failure of `key` and returns how long to cache it: 1, 2, 4, … seconds,
    /// at most `max`.
    pub fn next_ttl(&self, key: &CacheKey, max: u32) -> u32 {
        let now = Instant::now();
        let count = self.counts.get(key, now).unwrap_or(0).saturating_add(1);
        self.counts.put(key.clone(), count, now + FAILURE_MEMORY);
        1u32.checked_shl(count.saturating_sub(1)).unwrap_or(u32::MAX).min(max.max(1))
    }

    /// The question succeeded: start from 1 s next time.
    pub fn forget(&self, key: &CacheKey) {
        self.counts.remove_where(|k, _| k == key);
    }
}

/// Validated key entries (trusted DNSKEY sets, insecure points), by zone.
pub struct KeyStore {
    entries: ExpiringLru<Name, KeyEntry>,
    /// Validated NSECs of look-aside registries, by registry (RFC 5074 §6).
    denials: Mutex<HashMap<Name, Vec<(Nsec, Instant)>>>,
    bogus_ttl: u32,
}

/// Registry NSECs kept per registry; the oldest go first beyond this.
pub const MAX_REGISTRY_NSECS: usize = 1024;

impl KeyStore {
    /// A store of at most `capacity` zones; bad entries live `bogus_ttl` seconds.
    pub fn new(capacity: usize, bogus_ttl: u32) -> Self {
        Self { entries: ExpiringLru::new(capacity), denials: Mutex::new(HashMap::new()), bogus_ttl }
    }

    /// Stores a validated registry NSEC for `ttl` seconds.
    pub fn put_denial(&self, registry: Name, nsec: Nsec, ttl: u32) {
        if ttl == 0 {
            return;
        }
        let now = Instant::now();
        let mut all = self.denials.lock().unwrap_or_else(|e| e.into_inner());
        let list = all.entry(registry).or_default();
        list.retain(|(n, expires)| *expires > now && n.owner != nsec.owner);
        if list.len() >= MAX_REGISTRY_NSECS {
            list.remove(0);
        }
        list.push((nsec, now + Duration::from_secs(ttl as u64)));
    }

    /// Stores an entry learned by a validation.
    pub fn put(&self, zone: Name, entry: KeyEntry) {
        let ttl = match &entry {
            KeyEntry::Trusted { ttl, .. } | KeyEntry::Insecure { ttl, .. } => *ttl,
            KeyEntry::Bad { .. } => self.bogus_ttl,
        };
        if ttl == 0 {
            return;
        }
        self.entries.put(zone, entry, Instant::now() + Duration::from_secs(ttl as u64));
    }

    /// Number of zones held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry.
    pub fn clear(&self) {
        self.entries.clear();
        self.denials.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl KeyCache for KeyStore {
    fn registry_denials(&self, registry: &Name) -> Vec<Nsec> {
        let now = Instant::now();
        let all = self.denials.lock().unwrap_or_else(|e| e.into_inner());
        all.get(registry)
            .map_or_else(Vec::new, |l| l.iter().filter(|(_, e)| *e > now).map(|(n, _)| n.clone()).collect())
    }

    fn key_entry(&self, zone: &Name) -> Option<KeyEntry> {
        self.entries.get(zone, Instant::now())
    }
}
