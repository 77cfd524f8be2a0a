//! `[[watch]]`: the daemon runs the XMPP report (`lookaside xmpp`, with `--tls` where the entry
//! asks) for the operator's own domains every `watch-interval` and exports it as metrics, and
//! logs a WARN line when something turns bad. This is the RRSIG-expiry and DANE monitoring
//! XMPP operators otherwise script around dig and openssl.
//!
//! Metrics (all labelled with `domain`):
//! - `lookaside_watch_record_verdict{name,type,verdict}`: 1 for the record's current verdict
//!   (secure, insecure, bogus, indeterminate), 0 for the others;
//! - `lookaside_watch_rrsig_expiry_seconds{zone}`: seconds until the earliest expiry among the
//!   RRSIGs seen for the report's records and the DNSKEY sets of their zones;
//! - `lookaside_watch_tlsa_match{service,target,address}`: 1 when a TLSA record authenticates
//!   the certificate served there (entries with `tls = true`);
//! - `lookaside_watch_dlv`: 1 when a look-aside registry vouched for any of the records;
//! - `lookaside_watch_last_run_timestamp_seconds`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lookaside_dnssec::rtype;
use lookaside_dnssec::wire::Question;
use lookaside_stub::Resolver;
use tracing::{info, warn};

use crate::config::WatchConfig;
use crate::tools::{self, Lookup, XmppOptions, XmppReport};

/// An RRSIG expiring sooner than this is logged as a WARN (the metric carries the figure
/// whatever it is): a week is the usual re-signing margin and `check-zone`'s `--warn-days`.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(7 * 86_400);

/// How long one watched target's TLS connection may take.
pub const CONNECT_WAIT: Duration = Duration::from_secs(10);

const VERDICTS: [&str; 4] = ["secure", "insecure", "bogus", "indeterminate"];

/// What was last seen per watched item, to log only changes.
#[derive(Default)]
pub struct Seen(HashMap<String, String>);

impl Seen {
    /// Records `now` for `key`; true when it is a change for the worse worth a WARN (the first
    /// sighting of a bad state included).
    fn turned_bad(&mut self, key: &str, now: &str, bad: bool) -> bool {
        let before = self.0.insert(key.to_string(), now.to_string());
        match before {
            Some(b) if b == now => false,
            Some(_) if !bad => {
                info!(watch = key, state = now, "watched item recovered");
                false
            }
            _ => bad,
        }
    }
}

/// Runs the reports every `interval` (at once, then after each interval or `wake`).
pub async fn watch_periodically<F>(
    current: F,
    watches: Vec<WatchConfig>,
    interval: Duration,
    roots: Option<Arc<rustls::RootCertStore>>,
) where
    F: Fn() -> Arc<Resolver>,
{
    let mut seen = Seen::default();
    loop {
        for w in &watches {
            run_once(&current(), w, roots.clone(), &mut seen).await;
        }
        tokio::time::sleep(interval).await;
    }
}

/// One report for one domain, exported.
pub async fn run_once(
    resolver: &Resolver,
    w: &WatchConfig,
    roots: Option<Arc<rustls::RootCertStore>>,
    seen: &mut Seen,
) {
    let now = crate::cli::now();
    let opts = XmppOptions { tls: w.tls, new_cert: None, roots, connect_wait: CONNECT_WAIT, now };
    let report = tools::xmpp_report(resolver, &w.domain, &opts).await;
    let domain = w.domain.to_string();
    export_verdicts(&report, &domain, seen);
    export_expiry(resolver, &report, &domain, now, seen).await;
    export_tls(&report, &domain, seen);
    let dlv = lookups(&report).any(|l| l.chain.iter().any(|s| s.status == "look-aside"));
    metrics::gauge!("lookaside_watch_dlv", "domain" => domain.clone()).set(if dlv { 1.0 } else { 0.0 });
    metrics::gauge!("lookaside_watch_last_run_timestamp_seconds", "domain" => domain.clone()).set(now as f64);
    info!(domain, dlv, "watch report done");
}

/// Every lookup of the report: SRV, then each target's A, AAAA and TLSA.
fn lookups(r: &XmppReport) -> impl Iterator<Item = &Lookup> {
    r.services
        .iter()
        .flat_map(|s| std::iter::once(&s.srv).chain(s.targets.iter().flat_map(|t| [&t.a, &t.aaaa, &t.tlsa])))
}

