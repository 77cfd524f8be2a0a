//! The key cache and the small caches beside the answers (failure backoff, stale hold-off),
//! TTL-bounded and memory-bounded (an LRU of a configured number of entries). Keys are
//! case-insensitive names; validated keys live apart from answers ([`crate::answer_cache`]) so
//! that a flood of unique names cannot evict the root's and TLDs' keys (as Unbound's key cache).

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use lookaside_dnssec::chain::{KeyCache, KeyEntry};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Nsec;
use lru::LruCache;

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

/// What an entry costs in memory, in bytes: its heap data plus a fixed allowance for the
/// structures around it. An estimate, but one that grows with what an attacker controls (record
/// data, names), which is what a byte budget must bound.
pub trait Weigh {
    /// The estimate.
    fn weight(&self) -> usize;
}

/// Per-entry overhead of the LRU map and the entry structs, in bytes.
const ENTRY_OVERHEAD: usize = 160;

impl Weigh for CacheKey {
    fn weight(&self) -> usize {
        self.name.as_wire().len() + 32
    }
}

impl Weigh for Name {
    fn weight(&self) -> usize {
        self.as_wire().len() + 32
    }
}

impl Weigh for KeyEntry {
    fn weight(&self) -> usize {
        match self {
            KeyEntry::Trusted { keys, .. } => keys.iter().map(|k| k.rdata.len() * 2 + 64).sum::<usize>() + 32,
            KeyEntry::Insecure { .. } | KeyEntry::Bad { .. } => 128,
        }
    }
}

impl Weigh for u32 {
    fn weight(&self) -> usize {
        4
    }
}

/// An LRU bounded by a number of entries and by bytes (their [`Weigh`] estimate), each entry with
/// an expiry; the one mechanism under every cache. Expired entries are reclaimed as they are
/// met and, every [`SWEEP_EVERY`] insertions, by a sweep of the whole map, so that a flood of
/// names asked once cannot keep dead entries alive until the LRU pushes them out. Never locked
/// across an await.
struct ExpiringLru<K: std::hash::Hash + Eq, V> {
    inner: Mutex<Lru<K, V>>,
}

struct Lru<K: std::hash::Hash + Eq, V> {
    map: LruCache<K, (V, Instant, usize)>,
    bytes: usize,
    budget: usize,
    puts: u64,
}

/// Insertions between two sweeps of expired entries.
pub const SWEEP_EVERY: u64 = 1024;

impl<K: std::hash::Hash + Eq + Clone + Weigh, V: Clone + Weigh> ExpiringLru<K, V> {
    fn new(capacity: usize, budget: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self { inner: Mutex::new(Lru { map: LruCache::new(cap), bytes: 0, budget, puts: 0 }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A live entry; an expired one is dropped on the way.
    fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut inner = self.lock();
        match inner.map.get(key) {
            Some((v, expires, _)) if *expires > now => Some(v.clone()),
            Some(_) => {
                if let Some((_, _, w)) = inner.map.pop(key) {
                    inner.bytes -= w;
                }
                None
            }
            None => None,
        }
    }

    /// Stores an entry; true when other entries were evicted to make room. An entry heavier than
    /// a sixty-fourth of the budget is not stored: one answer must not push out thousands.
    fn put(&self, key: K, value: V, expires: Instant) -> bool {
        let weight = key.weight() + value.weight() + ENTRY_OVERHEAD;
        let mut inner = self.lock();
        if weight > inner.budget / 64 {
            if let Some((_, _, w)) = inner.map.pop(&key) {
                inner.bytes -= w;
            }
            return false;
        }
        inner.puts += 1;
        if inner.puts.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            let dead: Vec<K> =
                inner.map.iter().filter(|(_, (_, e, _))| *e <= now).map(|(k, _)| k.clone()).collect();
            for k in dead {
                if let Some((_, _, w)) = inner.map.pop(&k) {
                    inner.bytes -= w;
                }
            }
        }
        let mut evicted = false;
        if let Some((old_key, (_, _, w))) = inner.map.push(key.clone(), (value, expires, weight)) {
            inner.bytes -= w;
            evicted |= old_key != key;
        }
        inner.bytes += weight;
        while inner.bytes > inner.budget {
            let Some((_, (_, _, w))) = inner.map.pop_lru() else { break };
            inner.bytes -= w;
            evicted = true;
        }
        evicted
    }

    fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Bytes held (by the estimate).
    fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.bytes = 0;
    }

    fn remove_where(&self, drop: impl Fn(&K, &V) -> bool) -> usize {
        let mut inner = self.lock();
        let keys: Vec<K> =
            inner.map.iter().filter(|(k, (v, _, _))| drop(k, v)).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            if let Some((_, _, w)) = inner.map.pop(k) {
                inner.bytes -= w;
            }
        }
        keys.len()
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
        Self { counts: ExpiringLru::new(capacity, usize::MAX) }
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

/// Questions whose refresh failed lately: their stale answers are served at once, without
/// waiting for the upstreams again (RFC 8767 §5, the failure recheck timer, 30 s suggested).
pub struct StaleHoldoff {
    until: ExpiringLru<CacheKey, u32>,
}

/// How long after a failed refresh stale data is served without trying again (RFC 8767 §5).
pub const FAILURE_RECHECK: Duration = Duration::from_secs(30);

impl StaleHoldoff {
    /// Remembers at most `capacity` questions.
    pub fn new(capacity: usize) -> Self {
        Self { until: ExpiringLru::new(capacity, usize::MAX) }
    }

    /// The refresh of `key` failed now.
    pub fn failed(&self, key: &CacheKey) {
        self.until.put(key.clone(), 1, Instant::now() + FAILURE_RECHECK);
    }

    /// True while `key` is held off.
    pub fn holds(&self, key: &CacheKey) -> bool {
        self.until.get(key, Instant::now()).is_some()
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
    /// A store of at most `capacity` zones and `budget` bytes; bad entries live `bogus_ttl`
    /// seconds.
    pub fn new(capacity: usize, budget: usize, bogus_ttl: u32) -> Self {
        Self { entries: ExpiringLru::new(capacity, budget), denials: Mutex::new(HashMap::new()), bogus_ttl }
    }

    /// Bytes held, by the estimate of [`Weigh`].
    pub fn bytes(&self) -> usize {
        self.entries.bytes()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_swept_without_being_asked_for() {
        let cache: ExpiringLru<CacheKey, u32> = ExpiringLru::new(100_000, usize::MAX);
        let past = Instant::now();
        for i in 0..SWEEP_EVERY - 1 {
            let key = CacheKey { name: Name::parse(&format!("n{i}.example.")).unwrap(), qtype: 1, qclass: 1 };
            cache.put(key, 1, past);
        }
        assert_eq!(cache.len(), (SWEEP_EVERY - 1) as usize);
        let key = CacheKey { name: Name::parse("last.example.").unwrap(), qtype: 1, qclass: 1 };
        cache.put(key, 1, Instant::now() + Duration::from_secs(60));
        assert_eq!(cache.len(), 1, "the sweep dropped every expired entry");
    }
}
