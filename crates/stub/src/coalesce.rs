//! Identical work in flight done once (RFC 5452 §5: every duplicate query to an upstream is one
//! more chance for a spoofer, and load the upstream need not carry). Callers asking for a key
//! that is already being worked on wait for that work's result instead of starting their own.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Work in flight, by key.
pub struct Coalescer<K, V> {
    inflight: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for Coalescer<K, V> {
    fn default() -> Self {
        Self { inflight: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Coalescer<K, V> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The result of `work` for `key`: run here, or shared with a caller already running it.
    /// The second value is true when the result was shared.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let (cell, joined) = {
            let mut inflight = self.lock();
            match inflight.get(&key) {
                Some(cell) => (cell.clone(), true),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    inflight.insert(key.clone(), cell.clone());
                    (cell, false)
                }
            }
        };
        let value = cell.get_or_init(work).await.clone();
        // Done: the next caller starts afresh (and finds the answer in the cache).
        let mut inflight = self.lock();
        if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(&key);
        }
        (value, joined)
    }

    /// Keys in flight now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let c: Arc<Coalescer<&'static str, u32>> = Arc::new(Coalescer::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (c, runs) = (c.clone(), runs.clone());
                tokio::spawn(async move {
                    c.run("k", || async {
                        runs.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        7
                    })
                    .await
                })
            })
            .collect();
        let mut shared = 0;
        for t in tasks {
            let (v, joined) = t.await.unwrap();
            assert_eq!(v, 7);
            shared += usize::from(joined);
        }
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert_eq!(shared, 19);
        assert!(c.is_empty(), "nothing left in flight");
    }
}
