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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use lookaside_dnssec::iana::edns_option;
use lookaside_dnssec::wire::{Edns, Message, Question, Writer, flags};
use rustls::pki_types::ServerName;
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

use crate::probe::Fitness;
use crate::rtt::{RTT_BAND, Rtt};
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

/// EDNS buffer size we advertise upstream by default (DNS Flag Day 2020).
pub const EDNS_BUFFER: u16 = 1232;
/// Default time to wait for one upstream before trying the next (peers use 200 ms – 1 s).
pub const DEFAULT_TRY_TIMEOUT: Duration = Duration::from_millis(400);
/// Rounds over the upstreams for one query, within the total budget (Unbound's
/// `outbound-msg-retry` is 5 sends per query): enough for a slow upstream's doubled timeout,
/// few enough that a refusing one is not hammered.
pub const MAX_ROUNDS: usize = 3;
/// Validation failures in a row that look like an upstream's doing (RRSIGs, DNSKEYs or proofs
/// missing) before it is probed again: enough that one broken zone does not do it.
pub const DAMAGE_RUN: u32 = 5;
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
    /// Replies whose question came back in another case than sent (0x20), retried over TCP.
    pub case_mismatches: AtomicU64,
}

struct Server {
    spec: UpstreamSpec,
    addr: SocketAddr,
    /// 0x20 applies: the upstream echoes the question's case (configured exempt, or found not
    /// to, clears it).
    mixed_case: AtomicBool,
    /// Consecutive failures; servers that keep failing are tried later rather than first.
    failures: AtomicU32,
    /// The long-lived TCP or TLS connection.
    stream: StreamChannel,
    /// Round-trip time and the timeout it gives.
    rtt: Rtt,
    /// The last probe's verdict and reason (`None` before the first probe).
    fitness: std::sync::Mutex<Option<(Fitness, String)>>,
    /// Validation failures in a row that look like this upstream's doing.
    damage: AtomicU32,
}

/// Where one query should go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Route {
    /// Tried last (it gave a bogus answer).
    pub avoid: Option<SocketAddr>,
    /// Tried first unless failing (it gave the answer being validated).
    pub prefer: Option<SocketAddr>,
}

impl Server {
    /// A server not yet asked: 0x20 on unless over TLS (no off-path forger can answer there).
    fn new(spec: UpstreamSpec, tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>) -> Self {
        Self {
            addr: spec.addr,
            mixed_case: AtomicBool::new(spec.tls.is_none()),
            failures: AtomicU32::new(0),
            stream: StreamChannel::new(spec.addr, tls),
            rtt: Rtt::new(DEFAULT_TRY_TIMEOUT, DEFAULT_TOTAL_TIMEOUT),
            fitness: std::sync::Mutex::new(None),
            damage: AtomicU32::new(0),
            spec,
        }
    }
}

/// The configured upstream resolvers.
pub struct Upstreams {
    servers: Vec<Server>,
    try_timeout: Duration,
    total_timeout: Duration,
    /// The EDNS UDP payload size our queries advertise.
    edns_buffer: u16,
    /// Traffic counters.
    pub stats: UpstreamStats,
    /// Woken when an upstream should be probed again before its time (a run of failures
    /// that look like its doing).
    pub probe_needed: tokio::sync::Notify,
}

impl Upstreams {
    /// Plain upstreams at these addresses, with the default timeouts.
    pub fn new(addrs: Vec<SocketAddr>) -> Self {
        Self::with_servers(addrs.into_iter().map(|a| Server::new(UpstreamSpec::plain(a), None)).collect())
    }

    fn with_servers(servers: Vec<Server>) -> Self {
        Self {
            servers,
            try_timeout: DEFAULT_TRY_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            edns_buffer: EDNS_BUFFER,
            stats: UpstreamStats::default(),
            probe_needed: tokio::sync::Notify::new(),
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
            servers.push(Server::new(spec, tls));
        }
        Ok(Self::with_servers(servers))
    }

