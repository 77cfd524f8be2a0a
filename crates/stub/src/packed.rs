//! An answer as it is cached and served: wire bytes, packed once when the answer arrives, so
//! that a cache hit copies bytes and patches a few fields instead of encoding records again.

use std::sync::Arc;

use lookaside_dnssec::wire::{MAX_MESSAGE_LEN, Message, Question, Record, Section, WireError, Writer};

/// A response in wire form: a header (ID zero) with its four section counts, the question, and
/// every record, names uncompressed except owner names equal to the question's, which point at
/// it (offset 12). Since the question is written as the client spelled it when served, and it
/// is as long in every spelling, those pointers stay right. A client's answer is these bytes
/// with its ID, flags, question and aged TTLs patched in (`respond::serve_packed`).
#[derive(Clone, Debug)]
pub struct PackedAnswer {
    /// Header and question: what differs from name to name.
    head: Box<[u8]>,
    /// The answer section. Its owner names equal to the question's are pointers, so names
    /// with the same data have the same bytes here (every expansion of a wildcard, with its
    /// signature), and cache entries share them.
    answer: Arc<[u8]>,
    /// Authority and additional sections: the same bytes for many names (a zone's SOA and
    /// denial proof, the NSEC of a wildcard expansion), shared likewise.
    tail: Arc<[u8]>,
}

impl PackedAnswer {
    /// Packs `response` as the answer to `question` (its records; the question is written as
    /// given). `None` when the uncompressed form would not fit a DNS message.
    ///
    /// Owner names other than the question's are written in lower case, their canonical form
    /// (RFC 4034 §6.2): servers compress them against the question we sent, so they arrive in
    /// the mixed case of our 0x20 randomisation (`exists.wILd.SeCure.example.`), which clients
    /// should not see (Erlang's resolver compares names by case) and which would make equal
    /// sections of different answers unequal bytes. Names inside RDATA are left as they are.
    pub fn pack(question: &Question, response: &Message) -> Option<Self> {
        // The rcode's low four bits stay in the header; an extended one (RFC 6891 §6.1.3) is an
        // error no cache keeps.
        if response.rcode() > 0x000f {
            return None;
        }
        let mut w = Writer::new(0, response.flags);
        w.question(question);
        let question_end = w.len();
        let canonical = |r: &Record| Record { owner: r.owner.to_lowercase(), ..r.clone() };
        for r in &response.answer {
            w.record(Section::Answer, &canonical(r));
        }
        let split = w.len();
        for r in &response.authority {
            w.record(Section::Authority, &canonical(r));
        }
        for r in &response.additional {
            w.record(Section::Additional, &canonical(r));
        }
        let bytes = w.finish();
        if bytes.len() > MAX_MESSAGE_LEN {
            return None;
        }
        Some(Self {
            head: bytes[..question_end].into(),
            answer: bytes[question_end..split].into(),
            tail: bytes[split..].into(),
        })
    }

    /// The same answer with its sections replaced by equal ones (shared with other entries).
    pub fn with_shared(self, answer: Arc<[u8]>, tail: Arc<[u8]>) -> Self {
        debug_assert!(*answer == *self.answer && *tail == *self.tail);
        Self { answer, tail, ..self }
    }

    /// Header and question.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The answer section.
    pub fn answer_section(&self) -> &Arc<[u8]> {
        &self.answer
    }

    /// Authority and additional sections.
    pub fn tail(&self) -> &Arc<[u8]> {
        &self.tail
    }

    /// The response code.
    pub fn rcode(&self) -> u16 {
        u16::from(self.head.get(3).map_or(0, |b| b & 0x0f))
    }

    /// The question's name in wire form, as packed.
    pub fn qname_wire(&self) -> &[u8] {
        let end = question_end(&self.head).map_or(12, |e| e - 4);
        self.head.get(12..end).unwrap_or_default()
    }

    /// True when this is the answer to `qname` (any case), `qtype`, `qclass`.
    pub fn answers(&self, qname: &[u8], qtype: u16, qclass: u16) -> bool {
        let n = qname.len();
        let (Some(name), Some(tc)) = (self.head.get(12..12 + n), self.head.get(12 + n..12 + n + 4)) else {
            return false;
        };
        name.eq_ignore_ascii_case(qname)
            && tc[..2] == qtype.to_be_bytes()
            && tc[2..] == qclass.to_be_bytes()
            && n > 0
            && qname[n - 1] == 0
    }

