//! The table of client TCP connections, and whom to shed when it fills (RFC 7766 §6.2.3: a
//! server under pressure should close idle connections first; RFC 9210 §4: DNS over TCP must
//! stay available, since large answers and TC fallback depend on it).
//!
//! Without this, 128 idle connections filled every slot and a dozen connects a second kept TCP
//! dead. Now: a client address holds at most [`MAX_TCP_PER_CLIENT`] connections (its own oldest
//! idle one makes room for its new one); a full table closes its longest-idle connection to
//! admit a new one; and past three quarters full, idle connections get
//! [`IDLE_TIMEOUT_UNDER_PRESSURE`] instead of the configured timeout.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Connections one client address may hold (Unbound's `tcp-connection-limit` is per netblock;
/// 16 covers a client's pipelining and a few parallel resolvers, and keeps one address from
/// owning the table).
pub const MAX_TCP_PER_CLIENT: usize = 16;
/// Idle timeout once the table is three quarters full (RFC 7766 §6.2.3 lets it shrink).
pub const IDLE_TIMEOUT_UNDER_PRESSURE: Duration = Duration::from_secs(1);

struct Entry {
    ip: IpAddr,
    last_active: Instant,
    close: Arc<Notify>,
}

/// Who holds the client TCP connections.
pub struct TcpTable {
    entries: Mutex<HashMap<u64, Entry>>,
    next_id: AtomicU64,
    capacity: usize,
}

/// A connection's place in the table; leaves it when dropped.
pub struct Registration {
    table: Arc<TcpTable>,
    id: u64,
    /// Notified when the connection is to close to make room.
    pub close: Arc<Notify>,
}

impl TcpTable {
    /// A table for `capacity` connections.
    pub fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self { entries: Mutex::new(HashMap::new()), next_id: AtomicU64::new(0), capacity })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection from `ip`.
    pub fn register(self: &Arc<Self>, ip: IpAddr) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let close = Arc::new(Notify::new());
        self.lock().insert(id, Entry { ip, last_active: Instant::now(), close: close.clone() });
        Registration { table: self.clone(), id, close }
    }

    /// Connections `ip` holds now.
    pub fn count_for(&self, ip: IpAddr) -> usize {
        self.lock().values().filter(|e| e.ip == ip).count()
    }

    /// Tells the longest-idle connection (of `ip`, or of anyone) to close; false when there is
    /// none.
    pub fn shed_idlest(&self, ip: Option<IpAddr>) -> bool {
        let mut entries = self.lock();
        let idlest = entries
            .iter()
            .filter(|(_, e)| ip.is_none_or(|ip| e.ip == ip))
            .min_by_key(|(_, e)| e.last_active)
            .map(|(id, _)| *id);
        // Out of the table at once, so that a burst of connects sheds one connection each rather
        // than notifying the same one again and again.
        match idlest.and_then(|id| entries.remove(&id)) {
            Some(e) => {
                e.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// The idle timeout now: `normal`, or [`IDLE_TIMEOUT_UNDER_PRESSURE`] past three quarters.
    pub fn idle_timeout(&self, normal: Duration) -> Duration {
        if self.lock().len() * 4 >= self.capacity * 3 {
            normal.min(IDLE_TIMEOUT_UNDER_PRESSURE)
        } else {
            normal
        }
    }
}

impl Registration {
    /// Marks the connection active (a message arrived).
    pub fn touch(&self) {
        if let Some(e) = self.table.lock().get_mut(&self.id) {
            e.last_active = Instant::now();
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idlest_connection_of_a_client_is_shed_first() {
        let table = TcpTable::new(4);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let old = table.register(a);
        std::thread::sleep(Duration::from_millis(5));
        let young = table.register(a);
        let other = table.register(b);
        assert_eq!(table.count_for(a), 2);
        old.touch();
        // `young` is now a's idlest: it is told to close, not `old` and not b's.
        assert_eq!(table.idle_timeout(Duration::from_secs(10)), IDLE_TIMEOUT_UNDER_PRESSURE, "3 of 4 used");
        assert!(table.shed_idlest(Some(a)));
        let waker = young.close.clone();
        assert!(futures_now(waker), "young was notified");
        assert_eq!(table.count_for(a), 1, "and left the table at once");
        drop((old, young, other));
        assert_eq!(table.count_for(a), 0);
        assert_eq!(table.idle_timeout(Duration::from_secs(10)), Duration::from_secs(10));
    }

    /// True when the notify holds a permit (notified with nobody waiting).
    fn futures_now(n: Arc<Notify>) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(10), n.notified()).await.is_ok() })
    }
}
