//! UDP and TCP listeners on tokio.
//!
//! Written on tokio directly rather than hickory-server: answers are assembled as wire bytes from
//! the cached upstream records (no re-encoding through hickory's `Record`s, which cannot carry
//! raw RDATA), queries on one TCP connection are answered concurrently and out of order
//! (RFC 7766 §6.2.1.1; hickory-server handles them one after another), and both transports share
//! one in-flight cap (hickory-server spawns one task per datagram without limit).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use lookaside_dnssec::outcome::ede;
use lookaside_dnssec::rtype::{self, rcode};
use lookaside_stub::respond::{self, ClientQuery, Rejection, error_response};
use lookaside_stub::{Resolver, counters};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{debug, warn};

use crate::access::AccessList;
use crate::tcp_table::{MAX_TCP_PER_CLIENT, Registration, TcpTable};
#[cfg(target_os = "linux")]
use crate::udp_batch;

/// Concurrent queries on one TCP connection (PowerDNS 10, resolved 32).
pub const MAX_QUERIES_PER_TCP_CONNECTION: usize = 16;

/// Listener limits.
#[derive(Clone, Debug)]
pub struct ListenerLimits {
    /// Client queries in flight over all transports.
    pub max_inflight: usize,
    /// Concurrent TCP connections.
    pub tcp_connections: usize,
    /// Idle time before a TCP connection is closed.
    pub tcp_idle: Duration,
    /// Answer to `version.bind` (CHAOS TXT); `None` refuses.
    pub version: Option<String>,
    /// Answer to `id.server` (CHAOS TXT); `None` refuses.
    pub identity: Option<String>,
    /// Clients allowed to query; the others get REFUSED.
    pub allow: AccessList,
    /// Clients outside `allow` get nothing at all (UDP unanswered, TCP closed).
    pub refuse_drop: bool,
}

/// What becomes of a datagram.
enum UdpAction {
    /// Send this reply.
    Reply(Vec<u8>),
    /// Send nothing (a response, a runt, a client refused silently).
    Nothing,
    /// A cache miss, with its place under the in-flight cap.
    Miss(ClientQuery, OwnedSemaphorePermit),
}

/// Where a task sends the reply to a cache miss.
enum UdpOut {
    /// A socket served by tasks.
    Task(Arc<UdpSocket>),
    /// A blocking socket served by receive threads: sent without blocking.
    #[cfg(target_os = "linux")]
    Thread(Arc<std::net::UdpSocket>),
}

/// Shared state of all listeners.
pub struct Listener {
    resolver: Arc<ArcSwap<Resolver>>,
    inflight: Arc<Semaphore>,
    tcp_slots: Arc<Semaphore>,
    tcp_table: Arc<TcpTable>,
    limits: ListenerLimits,
    /// Set by [`Listener::stop`]: the receive threads take no more queries.
    stopping: AtomicBool,
}

/// Binds every address for UDP and TCP; fails if any is taken (two daemons must never share a
/// port silently).
pub async fn bind(addrs: &[SocketAddr]) -> std::io::Result<Sockets> {
    let mut out = Sockets::default();
    for a in addrs {
        let udp = bind_udp(a).map_err(|e| bind_error(e, "UDP", a))?;
        let tcp = bind_tcp(a).map_err(|e| bind_error(e, "TCP", a))?;
        out.udp.push(udp);
        out.tcp.push(tcp);
    }
    Ok(out)
}

/// A socket for `a`; an IPv6 one is IPv6-only (as Unbound's), so that `[::]:53` does not also
/// claim `0.0.0.0:53`, which Linux would otherwise refuse to bind twice.
fn socket_for(a: &SocketAddr, kind: socket2::Type) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(socket2::Domain::for_address(*a), kind, None)?;
    if a.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

fn bind_udp(a: &SocketAddr) -> std::io::Result<UdpSocket> {
    let s = socket_for(a, socket2::Type::DGRAM)?;
    s.bind(&(*a).into())?;
    UdpSocket::from_std(s.into())
}

