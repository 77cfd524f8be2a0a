//! Negative trust anchors (RFC 7646): zones the operator declares insecure, so that a zone known
//! to be broken does not take its names down. One list holds both kinds, and only the validator
//! reads it:
//! - configured ones (`negative-trust-anchors` in the config), which last until a reload drops
//!   them from the file;
//! - run-time ones (`lookaside ctl nta add`), each with an expiry, as BIND's `rndc nta`
//!   (RFC 7646 §2.1: NTAs are temporary and removed once the zone validates again).
//!
//! Time is passed in as seconds since the epoch: the validator reads no clock.

use std::sync::Mutex;

use crate::name::Name;

/// Where a negative trust anchor came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegativeOrigin {
    /// The configuration file.
    Configured,
    /// `lookaside ctl nta add`, until the given time (seconds since the epoch).
    Runtime {
        /// When it lapses.
        expires: u64,
    },
}

/// One negative trust anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegativeAnchor {
    /// Names at or below this zone are insecure.
    pub zone: Name,
    /// Configured or run-time.
    pub origin: NegativeOrigin,
}

impl NegativeAnchor {
    /// Seconds left at `now`; `None` for a configured anchor (no expiry).
    pub fn remaining(&self, now: u64) -> Option<u64> {
        match self.origin {
            NegativeOrigin::Configured => None,
            NegativeOrigin::Runtime { expires } => Some(expires.saturating_sub(now)),
        }
    }

    fn live(&self, now: u64) -> bool {
        match self.origin {
            NegativeOrigin::Configured => true,
            NegativeOrigin::Runtime { expires } => expires > now,
        }
    }
}

/// Run-time negative trust anchors held at once. Every validation scans the list, and `ctl`
/// is the only way in: an operator needs a handful (BIND sets no limit; this keeps a runaway
/// script from slowing every query).
pub const MAX_RUNTIME_NEGATIVE_ANCHORS: usize = 1000;

/// The negative trust anchors, shared by the validator, the control socket and reloads.
#[derive(Debug, Default)]
pub struct NegativeAnchors {
    list: Mutex<Vec<NegativeAnchor>>,
}

impl NegativeAnchors {
    /// A set holding these configured anchors.
    pub fn configured(zones: &[Name]) -> Self {
        let set = Self::default();
        set.replace_configured(zones);
        set
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<NegativeAnchor>> {
        // A panic while holding the lock leaves a valid list: keep using it.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the configured anchors (on reload); run-time ones stay.
    pub fn replace_configured(&self, zones: &[Name]) {
        let mut list = self.lock();
        list.retain(|a| a.origin != NegativeOrigin::Configured);
        for z in zones {
            if !list.iter().any(|a| a.zone == *z && a.origin == NegativeOrigin::Configured) {
                list.push(NegativeAnchor { zone: z.clone(), origin: NegativeOrigin::Configured });
            }
        }
    }

    /// Adds (or extends) a run-time anchor for `zone` until `expires`; false, and nothing
    /// added, when [`MAX_RUNTIME_NEGATIVE_ANCHORS`] run-time anchors are held already (expired ones
    /// leave at the next [`NegativeAnchors::list`]).
    pub fn add_runtime(&self, zone: Name, expires: u64) -> bool {
        let mut list = self.lock();
        list.retain(|a| !(a.zone == zone && matches!(a.origin, NegativeOrigin::Runtime { .. })));
        let runtime = list.iter().filter(|a| matches!(a.origin, NegativeOrigin::Runtime { .. })).count();
        if runtime >= MAX_RUNTIME_NEGATIVE_ANCHORS {
            return false;
        }
        list.push(NegativeAnchor { zone, origin: NegativeOrigin::Runtime { expires } });
        true
    }

    /// Removes the run-time anchor for `zone`; true when there was one. Configured anchors are
    /// removed by editing the configuration and reloading.
    pub fn remove_runtime(&self, zone: &Name) -> bool {
        let mut list = self.lock();
        let before = list.len();
        list.retain(|a| !(a.zone == *zone && matches!(a.origin, NegativeOrigin::Runtime { .. })));
        list.len() != before
    }

    /// Every live anchor at `now` (expired run-time ones are dropped).
    pub fn list(&self, now: u64) -> Vec<NegativeAnchor> {
        let mut list = self.lock();
        list.retain(|a| a.live(now));
        list.clone()
    }

    /// The most specific live anchor covering `name` at `now`.
    pub fn covering(&self, name: &Name, now: u64) -> Option<NegativeAnchor> {
        self.lock()
            .iter()
            .filter(|a| a.live(now) && name.is_at_or_below(&a.zone))
            .max_by_key(|a| a.zone.label_count())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn runtime_anchors_are_bounded() {
        let set = NegativeAnchors::default();
        for i in 0..MAX_RUNTIME_NEGATIVE_ANCHORS {
            assert!(set.add_runtime(name(&format!("z{i}.example.")), 100));
        }
        assert!(!set.add_runtime(name("one-more.example."), 100));
        assert!(set.add_runtime(name("z7.example."), 200), "extending an anchor is not adding one");
        assert!(set.list(150).len() == 1 && set.add_runtime(name("one-more.example."), 300));
    }

    #[test]
    fn runtime_anchors_expire_and_configured_ones_survive_a_reload() {
        let set = NegativeAnchors::configured(&[name("broken.example.")]);
        assert!(set.add_runtime(name("other.example."), 100));
        assert_eq!(set.covering(&name("www.other.example."), 99).unwrap().remaining(99), Some(1));
        assert!(set.covering(&name("www.other.example."), 100).is_none(), "expired");
        assert!(set.add_runtime(name("other.example."), 200));
        set.replace_configured(&[name("new.example.")]);
        let zones: Vec<Name> = set.list(150).into_iter().map(|a| a.zone).collect();
        assert_eq!(zones, vec![name("other.example."), name("new.example.")]);
        assert!(!set.remove_runtime(&name("new.example.")), "configured anchors leave by reload");
        assert!(set.remove_runtime(&name("other.example.")));
    }

    #[test]
    fn the_most_specific_anchor_covers() {
        let set = NegativeAnchors::configured(&[name("example."), name("a.example.")]);
        assert_eq!(set.covering(&name("x.a.example."), 0).unwrap().zone, name("a.example."));
        assert!(set.covering(&name("example.org."), 0).is_none());
    }
}
