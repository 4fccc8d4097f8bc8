//! The application protocol's side of a soak: how long its handshake
//! took, the server's heartbeat cadence, what wsprobe answered, withheld
//! or sent, the round trips of our own heartbeat, a server that stopped
//! pinging, and each drop explained in the protocol's terms. Folded from
//! [`AppEvent`]s; the JSON is `app`, present whenever an application
//! layer ran.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{ServerPings, StabilityPlan};
use crate::event::AppEvent;
use crate::exit::PlanError;
use crate::net::app::{Announced, Protocol};
use crate::plan::ClientPlan;
use crate::report::{Finding, Observation};
use crate::stats::latency::{Latency, Percentiles};

/// Drop explanations kept for the diagnosis.
const MAX_EXPLAINED: usize = 3;

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
        self.beat_intervals.percentiles().map(|p| (p.p50).round() / 1000.0)
    }
}

/// The application layer in `stability`'s JSON.
#[derive(Debug, Clone, Serialize)]
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
    /// Answers dropped because a send queue was full.
    pub dropped_replies: u64,
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
        dropped_replies: s.dropped,
    })
}

/// The `app-heartbeat` finding, when the layer keeps connections alive.
pub fn findings(plan: &StabilityPlan, s: &AppStats, obs: &mut Observation) {
    let Some(spec) = plan.client.app.as_ref().filter(|a| a.has_heartbeat()) else { return };
    let name = spec.protocol.map(|p| p.title()).unwrap_or("application");
    let every = s.median_interval_s().map(|i| format!(" every {i:.1} s (median)")).unwrap_or_default();
    let mut parts = vec![format!("{} {name} server heartbeats{every}", s.server_beats)];
    if s.withheld > 0 {
        parts.push(format!("{} answers withheld (--no-pong)", s.withheld));
    } else if s.replies > 0 {
        parts.push(format!("{} answered", s.replies));
    }
    if s.beats_sent > 0 {
        let rtt = s.beat_rtt.percentiles().map(|p| format!(", round trip p50 {:.2} ms", p.p50)).unwrap_or_default();
        parts.push(format!("{} heartbeats sent, {} answered{rtt}", s.beats_sent, s.beat_rtt.count()));
    }
    let ok = s.dropped == 0
        && (s.beats_sent == 0 || spec.beat.as_ref().is_none_or(|b| b.ack.is_none()) || s.beat_rtt.count() > 0);
    obs.add(Finding::new("app-heartbeat", ok, parts.join("; ")));
}

/// Diagnosis lines: the cadence against what was announced, stale
/// servers, and each drop in the protocol's terms.
pub fn diagnosis(plan: &StabilityPlan, s: &AppStats) -> Vec<String> {
    let Some(spec) = plan.client.app.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    let name = spec.protocol.map(|p| p.title()).unwrap_or("The application");
    if let Some(p) = s.ready.percentiles() {
        let announced = s.announced.map(|a| format!("; announced {}", a.describe())).unwrap_or_default();
        out.push(format!("{name} handshake (app ready) took {:.1} ms (p50), {:.1} ms (max){announced}.", p.p50, p.max));
    }
    if let (Some(i), Some(a)) = (s.median_interval_s(), s.announced.and_then(|a| a.ping_interval_s)) {
        out.push(format!("{name} server heartbeats came every {i:.1} s (median), announced {a:.1} s."));
    }
    if s.stale > 0 {
        out.push(format!(
            "The server went {:.1} s without a heartbeat ({} time(s)): an {name} client would call the connection stale and reconnect.",
            s.longest_silence.as_secs_f64(),
            s.stale
        ));
    }
    out.extend(s.explained.iter().cloned());
    if s.explained_count > s.explained.len() as u64 {
        out.push(format!("({} more drops explained the same way.)", s.explained_count - s.explained.len() as u64));
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
