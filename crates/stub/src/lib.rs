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
