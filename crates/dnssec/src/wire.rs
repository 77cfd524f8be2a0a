//! The tolerant message reader and a plain message writer.
//!
//! One odd record (unknown parameters, RDLENGTH 0, a layout we cannot follow) is kept as raw
//! bytes instead of failing the whole message (RFC 3597); a message that is broken as a whole
//! (compression loop, pointer past the end, counts beyond the data, label > 63, name > 255) is a
//! [`WireError`], never a panic (RFC 9267 lists the traps).

use crate::name::{MAX_LABEL_LEN, MAX_NAME_LEN, Name};
use crate::rtype::{self, Field};

/// Largest DNS message (TCP length prefix, RFC 1035 §4.2.2).
pub const MAX_MESSAGE_LEN: usize = 65535;
/// Compression pointers followed in one name before the name is refused.
const MAX_POINTERS: usize = 64;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The message ends inside the header, a question or a record.
    #[error("message truncated at offset {offset}")]
    Truncated {
        /// Where the data ran out.
        offset: usize,
    },
    /// A compression pointer points forward, to itself, or out of the message.
    #[error("bad compression pointer at offset {offset}")]
    BadPointer {
        /// Offset of the pointer.
        offset: usize,
    },
    /// A label is longer than 63 octets or uses a reserved label type.
    #[error("bad label at offset {offset}")]
    BadLabel {
        /// Offset of the label.
        offset: usize,
    },
    /// The name is longer than 255 octets.
    #[error("name longer than 255 octets at offset {offset}")]
    NameTooLong {
        /// Offset of the name.
        offset: usize,
    },
    /// Bytes remain after the last record the header announced.
    #[error("{extra} octets after the last record")]
    TrailingData {
        /// How many.
        extra: usize,
    },
    /// The message is larger than 65535 octets.
    #[error("message larger than 65535 octets")]
    TooLong,
    /// More than one OPT record, or an OPT outside the additional section.
    #[error("misplaced or repeated OPT record")]
    BadOpt,
}

/// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2).
pub mod flags {
    /// Response.
    pub const QR: u16 = 0x8000;
    /// Authoritative answer.
    pub const AA: u16 = 0x0400;
    /// Truncated.
    pub const TC: u16 = 0x0200;
    /// Recursion desired.
    pub const RD: u16 = 0x0100;
    /// Recursion available.
    pub const RA: u16 = 0x0080;
    /// Authentic data.
    pub const AD: u16 = 0x0020;
    /// Checking disabled.
    pub const CD: u16 = 0x0010;
    /// The opcode field.
    pub const OPCODE_MASK: u16 = 0x7800;
}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Question {
    /// The name asked for, in the spelling it arrived in.
    pub name: Name,
    /// Record type.
    pub qtype: u16,
    /// Class.
    pub qclass: u16,
}

/// A resource record with uncompressed RDATA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Owner name, original spelling.
    pub owner: Name,
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// RDATA with any compressed names expanded; otherwise the octets as received.
    pub rdata: Vec<u8>,
}

/// The EDNS(0) pseudo-record (RFC 6891).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edns {
    /// Advertised UDP payload size.
    pub udp_size: u16,
    /// Upper 8 bits of the extended rcode.
    pub extended_rcode: u8,
    /// EDNS version.
    pub version: u8,
    /// The DO bit (RFC 3225).
    pub dnssec_ok: bool,
    /// Options as (code, data).
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Edns {
    /// Appends this as an OPT record (RFC 6891 §6.1.2) to a message being written; the caller
    /// counts it in the additional section.
    pub fn append_record(&self, buf: &mut Vec<u8>) {
        let rdlen: usize = self.options.iter().map(|(_, data)| 4 + data.len()).sum();
        buf.push(0);
        buf.extend_from_slice(&rtype::OPT.to_be_bytes());
        buf.extend_from_slice(&self.udp_size.to_be_bytes());
        let ttl = ((self.extended_rcode as u32) << 24)
            | ((self.version as u32) << 16)
            | if self.dnssec_ok { 0x8000 } else { 0 };
        buf.extend_from_slice(&ttl.to_be_bytes());
        buf.extend_from_slice(&(rdlen.min(u16::MAX as usize) as u16).to_be_bytes());
        for (code, data) in &self.options {
            buf.extend_from_slice(&code.to_be_bytes());
            buf.extend_from_slice(&(data.len() as u16).to_be_bytes());
            buf.extend_from_slice(data);
        }
    }
}

