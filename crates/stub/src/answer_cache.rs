//! The answer cache: responses packed as wire bytes ([`PackedAnswer`]), in a table split into
//! shards by the question's hash, each evicting by CLOCK under its share of an entry count and a
//! byte budget.
//!
//! Why this shape: a cache hit is the daemon's most common work. With one lock around an LRU
//! every hit wrote the LRU's list under a lock both receive loops wanted, and cloned parsed
//! records to encode them again. Here a hit locks one shard of sixteen, sets a bit, and copies
//! the packed bytes out (`respond::answer`); entries are a slot in a slab plus one allocation of
//! bytes, with the question inside the bytes serving as the key, and the authority and
//! additional sections shared between entries whose bytes are equal (a wildcard's NSEC proof,
//! a zone's SOA). Unbound's message and RRset caches share RRsets the same way.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use lookaside_dnssec::name::Name;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::wire::{Message, Question};

use crate::cache::{CacheKey, SWEEP_EVERY};
use crate::packed::PackedAnswer;
use crate::resolution::Judgement;

/// Shards of the answer cache (a power of two): enough that the receive loops of a few cores
/// rarely want the same one at once, few enough that each keeps a useful share of the budget.
pub const ANSWER_SHARDS: usize = 16;

/// Bytes per entry beyond its packed answer, for the budget: its slab slot, its share of the
/// hash table and the allocator's overhead on the answer's bytes.
const ENTRY_OVERHEAD: usize = 112;

/// Slots made at start per shard, at most (72 bytes each, written only as entries come).
const PREALLOCATED_SLOTS: usize = 1 << 16;

/// Every this many insertions, shared tails that no entry holds any more are let go.
const TAIL_SWEEP_EVERY: u64 = 1024;

static SECURE: Judgement = Judgement::Checked(Security::Secure);

/// A cached answer taken out of the cache whole (parsed again): for the debug tools and
/// serve-stale, not the hit path, which serves [`Hit`]s in place.
#[derive(Clone, Debug)]
pub struct CachedAnswer {
    /// The upstream's response, DNSSEC records included.
    pub response: Arc<Message>,
    /// Its verdict, or that it was not checked (the cache of CD answers).
    pub judgement: Judgement,
    /// The chain summary for EDE texts (kept for answers that are not secure).
    pub summary: String,
    /// Seconds since it was stored.
    pub age: u32,
    /// The TTL it was stored with, in seconds.
    pub ttl: u32,
}

/// A cache hit, lent out while the answer is written.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'a> {
    /// The packed response.
    pub answer: &'a PackedAnswer,
    /// Its verdict.
    pub judgement: &'a Judgement,
    /// The chain summary (empty for secure answers: no EDE needs it).
    pub summary: &'a str,
    /// Seconds since it was stored.
    pub age: u32,
    /// The TTL it was stored with, in seconds.
    pub ttl: u32,
}

struct Entry {
    answer: PackedAnswer,
    /// The verdict and chain summary; `None` for secure, the common case, which needs neither.
    known: Option<Box<(Judgement, Box<str>)>>,
    stored_ms: u64,
    ttl: u32,
    /// CLOCK's reference bit: set by a hit, cleared as the hand passes.
    visited: bool,
}

impl Entry {
    fn judgement(&self) -> &Judgement {
        self.known.as_ref().map_or(&SECURE, |k| &k.0)
    }

    fn summary(&self) -> &str {
        self.known.as_ref().map_or("", |k| &k.1)
    }

    /// What the entry counts against the budget.
    fn weight(&self) -> usize {
        self.answer.len() + self.known.as_ref().map_or(0, |k| 64 + k.1.len()) + ENTRY_OVERHEAD
    }

    fn expires_ms(&self) -> u64 {
        self.stored_ms.saturating_add(u64::from(self.ttl) * 1000)
    }

    fn hit(&self, now_ms: u64) -> Hit<'_> {
        Hit {
            answer: &self.answer,
            judgement: self.judgement(),
            summary: self.summary(),
            age: (now_ms.saturating_sub(self.stored_ms) / 1000) as u32,
            ttl: self.ttl,
        }
    }
}

