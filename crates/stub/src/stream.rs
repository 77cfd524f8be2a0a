//! Long-lived stream connections to the upstreams (RFC 7766 §6.2, RFC 7858 §3.4): one connection
//! per upstream, many queries in flight on it, replies matched by ID and question in whatever
//! order they come, closed after [`UPSTREAM_IDLE_TIMEOUT`] without queries, reopened on demand
//! with a backoff after failures. TLS upstreams use nothing else; plain upstreams use it for
//! TCP (truncated answers, large DNSKEY sets), so those stop paying a handshake each.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lookaside_dnssec::wire::{Message, Question};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout, timeout_at};
use tracing::warn;

use crate::upstream::{random_u16, reply_matches};

/// How long an upstream connection stays open without queries (Unbound's tcp-idle-timeout is
/// 30 s; RFC 7858 §3.4 asks clients to reuse connections but not to hold them forever).
pub const UPSTREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait before reconnecting to an upstream whose connections keep failing.
pub const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(60);

/// Counters and state of one upstream's connection, for `ctl status` and the metrics.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Connections opened (TCP connects, with a TLS handshake for TLS upstreams).
    pub connections: AtomicU64,
    /// TLS handshakes completed.
    pub handshakes: AtomicU64,
    /// Queries sent on an already open connection.
    pub reuses: AtomicU64,
    /// Connections that could not be opened or authenticated.
    pub failures: AtomicU64,
    /// Why the last connection attempt failed, if it did.
    pub last_error: Mutex<Option<String>>,
}

/// The stream channel to one upstream.
pub struct StreamChannel {
    addr: SocketAddr,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
    backoff: Mutex<(u32, Option<Instant>)>,
    /// Counters.
    pub stats: StreamStats,
}

/// One open connection.
pub(crate) struct Live {
    writer: tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
    pending: Mutex<HashMap<u16, (Question, oneshot::Sender<Message>)>>,
    closed: AtomicBool,
}

/// Why an exchange on a connection did not give a reply.
pub(crate) enum AskError {
    /// The connection closed (the server closed an idle connection, or broke).
    Closed,
    /// No reply before the deadline.
    Timeout,
}

impl StreamChannel {
    /// A channel to `addr`, over TLS when `tls` gives a configuration and the name to present.
    pub fn new(addr: SocketAddr, tls: Option<(Arc<ClientConfig>, ServerName<'static>)>) -> Self {
        Self {
            addr,
            tls,
            live: tokio::sync::Mutex::new(None),
            backoff: Mutex::new((0, None)),
            stats: StreamStats::default(),
        }
    }

    /// True when a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.live
            .try_lock()
            .map(|l| l.as_ref().is_some_and(|l| !l.closed.load(Ordering::Relaxed)))
            .unwrap_or(true)
    }

    /// Sends the query `build(id)` for `question` and waits for its reply until `deadline`.
    /// `Err` carries the reason, e.g. the TLS authentication failure.
    pub async fn exchange(
        &self,
        question: &Question,
        build: impl Fn(u16) -> Vec<u8>,
        deadline: Instant,
    ) -> Result<Message, String> {
        // A server may close an idle connection just as we send: one more try on a fresh one.
        for _ in 0..2 {
            let live = self.connection(deadline).await?;
            match live.ask(question, &build, deadline).await {
                Ok(m) => return Ok(m),
                Err(AskError::Closed) => continue,
                Err(AskError::Timeout) => return Err("no reply in time".into()),
            }
        }
        Err("connection closed".into())
    }

