//! `fanout`'s JSON fields, built from the tally once the run is over.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::args::{Audience, Mode};
use super::publish::Published;
use super::summary::{ClientDelivery, Delivery};
use super::tally::Tally;
use crate::net::attempt::Outcome;
use crate::stats::latency::{Latency, Percentiles};

/// A connection the server ended during the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutDrop {
    /// The client.
    pub client: u32,
    /// The close code (1006: no close frame).
    pub code: u16,
    /// The reason, if any.
    pub reason: String,
    /// True unless a close frame ended it.
    pub abnormal: bool,
}

/// The histograms, HdrHistogram V2 + base64 (µs), mergeable across machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutHistograms {
    /// Publish to first receipt.
    pub latency: String,
    /// First to last receipt of each broadcast.
    pub spread: String,
}

/// When this shard's deliveries began and ended (µs since the shared
/// start), so a merge measures the whole run's delivery window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryTimes {
    /// This shard's first publish (null when it published nothing).
    pub first_publish_us: Option<u64>,
    /// The last first receipt of a message by this shard's clients (null without any).
    pub last_receipt_us: Option<u64>,
}

impl DeliveryTimes {
    /// The window from the first publish to the last receipt, µs.
    pub fn window_us(&self) -> Option<u64> {
        let (first, last) = (self.first_publish_us?, self.last_receipt_us?);
        (last > first).then(|| last - first)
    }
}

/// The delivery window in seconds and the deliveries per second over it.
pub fn delivery_rate(window_us: Option<u64>, delivered: u64) -> (Option<f64>, Option<f64>) {
    (window_us.map(|us| us as f64 / 1e6), window_us.map(|us| (delivered as f64 / (us as f64 / 1e6)).round()))
}

/// `fanout`'s JSON fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanoutDetails {
    /// broadcast or unicast.
    pub mode: Mode,
    /// all or others.
    pub audience: Audience,
    /// Clients of this process (a shard's share).
    pub clients: u32,
    /// Clients of the whole run (all shards).
    pub all_clients: u32,
    /// Clients open when publishing began.
    pub connected: u32,
    /// Rounds planned.
    pub messages: u32,
    /// Messages published.
    pub published: u64,
    /// Publishes that failed (HTTP errors, unanswered POSTs).
    pub publish_failures: u64,
    /// Rounds skipped because their publisher was not connected.
    pub skipped_rounds: u32,
    /// (message, intended receiver) pairs.
    pub expected: u64,
    /// Pairs received at least once.
    pub delivered: u64,
    /// Pairs never received.
    pub missing: u64,
    /// Extra copies of intended receipts.
    pub duplicates: u64,
    /// Receipts by a client a message was not meant for.
    pub cross_talk: u64,
    /// Publishers' own copies where they were not in the audience.
    pub echoes: u64,
    /// delivered / expected.
    pub delivery_ratio: Option<f64>,
    /// Seconds from the first publish to the last delivery.
    pub delivery_window_s: Option<f64>,
    /// Deliveries per second over that window.
    pub deliveries_per_s: Option<f64>,
    /// Publish to receipt, ms.
    pub latency_ms: Option<Percentiles>,
    /// First to last receipt of a broadcast, ms.
    pub spread_ms: Option<Percentiles>,
    /// The latency histogram (V2 + base64, µs).
    pub histogram: String,
    /// Every histogram.
    pub histograms: FanoutHistograms,
    /// Receipts of an older message of a publisher after a newer one.
    pub inversions: u64,
    /// Messages received without any of our nonces (acks, presence...).
    pub other_messages: u64,
    /// The groups broadcasts fall into, when more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<u32>>>,
    /// True when each group heard exactly its own publishers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clean_partition: bool,
    /// Deliveries per client.
    pub per_client: Vec<ClientDelivery>,
    /// Connections the server ended during the run.
    pub drops: Vec<FanoutDrop>,
    /// Clients that could not connect, by outcome.
    pub connect_failures: BTreeMap<Outcome, u64>,
    /// `--expect-ratio`, if given.
    pub expect_ratio: Option<f64>,
    /// This process's clients that were not open when publishing began.
    pub unconnected: Vec<u32>,
    /// Rounds this process was to publish but skipped (their publisher was
    /// not connected), up to 100,000.
    pub unpublished_rounds: Vec<u32>,
    /// Shards of a broadcast: for each client, the publishers it heard
    /// (a bit per client index, base64), for the groups of the merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard: Option<BTreeMap<u32, String>>,
    /// Shards of a broadcast: per round, the first and last receipt here
    /// (µs since the shared start; null without one), for the merged spread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_spans: Option<Vec<Option<[u64; 2]>>>,
    /// Shards only: when this shard's deliveries began and ended, for the
    /// merged delivery window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_times: Option<DeliveryTimes>,
}

/// Builds the details from the finished run.
pub fn build(
    tally: &Tally,
    mut delivery: Delivery,
    published: &Published,
    connected: &[bool],
    connect_failures: BTreeMap<Outcome, u64>,
) -> FanoutDetails {
    let shard = tally.shard;
    delivery.per_client.retain(|c| shard.owns(c.client));
    let (expected, delivered) = (delivery.total(|c| c.expected), delivery.total(|c| c.delivered));
    let mut spread = Latency::new();
    for &(first, last) in tally.first_last.iter().filter(|(first, _)| *first != u64::MAX) {
        spread.record_us(last - first);
    }
    let layout = tally.layout;
    let (window_s, per_s) = delivery_rate(tally.delivery_window_us(), delivered);
    FanoutDetails {
        mode: layout.mode,
        audience: layout.audience,
        clients: shard.share(layout.clients),
        all_clients: layout.clients,
        connected: connected.iter().filter(|&&c| c).count() as u32,
        messages: layout.rounds,
        published: published.sent,
        publish_failures: published.failed,
        skipped_rounds: published.skipped_rounds,
        expected,
        delivered,
        missing: delivery.total(|c| c.missing),
        duplicates: delivery.total(|c| c.duplicates),
        cross_talk: delivery.total(|c| c.cross_talk),
        echoes: delivery.total(|c| c.echoes),
        delivery_ratio: (expected > 0).then(|| (delivered as f64 / expected as f64 * 10_000.0).round() / 10_000.0),
        delivery_window_s: window_s,
        deliveries_per_s: per_s,
        latency_ms: tally.latency.percentiles(),
        spread_ms: spread.percentiles(),
        histogram: tally.latency.to_base64(),
        histograms: FanoutHistograms { latency: tally.latency.to_base64(), spread: spread.to_base64() },
        inversions: tally.inversions,
        other_messages: tally.other_messages,
        groups: delivery.groups,
        clean_partition: delivery.clean_partition,
        per_client: delivery.per_client,
        drops: drops(tally),
        connect_failures,
        expect_ratio: None,
        unconnected: shard.clients(layout.clients).filter(|&c| !connected[c as usize]).collect(),
        unpublished_rounds: published.unpublished_rounds.clone(),
        heard: super::shard::heard(tally, connected),
        round_spans: super::shard::round_spans(tally),
        delivery_times: super::shard::delivery_times(tally),
    }
}

/// The connections the server ended, as the report lists them.
fn drops(tally: &Tally) -> Vec<FanoutDrop> {
    let drop = |(client, c): &(u32, crate::event::CloseInfo)| FanoutDrop {
        client: *client,
        code: c.code,
        reason: c.reason.clone(),
        abnormal: c.abnormal,
    };
    tally.drops.iter().map(drop).collect()
}
