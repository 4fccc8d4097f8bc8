//! What `ratelimit` does after its schedule: wait for a closed window to
//! reopen (probes that back off, since a limiter that counts refused
//! attempts, as HAProxy's `conn_rate`, stays shut while probes come faster
//! than its limit), and the moment it does, fire a quick burst to tell a
//! window (all in again) from a token bucket (one at a time); in hold
//! mode, free a slot and see whether it comes back.

use std::time::{Duration, Instant};

use super::infer::{AttemptRecord, Purpose};
use super::probe::{retry_after_secs, Begun, Probe};
use super::{model, RatelimitPlan};
use crate::net::session::{close_cleanly, Watched};

/// Each window probe waits at least this share of the time waited so far:
/// the probe rate falls as the wait grows, and the window is still found
/// within about this share.
const BACKOFF_SHARE: f64 = 0.1;
/// Longest gap between two slot-reuse probes.
const REUSE_GAP_MAX: Duration = Duration::from_secs(2);
/// Longest wait for a freed slot to be given back.
const REUSE_WAIT: Duration = Duration::from_secs(5);
/// Most attempts in the refill burst.
const REFILL_MAX: u32 = 10;
/// Longest gap between two attempts of the refill burst.
const REFILL_GAP_MAX: Duration = Duration::from_millis(50);

/// The gap before the next window probe: `--probe-interval`, or a tenth of
/// the time since the first acceptance once that is longer (an exponential
/// backoff), never past the deadline.
pub fn window_gap(interval: Duration, waited: Duration) -> Duration {
    interval.max(waited.mul_f64(BACKOFF_SHARE))
}

/// Waits for the rate limit window to reopen: probes [`window_gap`] apart,
/// skipping ahead to where a Retry-After says the window may reopen; never
/// longer than --max-wait. The moment a probe is let in, the refill burst
/// starts.
pub async fn probe_window(plan: &RatelimitPlan, probe: &Probe<'_>, records: &mut Vec<AttemptRecord>, next: &mut u32) {
    let Some(first_rejection) = records.iter().position(|r| r.rejected()) else { return };
    let burst = refill_size(records, first_rejection);
    if records[first_rejection..].iter().any(|r| r.accepted()) {
        // Reopened during the schedule: the burst comes now, later than ideal.
        let done = refill(plan, probe, *next, burst).await;
        *next += done.len() as u32;
        records.extend(done);
        return;
    }
    let first_accept = records.iter().find(|r| r.accepted()).map_or(0.0, |r| r.at_s);
    let started = probe.t0 + Duration::from_secs_f64(first_accept);
    let deadline = Instant::now() + plan.max_wait;
    let mut allowed = earliest_retry(probe.t0, records);
    loop {
        let gap = Instant::now() + window_gap(plan.probe_interval, started.elapsed());
        let wait = allowed.take().map_or(gap, |a| a.max(gap));
        if wait > deadline || probe.stop.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wait.into()) => {}
            _ = probe.stop.cancelled() => return,
        }
        let opened = match probe.begin(*next, Purpose::WindowProbe).await {
            Begun::Done(record) => {
                *next += 1;
                allowed = earliest_retry(probe.t0, std::slice::from_ref(&record));
                records.push(record);
                continue;
            }
            Begun::Open(opened) => opened,
        };
        let ((record, _), burst) = tokio::join!(probe.settle(opened, false), refill(plan, probe, *next + 1, burst));
        *next += 1 + burst.len() as u32;
        records.push(record);
        records.extend(burst);
        return;
    }
}

/// Attempts in the refill burst: as many as the first burst let in.
fn refill_size(records: &[AttemptRecord], first_rejection: usize) -> u32 {
    let burst = records[..first_rejection].iter().filter(|r| r.accepted()).count() as u32;
    burst.clamp(1, REFILL_MAX)
}

/// Right after the window reopened, `count` attempts in quick succession
/// (numbered from `first`): a window lets them in again, a token bucket one
/// per refill. Their outcomes tell the two models apart.
async fn refill(plan: &RatelimitPlan, probe: &Probe<'_>, first: u32, count: u32) -> Vec<AttemptRecord> {
    let gap = plan.rate.interval().min(REFILL_GAP_MAX);
    let start = tokio::time::Instant::now();
    let attempts = (0..count).map(|i| async move {
        tokio::time::sleep_until(start + gap * (i + 1)).await;
        probe.attempt(first + i, Purpose::RefillProbe, false).await.0
    });
    tokio::select! {
        r = futures_util::future::join_all(attempts) => r,
        _ = probe.stop.cancelled() => Vec::new(),
    }
}

/// Most probes placed to decide between two limiter models.
const MODEL_PROBES: u32 = 3;
/// The silence before the refusal-counting probe, as a share of the window
/// the first cycle measured.
const SILENCE_SHARE: f64 = 0.6;

