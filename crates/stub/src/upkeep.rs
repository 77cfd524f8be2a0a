//! Background upkeep of a running resolver: RFC 5011 probes of the trust points, and the recheck
//! that lifts run-time negative trust anchors once their zone validates again (RFC 7646 §2.1).
//! The checks themselves are the validator's ([`lookaside_dnssec::autotrust`]); this module
//! fetches, keeps the state files and says when the anchors changed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lookaside_dnssec::autotrust::{Observation, TrustPoint};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::negative::NegativeOrigin;
use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::Question;
use tracing::{info, warn};

use crate::Resolver;

/// Every `interval`, validates the SOA of each run-time negative trust anchor's zone as if the
/// anchor did not exist, and removes the anchor once it is secure (RFC 7646 §2.1 asks that NTAs
/// be removed once the problem is fixed). Configured anchors stay: the operator put them in the
/// file. `current` gives the resolver in service (it changes on reload).
pub async fn recheck_negative_anchors(current: impl Fn() -> Arc<Resolver>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let resolver = current();
        let now = unix_now();
        for anchor in resolver.negative_anchors().list(now) {
            if !matches!(anchor.origin, NegativeOrigin::Runtime { .. }) {
                continue;
            }
            let q = Question { name: anchor.zone.clone(), qtype: rtype::SOA, qclass: rtype::CLASS_IN };
            if resolver.validate_fresh(&q).await.is_some_and(|s| s.is_secure()) {
                resolver.negative_anchors().remove_runtime(&anchor.zone);
                resolver.flush_name(&anchor.zone);
                info!(zone = %anchor.zone, "negative trust anchor removed: the zone validates again");
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A zone whose anchors follow RFC 5011, and the file its state is kept in.
#[derive(Clone, Debug)]
pub struct TrustPointFile {
    /// The zone.
    pub zone: Name,
    /// Its state file.
    pub path: PathBuf,
}

/// RFC 5011 for every trust point: every `interval`, probes each zone's DNSKEY set, feeds its
/// state machine and writes its state file; calls `changed` when the trusted keys of any zone
/// changed (the caller reloads the anchors). The first probe seeds a state from the configured
/// anchor.
pub async fn follow_trust_points<F: Future<Output = ()>>(
    points: Vec<TrustPointFile>,
    interval: Duration,
    current: impl Fn() -> Arc<Resolver>,
    changed: impl Fn() -> F,
) {
    let mut warned = false;
    loop {
        let mut any = false;
        for point in &points {
            any |= probe_trust_point(&current(), point, &mut warned).await;
        }
        if any {
            changed().await;
        }
        tokio::time::sleep(interval).await;
    }
}

/// One RFC 5011 probe of a trust point; true when its trusted keys changed.
async fn probe_trust_point(resolver: &Resolver, point: &TrustPointFile, warned: &mut bool) -> bool {
    let TrustPointFile { zone, path } = point;
    let q = Question { name: zone.clone(), qtype: rtype::DNSKEY, qclass: rtype::CLASS_IN };
    // CD: the state machine judges the set itself, key by key.
    let res = resolver.resolve(&q, true).await;
    let now = unix_now();
    let Some(seen) = res.response.as_deref().and_then(|m| Observation::of_response(zone, m, now)) else {
        return false;
    };
    let mut tp = match std::fs::read_to_string(path).ok().map(|t| TrustPoint::from_text(&t)) {
        Some(Ok(tp)) => tp,
        Some(Err(e)) => {
            warn!("{}: {e}; RFC 5011 updates for {zone} paused", path.display());
            return false;
        }
        None => {
            let anchor = resolver.validator().anchors().closest(zone).filter(|a| a.zone == *zone);
            TrustPoint::from_keys(&anchor.map(|a| seen.anchored_keys(a)).unwrap_or_default())
        }
    };
    let before = tp.trusted();
    if let Err(e) = tp.observe(now, &seen.published, &seen.signed_by) {
        warn!("RFC 5011 probe of the {zone} DNSKEY set: {e}");
        return false;
    }
    if let Err(e) = write_state(path, &tp.to_text()) {
        if !*warned {
            warn!("cannot write {}: {e}; RFC 5011 state is not kept", path.display());
            *warned = true;
        }
        return false;
    }
    let changed = tp.trusted() != before;
    if changed {
        info!("trust anchors of {zone} changed by RFC 5011: {} key(s) trusted", tp.trusted().len());
    }
    changed
}

fn write_state(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// How long a probe waits for each reply.
pub const PROBE_WAIT: Duration = Duration::from_millis(1500);

/// Probes the default upstreams at once, records each verdict for quarantine and logs a WARN
/// line for every upstream that is not fit.
pub async fn probe_upstreams(resolver: &Resolver) -> Vec<crate::probe::Report> {
    let reports = resolver.upstreams().probe_all(PROBE_WAIT).await;
    for report in &reports {
        let (fitness, reason) = (report.fitness(), report.reason());
        if fitness == crate::probe::Fitness::Fit {
            tracing::info!(upstream = %report.upstream, "upstream probe: fit");
        } else {
            tracing::warn!(upstream = %report.upstream, "upstream probe: {fitness}: {reason}");
        }
        resolver.upstreams().set_fitness(report.upstream, fitness, reason);
    }
    reports
}

/// Probes the upstreams of the resolver in service at start-up, every `interval`, when `wake`
/// is notified (after a reload, whose new resolver knows nothing yet), and when a run of
/// failures points at an upstream.
pub async fn probe_periodically(
    current: impl Fn() -> Arc<Resolver>,
    interval: Duration,
    wake: Arc<tokio::sync::Notify>,
) {
    loop {
        let resolver = current();
        probe_upstreams(&resolver).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = wake.notified() => {}
            _ = resolver.upstreams().probe_needed.notified() => {}
        }
    }
}
