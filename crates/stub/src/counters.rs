//! The daemon's counters, resolved to handles once.
//!
//! `metrics::counter!` with labels looks its series up in the recorder's registry on every call
//! (and `code.to_string()` allocated); a cache hit counted four series that way. Here each
//! series is registered on first use and kept: an increment is one atomic add. Handles made
//! before a recorder is installed count nowhere, so the daemon installs its exporter before it
//! answers anything (`daemon::serve`), and programs without one (the debug tools, tests) pay
//! nothing.

use std::sync::OnceLock;

use lookaside_dnssec::iana::rcode;
use metrics::{Counter, counter};

use crate::resolution::Judgement;
use lookaside_dnssec::outcome::Security;

/// EDE codes counted by code (RFC 8914 and IANA's registry go to 30 today); higher ones share
/// the last series.
const EDE_CODES: usize = 32;

/// Every counter of the query paths.
pub struct Counters {
    /// `lookaside_queries_total{protocol="udp"}`.
    pub queries_udp: Counter,
    /// `lookaside_queries_total{protocol="tcp"}`.
    pub queries_tcp: Counter,
    /// `lookaside_responses_total{rcode=…}`, by the rcode's low four bits.
    pub responses: [Counter; 16],
    /// `lookaside_refused_total`.
    pub refused: Counter,
    /// `lookaside_cache_hits_total`.
    pub cache_hits: Counter,
    /// `lookaside_cache_misses_total`.
    pub cache_misses: Counter,
    /// `lookaside_cache_evictions_total`.
    pub cache_evictions: Counter,
    /// `lookaside_local_answers_total`.
    pub local_answers: Counter,
    /// `lookaside_prefetches_total`.
    pub prefetches: Counter,
    /// `lookaside_coalesced_total`.
    pub coalesced: Counter,
    /// `lookaside_stale_answers_total`.
    pub stale_answers: Counter,
    /// `lookaside_signature_checks_total`.
    pub signature_checks: Counter,
    /// `lookaside_key_lookups_total`.
    pub key_lookups: Counter,
    /// `lookaside_aggressive_answers_total`: denials made from cached NSEC (RFC 8198).
    pub aggressive_answers: Counter,
    /// `lookaside_answers_total{verdict=…}`: secure, insecure, bogus, indeterminate, unchecked.
    answers: [Counter; 5],
    /// `lookaside_ede_total{code=…}`.
    ede: [Counter; EDE_CODES],
}

impl Counters {
    fn register() -> Self {
        Self {
            queries_udp: counter!("lookaside_queries_total", "protocol" => "udp"),
            queries_tcp: counter!("lookaside_queries_total", "protocol" => "tcp"),
            responses: std::array::from_fn(
                |rc| counter!("lookaside_responses_total", "rcode" => rcode::name(rc as u16)),
            ),
            refused: counter!("lookaside_refused_total"),
            cache_hits: counter!("lookaside_cache_hits_total"),
            cache_misses: counter!("lookaside_cache_misses_total"),
            cache_evictions: counter!("lookaside_cache_evictions_total"),
            local_answers: counter!("lookaside_local_answers_total"),
            prefetches: counter!("lookaside_prefetches_total"),
            coalesced: counter!("lookaside_coalesced_total"),
            stale_answers: counter!("lookaside_stale_answers_total"),
            signature_checks: counter!("lookaside_signature_checks_total"),
            key_lookups: counter!("lookaside_key_lookups_total"),
            aggressive_answers: counter!("lookaside_aggressive_answers_total"),
            answers: ["secure", "insecure", "bogus", "indeterminate", "unchecked"]
                .map(|v| counter!("lookaside_answers_total", "verdict" => v)),
            ede: std::array::from_fn(|code| counter!("lookaside_ede_total", "code" => code.to_string())),
        }
    }

    /// Counts an answer by its verdict, and its EDE code when it carries one.
    pub fn answer(&self, j: &Judgement) {
        let i = match j {
            Judgement::Checked(Security::Secure) => 0,
            Judgement::Checked(Security::Insecure(_)) => 1,
            Judgement::Checked(Security::Bogus(_)) => 2,
            Judgement::Checked(Security::Indeterminate(_)) => 3,
            Judgement::Unchecked => 4,
        };
        self.answers[i].increment(1);
        if let Some(code) = j.security().and_then(Security::ede_code) {
            self.ede[(code as usize).min(EDE_CODES - 1)].increment(1);
        }
    }

    /// Counts a reply sent to a client.
    pub fn reply(&self, reply: &[u8], udp: bool) {
        if udp { &self.queries_udp } else { &self.queries_tcp }.increment(1);
        let rc = reply.get(3).map_or(0, |b| b & 0x0f);
        self.responses[rc as usize].increment(1);
    }
}

/// The counters, registered with the installed recorder on first use.
pub fn get() -> &'static Counters {
    static COUNTERS: OnceLock<Counters> = OnceLock::new();
    COUNTERS.get_or_init(Counters::register)
}
