//! RFC 5011 automated updates of trust anchors: a state machine per key, fed with validated
//! DNSKEY RRsets of the trust point and the time, and a text form for the state file.
//!
//! ```text
//! RFC 5011 §4.4: Start --(new SEP key seen)--> AddPend --(hold-down passed)--> Valid
//!                Valid --(absent)--> Missing --(seen)--> Valid
//!                Valid|Missing --(REVOKE bit, self-signed)--> Revoked --(30 days)--> Removed
//!                AddPend --(absent)--> Start (forgotten)
//! ```
//!
//! # Limitations
//! - The caller decides when to probe (RFC 5011 §2.3 active refresh) and verifies the RRSIGs;
//!   this module only tracks states.

use std::fmt::Write;

use crate::anchor::TrustAnchor;
use crate::canonical::group;
use crate::codec::{base64_decode, base64_encode};
use crate::limits::Budget;
use crate::name::Name;
use crate::rdata::{Dnskey, FLAG_REVOKE, FLAG_SEP};
use crate::rtype;
use crate::verify::{Clock, ds_matches, verify_rrset};
use crate::wire::Message;

/// RFC 5011 §2.4.1: add hold-down time, at least 30 days.
pub const ADD_HOLD_DOWN: u64 = 30 * 86400;
/// RFC 5011 §2.4.2: remove hold-down time, 30 days.
pub const REMOVE_HOLD_DOWN: u64 = 30 * 86400;

/// The state of one key (RFC 5011 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Seen, waiting out the add hold-down since the given time.
    AddPend(u64),
    /// Trusted but absent from the last RRset.
    Missing,
    /// Revoked since the given time.
    Revoked(u64),
    /// Trusted.
    Valid,
}

/// One tracked key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedKey {
    /// The key, without the REVOKE bit (so a revoked key stays the same key).
    pub key: Dnskey,
    /// Its state.
    pub state: KeyState,
}