/// A parsed DNS message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID.
    pub id: u16,
    /// Header flags and the low 4 bits of the rcode.
    pub flags: u16,
    /// Question section.
    pub questions: Vec<Question>,
    /// Answer section.
    pub answer: Vec<Record>,
    /// Authority section.
    pub authority: Vec<Record>,
    /// Additional section, without the OPT record.
    pub additional: Vec<Record>,
    /// The OPT record, if any.
    pub edns: Option<Edns>,
}

impl Message {
    /// The full response code, including the EDNS extension.
    pub fn rcode(&self) -> u16 {
        let ext = self.edns.as_ref().map_or(0, |e| e.extended_rcode as u16);
        (ext << 4) | (self.flags & 0x000f)
    }

    /// True when `bit` (from [`flags`]) is set.
    pub fn has_flag(&self, bit: u16) -> bool {
        self.flags & bit != 0
    }

    /// The opcode.
    pub fn opcode(&self) -> u8 {
        ((self.flags & flags::OPCODE_MASK) >> 11) as u8
    }

    /// Reads a whole message.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        if buf.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong);
        }
        if buf.len() < 12 {
            return Err(WireError::Truncated { offset: buf.len() });
        }
        let word = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let (qd, an, ns, ar) = (word(4), word(6), word(8), word(10));
        // Every question takes ≥ 5 octets and every record ≥ 11: refuse impossible counts before
        // allocating for them.
        let min = 12 + qd as usize * 5 + (an as usize + ns as usize + ar as usize) * 11;
        if min > buf.len() {
            return Err(WireError::Truncated { offset: buf.len() });
        }
        let mut msg = Message { id: word(0), flags: word(2), ..Default::default() };
        let mut pos = 12;
        for _ in 0..qd {
            let (name, next) = read_name(buf, pos)?;
            let fixed = buf.get(next..next + 4).ok_or(WireError::Truncated { offset: next })?;
            msg.questions.push(Question {
                name,
                qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
                qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
            });
            pos = next + 4;
        }
        for (section, count) in [(0, an), (1, ns), (2, ar)] {
            for _ in 0..count {
                let (record, next) = read_record(buf, pos)?;
                pos = next;
                let Some(record) = record else { continue };
                if record.rtype == rtype::OPT {
                    // RFC 6891 §6.1.1–6.1.2: one OPT, in the additional section, owned by the root.
                    if section != 2 || msg.edns.is_some() || !record.owner.is_root() {
                        return Err(WireError::BadOpt);
                    }
                    msg.edns = Some(edns_from_record(&record)?);
                    continue;
                }
                match section {
                    0 => msg.answer.push(record),
                    1 => msg.authority.push(record),
                    _ => msg.additional.push(record),
                }
            }
        }
        if pos != buf.len() {
            return Err(WireError::TrailingData { extra: buf.len() - pos });
        }
        Ok(msg)
    }

    /// Writes the message without name compression, except that owner names equal to the first
    /// question's name point at it (so they carry the question's spelling, and answers stay small).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut w = Writer::new(self.id, self.flags);
        for q in &self.questions {
            w.question(q);
        }
        for r in &self.answer {
            w.record(Section::Answer, r);
        }
        for r in &self.authority {
            w.record(Section::Authority, r);
        }
        for r in &self.additional {
            w.record(Section::Additional, r);
        }
        if let Some(e) = &self.edns {
            w.edns(e);
        }
        w.finish()
    }
}

fn edns_from_record(r: &Record) -> Result<Edns, WireError> {
    let mut options = Vec::new();
    let mut i = 0;
    while i < r.rdata.len() {
        // An option header or body that overruns the RDATA is malformed (RFC 6891 §6.1.2).
        let header = r.rdata.get(i..i + 4).ok_or(WireError::BadOpt)?;
        let code = u16::from_be_bytes([header[0], header[1]]);
        let len = u16::from_be_bytes([header[2], header[3]]) as usize;
        let data = r.rdata.get(i + 4..i + 4 + len).ok_or(WireError::BadOpt)?;
        options.push((code, data.to_vec()));
        i += 4 + len;
    }
    Ok(Edns {
        udp_size: r.class,
        extended_rcode: (r.ttl >> 24) as u8,
        version: (r.ttl >> 16) as u8,
        dnssec_ok: r.ttl & 0x8000 != 0,
        options,
    })
}

