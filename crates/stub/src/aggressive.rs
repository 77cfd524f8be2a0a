//! Aggressive use of the DNSSEC-validated cache (RFC 8198): NXDOMAIN and NODATA answers made
//! from NSEC records that arrived in secure answers, without asking upstream. A flood of random
//! names under a signed zone (the "random subdomain" attack) then costs the upstreams one query
//! per NSEC span instead of one per name.
//!
//! Only NSEC, not NSEC3: an NSEC3 span may be opt-out (RFC 8198 §4 forbids using those), and
//! proving a name's absence with NSEC3 takes hashing per query that the NSEC walk does not.
//! Records come only from answers the validator found secure (every denial RRset of such an
//! answer was verified with its zone's keys, `chain::classify`), and the proofs are the
//! validator's own ([`lookaside_dnssec::nsec`]), so a synthesised denial is exactly as strong
//! as the answers it is made from.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lookaside_dnssec::name::Name;
use lookaside_dnssec::nsec;
use lookaside_dnssec::rdata::{Nsec, Rrsig, soa_minimum};
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Message, Question, Record, flags};

/// NSEC records kept for synthesis over all zones: about 300 bytes each with their signatures,
/// so at most some 3 MB; when full, a zone's records make room for others of that zone and
/// expired ones are swept. Unbound keeps them in its RRset cache, bounded by its size.
pub const MAX_AGGRESSIVE_NSECS: usize = 10_000;

/// Zones whose SOA and NSEC records are kept.
pub const MAX_AGGRESSIVE_ZONES: usize = 1_000;

/// A record with the signatures over it, and when it stops being usable.
#[derive(Clone, Debug)]
struct Signed {
    records: Vec<Record>,
    expires: Instant,
}

#[derive(Default)]
struct Zone {
    /// The zone's SOA: a synthesised denial carries it, for negative caching (RFC 2308).
    soa: Option<Signed>,
    /// NSEC records by owner, in canonical order (the order `Name` sorts in).
    nsecs: BTreeMap<Name, (Nsec, Signed)>,
}

/// The validated NSEC records and SOAs of signed zones, by zone.
#[derive(Default)]
pub struct NsecCache {
    zones: Mutex<HashMap<Name, Zone>>,
}

