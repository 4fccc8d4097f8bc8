//! Turning a storm's statistics into findings, a diagnosis and the JSON
//! fields; and the live progress line while it runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::stats::{StormStats, WaveStats};
use super::{client::Ctx, Disrupt, Phases, StormPlan};
use crate::check::Observation;
use crate::clock::{rfc3339, Origin};
use crate::net::attempt::{FailureKind, Outcome};
use crate::report::progress::LiveProgress;
use crate::report::table::Style;
use crate::report::Details;
use crate::stats::latency::{Bucket, Percentiles};
use crate::stats::selfwatch::{self, Sample};
use crate::units::secs;

/// Messages sent and echoed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Messages {
    /// Sent.
    pub sent: u64,
    /// Received.
    pub received: u64,
    /// Received per second while messages flowed.
    pub per_s: Option<f64>,
}

/// The histograms, HdrHistogram V2 + base64, mergeable across machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Histograms {
    /// First-wave handshake (µs).
    pub handshake: String,
    /// Reconnect-wave handshake (µs).
    pub reconnect_handshake: String,
    /// TCP connect (µs), both waves.
    pub tcp_connect: String,
    /// Echo round trips (µs).
    pub round_trip: String,
    /// The application handshake, "app ready" (µs), both waves.
    pub app_ready: String,
    /// The proxy's tunnel (µs), both waves; empty in a report saved
    /// before proxies were timed.
    #[serde(default = "empty_histogram")]
    pub proxy_connect: String,
}

/// One wave's counts (0: first connect, 1: reconnect).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveCounts {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts accepted.
    pub accepted: u64,
    /// Clients that gave up.
    pub gave_up: u64,
}

/// When the storm's phases happened (UTC, RFC 3339, µs; null when they
/// did not), so shards' rates and recovery line up on one clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StormTimes {
    /// The last first-wave connection.
    pub connected_at: Option<String>,
    /// The disruption.
    pub disrupt_at: Option<String>,
    /// The server's first drop.
    pub first_drop_at: Option<String>,
    /// The last reconnection.
    pub reconnected_at: Option<String>,
    /// The intended send time of the first message.
    pub first_message_at: Option<String>,
    /// The arrival of the last echo.
    pub last_message_at: Option<String>,
}

/// An empty histogram, for reports that carry none of a kind.
fn empty_histogram() -> String {
    crate::stats::latency::Latency::new().to_base64()
}

/// `storm`'s JSON fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StormDetails {
    /// `websocket` or `tcp-only`.
    pub mode: String,
    /// Clients asked for.
    pub clients: u32,
    /// Clients connected in the first wave.
    pub connected: u64,
    /// Clients connected again after the disruption.
    pub reconnected: Option<u64>,
    /// Clients that gave up (both waves).
    pub gave_up: u64,
    /// Attempts in all.
    pub attempts: u64,
    /// First-wave connections per second, from the start to the last one.
    pub connections_per_s: Option<f64>,
    /// First-wave connections per second over the whole seconds of the
    /// wave (for a merge: the seconds every shard was connecting).
    pub steady_connections_per_s: Option<f64>,
    /// Most attempts in any one-second window.
    pub peak_attempts_per_s: u64,
    /// The reconnect wave's own peak: most attempts in any one-second
    /// window from its first attempt on; null without a disruption.
    pub reconnect_peak_attempts_per_s: Option<u64>,
    /// Attempts in each second of the run.
    pub attempts_per_s: Vec<u64>,
    /// Seconds from the disruption until every client was back.
    pub recovery_s: Option<f64>,
    /// Most connections open at once.
    pub peak_concurrent: i64,
    /// First-wave connect time (TCP + TLS + upgrade), ms.
    pub handshake_ms: Option<Percentiles>,
    /// Reconnect-wave connect time, ms.
    pub reconnect_handshake_ms: Option<Percentiles>,
    /// TCP connect time, ms.
    pub tcp_connect_ms: Option<Percentiles>,
    /// The proxy's tunnel, ms; null without a proxy.
    #[serde(default)]
    pub proxy_connect_ms: Option<Percentiles>,
    /// Echo round trip from the intended send time, ms.
    pub round_trip_ms: Option<Percentiles>,
    /// The application handshake ("app ready", after the upgrade), ms;
    /// null without an application layer.
    pub app_ready_ms: Option<Percentiles>,
    /// Messages.
    pub messages: Messages,
    /// Failed attempts by outcome.
    pub rejections: BTreeMap<Outcome, u64>,
    /// The application protocol's first refusal message after the
    /// upgrade; null without one.
    pub app_refusal: Option<String>,
    /// Closes the server caused, by code.
    pub drops: BTreeMap<String, u64>,
    /// First-wave handshake histogram (V2 + base64).
    pub histogram: String,
    /// Every histogram (V2 + base64).
    pub histograms: Histograms,
    /// First-wave handshake distribution for the terminal chart.
    pub handshake_buckets: Vec<Bucket>,
    /// The disruption.
    pub disrupt: Disrupt,
    /// The backoff policy.
    pub backoff: String,
    /// Attempts per client and wave before giving up.
    pub max_attempts: u32,
    /// Each wave's counts.
    pub waves: [WaveCounts; 2],
    /// When the phases happened.
    pub times: StormTimes,
}