fn bind_tcp(a: &SocketAddr) -> std::io::Result<TcpListener> {
    let s = socket_for(a, socket2::Type::STREAM)?;
    // As std's TcpListener::bind: a restart must not wait for TIME_WAIT connections to end.
    s.set_reuse_address(true)?;
    s.bind(&(*a).into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Says what to do when the address is taken: usually another resolver (a distribution's
/// dnsmasq, Unbound or systemd-resolved) already listens there.
fn bind_error(e: std::io::Error, proto: &str, a: &SocketAddr) -> std::io::Error {
    let text = if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "{proto} {a} is already in use, most likely by another DNS server (dnsmasq, unbound, \
             systemd-resolved; `ss -lpn sport = :{}` names it): stop and disable it, or set `listen` \
             in the configuration to another address",
            a.port()
        )
    } else {
        format!("{proto} {a}: {e}")
    };
    std::io::Error::new(e.kind(), text)
}

/// The sockets to serve.
#[derive(Default)]
pub struct Sockets {
    /// UDP sockets.
    pub udp: Vec<UdpSocket>,
    /// TCP listeners.
    pub tcp: Vec<TcpListener>,
}

/// Sockets passed by systemd socket activation (LISTEN_FDS, sd_listen_fds(3)); empty when not
/// socket-activated.
pub fn inherited() -> std::io::Result<Sockets> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut out = Sockets::default();
    for i in 0..fds.len() {
        if let Ok(Some(s)) = fds.take_udp_socket(i) {
            s.set_nonblocking(true)?;
            out.udp.push(UdpSocket::from_std(s)?);
        } else if let Ok(Some(l)) = fds.take_tcp_listener(i) {
            l.set_nonblocking(true)?;
            out.tcp.push(TcpListener::from_std(l)?);
        }
    }
    Ok(out)
}

impl Listener {
    /// Listener state over a resolver.
    pub fn new(resolver: Arc<ArcSwap<Resolver>>, limits: ListenerLimits) -> Arc<Self> {
        Arc::new(Self {
            resolver,
            inflight: Arc::new(Semaphore::new(limits.max_inflight)),
            tcp_slots: Arc::new(Semaphore::new(limits.tcp_connections)),
            tcp_table: TcpTable::new(limits.tcp_connections),
            limits,
            stopping: AtomicBool::new(false),
        })
    }

