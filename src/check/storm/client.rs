//! One storm client's life: wait for its start time, connect (retrying by
//! the backoff policy), hold (echo round trips timed from the *intended*
//! send time, so a stalled server shows up), get disrupted, reconnect, and
//! close cleanly at the end. It only emits events; the collector counts.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::StormPlan;
use super::{Disrupt, Jitter};
use crate::event::{CloseInfo, EndHow, Event, EventKind, Flood};
use crate::net::attempt::Outcome;
use crate::net::connect::{open, Attempt, ClientWs, FailureKind};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret_wire, Read};
use crate::units::ClientId;

/// What every client of a storm shares.
pub struct Ctx {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The storm's plan.
    pub plan: StormPlan,
    /// Where events go.
    pub events: UnboundedSender<Event>,
    /// Cancelled when the hold is over and clients are to be disrupted.
    pub disrupt: CancellationToken,
    /// Cancelled when the run is over (or on Ctrl-C): close and finish.
    pub end: CancellationToken,
    /// Clients done with each wave (connected or given up).
    pub settled: [AtomicU32; 2],
    /// Clients connected in each wave.
    pub connected: [AtomicU32; 2],
    /// Woken whenever a client settles a wave, so phase waits are events.
    pub settled_changed: tokio::sync::Notify,
    /// Permits for connection attempts in flight (--max-pending).
    pub pending: tokio::sync::Semaphore,
}

impl Ctx {
    pub(super) fn emit(&self, client: ClientId, kind: EventKind) {
        let _ = self.events.send(Event { client: client.index, at: Instant::now(), kind });
    }

    fn settle(&self, wave: u8) {
        self.settled[usize::from(wave.min(1))].fetch_add(1, Ordering::SeqCst);
        self.settled_changed.notify_waiters();
    }

    fn connected(&self, wave: u8) {
        self.connected[usize::from(wave.min(1))].fetch_add(1, Ordering::SeqCst);
        self.settle(wave);
    }
}

/// An open connection and its traffic clocks.
pub(super) struct Live {
    pub(super) conn: Conn,
    pub(super) opened: Instant,
    pub(super) last_in: Instant,
    pub(super) last_out: Instant,
}

// The WebSocket variant is the common case; boxing it would add an
// allocation per connection to save bytes only in --tcp-only runs.
#[allow(clippy::large_enum_variant)]
pub(super) enum Conn {
    Ws(ClientWs),
    Tcp(TcpStream),
}

/// How a hold ended.
pub(super) enum HoldEnd {
    Disrupt,
    Dropped(CloseInfo),
    End,
}

/// Runs one client from its start time to the end of the storm.
///
/// This future lives as long as the connection, so everything transient
/// (connecting, echo loops, closing) is boxed: an idle held connection then
/// costs only the small idle-hold state, which matters at 10,000 clients.
pub async fn run(ctx: std::sync::Arc<Ctx>, id: ClientId, start_at: tokio::time::Instant) {
    // Clients of an all-at-once wave are due already: skip the timer
    // (registering and removing 10,000 timer entries is measurable).
    if start_at > tokio::time::Instant::now() {
        tokio::select! {
            _ = tokio::time::sleep_until(start_at) => {}
            _ = ctx.end.cancelled() => return ctx.settle(0),
        }
    }
    if ctx.end.is_cancelled() {
        return ctx.settle(0);
    }
    for wave in 0..=1u8 {
        let Some(mut live) = Box::pin(connect_wave(&ctx, id, wave)).await else { return };
        let until_disrupt = wave == 0 && ctx.plan.disrupt != Disrupt::Server;
        match hold(&ctx, id, &mut live, until_disrupt).await {
            HoldEnd::Dropped(close) => {
                if let Conn::Ws(ws) = &mut live.conn {
                    Box::pin(crate::net::session::conclude(ws, &close, ctx.plan.close_timeout)).await;
                }
                closed(&ctx, id, &live, close)
            }
            HoldEnd::Disrupt if wave == 0 => Box::pin(disrupt(&ctx, id, live)).await,
            HoldEnd::End | HoldEnd::Disrupt => return Box::pin(finish(&ctx, id, live)).await,
        }
    }
}

