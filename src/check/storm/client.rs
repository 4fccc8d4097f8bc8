//! One storm client's life: wait for its start time, connect (retrying by
//! the backoff policy), hold (echo round trips timed from the *intended*
//! send time, so a stalled server shows up), get disrupted, reconnect, and
//! close cleanly at the end. It only emits events; the collector counts.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::StormPlan;
use crate::cli::{Disrupt, Jitter};
use crate::event::{CloseInfo, EndHow, Event, EventKind};
use crate::net::connect::{open, Attempt, ClientWs};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret, Read};
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
}

impl Ctx {
    fn emit(&self, client: ClientId, kind: EventKind) {
        let _ = self.events.send(Event {
            client: client.index,
            at: Instant::now(),
            kind,
        });
    }

    fn settle(&self, wave: u8) {
        self.settled[usize::from(wave.min(1))].fetch_add(1, Ordering::SeqCst);
    }

    fn connected(&self, wave: u8) {
        self.connected[usize::from(wave.min(1))].fetch_add(1, Ordering::SeqCst);
        self.settle(wave);
    }
}

/// An open connection and its traffic clocks.
struct Live {
    conn: Conn,
    opened: Instant,
    last_in: Instant,
    last_out: Instant,
}

enum Conn {
    Ws(ClientWs),
    Tcp(TcpStream),
}

/// How a hold ended.
enum HoldEnd {
    Disrupt,
    Dropped(CloseInfo),
    End,
}