    /// Stops taking queries on the receive threads (the tasks stop when `run` is dropped).
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Waits until every query in flight has been answered, at most `timeout`; for a clean stop.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let all = self.limits.max_inflight as u32;
        tokio::time::timeout(timeout, self.inflight.acquire_many(all)).await.is_ok()
    }

    /// Serves the bound sockets until the process ends.
    pub async fn run(self: Arc<Self>, sockets: Sockets) {
        let mut tasks = tokio::task::JoinSet::new();
        // One receive loop per core and socket: cache hits are answered inside the loop, so the
        // loops are what spreads the work over the cores. On Linux each is a thread of its own
        // with batched system calls, which also validates its misses; the runtime's threads
        // serve TCP and the background work.
        let loops = std::thread::available_parallelism().map_or(2, |n| n.get());
        for udp in sockets.udp {
            #[cfg(target_os = "linux")]
            let udp = match self.start_udp_threads(udp, loops) {
                Ok(()) => continue,
                Err(udp) => udp,
            };
            let udp = Arc::new(udp);
            for _ in 0..loops {
                tasks.spawn(self.clone().serve_udp(udp.clone()));
            }
        }
        for tcp in sockets.tcp {
            tasks.spawn(self.clone().serve_tcp(tcp));
        }
        while tasks.join_next().await.is_some() {}
        // Receive threads serve on until `stop`; so does this, for whoever awaits it.
        std::future::pending::<()>().await;
    }

    /// What to do with one datagram: each is parsed once, and rejections, CHAOS and cache hits
    /// are answered at once, without a task (the common case on a busy host).
    fn udp_datagram(&self, data: &[u8], peer: SocketAddr) -> UdpAction {
        let query = match respond::parse_query(data) {
            Ok(q) => q,
            Err(rejection) => return rejected(rejection).map_or(UdpAction::Nothing, UdpAction::Reply),
        };
        if !self.limits.allow.allows(peer.ip()) {
            return if self.limits.refuse_drop {
                UdpAction::Nothing
            } else {
                UdpAction::Reply(refused(&query))
            };
        }
        if let Some(reply) = self.immediate_reply(&query, true) {
            return UdpAction::Reply(reply);
        }
        match self.inflight.clone().try_acquire_owned() {
            Ok(permit) => UdpAction::Miss(query, permit),
            // Over the cap: answer at once rather than stay silent.
            Err(_) => UdpAction::Reply(overloaded(&query)),
        }
    }

    /// Answers a cache miss from a task of its own, sending the reply through `out`.
    fn spawn_miss(
        self: &Arc<Self>,
        query: ClientQuery,
        permit: OwnedSemaphorePermit,
        out: UdpOut,
        peer: SocketAddr,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
            let reply = this.reply_after_miss(&query, true).await;
            match out {
                UdpOut::Task(socket) => {
                    let _ = socket.send_to(&reply, peer).await;
                }
                #[cfg(target_os = "linux")]
                UdpOut::Thread(socket) => {
                    udp_batch::send_now(std::os::fd::AsRawFd::as_raw_fd(&*socket), &reply, peer);
                }
            }
            drop(permit);
        });
    }

    /// Starts `loops` receive threads on `udp`; gives it back, to be served by tasks, when it
    /// cannot be made the blocking socket they need.
    #[cfg(target_os = "linux")]
    fn start_udp_threads(self: &Arc<Self>, udp: UdpSocket, loops: usize) -> Result<(), UdpSocket> {
        let std_socket = udp.into_std().map_err(|e| {
            warn!("UDP socket: {e}");
        });
        let Ok(socket) = std_socket else {
            // into_std only fails when the runtime is gone, and then nothing serves anyway.
            return Ok(());
        };
        if let Err(e) = udp_batch::prepare(&socket) {
            warn!("UDP socket: {e}; receiving in tasks");
            let back = socket.set_nonblocking(true).and_then(|()| UdpSocket::from_std(socket));
            return back.map_or(Ok(()), Err);
        }
        let socket = Arc::new(socket);
        for i in 0..loops {
            let (this, socket) = (self.clone(), socket.clone());
            if let Err(e) = std::thread::Builder::new()
                .name(format!("udp-{i}"))
                .spawn(move || this.serve_udp_thread(socket))
            {
                warn!("cannot start a UDP receive thread: {e}");
            }
        }
        Ok(())
    }

    /// A receive loop on a thread of its own, with a small runtime of its own: datagrams come in
    /// batches ([`crate::udp_batch`]), cache hits are answered in batches, and misses are
    /// validated here, as tasks of this thread's runtime. Handing misses to the shared runtime
    /// woke one of its workers per batch from a foreign thread and cost 10-15 % of the
    /// validated-miss rate (README "Performance").
    ///
    /// While none of this thread's tasks is alive the thread blocks in the kernel for the next
    /// batch (one system call per batch: the cache-hit path); while some are, it takes what is
    /// waiting without blocking and otherwise waits for the socket as a task, so that they move
    /// on. On stop it takes no more datagrams but lets its misses finish.
    #[cfg(target_os = "linux")]
    fn serve_udp_thread(self: Arc<Self>, socket: Arc<std::net::UdpSocket>) {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                warn!("cannot start a UDP receive thread's runtime: {e}");
                return;
            }
        };
        runtime.block_on(async move {
            use std::os::fd::AsRawFd;
            struct Fd(Arc<std::net::UdpSocket>);
            impl AsRawFd for Fd {
                fn as_raw_fd(&self) -> std::os::fd::RawFd {
                    self.0.as_raw_fd()
                }
            }
            let fd = socket.as_raw_fd();
            // SAFETY: `Fd` holds the socket (an `Arc` of it), so the descriptor stays open and
            // the same for as long as the registration lives.
            let registered = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    Fd(socket.clone()),
                    tokio::io::Interest::READABLE,
                )
            };
            let ready = match registered {
                Ok(r) => r,
                Err(e) => {
                    warn!("UDP socket: {e}");
                    return;
                }
            };
            let mut rx = udp_batch::RecvBatch::new();
            let mut tx = udp_batch::SendBatch::default();
            let metrics = tokio::runtime::Handle::current().metrics();
            while !self.stopping.load(Ordering::Relaxed) {
                let n = if metrics.num_alive_tasks() == 0 {
                    // Nothing of this thread's waits on it: block in the kernel until datagrams
                    // come (one system call per batch, as a plain receive thread).
                    match rx.recv(fd) {
                        Ok(n) => n,
                        Err(e) => {
                            debug!("UDP receive: {e}");
                            std::thread::sleep(Duration::from_millis(10));
                            continue;
                        }
                    }
                } else {
                    // Misses of this thread are under way: take what is waiting without
                    // blocking, else wait for the socket as a task, so that they move on.
                    match rx.recv_now(fd) {
                        Ok(0) => {
                            let readable = tokio::time::timeout(udp_batch::IDLE_WAKE, ready.readable()).await;
                            if let Ok(Ok(mut guard)) = readable {
                                guard.clear_ready();
                            }
                            continue;
                        }
                        Ok(n) => n,
                        Err(e) => {
                            debug!("UDP receive: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    }
                };
                for i in 0..n {
                    let Some((data, peer)) = rx.get(i) else { continue };
                    match self.udp_datagram(data, peer) {
                        UdpAction::Reply(reply) => tx.push(reply, peer),
                        UdpAction::Nothing => {}
                        UdpAction::Miss(query, permit) => {
                            self.spawn_miss(query, permit, UdpOut::Thread(socket.clone()), peer)
                        }
                    }
                }
                tx.flush(fd);
                if metrics.num_alive_tasks() > 0 {
                    // Let this thread's misses move on between batches.
                    tokio::task::yield_now().await;
                }
            }
            // Stopping: no more datagrams, but this thread's misses run to their answers (the
            // daemon's drain waits for them); the process ends this thread.
            while metrics.num_alive_tasks() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
    }

    /// A receive loop as a task, one datagram per system call: where batching is not built.
    async fn serve_udp(self: Arc<Self>, socket: Arc<UdpSocket>) {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, peer) = match socket.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    debug!("UDP receive: {e}");
                    continue;
                }
            };
            match self.udp_datagram(&buf[..n], peer) {
                UdpAction::Reply(reply) => {
                    let _ = socket.send_to(&reply, peer).await;
                }
                UdpAction::Nothing => {}
                UdpAction::Miss(query, permit) => {
                    self.spawn_miss(query, permit, UdpOut::Task(socket.clone()), peer)
                }
            }
        }
    }

    async fn serve_tcp(self: Arc<Self>, listener: TcpListener) {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    warn!("TCP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let ip = peer.ip();
            // One address never holds more than its share: its own idlest connection makes room.
            if self.tcp_table.count_for(ip) >= MAX_TCP_PER_CLIENT {
                self.tcp_table.shed_idlest(Some(ip));
            }
            let this = self.clone();
            let allowed = self.limits.allow.allows(ip);
            tokio::spawn(async move {
                let slot = match this.tcp_slots.clone().try_acquire_owned() {
                    Ok(slot) => slot,
                    Err(_) => {
                        // Full: the longest-idle connection closes to admit this one.
                        this.tcp_table.shed_idlest(None);
                        let wait = this.tcp_slots.clone().acquire_owned();
                        match tokio::time::timeout(Duration::from_millis(500), wait).await {
                            Ok(Ok(slot)) => slot,
                            _ => {
                                debug!(%peer, "TCP connection table full, closing");
                                return;
                            }
                        }
                    }
                };
                let registration = this.tcp_table.register(ip);
                this.serve_connection(stream, allowed, &registration).await;
                drop(registration);
                drop(slot);
            });
        }
    }

    /// Serves one client TCP connection; a client outside `allow` gets REFUSED to each query.
    async fn serve_connection(
        self: &Arc<Self>,
        stream: TcpStream,
        allowed: bool,
        registration: &Registration,
    ) {
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(MAX_QUERIES_PER_TCP_CONNECTION);
        let writer_task = tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let mut framed = Vec::with_capacity(reply.len() + 2);
                framed.extend_from_slice(&(reply.len() as u16).to_be_bytes());
                framed.extend_from_slice(&reply);
                if writer.write_all(&framed).await.is_err() {
                    break;
                }
            }
        });
        let per_connection = Arc::new(Semaphore::new(MAX_QUERIES_PER_TCP_CONNECTION));
        loop {
            let mut len = [0u8; 2];
            let idle = self.tcp_table.idle_timeout(self.limits.tcp_idle);
            tokio::select! {
                _ = registration.close.notified() => break, // shed to make room
                read = tokio::time::timeout(idle, reader.read_exact(&mut len)) => match read {
                    Ok(Ok(_)) => {}
                    _ => break, // idle, closed or broken
                },
            }
            registration.touch();
            let size = u16::from_be_bytes(len) as usize;
            if size < 12 {
                // Shorter than a header: nothing to answer, and no reason to keep the slot.
                break;
            }
            let mut packet = vec![0u8; size];
            if tokio::time::timeout(self.limits.tcp_idle, reader.read_exact(&mut packet))
                .await
                .map_or(true, |r| r.is_err())
            {
                break;
            }
            let query = match respond::parse_query(&packet) {
                Ok(q) => q,
                Err(rejection) => {
                    if let Some(reply) = rejected(rejection) {
                        let _ = tx.send(reply).await;
                    }
                    continue;
                }
            };
            if !allowed {
                if self.limits.refuse_drop || tx.send(refused(&query)).await.is_err() {
                    break;
                }
                continue;
            }
            // Cache hits are answered in the connection's own task, as over UDP.
            if let Some(reply) = self.immediate_reply(&query, false) {
                if tx.send(reply).await.is_err() {
                    break;
                }
                continue;
            }
            let Ok(conn_permit) = per_connection.clone().acquire_owned().await else { break };
            let Ok(permit) = self.inflight.clone().try_acquire_owned() else {
                let _ = tx.send(overloaded(&query)).await;
                continue;
            };
            let this = self.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let reply = this.reply_after_miss(&query, false).await;
                let _ = tx.send(reply).await;
                drop(permit);
                drop(conn_permit);
            });
        }
        drop(tx);
        let _ = writer_task.await;
    }

    /// The reply that needs no upstream: CHAOS, a class other than IN, or a cache hit (the one
    /// cache probe of the query).
    fn immediate_reply(&self, query: &ClientQuery, udp: bool) -> Option<Vec<u8>> {
        let reply = if query.question.qclass == rtype::CLASS_CH {
            let l = &self.limits;
            respond::chaos_response(query, l.version.as_deref(), l.identity.as_deref())
        } else if query.question.qclass != rtype::CLASS_IN {
            query.error(rcode::REFUSED, None)
        } else {
            self.resolver.load().cached_reply(query, reply_limit(query, udp))?
        };
        count_reply(&reply, udp);
        Some(reply)
    }

    /// The reply to a query the cache could not answer.
    async fn reply_after_miss(&self, query: &ClientQuery, udp: bool) -> Vec<u8> {
        // A reload swaps the resolver; a query in progress finishes with the one it started with.
        let resolver = self.resolver.load_full();
        let res = resolver.resolve_uncached(&query.question, query.checking_disabled()).await;
        let reply = respond::build_response(query, &res, reply_limit(query, udp));
        count_reply(&reply, udp);
        reply
    }
}

