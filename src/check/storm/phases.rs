//! The phases of a storm, driven: the first wave, the hold, the
//! disruption and the reconnect wave, each waited for until every client
//! settled, its time limit (--wave-timeout) passed, or Ctrl-C, and which
//! of the three it was (a wave Ctrl-C cut short was interrupted, not
//! timed out).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::report::{Interruption, StormPart};
use super::{client, Disrupt, StormPlan};
use crate::stats::listen_queue::ListenQueue;

/// After the reconnect wave, time for the last events to arrive.
const LATE_EVENTS: Duration = Duration::from_millis(200);

/// When each phase happened.
#[derive(Debug, Clone, Copy)]
pub struct Phases {
    /// Start of the run.
    pub t0: Instant,
    /// End of the first wave.
    pub connected_at: Instant,
    /// When the disruption started (None without one).
    pub disrupt_at: Option<Instant>,
    /// Clients connected after the first wave.
    pub wave0_connected: u32,
    /// Each wave (first, reconnect) that hit --wave-timeout.
    pub timed_out: [bool; 2],
    /// True when Ctrl-C cut the run short: what did not finish is not the
    /// server's failure.
    pub interrupted: bool,
    /// Where Ctrl-C cut it (a wave that did not finish was interrupted,
    /// not timed out).
    pub interruption: Option<Interruption>,
    /// The change in the kernel's listen-queue counters, target on loopback.
    pub listen_queue: Option<ListenQueue>,
}

/// How waiting for a wave ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waited {
    /// Every client settled.
    Settled,
    /// The wave's time limit passed first.
    TimedOut,
    /// Ctrl-C came first.
    Stopped,
}

/// The part of the run Ctrl-C cut, `since` it started.
fn cut(during: StormPart, since: Instant) -> Option<Interruption> {
    Some(Interruption { during, after_s: crate::units::secs(since.elapsed()) })
}

/// The phases: the first wave of `arrivals` clients, the hold, the
/// disruption and the reconnect wave.
pub(super) async fn drive(plan: &StormPlan, ctx: &client::Ctx, arrivals: u32, stop: &CancellationToken) -> Phases {
    let t0 = Instant::now();
    let wave0_limit = plan.ramp.unwrap_or_default()
        + plan.connect_rate.map(|r| r.interval().saturating_mul(plan.clients)).unwrap_or_default()
        + plan.wave_timeout;
    let first = wait_for(ctx, 0, arrivals, wave0_limit, stop).await;
    let mut interruption = if first == Waited::Stopped { cut(StormPart::FirstWave, t0) } else { None };
    let connected_at = Instant::now();
    let wave0_connected = ctx.connected[0].load(Ordering::SeqCst);
    tokio::select! {
        _ = tokio::time::sleep(plan.hold) => {}
        _ = stop.cancelled() => { interruption = interruption.or(cut(StormPart::Hold, connected_at)); }
    }
    let (mut disrupt_at, mut reconnect) = (None, Waited::Settled);
    if plan.disrupt != Disrupt::None && !stop.is_cancelled() {
        let at = Instant::now();
        disrupt_at = Some(at);
        ctx.disrupt.cancel();
        reconnect = wait_for(ctx, 1, wave0_connected, plan.wave_timeout, stop).await;
        if reconnect == Waited::Stopped {
            interruption = cut(StormPart::ReconnectWave, at);
        }
        tokio::select! {
            _ = tokio::time::sleep(LATE_EVENTS) => {}
            _ = stop.cancelled() => {}
        }
    }
    Phases {
        t0,
        connected_at,
        disrupt_at,
        wave0_connected,
        timed_out: [first == Waited::TimedOut, reconnect == Waited::TimedOut],
        interrupted: stop.is_cancelled(),
        interruption,
        listen_queue: None,
    }
}

/// Waits until `count` clients settled `wave`, `limit` passes, or Ctrl-C.
/// Woken when the count is reached, not polled.
///
/// Ctrl-C comes first: it ends the run, and the clients it cut short (and
/// those never started) then settle at once, so a count reached after it
/// is the interruption's doing, not the wave finishing.
async fn wait_for(ctx: &client::Ctx, wave: u8, count: u32, limit: Duration, stop: &CancellationToken) -> Waited {
    let finished = |settled: bool| match (stop.is_cancelled(), settled) {
        (true, _) => Waited::Stopped,
        (false, true) => Waited::Settled,
        (false, false) => Waited::TimedOut,
    };
    tokio::select! {
        biased;
        _ = stop.cancelled() => Waited::Stopped,
        _ = ctx.settled.reached(wave, count) => finished(true),
        _ = tokio::time::sleep(limit) => finished(ctx.settled.get(wave) >= count),
    }
}