struct Shard {
    /// The cache's hasher, to hash entries again (they do not keep their hash: 8 bytes each).
    hasher: hashbrown::DefaultHashBuilder,
    /// Slab indices, by question hash.
    table: HashTable<u32>,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    hand: usize,
    bytes: usize,
    len: usize,
    puts: u64,
}

impl Shard {
    fn new(hasher: hashbrown::DefaultHashBuilder, capacity: usize) -> Self {
        Self {
            hasher,
            table: HashTable::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            hand: 0,
            bytes: 0,
            len: 0,
            puts: 0,
        }
    }

    fn find(&self, hash: u64, qname: &[u8], qtype: u16, qclass: u16) -> Option<usize> {
        let slots = &self.slots;
        self.table
            .find(hash, |&i| {
                slots[i as usize].as_ref().is_some_and(|e| e.answer.answers(qname, qtype, qclass))
            })
            .map(|&i| i as usize)
    }

    fn remove(&mut self, i: usize) -> Option<Entry> {
        let e = self.slots.get_mut(i)?.take()?;
        let hash = entry_hash(&self.hasher, &e);
        if let Ok(found) = self.table.find_entry(hash, |&j| j as usize == i) {
            found.remove();
        }
        self.free.push(i as u32);
        self.bytes -= e.weight();
        self.len -= 1;
        Some(e)
    }

    fn insert(&mut self, hash: u64, entry: Entry) {
        self.bytes += entry.weight();
        self.len += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(entry);
                i
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        let Shard { table, slots, hasher, .. } = self;
        table.insert_unique(hash, i, |&j| slots[j as usize].as_ref().map_or(0, |e| entry_hash(hasher, e)));
    }

    /// CLOCK: the hand clears reference bits until it meets an entry without one, which goes.
    fn evict_one(&mut self) -> bool {
        let n = self.slots.len();
        for _ in 0..2 * n {
            let i = self.hand;
            self.hand = (self.hand + 1) % n;
            match &mut self.slots[i] {
                Some(e) if e.visited => e.visited = false,
                Some(_) => return self.remove(i).is_some(),
                None => {}
            }
        }
        false
    }

    /// Drops every entry past its expiry and grace.
    fn sweep(&mut self, now_ms: u64, grace_ms: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|e| e.expires_ms().saturating_add(grace_ms) <= now_ms) {
                self.remove(i);
            }
        }
    }
}

/// Validated (or, for the CD cache, unchecked) answers by question, bounded by a number of
/// entries and by bytes (see the module's documentation for the shape).
pub struct AnswerCache {
    shards: Box<[Mutex<Shard>]>,
    hasher: hashbrown::DefaultHashBuilder,
    epoch: Instant,
    /// How long past its expiry an entry is kept for serving stale (RFC 8767); zero for none.
    grace_ms: u64,
    shard_capacity: usize,
    shard_budget: usize,
    /// The heaviest entry stored: a sixty-fourth of the budget, so that one answer cannot push
    /// out thousands.
    entry_limit: usize,
    tails: Mutex<Tails>,
}

