//! Queries to the upstream recursive resolvers over UDP and TCP.
//!
//! RFC 5452: every query gets a random ID and a random source port chosen here (not the kernel's
//! smaller ephemeral range); the UDP socket is connected, so only datagrams from the address
//! queried reach us, and a reply is accepted only with the same ID and question (name compared
//! case-insensitively, since servers may answer YAX.IM to yax.im). Anything else is dropped and
//! counted. A truncated reply is asked again over TCP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use lookaside_dnssec::wire::{Edns, Message, Question, Writer, flags};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

/// EDNS buffer size we advertise upstream (DNS Flag Day 2020).
pub const EDNS_BUFFER: u16 = 1232;
/// Default time to wait for one upstream before trying the next (peers use 200 ms – 1 s).
pub const DEFAULT_TRY_TIMEOUT: Duration = Duration::from_millis(400);
/// Default time after which a query to the upstreams gives up (below XMPP servers' own timers).
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(3);

/// Why no usable reply came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// Every upstream timed out or failed.
    #[error("no upstream answered {question} (tried {tried})")]
    Unreachable {
        /// The question, for messages.
        question: String,
        /// How many upstreams were tried.
        tried: usize,
    },
    /// No upstream is configured.
    #[error("no upstream resolvers configured")]
    NoUpstreams,
}

/// Counters about upstream traffic.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    /// Queries sent (UDP and TCP).
    pub queries: AtomicU64,
    /// Datagrams dropped: unparsable, wrong ID or wrong question.
    pub dropped_replies: AtomicU64,
    /// Tries that timed out or failed.
    pub failures: AtomicU64,
    /// Replies retried over TCP after TC.
    pub tcp_retries: AtomicU64,
}

struct Server {
    addr: SocketAddr,
    /// Consecutive failures; servers that keep failing are tried later rather than first.
    failures: AtomicU32,
}

/// The configured upstream resolvers.
pub struct Upstreams {
    servers: Vec<Server>,
    try_timeout: Duration,
    total_timeout: Duration,
    /// Traffic counters.
    pub stats: UpstreamStats,
}

