//! `stability`: the soak, and `--find-idle-timeout` with its own details.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::connect::{Announced, EndHow, Protocol};
use super::{nullable, omittable, Common, Contract, Finding, Outcome, Verdict};

report! {
    /// `stability` (the soak).
    pub struct StabilityReport {
        pub clients: u32,
        pub duration_s: f64,
        /// Seconds actually run (less than planned when interrupted).
        pub held_s: f64,
        pub survived: u32,
        pub connections: u64,
        pub heartbeat: Heartbeat,
        pub closes: Vec<CloseRecord>,
        #[serde(default, deserialize_with = "omittable")]
        pub closes_omitted: Option<u64>,
        /// Every drop by close code and kind, kept in `closes` or not.
        pub drop_kinds: Vec<DropKind>,
        pub server_pings: ServerPings,
        #[serde(deserialize_with = "nullable")]
        pub pong_rtt_ms: Option<Percentiles>,
        #[serde(default, deserialize_with = "omittable")]
        pub app_ping: Option<AppPing>,
        #[serde(deserialize_with = "nullable")]
        pub period: Option<Period>,
        pub failed_attempts: BTreeMap<Outcome, u64>,
        #[serde(deserialize_with = "nullable")]
        pub ping_interval_s: Option<f64>,
        #[serde(deserialize_with = "nullable")]
        pub app_ping_interval_s: Option<f64>,
        pub histograms: StabilityHistograms,
        /// Only with an application layer.
        #[serde(default, deserialize_with = "omittable")]
        pub app: Option<AppDetails>,
    }
}

/// HdrHistogram V2 + base64 (µs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StabilityHistograms {
    pub ping_intervals: String,
    pub pong_rtt: String,
}

