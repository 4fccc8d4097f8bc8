//! The application protocol's side of a soak: how long its handshake
//! took, the server's heartbeat cadence, what wsprobe answered, withheld
//! or sent, the round trips of our own heartbeat, a server that stopped
//! pinging, and each drop explained in the protocol's terms. Folded from
//! [`AppEvent`]s; the JSON is `app`, present whenever an application
//! layer ran, and the finding and diagnosis are pure functions of it, so
//! a merge of shards is judged like one soak.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{ServerPings, StabilityPlan};
use crate::event::AppEvent;
use crate::exit::PlanError;
use crate::net::app::{Announced, Protocol};
use crate::plan::ClientPlan;
use crate::report::{Finding, Observation};
use crate::stats::latency::{Latency, Percentiles};

/// Drop explanations kept for the diagnosis.
pub const MAX_EXPLAINED: usize = 3;

/// What the application layers of a soak reported.
#[derive(Debug, Clone, Default)]
pub struct AppStats {
    /// Handshake times.
    pub ready: Latency,
    /// What the server announced (the first connection's).
    pub announced: Option<Announced>,
    /// Server heartbeats seen.
    pub server_beats: u64,
    /// Intervals between them on one connection.
    pub beat_intervals: Latency,
    /// Heartbeats answered.
    pub replies: u64,
    /// Answers withheld (`--no-pong`).
    pub withheld: u64,
    /// Our heartbeats sent.
    pub beats_sent: u64,
    /// Round trips of our heartbeats.
    pub beat_rtt: Latency,
    /// Times a server went without a heartbeat past its stale limit.
    pub stale: u64,
    /// The longest such silence.
    pub longest_silence: Duration,
    /// Answers dropped because a send queue was full.
    pub dropped: u64,
    /// The first drops, explained in the protocol's terms.
    pub explained: Vec<String>,
    /// Drops explained in all.
    pub explained_count: u64,
    last_beat: HashMap<u32, Instant>,
}

impl AppStats {
    /// A connection of `client` opened: its heartbeat intervals start over.
    pub fn opened(&mut self, client: u32) {
        self.last_beat.remove(&client);
    }

    /// Folds one event in.
    pub fn apply(&mut self, client: u32, at: Instant, e: &AppEvent) {
        match e {
            AppEvent::Ready { took, announced } => {
                self.ready.record(*took);
                if self.announced.is_none() {
                    self.announced = *announced;
                }
            }
            AppEvent::ServerBeat => {
                self.server_beats += 1;
                if let Some(prev) = self.last_beat.insert(client, at) {
                    self.beat_intervals.record(at.saturating_duration_since(prev));
                }
            }
            AppEvent::Replied => self.replies += 1,
            AppEvent::Withheld => self.withheld += 1,
            AppEvent::BeatSent => self.beats_sent += 1,
            AppEvent::BeatAck(rtt) => self.beat_rtt.record(*rtt),
            AppEvent::Stale(silence) => {
                self.stale += 1;
                self.longest_silence = self.longest_silence.max(*silence);
            }
            AppEvent::Dropped => self.dropped += 1,
            AppEvent::Refused(_) => {}
            AppEvent::Explained(text) => {
                self.explained_count += 1;
                if self.explained.len() < MAX_EXPLAINED {
                    self.explained.push(text.clone());
                }
            }
        }
    }

    fn median_interval_s(&self) -> Option<f64> {
        median_s(&self.beat_intervals)
    }
}

/// The application layer's histograms (HdrHistogram V2 + base64, µs),
/// so shards' medians and percentiles come from their sums.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppHistograms {
    /// The application handshake ("app ready").
    pub ready: String,
    /// Intervals between two server heartbeats on one connection.
    pub server_heartbeat_intervals: String,
    /// Round trips of our heartbeats.
    pub heartbeat_rtt: String,
}

/// The application layer in `stability`'s JSON: what it did, and all the
/// judge needs to judge it again from the report (a merge of shards too).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppDetails {
    /// The profile (null for the generic mechanism alone).
    pub protocol: Option<Protocol>,
    /// What the server announced in its handshake.
    pub announced: Option<Announced>,
    /// The application handshake ("app ready"), ms.
    pub ready_ms: Option<Percentiles>,
    /// Server heartbeats: count and median interval on one connection.
    pub server_heartbeats: ServerPings,
    /// Heartbeats answered.
    pub replies: u64,
    /// Answers withheld (`--no-pong`).
    pub withheld: u64,
    /// Our heartbeats sent.
    pub heartbeats_sent: u64,
    /// Round trips of our heartbeats, ms.
    pub heartbeat_rtt_ms: Option<Percentiles>,
    /// Times the server went silent past its stale limit (ActionCable: 6 s).
    pub stale: u64,
    /// The longest such silence, in seconds (0 without one).
    pub longest_silence_s: f64,
    /// Answers dropped because a send queue was full.
    pub dropped_replies: u64,
    /// True when the layer keeps connections alive (answers, sends or
    /// expects heartbeats): then it gets the `app-heartbeat` finding.
    pub keeps_alive: bool,
    /// True when our heartbeat expects an answer, so one sent without any
    /// answered fails the finding.
    pub heartbeat_acked: bool,
    /// The first drops explained in the protocol's terms (at most 3).
    pub explained: Vec<String>,
    /// Drops explained in all.
    pub explained_total: u64,
    /// The histograms.
    pub histograms: AppHistograms,
}

