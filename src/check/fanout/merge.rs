//! Merging fan-out shards. Every client lives on one shard, so its
//! receipts (delivered, duplicates, cross-talk, echoes, inversions) add
//! up as they are; what a shard could not know is which messages the
//! others published and which of their clients were open, so each
//! client's `expected` and `missing` are worked out again from the
//! shards' lists of skipped rounds and unconnected clients. Latency
//! histograms add; the spread comes from the rounds' first and last
//! receipts over all shards; the groups from whom each client heard; the
//! delivery window from the earliest publish to the latest receipt. The
//! result is judged by the same [`super::judge`] as a single run.

use std::collections::BTreeSet;

use super::args::{Audience, Mode};
use super::details::{delivery_rate, DeliveryTimes, FanoutDetails, FanoutHistograms};
use super::layout::Layout;
use super::summary::ClientDelivery;
use crate::check::mergeable::{add_counts, details, same, sum_histograms, Context, Merger, Part};
use crate::check::Observation;
use crate::stats::latency::Latency;

/// `fanout`'s merge hook.
pub const MERGER: Merger = Merger { command: "fanout", merge };

type Shard<'a> = (Part<'a>, FanoutDetails);

fn merge(parts: &[Part<'_>], _ctx: &Context<'_>) -> Result<Observation, String> {
    let shards: Vec<Shard<'_>> =
        parts.iter().map(|p| Ok((*p, details::<FanoutDetails>(p)?))).collect::<Result<_, String>>()?;
    let merged = combine(&shards)?;
    let mut obs = Observation::default();
    super::judge::judge(&merged, merged.expect_ratio, &mut obs);
    Ok(obs.with_details(merged))
}

/// What the whole run published and who was open, from every shard's lists.
struct Run {
    layout: Layout,
    /// Published rounds per publisher.
    by_publisher: Vec<u64>,
    /// Rounds published in all.
    rounds: u64,
    open: Vec<bool>,
}

fn run(shards: &[Shard<'_>]) -> Result<Run, String> {
    let first = &shards.first().ok_or("no fanout shard to merge")?.1;
    let each = || shards.iter().map(|(p, d)| (p, d));
    same(each().map(|(p, d)| (p, &d.mode)), "mode")?;
    same(each().map(|(p, d)| (p, &d.audience)), "audience")?;
    same(each().map(|(p, d)| (p, &d.all_clients)), "all_clients")?;
    same(each().map(|(p, d)| (p, &d.messages)), "messages")?;
    let layout =
        Layout { mode: first.mode, audience: first.audience, clients: first.all_clients, rounds: first.messages };
    let count = shards.first().and_then(|(p, _)| p.meta.shard).map_or(1, |s| s.count);
    let mut present = vec![false; count as usize];
    let mut skipped: BTreeSet<u32> = BTreeSet::new();
    let mut open = vec![false; layout.clients as usize];
    for (p, d) in shards {
        let i = p.meta.shard.map_or(0, |s| s.index);
        if d.unpublished_rounds.len() < d.skipped_rounds as usize {
            return Err(format!("{}: too many skipped rounds listed to merge exactly", p.source));
        }
        present[i as usize] = true;
        skipped.extend(&d.unpublished_rounds);
        let down: BTreeSet<u32> = d.unconnected.iter().copied().collect();
        (i..layout.clients).step_by(count as usize).filter(|c| !down.contains(c)).for_each(|c| open[c as usize] = true);
    }
    let mut by_publisher = vec![0u64; layout.clients as usize];
    for round in (0..layout.rounds).filter(|r| !skipped.contains(r)) {
        let p = layout.publisher_of_round(round);
        if present[(p % count) as usize] {
            by_publisher[p as usize] += 1;
        }
    }
    Ok(Run { layout, rounds: by_publisher.iter().sum(), by_publisher, open })
}

impl Run {
    /// Messages client `c` was meant to receive.
    fn expected(&self, c: u32) -> u64 {
        if !self.open[c as usize] {
            return 0;
        }
        let own = match (self.layout.mode, self.layout.audience) {
            (Mode::Broadcast, Audience::All) => 0,
            _ => self.by_publisher[c as usize],
        };
        self.rounds - own
    }
}

fn combine(shards: &[Shard<'_>]) -> Result<FanoutDetails, String> {
    let run = run(shards)?;
    let mut per_client: Vec<ClientDelivery> = shards.iter().flat_map(|(_, d)| d.per_client.iter().cloned()).collect();
    per_client.sort_by_key(|c| c.client);
    for c in &mut per_client {
        c.expected = run.expected(c.client);
        c.missing = c.expected.saturating_sub(c.delivered);
    }
    let each = || shards.iter().map(|(p, d)| (p, d));
    let latency = sum_histograms(each(), "histograms.latency", |d: &FanoutDetails| &d.histograms.latency)?;
    let spread = spread(shards)
        .map_or_else(|| sum_histograms(each(), "histograms.spread", |d: &FanoutDetails| &d.histograms.spread), Ok)?;
    let total = |f: fn(&ClientDelivery) -> u64| per_client.iter().map(f).sum::<u64>();
    let sum = |f: fn(&FanoutDetails) -> u64| shards.iter().map(|(_, d)| f(d)).sum::<u64>();
    let (expected, delivered, missing) = (total(|c| c.expected), total(|c| c.delivered), total(|c| c.missing));
    let (groups, clean_partition) = groups(shards, &run, &per_client, missing);
    let first = &shards[0].1;
    let (delivery_window_s, deliveries_per_s) = delivery_rate(delivery_window_us(shards), delivered);
    Ok(FanoutDetails {
        mode: first.mode,
        audience: first.audience,
        clients: shards.iter().map(|(_, d)| d.clients).sum(),
        all_clients: first.all_clients,
        connected: shards.iter().map(|(_, d)| d.connected).sum(),
        messages: first.messages,
        published: sum(|d| d.published),
        publish_failures: sum(|d| d.publish_failures),
        skipped_rounds: shards.iter().map(|(_, d)| d.skipped_rounds).sum(),
        expected,
        delivered,
        missing,
        duplicates: total(|c| c.duplicates),
        cross_talk: total(|c| c.cross_talk),
        echoes: total(|c| c.echoes),
        delivery_ratio: (expected > 0).then(|| (delivered as f64 / expected as f64 * 10_000.0).round() / 10_000.0),
        delivery_window_s,
        deliveries_per_s,
        latency_ms: latency.percentiles(),
        spread_ms: spread.percentiles(),
        histogram: latency.to_base64(),
        histograms: FanoutHistograms { latency: latency.to_base64(), spread: spread.to_base64() },
        inversions: sum(|d| d.inversions),
        other_messages: sum(|d| d.other_messages),
        groups,
        clean_partition,
        per_client,
        drops: shards.iter().flat_map(|(_, d)| d.drops.iter().cloned()).collect(),
        connect_failures: add_counts(shards.iter().map(|(_, d)| &d.connect_failures)),
        expect_ratio: first.expect_ratio,
        unconnected: shards.iter().flat_map(|(_, d)| d.unconnected.iter().copied()).collect(),
        unpublished_rounds: shards.iter().flat_map(|(_, d)| d.unpublished_rounds.iter().copied()).collect(),
        heard: None,
        round_spans: None,
        delivery_times: None,
    })
}

/// The whole run's delivery window: from the earliest shard's first
/// publish to the latest receipt on any shard (one clock: the shared start).
fn delivery_window_us(shards: &[Shard<'_>]) -> Option<u64> {
    let times: Vec<DeliveryTimes> = shards.iter().filter_map(|(_, d)| d.delivery_times).collect();
    DeliveryTimes {
        first_publish_us: times.iter().filter_map(|t| t.first_publish_us).min(),
        last_receipt_us: times.iter().filter_map(|t| t.last_receipt_us).max(),
    }
    .window_us()
}

/// Each broadcast round's first to last receipt over every shard.
fn spread(shards: &[Shard<'_>]) -> Option<Latency> {
    let spans: Vec<&Vec<Option<[u64; 2]>>> =
        shards.iter().map(|(_, d)| d.round_spans.as_ref()).collect::<Option<_>>()?;
    let rounds = spans.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = Latency::new();
    for r in 0..rounds {
        let (first, last) = spans
            .iter()
            .filter_map(|s| s.get(r).copied().flatten())
            .fold((u64::MAX, 0), |(f, l), [a, b]| (f.min(a), l.max(b)));
        if first != u64::MAX {
            out.record_us(last - first);
        }
    }
    Some(out)
}

/// The groups broadcasts fall into over all shards (as a single run finds
/// them), and whether each group heard exactly all of its own publishers.
fn groups(
    shards: &[Shard<'_>],
    run: &Run,
    per_client: &[ClientDelivery],
    missing: u64,
) -> (Option<Vec<Vec<u32>>>, bool) {
    if run.layout.mode != Mode::Broadcast || missing == 0 {
        return (None, false);
    }
    let Some(heard) = shards.iter().map(|(_, d)| d.heard.as_ref()).collect::<Option<Vec<_>>>() else {
        return (None, false);
    };
    let edges: Vec<(u32, u32)> = heard
        .iter()
        .flat_map(|h| h.iter())
        .flat_map(|(&c, bits)| super::shard::publishers(bits).into_iter().map(move |p| (p, c)))
        .filter(|&(p, c)| p < run.layout.clients && c < run.layout.clients)
        .collect();
    let members: Vec<u32> = (0..run.layout.clients).filter(|&c| run.open[c as usize]).collect();
    let groups = super::groups::groups(run.layout.clients, &members, edges);
    if groups.len() < 2 {
        return (None, false);
    }
    let clean = groups.iter().all(|g| {
        let own: u64 = g.iter().map(|&p| run.by_publisher[p as usize]).sum();
        g.iter().all(|&c| {
            let minus = if run.layout.audience == Audience::Others { run.by_publisher[c as usize] } else { 0 };
            per_client.iter().find(|d| d.client == c).is_some_and(|d| d.delivered == own - minus)
        })
    });
    (Some(groups), clean)
}