impl Upstreams {
    /// Upstreams at these addresses, with the default timeouts.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Self {
            servers: addrs.into_iter().map(|addr| Server { addr, failures: AtomicU32::new(0) }).collect(),
            try_timeout: DEFAULT_TRY_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            stats: UpstreamStats::default(),
        }
    }

    /// Sets the per-try and total timeouts.
    pub fn with_timeouts(mut self, per_try: Duration, total: Duration) -> Self {
        self.try_timeout = per_try;
        self.total_timeout = total;
        self
    }

    /// Each upstream with its count of consecutive failures.
    pub fn health(&self) -> Vec<(SocketAddr, u32)> {
        self.servers.iter().map(|s| (s.addr, s.failures.load(Ordering::Relaxed))).collect()
    }

    /// The upstream addresses, in configured order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.addr).collect()
    }

    /// Asks `question` with RD, CD and DO set; `avoid` is tried last (for a second opinion).
    pub async fn query(
        &self,
        question: &Question,
        avoid: Option<SocketAddr>,
    ) -> Result<(Message, SocketAddr), UpstreamError> {
        if self.servers.is_empty() {
            return Err(UpstreamError::NoUpstreams);
        }
        let mut order: Vec<&Server> = self.servers.iter().collect();
        order.sort_by_key(|s| (Some(s.addr) == avoid, s.failures.load(Ordering::Relaxed).min(8)));
        let deadline = Instant::now() + self.total_timeout;
        let mut tried = 0;
        for server in order {
            if Instant::now() >= deadline {
                break;
            }
            tried += 1;
            let try_deadline = (Instant::now() + self.try_timeout).min(deadline);
            let started = Instant::now();
            match self.exchange(server.addr, question, try_deadline).await {
                Some(m) => {
                    metrics::histogram!("lookaside_upstream_latency_seconds")
                        .record(started.elapsed().as_secs_f64());
                    server.failures.store(0, Ordering::Relaxed);
                    return Ok((m, server.addr));
                }
                None => {
                    metrics::counter!("lookaside_upstream_failures_total", "upstream" => server.addr.to_string())
                        .increment(1);
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    server.failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(UpstreamError::Unreachable {
            question: format!("{} {}", question.name, lookaside_dnssec::rtype::type_name(question.qtype)),
            tried,
        })
    }

    async fn exchange(&self, addr: SocketAddr, question: &Question, deadline: Instant) -> Option<Message> {
        let id = random_u16();
        let query = build_query(id, question);
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        let reply = self.udp(addr, &query, id, question, deadline).await?;
        if !reply.has_flag(flags::TC) {
            return Some(reply);
        }
        self.stats.tcp_retries.fetch_add(1, Ordering::Relaxed);
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        // The TCP retry may use the remaining total budget, not only this try's.
        tcp_exchange(addr, &query, id, question, deadline + self.try_timeout).await
    }

    async fn udp(
        &self,
        addr: SocketAddr,
        query: &[u8],
        id: u16,
        q: &Question,
        deadline: Instant,
    ) -> Option<Message> {
        let socket = bind_random_port(addr).await?;
        socket.connect(addr).await.ok()?;
        socket.send(query).await.ok()?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = timeout_at(deadline, socket.recv(&mut buf)).await.ok()?.ok()?;
            match Message::parse(&buf[..n]) {
                Ok(m) if reply_matches(&m, id, q) => return Some(m),
                _ => {
                    self.stats.dropped_replies.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// A fresh random 16-bit value from the operating system's CSPRNG.
pub fn random_u16() -> u16 {
    let mut b = [0u8; 2];
    // getrandom only fails when the OS has no entropy source at all; a fixed ID then still works
    // (the port and question checks remain), so do not fail the query.
    let _ = getrandom::fill(&mut b);
    u16::from_be_bytes(b)
}

/// Binds a UDP socket on a random port in 1024–65535 (RFC 5452 §9.2), falling back to the kernel.
async fn bind_random_port(peer: SocketAddr) -> Option<UdpSocket> {
    let any: SocketAddr = if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    for _ in 0..8 {
        let port = 1024 + random_u16() % (65535 - 1024);
        let mut a = any;
        a.set_port(port);
        if let Ok(s) = UdpSocket::bind(a).await {
            return Some(s);
        }
    }
    UdpSocket::bind(any).await.ok()
}

/// The query we send: RD and CD set, EDNS with our buffer size and DO.
pub fn build_query(id: u16, q: &Question) -> Vec<u8> {
    let mut w = Writer::new(id, flags::RD | flags::CD);
    w.question(q);
    w.edns(&Edns { udp_size: EDNS_BUFFER, dnssec_ok: true, ..Default::default() });
    w.finish()
}

/// True when `m` answers our query: a response with our ID and the same question, the name
/// compared without regard to case.
pub fn reply_matches(m: &Message, id: u16, q: &Question) -> bool {
    m.has_flag(flags::QR)
        && m.id == id
        && m.opcode() == 0
        && m.questions.len() == 1
        && m.questions[0].name == q.name
        && m.questions[0].qtype == q.qtype
        && m.questions[0].qclass == q.qclass
}

async fn tcp_exchange(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Option<Message> {
    let mut stream = timeout_at(deadline, TcpStream::connect(addr)).await.ok()?.ok()?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    timeout_at(deadline, stream.write_all(&framed)).await.ok()?.ok()?;
    let mut len = [0u8; 2];
    timeout_at(deadline, stream.read_exact(&mut len)).await.ok()?.ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    timeout_at(deadline, stream.read_exact(&mut buf)).await.ok()?.ok()?;
    Message::parse(&buf).ok().filter(|m| reply_matches(m, id, q))
}
