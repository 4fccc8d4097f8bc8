//! Folding events into numbers. Collectors are pure: they take events and
//! produce statistics, so they are unit-tested with synthetic events.

pub mod latency;
pub mod selfwatch;

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::event::Event;

/// Statistics that fold events in one at a time.
pub trait Fold {
    /// Folds one event in.
    fn apply(&mut self, event: &Event);
}

/// The collector task: folds every event into shared statistics, in
/// batches so the lock is taken once per batch, until all senders are gone.
/// Progress displays read the same statistics while it runs.
pub async fn collect<S: Fold>(mut events: UnboundedReceiver<Event>, stats: Arc<Mutex<S>>) {
    let mut batch = Vec::with_capacity(256);
    while events.recv_many(&mut batch, 256).await > 0 {
        if let Ok(mut s) = stats.lock() {
            batch.iter().for_each(|e| s.apply(e));
        }
        batch.clear();
    }
}
