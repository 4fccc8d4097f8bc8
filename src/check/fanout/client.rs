//! One fan-out connection: it reads everything the server sends and
//! reports each of our nonces it finds (never the payload), and writes
//! what its publisher hands it, marking the publish time just before the
//! write. Every write has a deadline; everything runs under the run's
//! cancellation, and wsprobe's own close at the end is not a drop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::nonce::Nonces;
use super::tally::{FanoutEvent, PublishClock};
use crate::net::attempt::Outcome;
use crate::net::connect::{open, Attempt, ClientWs};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret_wire, Read};
use crate::units::ClientId;

/// Messages a publisher may queue on one connection before it waits.
pub const OUTBOUND_QUEUE: usize = 1024;
/// Longest a single write may take before the server counts as not reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A message for the connection to send.
#[derive(Debug)]
pub struct Outbound {
    /// Its message id.
    pub id: u64,
    /// The text.
    pub text: String,
}

/// What every connection of the run shares.
#[derive(Debug)]
pub struct Ctx {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The run's nonces.
    pub nonces: Nonces,
    /// Publish times.
    pub clock: Arc<PublishClock>,
    /// The run's start (for shards: the shared start).
    pub t0: Instant,
    /// Receipts to the collector (bounded: readers slow down when it lags).
    pub events: mpsc::Sender<FanoutEvent>,
    /// Cancelled at the end of the run (or by Ctrl-C).
    pub end: CancellationToken,
    /// Time the server gets to answer our close.
    pub close_timeout: Duration,
}

impl Ctx {
    /// Microseconds since the run's start.
    pub fn now_us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

/// How opening went: the outbound queue of an open connection, or why not.
pub type Opened = Result<mpsc::Sender<Outbound>, Outcome>;

/// Opens client `index`, reports how that went on `opened`, then serves
/// the connection until the end of the run.
/// `permit` bounds how many connections open at once; it is given back as
/// soon as this one is open (or refused).
pub async fn run(
    ctx: Arc<Ctx>,
    index: u32,
    opened: oneshot::Sender<Opened>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) {
    let started = Instant::now();
    let attempt = tokio::select! {
        a = open(&ctx.endpoint, ClientId::new(index)) => a,
        _ = ctx.end.cancelled() => return,
    };
    drop(permit);
    let (at, outcome) = (Instant::now(), attempt.outcome());
    let _ = ctx.events.send(FanoutEvent::Attempted { at, outcome, took: at.duration_since(started) }).await;
    let ws = match attempt {
        Attempt::Open(o) => o.ws,
        other => {
            let _ = opened.send(Err(other.outcome()));
            return;
        }
    };
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    if opened.send(Ok(tx)).is_err() {
        return;
    }
    serve(&ctx, index, ws, rx).await;
}

async fn serve(ctx: &Ctx, index: u32, mut ws: ClientWs, mut rx: mpsc::Receiver<Outbound>) {
    let mut outbound_open = true;
    loop {
        tokio::select! {
            biased;
            _ = ctx.end.cancelled() => {
                close_cleanly(&mut ws, 1000, "wsprobe fanout done", ctx.close_timeout).await;
                let _ = ctx.events.send(FanoutEvent::Closed { at: Instant::now() }).await;
                return;
            }
            out = rx.recv(), if outbound_open => match out {
                Some(out) => {
                    if let Err(close) = write(ctx, &mut ws, out).await {
                        let _ = ctx.events.send(FanoutEvent::Dropped { client: index, at: Instant::now(), close }).await;
                        return;
                    }
                }
                None => outbound_open = false,
            },
            item = ws.next() => match interpret_wire(&ws, item) {
                Read::Frame(msg) => inbound(ctx, index, &msg).await,
                Read::Ended(close) => {
                    let _ = ctx.events.send(FanoutEvent::Dropped { client: index, at: Instant::now(), close }).await;
                    return;
                }
            },
        }
    }
}

async fn write(ctx: &Ctx, ws: &mut ClientWs, out: Outbound) -> Result<(), crate::event::CloseInfo> {
    ctx.clock.mark(out.id, ctx.now_us());
    let result = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(out.text))).await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            ctx.clock.unmark(out.id);
            Err(crate::net::session::close_from_error(&e))
        }
        Err(_) => {
            ctx.clock.unmark(out.id);
            Err(crate::event::CloseInfo::abnormal(
                crate::event::EndHow::Ours,
                format!(
                    "the server stopped reading: a publish did not go out within {}",
                    crate::units::format_duration(WRITE_TIMEOUT)
                ),
            ))
        }
    }
}

async fn inbound(ctx: &Ctx, index: u32, msg: &Message) {
    let at_us = ctx.now_us();
    let text = match msg {
        Message::Text(t) => t.as_str(),
        Message::Binary(b) => match std::str::from_utf8(b) {
            Ok(t) => t,
            Err(_) => return,
        },
        _ => return,
    };
    let mut found = false;
    for (id, sent_us) in ctx.nonces.find(text) {
        found = true;
        let _ = ctx.events.send(FanoutEvent::Receipt { client: index, id, at_us, sent_us }).await;
    }
    if !found {
        let _ = ctx.events.send(FanoutEvent::Other).await;
    }
}