fn export_verdicts(report: &XmppReport, domain: &str, seen: &mut Seen) {
    for l in lookups(report) {
        for v in VERDICTS {
            metrics::gauge!(
                "lookaside_watch_record_verdict",
                "domain" => domain.to_string(), "name" => l.name.clone(), "type" => l.rtype.clone(), "verdict" => v
            )
            .set(if l.verdict == v { 1.0 } else { 0.0 });
        }
        let key = format!("{domain} {} {}", l.name, l.rtype);
        let bad = l.is_bogus() || (!l.is_secure() && !l.is_insecure());
        let downgraded = l.is_insecure() && seen.0.get(&key).is_some_and(|b| b == "secure");
        if seen.turned_bad(&key, &l.verdict, bad || downgraded) {
            warn!(
                domain,
                name = %l.name,
                rtype = %l.rtype,
                verdict = %l.verdict,
                reason = l.reason.as_deref().unwrap_or(""),
                "watched record is {}", l.verdict
            );
        }
    }
}

/// The earliest RRSIG expiry per signing zone, over the report's records and those zones'
/// DNSKEY sets (whose signatures, made by the KSK, often expire on another schedule).
async fn export_expiry(resolver: &Resolver, report: &XmppReport, domain: &str, now: u64, seen: &mut Seen) {
    let now32 = now as u32;
    let mut earliest: HashMap<String, i64> = HashMap::new();
    let note = |earliest: &mut HashMap<String, i64>, sig: &lookaside_dnssec::rdata::Rrsig| {
        // RFC 4034 §3.1.5 serial arithmetic: the signed difference from now.
        let left = i64::from(sig.expiration.wrapping_sub(now32) as i32);
        let e = earliest.entry(sig.signer.to_lowercase().to_string()).or_insert(left);
        *e = (*e).min(left);
    };
    for l in lookups(report) {
        l.rrsigs().iter().for_each(|sig| note(&mut earliest, sig));
    }
    let zones: Vec<String> = earliest.keys().cloned().collect();
    for z in zones {
        let Ok(name) = lookaside_dnssec::Name::parse(&z) else { continue };
        let q = Question { name, qtype: rtype::DNSKEY, qclass: rtype::CLASS_IN };
        let res = resolver.resolve(&q, false).await;
        if let Some(m) = res.response.as_deref() {
            m.answer
                .iter()
                .filter(|r| r.rtype == rtype::RRSIG)
                .filter_map(|r| lookaside_dnssec::rdata::Rrsig::parse(&r.rdata))
                .for_each(|sig| note(&mut earliest, &sig));
        }
    }
    for (zone, left) in earliest {
        metrics::gauge!("lookaside_watch_rrsig_expiry_seconds", "domain" => domain.to_string(), "zone" => zone.clone())
            .set(left as f64);
        let soon = left < EXPIRY_WARNING.as_secs() as i64;
        let key = format!("{domain} expiry {zone}");
        if seen.turned_bad(&key, if soon { "soon" } else { "fine" }, soon) {
            if left < 0 {
                warn!(
                    domain,
                    zone,
                    seconds_left = left,
                    "a signature of {zone} expired {} hours ago",
                    -left / 3600
                );
            } else {
                warn!(
                    domain,
                    zone,
                    seconds_left = left,
                    "a signature of {zone} expires in {} hours: re-sign",
                    left / 3600
                );
            }
        }
    }
}

fn export_tls(report: &XmppReport, domain: &str, seen: &mut Seen) {
    for s in &report.services {
        for t in &s.targets {
            for c in &t.tls {
                let ok = c.error.is_none() && (c.dane_matches || !t.dane_usable);
                metrics::gauge!(
                    "lookaside_watch_tlsa_match",
                    "domain" => domain.to_string(), "service" => s.service.clone(),
                    "target" => t.host.clone(), "address" => c.address.clone()
                )
                .set(if c.dane_matches { 1.0 } else { 0.0 });
                let key = format!("{domain} tls {} {} {}", s.service, t.host, c.address);
                if seen.turned_bad(&key, if ok { "ok" } else { "bad" }, !ok) {
                    warn!(domain, service = %s.service, target = %t.host, address = %c.address, "{}", c.verdict);
                }
            }
        }
    }
}