#[derive(Default)]
struct Tails {
    set: HashSet<Arc<[u8]>>,
    puts: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AnswerCache {
    /// A cache of at most `capacity` answers and `budget` bytes.
    pub fn new(capacity: usize, budget: usize) -> Self {
        Self::with_stale(capacity, budget, Duration::ZERO)
    }

    /// As [`AnswerCache::new`], keeping expired answers for `grace` more, for serve-stale.
    pub fn with_stale(capacity: usize, budget: usize, grace: Duration) -> Self {
        let shard_capacity = capacity.div_ceil(ANSWER_SHARDS).max(1);
        let hasher = hashbrown::DefaultHashBuilder::default();
        // Table and slots are made at full size, as Unbound's tables: growing them would stall
        // hits and leave the old copy's memory behind. Slots not yet written cost address
        // space only; past PREALLOCATED_SLOTS a shard grows as entries come.
        let shards = (0..ANSWER_SHARDS)
            .map(|_| Mutex::new(Shard::new(hasher.clone(), shard_capacity.min(PREALLOCATED_SLOTS))))
            .collect();
        Self {
            shards,
            hasher,
            epoch: Instant::now(),
            grace_ms: grace.as_millis().min(u128::from(u64::MAX)) as u64,
            shard_capacity,
            shard_budget: budget / ANSWER_SHARDS,
            entry_limit: budget / 64,
            tails: Mutex::new(Tails::default()),
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis().min(u128::from(u64::MAX)) as u64
    }

    /// The question's hash.
    fn hash(&self, qname: &[u8], qtype: u16, qclass: u16) -> u64 {
        question_hash(&self.hasher, qname, qtype, qclass)
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // Bits the table's own probing does not use (it takes the lowest and the top seven).
        &self.shards[(hash >> 32) as usize & (ANSWER_SHARDS - 1)]
    }

    /// Calls `serve` with the live entry for the question, if any; an entry past its expiry and
    /// grace is dropped on the way. The hit path: nothing is copied but what `serve` copies.
    pub fn with_hit<R>(
        &self,
        qname: &Name,
        qtype: u16,
        qclass: u16,
        now: Instant,
        serve: impl FnOnce(Hit<'_>) -> R,
    ) -> Option<R> {
        let wire = qname.as_wire();
        let hash = self.hash(wire, qtype, qclass);
        let now_ms = self.millis(now);
        let mut shard = lock(self.shard(hash));
        let i = shard.find(hash, wire, qtype, qclass)?;
        let e = shard.slots[i].as_mut()?;
        let expires = e.expires_ms();
        if expires > now_ms {
            if !e.visited {
                e.visited = true;
            }
            return Some(serve(e.hit(now_ms)));
        }
        if expires.saturating_add(self.grace_ms) <= now_ms {
            shard.remove(i);
        }
        None
    }

    /// A live entry, parsed again.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<CachedAnswer> {
        self.with_hit(&key.name, key.qtype, key.qclass, now, whole).flatten()
    }

    /// An expired answer still within the stale window, with how long ago it expired. Does
    /// not mark it used: stale data is a fallback, not a reason to keep it.
    pub fn get_stale(&self, key: &CacheKey, now: Instant) -> Option<(CachedAnswer, Duration)> {
        let wire = key.name.as_wire();
        let hash = self.hash(wire, key.qtype, key.qclass);
        let now_ms = self.millis(now);
        let shard = lock(self.shard(hash));
        let e = shard.slots[shard.find(hash, wire, key.qtype, key.qclass)?].as_ref()?;
        let expires = e.expires_ms();
        if expires > now_ms || expires.saturating_add(self.grace_ms) <= now_ms {
            return None;
        }
        let answer = whole(e.hit(now_ms))?;
        Some((answer, Duration::from_millis(now_ms - expires)))
    }

    /// Stores `response` as the answer to `key` for `ttl` seconds (nothing for 0, or for an
    /// answer over a sixty-fourth of the budget); failures are stored with their verdict and
    /// summary and no records.
    pub fn put(&self, key: &CacheKey, response: &Message, judgement: Judgement, summary: &str, ttl: u32) {
        if ttl == 0 {
            return;
        }
        let question = Question { name: key.name.clone(), qtype: key.qtype, qclass: key.qclass };
        let Some(answer) = PackedAnswer::pack(&question, response) else { return };
        let answer = {
            let (section, tail) = (self.intern(answer.answer_section()), self.intern(answer.tail()));
            answer.with_shared(section, tail)
        };
        let known = match judgement {
            Judgement::Checked(Security::Secure) => None,
            j => Some(Box::new((j, Box::<str>::from(summary)))),
        };
        let entry = Entry { answer, known, stored_ms: 0, ttl, visited: false };
        let weight = entry.weight();
        let hash = self.hash(key.name.as_wire(), key.qtype, key.qclass);
        let now_ms = self.millis(Instant::now());
        let mut shard = lock(self.shard(hash));
        if let Some(i) = shard.find(hash, key.name.as_wire(), key.qtype, key.qclass) {
            shard.remove(i);
        }
        if weight > self.entry_limit {
            return;
        }
        shard.puts += 1;
        if shard.puts.is_multiple_of(SWEEP_EVERY) {
            shard.sweep(now_ms, self.grace_ms);
        }
        let mut evicted = false;
        while (shard.bytes + weight > self.shard_budget || shard.len >= self.shard_capacity)
            && shard.evict_one()
        {
            evicted = true;
        }
        shard.insert(hash, Entry { stored_ms: now_ms, ..entry });
        drop(shard);
        if evicted {
            crate::counters::get().cache_evictions.increment(1);
        }
    }

    /// The shared copy of sections equal to `tail` (made the shared copy if it is the first).
    fn intern(&self, tail: &Arc<[u8]>) -> Arc<[u8]> {
        let mut tails = lock(&self.tails);
        tails.puts += 1;
        if tails.puts.is_multiple_of(TAIL_SWEEP_EVERY) {
            tails.set.retain(|t| Arc::strong_count(t) > 1);
        }
        if let Some(shared) = tails.set.get(&**tail) {
            return shared.clone();
        }
        tails.set.insert(tail.clone());
        tail.clone()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, by the estimate (shared tails counted in every entry that holds them).
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| lock(s).bytes).sum()
    }

    /// Drops every entry.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            let mut s = lock(s);
            let capacity = s.table.capacity();
            *s = Shard::new(s.hasher.clone(), capacity);
        }
        lock(&self.tails).set.clear();
    }

    /// Drops the entries for which `drop` is true; returns how many.
    pub fn remove_where(&self, drop: impl Fn(&CacheKey, &Judgement) -> bool) -> usize {
        let mut n = 0;
        for s in self.shards.iter() {
            let mut s = lock(s);
            for i in 0..s.slots.len() {
                let Some(e) = &s.slots[i] else { continue };
                let Some(key) = key_of(&e.answer) else { continue };
                if drop(&key, e.judgement()) {
                    s.remove(i);
                    n += 1;
                }
            }
        }
        n
    }
}

