//! Is an upstream fit to feed a validator? A handful of queries (five, each bounded by a timeout) that find the ways resolvers in the field break DNSSEC: home routers, captive
//! portals and ISP resolvers that strip RRSIGs, drop DO, lie NXDOMAIN, have no TCP or cut large
//! answers. Only names that exist under whatever root is in use are asked: the root's DNSKEY
//! set, a name that cannot exist (whose NSEC proof names a real TLD), that TLD's DS set.
//!
//! The verdict: **fit**, **degraded** (works, but e.g. no TCP: large answers will fail),
//! **unfit** (cannot give a validator what it needs) or **unreachable**, with the reason in
//! words. The daemon sends queries to fit upstreams while any exist (quarantine).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use lookaside_dnssec::iana::rtype::{self, rcode};
use lookaside_dnssec::name::Name;
use lookaside_dnssec::rdata::Nsec;
use lookaside_dnssec::wire::{Edns, Message, Question, Record, Writer, flags};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::stream::StreamChannel;
use crate::upstream::{build_padded_query, random_u16, reply_matches};

/// An upstream's fitness, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fitness {
    /// No reply at all.
    Unreachable,
    /// Replies, but not with what a validator needs.
    Unfit,
    /// Serves DNSSEC data, with a flaw that fails some answers (no TCP, case not kept).
    Degraded,
    /// Everything checked works.
    Fit,
}

impl Fitness {
    /// The word used in logs, `ctl status` and `probe` output.
    pub fn word(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Unfit => "unfit",
            Self::Degraded => "degraded",
            Self::Fit => "fit",
        }
    }

    /// True when queries may go there while a fit upstream exists.
    pub fn usable(self) -> bool {
        matches!(self, Self::Fit | Self::Degraded)
    }
}

impl fmt::Display for Fitness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// How one check went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed, with what was seen.
    Pass(String),
    /// Failed: what the upstream did, and what that makes it.
    Fail(Fitness, String),
    /// Not checked, and why.
    Skipped(String),
}

/// One check of a probe.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was asked, e.g. ". DNSKEY over UDP with DO".
    pub what: String,
    /// How it went.
    pub outcome: Outcome,
}

