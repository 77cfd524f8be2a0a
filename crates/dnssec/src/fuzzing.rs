//! Entry points for the fuzz targets in `fuzz/` and for `cargo test`, which replays their seed
//! corpora. Each must never panic, whatever the bytes.

use crate::chain::{NoKeyCache, Validator};
use crate::wire::Message;

/// Parses `data` as a message and, if it parses, validates it as the answer to its own
/// question, answering every key lookup with the same message. Must never panic.
pub fn parse_and_validate(data: &[u8]) {
    let Ok(msg) = Message::parse(data) else { return };
    let _ = msg.to_wire();
    let Some(q) = msg.questions.first().cloned() else { return };
    let mut anchors = crate::TrustAnchors::builtin_root();
    anchors
        .add_text(
            "example. IN DS 12345 13 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
            0,
        )
        .ok();
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
        let back =
            crate::autotrust::TrustPoint::from_text(&tp.to_text()).expect("a state writes as a readable one");
        assert_eq!(back, tp, "a state changes on its way through to_text");
    }
}

/// Splits `data` into messages framed as on a DNS stream: a two-octet length, then that many
/// octets (RFC 1035 §4.2.2). A last frame cut short is taken as it is.
pub fn frames(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        out.push(&rest[2..end]);
        rest = &rest[end..];
    }
    out
}

/// Frames messages as [`frames`] reads them.
pub fn frame(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        let len = u16::try_from(m.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&m[..usize::from(len)]);
    }
    out
}

/// The look-aside registries of the signed test zones: `dlv.example.` for everything,
/// `dlv2.example.` (anchored by its own key) for `unsignedtld.`.
pub const FIXTURE_REGISTRIES: [(&str, &str); 2] = [("dlv.example.", "."), ("dlv2.example.", "unsignedtld.")];

/// 2026-11-29 00:00:00 UTC, inside the signed test zones' window (2025-01-01 … 2060-01-01).
pub const FIXTURE_NOW: u64 = 1_795_910_400;

/// A world in which signatures verify: the key lookups are answered from a table of real
/// answers (made from the signed test zones by `tests/fuzz_corpus.rs`), with the zones' trust
/// anchors and look-aside registries and a clock inside their signatures' window. Fed an
/// answer, the validator walks real chains to secure, insecure and bogus verdicts; fed
/// replacement key answers too, it walks them with some links broken.
pub struct FixtureWorld {
    validator: Validator,
    lookups: Vec<Message>,
    now: u64,
}

impl FixtureWorld {
    /// `lookups`: the framed table of key-lookup answers, each carrying its question;
    /// `anchors`: trust-anchor files' text; `registries`: (registry, subtree) pairs.
    pub fn new(
        lookups: &[u8],
        anchors: &[&str],
        registries: &[(&str, &str)],
        now: u64,
    ) -> Result<Self, String> {
        let mut trust = crate::TrustAnchors::empty();
        for text in anchors {
            trust.add_text(text, now).map_err(|e| e.to_string())?;
        }
        let registries = registries
            .iter()
            .map(|(domain, subtree)| {
                Ok(crate::chain::Registry {
                    domain: crate::Name::parse(domain).map_err(|e| e.to_string())?,
                    subtree: crate::Name::parse(subtree).map_err(|e| e.to_string())?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let lookups = frames(lookups)
            .into_iter()
            .map(|f| Message::parse(f).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { validator: Validator::new(trust).with_registries(registries), lookups, now })
    }

    /// Validates the first framed message of `data` as the answer to its own question. The
    /// further frames, when they parse and carry a question, answer the key lookups for that
    /// question in place of the table. `None` when the answer does not parse or has no question.
    pub fn validate(&self, data: &[u8]) -> Option<crate::Verdict> {
        let mut messages = frames(data).into_iter().filter_map(|f| Message::parse(f).ok());
        let answer = messages.next()?;
        let question = answer.questions.first()?.clone();
        let replaced: Vec<Message> = messages.filter(|m| !m.questions.is_empty()).collect();
        let answers_for = |k: &crate::KeyQuery, m: &&Message| {
            m.questions[0].name == k.name && m.questions[0].qtype == k.rtype
        };
        let mut session = self.validator.session(self.now, &NoKeyCache);
        Some(session.validate_with(&question, &answer, |k| {
            replaced
                .iter()
                .find(|m| answers_for(k, m))
                .or_else(|| self.lookups.iter().find(|m| answers_for(k, m)))
                .cloned()
        }))
    }
}