impl NsecCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the SOA and NSEC RRsets of the authority section of `response`, which the
    /// validator found **secure** (the caller's duty), for at most their TTLs. The zone of each
    /// is the signer of its RRSIG; a record without one is skipped.
    pub fn learn(&self, response: &Message) {
        let now = Instant::now();
        let mut zones = self.lock();
        for r in response.authority.iter().filter(|r| matches!(r.rtype, rtype::NSEC | rtype::SOA)) {
            let sigs: Vec<&Record> = response
                .authority
                .iter()
                .filter(|s| s.rtype == rtype::RRSIG && s.owner == r.owner)
                .filter(|s| Rrsig::parse(&s.rdata).is_some_and(|g| g.type_covered == r.rtype))
                .collect();
            let Some(zone) = sigs.first().and_then(|s| Rrsig::parse(&s.rdata)).map(|g| g.signer) else {
                continue;
            };
            if !r.owner.is_at_or_below(&zone) {
                continue;
            }
            let ttl = sigs.iter().map(|s| s.ttl).fold(r.ttl, u32::min);
            if ttl == 0 {
                continue;
            }
            let mut records = vec![r.clone()];
            records.extend(sigs.into_iter().cloned());
            let signed = Signed { records, expires: now + Duration::from_secs(u64::from(ttl)) };
            if !zones.contains_key(&zone) && zones.len() >= MAX_AGGRESSIVE_ZONES {
                zones.retain(|_, z| z.soa.as_ref().is_some_and(|s| s.expires > now));
                if zones.len() >= MAX_AGGRESSIVE_ZONES {
                    continue;
                }
            }
            let total: usize = zones.values().map(|z| z.nsecs.len()).sum();
            let entry = zones.entry(zone.clone()).or_default();
            if r.rtype == rtype::SOA {
                if r.owner == zone {
                    entry.soa = Some(signed);
                }
                continue;
            }
            let Some(parsed) = Nsec::from_record(r) else { continue };
            if total >= MAX_AGGRESSIVE_NSECS && !entry.nsecs.contains_key(&r.owner) {
                // Full: this zone's expired records go, else its first one.
                let before = entry.nsecs.len();
                entry.nsecs.retain(|_, (_, s)| s.expires > now);
                if entry.nsecs.len() == before {
                    let Some(first) = entry.nsecs.keys().next().cloned() else { continue };
                    entry.nsecs.remove(&first);
                }
            }
            entry.nsecs.insert(r.owner.to_lowercase(), (parsed, signed));
        }
    }

    /// A denial of `question` made from cached records (RFC 8198 §5.1–5.2): NXDOMAIN when an
    /// NSEC covers the name and another the wildcard at its closest encloser, NODATA when the
    /// name's NSEC lacks the type (or the name is an empty non-terminal). The records carry
    /// the TTLs they have left, the SOA included. `None` when the cache cannot prove it.
    pub fn synthesize(&self, question: &Question) -> Option<Message> {
        if matches!(question.qtype, rtype::ANY | rtype::RRSIG | rtype::NSEC | rtype::NSEC3)
            || question.qclass != rtype::CLASS_IN
        {
            return None;
        }
        let now = Instant::now();
        let zones = self.lock();
        // The closest enclosing zone we hold records of; a deeper zone we know nothing of is
        // below a delegation, whose NSEC proves nothing for it (nsec::usable_for).
        let mut apex = Some(question.name.clone());
        let (zone_name, zone) = loop {
            let a = apex?;
            if let Some(z) = zones.get(&a) {
                break (a, z);
            }
            apex = a.parent();
        };
        let soa = zone.soa.as_ref().filter(|s| s.expires > now)?;
        let live = |name: &Name| {
            zone.nsecs
                .range(..=name.to_lowercase())
                .next_back()
                .map(|(_, v)| v)
                .filter(|(_, s)| s.expires > now)
        };
        let mut used: Vec<&(Nsec, Signed)> = Vec::new();
        if let Some(n) = live(&question.name) {
            used.push(n);
            if n.0.owner != question.name {
                let a = question.name.common_ancestor(&n.0.owner);
                let b = question.name.common_ancestor(&n.0.next);
                let ce = if a.label_count() >= b.label_count() { a } else { b };
                if let Some(w) = ce.wildcard().as_ref().and_then(live)
                    && !std::ptr::eq(w, n)
                {
                    used.push(w);
                }
            }
        }
        let nsecs: Vec<Nsec> = used.iter().map(|(n, _)| n.clone()).collect();
        let rc = if nsec::prove_nodata(&nsecs, &question.name, question.qtype).is_ok() {
            rcode::NOERROR
        } else if nsec::prove_name_error(&nsecs, &question.name, &zone_name).is_ok() {
            rcode::NXDOMAIN
        } else {
            return None;
        };
        // RFC 8198 §5.4 (and RFC 9077): no record lives longer than the SOA's negative TTL.
        let negative =
            soa.records.first().and_then(|r| soa_minimum(&r.rdata)).map_or(0, |m| m.min(soa.records[0].ttl));
        let left = |s: &Signed| {
            let secs = s.expires.saturating_duration_since(now).as_secs();
            u32::try_from(secs).unwrap_or(u32::MAX).min(negative)
        };
        let mut authority = Vec::new();
        for s in std::iter::once(soa).chain(used.iter().map(|(_, s)| s)) {
            let ttl = left(s);
            authority.extend(s.records.iter().map(|r| Record { ttl: ttl.min(r.ttl), ..r.clone() }));
        }
        if authority.iter().any(|r| r.ttl == 0) {
            return None;
        }
        Some(Message {
            flags: flags::QR | flags::RA | rc,
            questions: vec![question.clone()],
            authority,
            ..Message::default()
        })
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of NSEC records held.
    pub fn len(&self) -> usize {
        self.lock().values().map(|z| z.nsecs.len()).sum()
    }

    /// True when none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Name, Zone>> {
        self.zones.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_nsec(owner: &str, next: &str) -> Vec<Record> {
        let zone = Name::parse("example.").unwrap();
        let owner = Name::parse(owner).unwrap();
        let mut rdata = Name::parse(next).unwrap().as_wire().to_vec();
        rdata.extend_from_slice(&[0, 6, 0x40, 0, 0, 0, 0, 3]);
        let mut sig = vec![0, 47, 13, 2, 0, 0, 1, 44, 0x7f, 0, 0, 0, 0x60, 0, 0, 0, 0, 1];
        sig.extend_from_slice(zone.as_wire());
        sig.extend_from_slice(&[1; 64]);
        vec![
            Record { owner: owner.clone(), rtype: rtype::NSEC, class: 1, ttl: 300, rdata },
            Record { owner, rtype: rtype::RRSIG, class: 1, ttl: 300, rdata: sig },
        ]
    }

    #[test]
    fn the_store_is_bounded_and_needs_a_soa_to_answer() {
        let cache = NsecCache::new();
        for i in 0..MAX_AGGRESSIVE_NSECS + 50 {
            let authority = signed_nsec(&format!("n{i:06}.example."), &format!("n{i:06}a.example."));
            cache.learn(&Message { authority, ..Message::default() });
        }
        assert_eq!(cache.len(), MAX_AGGRESSIVE_NSECS);
        // Covered, but no SOA of example. was ever seen: nothing is made.
        let q = Question { name: Name::parse("n000100b.example.").unwrap(), qtype: rtype::A, qclass: 1 };
        assert!(cache.synthesize(&q).is_none());
    }

    #[test]
    fn records_without_a_signature_are_not_kept() {
        let cache = NsecCache::new();
        let mut authority = signed_nsec("a.example.", "c.example.");
        authority.pop();
        cache.learn(&Message { authority, ..Message::default() });
        assert!(cache.is_empty());
    }
}
