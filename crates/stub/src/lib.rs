//! lookaside-stub: the asynchronous half of lookaside.
//!
//! [`upstream`] talks to the recursive resolvers, [`cache`] keeps answers and validated keys,
//! [`pipeline`] drives the validator of `lookaside-dnssec` with lookups from the upstreams, and
//! [`respond`] turns a verdict into the bytes a client receives (RFC 4035 §3.2, RFC 6840 §5.7–5.9).

pub mod cache;
pub mod coalesce;
pub mod pipeline;
pub mod resolution;
pub mod respond;
pub mod stream;
pub mod tls;
pub mod upkeep;
pub mod upstream;

pub use pipeline::{Resolver, ResolverConfig};
pub use resolution::{Judgement, Resolution};

/// Entry points for the fuzz targets in `fuzz/`; their seed corpora run as ordinary tests.
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::Arc;

    use lookaside_dnssec::outcome::{IndeterminateReason, Security};
    use lookaside_dnssec::rtype::rcode;
    use lookaside_dnssec::wire::Message;

    use crate::resolution::{Judgement, Resolution};
    use crate::respond::{self, Rejection};

    /// Reads `data` as a client query and answers it every way the policy can: with `data`
    /// itself as the upstream's answer (secure, bogus, unchecked), and with a SERVFAIL carrying
    /// a long EDE. Every reply must parse and fit the client's UDP limit.
    pub fn respond(data: &[u8]) {
        let query = match respond::parse_query(data) {
            Ok(q) => q,
            Err(Rejection::Unanswerable) => return,
            Err(Rejection::BadVersion(q)) => q,
            Err(Rejection::Error { id, flags, rcode, question }) => {
                let r = respond::error_response(id, flags, rcode, question.as_ref(), None, None, 512);
                assert!(r.len() <= 512 || question.is_none());
                return;
            }
        };
        let limit = query.udp_limit();
        let upstream = Message::parse(data).unwrap_or_default();
        for judgement in [
            Judgement::Checked(Security::Secure),
            Judgement::Checked(Security::Indeterminate(IndeterminateReason::LookupFailed {
                what: "x".repeat(400),
            })),
            Judgement::Unchecked,
        ] {
            let res = Resolution {
                response: Some(Arc::new(upstream.clone())),
                judgement,
                summary: ". [T] > example. [B]".repeat(20),
                age: 7,
                cached: true,
                steps: Vec::new(),
            };
            let reply = respond::build_response(&query, &res, limit);
            assert!(reply.len() <= limit, "{} octets over a limit of {limit}", reply.len());
            Message::parse(&reply).expect("our reply parses");
        }
        let reply = query.error(rcode::SERVFAIL, Some((6, "y".repeat(1000))));
        assert!(reply.len() <= limit, "an error of {} octets over {limit}", reply.len());
    }
}
