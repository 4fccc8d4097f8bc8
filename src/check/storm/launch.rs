//! Starting the storm's clients: each at its start time (all at once, a
//! ramp or a rate) and only once an attempt slot (`--max-pending`) is free,
//! so a client's task, the largest thing a client owns, exists only from
//! its first attempt on. 10,000 clients queued behind the slots cost
//! nothing, and one timer paces them all instead of one per client.

use std::sync::Arc;

use super::client::{self, Ctx, Slot};
use crate::units::ClientId;

/// Starts every client in order; when the run ends first, the clients not
/// started yet settle the first wave unstarted.
pub(super) async fn launch(ctx: Arc<Ctx>, start: tokio::time::Instant) {
    for i in 0..ctx.plan.clients {
        let at = start + ctx.plan.start_offset(i);
        // Clients of an all-at-once wave are due already: no timer for them.
        if at > tokio::time::Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = ctx.end.cancelled() => {}
            }
        }
        let slot = match Slot::take(&ctx).await {
            Some(slot) if !ctx.end.is_cancelled() => slot,
            _ => return (i..ctx.plan.clients).for_each(|_| ctx.settle(0)),
        };
        ctx.tracker.spawn(client::run(ctx.clone(), ClientId::new(i), slot));
    }
}
