//! One storm client's life from its first attempt (the launcher starts it
//! at its start time): connect (retrying by the backoff policy), hold
//! (parked while idle; echo round trips timed from the *intended* send
//! time, so a stalled server shows up), get disrupted, reconnect, and close
//! cleanly at the end. It only emits events; the collector counts.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::hold::{hold, HoldEnd};
use super::StormPlan;
use super::{Disrupt, Jitter};
use crate::event::{CloseInfo, EndHow, Event, EventKind};
use crate::net::attempt::{Outcome, Phase, PhaseTimes};
use crate::net::connect::{open, Attempt, ClientWs, FailureKind};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, DONE_CODE, DONE_REASON};
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
    /// Clients done with each wave (connected or given up), and the
    /// phase driver's wake-up when its count is reached.
    pub settled: super::settle::Settled,
    /// Clients connected in each wave.
    pub connected: [AtomicU32; 2],
    /// Permits for connection attempts in flight (--max-pending).
    pub pending: tokio::sync::Semaphore,
    /// Where idle connections go to be held cheaply.
    pub parked: UnboundedSender<super::park::Parked>,
    /// Every task of the storm, so its end waits for all of them.
    pub tracker: tokio_util::task::TaskTracker,
}

impl Ctx {
    /// Sends one event to the collector.
    pub(super) fn emit(&self, client: ClientId, kind: EventKind) {
        let _ = self.events.send(Event { client: client.index, at: Instant::now(), kind });
    }

    /// One more client is done with `wave` (connected or given up).
    pub(super) fn settle(&self, wave: u8) {
        self.settled.add(wave);
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

/// Runs one client from its first attempt to the end of the storm; the
/// launcher started it at its start time, holding an attempt slot for it.
///
/// This future lives as long as its connection unless the connection is
/// parked (see [`super::park`]), so everything transient (connecting, echo
/// loops, closing) is boxed.
pub async fn run(ctx: Arc<Ctx>, id: ClientId, slot: Slot) {
    if ctx.end.is_cancelled() {
        return ctx.settle(0);
    }
    from_wave(ctx, id, 0, Some(slot)).await
}

/// Connects in `first` and the waves after it, holding each connection:
/// parked while it is idle (its task then ends, the holder carries on),
/// or here.
async fn from_wave(ctx: Arc<Ctx>, id: ClientId, first: u8, mut slot: Option<Slot>) {
    for wave in first..=1u8 {
        let Some(live) = Box::pin(connect_wave(&ctx, id, wave, slot.take())).await else { return };
        let Some(live) = Box::pin(super::park::park(&ctx, id, wave, live)).await else { return };
        if !Box::pin(held(&ctx, id, wave, live)).await {
            return;
        }
    }
}

/// Carries on with a connection the holder woke (it became readable, or
/// the hold is over): built again, held, then as [`from_wave`] goes on.
/// `slot` is the attempt slot the holder took to pace a mass wake-up.
pub(super) async fn resume(ctx: Arc<Ctx>, parked: super::park::Parked, slot: Option<Slot>) {
    let (id, wave) = (parked.id, parked.wave);
    let live = parked.into_live(&ctx.endpoint).await;
    let go_on = Box::pin(held(&ctx, id, wave, live)).await;
    drop(slot);
    if go_on && wave == 0 {
        Box::pin(from_wave(ctx, id, 1, None)).await
    }
}

/// Holds a connection of `wave` and ends the hold as it ended: true when the
/// client goes on to its next wave.
async fn held(ctx: &Ctx, id: ClientId, wave: u8, mut live: Live) -> bool {
    let until_disrupt = wave == 0 && ctx.plan.disrupt != Disrupt::Server;
    match hold(ctx, id, &mut live, until_disrupt).await {
        HoldEnd::Dropped(close) => {
            if let Conn::Ws(ws) = &mut live.conn {
                Box::pin(crate::net::session::conclude(ws, &close, ctx.plan.close_timeout)).await;
            }
            closed(ctx, id, &live, close);
            true
        }
        HoldEnd::Disrupt if wave == 0 => {
            Box::pin(disrupt(ctx, id, live)).await;
            true
        }
        HoldEnd::End | HoldEnd::Disrupt => {
            Box::pin(finish(ctx, id, live)).await;
            false
        }
    }
}

/// An attempt slot (one of `--max-pending`) taken before the task that
/// uses it existed; given back when dropped.
pub struct Slot(Arc<Ctx>);

impl Slot {
    /// Waits for a free slot; `None` once the run is over.
    pub(super) async fn take(ctx: &Arc<Ctx>) -> Option<Slot> {
        tokio::select! {
            slot = Slot::wait(ctx) => slot,
            _ = ctx.end.cancelled() => None,
        }
    }

    /// Waits for a free slot, also after the run is over (closing paces
    /// itself by the same slots).
    pub(super) async fn wait(ctx: &Arc<Ctx>) -> Option<Slot> {
        ctx.pending.acquire().await.ok()?.forget();
        Some(Slot(ctx.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.pending.add_permits(1);
    }
}

/// Connects with retries; `None` when the client gave up or the run ended.
async fn connect_wave(ctx: &Ctx, id: ClientId, wave: u8, mut slot: Option<Slot>) -> Option<Live> {
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
        // Wait for a slot before allocating the attempt (the first attempt's
        // slot was taken before this task was spawned).
        let permit = match slot.take() {
            Some(first) => (None, Some(first)),
            None => tokio::select! {
                p = ctx.pending.acquire() => (p.ok(), None),
                _ = ctx.end.cancelled() => break,
            },
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
    let (outcome, phases, total) = (attempt.outcome(), attempt.phase_times(), started.elapsed());
    ctx.emit(id, EventKind::Attempt { wave, outcome, phases, total });
    match (&attempt, attempt.timings().app) {
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
    let phases = PhaseTimes {
        tcp: stream.as_ref().map(|_| elapsed),
        timed_out: (outcome == Outcome::Failed(FailureKind::Timeout)).then_some(Phase::Tcp),
        ..PhaseTimes::default()
    };
    ctx.emit(id, EventKind::Attempt { wave, outcome, phases, total: elapsed });
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

pub(super) fn closed(ctx: &Ctx, id: ClientId, live: &Live, close: CloseInfo) {
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
            close_cleanly(ws, DONE_CODE, DONE_REASON, ctx.plan.close_timeout).await;
        }
        // A bare TCP client has no close handshake; a reset leaves no
        // TIME_WAIT on our ports to slow down the next run.
        Conn::Tcp(s) => crate::net::limits::reset_on_close(s),
    }
    closed(ctx, id, &live, CloseInfo::ours(DONE_CODE, DONE_REASON));
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
            connected: Default::default(),
            pending: tokio::sync::Semaphore::new(1),
            parked: tokio::sync::mpsc::unbounded_channel().0,
            tracker: Default::default(),
        });
        let slot = Slot(ctx.clone());
        {
            // Boxed once per attempt: the rare steps' large futures (DNS,
            // proxy, TLS, app handshake, redirects) are boxed apart so the
            // common plain attempt stays near one small allocation (it was
            // 7 KB, copied and allocated outside malloc's fast bins).
            let attempt = attempt_once(&ctx, ClientId::new(0), 0);
            let size = std::mem::size_of_val(&attempt);
            assert!(size <= 1200, "an attempt's future is {size} bytes");
        }
        let task = run(ctx, ClientId::new(0), slot);
        assert!(std::mem::size_of_val(&task) <= 1024, "client task is {} bytes", std::mem::size_of_val(&task));
    }
}