/// Connects with retries; `None` when the client gave up or the run ended.
async fn connect_wave(ctx: &Ctx, id: ClientId, wave: u8) -> Option<Live> {
    let plan = &ctx.plan;
    for attempt in 1..=plan.max_attempts {
        let retry = if wave == 0 { attempt - 1 } else { attempt };
        if retry > 0 {
            let wait = jittered(plan.backoff.delay(retry), plan.jitter);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = ctx.end.cancelled() => break,
            }
        }
        // Wait for a slot before allocating the attempt, so clients queued
        // behind --max-pending cost nothing but their idle task.
        let permit = tokio::select! {
            p = ctx.pending.acquire() => p.ok(),
            _ = ctx.end.cancelled() => break,
        };
        let result = tokio::select! {
            r = Box::pin(attempt_once(ctx, id, wave)) => r,
            _ = ctx.end.cancelled() => break,
        };
        drop(permit);
        if let Some(live) = result {
            ctx.connected(wave);
            return Some(live);
        }
    }
    if !ctx.end.is_cancelled() {
        ctx.emit(id, EventKind::GaveUp { wave });
    }
    ctx.settle(wave);
    None
}

async fn attempt_once(ctx: &Ctx, id: ClientId, wave: u8) -> Option<Live> {
    let started = Instant::now();
    if ctx.plan.tcp_only {
        return tcp_attempt(ctx, id, wave, started).await;
    }
    let attempt = open(&ctx.endpoint, id).await;
    let t = *attempt.timings();
    let (outcome, tcp, proxy) = (attempt.outcome(), t.tcp, t.proxy);
    ctx.emit(id, EventKind::Attempt { wave, outcome, tcp, proxy, total: started.elapsed() });
    match (&attempt, t.app) {
        (Attempt::Open(_), Some(took)) => {
            ctx.emit(id, EventKind::App(crate::event::AppEvent::Ready { took, announced: None }))
        }
        (Attempt::Rejected(r), _) => {
            if let Some(app) = &r.app {
                ctx.emit(id, EventKind::App(crate::event::AppEvent::Refused(app.message.clone())));
            }
        }
        _ => {}
    }
    match attempt {
        Attempt::Open(o) => Some(Live { conn: Conn::Ws(o.ws), opened: o.at, last_in: o.at, last_out: o.at }),
        Attempt::Rejected(_) | Attempt::Failed(_) => None,
    }
}

async fn tcp_attempt(ctx: &Ctx, id: ClientId, wave: u8, started: Instant) -> Option<Live> {
    let addrs = ctx.endpoint.pinned.as_deref().unwrap_or_default();
    let source = ctx.endpoint.source_ip(id.index);
    let result = match addrs.first() {
        Some(addr) => {
            tokio::time::timeout(ctx.endpoint.connect_timeout, crate::net::connect::connect_tcp(*addr, source)).await
        }
        None => Ok(Err(std::io::Error::other("no address"))),
    };
    let elapsed = started.elapsed();
    let (outcome, stream) = match result {
        Ok(Ok(s)) => (Outcome::Accepted, Some(s)),
        Ok(Err(e)) => (Outcome::Failed(FailureKind::from_io(&e)), None),
        Err(_) => (Outcome::Failed(FailureKind::Timeout), None),
    };
    let tcp = stream.as_ref().map(|_| elapsed);
    ctx.emit(id, EventKind::Attempt { wave, outcome, tcp, proxy: None, total: elapsed });
    let now = Instant::now();
    stream.map(|s| Live { conn: Conn::Tcp(s), opened: now, last_in: now, last_out: now })
}

fn jittered(d: Duration, jitter: Jitter) -> Duration {
    let nanos = d.as_nanos().min(u128::from(u64::MAX)) as u64;
    match jitter {
        Jitter::None => d,
        Jitter::Full => Duration::from_nanos(fastrand::u64(0..=nanos)),
        Jitter::Equal => Duration::from_nanos(nanos / 2 + fastrand::u64(0..=nanos / 2)),
    }
}

/// Holds a connection until disruption (when `until_disrupt`), the end, or a drop.
async fn hold(ctx: &Ctx, id: ClientId, live: &mut Live, until_disrupt: bool) -> HoldEnd {
    // `disrupt` is a child of `end`, so one cancellation future serves both.
    let token = if until_disrupt { &ctx.disrupt } else { &ctx.end };
    let ended = match &mut live.conn {
        Conn::Tcp(stream) => hold_tcp(token, stream).await,
        Conn::Ws(_) if ctx.plan.message.is_some() => Box::pin(super::echo::hold_echo(ctx, id, live, token)).await,
        Conn::Ws(ws) => hold_idle(ctx, id, ws, &mut live.last_in, token).await,
    };
    match ended {
        HoldEnd::Disrupt if ctx.end.is_cancelled() => HoldEnd::End,
        other => other,
    }
}

