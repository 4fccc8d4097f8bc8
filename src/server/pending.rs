//! Connections waiting to upgrade, bounded. Each accepted socket holds a
//! file until its upgrade request is complete; without a bound, idle
//! sockets (a slowloris, a port scan, a burst of half-open clients) could
//! use every file of the process, and new clients were then locked out
//! for a whole handshake timeout. Past the bound, or when accept runs out
//! of files, the *oldest* waiting socket is closed: a real client
//! completes its handshake in milliseconds, so it is never the oldest.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// Fewest waiting handshakes allowed, whatever the open-file limit.
const MIN_CAP: usize = 64;

/// The handshakes in progress, oldest first.
#[derive(Debug)]
pub struct Pending {
    cap: usize,
    waiting: Mutex<(u64, BTreeMap<u64, CancellationToken>)>,
    evicted: AtomicU64,
}

/// One handshake's place; leaving it (dropping) frees the place.
#[derive(Debug)]
pub struct Place {
    id: u64,
    /// Cancelled when this handshake is evicted to make room.
    pub evicted: CancellationToken,
    pending: Arc<Pending>,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut w) = self.pending.waiting.lock() {
            w.1.remove(&self.id);
        }
    }
}

impl Pending {
    /// A bound of `cap` waiting handshakes, or half the open-file limit.
    pub fn new(cap: Option<usize>) -> Arc<Pending> {
        let cap = cap.unwrap_or_else(|| {
            let soft = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft).unwrap_or(1024);
            usize::try_from(soft / 2).unwrap_or(usize::MAX).max(MIN_CAP)
        });
        Arc::new(Pending { cap, waiting: Mutex::new((0, BTreeMap::new())), evicted: AtomicU64::new(0) })
    }

    /// Takes a place for a new handshake, evicting the oldest when full.
    pub fn enter(self: &Arc<Pending>) -> Place {
        let evicted = CancellationToken::new();
        let id = match self.waiting.lock() {
            Ok(mut w) => {
                let id = w.0;
                w.0 += 1;
                w.1.insert(id, evicted.clone());
                while w.1.len() > self.cap {
                    if let Some((_, oldest)) = w.1.pop_first() {
                        oldest.cancel();
                        self.evicted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                id
            }
            Err(_) => u64::MAX,
        };
        Place { id, evicted, pending: self.clone() }
    }

    /// Closes the oldest waiting handshake (accept ran out of files);
    /// false when none is waiting.
    pub fn evict_oldest(&self) -> bool {
        let oldest = self.waiting.lock().ok().and_then(|mut w| w.1.pop_first());
        match oldest {
            Some((_, token)) => {
                token.cancel();
                self.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Handshakes closed to make room so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Handshakes waiting now.
    pub fn len(&self) -> usize {
        self.waiting.lock().map(|w| w.1.len()).unwrap_or(0)
    }

    /// True when none is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Logs at most one line per interval for a repeating problem, with the
/// count of the lines it held back, so a flood of failures cannot flood
/// the log.
#[derive(Debug)]
pub struct LogLimit {
    every: std::time::Duration,
    last: Option<std::time::Instant>,
    held: u64,
}

impl LogLimit {
    /// At most one line per `every`.
    pub fn new(every: std::time::Duration) -> LogLimit {
        LogLimit { every, last: None, held: 0 }
    }

    /// `Some(lines held back since the last one)` when a line may be
    /// written now, `None` when it is to be held back.
    pub fn allow(&mut self, now: std::time::Instant) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_oldest_handshake_makes_room_and_leaving_frees_a_place() {
        let pending = Pending::new(Some(2));
        let a = pending.enter();
        let b = pending.enter();
        assert!(!a.evicted.is_cancelled());
        let c = pending.enter();
        assert!(a.evicted.is_cancelled() && !b.evicted.is_cancelled() && !c.evicted.is_cancelled());
        assert_eq!((pending.len(), pending.evicted()), (2, 1));
        drop(b);
        assert_eq!(pending.len(), 1);
        assert!(pending.evict_oldest() && c.evicted.is_cancelled());
        assert!(!pending.evict_oldest());
    }

    #[test]
    fn a_flood_of_failures_logs_once_per_interval_with_the_count() {
        let mut limit = LogLimit::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(limit.allow(t0), Some(0));
        for i in 1..50 {
            assert_eq!(limit.allow(t0 + Duration::from_millis(i * 20)), None);
        }
        assert_eq!(limit.allow(t0 + Duration::from_millis(1001)), Some(49));
    }
}
