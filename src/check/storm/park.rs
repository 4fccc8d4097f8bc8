//! Idle held connections, parked: a storm of 10,000 silent connections
//! mostly waits. A parked connection is its socket, its clocks and its
//! identity in one small node of the holder's set, with no task and no
//! framed stream; the holder wakes it into a full client again when its
//! socket becomes readable (the server sent something, or closed) or when
//! the hold is over (the disruption or the end), at most `--max-pending`
//! of those at once so a mass wake-up does not rebuild every connection
//! together. At the end of the run a parked connection that is still
//! silent is closed where it lies: our close frame written to its socket
//! and the server's awaited ([`crate::net::bare_close`]), with no task and
//! no WebSocket built again only to be closed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::mpsc::UnboundedReceiver;

use super::client::{self, Conn, Ctx, Live, Slot};
use super::Disrupt;
use crate::net::app::ParkedWs;
use crate::net::endpoint::Endpoint;
use crate::units::ClientId;

/// A connection the holder keeps.
#[derive(Debug)]
pub struct Parked {
    /// The client.
    pub id: ClientId,
    /// The wave it connected in.
    pub wave: u8,
    ws: ParkedWs,
    opened: Instant,
    last_in: Instant,
    last_out: Instant,
}

impl Parked {
    /// The connection as a client holds it, its WebSocket built again.
    pub async fn into_live(self, endpoint: &Endpoint) -> Live {
        let ws = self.ws.resume(endpoint).await;
        Live { conn: Conn::Ws(ws), opened: self.opened, last_in: self.last_in, last_out: self.last_out }
    }

    /// True when it waits for the disruption, not only for the end.
    fn until_disrupt(&self, disrupt: Disrupt) -> bool {
        self.wave == 0 && disrupt != Disrupt::Server
    }
}

/// Parks `live` when it can be parked (a silent hold of a plain WebSocket
/// that has carried nothing yet, while the run goes on): `None` then, the
/// holder has it. Otherwise the connection comes back to be held in full.
pub(super) async fn park(ctx: &Ctx, id: ClientId, wave: u8, live: Live) -> Option<Live> {
    let token = if wave == 0 && ctx.plan.disrupt != Disrupt::Server { &ctx.disrupt } else { &ctx.end };
    let idle = ctx.plan.message.is_none() && !ctx.plan.tcp_only && !token.is_cancelled();
    let Live { conn: Conn::Ws(ws), opened, last_in, last_out } = live else { return Some(live) };
    if !idle {
        return Some(Live { conn: Conn::Ws(ws), opened, last_in, last_out });
    }
    match ws.park(&ctx.endpoint).await {
        Ok(ws) => match ctx.parked.send(Parked { id, wave, ws, opened, last_in, last_out }) {
            Ok(()) => None,
            // The holder is gone (the run ended): held in full, it finishes.
            Err(back) => Some(back.0.into_live(&ctx.endpoint).await),
        },
        Err(ws) => Some(Live { conn: Conn::Ws(ws), opened, last_in, last_out }),
    }
}

/// Resolves with its connection once the socket is readable (or failed).
struct Readable(Option<Parked>);

impl Future for Readable {
    type Output = Parked;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Parked> {
        let Some(p) = &self.0 else { return Poll::Pending };
        if p.ws.tcp().poll_read_ready(cx).is_pending() {
            return Poll::Pending;
        }
        self.0.take().map_or(Poll::Pending, Poll::Ready)
    }
}

type Set = FuturesUnordered<Readable>;

/// The holder: keeps parked connections until they are readable or their
/// hold is over, then hands each back to a client task.
pub(super) async fn holder(ctx: Arc<Ctx>, mut incoming: UnboundedReceiver<Parked>) {
    let (mut until_disrupt, mut until_end) = (Set::new(), Set::new());
    let disrupt = ctx.plan.disrupt;
    loop {
        tokio::select! {
            biased;
            _ = ctx.end.cancelled() => break,
            _ = ctx.disrupt.cancelled(), if !until_disrupt.is_empty() => wake_all(&ctx, &mut until_disrupt).await,
            p = incoming.recv() => match p {
                Some(p) if p.until_disrupt(disrupt) => until_disrupt.push(Readable(Some(p))),
                Some(p) => until_end.push(Readable(Some(p))),
                None => break,
            },
            Some(p) = until_disrupt.next() => wake(&ctx, p, None),
            Some(p) = until_end.next() => wake(&ctx, p, None),
        }
    }
    // The run is over: nothing parks from now on; everything parked closes.
    incoming.close();
    let held = [until_disrupt, until_end].into_iter().flat_map(|set| set.into_iter().filter_map(|r| r.0));
    let last = std::iter::from_fn(|| incoming.try_recv().ok());
    close_all(&ctx, held.chain(last)).await;
}

/// Closes every parked connection at the end of the run, `--max-pending`
/// at once: a silent one with the closing handshake on its bare socket; one
/// the server has just written to (a frame or its own close racing ours)
/// is woken into a full client, which reads what came first.
async fn close_all(ctx: &Arc<Ctx>, parked: impl Iterator<Item = Parked>) {
    let limit = (ctx.plan.max_pending as usize).max(1);
    let mut closing = FuturesUnordered::new();
    for p in parked {
        if p.ws.tcp().readable().now_or_never().is_some() {
            let slot = Slot::wait(ctx).await;
            wake(ctx, p, slot);
            continue;
        }
        if closing.len() >= limit {
            closing.next().await;
        }
        closing.push(close_parked(ctx, p));
    }
    while closing.next().await.is_some() {}
}

/// The end of a silent parked connection: as [`client::finish`] closes a
/// held one, ours and never a drop, whatever the server answered.
async fn close_parked(ctx: &Ctx, p: Parked) {
    use crate::net::session::{DONE_CODE, DONE_REASON};
    crate::net::bare_close::close_bare(p.ws.tcp(), DONE_CODE, DONE_REASON, ctx.plan.close_timeout).await;
    let close = crate::event::CloseInfo::ours(DONE_CODE, DONE_REASON);
    ctx.emit(p.id, crate::event::EventKind::closed(close, p.opened, p.last_in, p.last_out, 0));
}

/// Wakes every connection of `set`, each once an attempt slot is free.
async fn wake_all(ctx: &Arc<Ctx>, set: &mut Set) {
    for p in std::mem::take(set).into_iter().filter_map(|r| r.0) {
        let slot = Slot::wait(ctx).await;
        wake(ctx, p, slot);
    }
}

fn wake(ctx: &Arc<Ctx>, p: Parked, slot: Option<Slot>) {
    ctx.tracker.spawn(client::resume(ctx.clone(), p, slot));
}

#[cfg(test)]
mod footprint {
    /// A parked connection is one node of the holder's set: its size is
    /// what 10,000 idle connections cost beyond their sockets.
    #[test]
    fn a_parked_connection_stays_small() {
        let size = std::mem::size_of::<super::Readable>();
        assert!(size <= 128, "a parked connection is {size} bytes");
    }
}
