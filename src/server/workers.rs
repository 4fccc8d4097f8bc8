//! `--workers K`: the server behaves like K separate worker processes (as
//! uvicorn or gunicorn with several workers), each with its own registry:
//! identities, slots, rate-limit windows, routing and the broadcast
//! audience. Accepted connections are dealt round-robin, as an accept loop
//! shared by K processes does, so two connections of one identity on two
//! workers are both let in and a broadcast reaches one worker's clients.
//!
//! Delivery counters sit beside each registry as atomics, so senders count
//! without taking the registry lock.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::config::ServerConfig;
use super::health::Health;
use super::mailbox::Push;
use super::registry::{Registry, Ticket};

/// One worker: its registry and its delivery counters.
#[derive(Debug)]
pub struct Worker {
    registry: Mutex<Registry>,
    deliveries: AtomicU64,
    dropped: AtomicU64,
    slow_closed: AtomicU64,
    queue_peak: AtomicUsize,
    slot_freed: tokio::sync::Notify,
}

impl Worker {
    fn new(index: usize) -> Worker {
        Worker {
            registry: Mutex::new(Registry::new(index)),
            deliveries: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            slow_closed: AtomicU64::new(0),
            queue_peak: AtomicUsize::new(0),
            slot_freed: tokio::sync::Notify::new(),
        }
    }

    /// Locks the registry; a poisoned lock is recovered, since the registry
    /// holds only counters and maps that stay consistent between statements.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Releases a closed connection's slot and wakes the clients queued
    /// for one (`--max-clients-mode queue`).
    pub fn release(&self, cfg: &ServerConfig, ticket: &Ticket) {
        self.registry().release(cfg, ticket);
        self.slot_freed.notify_waiters();
    }

    /// Notified whenever a slot may have come free.
    pub fn slot_freed(&self) -> &tokio::sync::Notify {
        &self.slot_freed
    }

    /// Counts what became of one delivery; true when it was queued.
    pub fn count(&self, push: Push) -> bool {
        match push {
            Push::Queued(bytes) => {
                self.deliveries.fetch_add(1, Ordering::Relaxed);
                if bytes > self.queue_peak.load(Ordering::Relaxed) {
                    self.queue_peak.fetch_max(bytes, Ordering::Relaxed);
                }
                true
            }
            Push::Refused { slow } => {
                if slow {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                false
            }
            Push::Overflowed { discarded } => {
                self.slow_closed.fetch_add(1, Ordering::Relaxed);
                self.dropped.fetch_add(discarded as u64 + 1, Ordering::Relaxed);
                false
            }
        }
    }

    fn health(&self, cfg: &ServerConfig) -> Health {
        let mut health = self.registry().health(cfg);
        health.deliveries_total = self.deliveries.load(Ordering::Relaxed);
        health.deliveries_dropped = self.dropped.load(Ordering::Relaxed);
        health.slow_consumers_closed = self.slow_closed.load(Ordering::Relaxed);
        health.queue_peak_bytes = self.queue_peak.load(Ordering::Relaxed);
        health
    }
}

/// The K workers and the round-robin dealer.
#[derive(Debug)]
pub struct Workers {
    workers: Box<[Worker]>,
    next: AtomicUsize,
}

impl Workers {
    /// `count` workers (at least one).
    pub fn new(count: usize) -> Workers {
        Workers { workers: (0..count.max(1)).map(Worker::new).collect(), next: AtomicUsize::new(0) }
    }

    /// The worker for the next accepted connection (round-robin).
    pub fn assign(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.workers.len()
    }

    /// Worker `index` (taken modulo the count, so any index is safe).
    pub fn get(&self, index: usize) -> &Worker {
        &self.workers[index % self.workers.len()]
    }

    /// Totals over every worker, with each worker's own line.
    pub fn health(&self, cfg: &ServerConfig) -> Health {
        let mut total = Health { max_clients: cfg.max_clients, ..Health::default() };
        for worker in self.workers.iter() {
            total.add(worker.health(cfg));
        }
        total
    }

    /// Forgets expired rate-limit windows in every worker.
    pub fn prune(&self, cfg: &ServerConfig, now: Instant) {
        for worker in self.workers.iter() {
            worker.registry().prune(cfg, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_dealt_round_robin() {
        let workers = Workers::new(3);
        let dealt: Vec<usize> = (0..7).map(|_| workers.assign()).collect();
        assert_eq!(dealt, vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(Workers::new(0).assign(), 0);
    }

    #[test]
    fn counters_follow_what_became_of_each_delivery() {
        let workers = Workers::new(2);
        let w = workers.get(1);
        assert!(w.count(Push::Queued(100)));
        assert!(!w.count(Push::Overflowed { discarded: 4 }));
        assert!(!w.count(Push::Refused { slow: true }));
        assert!(!w.count(Push::Refused { slow: false }));
        let h = workers.health(&ServerConfig::default());
        assert_eq!((h.deliveries_total, h.deliveries_dropped, h.slow_consumers_closed), (1, 6, 1));
        assert_eq!((h.queue_peak_bytes, h.workers.len()), (100, 2));
    }
}