    /// The open connection, or a new one.
    async fn connection(&self, deadline: Instant) -> Result<Arc<Live>, String> {
        let mut slot = self.live.lock().await;
        if let Some(live) = slot.as_ref()
            && !live.closed.load(Ordering::Relaxed)
        {
            self.stats.reuses.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("lookaside_upstream_connection_reuses_total", "upstream" => self.addr.to_string())
                .increment(1);
            return Ok(live.clone());
        }
        if let (_, Some(until)) = *self.lock_backoff()
            && Instant::now() < until
        {
            let reason = self.stats.last_error.lock().ok().and_then(|e| e.clone()).unwrap_or_default();
            return Err(format!(
                "{reason} (next attempt in {} s)",
                until.duration_since(Instant::now()).as_secs() + 1
            ));
        }
        match self.connect(deadline).await {
            Ok(live) => {
                *self.lock_backoff() = (0, None);
                if let Ok(mut e) = self.stats.last_error.lock() {
                    *e = None;
                }
                *slot = Some(live.clone());
                Ok(live)
            }
            Err(reason) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let kind = if self.tls.is_some() { "tls" } else { "tcp" };
                metrics::counter!("lookaside_upstream_connection_failures_total", "upstream" => self.addr.to_string(), "reason" => short_reason(&reason))
                    .increment(1);
                let mut backoff = self.lock_backoff();
                let failures = backoff.0.saturating_add(1);
                let wait = Duration::from_secs(1u64 << failures.min(6)).min(MAX_RECONNECT_BACKOFF);
                *backoff = (failures, Some(Instant::now() + wait));
                drop(backoff);
                warn!(upstream = %self.addr, "{kind} upstream not used: {reason}");
                if let Ok(mut e) = self.stats.last_error.lock() {
                    *e = Some(reason.clone());
                }
                Err(reason)
            }
        }
    }

    fn lock_backoff(&self) -> std::sync::MutexGuard<'_, (u32, Option<Instant>)> {
        self.backoff.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connect(&self, deadline: Instant) -> Result<Arc<Live>, String> {
        let tcp = timeout_at(deadline, TcpStream::connect(self.addr))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        self.stats.connections.fetch_add(1, Ordering::Relaxed);
        let Some((config, name)) = &self.tls else { return Ok(start(tcp)) };
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let tls = timeout_at(deadline, connector.connect(name.clone(), tcp))
            .await
            .map_err(|_| "TLS handshake timed out".to_string())?
            .map_err(|e| crate::tls::failure_reason(&e))?;
        self.stats.handshakes.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("lookaside_tls_handshakes_total", "upstream" => self.addr.to_string()).increment(1);
        Ok(start(tls))
    }
}

/// A metric label for a failure: its first words.
fn short_reason(reason: &str) -> String {
    reason.split(" (").next().unwrap_or(reason).chars().take(40).collect()
}

/// Splits a connected stream and starts its reply reader.
pub(crate) fn start<S: AsyncRead + AsyncWrite + Send + 'static>(stream: S) -> Arc<Live> {
    let (reader, writer) = tokio::io::split(stream);
    let live = Arc::new(Live {
        writer: tokio::sync::Mutex::new(Box::new(writer)),
        pending: Mutex::new(HashMap::new()),
        closed: AtomicBool::new(false),
    });
    tokio::spawn(read_replies(reader, live.clone()));
    live
}

impl Live {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u16, (Question, oneshot::Sender<Message>)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) async fn ask(
        &self,
        question: &Question,
        build: &impl Fn(u16) -> Vec<u8>,
        deadline: Instant,
    ) -> Result<Message, AskError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut pending = self.lock_pending();
            // 65,536 IDs and a bounded number in flight: a free one is found at once.
            let id = std::iter::repeat_with(random_u16).find(|id| !pending.contains_key(id)).unwrap_or(0);
            pending.insert(id, (question.clone(), tx));
            id
        };
        if self.closed.load(Ordering::Relaxed) {
            self.lock_pending().remove(&id);
            return Err(AskError::Closed);
        }
        let query = build(id);
        let mut frame = Vec::with_capacity(query.len() + 2);
        frame.extend_from_slice(&u16::try_from(query.len()).unwrap_or(u16::MAX).to_be_bytes());
        frame.extend_from_slice(&query);
        let written = {
            let mut writer = self.writer.lock().await;
            timeout_at(deadline, async {
                writer.write_all(&frame).await?;
                writer.flush().await
            })
            .await
        };
        match written {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                self.closed.store(true, Ordering::Relaxed);
                self.lock_pending().remove(&id);
                return Err(AskError::Closed);
            }
            Err(_) => {
                self.lock_pending().remove(&id);
                return Err(AskError::Timeout);
            }
        }
        match timeout_at(deadline, rx).await {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(_)) => Err(AskError::Closed),
            Err(_) => {
                self.lock_pending().remove(&id);
                Err(AskError::Timeout)
            }
        }
    }
}

/// Reads replies and hands each to the query with its ID and question; ends when the
/// connection closes, breaks, or has been idle with nothing in flight.
async fn read_replies<R: AsyncRead + Unpin>(mut reader: R, live: Arc<Live>) {
    loop {
        let mut len = [0u8; 2];
        match timeout(UPSTREAM_IDLE_TIMEOUT, reader.read_exact(&mut len)).await {
            Err(_) if live.lock_pending().is_empty() => break,
            Err(_) => continue,
            Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
        }
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        if timeout(UPSTREAM_IDLE_TIMEOUT, reader.read_exact(&mut buf)).await.map_or(true, |r| r.is_err()) {
            break;
        }
        let Ok(reply) = Message::parse(&buf) else { continue };
        let mut pending = live.lock_pending();
        let matches = pending.get(&reply.id).is_some_and(|(q, _)| reply_matches(&reply, reply.id, q));
        if matches && let Some((_, tx)) = pending.remove(&reply.id) {
            let _ = tx.send(reply);
        }
    }
    live.closed.store(true, Ordering::Relaxed);
    // Dropping the senders wakes every query still waiting, with "closed".
    live.lock_pending().clear();
}
