//! `fanout`: deliveries against expectations, per client, with the groups
//! broadcasts fall into.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::stability::Percentiles;
use super::{nullable, omittable, Common, Contract, Finding, Outcome, Verdict};

report! {
    /// `fanout`, broadcast or unicast.
    pub struct FanoutReport {
        pub mode: Mode,
        pub audience: Audience,
        pub clients: u32,
        /// All shards' clients (equal to `clients` on one machine).
        pub all_clients: u32,
        pub connected: u32,
        pub messages: u32,
        pub published: u64,
        pub publish_failures: u64,
        pub skipped_rounds: u32,
        pub expected: u64,
        pub delivered: u64,
        pub missing: u64,
        pub duplicates: u64,
        pub cross_talk: u64,
        pub echoes: u64,
        #[serde(deserialize_with = "nullable")]
        pub delivery_ratio: Option<f64>,
        #[serde(deserialize_with = "nullable")]
        pub delivery_window_s: Option<f64>,
        #[serde(deserialize_with = "nullable")]
        pub deliveries_per_s: Option<f64>,
        #[serde(deserialize_with = "nullable")]
        pub latency_ms: Option<Percentiles>,
        #[serde(deserialize_with = "nullable")]
        pub spread_ms: Option<Percentiles>,
        pub histogram: String,
        pub histograms: FanoutHistograms,
        pub inversions: u64,
        pub other_messages: u64,
        #[serde(default, deserialize_with = "omittable")]
        pub groups: Option<Vec<Vec<u32>>>,
        #[serde(default, deserialize_with = "omittable")]
        pub clean_partition: Option<bool>,
        pub per_client: Vec<ClientDelivery>,
        pub drops: Vec<Drop>,
        pub connect_failures: BTreeMap<Outcome, u64>,
        #[serde(deserialize_with = "nullable")]
        pub expect_ratio: Option<f64>,
        pub unconnected: Vec<u32>,
        pub unpublished_rounds: Vec<u32>,
        /// Shards of a broadcast only: client → publishers heard (bitmap, base64).
        #[serde(default, deserialize_with = "omittable")]
        pub heard: Option<BTreeMap<u32, String>>,
        /// Shards of a broadcast only: per round, first and last receipt (µs).
        #[serde(default, deserialize_with = "omittable")]
        pub round_spans: Option<Vec<Option<[u64; 2]>>>,
        /// Shards only: this shard's first publish and last receipt (µs).
        #[serde(default, deserialize_with = "omittable")]
        pub delivery_times: Option<DeliveryTimes>,
    }
}

impl Contract for FanoutReport {
    const OMITTABLE: &'static [&'static str] =
        &["groups", "clean_partition", "connect_failures.*", "heard", "heard.*", "round_spans", "delivery_times"];

    fn rules(&self) -> Result<(), String> {
        let sum = |f: fn(&ClientDelivery) -> u64| self.per_client.iter().map(f).sum::<u64>();
        if (sum(|c| c.expected), sum(|c| c.delivered), sum(|c| c.missing))
            != (self.expected, self.delivered, self.missing)
        {
            return Err("expected, delivered and missing are the sums of per_client".into());
        }
        if self.delivered + self.missing != self.expected {
            return Err(format!(
                "delivered {} + missing {} != expected {}",
                self.delivered, self.missing, self.expected
            ));
        }
        if self.per_client.len() != self.clients as usize {
            return Err("per_client has one entry per client".into());
        }
        if self.clients > self.all_clients
            || (self.shard.is_none_or(|s| s.count == 1)
                && self.clients != self.all_clients
                && self.merged_from.is_none())
        {
            return Err(format!("clients {} of all_clients {}", self.clients, self.all_clients));
        }
        super::meta::sharded(&super::Common::facts(self))?;
        if self.started_at.is_some() && self.timeline.is_none() {
            return Err("a fan-out run has a timeline".into());
        }
        if let Some(t) = &self.timeline {
            let accepted: u64 = t.iter().map(|s| s.accepted).sum();
            if accepted != u64::from(self.connected) {
                return Err(format!(
                    "the timeline counts {accepted} accepted, the report {} connected",
                    self.connected
                ));
            }
        }
        if let Some(groups) = &self.groups {
            let firsts: Vec<u32> = groups.iter().map(|g| g[0]).collect();
            let sorted =
                groups.iter().all(|g| g.windows(2).all(|w| w[0] < w[1])) && firsts.windows(2).all(|w| w[0] < w[1]);
            if groups.len() < 2 || !sorted {
                return Err(format!("groups are 2+ sorted lists, sorted by first index: {groups:?}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Broadcast,
    Unicast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    All,
    Others,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanoutHistograms {
    pub latency: String,
    pub spread: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDelivery {
    pub client: u32,
    pub expected: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub cross_talk: u64,
    pub echoes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drop {
    pub client: u32,
    pub code: u16,
    pub reason: String,
    pub abnormal: bool,
}

/// A fan-out shard's delivery times, µs since the shared start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryTimes {
    #[serde(deserialize_with = "nullable")]
    pub first_publish_us: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    pub last_receipt_us: Option<u64>,
}