impl Details for StormDetails {
    fn table(&self, style: Style) -> String {
        super::table::render(self, style)
    }
}

/// Builds the storm's observation: the details, judged by [`super::judge`],
/// plus warnings about wsprobe's own limits.
pub fn build(plan: &StormPlan, stats: &StormStats, phases: &Phases, samples: &[Sample]) -> Observation {
    let details = details(plan, stats, phases);
    let mut obs = super::judge::judge(&details, phases.interrupted);
    warnings(stats, phases, samples, &mut obs);
    obs.with_details(details)
}

fn details(plan: &StormPlan, stats: &StormStats, phases: &Phases) -> StormDetails {
    let [w0, w1] = &stats.waves;
    let mut tcp = w0.tcp.clone();
    // Both are built by Latency::new, so the settings always match.
    if let Err(e) = tcp.merge(&w1.tcp) {
        tracing::warn!("tcp connect histogram: {e}");
    }
    let recovery_s = phases.disrupt_at.and_then(|at| {
        let start = if plan.disrupt == Disrupt::Server { stats.first_drop? } else { at };
        let all_back = w1.accepted >= u64::from(phases.wave0_connected) && phases.wave0_connected > 0;
        let back_at = w1.last_accept?;
        all_back.then(|| secs(back_at.saturating_duration_since(start)))
    });
    let origin = Origin::at(stats.t0);
    let times = times(stats, phases, origin);
    let steady = w0.last_accept.and_then(|end| {
        stats.timeline.steady_rate(origin.wall, origin.wall_of(end), crate::stats::timeline::Count::Accepted)
    });
    StormDetails {
        mode: if plan.tcp_only { "tcp-only" } else { "websocket" }.to_string(),
        clients: plan.local_clients(),
        connected: w0.accepted,
        reconnected: phases.disrupt_at.map(|_| w1.accepted),
        gave_up: w0.gave_up + w1.gave_up,
        attempts: stats.attempts(),
        connections_per_s: stats.connections_per_s().map(|r| r.round()),
        steady_connections_per_s: steady.map(f64::round),
        peak_attempts_per_s: stats.peak_attempts_per_s(),
        reconnect_peak_attempts_per_s: phases.disrupt_at.map(|_| reconnect_peak(stats)),
        attempts_per_s: stats.attempts_per_second(),
        recovery_s,
        peak_concurrent: stats.peak_concurrent,
        handshake_ms: w0.handshake.percentiles(),
        reconnect_handshake_ms: w1.handshake.percentiles(),
        tcp_connect_ms: tcp.percentiles(),
        proxy_connect_ms: stats.proxy.percentiles(),
        round_trip_ms: stats.round_trip.percentiles(),
        app_ready_ms: stats.app_ready.percentiles(),
        messages: Messages {
            sent: stats.messages_out,
            received: stats.messages_in,
            per_s: stats.messages_per_s().map(f64::round),
        },
        rejections: stats.rejections(),
        app_refusal: stats.app_refusal.clone(),
        drops: stats.drops.iter().map(|(code, n)| (code.to_string(), *n)).collect(),
        histogram: w0.handshake.to_base64(),
        histograms: histograms(stats, &tcp),
        handshake_buckets: w0.handshake.buckets(),
        disrupt: plan.disrupt,
        backoff: format!("{} (jitter {})", plan.backoff, plan.jitter),
        max_attempts: plan.max_attempts,
        waves: [counts(w0), counts(w1)],
        times,
    }
}

