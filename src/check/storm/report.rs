//! Turning a storm's statistics into findings, a diagnosis and the JSON
//! fields; and the live progress line while it runs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use super::stats::StormStats;
use super::{client::Ctx, Disrupt, Phases, StormPlan};
use crate::check::Observation;
use crate::net::attempt::{FailureKind, Outcome};
use crate::report::progress::LiveProgress;
use crate::report::table::Style;
use crate::report::{Details, Finding};
use crate::stats::latency::{Bucket, Percentiles};
use crate::stats::selfwatch::{self, Sample};
use crate::units::secs;

/// Messages sent and echoed.
#[derive(Debug, Clone, Serialize)]
pub struct Messages {
    /// Sent.
    pub sent: u64,
    /// Received.
    pub received: u64,
    /// Received per second while messages flowed.
    pub per_s: Option<f64>,
}

/// The histograms, HdrHistogram V2 + base64, mergeable across machines.
#[derive(Debug, Clone, Serialize)]
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
    /// The proxy's tunnel (µs), both waves.
    pub proxy_connect: String,
}

/// `storm`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct StormDetails {
    /// `websocket` or `tcp-only`.
    pub mode: &'static str,
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
    /// First-wave connections per second.
    pub connections_per_s: Option<f64>,
    /// Most attempts in any one-second window.
    pub peak_attempts_per_s: u64,
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
}

impl Details for StormDetails {
    fn table(&self, style: Style) -> String {
        super::table::render(self, style)
    }
}

/// Builds the storm's observation.
pub fn build(plan: &StormPlan, stats: &StormStats, phases: &Phases, samples: &[Sample]) -> Observation {
    let mut obs = Observation::default();
    let details = details(plan, stats, phases);
    findings(plan, stats, phases, &details, &mut obs);
    diagnosis(plan, stats, &details, &mut obs);
    warnings(stats, phases, samples, &mut obs);
    if let Some(why) = unreachable(stats) {
        obs.error = Some(why);
    }
    obs.with_details(details)
}

/// The target never answered at all (every first-wave attempt refused or
/// unresolvable): that is wsprobe not able to do its job, not a result.
fn unreachable(stats: &StormStats) -> Option<String> {
    let w0 = &stats.waves[0];
    let silent = |k: &Outcome| {
        matches!(
            k,
            Outcome::Failed(FailureKind::Refused | FailureKind::Dns | FailureKind::Unreachable | FailureKind::Proxy)
                | Outcome::Proxy(_)
        )
    };
    let all_silent = w0.attempts > 0 && w0.accepted == 0 && stats.outcomes.keys().all(silent);
    all_silent.then(|| {
        format!(
            "the target is unreachable: all {} first-wave attempts failed ({})",
            w0.attempts,
            crate::report::counts(&stats.outcomes)
        )
    })
}

fn details(plan: &StormPlan, stats: &StormStats, phases: &Phases) -> StormDetails {
    let [w0, w1] = &stats.waves;
    let mut tcp = w0.tcp.clone();
    tcp.merge(&w1.tcp);
    let recovery_s = phases.disrupt_at.and_then(|at| {
        let start = if plan.disrupt == Disrupt::Server { stats.first_drop? } else { at };
        let all_back = w1.accepted >= u64::from(phases.wave0_connected) && phases.wave0_connected > 0;
        let back_at = w1.last_accept?;
        all_back.then(|| secs(back_at.saturating_duration_since(start)))
    });
    StormDetails {
        mode: if plan.tcp_only { "tcp-only" } else { "websocket" },
        clients: plan.clients,
        connected: w0.accepted,
        reconnected: phases.disrupt_at.map(|_| w1.accepted),
        gave_up: w0.gave_up + w1.gave_up,
        attempts: stats.attempts(),
        connections_per_s: stats.connections_per_s().map(|r| r.round()),
        peak_attempts_per_s: stats.peak_attempts_per_s(),
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
        drops: stats.drops.iter().map(|(code, n)| (code.to_string(), *n)).collect(),
        histogram: w0.handshake.to_base64(),
        histograms: Histograms {
            handshake: w0.handshake.to_base64(),
            reconnect_handshake: w1.handshake.to_base64(),
            tcp_connect: tcp.to_base64(),
            round_trip: stats.round_trip.to_base64(),
            app_ready: stats.app_ready.to_base64(),
            proxy_connect: stats.proxy.to_base64(),
        },
        handshake_buckets: w0.handshake.buckets(),
        disrupt: plan.disrupt,
        backoff: format!("{} (jitter {})", plan.backoff, plan.jitter),
    }
}

