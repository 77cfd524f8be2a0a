//! Queries to the upstream recursive resolvers: over UDP with TCP for truncated answers, or over
//! TLS only (RFC 7858) for upstreams configured so ([`crate::tls`]); TCP and TLS go through the
//! long-lived connections of [`crate::stream`].
//!
//! RFC 5452: every query gets a random ID and a random source port chosen here (not the kernel's
//! smaller ephemeral range); the UDP socket is connected, so only datagrams from the address
//! queried reach us, and a reply is accepted only with the same ID and question (name compared
//! case-insensitively, since servers may answer YAX.IM to yax.im). Anything else is dropped and
//! counted. A truncated reply is asked again over TCP.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use lookaside_dnssec::iana::edns_option;
use lookaside_dnssec::wire::{Edns, Message, Question, Writer, flags};
use rustls::pki_types::ServerName;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use crate::stream::StreamChannel;
use crate::tls::{self, TlsAuth};

/// Port of DNS over TLS (RFC 7858 §3.1).
pub const DOT_PORT: u16 = 853;
/// Block size queries to TLS upstreams are padded to (RFC 8467 §4.1, the recommended strategy).
pub const PADDING_BLOCK: usize = 128;

/// One configured upstream: its address and, for DNS over TLS, how it is authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Address and port.
    pub addr: SocketAddr,
    /// `Some` for an upstream reached over TLS only.
    pub tls: Option<TlsAuth>,
}

impl UpstreamSpec {
    /// A plain (UDP, TCP for large answers) upstream.
    pub fn plain(addr: SocketAddr) -> Self {
        Self { addr, tls: None }
    }
}

impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tls {
            None => write!(f, "{}", self.addr),
            Some(auth) => {
                write!(f, "tls://{}", self.addr)?;
                if let Some(name) = &auth.auth_name {
                    write!(f, "#{name}")?;
                }
                if !auth.spki_pins.is_empty() {
                    write!(f, " ({} pin(s))", auth.spki_pins.len())?;
                }
                Ok(())
            }
        }
    }
}

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
    /// A TLS upstream's configuration cannot be used (CA file, pins, name).
    #[error("{upstream}: {reason}")]
    Tls {
        /// The upstream.
        upstream: String,
        /// What is wrong.
        reason: String,
    },
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
    spec: UpstreamSpec,
    addr: SocketAddr,
    /// Consecutive failures; servers that keep failing are tried later rather than first.
    failures: AtomicU32,
    /// The long-lived TCP or TLS connection.
    stream: StreamChannel,
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
    /// Plain upstreams at these addresses, with the default timeouts.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        let servers = addrs
            .into_iter()
            .map(|addr| Server {
                spec: UpstreamSpec::plain(addr),
                addr,
                failures: AtomicU32::new(0),
                stream: StreamChannel::new(addr, None),
            })
            .collect();
        Self {
            servers,
            try_timeout: DEFAULT_TRY_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            stats: UpstreamStats::default(),
        }
    }

    /// Upstreams as configured, plain and TLS; `ca_file` holds the CAs for TLS upstreams
    /// authenticated by name (default: the system's store).
    pub fn from_specs(specs: Vec<UpstreamSpec>, ca_file: Option<&Path>) -> Result<Self, UpstreamError> {
        let mut roots = None;
        let mut servers = Vec::with_capacity(specs.len());
        for spec in specs {
            let tls = match &spec.tls {
                None => None,
                Some(auth) => {
                    let err = |reason: String| UpstreamError::Tls { upstream: spec.to_string(), reason };
                    if auth.auth_name.is_none() && auth.spki_pins.is_empty() {
                        return Err(err("a TLS upstream needs an authentication name, SPKI pins, or both (RFC 8310 strict profile)".into()));
                    }
                    if roots.is_none() && auth.auth_name.is_some() {
                        roots = Some(tls::load_roots(ca_file).map_err(err)?);
                    }
                    let store = roots.clone().unwrap_or_else(|| Arc::new(rustls::RootCertStore::empty()));
                    let config = tls::client_config(auth, &store).map_err(err)?;
                    let name = match &auth.auth_name {
                        Some(n) => ServerName::try_from(n.clone()).map_err(|e| err(format!("{n:?}: {e}")))?,
                        None => ServerName::IpAddress(spec.addr.ip().into()),
                    };
                    Some((config, name))
                }
            };
            servers.push(Server {
                addr: spec.addr,
                failures: AtomicU32::new(0),
                stream: StreamChannel::new(spec.addr, tls),
                spec,
            });
        }
        Ok(Self {
            servers,
            try_timeout: DEFAULT_TRY_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            stats: UpstreamStats::default(),
        })
    }

    /// One line per upstream for `ctl status`: its spec, failures, and its connection (open or
    /// not, connections, handshakes, reuses, last error).
    pub fn status_lines(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| {
                let st = &s.stream.stats;
                let mut line = format!(
                    "upstream {} {} connection={} connections={} handshakes={} reuses={}",
                    s.spec,
                    if s.failures.load(Ordering::Relaxed) == 0 { "healthy" } else { "failing" },
                    if s.stream.is_connected() { "open" } else { "closed" },
                    st.connections.load(Ordering::Relaxed),
                    st.handshakes.load(Ordering::Relaxed),
                    st.reuses.load(Ordering::Relaxed),
                );
                if let Some(e) = st.last_error.lock().ok().and_then(|e| e.clone()) {
                    line.push_str(&format!(" last-error=\"{e}\""));
                }
                line
            })
            .collect()
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
        self.query_with(question, avoid, false).await
    }

    /// As [`Upstreams::query`]; with `tcp`, over the stream connections only (no UDP).
    pub async fn query_with(
        &self,
        question: &Question,
        avoid: Option<SocketAddr>,
        tcp: bool,
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
            match self.exchange(server, question, try_deadline, tcp).await {
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

    async fn exchange(
        &self,
        server: &Server,
        question: &Question,
        deadline: Instant,
        tcp: bool,
    ) -> Option<Message> {
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        if tcp && server.spec.tls.is_none() {
            let build = |id| build_query(id, question);
            return server.stream.exchange(question, build, deadline + self.try_timeout).await.ok();
        }
        if server.spec.tls.is_some() {
            // TLS only: never UDP, never cleartext (RFC 8310 strict profile). The first query on
            // a new connection pays the handshake: give it the total budget.
            let build = |id| build_padded_query(id, question);
            return server.stream.exchange(question, build, deadline + self.try_timeout).await.ok();
        }
        let id = random_u16();
        let query = build_query(id, question);
        let reply = self.udp(server.addr, &query, id, question, deadline).await?;
        if !reply.has_flag(flags::TC) {
            return Some(reply);
        }
        self.stats.tcp_retries.fetch_add(1, Ordering::Relaxed);
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        // The TCP retry may use the remaining total budget, not only this try's.
        server
            .stream
            .exchange(question, |id| build_query(id, question), deadline + self.try_timeout)
            .await
            .ok()
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

/// The query for a TLS upstream: as [`build_query`], padded with an EDNS Padding option to a
/// multiple of [`PADDING_BLOCK`] octets (RFC 7830, RFC 8467 §4.1), so that its length says
/// little about the name asked.
pub fn build_padded_query(id: u16, q: &Question) -> Vec<u8> {
    // The option's own 4 octets count too.
    let unpadded = build_query(id, q).len() + 4;
    let fill = (PADDING_BLOCK - unpadded % PADDING_BLOCK) % PADDING_BLOCK;
    let mut w = Writer::new(id, flags::RD | flags::CD);
    w.question(q);
    let options = vec![(edns_option::PADDING, vec![0u8; fill])];
    w.edns(&Edns { udp_size: EDNS_BUFFER, dnssec_ok: true, options, ..Default::default() });
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

#[cfg(test)]
mod tests {
    use super::*;
    use lookaside_dnssec::name::Name;

    #[test]
    fn rfc8467_queries_to_tls_upstreams_are_padded_to_128_octets() {
        for name in ["a.", "www.secure.example.", "_xmpp-server._tcp.a-rather-long-name-for-padding.example."]
        {
            let q = Question { name: Name::parse(name).unwrap(), qtype: 1, qclass: 1 };
            let wire = build_padded_query(7, &q);
            assert_eq!(wire.len() % PADDING_BLOCK, 0, "{name}: {} octets", wire.len());
            let m = Message::parse(&wire).unwrap();
            assert!(m.edns.unwrap().options.iter().any(|(c, _)| *c == edns_option::PADDING));
        }
    }

    #[test]
    fn tls_specs_print_as_they_are_written() {
        let spec = UpstreamSpec {
            addr: "192.0.2.1:853".parse().unwrap(),
            tls: Some(TlsAuth { auth_name: Some("dns.example".into()), spki_pins: Vec::new() }),
        };
        assert_eq!(spec.to_string(), "tls://192.0.2.1:853#dns.example");
    }
}