impl Contract for StabilityReport {
    const OMITTABLE: &'static [&'static str] =
        &["app_ping", "closes[].detail", "closes_omitted", "drop_kinds[].first.detail", "failed_attempts.*", "app"];
    fn rules(&self) -> Result<(), String> {
        if self.survived > self.clients {
            return Err(format!("survived {} > clients {}", self.survived, self.clients));
        }
        if !(0.0..=self.duration_s).contains(&self.held_s) {
            return Err(format!("held_s {} is not within the planned {} s", self.held_s, self.duration_s));
        }
        if (self.heartbeat == Heartbeat::App) != self.app_ping.is_some() {
            return Err(format!("app_ping is there exactly with heartbeat app, heartbeat is {:?}", self.heartbeat));
        }
        let rtt = wsprobe::stats::latency::Latency::from_base64(&self.histograms.pong_rtt).map(|h| h.count());
        if rtt != Some(self.pong_rtt_ms.as_ref().map_or(0, |p| p.count)) {
            return Err(format!(
                "histograms.pong_rtt holds {rtt:?} samples, pong_rtt_ms counts {:?}",
                self.pong_rtt_ms
            ));
        }
        super::meta::sharded(&super::Common::facts(self))?;
        if self.started_at.is_some() && self.timeline.is_none() {
            return Err("a soak that ran has a timeline".into());
        }
        if self.heartbeat == Heartbeat::Protocol && self.app.is_none() {
            return Err("heartbeat protocol needs the `app` object".into());
        }
        let counted: u64 = self.drop_kinds.iter().map(|k| k.count).sum();
        let listed = self.closes.len() as u64 + self.closes_omitted.unwrap_or(0);
        if counted != listed {
            return Err(format!("drop_kinds count {counted} drops, closes list {listed} (with closes_omitted)"));
        }
        if self.closes_omitted == Some(0) {
            return Err("closes_omitted is left out when nothing was omitted".into());
        }
        if let Some(app) = &self.app {
            let count = |text: &str| wsprobe::stats::latency::Latency::from_base64(text).map(|h| h.count());
            let h = &app.histograms;
            if count(&h.ready) != Some(app.ready_ms.as_ref().map_or(0, |p| p.count))
                || count(&h.heartbeat_rtt) != Some(app.heartbeat_rtt_ms.as_ref().map_or(0, |p| p.count))
                || count(&h.server_heartbeat_intervals).is_none()
            {
                return Err(format!("app.histograms do not hold app.ready_ms / app.heartbeat_rtt_ms: {app:?}"));
            }
            if app.explained.len() > 3 || (app.explained.len() as u64) > app.explained_total {
                return Err(format!("app.explained keeps at most 3 of explained_total: {app:?}"));
            }
        }
        for c in &self.closes {
            if c.idle_data_in_s > c.after_s + 0.01 || c.idle_data_out_s > c.after_s + 0.01 {
                return Err(format!("client {}: data idle longer than the connection lived", c.client));
            }
            if c.since_ping_s.is_some() != (c.server_pings > 0) {
                return Err(format!("client {}: since_ping_s is there exactly when the server pinged", c.client));
            }
            if c.cause == Cause::PongDeadline && c.since_ping_s.is_none() {
                return Err(format!("client {}: a pong deadline without a ping", c.client));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heartbeat {
    PingFrames,
    App,
    NoPong,
    Protocol,
    Silent,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRecord {
    pub client: u32,
    pub code: u16,
    pub reason: String,
    pub abnormal: bool,
    pub how: EndHow,
    #[serde(default, deserialize_with = "omittable")]
    pub detail: Option<String>,
    pub after_s: f64,
    pub idle_in_s: f64,
    pub idle_out_s: f64,
    pub at_s: f64,
    pub server_pings: u32,
    pub pongs_withheld: u64,
    /// Seconds from the server's last ping to the close; null without pings.
    #[serde(deserialize_with = "nullable")]
    pub since_ping_s: Option<f64>,
    pub idle_data_in_s: f64,
    pub idle_data_out_s: f64,
    pub cause: Cause,
}

/// What the diagnosis reads a drop as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    PongDeadline,
    IdleTimeout,
    PingsAnswered,
    TokenTtl,
    ServerClose,
    ProtocolError,
    Stalled,
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerPings {
    pub count: u64,
    #[serde(deserialize_with = "nullable")]
    pub median_interval_s: Option<f64>,
}

/// Latency percentiles in ms.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPing {
    pub sent: u64,
    pub replies: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub seconds: f64,
    pub code: u16,
    pub drops: u64,
}

report! {
    /// `stability --find-idle-timeout`: its own details, `idle_timeout` only.
    pub struct IdleReport {
        pub idle_timeout: IdleSearch,
    }
}

impl Contract for IdleReport {
    fn rules(&self) -> Result<(), String> {
        let s = &self.idle_timeout;
        match (s.method, s.idle_timeout_s) {
            (IdleMethod::NoneUpToMax, None) | (IdleMethod::DropObserved | IdleMethod::Bisection, Some(_)) => Ok(()),
            (m, t) => Err(format!("method {m:?} with idle_timeout_s {t:?}")),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleSearch {
    #[serde(deserialize_with = "nullable")]
    pub idle_timeout_s: Option<f64>,
    pub method: IdleMethod,
    pub max_s: f64,
    pub probes: Vec<Probe>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleMethod {
    DropObserved,
    Bisection,
    NoneUpToMax,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    pub idle_s: f64,
    pub alive: bool,
    #[serde(deserialize_with = "nullable")]
    pub dropped_after_s: Option<f64>,
}

/// `stability`'s application layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDetails {
    #[serde(deserialize_with = "nullable")]
    pub protocol: Option<Protocol>,
    #[serde(deserialize_with = "nullable")]
    pub announced: Option<Announced>,
    #[serde(deserialize_with = "nullable")]
    pub ready_ms: Option<Percentiles>,
    pub server_heartbeats: ServerPings,
    pub replies: u64,
    pub withheld: u64,
    pub heartbeats_sent: u64,
    #[serde(deserialize_with = "nullable")]
    pub heartbeat_rtt_ms: Option<Percentiles>,
    pub stale: u64,
    pub longest_silence_s: f64,
    pub dropped_replies: u64,
    pub keeps_alive: bool,
    pub heartbeat_acked: bool,
    pub explained: Vec<String>,
    pub explained_total: u64,
    pub histograms: AppHistograms,
}

/// HdrHistogram V2 + base64 (µs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppHistograms {
    pub ready: String,
    pub server_heartbeat_intervals: String,
    pub heartbeat_rtt: String,
}

/// Drops of one close code and kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropKind {
    pub code: u16,
    pub abnormal: bool,
    pub count: u64,
    pub first: CloseRecord,
    pub lifetimes: Lifetimes,
}

/// Connection lifetimes in seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    pub sum_s: f64,
    pub min_s: f64,
    pub max_s: f64,
}