/// Holds a silent connection: answers pings (tungstenite does), notes
/// inbound traffic, watches for the end.
async fn hold_idle(
    ctx: &Ctx,
    id: ClientId,
    ws: &mut ClientWs,
    last_in: &mut Instant,
    token: &CancellationToken,
) -> HoldEnd {
    let (mut pings, mut messages) = (Flood::default(), Flood::default());
    let traffic = |n: u32| EventKind::Traffic { sent: 0, received: n, round_trips: Vec::new() };
    let end = loop {
        tokio::select! {
            _ = token.cancelled() => break HoldEnd::Disrupt,
            item = ws.next() => match interpret_wire(ws, item) {
                Read::Frame(msg) => {
                    *last_in = Instant::now();
                    match msg {
                        Message::Ping(_) => match pings.admit(*last_in) {
                            Some(held) if held > 0 => ctx.emit(id, EventKind::ServerPings(held + 1)),
                            Some(_) => ctx.emit(id, EventKind::ServerPing),
                            None => {}
                        },
                        Message::Text(_) | Message::Binary(_) => {
                            if let Some(held) = messages.admit(*last_in) {
                                ctx.emit(id, traffic(held + 1))
                            }
                        }
                        _ => {}
                    }
                }
                Read::Ended(close) => break HoldEnd::Dropped(close),
            },
        }
    };
    let (held_pings, held_messages) = (pings.take(), messages.take());
    if held_pings > 0 {
        ctx.emit(id, EventKind::ServerPings(held_pings));
    }
    if held_messages > 0 {
        ctx.emit(id, traffic(held_messages));
    }
    end
}

async fn hold_tcp(token: &CancellationToken, stream: &mut TcpStream) -> HoldEnd {
    let mut scratch = [0u8; 64];
    loop {
        tokio::select! {
            _ = token.cancelled() => return HoldEnd::Disrupt,
            ready = stream.readable() => {
                if ready.is_err() {
                    return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Reset, "socket error"));
                }
                match stream.try_read(&mut scratch) {
                    Ok(0) => return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Eof, "the server closed TCP")),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Reset, e.to_string())),
                }
            }
        }
    }
}

fn closed(ctx: &Ctx, id: ClientId, live: &Live, close: CloseInfo) {
    ctx.emit(id, EventKind::closed(close, live.opened, live.last_in, live.last_out, 0));
}

/// Disrupts a held connection as the plan says.
async fn disrupt(ctx: &Ctx, id: ClientId, live: Live) {
    if ctx.plan.disrupt == Disrupt::Close {
        return finish(ctx, id, live).await;
    }
    // Abrupt: RST without a close frame, as a dead network path looks to the
    // server; SO_LINGER 0 also leaves no TIME_WAIT behind on our side.
    let close = CloseInfo {
        code: 1006,
        reason: "disrupted by wsprobe".into(),
        abnormal: true,
        by_us: true,
        how: EndHow::Ours,
        detail: String::new(),
    };
    closed(ctx, id, &live, close);
    match &live.conn {
        Conn::Ws(ws) => crate::net::limits::reset_on_close(ws.get_ref().tcp()),
        Conn::Tcp(s) => crate::net::limits::reset_on_close(s),
    }
}

/// Closes cleanly at the end of the run (ours, never a drop).
async fn finish(ctx: &Ctx, id: ClientId, mut live: Live) {
    match &mut live.conn {
        Conn::Ws(ws) => {
            close_cleanly(ws, 1000, "wsprobe done", ctx.plan.close_timeout).await;
        }
        // A bare TCP client has no close handshake; a reset leaves no
        // TIME_WAIT on our ports to slow down the next run.
        Conn::Tcp(s) => crate::net::limits::reset_on_close(s),
    }
    closed(ctx, id, &live, CloseInfo::ours(1000, "wsprobe done"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_backoff() {
        let d = Duration::from_millis(100);
        assert_eq!(jittered(d, Jitter::None), d);
        for _ in 0..100 {
            assert!(jittered(d, Jitter::Full) <= d);
            let e = jittered(d, Jitter::Equal);
            assert!(e >= d / 2 && e <= d);
        }
    }
}
#[cfg(test)]
mod footprint {
    use super::*;

    /// The task future lives as long as its connection: at 10,000 clients
    /// every byte counts thousands of times, so its size is guarded.
    #[test]
    fn a_held_clients_task_stays_under_one_kib() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let plan = crate::check::storm::tests_support_plan();
        let endpoint = plan.client.endpoint("ws://127.0.0.1:1/".into(), vec![]).unwrap();
        let ctx = std::sync::Arc::new(Ctx {
            endpoint,
            plan,
            events: tx,
            disrupt: CancellationToken::new(),
            end: CancellationToken::new(),
            settled: Default::default(),
            settled_changed: Default::default(),
            connected: Default::default(),
            pending: tokio::sync::Semaphore::new(1),
        });
        let task = run(ctx, ClientId::new(0), tokio::time::Instant::now());
        assert!(std::mem::size_of_val(&task) <= 1024, "client task is {} bytes", std::mem::size_of_val(&task));
    }
}
