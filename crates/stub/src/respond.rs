//! The answer policy: what a client receives for a verdict (RFC 4035 §3.2, RFC 6840 §5.7–5.9,
//! RFC 8914), built directly as wire bytes from the cached upstream records.
//!
//! | query | secure | insecure | bogus / indeterminate |
//! |---|---|---|---|
//! | DO=0 AD=0 | data, no AD, no DNSSEC records | data | SERVFAIL + EDE |
//! | DO=0 AD=1 | data with AD (glibc `trust-ad`) | data | SERVFAIL + EDE |
//! | DO=1 | data, RRSIGs and proofs, AD | data | SERVFAIL + EDE |
//! | CD=1 | data, AD allowed | data | data as received, no AD |
//!
//! The question is echoed as the client wrote it, and owner names equal to the question name are
//! written as a pointer to it, so they carry the client's spelling whatever case the upstream used.

use lookaside_dnssec::iana::ede;
use lookaside_dnssec::outcome::Security;
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_dnssec::wire::{Edns, Message, Question, Record, Section, WireError, Writer, flags};

use crate::packed::PackedAnswer;
use crate::resolution::{Judgement, Resolution};

/// Largest UDP answer we send, whatever the client advertises (DNS Flag Day 2020).
pub const MAX_UDP_ANSWER: u16 = 1232;
/// TTL of records in a stale answer (RFC 8767 §4 recommends 30 s).
pub const STALE_TTL: u32 = 30;
/// UDP answer limit for a client without EDNS (RFC 1035 §4.2.1).
pub const PLAIN_UDP_ANSWER: u16 = 512;
/// EDNS option code of Extended DNS Errors.
pub const EDNS_OPTION_EDE: u16 = lookaside_dnssec::iana::edns_option::EDE;
/// Longest EDE extra text we send, so that an error always fits a 512-byte answer.
pub const MAX_EDE_TEXT: usize = 300;

/// A client's query, as far as the policy needs it.
#[derive(Clone, Debug)]
pub struct ClientQuery {
    /// Transaction ID.
    pub id: u16,
    /// Header flags as sent.
    pub flags: u16,
    /// The question, in the client's spelling.
    pub question: Question,
    /// The client's EDNS record, if any.
    pub edns: Option<Edns>,
}

impl ClientQuery {
    /// True when the client set DO.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.as_ref().is_some_and(|e| e.dnssec_ok)
    }

    /// True when the client set CD.
    pub fn checking_disabled(&self) -> bool {
        self.flags & flags::CD != 0
    }

    /// An error answer (SERVFAIL, REFUSED, BADVERS, …) to this query, with an optional EDE,
    /// within the client's UDP limit (the EDE text is shortened, or left out, to fit).
    pub fn error(&self, rc: u16, ede: Option<(u16, String)>) -> Vec<u8> {
        error_response(
            self.id,
            self.flags,
            rc,
            Some(&self.question),
            self.edns.as_ref(),
            ede,
            self.udp_limit(),
        )
    }

    /// Largest answer this client accepts over UDP.
    pub fn udp_limit(&self) -> usize {
        match &self.edns {
            Some(e) => e.udp_size.clamp(PLAIN_UDP_ANSWER, MAX_UDP_ANSWER) as usize,
            None => PLAIN_UDP_ANSWER as usize,
        }
    }
}

/// Why a client packet gets no normal answer.
#[derive(Debug)]
pub enum Rejection {
    /// Too short to hold a header: nothing can be answered.
    Unanswerable,
    /// EDNS version other than 0: answer BADVERS with our version, 0 (RFC 6891 §6.1.3).
    BadVersion(ClientQuery),
    /// Answer with this rcode (FORMERR, NOTIMP, REFUSED) and ID.
    Error {
        /// The ID to echo.
        id: u16,
        /// Header flags as sent.
        flags: u16,
        /// The rcode.
        rcode: u16,
        /// The question, when it could be read.
        question: Option<Question>,
    },
}

