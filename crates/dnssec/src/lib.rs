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
pub mod fuzzing {
    use crate::chain::{NoKeyCache, Validator};
    use crate::wire::Message;

    /// Parses `data` as a message and, if it parses, validates it as the answer to its own
    /// question, answering every key lookup with the same message. Must never panic.
    pub fn parse_and_validate(data: &[u8]) {
        let Ok(msg) = Message::parse(data) else { return };
        let _ = msg.to_wire();
        let Some(q) = msg.questions.first().cloned() else { return };
        let mut anchors = crate::TrustAnchors::builtin_root();
        anchors.add_text("example. IN DS 12345 13 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n", 0).ok();
        let validator = Validator::new(anchors);
        let mut session = validator.session(1_800_000_000, &NoKeyCache);
        let _ = session.validate_with(&q, &msg, |_| Some(msg.clone()));
    }

    /// Parses `data`; whatever parses must write and parse back to the same message.
    pub fn wire_round_trip(data: &[u8]) {
        let Ok(msg) = Message::parse(data) else { return };
        let again = Message::parse(&msg.to_wire()).expect("a parsed message writes as a parsable one");
        assert_eq!(again, msg, "a message changes on its way through to_wire");
    }

    /// Reads `data` as an anchor file (zone-file lines, BIND block, root-anchors.xml) and as an
    /// RFC 5011 state file; a state that reads must write and read back unchanged.
    pub fn anchors_and_state(data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        let _ = crate::TrustAnchors::empty().add_text(&text, 1_800_000_000);
        if let Ok(tp) = crate::autotrust::TrustPoint::from_text(&text) {
            let back = crate::autotrust::TrustPoint::from_text(&tp.to_text())
                .expect("a state writes as a readable one");
            assert_eq!(back, tp, "a state changes on its way through to_text");
        }
    }
}
