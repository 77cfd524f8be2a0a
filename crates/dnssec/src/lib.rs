//! lookaside-dnssec: a DNSSEC validator with no I/O.
//!
//! It implements RFC 4033–4035 (with the RFC 6840 clarifications), RFC 5155 (NSEC3), RFC 9276
//! (NSEC3 iteration limits), RFC 8914 (Extended DNS Errors) and RFC 4431 (the DLV record layout).
//! Time and key material are passed in: the library opens no socket, reads no clock and no file.
//!
//! Start at [`chain::Validator`]: it hands out a [`chain::Session`] per response, which asks for
//! the DS and DNSKEY lookups it needs and returns a [`chain::Verdict`].
//!
//! # Limitations
//! - Look-aside (DLV) lookups are not driven from here yet; the record layout is parsed.
//! - The key walk asks for one DS per label between the closest trusted zone and the signer.

pub mod anchor;
pub mod canonical;
pub mod chain;
pub mod crypto;
pub mod limits;
pub mod name;
pub mod nsec;
pub mod nsec3;
pub mod outcome;
pub mod rdata;
pub mod rtype;
pub mod verify;
pub mod wire;

pub use anchor::TrustAnchors;
pub use chain::{KeyCache, KeyEntry, KeyQuery, Progress, Session, Validator, Verdict};
pub use name::Name;
pub use outcome::{BogusReason, InsecureReason, Security};
pub use wire::{Message, Question, Record};