/// Every histogram of the run, encoded; `tcp` is both waves' TCP connects.
fn histograms(stats: &StormStats, tcp: &crate::stats::latency::Latency) -> Histograms {
    let [w0, w1] = &stats.waves;
    Histograms {
        handshake: w0.handshake.to_base64(),
        reconnect_handshake: w1.handshake.to_base64(),
        tcp_connect: tcp.to_base64(),
        round_trip: stats.round_trip.to_base64(),
        app_ready: stats.app_ready.to_base64(),
        proxy_connect: stats.proxy.to_base64(),
    }
}

/// When each phase happened, on the wall clock.
fn times(stats: &StormStats, phases: &Phases, origin: Origin) -> StormTimes {
    let at = |i: Option<Instant>| i.map(|i| rfc3339(origin.wall_of(i)));
    StormTimes {
        connected_at: at(stats.waves[0].last_accept),
        disrupt_at: at(phases.disrupt_at),
        first_drop_at: at(stats.first_drop),
        reconnected_at: at(stats.waves[1].last_accept),
        first_message_at: at(stats.first_message),
        last_message_at: at(stats.last_message),
    }
}

/// The reconnect wave's own peak rate (from its first attempt on).
fn reconnect_peak(stats: &StormStats) -> u64 {
    stats.waves[1].first_attempt.map_or(0, |first| stats.peak_attempts_per_s_since(first))
}

fn counts(w: &WaveStats) -> WaveCounts {
    WaveCounts { attempts: w.attempts, accepted: w.accepted, gave_up: w.gave_up }
}

fn warnings(stats: &StormStats, phases: &Phases, samples: &[Sample], obs: &mut Observation) {
    let mut w = selfwatch::warnings(samples, phases.t0, phases.connected_at, "the first wave");
    if let Some(at) = phases.disrupt_at {
        let end = stats.waves[1].last_accept.unwrap_or(at);
        w.extend(selfwatch::warnings(samples, at, end.max(at), "the reconnect wave"));
    }
    if let Some(n) = stats.outcomes.get(&Outcome::Failed(FailureKind::LocalLimit)) {
        w.push(format!(
            "{n} attempts failed on a limit of this machine (open files or ephemeral ports), not of the server"
        ));
    }
    if phases.timed_out {
        w.push("a wave hit --wave-timeout before every client settled; the numbers cover what finished".into());
    }
    obs.warnings = w;
}

/// The live progress line: connected / target, attempts/s, errors, phase.
pub fn progress(plan: &StormPlan, stats: Arc<Mutex<StormStats>>, ctx: Arc<Ctx>) -> LiveProgress {
    let bar = crate::report::progress::bar(plan.progress, u64::from(plan.local_clients()), "connecting");
    LiveProgress::start(bar, stats, move |s: &StormStats, bar| {
        bar.set_position(s.concurrent.max(0) as u64);
        bar.set_message(progress_message(s, &ctx));
    })
}

fn progress_message(s: &StormStats, ctx: &Ctx) -> String {
    let recent: u64 = s.per_bucket.iter().rev().take(10).map(|&n| u64::from(n)).sum();
    let since_start = Instant::now().saturating_duration_since(s.t0);
    let fresh = s.per_bucket.len() as u128 * super::stats::BUCKET.as_millis() + 1000 >= since_start.as_millis();
    let rate = if fresh { recent } else { 0 };
    let phase = if ctx.disrupt.is_cancelled() { "reconnect wave" } else { "first wave / hold" };
    let errors = crate::report::counts(&s.rejections());
    let errors = if errors.is_empty() { String::new() } else { format!(" | {errors}") };
    format!("connected | {rate} attempts/s | {phase}{errors}")
}
