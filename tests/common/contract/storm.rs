//! `storm`: waves, rates, latency percentiles, histograms.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::stability::Percentiles;
use super::{nullable, omittable, Common, Contract, Finding, Outcome, Verdict};

report! {
    /// `storm`.
    pub struct StormReport {
        pub mode: StormMode,
        pub clients: u32,
        pub connected: u64,
        /// null without a disruption.
        #[serde(deserialize_with = "nullable")]
        pub reconnected: Option<u64>,
        pub gave_up: u64,
        pub attempts: u64,
        #[serde(deserialize_with = "nullable")]
        pub connections_per_s: Option<f64>,
        /// Over the whole seconds of the first wave; null when it took less than one.
        #[serde(deserialize_with = "nullable")]
        pub steady_connections_per_s: Option<f64>,
        pub peak_attempts_per_s: u64,
        /// The reconnect wave's own peak; null without a disruption.
        #[serde(deserialize_with = "nullable")]
        pub reconnect_peak_attempts_per_s: Option<u64>,
        pub attempts_per_s: Vec<u64>,
        #[serde(deserialize_with = "nullable")]
        pub recovery_s: Option<f64>,
        pub peak_concurrent: i64,
        #[serde(deserialize_with = "nullable")]
        pub handshake_ms: Option<Percentiles>,
        #[serde(deserialize_with = "nullable")]
        pub reconnect_handshake_ms: Option<Percentiles>,
        #[serde(deserialize_with = "nullable")]
        pub tcp_connect_ms: Option<Percentiles>,
        /// Null without a proxy.
        #[serde(deserialize_with = "nullable")]
        pub proxy_connect_ms: Option<Percentiles>,
        #[serde(deserialize_with = "nullable")]
        pub round_trip_ms: Option<Percentiles>,
        /// The application handshake; null without an application layer.
        #[serde(deserialize_with = "nullable")]
        pub app_ready_ms: Option<Percentiles>,
        pub messages: Messages,
        pub rejections: BTreeMap<Outcome, u64>,
        /// The application's first refusal message; null without one.
        #[serde(deserialize_with = "nullable")]
        pub app_refusal: Option<String>,
        /// Server-caused closes by close code.
        pub drops: BTreeMap<u16, u64>,
        /// First-wave handshake, HdrHistogram V2 + base64 (µs).
        pub histogram: String,
        pub histograms: Histograms,
        pub handshake_buckets: Vec<Bucket>,
        pub disrupt: Disrupt,
        /// The policy in words (`exp:100ms..5s (jitter full)`).
        pub backoff: String,
        pub max_attempts: u32,
        /// First wave, reconnect wave.
        pub waves: [Wave; 2],
        pub times: Times,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wave {
    pub attempts: u64,
    pub accepted: u64,
    pub gave_up: u64,
}

/// When the phases happened: RFC 3339 times, null when a phase did not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Times {
    #[serde(deserialize_with = "nullable")]
    pub connected_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub disrupt_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub first_drop_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub reconnected_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub first_message_at: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub last_message_at: Option<String>,
}

impl Contract for StormReport {
    const OMITTABLE: &'static [&'static str] = &["rejections.*", "drops.*"];
    fn rules(&self) -> Result<(), String> {
        let h = &self.histograms;
        for (name, text) in [
            ("histogram", &self.histogram),
            ("histograms.handshake", &h.handshake),
            ("histograms.reconnect_handshake", &h.reconnect_handshake),
            ("histograms.tcp_connect", &h.tcp_connect),
            ("histograms.round_trip", &h.round_trip),
            ("histograms.app_ready", &h.app_ready),
            ("histograms.proxy_connect", &h.proxy_connect),
        ] {
            if wsprobe::stats::latency::Latency::from_base64(text).is_none() {
                return Err(format!("{name} is not an HdrHistogram V2 in base64: {text:?}"));
            }
        }
        if self.histogram != h.handshake {
            return Err("`histogram` is the first-wave handshake histogram, `histograms.handshake`".into());
        }
        let recorded = wsprobe::stats::latency::Latency::from_base64(&self.histogram).map_or(0, |l| l.count());
        let counted = self.handshake_ms.as_ref().map_or(0, |p| p.count);
        let charted: u64 = self.handshake_buckets.iter().map(|b| b.count).sum();
        if recorded != counted || charted != counted {
            return Err(format!(
                "first-wave handshakes: {recorded} in the histogram, {counted} in handshake_ms, {charted} charted"
            ));
        }
        if self.connected > u64::from(self.clients) {
            return Err(format!("connected {} > clients {}", self.connected, self.clients));
        }
        let waves = self.waves[0].attempts + self.waves[1].attempts;
        if waves != self.attempts || self.waves[0].accepted != self.connected {
            return Err(format!(
                "waves {:?} do not add up to attempts {} / connected {}",
                self.waves, self.attempts, self.connected
            ));
        }
        if self.reconnect_peak_attempts_per_s.is_some() != self.reconnected.is_some() {
            return Err("reconnect_peak_attempts_per_s is there exactly with a reconnect wave".into());
        }
        super::meta::sharded(&super::Common::facts(self))?;
        if self.started_at.is_some() && self.timeline.is_none() {
            return Err("a storm that ran has a timeline".into());
        }
        if let Some(t) = &self.timeline {
            let attempts: u64 = t.iter().map(|s| s.attempts).sum();
            if attempts != self.attempts {
                return Err(format!("the timeline counts {attempts} attempts, the report {}", self.attempts));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StormMode {
    Websocket,
    TcpOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disrupt {
    Abrupt,
    Close,
    Server,
    None,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Messages {
    pub sent: u64,
    pub received: u64,
    #[serde(deserialize_with = "nullable")]
    pub per_s: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histograms {
    pub handshake: String,
    pub reconnect_handshake: String,
    pub tcp_connect: String,
    pub round_trip: String,
    pub app_ready: String,
    pub proxy_connect: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub le_ms: f64,
    pub count: u64,
}