/// Runs one client from its start time to the end of the storm.
pub async fn run(ctx: std::sync::Arc<Ctx>, id: ClientId, start_at: tokio::time::Instant) {
    tokio::select! {
        _ = tokio::time::sleep_until(start_at) => {}
        _ = ctx.end.cancelled() => return ctx.settle(0),
    }
    let Some(mut live) = connect_wave(&ctx, id, 0).await else {
        return;
    };
    let ended = hold(&ctx, id, &mut live, ctx.plan.disrupt != Disrupt::Server).await;
    match ended {
        HoldEnd::End => return finish(&ctx, id, live).await,
        HoldEnd::Dropped(close) => closed(&ctx, id, &live, close),
        HoldEnd::Disrupt => disrupt(&ctx, id, live).await,
    }
    let Some(mut live) = connect_wave(&ctx, id, 1).await else {
        return;
    };
    match hold(&ctx, id, &mut live, false).await {
        HoldEnd::Dropped(close) => closed(&ctx, id, &live, close),
        HoldEnd::End | HoldEnd::Disrupt => finish(&ctx, id, live).await,
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
        let result = tokio::select! {
            r = Box::pin(attempt_once(ctx, id, wave)) => r,
            _ = ctx.end.cancelled() => break,
        };
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
    ctx.emit(
        id,
        EventKind::Attempt {
            wave,
            outcome: attempt.label(),
            tcp: t.tcp,
            upgrade: t.upgrade,
            total: started.elapsed(),
        },
    );
    match attempt {
        Attempt::Open(o) => Some(Live {
            conn: Conn::Ws(o.ws),
            opened: o.at,
            last_in: o.at,
            last_out: o.at,
        }),
        Attempt::Rejected(_) | Attempt::Failed(_) => None,
    }
}

async fn tcp_attempt(ctx: &Ctx, id: ClientId, wave: u8, started: Instant) -> Option<Live> {
    let addrs = ctx.endpoint.pinned.as_deref().unwrap_or_default();
    let ips = &ctx.endpoint.source_ips;
    let source = (!ips.is_empty()).then(|| ips[id.index as usize % ips.len()]);
    let result = match addrs.first() {
        Some(addr) => {
            tokio::time::timeout(
                ctx.endpoint.connect_timeout,
                crate::net::connect::connect_tcp(*addr, source),
            )
            .await
        }
        None => Ok(Err(std::io::Error::other("no address"))),
    };
    let elapsed = started.elapsed();
    let (outcome, stream) = match result {
        Ok(Ok(s)) => ("accepted".to_string(), Some(s)),
        Ok(Err(e)) => (
            crate::net::connect::FailureKind::from_io(&e)
                .label()
                .to_string(),
            None,
        ),
        Err(_) => ("timeout".to_string(), None),
    };
    let tcp = stream.as_ref().map(|_| elapsed);
    ctx.emit(
        id,
        EventKind::Attempt {
            wave,
            outcome,
            tcp,
            upgrade: None,
            total: elapsed,
        },
    );
    let now = Instant::now();
    stream.map(|s| Live {
        conn: Conn::Tcp(s),
        opened: now,
        last_in: now,
        last_out: now,
    })
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
    match &mut live.conn {
        Conn::Tcp(stream) => hold_tcp(ctx, stream, until_disrupt).await,
        Conn::Ws(_) => hold_ws(ctx, id, live, until_disrupt).await,
    }
}

async fn hold_tcp(ctx: &Ctx, stream: &mut TcpStream, until_disrupt: bool) -> HoldEnd {
    let mut scratch = [0u8; 256];
    loop {
        tokio::select! {
            _ = ctx.disrupt.cancelled(), if until_disrupt => return HoldEnd::Disrupt,
            _ = ctx.end.cancelled() => return HoldEnd::End,
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

/// Round trips are paired with the sends they answer, in order; at most this
/// many may be outstanding before the client stops adding more.
const MAX_OUTSTANDING: usize = 1024;

async fn hold_ws(ctx: &Ctx, id: ClientId, live: &mut Live, until_disrupt: bool) -> HoldEnd {
    let Conn::Ws(ws) = &mut live.conn else {
        return HoldEnd::End;
    };
    let message = ctx.plan.message.as_deref();
    let period = ctx.plan.message_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut intended: VecDeque<Instant> = VecDeque::new();
    let mut batch = RoundTrips::default();
    let end = loop {
        tokio::select! {
            _ = ctx.disrupt.cancelled(), if until_disrupt => break HoldEnd::Disrupt,
            _ = ctx.end.cancelled() => break HoldEnd::End,
            due = ticker.tick(), if message.is_some() => {
                if intended.len() >= MAX_OUTSTANDING {
                    continue;
                }
                intended.push_back(due.into_std());
                live.last_out = Instant::now();
                if let Err(e) = ws.send(Message::text(message.unwrap_or_default())).await {
                    break HoldEnd::Dropped(crate::net::session::close_from_error(&e));
                }
                ctx.emit(id, EventKind::MessageOut);
            }
            item = ws.next() => match interpret(item) {
                Read::Frame(msg) => {
                    live.last_in = Instant::now();
                    match msg {
                        Message::Ping(_) => ctx.emit(id, EventKind::ServerPing),
                        Message::Text(_) | Message::Binary(_) => {
                            if let Some(sent) = intended.pop_front() {
                                batch.push(ctx, id, live.last_in.saturating_duration_since(sent));
                            }
                            ctx.emit(id, EventKind::MessageIn);
                        }
                        _ => {}
                    }
                }
                Read::Ended(close) => break HoldEnd::Dropped(close),
            },
        }
    };
    batch.flush(ctx, id);
    end
}

/// Round-trip samples gathered per client and sent in batches, so an echo
/// flood does not cost one channel message per sample.
#[derive(Default)]
struct RoundTrips(Vec<u32>);

impl RoundTrips {
    fn push(&mut self, ctx: &Ctx, id: ClientId, d: Duration) {
        self.0.push(d.as_micros().min(u128::from(u32::MAX)) as u32);
        if self.0.len() >= 256 {
            self.flush(ctx, id);
        }
    }

    fn flush(&mut self, ctx: &Ctx, id: ClientId) {
        if !self.0.is_empty() {
            ctx.emit(id, EventKind::RoundTrips(std::mem::take(&mut self.0)));
        }
    }
}

fn closed(ctx: &Ctx, id: ClientId, live: &Live, close: CloseInfo) {
    let now = Instant::now();
    let kind = EventKind::Closed {
        close,
        after: now.duration_since(live.opened),
        idle_in: now.duration_since(live.last_in),
        idle_out: now.duration_since(live.last_out),
    };
    ctx.emit(id, kind);
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
    if let Conn::Ws(ws) = &mut live.conn {
        close_cleanly(ws, 1000, "wsprobe done", ctx.plan.close_timeout).await;
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
