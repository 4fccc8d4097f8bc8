//! Folding events into numbers. Collectors are pure: they take events and
//! produce statistics, so they are unit-tested with synthetic events.

pub mod latency;
pub mod selfwatch;
pub mod timeline;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::event::Event;

/// Statistics that fold events in one at a time.
pub trait Fold<E = Event> {
    /// Folds one event in.
    fn apply(&mut self, event: &E);
}

/// Where a collector takes its events from: a bounded or an unbounded
/// channel (checks whose clients must slow down when the collector falls
/// behind use a bounded one).
pub trait Inbox<E>: Send {
    /// Waits for events and moves up to `limit` of them into `buf`; 0 when
    /// every sender is gone.
    fn recv_many(&mut self, buf: &mut Vec<E>, limit: usize) -> impl std::future::Future<Output = usize> + Send;
}

impl<E: Send> Inbox<E> for UnboundedReceiver<E> {
    async fn recv_many(&mut self, buf: &mut Vec<E>, limit: usize) -> usize {
        UnboundedReceiver::recv_many(self, buf, limit).await
    }
}

impl<E: Send> Inbox<E> for tokio::sync::mpsc::Receiver<E> {
    async fn recv_many(&mut self, buf: &mut Vec<E>, limit: usize) -> usize {
        tokio::sync::mpsc::Receiver::recv_many(self, buf, limit).await
    }
}

/// The collector task: folds every event into shared statistics, in
/// batches so the lock is taken once per batch, until all senders are gone.
/// Progress displays read the same statistics while it runs.
pub async fn collect<E, S: Fold<E>>(events: impl Inbox<E>, stats: Arc<Mutex<S>>) {
    collect_tapped(events, stats, |_| {}).await
}

/// [`collect`], with every event also shown to `tap` (live metrics read
/// the same stream as the statistics).
pub async fn collect_tapped<E, S: Fold<E>>(
    mut events: impl Inbox<E>,
    stats: Arc<Mutex<S>>,
    mut tap: impl FnMut(&E) + Send,
) {
    let mut batch = Vec::with_capacity(256);
    while events.recv_many(&mut batch, 256).await > 0 {
        batch.iter().for_each(&mut tap);
        if let Ok(mut s) = stats.lock() {
            batch.iter().for_each(|e| s.apply(e));
        }
        batch.clear();
    }
}