/// Reads a client's query; anything unusable becomes a [`Rejection`].
pub fn parse_query(buf: &[u8]) -> Result<ClientQuery, Rejection> {
    if buf.len() < 12 {
        return Err(Rejection::Unanswerable);
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let hflags = u16::from_be_bytes([buf[2], buf[3]]);
    if hflags & flags::QR != 0 {
        return Err(Rejection::Unanswerable); // never answer a response
    }
    let formerr = |question| Rejection::Error { id, flags: hflags, rcode: rcode::FORMERR, question };
    let msg = Message::parse(buf).map_err(|_: WireError| formerr(None))?;
    if msg.opcode() != 0 {
        return Err(Rejection::Error {
            id,
            flags: hflags,
            rcode: rcode::NOTIMP,
            question: msg.questions.first().cloned(),
        });
    }
    if msg.questions.len() != 1 || !msg.answer.is_empty() {
        return Err(formerr(msg.questions.first().cloned()));
    }
    let question = msg.questions[0].clone();
    if matches!(question.qtype, rtype::OPT | 251 | 252) {
        // OPT is no question; IXFR and AXFR are not for a stub resolver.
        return Err(Rejection::Error { id, flags: hflags, rcode: rcode::REFUSED, question: Some(question) });
    }
    let query = ClientQuery { id, flags: hflags, question, edns: msg.edns };
    if query.edns.as_ref().is_some_and(|e| e.version != 0) {
        return Err(Rejection::BadVersion(query));
    }
    Ok(query)
}

fn response_flags(query_flags: u16, rc: u16) -> u16 {
    flags::QR | (query_flags & (flags::OPCODE_MASK | flags::RD | flags::CD)) | flags::RA | (rc & 0xf)
}

fn response_edns(query: Option<&Edns>, ede: Option<(u16, String)>, rc: u16) -> Option<Edns> {
    let q = query?;
    // The upper 8 bits of a 12-bit rcode (BADVERS is 16) go in the OPT record (RFC 6891 §6.1.3).
    let extended_rcode = (rc >> 4) as u8;
    let mut e =
        Edns { udp_size: MAX_UDP_ANSWER, dnssec_ok: q.dnssec_ok, extended_rcode, ..Default::default() };
    if let Some((code, text)) = ede {
        let mut data = code.to_be_bytes().to_vec();
        let mut text = text;
        if text.len() > MAX_EDE_TEXT {
            let mut cut = MAX_EDE_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        data.extend_from_slice(text.as_bytes());
        e.options.push((EDNS_OPTION_EDE, data));
    }
    Some(e)
}

/// An error answer (FORMERR, NOTIMP, REFUSED, SERVFAIL, BADVERS) with an optional EDE, at most
/// `limit` octets long: an EDE text that would push it over is shortened, or left out.
pub fn error_response(
    id: u16,
    query_flags: u16,
    rc: u16,
    question: Option<&Question>,
    edns: Option<&Edns>,
    ede: Option<(u16, String)>,
    limit: usize,
) -> Vec<u8> {
    let build = |ede: Option<(u16, String)>| {
        let mut w = Writer::new(id, response_flags(query_flags, rc));
        if let Some(q) = question {
            w.question(q);
        }
        // A FORMERR may come from a broken OPT: answer it with an OPT only if we could read one.
        if let Some(e) = response_edns(edns, ede, rc) {
            w.edns(&e);
        }
        w.finish()
    };
    let wire = build(ede.clone());
    let Some((code, text)) = ede.filter(|_| wire.len() > limit) else { return wire };
    let over = wire.len() - limit;
    if over < text.len() {
        let mut cut = text.len() - over;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let shorter = build(Some((code, text[..cut].to_string())));
        if shorter.len() <= limit {
            return shorter;
        }
    }
    build(None)
}

/// The answer to a CHAOS-class TXT query for `version.bind`/`version.server` or
/// `id.server`/`hostname.bind` (the conventions of BIND and RFC 4892), or REFUSED when the
/// operator chose not to tell.
pub fn chaos_response(query: &ClientQuery, version: Option<&str>, identity: Option<&str>) -> Vec<u8> {
    let name = query.question.name.to_string().to_ascii_lowercase();
    let text = match name.as_str() {
        "version.bind." | "version.server." => version,
        "id.server." | "hostname.bind." => identity,
        _ => None,
    };
    let Some(text) = text.filter(|_| matches!(query.question.qtype, rtype::TXT | rtype::ANY)) else {
        return query.error(rcode::REFUSED, None);
    };
    let mut rdata = Vec::with_capacity(text.len() + 1);
    for chunk in text.as_bytes().chunks(255) {
        rdata.push(chunk.len() as u8);
        rdata.extend_from_slice(chunk);
    }
    let mut w = Writer::new(query.id, response_flags(query.flags, rcode::NOERROR) | flags::AA);
    w.question(&query.question);
    let record = Record {
        owner: query.question.name.clone(),
        rtype: rtype::TXT,
        class: rtype::CLASS_CH,
        ttl: 0,
        rdata,
    };
    w.record(Section::Answer, &record);
    if let Some(e) = response_edns(query.edns.as_ref(), None, rcode::NOERROR) {
        w.edns(&e);
    }
    w.finish()
}

/// The EDE text for a failed answer: the reason and, where known, the chain summary.
fn ede_for(judgement: &Judgement, summary: &str) -> Option<(u16, String)> {
    let (code, reason) = judgement.security()?.ede()?;
    let text = if summary.is_empty() { reason } else { format!("{summary}: {reason}") };
    Some((code, text))
}

fn is_dnssec_type(t: u16) -> bool {
    matches!(t, rtype::RRSIG | rtype::NSEC | rtype::NSEC3)
}

/// True when data with this judgement may go to this client: checked and not failed, or any
/// data to a client that set CD (RFC 4035 §3.2.2).
fn usable(query: &ClientQuery, judgement: &Judgement) -> bool {
    match judgement {
        Judgement::Checked(Security::Secure | Security::Insecure(_)) => true,
        Judgement::Checked(Security::Bogus(_) | Security::Indeterminate(_)) | Judgement::Unchecked => {
            query.checking_disabled()
        }
    }
}

/// Builds the client's answer for a resolution. `limit` is the largest size allowed (the UDP
/// limit, or 65535 over TCP); a larger answer is replaced by an empty one with TC set.
pub fn build_response(query: &ClientQuery, res: &Resolution, limit: usize) -> Vec<u8> {
    let packed = res
        .response
        .as_deref()
        .filter(|_| usable(query, &res.judgement))
        .and_then(|m| PackedAnswer::pack(&query.question, m));
    let served = Served { judgement: &res.judgement, summary: &res.summary, age: res.age, stale: res.stale };
    answer(query, packed.as_ref(), served, limit)
}

/// What is known of a packed answer being served.
#[derive(Clone, Copy, Debug)]
pub struct Served<'a> {
    /// Its verdict.
    pub judgement: &'a Judgement,
    /// The chain summary, for the EDE text of a failure.
    pub summary: &'a str,
    /// Seconds it spent in the cache, taken off its TTLs.
    pub age: u32,
    /// Served stale (RFC 8767).
    pub stale: bool,
}

/// The client's answer from a packed response and what is known of it, by the policy table
/// above: the cache hit path, which copies the packed bytes, leaves out DNSSEC records for a
/// client without DO, and patches the ID, flags, the client's spelling of the question and the
/// aged TTLs. `packed` is `None` when there is no data to give (a failure without CD, or no
/// answer at all).
pub fn answer(
    query: &ClientQuery,
    packed: Option<&PackedAnswer>,
    served: Served<'_>,
    limit: usize,
) -> Vec<u8> {
    let Some(packed) = packed.filter(|_| usable(query, served.judgement)) else {
        return query.error(rcode::SERVFAIL, ede_for(served.judgement, served.summary));
    };
    serve_packed(query, packed, served, limit).unwrap_or_else(|| {
        query.error(rcode::SERVFAIL, Some((ede::OTHER, "cached answer unreadable".into())))
    })
}

fn serve_packed(
    query: &ClientQuery,
    packed: &PackedAnswer,
    served: Served<'_>,
    limit: usize,
) -> Option<Vec<u8>> {
    let dnssec_ok = query.dnssec_ok();
    let secure = served.judgement.security().is_some_and(Security::is_secure);
    let rc = packed.rcode();
    let mut hflags = response_flags(query.flags, rc);
    // RFC 6840 §5.7–5.8: AD only for secure data, and only to a client that asked with DO or AD.
    if secure && (dnssec_ok || query.flags & flags::AD != 0) {
        hflags |= flags::AD;
    }
    let ede = match served.judgement.security() {
        _ if served.stale => Some((
            ede::STALE_ANSWER,
            "no upstream answered in time: the cached answer, past its TTL (RFC 8767)".to_string(),
        )),
        Some(s @ Security::Insecure(_)) => s.ede(),
        _ => None,
    };
    let head = packed.head();
    let section: &[u8] = packed.answer_section();
    let tail: &[u8] = packed.tail();
    let qname = query.question.name.as_wire();
    let records_at = 12 + qname.len() + 4;
    let mut out = Vec::with_capacity(head.len() + tail.len() + 64);
    out.extend_from_slice(&query.id.to_be_bytes());
    out.extend_from_slice(&hflags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(qname);
    out.extend_from_slice(&query.question.qtype.to_be_bytes());
    out.extend_from_slice(&query.question.qclass.to_be_bytes());
    // The packed question is the same name in another spelling, as long: records start at the
    // same offset, and owner pointers to offset 12 now carry the client's spelling.
    if head.get(records_at - 4..records_at)? != &out[records_at - 4..records_at] {
        return None;
    }
    let wanted = [
        u16::from_be_bytes([head[6], head[7]]),
        u16::from_be_bytes([head[8], head[9]]),
        u16::from_be_bytes([head[10], head[11]]),
    ];
    let mut counts = [0u16; 3];
    if head.len() != records_at {
        return None;
    }
    let (mut bytes, mut at) = (section, 0);
    for (i, &n) in wanted.iter().enumerate() {
        if i == 1 {
            // The authority section starts the tail; the answer section must be used up.
            if at != section.len() {
                return None;
            }
            (bytes, at) = (tail, 0);
        }
        for _ in 0..n {
            let r = crate::packed::record_at(bytes, at)?;
            at = r.end;
            if !dnssec_ok && is_dnssec_type(r.rtype) && r.rtype != query.question.qtype {
                continue;
            }
            let ttl = u32::from_be_bytes(bytes.get(r.ttl_at..r.ttl_at + 4)?.try_into().ok()?);
            // RFC 8767 §4: stale data goes out with a short TTL (30 s recommended).
            let ttl = if served.stale { STALE_TTL.min(ttl) } else { ttl.saturating_sub(served.age) };
            let patch = out.len() + (r.ttl_at - r.start);
            out.extend_from_slice(&bytes[r.start..r.end]);
            out[patch..patch + 4].copy_from_slice(&ttl.to_be_bytes());
            counts[i] += 1;
        }
    }
    let edns = response_edns(query.edns.as_ref(), ede, rc);
    if let Some(e) = &edns {
        e.append_record(&mut out);
        counts[2] += 1;
    }
    if out.len() > limit {
        // Too large for UDP: an empty answer with TC sends the client to TCP (RFC 7766 §5).
        out.truncate(records_at);
        out[2..4].copy_from_slice(&(hflags | flags::TC).to_be_bytes());
        counts = [0, 0, 0];
        if let Some(e) = response_edns(query.edns.as_ref(), None, rc) {
            e.append_record(&mut out);
            counts[2] = 1;
        }
    }
    for (i, c) in counts.iter().enumerate() {
        out[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
    }
    Some(out)
}