/// Why an observation was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AutotrustError {
    /// The RRset was not signed by a key trusted now.
    #[error("DNSKEY set not signed by a trusted key; ignored")]
    NotValidated,
    /// The state file is malformed.
    #[error("state file line {line}: {message}")]
    BadState {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The keys of one trust point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustPoint {
    /// Tracked keys.
    pub keys: Vec<TrackedKey>,
}

fn without_revoke(k: &Dnskey) -> Dnskey {
    let mut rdata = k.rdata.clone();
    rdata[1] &= !(FLAG_REVOKE as u8);
    Dnskey::parse(&rdata).unwrap_or_else(|| k.clone())
}

impl TrustPoint {
    /// A trust point starting from configured keys, all Valid.
    pub fn from_keys(keys: &[Dnskey]) -> Self {
        Self {
            keys: keys
                .iter()
                .map(|k| TrackedKey { key: without_revoke(k), state: KeyState::Valid })
                .collect(),
        }
    }

    /// The keys to trust now: Valid and Missing ones (RFC 5011 §4.2).
    pub fn trusted(&self) -> Vec<Dnskey> {
        self.keys
            .iter()
            .filter(|k| matches!(k.state, KeyState::Valid | KeyState::Missing))
            .map(|k| k.key.clone())
            .collect()
    }

    /// Takes a DNSKEY RRset seen at `now`. `signed_by` holds the key tags (as published, REVOKE
    /// bit included) whose RRSIG over the set verified. The set counts only when one of them is
    /// trusted now; a revoked key counts as revoked only when it signed the set itself.
    pub fn observe(
        &mut self,
        now: u64,
        published: &[Dnskey],
        signed_by: &[u16],
    ) -> Result<(), AutotrustError> {
        // A key without key material can sign nothing and could not be written back to the state
        // file (its base64 field would be empty): it is not tracked.
        let published: Vec<Dnskey> = published.iter().filter(|k| !k.public_key.is_empty()).cloned().collect();
        let published = published.as_slice();
        let trusted = self.trusted();
        let validated = published.iter().any(|k| {
            signed_by.contains(&k.key_tag())
                && trusted.iter().any(|t| *t == without_revoke(k))
                && !k.is_revoked()
        });
        let revoked_self_signed: Vec<Dnskey> = published
            .iter()
            .filter(|k| k.is_revoked() && signed_by.contains(&k.key_tag()))
            .map(without_revoke)
            .collect();
        if !validated && revoked_self_signed.is_empty() {
            return Err(AutotrustError::NotValidated);
        }
        // Revocations first (RFC 5011 §4.2: a self-signed revoked key is revoked at once).
        for t in &mut self.keys {
            if revoked_self_signed.contains(&t.key) && !matches!(t.state, KeyState::Revoked(_)) {
                t.state = KeyState::Revoked(now);
            }
        }
        if !validated {
            return Ok(());
        }
        let seen: Vec<Dnskey> = published
            .iter()
            .filter(|k| k.flags & FLAG_SEP != 0 && !k.is_revoked())
            .map(without_revoke)
            .collect();
        for t in &mut self.keys {
            let present = seen.contains(&t.key);
            t.state = match t.state {
                KeyState::AddPend(since) if present && now >= since + ADD_HOLD_DOWN => KeyState::Valid,
                KeyState::Valid if !present => KeyState::Missing,
                KeyState::Missing if present => KeyState::Valid,
                other => other,
            };
        }
        // AddPend keys that vanished are forgotten; revoked ones after the remove hold-down.
        self.keys.retain(|t| match t.state {
            KeyState::AddPend(_) => seen.contains(&t.key),
            KeyState::Revoked(since) => now < since + REMOVE_HOLD_DOWN,
            _ => true,
        });
        for k in seen {
            if !self.keys.iter().any(|t| t.key == k) {
                self.keys.push(TrackedKey { key: k, state: KeyState::AddPend(now) });
            }
        }
        Ok(())
    }

    /// The state file: one line per key, `STATE SINCE FLAGS PROTOCOL ALGORITHM BASE64KEY`.
    pub fn to_text(&self) -> String {
        let mut out = String::from("; lookaside RFC 5011 trust point state\n");
        for t in &self.keys {
            let (state, since) = match t.state {
                KeyState::AddPend(s) => ("addpend", s),
                KeyState::Missing => ("missing", 0),
                KeyState::Revoked(s) => ("revoked", s),
                KeyState::Valid => ("valid", 0),
            };
            let k = &t.key;
            let _ = writeln!(
                out,
                "{state} {since} {} {} {} {} ; key tag {}",
                k.flags,
                k.protocol,
                k.algorithm,
                base64_encode(&k.public_key),
                k.key_tag()
            );
        }
        out
    }

    /// Reads the state file.
    pub fn from_text(text: &str) -> Result<Self, AutotrustError> {
        let mut keys = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split(';').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |message: &str| AutotrustError::BadState { line: i + 1, message: message.into() };
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 6 {
                return Err(bad("expected: STATE SINCE FLAGS PROTOCOL ALGORITHM KEY"));
            }
            let since: u64 = f[1].parse().map_err(|_| bad("bad time"))?;
            let state = match f[0] {
                "addpend" => KeyState::AddPend(since),
                "missing" => KeyState::Missing,
                "revoked" => KeyState::Revoked(since),
                "valid" => KeyState::Valid,
                _ => return Err(bad("unknown state")),
            };
            let flags: u16 = f[2].parse().map_err(|_| bad("bad flags"))?;
            let protocol: u8 = f[3].parse().map_err(|_| bad("bad protocol"))?;
            let algorithm: u8 = f[4].parse().map_err(|_| bad("bad algorithm"))?;
            let key = base64_decode(f[5]).filter(|k| !k.is_empty()).ok_or_else(|| bad("bad base64"))?;
            let mut rdata = flags.to_be_bytes().to_vec();
            rdata.extend_from_slice(&[protocol, algorithm]);
            rdata.extend_from_slice(&key);
            let key = Dnskey::parse(&rdata).ok_or_else(|| bad("bad key"))?;
            keys.push(TrackedKey { key, state });
        }
        Ok(Self { keys })
    }
}

/// What one probe of a trust point saw (RFC 5011 §2.2): the zone's published DNSKEY set and the
/// tags of the keys whose signature over that set verifies at the time of the probe.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Every key in the DNSKEY RRset.
    pub published: Vec<Dnskey>,
    /// Tags of the keys that sign the set (a new key counts only once a trusted key signs it,
    /// which [`TrustPoint::observe`] checks).
    pub signed_by: Vec<u16>,
}

impl Observation {
    /// Reads the DNSKEY answer for `zone`; `None` when it holds no DNSKEY set of the zone. Each
    /// key is tried alone against the set's RRSIGs at `now` (seconds since the epoch).
    pub fn of_response(zone: &Name, response: &Message, now: u64) -> Option<Self> {
        let set =
            group(&response.answer).into_iter().find(|s| s.rtype == rtype::DNSKEY && s.owner == *zone)?;
        let published: Vec<Dnskey> = set.rdatas.iter().filter_map(|r| Dnskey::parse(r)).collect();
        let clock = Clock::at(now);
        let signed_by = published
            .iter()
            .filter(|k| {
                let mut budget = Budget::default();
                verify_rrset(&set, zone, std::slice::from_ref(*k), clock, &mut budget).is_ok()
            })
            .map(Dnskey::key_tag)
            .collect();
        Some(Self { published, signed_by })
    }

    /// The published keys the configured anchor of the zone vouches for (its keys, or keys its
    /// DS records match): the seed of a new trust point.
    pub fn anchored_keys(&self, anchor: &TrustAnchor) -> Vec<Dnskey> {
        self.published
            .iter()
            .filter(|k| anchor.keys.contains(k) || anchor.ds.iter().any(|d| ds_matches(&anchor.zone, k, d)))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8, revoked: bool) -> Dnskey {
        let flags: u16 = 257 | if revoked { FLAG_REVOKE } else { 0 };
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.extend_from_slice(&[3, 8]);
        rdata.extend_from_slice(&[n; 64]);
        Dnskey::parse(&rdata).unwrap()
    }

