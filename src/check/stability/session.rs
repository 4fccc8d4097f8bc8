//! One soak client: connect, keep the connection alive the way the plan
//! says (protocol pings, an application heartbeat, withheld pongs, or
//! silence), record everything that arrives, and when the server drops it,
//! say how; with `--reconnect`, connect again until the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::event::{CloseInfo, Event, EventKind, Flood};
use crate::net::connect::{open, Attempt, ClientWs};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret_wire, write_within, Read, WriteOp, Written};
use crate::units::ClientId;

/// What every soak client shares.
pub struct Ctx {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Protocol ping interval.
    pub ping_interval: Option<Duration>,
    /// Application heartbeat and its interval.
    pub app_ping: Option<(String, Duration)>,
    /// Reconnect after drops.
    pub reconnect: bool,
    /// Pause before each reconnect.
    pub backoff: crate::units::Backoff,
    /// Random spread on the pause.
    pub jitter: crate::units::Jitter,
    /// Time the server gets to answer our close.
    pub close_timeout: Duration,
    /// Cancelled at the end of the soak (or Ctrl-C).
    pub end: CancellationToken,
    /// Where events go.
    pub events: UnboundedSender<Event>,
    /// When the run started (ping payloads carry time since then).
    pub t0: Instant,
}

impl Ctx {
    fn emit(&self, client: u32, kind: EventKind) {
        self.emit_at(client, Instant::now(), kind);
    }

    /// Sends an event that happened earlier than now (a held-back count).
    fn emit_at(&self, client: u32, at: Instant, kind: EventKind) {
        let _ = self.events.send(Event { client, at, kind });
    }
}

/// A connection that lived this long was a success: the backoff starts over.
const STEADY: Duration = Duration::from_millis(500);

/// Runs one soak client until the end of the run. With `--reconnect`, each
/// reconnect (after a drop or a failed attempt) waits by the backoff, which
/// grows while connections keep failing fast, so a server that drops every
/// connection at once is not hammered.
pub async fn run(ctx: Arc<Ctx>, id: ClientId) {
    let mut retry = 0u32;
    while !ctx.end.is_cancelled() {
        if retry > 0 && !pause(&ctx, retry).await {
            return;
        }
        let started = Instant::now();
        let attempt = tokio::select! {
            a = open(&ctx.endpoint, id) => a,
            _ = ctx.end.cancelled() => return,
        };
        ctx.emit(
            id.index,
            EventKind::Attempt {
                wave: 0,
                outcome: attempt.outcome(),
                phases: attempt.phase_times(),
                total: started.elapsed(),
            },
        );
        let Attempt::Open(opened) = attempt else {
            if !ctx.reconnect {
                return;
            }
            retry += 1;
            continue;
        };
        let at = opened.at;
        let mut ws = opened.ws;
        ws.observe(ctx.events.clone(), id.index, opened.timings.app);
        let dropped = Connection::new(&ctx, id, ws, at).live().await;
        if !dropped || !ctx.reconnect {
            return;
        }
        retry = if at.elapsed() >= STEADY { 1 } else { retry + 1 };
    }
}

/// Waits the backoff for reconnect number `retry`; false when the run ended.
async fn pause(ctx: &Ctx, retry: u32) -> bool {
    let wait = ctx.jitter.apply(ctx.backoff.delay(retry));
    tokio::select! {
        _ = tokio::time::sleep(wait) => true,
        _ = ctx.end.cancelled() => false,
    }
}

struct Connection<'a> {
    ctx: &'a Ctx,
    id: ClientId,
    ws: ClientWs,
    opened: Instant,
    last_in: Instant,
    last_out: Instant,
    pings: Flood,
    messages: Flood,
}

impl<'a> Connection<'a> {
    fn new(ctx: &'a Ctx, id: ClientId, ws: ClientWs, opened: Instant) -> Self {
        Connection {
            ctx,
            id,
            ws,
            opened,
            last_in: opened,
            last_out: opened,
            pings: Flood::default(),
            messages: Flood::default(),
        }
    }