/// The hash of a question: of its lower-cased name, type and class.
fn question_hash(hasher: &hashbrown::DefaultHashBuilder, qname: &[u8], qtype: u16, qclass: u16) -> u64 {
    let mut key = [0u8; 259];
    let n = qname.len().min(255);
    for (k, b) in key.iter_mut().zip(&qname[..n]) {
        *k = b.to_ascii_lowercase();
    }
    key[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
    key[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
    hasher.hash_one(&key[..n + 4])
}

/// The hash an entry is filed under (recomputed: entries do not keep it).
fn entry_hash(hasher: &hashbrown::DefaultHashBuilder, e: &Entry) -> u64 {
    let wire = e.answer.qname_wire();
    let at = 12 + wire.len();
    let tc = e.answer.head().get(at..at + 4).unwrap_or(&[0; 4]);
    question_hash(hasher, wire, u16::from_be_bytes([tc[0], tc[1]]), u16::from_be_bytes([tc[2], tc[3]]))
}

/// The question an entry answers.
fn key_of(answer: &PackedAnswer) -> Option<CacheKey> {
    let wire = answer.qname_wire();
    let at = 12 + wire.len();
    let tc = answer.head().get(at..at + 4)?;
    Some(CacheKey {
        name: Name::from_wire(wire.to_vec()).ok()?,
        qtype: u16::from_be_bytes([tc[0], tc[1]]),
        qclass: u16::from_be_bytes([tc[2], tc[3]]),
    })
}

fn whole(hit: Hit<'_>) -> Option<CachedAnswer> {
    Some(CachedAnswer {
        response: Arc::new(hit.answer.to_message().ok()?),
        judgement: hit.judgement.clone(),
        summary: hit.summary.to_string(),
        age: hit.age,
        ttl: hit.ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookaside_dnssec::outcome::InsecureReason;
    use lookaside_dnssec::wire::Record;

    fn key(name: &str, qtype: u16) -> CacheKey {
        CacheKey { name: Name::parse(name).unwrap(), qtype, qclass: 1 }
    }

    fn answer(owner: &str, size: usize, authority: usize) -> Message {
        let owner = Name::parse(owner).unwrap();
        let zone = Name::parse("example.").unwrap();
        Message {
            answer: vec![Record { owner, rtype: 16, class: 1, ttl: 60, rdata: vec![7; size] }],
            authority: (0..authority)
                .map(|i| Record {
                    owner: zone.clone(),
                    rtype: 2,
                    class: 1,
                    ttl: 60,
                    rdata: vec![i as u8; 40],
                })
                .collect(),
            ..Message::default()
        }
    }

    #[test]
    fn the_answer_cache_stays_within_its_byte_budget() {
        let cache = AnswerCache::new(1_000_000, 1 << 20);
        for i in 0..2_000 {
            let name = format!("n{i}.example.");
            cache.put(&key(&name, 16), &answer(&name, 4_000, 0), Judgement::Unchecked, "", 60);
            assert!(cache.bytes() <= 1 << 20, "{} bytes after {i}", cache.bytes());
        }
        assert!(cache.len() > 100 && cache.len() < 300, "{} entries of ~4 kB in 1 MiB", cache.len());
        // One answer over a sixty-fourth of the budget is not cached at all.
        let huge = key("huge.example.", 16);
        cache.put(&huge, &answer("huge.example.", 60_000, 0), Judgement::Unchecked, "", 60);
        assert!(cache.get(&huge, Instant::now()).is_none());
    }

    #[test]
    fn the_entry_count_is_a_bound_too() {
        let cache = AnswerCache::new(160, 1 << 30);
        for i in 0..1_000 {
            let name = format!("n{i}.example.");
            cache.put(&key(&name, 16), &answer(&name, 10, 0), Judgement::Unchecked, "", 60);
        }
        assert_eq!(cache.len(), 160);
    }

    #[test]
    fn lookups_ignore_case_and_tell_types_apart() {
        let cache = AnswerCache::new(100, 1 << 20);
        let insecure = Judgement::Checked(Security::Insecure(InsecureReason::NegativeTrustAnchor {
            zone: Name::parse("example.").unwrap(),
        }));
        cache.put(&key("Www.Example.", 16), &answer("www.example.", 20, 0), insecure.clone(), "why", 60);
        let hit = cache.get(&key("wWW.eXAMPLE.", 16), Instant::now()).unwrap();
        assert_eq!(hit.judgement, insecure);
        assert_eq!(hit.summary, "why");
        assert_eq!(hit.response.answer[0].rdata, vec![7; 20]);
        assert!(cache.get(&key("www.example.", 1), Instant::now()).is_none());
        assert_eq!(cache.remove_where(|k, _| k.name.is_at_or_below(&Name::parse("EXAMPLE.").unwrap())), 1);
        assert!(cache.is_empty());
    }

    #[test]
    fn equal_sections_are_stored_once() {
        let cache = AnswerCache::new(100, 1 << 20);
        for i in 0..10 {
            let name = format!("n{i}.example.");
            cache.put(&key(&name, 16), &answer(&name, 4, 3), Judgement::Checked(Security::Secure), "", 60);
        }
        // Each answer section is its name's record as a pointer to the question and the same
        // data: one copy; the authority sections are equal: one more.
        assert_eq!(lock(&cache.tails).set.len(), 2, "ten answers share their sections");
        let shard_of = |n: &str| cache.hash(Name::parse(n).unwrap().as_wire(), 16, 1);
        let s = lock(cache.shard(shard_of("n1.example.")));
        let i =
            s.find(shard_of("n1.example."), Name::parse("n1.example.").unwrap().as_wire(), 16, 1).unwrap();
        assert_eq!(Arc::strong_count(s.slots[i].as_ref().unwrap().answer.tail()), 11);
    }

    #[test]
    fn expired_answers_are_served_stale_only_within_the_grace() {
        let cache = AnswerCache::with_stale(100, 1 << 20, Duration::from_secs(60));
        let k = key("old.example.", 16);
        cache.put(&k, &answer("old.example.", 4, 0), Judgement::Checked(Security::Secure), "", 1);
        let later = Instant::now() + Duration::from_secs(2);
        assert!(cache.get(&k, later).is_none());
        let (stale, expired) = cache.get_stale(&k, later).unwrap();
        assert!(expired >= Duration::from_millis(900), "{expired:?}");
        assert_eq!(stale.ttl, 1);
        assert!(cache.get_stale(&k, later + Duration::from_secs(60)).is_none());
    }
}

#[cfg(test)]
mod size {
    /// A slot is what every cached answer costs beyond its bytes: keep it small.
    #[test]
    fn a_slot_is_72_bytes() {
        assert_eq!(size_of::<Option<super::Entry>>(), 72);
    }
}