/// A probe's result for one upstream.
#[derive(Clone, Debug)]
pub struct Report {
    /// The upstream.
    pub upstream: SocketAddr,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl Report {
    /// The verdict: the worst failed check's, else fit.
    pub fn fitness(&self) -> Fitness {
        self.checks
            .iter()
            .filter_map(|c| match c.outcome {
                Outcome::Fail(f, _) => Some(f),
                _ => None,
            })
            .min()
            .unwrap_or(Fitness::Fit)
    }

    /// Why it is not fit: the worst failed check's words (empty when fit).
    pub fn reason(&self) -> String {
        let worst = self.fitness();
        self.checks
            .iter()
            .find_map(|c| match &c.outcome {
                Outcome::Fail(f, why) if *f == worst => Some(why.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// Queries a probe sends at most: . DNSKEY over UDP and TCP, a denial, a TLD's DS, . DNSKEY
/// with CD.
pub const MAX_PROBE_QUERIES: usize = 5;

fn query(id: u16, q: &Question, udp_size: u16, header_flags: u16) -> Vec<u8> {
    let mut w = Writer::new(id, header_flags);
    w.question(q);
    w.edns(&Edns { udp_size, dnssec_ok: true, ..Default::default() });
    w.finish()
}

async fn udp(addr: SocketAddr, q: &Question, wait: Duration, udp_size: u16) -> Option<Message> {
    udp_with(addr, q, wait, udp_size, flags::RD).await
}

/// One question with DO to one server, with these header flags (no RD to ask an authoritative
/// server about its own zone): over UDP, and again over TCP when the reply is truncated. `None`
/// when no matching reply came within `wait` (each way). For `check-zone`, which asks each of a
/// zone's servers directly.
pub async fn ask_server(
    addr: SocketAddr,
    q: &Question,
    header_flags: u16,
    wait: Duration,
    udp_size: u16,
) -> Option<Message> {
    match udp_with(addr, q, wait, udp_size, header_flags).await {
        Some(m) if m.has_flag(flags::TC) => tcp_with(addr, q, wait, udp_size, header_flags).await.or(Some(m)),
        Some(m) => Some(m),
        None => tcp_with(addr, q, wait, udp_size, header_flags).await,
    }
}

async fn udp_with(
    addr: SocketAddr,
    q: &Question,
    wait: Duration,
    udp_size: u16,
    header_flags: u16,
) -> Option<Message> {
    let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(bind).await.ok()?;
    sock.connect(addr).await.ok()?;
    let id = random_u16();
    sock.send(&query(id, q, udp_size, header_flags)).await.ok()?;
    let mut buf = vec![0u8; 65535];
    timeout(wait, async {
        loop {
            let n = sock.recv(&mut buf).await.ok()?;
            if let Ok(m) = Message::parse(&buf[..n])
                && reply_matches(&m, id, q)
            {
                return Some(m);
            }
        }
    })
    .await
    .ok()?
}

async fn tcp(addr: SocketAddr, q: &Question, wait: Duration, udp_size: u16) -> Option<Message> {
    tcp_with(addr, q, wait, udp_size, flags::RD).await
}

async fn tcp_with(
    addr: SocketAddr,
    q: &Question,
    wait: Duration,
    udp_size: u16,
    header_flags: u16,
) -> Option<Message> {
    timeout(wait, async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let id = random_u16();
        let wire = query(id, q, udp_size, header_flags);
        let mut framed = u16::try_from(wire.len()).ok()?.to_be_bytes().to_vec();
        framed.extend_from_slice(&wire);
        s.write_all(&framed).await.ok()?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).await.ok()?;
        Message::parse(&buf).ok().filter(|m| reply_matches(m, id, q))
    })
    .await
    .ok()?
}

fn signed(records: &[Record], covered: u16) -> bool {
    records.iter().any(|r| r.rtype == rtype::RRSIG && r.rdata.get(..2) == Some(&covered.to_be_bytes()[..]))
}

fn rcode_name(rc: u16) -> String {
    match rc {
        rcode::NOERROR => "NOERROR".into(),
        rcode::SERVFAIL => "SERVFAIL".into(),
        rcode::NXDOMAIN => "NXDOMAIN".into(),
        rcode::REFUSED => "REFUSED".into(),
        other => format!("RCODE{other}"),
    }
}

/// Judges the root DNSKEY reply (RFC 4035 §3.1.1: a DO query gets the RRSIGs).
fn judge_dnskey(m: &Message) -> Outcome {
    let fail = |why: String| Outcome::Fail(Fitness::Unfit, why);
    if m.rcode() != rcode::NOERROR {
        return fail(format!("answered {} to . DNSKEY", rcode_name(m.rcode())));
    }
    let Some(edns) = &m.edns else {
        return fail("no EDNS in its reply to . DNSKEY: it cannot carry DO, so no signatures".into());
    };
    if !edns.dnssec_ok {
        return fail("cleared the DO bit: it does not pass DNSSEC records on".into());
    }
    if m.has_flag(flags::TC) {
        return Outcome::Pass("truncated over UDP (asked again over TCP)".into());
    }
    let keys = m.answer.iter().filter(|r| r.rtype == rtype::DNSKEY).count();
    if keys == 0 {
        return fail("no DNSKEY records for the root in its NOERROR reply".into());
    }
    if !signed(&m.answer, rtype::DNSKEY) {
        return fail("strips RRSIGs: . DNSKEY came without signatures".into());
    }
    Outcome::Pass(format!("{keys} keys, signed"))
}

/// Probes one plain (UDP/TCP) upstream with five queries, waiting at most `wait` for each and
/// offering `udp_size` (`edns-buffer-size`) as the daemon's own queries do.
pub async fn probe(addr: SocketAddr, wait: Duration, udp_size: u16) -> Report {
    let mut checks = Vec::new();
    let root_keys = Question { name: Name::root(), qtype: rtype::DNSKEY, qclass: 1 };
    let Some(keys) = udp(addr, &root_keys, wait, udp_size).await else {
        checks.push(Check {
            what: ". DNSKEY over UDP with DO".into(),
            outcome: Outcome::Fail(
                Fitness::Unreachable,
                format!("no reply to . DNSKEY over UDP within {} ms", wait.as_millis()),
            ),
        });
        return Report { upstream: addr, checks };
    };
    let truncated = keys.has_flag(flags::TC);
    let keys_outcome = judge_dnskey(&keys);
    let keys_failed = matches!(keys_outcome, Outcome::Fail(..));
    checks.push(Check { what: ". DNSKEY over UDP with DO".into(), outcome: keys_outcome });

    let over_tcp = tcp(addr, &root_keys, wait, udp_size).await;
    checks.push(Check {
        what: ". DNSKEY over TCP".into(),
        outcome: match &over_tcp {
            None => Outcome::Fail(
                Fitness::Degraded,
                "no answer over TCP: answers too large for UDP (DNSKEY, TLSA) will fail".into(),
            ),
            Some(m) if truncated => judge_dnskey(m),
            Some(_) => Outcome::Pass("answers over TCP".into()),
        },
    });
    checks.push(Check {
        what: format!("a large answer (. DNSKEY with DO, EDNS {udp_size})"),
        outcome: match (truncated, &over_tcp) {
            _ if keys_failed => Outcome::Skipped("no DNSKEY set came back to measure".into()),
            (false, _) => Outcome::Pass(format!("{} octets whole over UDP", keys.to_wire().len())),
            // It fitted in what we offered: the upstream's own buffer is smaller.
            (true, Some(m)) if m.to_wire().len() <= usize::from(udp_size) => Outcome::Fail(
                Fitness::Degraded,
                format!(
                    "small EDNS buffer: truncated {} octets although {udp_size} were offered; such answers take TCP",
                    m.to_wire().len()
                ),
            ),
            (true, Some(_)) => Outcome::Pass("truncated over UDP, whole over TCP".into()),
            (true, None) => Outcome::Fail(
                Fitness::Unfit,
                "truncates . DNSKEY over UDP and has no TCP: the root's keys never arrive".into(),
            ),
        },
    });

    denial_and_delegation(&Via::Udp(addr, wait, udp_size), &mut checks).await;
    // RFC 4035 §3.2.2: CD is copied to the reply. An upstream that drops it may also withhold
    // data that fails its own validation, which lookaside wants to judge (and explain) itself.
    checks.push(Check {
        what: "CD (. DNSKEY with CD set)".into(),
        outcome: match udp_with(addr, &root_keys, wait, udp_size, flags::RD | flags::CD).await {
            None => Outcome::Fail(Fitness::Degraded, "no reply to a query with CD set".into()),
            Some(m) => cd_check(m.has_flag(flags::CD)).outcome,
        },
    });
    Report { upstream: addr, checks }
}

/// How a probe reaches its upstream.
enum Via<'a> {
    /// UDP to this address, with this wait and EDNS size.
    Udp(SocketAddr, Duration, u16),
    /// The upstream's TLS connection.
    Stream(&'a StreamChannel, Duration, u16),
}

impl Via<'_> {
    async fn ask(&self, q: &Question) -> Option<Message> {
        match self {
            // A truncated reply is asked again over TCP, as the daemon does.
            Self::Udp(addr, wait, size) => match udp(*addr, q, *wait, *size).await {
                Some(m) if m.has_flag(flags::TC) => tcp(*addr, q, *wait, *size).await.or(Some(m)),
                other => other,
            },
            Self::Stream(stream, wait, size) => {
                let deadline = tokio::time::Instant::now() + *wait;
                stream.exchange(q, |id| build_padded_query(id, q, *size), deadline).await.ok()
            }
        }
    }
}

fn cd_check(echoed: bool) -> Check {
    Check {
        what: "CD (. DNSKEY with CD set)".into(),
        outcome: if echoed {
            Outcome::Pass("CD echoed (whether it withholds bogus data needs a broken zone to tell)".into())
        } else {
            Outcome::Fail(
                Fitness::Degraded,
                "drops the CD bit (RFC 4035 §3.2.2): data that fails its own validation may not reach us"
                    .into(),
            )
        },
    }
}

/// Probes a DNS over TLS upstream through its own connection (`stream`, strict authentication):
/// the root's signed keys, a signed denial and a signed delegation. UDP, TCP fallback and the
/// question's case do not apply.
pub async fn probe_stream(stream: &StreamChannel, addr: SocketAddr, wait: Duration, udp_size: u16) -> Report {
    let mut checks = Vec::new();
    let root_keys = Question { name: Name::root(), qtype: rtype::DNSKEY, qclass: 1 };
    let deadline = tokio::time::Instant::now() + wait;
    let cd_echoed = match stream
        .exchange(&root_keys, |id| build_padded_query(id, &root_keys, udp_size), deadline)
        .await
    {
        Err(e) => {
            checks.push(Check {
                what: ". DNSKEY over TLS with DO".into(),
                outcome: Outcome::Fail(Fitness::Unreachable, format!("no reply to . DNSKEY over TLS: {e}")),
            });
            return Report { upstream: addr, checks };
        }
        Ok(keys) => {
            checks.push(Check { what: ". DNSKEY over TLS with DO".into(), outcome: judge_dnskey(&keys) });
            keys.has_flag(flags::CD)
        }
    };
    denial_and_delegation(&Via::Stream(stream, wait, udp_size), &mut checks).await;
    checks.push(cd_check(cd_echoed));
    Report { upstream: addr, checks }
}

/// A name that cannot exist, in mixed case: its NXDOMAIN must come with signed proofs
/// (RFC 4035 §3.1.3) and, when `check_case`, the question as sent (0x20). Then a TLD the root
/// really has, from its own NSEC chain: its DS set (or the proof that it has none) must be
/// signed.
async fn denial_and_delegation(via: &Via<'_>, checks: &mut Vec<Check>) {
    let check_case = matches!(via, Via::Udp(..));
    // A name that cannot exist, in mixed case: its NXDOMAIN must come with signed proofs
    // (RFC 4035 §3.1.3), and the question must come back as sent (0x20).
    let label = format!("lOoKaSiDe-PrObE-{:04x}", random_u16());
    let missing = Question {
        name: Name::parse(&format!("{label}.")).unwrap_or_else(|_| Name::root()),
        qtype: rtype::A,
        qclass: 1,
    };
    let denial = via.ask(&missing).await;
    let mut tld = None;
    let (denial_outcome, case_outcome) = match &denial {
        None => (
            Outcome::Fail(Fitness::Degraded, format!("no reply for {} A", missing.name)),
            Outcome::Skipped("no reply".into()),
        ),
        Some(m) => {
            let case = if !check_case {
                Outcome::Skipped("over TLS no one off-path can answer: not needed".into())
            } else if m.questions[0].name.eq_exact(&missing.name) {
                Outcome::Pass("the question's case came back as sent".into())
            } else {
                Outcome::Fail(
                    Fitness::Degraded,
                    format!(
                        "changed the question's case ({} for {}): 0x20 is off for it",
                        m.questions[0].name, missing.name
                    ),
                )
            };
            let proofs: Vec<&Record> =
                m.authority.iter().filter(|r| r.rtype == rtype::NSEC || r.rtype == rtype::NSEC3).collect();
            tld = m
                .authority
                .iter()
                .filter(|r| r.rtype == rtype::NSEC)
                .filter_map(Nsec::from_record)
                .flat_map(|n| [n.owner, n.next])
                .find(|n| n.label_count() == 1);
            let outcome = if m.rcode() == rcode::NOERROR && !m.answer.is_empty() {
                Outcome::Fail(
                    Fitness::Unfit,
                    format!("answers a name that cannot exist ({} A): it rewrites NXDOMAIN", missing.name),
                )
            } else if m.rcode() != rcode::NXDOMAIN {
                Outcome::Fail(
                    Fitness::Unfit,
                    format!("answered {} for {} A", rcode_name(m.rcode()), missing.name),
                )
            } else if proofs.is_empty() {
                Outcome::Fail(Fitness::Unfit, "strips NSEC/NSEC3: NXDOMAIN came without proofs".into())
            } else if !signed(&m.authority, proofs[0].rtype) {
                Outcome::Fail(Fitness::Unfit, "strips RRSIGs: the NXDOMAIN proofs came unsigned".into())
            } else {
                Outcome::Pass(format!("NXDOMAIN with {} signed proof record(s)", proofs.len()))
            };
            (outcome, case)
        }
    };
    checks.push(Check { what: format!("{} A (a denial)", missing.name), outcome: denial_outcome });
    checks.push(Check { what: "the question's case (0x20)".into(), outcome: case_outcome });

    // A TLD the root really has, taken from its own NSEC chain: its DS set (or the proof that
    // it has none) must come signed.
    let ds_outcome = match &tld {
        None => Outcome::Skipped("no NSEC naming a TLD in the denial (an NSEC3 root, or no proof)".into()),
        Some(tld) => {
            let q = Question { name: tld.clone(), qtype: rtype::DS, qclass: 1 };
            match via.ask(&q).await {
                None => Outcome::Fail(Fitness::Degraded, format!("no reply for {tld} DS")),
                Some(m) if m.rcode() != rcode::NOERROR => {
                    Outcome::Fail(Fitness::Unfit, format!("answered {} to {tld} DS", rcode_name(m.rcode())))
                }
                Some(m) if signed(&m.answer, rtype::DS) => Outcome::Pass(format!("{tld} DS, signed")),
                Some(m)
                    if m.answer.is_empty()
                        && (signed(&m.authority, rtype::NSEC) || signed(&m.authority, rtype::NSEC3)) =>
                {
                    Outcome::Pass(format!("{tld} has no DS, proven by a signed denial"))
                }
                Some(_) => {
                    Outcome::Fail(Fitness::Unfit, format!("strips RRSIGs: {tld} DS came without signatures"))
                }
            }
        }
    };
    checks.push(Check {
        what: tld
            .as_ref()
            .map_or_else(|| "a TLD's DS".to_string(), |t| format!("{t} DS (a signed delegation)")),
        outcome: ds_outcome,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(f: Option<Fitness>) -> Check {
        Check {
            what: "x".into(),
            outcome: match f {
                Some(f) => Outcome::Fail(f, format!("{f} reason")),
                None => Outcome::Pass("ok".into()),
            },
        }
    }

    #[test]
    fn the_worst_failed_check_decides() {
        let addr: SocketAddr = "192.0.2.1:53".parse().unwrap();
        let r = Report {
            upstream: addr,
            checks: vec![check(None), check(Some(Fitness::Degraded)), check(Some(Fitness::Unfit))],
        };
        assert_eq!((r.fitness(), r.reason().as_str()), (Fitness::Unfit, "unfit reason"));
        let r = Report { upstream: addr, checks: vec![check(None)] };
        assert_eq!((r.fitness(), r.reason().as_str()), (Fitness::Fit, ""));
    }
}
