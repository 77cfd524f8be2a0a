//! lookaside-dnssec: a DNSSEC validator with no I/O.
//!
//! It implements RFC 4033–4035 (with the RFC 6840 clarifications), RFC 5155 (NSEC3), RFC 9276
//! (NSEC3 iteration limits), RFC 8914 (Extended DNS Errors), RFC 5011 (automated anchor
//! updates), RFC 7646 (negative trust anchors) and look-aside validation (RFC 4431 records,
//! RFC 5074 procedure).
//! Time and key material are passed in: the library opens no socket, reads no clock and no file.
//!
//! Start at [`chain::Validator`]: it hands out a [`chain::Session`] per response, which asks for
//! the DS and DNSKEY lookups it needs and returns a [`chain::Verdict`].
//!
//! Where things are: [`chain`] (the walk: classify, keys, look-aside, trace), [`denial`] (NSEC and
//! NSEC3 proofs behind one interface, over [`nsec`] and [`nsec3`]), [`verify`] (RRSIG checks),
//! [`crypto`] (the only ring user), [`wire`] (a tolerant message reader), [`anchor`] and
//! [`negative`] (positive and negative trust anchors), [`iana`] (every registry number),
//! [`codec`] and [`civil_time`] (text encodings and dates), [`limits`] (named work limits).
//!
//! # Limitations
//! - The key walk asks for one DS per label between the closest trusted zone and the signer.
//! - A session is re-entered after every key lookup and walks the known part again from memory
//!   (classification, verified signatures and DS answers are kept, so no work is repeated).

pub mod anchor;
pub mod autotrust;
pub mod canonical;
pub mod chain;
pub mod civil_time;
pub mod codec;
pub mod crypto;
pub mod denial;
pub mod iana;
pub mod limits;
pub mod name;
pub mod negative;
pub mod nsec;
pub mod nsec3;
pub mod outcome;
pub mod presentation;
pub mod rdata;
pub mod verify;
pub mod wire;

pub use anchor::TrustAnchors;
pub use chain::{KeyCache, KeyEntry, KeyQuery, Progress, Session, Validator, Verdict};
/// Record types and classes, at the crate root for brevity (`rtype::A`); see [`iana`].
pub use iana::rtype;
pub use name::Name;
pub use outcome::{BogusReason, InsecureReason, Security};
pub use wire::{Message, Question, Record};

/// Entry points for the fuzz targets in `fuzz/` (kept out of the workspace build); their seed
/// corpus runs as an ordinary test (`tests/fuzz_corpus.rs`).
#[doc(hidden)]
pub mod fuzzing;
