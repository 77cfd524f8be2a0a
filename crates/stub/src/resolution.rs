//! What a resolution hands to the answer policy: the upstream's data and what is known of it.

use std::sync::Arc;

use lookaside_dnssec::chain::{ChainStep, Verdict};
use lookaside_dnssec::outcome::{IndeterminateReason, InsecureReason, Security};
use lookaside_dnssec::wire::Message;

use crate::answer_cache::CachedAnswer;
use crate::upstream::UpstreamError;

/// What is known of an answer's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The validator's verdict.
    Checked(Security),
    /// Not validated: a CD query's data, passed on as received (RFC 4035 §3.2.2). Such data never
    /// reaches a client that did not set CD.
    Unchecked,
}

impl Judgement {
    /// The verdict, when the data was checked.
    pub fn security(&self) -> Option<&Security> {
        match self {
            Self::Checked(s) => Some(s),
            Self::Unchecked => None,
        }
    }

    /// True for a checked verdict of bogus or indeterminate: data that a client without CD must
    /// not get.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Checked(Security::Bogus(_) | Security::Indeterminate(_)))
    }

    /// Short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Checked(s) => s.label(),
            Self::Unchecked => "unchecked",
        }
    }
}

/// The outcome of one resolution.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// The upstream's response (`None` when no upstream answered).
    pub response: Option<Arc<Message>>,
    /// The verdict on it, or that it was not checked.
    pub judgement: Judgement,
    /// One-line chain summary, for EDE texts and logs.
    pub summary: String,
    /// Seconds the data spent in the cache, subtracted from TTLs on output.
    pub age: u32,
    /// True when served from cache.
    pub cached: bool,
    /// The chain steps of the validation (empty when served from cache).
    pub steps: Vec<ChainStep>,
    /// Served stale (RFC 8767): expired data, because no upstream answered in time.
    pub stale: bool,
}

impl Resolution {
    /// A fresh validation of `response`.
    pub fn validated(response: Message, verdict: Verdict) -> Self {
        Self {
            summary: verdict.summary(),
            response: Some(Arc::new(response)),
            judgement: Judgement::Checked(verdict.security),
            age: 0,
            cached: false,
            steps: verdict.steps,
            stale: false,
        }
    }

    /// A denial made from validated NSEC records in the cache (RFC 8198): secure.
    pub fn synthesised(response: Message) -> Self {
        Self {
            summary: "denied from validated NSEC records in the cache (RFC 8198)".to_string(),
            response: Some(Arc::new(response)),
            judgement: Judgement::Checked(Security::Secure),
            age: 0,
            cached: false,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// Data passed on unvalidated by the operator's policy (a forward with `dnssec = "off"`).
    pub fn insecure_by_policy(response: Message, reason: InsecureReason) -> Self {
        Self {
            summary: reason.to_string(),
            response: Some(Arc::new(response)),
            judgement: Judgement::Checked(Security::Insecure(reason)),
            age: 0,
            cached: false,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// No verdict, for `reason`, with the chain summary of the validation that led to it.
    pub fn indeterminate(reason: IndeterminateReason, summary: String) -> Self {
        Self {
            response: None,
            judgement: Judgement::Checked(Security::Indeterminate(reason)),
            summary,
            age: 0,
            cached: false,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// Data for a CD query, not validated.
    pub fn unchecked(response: Arc<Message>) -> Self {
        Self {
            response: Some(response),
            judgement: Judgement::Unchecked,
            summary: String::new(),
            age: 0,
            cached: false,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// A cache hit.
    pub fn from_cache(hit: CachedAnswer) -> Self {
        Self {
            response: Some(hit.response),
            judgement: hit.judgement,
            summary: hit.summary,
            age: hit.age,
            cached: true,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// No upstream gave an answer.
    pub fn failed(e: &UpstreamError) -> Self {
        let what = match e {
            UpstreamError::Unreachable { question, tried } => {
                format!("{question} (no answer from {tried} upstream(s))")
            }
            other => other.to_string(),
        };
        Self {
            response: None,
            judgement: Judgement::Checked(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what,
            })),
            summary: String::new(),
            age: 0,
            cached: false,
            steps: Vec::new(),
            stale: false,
        }
    }

    /// The verdict, when the data was checked.
    pub fn security(&self) -> Option<&Security> {
        self.judgement.security()
    }
}