    /// Lives until the end (closing cleanly: false) or a drop (true).
    async fn live(mut self) -> bool {
        let mut pinger = ticker(self.ctx.ping_interval);
        let mut app = ticker(self.ctx.app_ping.as_ref().map(|(_, every)| *every));
        let end = self.ctx.end.clone();
        let dropped = loop {
            tokio::select! {
                _ = end.cancelled() => break None,
                _ = tick(&mut pinger) => {
                    let payload = self.ctx.t0.elapsed().as_nanos().to_be_bytes()[8..].to_vec();
                    match self.send(Message::Ping(payload.into())).await {
                        Written::Done => {}
                        Written::Stopped => break None,
                        Written::Ended(close) => break Some(close),
                    }
                }
                _ = tick(&mut app) => {
                    let text = self.ctx.app_ping.as_ref().map(|(t, _)| t.clone()).unwrap_or_default();
                    match self.send(Message::text(text)).await {
                        Written::Done => {}
                        Written::Stopped => break None,
                        Written::Ended(close) => break Some(close),
                    }
                    self.ctx.emit(self.id.index, EventKind::Traffic { sent: 1, received: 0, round_trips: Vec::new() });
                }
                item = self.ws.next() => match interpret_wire(&self.ws, item) {
                    Read::Frame(msg) => self.on_frame(msg),
                    Read::Ended(close) => break Some(close),
                },
            }
        };
        match dropped {
            Some(close) => {
                crate::net::session::conclude(&mut self.ws, &close, self.ctx.close_timeout).await;
                self.closed(close);
                true
            }
            None => {
                close_cleanly(&mut self.ws, 1000, "wsprobe soak done", self.ctx.close_timeout).await;
                self.closed(CloseInfo::ours(1000, "wsprobe soak done"));
                false
            }
        }
    }

    /// Sends under the write timeout; the end of the soak stops the wait.
    async fn send(&mut self, msg: Message) -> Written {
        self.last_out = Instant::now();
        let limit = self.ctx.endpoint.write_timeout;
        write_within(&mut self.ws, WriteOp::Send(msg), limit, &self.ctx.end).await
    }

    fn on_frame(&mut self, msg: Message) {
        let now = Instant::now();
        self.last_in = now;
        let kind = match msg {
            Message::Ping(_) => {
                if !self.ctx.endpoint.withhold_pongs {
                    self.last_out = now; // tungstenite answers with a pong
                }
                match self.pings.admit(now) {
                    None => return,
                    Some(0) => EventKind::ServerPing,
                    Some(held) => {
                        self.ctx.emit(self.id.index, EventKind::ServerPings(held));
                        EventKind::ServerPing
                    }
                }
            }
            Message::Pong(payload) => match <[u8; 8]>::try_from(payload.as_ref()) {
                Ok(sent) => {
                    let sent = Duration::from_nanos(u64::from_be_bytes(sent));
                    EventKind::Pong(self.ctx.t0.elapsed().saturating_sub(sent))
                }
                Err(_) => return,
            },
            Message::Text(_) | Message::Binary(_) => match self.messages.admit(now) {
                None => return,
                Some(held) => EventKind::Traffic { sent: 0, received: 1 + held, round_trips: Vec::new() },
            },
            Message::Close(_) | Message::Frame(_) => return,
        };
        self.ctx.emit(self.id.index, kind);
    }

    fn closed(&mut self, close: CloseInfo) {
        // Held-back counts carry the time of their flood, not of the close:
        // the diagnosis times the close against the last ping and message.
        let now = Instant::now();
        let (pings, messages) = (self.pings.take(), self.messages.take());
        if pings > 0 {
            self.ctx.emit_at(self.id.index, self.pings.last().unwrap_or(now), EventKind::ServerPings(pings));
        }
        if messages > 0 {
            let kind = EventKind::Traffic { sent: 0, received: messages, round_trips: Vec::new() };
            self.ctx.emit_at(self.id.index, self.messages.last().unwrap_or(now), kind);
        }
        if close.is_drop() {
            if let Some(text) = self.ws.explain_drop(&close, self.opened) {
                self.ctx.emit(self.id.index, EventKind::App(crate::event::AppEvent::Explained(text)));
            }
        }
        // Heartbeats the application layer consumed are inbound traffic too.
        let last_in = self.ws.app_last_in().map_or(self.last_in, |t| t.max(self.last_in));
        let withheld = self.ws.get_ref().pongs_withheld();
        self.ctx.emit(self.id.index, EventKind::closed(close, self.opened, last_in, self.last_out, withheld));
    }
}

fn ticker(every: Option<Duration>) -> Option<tokio::time::Interval> {
    every.map(|d| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    })
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Without --reconnect, the soak is over once every client has ended.
pub async fn all_gone(tracker: &tokio_util::task::TaskTracker, reconnect: bool) {
    if reconnect {
        std::future::pending::<()>().await;
    }
    tracker.wait().await;
}