/// While different limiters explain the attempts equally well, an
/// experiment where they disagree, up to [`MODEL_PROBES`] times, each
/// within --max-wait. When one of them counts refused attempts and another
/// does not, the first is one attempt after a silence of
/// [`SILENCE_SHARE`] of the measured window: a limiter that ignores
/// refusals is still shut then (its state depends only on what it let in,
/// and the first cycle showed it shut that long), one whose window the
/// probing kept shut has reset. Otherwise it is a quick burst at the first
/// moment the two models would treat it differently (after a full
/// recovery single attempts look alike; bursts do not).
pub async fn probe_models(plan: &RatelimitPlan, probe: &Probe<'_>, records: &mut Vec<AttemptRecord>, next: &mut u32) {
    let mut silence_tried = false;
    for _ in 0..MODEL_PROBES {
        let fits = model::fit_all(records);
        let Some((a, b)) = model::rivals(&fits) else { return };
        let times = match (silence_tried, silent_probe_at(records, &fits)) {
            (false, Some(at)) => {
                silence_tried = true;
                vec![at]
            }
            _ => match first_disagreement(plan, probe, records, a, b) {
                Some(times) => times,
                None => return,
            },
        };
        let start = times[0];
        if start - probe.t0.elapsed().as_secs_f64() > plan.max_wait.as_secs_f64() {
            return;
        }
        let attempts = times.iter().enumerate().map(|(i, at)| {
            let n = *next + i as u32;
            async move {
                tokio::time::sleep_until((probe.t0 + Duration::from_secs_f64(*at)).into()).await;
                probe.attempt(n, Purpose::ModelProbe, false).await.0
            }
        });
        let done = tokio::select! {
            r = futures_util::future::join_all(attempts) => r,
            _ = probe.stop.cancelled() => return,
        };
        *next += done.len() as u32;
        records.extend(done);
    }
}

/// When the best fits disagree on counting refusals: the moment after the
/// last attempt when [`SILENCE_SHARE`] of the measured window has passed.
fn silent_probe_at(records: &[AttemptRecord], fits: &[model::Fit]) -> Option<f64> {
    let best = fits.first()?;
    let counting = |f: &model::Fit| f.kind == model::ModelKind::CountingWindow;
    fits.iter().find(|f| f.explained == best.explained && counting(f) != counting(best))?;
    let window = super::infer::window_s(records)?;
    let last = records.iter().map(|r| r.at_s).fold(0.0, f64::max);
    Some(last + SILENCE_SHARE * window)
}

/// The first burst, starting a probe interval apart from now, that the two
/// models would treat differently: its attempt times.
fn first_disagreement(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    records: &[AttemptRecord],
    a: &model::Fit,
    b: &model::Fit,
) -> Option<Vec<f64>> {
    let now = probe.t0.elapsed().as_secs_f64() + 0.05;
    let step = plan.probe_interval.as_secs_f64();
    let gap = plan.rate.interval().min(REFILL_GAP_MAX).as_secs_f64();
    let size = (a.burst.max(b.burst) + 1).min(REFILL_MAX) as usize;
    let steps = (plan.max_wait.as_secs_f64() / step).ceil().min(2_000.0) as u32;
    (0..steps).map(|i| now + step * f64::from(i)).find_map(|t| {
        let times: Vec<f64> = (0..size).map(|k| t + gap * k as f64).collect();
        (model::predict(a, records, &times) != model::predict(b, records, &times)).then_some(times)
    })
}

/// When to start probing again after these rejections' Retry-After: one
/// second before what it allows, since servers round the wait up to whole
/// seconds; probing from there finds the reopening within the probe
/// interval, so the refill burst comes while the limiter is still partly
/// spent (where a window and a bucket differ).
fn earliest_retry(t0: Instant, records: &[AttemptRecord]) -> Option<Instant> {
    records
        .iter()
        .filter(|r| r.rejected())
        .filter_map(|r| {
            let wait = retry_after_secs(r.retry_after.as_deref())?;
            Some(t0 + Duration::from_secs_f64(r.at_s + (wait - 1.0).max(0.0)))
        })
        .min()
}

/// Closes one held connection and tries again until a slot comes back or
/// --max-wait passes.
pub async fn probe_reuse(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    records: &mut Vec<AttemptRecord>,
    held: &mut Vec<Watched>,
    next: &mut u32,
) {
    if !records.iter().any(|r| r.rejected() || r.queued()) || held.is_empty() {
        return;
    }
    if let (Some(mut ws), _) = held.remove(0).finish().await {
        close_cleanly(&mut ws, 1000, "wsprobe: freeing a slot", plan.client.close_timeout).await;
    }
    // A cleanly closed connection frees its slot at once on a sound server;
    // a few seconds cover asynchronous clean-up without stalling the run.
    let deadline = Instant::now() + plan.max_wait.min(REUSE_WAIT);
    let mut gap = plan.probe_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            _ = probe.stop.cancelled() => return,
        }
        let (record, watched) = probe.attempt(*next, Purpose::ReuseProbe, true).await;
        *next += 1;
        let retry = retry_after_secs(record.retry_after.as_deref());
        let done = record.accepted();
        records.push(record);
        held.extend(watched);
        gap = retry.map(Duration::from_secs_f64).unwrap_or(gap * 2).min(REUSE_GAP_MAX);
        if done || Instant::now() + gap > deadline {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_probes_back_off_with_the_wait() {
        let interval = Duration::from_millis(100);
        assert_eq!(window_gap(interval, Duration::from_millis(500)), interval);
        assert_eq!(window_gap(interval, Duration::from_secs(20)), Duration::from_secs(2));
        // From a 100 ms gap, 60 s of waiting takes about 60 probes, not 600.
        let (mut waited, mut probes) = (Duration::ZERO, 0);
        while waited < Duration::from_secs(60) {
            waited += window_gap(interval, waited);
            probes += 1;
        }
        assert!((40..=70).contains(&probes), "{probes}");
    }
}