/// Reads a possibly compressed name at `pos`; returns it and the offset after it.
pub fn read_name(buf: &[u8], pos: usize) -> Result<(Name, usize), WireError> {
    let mut wire = Vec::with_capacity(32);
    let mut i = pos;
    let mut end = None;
    let mut pointers = 0;
    // Pointers must go strictly backwards, which rules out loops; the count bounds the work.
    let mut limit = pos;
    loop {
        let len = *buf.get(i).ok_or(WireError::Truncated { offset: i })? as usize;
        match len & 0xc0 {
            0x00 => {
                if len > MAX_LABEL_LEN {
                    return Err(WireError::BadLabel { offset: i });
                }
                let label = buf.get(i..i + 1 + len).ok_or(WireError::Truncated { offset: i })?;
                wire.extend_from_slice(label);
                if wire.len() > MAX_NAME_LEN {
                    return Err(WireError::NameTooLong { offset: pos });
                }
                i += 1 + len;
                if len == 0 {
                    let name = Name::from_wire(wire).map_err(|_| WireError::BadLabel { offset: pos })?;
                    return Ok((name, end.unwrap_or(i)));
                }
            }
            0xc0 => {
                let lo = *buf.get(i + 1).ok_or(WireError::Truncated { offset: i })? as usize;
                let target = ((len & 0x3f) << 8) | lo;
                pointers += 1;
                if target >= limit || pointers > MAX_POINTERS {
                    return Err(WireError::BadPointer { offset: i });
                }
                if end.is_none() {
                    end = Some(i + 2);
                }
                limit = target;
                i = target;
            }
            _ => return Err(WireError::BadLabel { offset: i }),
        }
    }
}

fn read_record(buf: &[u8], pos: usize) -> Result<(Option<Record>, usize), WireError> {
    let (owner, next) = read_name(buf, pos)?;
    let fixed = buf.get(next..next + 10).ok_or(WireError::Truncated { offset: next })?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let class = u16::from_be_bytes([fixed[2], fixed[3]]);
    let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
    let start = next + 10;
    let end = start + rdlen;
    let raw = buf.get(start..end).ok_or(WireError::Truncated { offset: start })?;
    let rdata = if rtype::may_compress(rtype) {
        match decompress_rdata(buf, start, end, rtype) {
            Some(rdata) => rdata,
            // Names that cannot be read are kept raw only when the RDATA holds no compression
            // pointer: a pointer kept raw would point into whatever message the record is written
            // to next (found by fuzzing the write-and-read-back round trip). Such a record is
            // unreadable, and only it is left out: the rest of the message stays usable.
            None if raw.iter().any(|b| b & 0xc0 == 0xc0) => return Ok((None, end)),
            None => raw.to_vec(),
        }
    } else {
        raw.to_vec()
    };
    Ok((Some(Record { owner, rtype, class, ttl, rdata }), end))
}

fn decompress_rdata(buf: &[u8], start: usize, end: usize, rtype: u16) -> Option<Vec<u8>> {
    let layout = rtype::name_layout(rtype)?;
    let mut out = Vec::with_capacity(end - start + 16);
    let mut i = start;
    for field in layout {
        match *field {
            Field::Name => {
                let (name, next) = read_name(buf, i).ok()?;
                if next > end {
                    return None;
                }
                out.extend_from_slice(name.as_wire());
                i = next;
            }
            Field::Fixed(n) => {
                out.extend_from_slice(buf.get(i..i + n).filter(|_| i + n <= end)?);
                i += n;
            }
            Field::CharString => {
                let n = *buf.get(i)? as usize + 1;
                out.extend_from_slice(buf.get(i..i + n).filter(|_| i + n <= end)?);
                i += n;
            }
        }
    }
    out.extend_from_slice(buf.get(i..end)?);
    Some(out)
}

/// Message sections, for the [`Writer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Answer.
    Answer,
    /// Authority.
    Authority,
    /// Additional.
    Additional,
}

/// Builds a message record by record, keeping the section counts.
pub struct Writer {
    buf: Vec<u8>,
    counts: [u16; 4],
    qname: Option<Name>,
}