fn findings(plan: &StormPlan, stats: &StormStats, phases: &Phases, d: &StormDetails, obs: &mut Observation) {
    let first_ok = d.connected == u64::from(plan.clients);
    let mut detail = format!("{}/{} clients connected", d.connected, plan.clients);
    if let Some(rate) = d.connections_per_s {
        detail.push_str(&format!(" ({rate:.0}/s)"));
    }
    if !first_ok && !d.rejections.is_empty() {
        detail.push_str(&format!("; failed attempts: {}", crate::report::counts(&d.rejections)));
    }
    // Ctrl-C before a wave finished is not the server's failure: the wave
    // gets no finding, and the verdict step calls the run interrupted.
    if first_ok || !phases.interrupted || phases.disrupt_at.is_some() {
        obs.add(Finding::new("first-wave", first_ok, detail));
    }
    if let (Some(back), Some(_)) = (d.reconnected, phases.disrupt_at) {
        let wanted = u64::from(phases.wave0_connected);
        let ok = back >= wanted && stats.waves[1].gave_up == 0;
        if !ok && phases.interrupted {
            obs.diagnosis.push(format!(
                "Interrupted during the reconnect wave: {back}/{wanted} clients were back; the rest were still waiting out their backoff."
            ));
        } else {
            obs.add(Finding::new("reconnect-wave", ok, reconnect_detail(plan, stats, d, ok, back, wanted)));
        }
    }
    if plan.disrupt != Disrupt::Server {
        drops_finding(stats, d, obs);
    }
    echo_finding(plan, stats, obs);
}

fn reconnect_detail(
    plan: &StormPlan,
    stats: &StormStats,
    d: &StormDetails,
    ok: bool,
    back: u64,
    wanted: u64,
) -> String {
    match d.recovery_s {
        Some(r) if ok => {
            format!("{back}/{wanted} clients back {r:.2} s after the disruption ({} attempts)", stats.waves[1].attempts)
        }
        _ => format!(
            "{back}/{wanted} clients back; {} gave up after {} attempts each",
            stats.waves[1].gave_up, plan.max_attempts
        ),
    }
}

/// With `--message`, the echoes: none at all is a failure of its own.
fn echo_finding(plan: &StormPlan, stats: &StormStats, obs: &mut Observation) {
    if plan.message.is_none() || stats.messages_out == 0 {
        return;
    }
    let (sent, got) = (stats.messages_out, stats.messages_in);
    let detail = if got == 0 {
        format!("no echo came back for any of the {sent} messages sent: the server does not echo, or it drops them")
    } else {
        format!("{got}/{sent} messages echoed")
    };
    obs.add(Finding::new("echo", got > 0, detail));
}

fn drops_finding(stats: &StormStats, d: &StormDetails, obs: &mut Observation) {
    let unexpected: u64 = stats.drops.values().sum();
    let ok = unexpected == 0;
    let detail = if ok {
        "no connection was dropped by the server".to_string()
    } else {
        format!("the server dropped {unexpected} connections on its own (codes {:?})", d.drops)
    };
    obs.add(Finding::new("server-drops", ok, detail));
}

fn diagnosis(plan: &StormPlan, stats: &StormStats, d: &StormDetails, obs: &mut Observation) {
    if let Some(p) = d.handshake_ms {
        obs.diagnosis.push(format!(
            "First wave: {} connections, handshake p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms.",
            d.connected, p.p50, p.p99, p.max
        ));
    }
    if d.reconnected.is_some() {
        let w1 = &stats.waves[1];
        let herd = if plan.backoff == crate::units::Backoff::None {
            " With no backoff every refused client retried at once: that is the thundering herd."
        } else {
            ""
        };
        let peak = d_peak_since(stats, d);
        obs.diagnosis.push(format!("Reconnect wave: {} attempts, peaking at {peak} attempts/s.{herd}", w1.attempts));
    }
    if !d.rejections.is_empty() {
        let mut reasons = Vec::new();
        for (k, _) in d.rejections.iter() {
            let why = match k {
                Outcome::Http(503) => "503: the server was full (a max-clients cap or overload)",
                Outcome::Http(429) => "429: a rate limit refused connections",
                Outcome::Failed(FailureKind::Refused) => {
                    "refused: the listen backlog overflowed or the server was down"
                }
                Outcome::Failed(FailureKind::Timeout) => {
                    "timeout: connects or upgrades took longer than --connect-timeout"
                }
                Outcome::Failed(FailureKind::Reset) => "reset: the server (or a proxy) reset connections",
                Outcome::Failed(FailureKind::LocalLimit) => "local-limit: this machine ran out of open files or ports",
                Outcome::AppRefused => "app-refused: the application protocol refused after the upgrade (credentials?)",
                Outcome::Proxy(_) | Outcome::Failed(FailureKind::Proxy) => {
                    "proxy: the proxy refused the tunnel, not the server (see `wsprobe connect` through it for why)"
                }
                _ => continue,
            };
            reasons.push(why);
        }
        if !reasons.is_empty() {
            obs.diagnosis.push(format!(
                "Failed attempts: {}. {}",
                crate::report::counts(&d.rejections),
                reasons.join("; ")
            ));
        }
    }
    if let Some(message) = &stats.app_refusal {
        obs.diagnosis
            .push(format!("The application protocol refused connections after the upgrade; the first: {message}."));
    }
}

/// The reconnect wave's own peak rate (from its first attempt on).
fn d_peak_since(stats: &StormStats, d: &StormDetails) -> u64 {
    match (stats.waves[1].first_attempt, d.reconnected) {
        (Some(first), Some(_)) => stats.peak_attempts_per_s_since(first),
        _ => 0,
    }
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
    let bar = crate::report::progress::bar(plan.progress, u64::from(plan.clients), "connecting");
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