    /// Bytes held (shared sections counted whole).
    pub fn len(&self) -> usize {
        self.head.len() + self.answer.len() + self.tail.len()
    }

    /// True when nothing is held (never, for a packed answer).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole message again, parsed: for the debug tools and serve-stale, not the hit path.
    pub fn to_message(&self) -> Result<Message, WireError> {
        let mut bytes = Vec::with_capacity(self.len());
        bytes.extend_from_slice(&self.head);
        bytes.extend_from_slice(&self.answer);
        bytes.extend_from_slice(&self.tail);
        Message::parse(&bytes)
    }
}

/// Where the first question ends in a message without compression in its question.
pub(crate) fn question_end(msg: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = *msg.get(i)? as usize;
        if len == 0 {
            return Some(i + 1 + 4).filter(|&e| e <= msg.len());
        }
        if len > 63 {
            return None;
        }
        i += 1 + len;
    }
}

/// One record of a packed message: where it starts and ends, its type, and where its TTL is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordSpan {
    /// Offset of the owner name.
    pub start: usize,
    /// Offset after the RDATA.
    pub end: usize,
    /// Offset of the TTL field.
    pub ttl_at: usize,
    /// The record's type.
    pub rtype: u16,
}

/// The record that starts at `start` of `bytes` (owner a pointer or uncompressed labels, as
/// [`PackedAnswer::pack`] writes them); `None` when the bytes end early.
pub(crate) fn record_at(bytes: &[u8], start: usize) -> Option<RecordSpan> {
    let mut i = start;
    loop {
        let b = *bytes.get(i)?;
        if b & 0xc0 == 0xc0 {
            i += 2;
            break;
        }
        i += 1 + b as usize;
        if b == 0 {
            break;
        }
    }
    let fixed = bytes.get(i..i + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let end = i + 10 + rdlen;
    (end <= bytes.len()).then_some(RecordSpan { start, end, ttl_at: i + 4, rtype })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lookaside_dnssec::name::Name;

    fn record(owner: &str, rtype: u16, rdata: &[u8]) -> Record {
        Record { owner: Name::parse(owner).unwrap(), rtype, class: 1, ttl: 300, rdata: rdata.to_vec() }
    }

    #[test]
    fn packing_keeps_every_record_and_splits_after_the_answer_section() {
        let q = Question { name: Name::parse("www.Example.").unwrap(), qtype: 1, qclass: 1 };
        let m = Message {
            flags: 0x8183,
            answer: vec![record("www.example.", 1, &[192, 0, 2, 1])],
            authority: vec![record("example.", 6, &[0; 22]), record("example.", 46, &[1; 30])],
            ..Message::default()
        };
        let p = PackedAnswer::pack(&q, &m).unwrap();
        assert_eq!(p.rcode(), 3);
        assert!(p.answers(Name::parse("WWW.example.").unwrap().as_wire(), 1, 1));
        assert!(!p.answers(Name::parse("www.example.").unwrap().as_wire(), 28, 1));
        assert!(!p.answers(Name::parse("ww.example.").unwrap().as_wire(), 1, 1));
        let back = p.to_message().unwrap();
        assert_eq!(back.answer, m.answer);
        assert_eq!(back.authority, m.authority);
        assert_eq!(back.rcode(), 3);
        // The owner equal to the question is a pointer: the answer section is 16 octets.
        assert_eq!(p.head().len(), 12 + q.name.as_wire().len() + 4);
        assert_eq!(p.answer_section().len(), 2 + 10 + 4);
        // Owners other than the question's are packed in lower case; the question's keeps its
        // pointer.
        let mixed = Message {
            authority: vec![record("ExAmple.", 6, &[0; 22]), record("EXAMPLE.", 46, &[1; 30])],
            ..m.clone()
        };
        assert_eq!(PackedAnswer::pack(&q, &mixed).unwrap().tail(), p.tail());
        let first = record_at(p.tail(), 0).unwrap();
        assert_eq!(first.rtype, 6);
        assert_eq!(record_at(p.tail(), first.end).unwrap().end, p.tail().len());
    }
}