impl Writer {
    /// Starts a message with this ID and flags.
    pub fn new(id: u16, flags: u16) -> Self {
        let mut buf = Vec::with_capacity(512);
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&flags.to_be_bytes());
        buf.extend_from_slice(&[0; 8]);
        Self { buf, counts: [0; 4], qname: None }
    }

    /// Current length in octets.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing but the header was written.
    pub fn is_empty(&self) -> bool {
        self.buf.len() <= 12
    }

    /// Adds a question, written byte for byte as given.
    pub fn question(&mut self, q: &Question) {
        if self.qname.is_none() && self.counts[0] == 0 {
            self.qname = Some(q.name.clone());
        }
        self.buf.extend_from_slice(q.name.as_wire());
        self.buf.extend_from_slice(&q.qtype.to_be_bytes());
        self.buf.extend_from_slice(&q.qclass.to_be_bytes());
        self.counts[0] += 1;
    }

    /// Adds a record to a section. Sections must be written in order.
    pub fn record(&mut self, section: Section, r: &Record) {
        self.record_with_ttl(section, r, r.ttl);
    }

    /// Adds a record with another TTL (a cached record's remaining lifetime).
    pub fn record_with_ttl(&mut self, section: Section, r: &Record, ttl: u32) {
        match &self.qname {
            Some(q) if *q == r.owner => self.buf.extend_from_slice(&[0xc0, 12]),
            _ => self.buf.extend_from_slice(r.owner.as_wire()),
        }
        self.buf.extend_from_slice(&r.rtype.to_be_bytes());
        self.buf.extend_from_slice(&r.class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        self.buf.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(&r.rdata);
        self.counts[1 + section as usize] += 1;
    }

    /// Adds an OPT record to the additional section.
    pub fn edns(&mut self, e: &Edns) {
        e.append_record(&mut self.buf);
        self.counts[3] += 1;
    }

    /// Sets header flags after the fact (TC on truncation).
    pub fn set_flags(&mut self, flags: u16) {
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
    }

    /// The finished message.
    pub fn finish(mut self) -> Vec<u8> {
        for (i, c) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut b = vec![0x12, 0x34, 0x81, 0x80];
        b.extend_from_slice(&qd.to_be_bytes());
        b.extend_from_slice(&an.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b
    }

    #[test]
    fn compression_loop_is_an_error() {
        let mut b = header(1, 0);
        b.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(matches!(Message::parse(&b), Err(WireError::BadPointer { .. })));
    }

    #[test]
    fn pointer_past_end_is_an_error() {
        let mut b = header(1, 0);
        b.extend_from_slice(&[0xc0, 200, 0, 1, 0, 1]);
        assert!(matches!(Message::parse(&b), Err(WireError::BadPointer { .. })));
    }

    #[test]
    fn counts_beyond_data_are_an_error() {
        let mut b = header(1, 65535);
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(matches!(Message::parse(&b), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn long_label_is_an_error() {
        let mut b = header(1, 0);
        b.push(64);
        b.extend_from_slice(&[b'a'; 64]);
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(matches!(Message::parse(&b), Err(WireError::BadLabel { .. })));
    }

    #[test]
    fn long_name_is_an_error() {
        let mut b = header(1, 0);
        for _ in 0..5 {
            b.push(60);
            b.extend_from_slice(&[b'a'; 60]);
        }
        b.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert!(matches!(Message::parse(&b), Err(WireError::NameTooLong { .. })));
    }

    #[test]
    fn odd_records_survive_and_compressed_rdata_is_expanded() {
        // Question example. A; answer: TYPE65280 with RDLENGTH 0, NSEC3 with hash algorithm 9,
        // a CNAME whose target is compressed against the question.
        let mut b = header(1, 3);
        b.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
        b.extend_from_slice(&[0xc0, 12, 0xff, 0x00, 0, 1, 0, 0, 0, 60, 0, 0]);
        b.extend_from_slice(&[0xc0, 12, 0, 50, 0, 1, 0, 0, 0, 60, 0, 5, 9, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'w', b'w', 0xc0, 12]);
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.answer.len(), 3);
        assert!(m.answer[0].rdata.is_empty());
        assert_eq!(m.answer[1].rdata, vec![9, 0, 0, 0, 0]);
        assert_eq!(m.answer[2].rdata, b"\x03www\x07example\x00".to_vec());
        // Round trip keeps every record.
        let again = Message::parse(&m.to_wire()).unwrap();
        assert_eq!(again.answer, m.answer);
    }

    #[test]
    fn every_prefix_of_a_message_is_handled_without_panic() {
        let mut b = header(1, 1);
        b.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
        b.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        assert!(Message::parse(&b).is_ok());
        for n in 0..b.len() {
            assert!(Message::parse(&b[..n]).is_err());
        }
    }
}