    /// One line per upstream for `ctl status`: its spec, failures, and its connection (open or
    /// not, connections, handshakes, reuses, last error).
    pub fn status_lines(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| {
                let st = &s.stream.stats;
                let mut line = format!(
                    "upstream {} {} probe={} srtt={}ms timeout={}ms connection={} connections={} handshakes={} reuses={}",
                    s.spec,
                    if s.failures.load(Ordering::Relaxed) == 0 { "healthy" } else { "failing" },
                    s.fitness.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or("none", |(f, _)| f.word()),
                    s.rtt.smoothed().as_millis(),
                    s.rtt.timeout().as_millis(),
                    if s.stream.is_connected() { "open" } else { "closed" },
                    st.connections.load(Ordering::Relaxed),
                    st.handshakes.load(Ordering::Relaxed),
                    st.reuses.load(Ordering::Relaxed),
                );
                if let Some((f, why)) = s.fitness.lock().unwrap_or_else(|e| e.into_inner()).as_ref()
                    && *f != Fitness::Fit
                {
                    line.push_str(&format!(" probe-reason=\"{why}\""));
                }
                if let Some(e) = st.last_error.lock().ok().and_then(|e| e.clone()) {
                    line.push_str(&format!(" last-error=\"{e}\""));
                }
                line
            })
            .collect()
    }

    /// The plain (UDP/TCP) upstreams, which `probe` can check; TLS ones are not probed.
    pub fn plain_addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().filter(|s| s.spec.tls.is_none()).map(|s| s.addr).collect()
    }

    /// The DNS over TLS upstreams.
    pub fn tls_addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().filter(|s| s.spec.tls.is_some()).map(|s| s.addr).collect()
    }

    /// Probes every upstream at once (plain ones over UDP and TCP, TLS ones through their own
    /// authenticated connection), waiting at most `wait` for each reply.
    pub async fn probe_all(&self, wait: Duration) -> Vec<crate::probe::Report> {
        let size = self.edns_buffer;
        let runs = self.servers.iter().map(|s| async move {
            match s.spec.tls {
                None => crate::probe::probe(s.addr, wait, size).await,
                Some(_) => crate::probe::probe_stream(&s.stream, s.addr, wait, size).await,
            }
        });
        let mut reports = Vec::new();
        // Concurrently: a dead upstream must not hold up the others' verdicts.
        let mut set: Vec<_> = runs.map(Box::pin).collect();
        let mut done = vec![None; set.len()];
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (i, f) in set.iter_mut().enumerate() {
                if done[i].is_none() {
                    match f.as_mut().poll(cx) {
                        std::task::Poll::Ready(r) => done[i] = Some(r),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
        })
        .await;
        reports.extend(done.into_iter().flatten());
        reports
    }

    /// Records a probe's verdict: unfit and unreachable upstreams are asked only when no usable
    /// one is left (quarantine). A changed case seen by the probe does not switch 0x20 off: a
    /// UDP reply can be forged; the query path checks that over TCP itself.
    pub fn set_fitness(&self, addr: SocketAddr, fitness: Fitness, reason: String) {
        for s in self.servers.iter().filter(|s| s.addr == addr) {
            metrics::gauge!("lookaside_upstream_fit", "upstream" => addr.to_string())
                .set(if fitness.usable() { 1.0 } else { 0.0 });
            *s.fitness.lock().unwrap_or_else(|e| e.into_inner()) = Some((fitness, reason.clone()));
        }
    }

    /// A validation of an answer from `addr` failed (`damage`: in a way that looks like the
    /// upstream's doing) or succeeded. [`DAMAGE_RUN`] damaging failures in a row ask for a
    /// probe now (`probe_needed`).
    pub fn note_validation(&self, addr: SocketAddr, damage: bool) {
        for s in self.servers.iter().filter(|s| s.addr == addr) {
            if !damage {
                s.damage.store(0, Ordering::Relaxed);
            } else if s.damage.fetch_add(1, Ordering::Relaxed) + 1 == DAMAGE_RUN {
                tracing::warn!(upstream = %addr, "{DAMAGE_RUN} answers in a row lacked DNSSEC records: probing it again");
                self.probe_needed.notify_one();
            }
        }
    }

    /// The last probe's verdict on `addr`, if it was probed.
    pub fn fitness(&self, addr: SocketAddr) -> Option<(Fitness, String)> {
        let s = self.servers.iter().find(|s| s.addr == addr)?;
        s.fitness.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Upstreams that do not echo the question's case: no 0x20 for them.
    pub fn without_0x20(self, addrs: &[std::net::IpAddr]) -> Self {
        for s in self.servers.iter().filter(|s| addrs.contains(&s.addr.ip())) {
            s.mixed_case.store(false, Ordering::Relaxed);
        }
        self
    }

    /// Sets the first per-try timeout (for an upstream not yet measured; measured ones get
    /// their own, see [`crate::rtt`]) and the total time a query may take.
    pub fn with_timeouts(mut self, per_try: Duration, total: Duration) -> Self {
        self.try_timeout = per_try;
        self.total_timeout = total;
        for s in &mut self.servers {
            s.rtt = Rtt::new(per_try, total);
        }
        self
    }

    /// The order to try the upstreams in: those whose timeouts are within [`RTT_BAND`] of the
    /// best one in random order (spreading the load, as Unbound does), then the slower ones,
    /// fastest first; servers that keep failing, and `avoid`, last.
    fn order(&self, route: Route) -> Vec<&Server> {
        // Sort key: avoided, quarantined by the probe, failing, not preferred, timeout (zero
        // inside the band), a random tie-break.
        type Key = (bool, bool, u32, bool, Duration, u16);
        let mut order: Vec<(&Server, Key)> = self
            .servers
            .iter()
            .map(|s| {
                let failing = s.failures.load(Ordering::Relaxed).min(8);
                let unpreferred = route.prefer.is_some_and(|p| p != s.addr);
                let quarantined = s
                    .fitness
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_some_and(|(f, _)| !f.usable());
                let key = (
                    Some(s.addr) == route.avoid,
                    quarantined,
                    failing,
                    unpreferred,
                    s.rtt.timeout(),
                    random_u16(),
                );
                (s, key)
            })
            .collect();
        let best = order.iter().filter(|(_, k)| !k.0 && !k.1 && k.2 == 0).map(|(_, k)| k.4).min();
        for (_, key) in &mut order {
            // Inside the band, only the random key orders: the timeouts compare equal.
            if best.is_some_and(|b| key.4 <= b + RTT_BAND) {
                key.4 = Duration::ZERO;
            }
        }
        order.sort_by_key(|(_, k)| *k);
        order.into_iter().map(|(s, _)| s).collect()
    }

    /// Sets the EDNS UDP payload size advertised in queries (`edns-buffer-size`; at least 512,
    /// RFC 6891 §6.2.5).
    pub fn with_edns_buffer_size(mut self, size: u16) -> Self {
        self.edns_buffer = size.max(512);
        self
    }

    /// The EDNS UDP payload size our queries advertise.
    pub fn edns_buffer_size(&self) -> u16 {
        self.edns_buffer
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
        self.query_routed(question, Route { avoid, prefer: None }, tcp).await
    }

    /// As [`Upstreams::query_with`], routed: `prefer` is tried first unless it is failing (the
    /// key lookups of one validation go where its answer came from, so that a broken upstream's
    /// bogus verdict is its own and the retry can leave it out), `avoid` last.
    pub async fn query_routed(
        &self,
        question: &Question,
        route: Route,
        tcp: bool,
    ) -> Result<(Message, SocketAddr), UpstreamError> {
        if self.servers.is_empty() {
            return Err(UpstreamError::NoUpstreams);
        }
        let deadline = Instant::now() + self.total_timeout;
        let mut tried = 0;
        // Rounds over the upstreams until one answers or the total budget is spent: a slow
        // upstream gets a second, longer try (its timeout doubled) with a fresh ID and port.
        'rounds: for _ in 0..MAX_ROUNDS {
            for server in self.order(route) {
                let now = Instant::now();
                if now >= deadline {
                    break 'rounds;
                }
                tried += 1;
                let timeout = server.rtt.timeout();
                let try_deadline = (now + timeout).min(deadline);
                match self.exchange(server, question, try_deadline, tcp).await {
                    Some(m) => {
                        let rtt = now.elapsed();
                        metrics::histogram!("lookaside_upstream_latency_seconds").record(rtt.as_secs_f64());
                        server.rtt.update(rtt);
                        server.failures.store(0, Ordering::Relaxed);
                        return Ok((m, server.addr));
                    }
                    None => {
                        metrics::counter!("lookaside_upstream_failures_total", "upstream" => server.addr.to_string())
                            .increment(1);
                        self.stats.failures.fetch_add(1, Ordering::Relaxed);
                        server.failures.fetch_add(1, Ordering::Relaxed);
                        // Back off only for a real timeout, not for a refusal or a budget cut.
                        if Instant::now() >= now + timeout {
                            server.rtt.lost(timeout);
                        }
                    }
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
        // 0x20 stays inside this module: replies leave it in the spelling of `question`.
        let mut reply = self.exchange_raw(server, question, deadline, tcp).await?;
        restore_case(&mut reply, &question.name);
        Some(reply)
    }

    async fn exchange_raw(
        &self,
        server: &Server,
        question: &Question,
        deadline: Instant,
        tcp: bool,
    ) -> Option<Message> {
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        if tcp && server.spec.tls.is_none() {
            let build = |id| build_query(id, question, self.edns_buffer);
            return server.stream.exchange(question, build, deadline + self.try_timeout).await.ok();
        }
        if server.spec.tls.is_some() {
            // TLS only: never UDP, never cleartext (RFC 8310 strict profile). The first query on
            // a new connection pays the handshake: give it the total budget.
            let build = |id| build_padded_query(id, question, self.edns_buffer);
            return server.stream.exchange(question, build, deadline + self.try_timeout).await.ok();
        }
        let id = random_u16();
        // 0x20 (draft-vixie-dnsext-dns0x20): a random case for every letter of the name, which a
        // forger must guess as well as the ID and port.
        let mixed = server.mixed_case.load(Ordering::Relaxed);
        let sent = if mixed { with_random_case(question) } else { question.clone() };
        let query = build_query(id, &sent, self.edns_buffer);
        let reply = match self.udp(server.addr, &query, id, &sent, mixed, deadline).await? {
            UdpReply::Answer(m) => m,
            UdpReply::CaseMismatch => {
                // A reply with the wrong case is a forgery or an upstream that does not echo the
                // case: ask over TCP, where no off-path forger can answer (PowerDNS does the same).
                self.stats.case_mismatches.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("lookaside_upstream_case_mismatches_total", "upstream" => server.addr.to_string()).increment(1);
                let tcp = server
                    .stream
                    .exchange(
                        &sent,
                        |id| build_query(id, &sent, self.edns_buffer),
                        deadline + self.try_timeout,
                    )
                    .await
                    .ok()?;
                if tcp.questions.first().is_some_and(|q| !q.name.eq_exact(&sent.name)) {
                    server.mixed_case.store(false, Ordering::Relaxed);
                    tracing::warn!(upstream = %server.addr, "the upstream does not echo the question's case: 0x20 off for it");
                }
                return Some(tcp);
            }
        };
        if !reply.has_flag(flags::TC) {
            return Some(reply);
        }
        self.stats.tcp_retries.fetch_add(1, Ordering::Relaxed);
        self.stats.queries.fetch_add(1, Ordering::Relaxed);
        // The TCP retry may use the remaining total budget, not only this try's.
        server
            .stream
            .exchange(question, |id| build_query(id, question, self.edns_buffer), deadline + self.try_timeout)
            .await
            .ok()
    }

    async fn udp(
        &self,
        addr: SocketAddr,
        query: &[u8],
        id: u16,
        q: &Question,
        exact_case: bool,
        deadline: Instant,
    ) -> Option<UdpReply> {
        let socket = bind_random_port(addr).await?;
        socket.connect(addr).await.ok()?;
        socket.send(query).await.ok()?;
        let mut buf = vec![0u8; 65535];
        loop {
            let n = timeout_at(deadline, socket.recv(&mut buf)).await.ok()?.ok()?;
            match judge_udp_reply(&buf[..n], id, q, exact_case) {
                Some(reply) => return Some(reply),
                None => {
                    self.stats.dropped_replies.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// What one datagram from the upstream's address is: our reply, our reply with the question's
/// case changed (when `exact_case`, i.e. 0x20 is on), or `None`: something else, dropped while
/// we go on waiting (RFC 5452 §9.1: ID, question and source must all match).
pub(crate) fn judge_udp_reply(datagram: &[u8], id: u16, q: &Question, exact_case: bool) -> Option<UdpReply> {
    let m = Message::parse(datagram).ok()?;
    if !reply_matches(&m, id, q) {
        return None;
    }
    if exact_case && !m.questions[0].name.eq_exact(&q.name) {
        return Some(UdpReply::CaseMismatch);
    }
    Some(UdpReply::Answer(m))
}

/// What a UDP exchange gave.
pub(crate) enum UdpReply {
    /// A matching reply.
    Answer(Message),
    /// A reply that matches but for the case of the question (0x20).
    CaseMismatch,
}

/// Writes the question, and every owner equal to it, in `original`'s spelling again.
pub(crate) fn restore_case(m: &mut Message, original: &lookaside_dnssec::name::Name) {
    for q in m.questions.iter_mut().filter(|q| q.name == *original) {
        q.name = original.clone();
    }
    for r in m.answer.iter_mut().chain(m.authority.iter_mut()).chain(m.additional.iter_mut()) {
        if r.owner == *original {
            r.owner = original.clone();
        }
    }
}

/// `q` with every letter of its name in a random case (0x20), from the OS CSPRNG.
pub fn with_random_case(q: &Question) -> Question {
    let mut wire = q.name.as_wire().to_vec();
    let mut random = vec![0u8; wire.len()];
    let _ = getrandom::fill(&mut random);
    // Walk the labels so that length octets are never touched.
    let mut i = 0;
    while i < wire.len() {
        let len = wire[i] as usize;
        for j in i + 1..(i + 1 + len).min(wire.len()) {
            if wire[j].is_ascii_alphabetic() {
                wire[j] = if random[j] & 1 == 1 {
                    wire[j].to_ascii_uppercase()
                } else {
                    wire[j].to_ascii_lowercase()
                };
            }
        }
        i += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name = lookaside_dnssec::name::Name::from_wire(wire).unwrap_or_else(|_| q.name.clone());
    Question { name, qtype: q.qtype, qclass: q.qclass }
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
pub fn build_query(id: u16, q: &Question, udp_size: u16) -> Vec<u8> {
    let mut w = Writer::new(id, flags::RD | flags::CD);
    w.question(q);
    w.edns(&Edns { udp_size, dnssec_ok: true, ..Default::default() });
    w.finish()
}

/// The query for a TLS upstream: as [`build_query`], padded with an EDNS Padding option to a
/// multiple of [`PADDING_BLOCK`] octets (RFC 7830, RFC 8467 §4.1), so that its length says
/// little about the name asked.
pub fn build_padded_query(id: u16, q: &Question, udp_size: u16) -> Vec<u8> {
    // The option's own 4 octets count too.
    let unpadded = build_query(id, q, udp_size).len() + 4;
    let fill = (PADDING_BLOCK - unpadded % PADDING_BLOCK) % PADDING_BLOCK;
    let mut w = Writer::new(id, flags::RD | flags::CD);
    w.question(q);
    let options = vec![(edns_option::PADDING, vec![0u8; fill])];
    w.edns(&Edns { udp_size, dnssec_ok: true, options, ..Default::default() });
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
            let wire = build_padded_query(7, &q, EDNS_BUFFER);
            assert_eq!(wire.len() % PADDING_BLOCK, 0, "{name}: {} octets", wire.len());
            let m = Message::parse(&wire).unwrap();
            assert!(m.edns.unwrap().options.iter().any(|(c, _)| *c == edns_option::PADDING));
        }
    }

    #[test]
    fn random_case_keeps_the_name_and_changes_only_letters() {
        let q = Question { name: Name::parse("xmpp-1.yax.im.").unwrap(), qtype: 1, qclass: 1 };
        let mut seen_upper = false;
        for _ in 0..32 {
            let r = with_random_case(&q);
            assert_eq!(r.name, q.name, "same name, case aside");
            assert_eq!(r.name.as_wire().len(), q.name.as_wire().len());
            seen_upper |= r.name.to_string() != q.name.to_string();
        }
        assert!(seen_upper, "the case changes");
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
