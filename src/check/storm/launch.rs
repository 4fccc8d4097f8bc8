//! Starting the storm's clients: each at its start time (all at once, a
//! ramp or a rate; this shard's share, less those a late shard skips) and
//! only once an attempt slot (`--max-pending`) is free, so a client's task,
//! the largest thing a client owns, exists only from its first attempt on.
//! 10,000 clients queued behind the slots cost nothing, and one timer
//! paces them all instead of one per client.

use std::sync::Arc;

use super::client::{self, Ctx, Slot};
use super::StormPlan;
use crate::shard::start::Start;
use crate::units::ClientId;

/// This process's arrivals: its shard's clients, less those already too far
/// past for a late shard.
pub(super) fn arrivals<'a>(plan: &'a StormPlan, start: &'a Start) -> impl Iterator<Item = u32> + 'a {
    plan.shard.clients(plan.clients).filter(|&i| !start.is_past(plan.start_offset(i)))
}

/// Starts every arrival in order; when the run ends first, the clients not
/// started yet settle the first wave unstarted.
pub(super) async fn launch(ctx: Arc<Ctx>, start: Start) {
    let mut due = arrivals(&ctx.plan, &start);
    while let Some(i) = due.next() {
        let at: tokio::time::Instant = start.instant(ctx.plan.start_offset(i)).into();
        // Clients of an all-at-once wave are due already: no timer for them.
        if at > tokio::time::Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = ctx.end.cancelled() => {}
            }
        }
        let slot = match Slot::take(&ctx).await {
            Some(slot) if !ctx.end.is_cancelled() => slot,
            _ => return (0..=due.count()).for_each(|_| ctx.settle(0)),
        };
        ctx.tracker.spawn(client::run(ctx.clone(), ClientId::new(i), slot));
    }
}