/// The largest answer for this query: the client's UDP size, or a TCP message's 65535.
fn reply_limit(query: &ClientQuery, udp: bool) -> usize {
    if udp { query.udp_limit() } else { 65535 }
}

/// The answer to a packet that is no usable query, or `None` when nothing can be answered.
fn rejected(rejection: Rejection) -> Option<Vec<u8>> {
    match rejection {
        Rejection::Unanswerable => None,
        Rejection::Error { id, flags, rcode, question } => Some(error_response(
            id,
            flags,
            rcode,
            question.as_ref(),
            None,
            None,
            respond::PLAIN_UDP_ANSWER as usize,
        )),
        Rejection::BadVersion(query) => Some(query.error(rcode::BADVERS, None)),
    }
}

/// Counts an answer for the metrics.
fn count_reply(reply: &[u8], udp: bool) {
    counters::get().reply(reply, udp);
}

/// REFUSED for a client outside `allow` (RFC 5358: no open resolvers), counted.
fn refused(query: &ClientQuery) -> Vec<u8> {
    counters::get().refused.increment(1);
    query.error(rcode::REFUSED, Some((ede::PROHIBITED, "not in the allow list".into())))
}

/// SERVFAIL for a query that arrives over the in-flight cap.
fn overloaded(query: &ClientQuery) -> Vec<u8> {
    query.error(rcode::SERVFAIL, Some((ede::OTHER, "too many queries in flight".into())))
}