/// The median of a histogram of intervals, in seconds (ms precision).
pub fn median_s(l: &Latency) -> Option<f64> {
    l.percentiles().map(|p| (p.p50).round() / 1000.0)
}

/// The `app` field, when an application layer ran.
pub fn details(plan: &StabilityPlan, s: &AppStats) -> Option<AppDetails> {
    let spec = plan.client.app.as_ref()?;
    Some(AppDetails {
        protocol: spec.protocol,
        announced: s.announced,
        ready_ms: s.ready.percentiles(),
        server_heartbeats: ServerPings { count: s.server_beats, median_interval_s: s.median_interval_s() },
        replies: s.replies,
        withheld: s.withheld,
        heartbeats_sent: s.beats_sent,
        heartbeat_rtt_ms: s.beat_rtt.percentiles(),
        stale: s.stale,
        longest_silence_s: crate::units::secs(s.longest_silence),
        dropped_replies: s.dropped,
        keeps_alive: spec.has_heartbeat(),
        heartbeat_acked: spec.beat.as_ref().is_some_and(|b| b.ack.is_some()),
        explained: s.explained.clone(),
        explained_total: s.explained_count,
        histograms: AppHistograms {
            ready: s.ready.to_base64(),
            server_heartbeat_intervals: s.beat_intervals.to_base64(),
            heartbeat_rtt: s.beat_rtt.to_base64(),
        },
    })
}

/// The application protocol that keeps connections alive, by name, for
/// the heartbeat line of the diagnosis.
pub fn heartbeat_name(d: Option<&AppDetails>) -> Option<&'static str> {
    d.filter(|a| a.keeps_alive).map(|a| a.protocol.map(|p| p.title()).unwrap_or("application"))
}

/// The `app-heartbeat` finding, when the layer keeps connections alive.
pub fn findings(d: &AppDetails, obs: &mut Observation) {
    if !d.keeps_alive {
        return;
    }
    let name = d.protocol.map(|p| p.title()).unwrap_or("application");
    let beats = &d.server_heartbeats;
    let every = beats.median_interval_s.map(|i| format!(" every {i:.1} s (median)")).unwrap_or_default();
    let mut parts = vec![format!("{} {name} server heartbeats{every}", beats.count)];
    if d.withheld > 0 {
        parts.push(format!("{} answers withheld (--no-pong)", d.withheld));
    } else if d.replies > 0 {
        parts.push(format!("{} answered", d.replies));
    }
    let answered = d.heartbeat_rtt_ms.map_or(0, |p| p.count);
    if d.heartbeats_sent > 0 {
        let rtt = d.heartbeat_rtt_ms.map(|p| format!(", round trip p50 {:.2} ms", p.p50)).unwrap_or_default();
        parts.push(format!("{} heartbeats sent, {answered} answered{rtt}", d.heartbeats_sent));
    }
    let ok = d.dropped_replies == 0 && (d.heartbeats_sent == 0 || !d.heartbeat_acked || answered > 0);
    obs.add(Finding::new("app-heartbeat", ok, parts.join("; ")));
}

/// Diagnosis lines: the cadence against what was announced, stale
/// servers, and each drop in the protocol's terms.
pub fn diagnosis(d: &AppDetails) -> Vec<String> {
    let mut out = Vec::new();
    let name = d.protocol.map(|p| p.title()).unwrap_or("The application");
    if let Some(p) = d.ready_ms {
        let announced = d.announced.map(|a| format!("; announced {}", a.describe())).unwrap_or_default();
        out.push(format!("{name} handshake (app ready) took {:.1} ms (p50), {:.1} ms (max){announced}.", p.p50, p.max));
    }
    if let (Some(i), Some(a)) = (d.server_heartbeats.median_interval_s, d.announced.and_then(|a| a.ping_interval_s)) {
        out.push(format!("{name} server heartbeats came every {i:.1} s (median), announced {a:.1} s."));
    }
    if d.stale > 0 {
        out.push(format!(
            "The server went {:.1} s without a heartbeat ({} time(s)): an {name} client would call the connection stale and reconnect.",
            d.longest_silence_s, d.stale
        ));
    }
    out.extend(d.explained.iter().cloned());
    if d.explained_total > d.explained.len() as u64 {
        out.push(format!("({} more drops explained the same way.)", d.explained_total - d.explained.len() as u64));
    }
    out
}

/// `--app-ping-interval` without `--app-ping`: how often the protocol's
/// own heartbeat goes out (Phoenix, SignalR).
pub fn beat_every(client: &mut ClientPlan, every: Duration) -> Result<(), PlanError> {
    crate::plan::positive("--app-ping-interval", every)?;
    let beat = client.app.as_mut().and_then(|spec| Arc::make_mut(spec).beat.as_mut());
    match beat {
        Some(beat) => {
            beat.every = every;
            Ok(())
        }
        None => Err(PlanError::new(
            "--app-ping-interval goes with --app-ping TEXT, or with a --protocol whose client sends its own heartbeat (phoenix, signalr)",
        )),
    }
}