    const DAY: u64 = 86400;

    /// A simulated root KSK roll, as KSK-2017 to KSK-2024: publish the new key, wait out the
    /// hold-down, switch signing, revoke the old key, remove it.
    #[test]
    fn rfc5011_simulated_ksk_roll() {
        let (old, new) = (key(1, false), key(2, false));
        let mut tp = TrustPoint::from_keys(std::slice::from_ref(&old));
        let t0 = 1_700_000_000;
        // Day 0: the new key is published, the set still signed by the old one.
        tp.observe(t0, &[old.clone(), new.clone()], &[old.key_tag()]).unwrap();
        assert_eq!(tp.keys[1].state, KeyState::AddPend(t0));
        assert_eq!(tp.trusted(), vec![old.clone()]);
        // Day 29: still pending.
        tp.observe(t0 + 29 * DAY, &[old.clone(), new.clone()], &[old.key_tag()]).unwrap();
        assert_eq!(tp.trusted(), vec![old.clone()]);
        // Day 30: hold-down over, the new key is trusted.
        tp.observe(t0 + 30 * DAY, &[old.clone(), new.clone()], &[old.key_tag()]).unwrap();
        assert_eq!(tp.trusted(), vec![old.clone(), new.clone()]);
        // Day 60: signing switches to the new key; the old key is published revoked and
        // signs the set itself.
        let old_revoked = key(1, true);
        tp.observe(
            t0 + 60 * DAY,
            &[old_revoked.clone(), new.clone()],
            &[new.key_tag(), old_revoked.key_tag()],
        )
        .unwrap();
        assert_eq!(tp.keys[0].state, KeyState::Revoked(t0 + 60 * DAY));
        assert_eq!(tp.trusted(), vec![new.clone()]);
        // State survives a restart.
        let restored = TrustPoint::from_text(&tp.to_text()).unwrap();
        assert_eq!(restored, tp);
        // Day 91: the revoked key is forgotten after the remove hold-down.
        tp.observe(t0 + 91 * DAY, std::slice::from_ref(&new), &[new.key_tag()]).unwrap();
        assert_eq!(tp.keys.len(), 1);
        assert_eq!(tp.trusted(), vec![new]);
    }

    #[test]
    fn a_published_key_without_key_material_is_not_tracked_and_the_state_reads_back() {
        let a = key(1, false);
        let empty = Dnskey::parse(&[1, 1, 3, 8]).unwrap();
        assert!(empty.public_key.is_empty());
        let mut tp = TrustPoint::from_keys(std::slice::from_ref(&a));
        tp.observe(0, &[a.clone(), empty], &[a.key_tag()]).unwrap();
        assert_eq!(tp.keys.len(), 1);
        assert_eq!(TrustPoint::from_text(&tp.to_text()).unwrap(), tp);
    }

    #[test]
    fn unvalidated_sets_change_nothing_and_missing_keys_stay_trusted() {
        let (a, b, stranger) = (key(1, false), key(2, false), key(9, false));
        let mut tp = TrustPoint::from_keys(&[a.clone(), b.clone()]);
        // Signed only by an unknown key: ignored (an attacker cannot add keys).
        assert_eq!(
            tp.observe(0, std::slice::from_ref(&stranger), &[stranger.key_tag()]),
            Err(AutotrustError::NotValidated)
        );
        assert_eq!(tp.trusted().len(), 2);
        // b absent: Missing but still trusted; back: Valid.
        tp.observe(10, std::slice::from_ref(&a), &[a.key_tag()]).unwrap();
        assert_eq!(tp.keys[1].state, KeyState::Missing);
        assert_eq!(tp.trusted().len(), 2);
        tp.observe(20, &[a.clone(), b.clone()], &[a.key_tag()]).unwrap();
        assert_eq!(tp.keys[1].state, KeyState::Valid);
        // A pending key that disappears is forgotten.
        tp.observe(30, &[a.clone(), b.clone(), stranger.clone()], &[a.key_tag()]).unwrap();
        assert_eq!(tp.keys.len(), 3);
        tp.observe(40, &[a.clone(), b.clone()], &[a.key_tag()]).unwrap();
        assert_eq!(tp.keys.len(), 2);
        // A revoked key that did not sign the set is not revoked (anyone can set a flag bit).
        let b_revoked = key(2, true);
        tp.observe(50, &[a.clone(), b_revoked], &[a.key_tag()]).unwrap();
        assert_ne!(tp.keys[1].state, KeyState::Revoked(50));
        assert!(TrustPoint::from_text("valid x 257 3 8 AAAA\n").is_err());
    }
}
