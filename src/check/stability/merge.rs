//! Merging soak shards: counts add, histograms add (the ping cadence and
//! pong round trips are read from the sums), close records are pooled on
//! one clock (each shard's `at_s` moved to the earliest start), and the
//! drop period and every diagnosis line are derived again from the pooled
//! records by the same functions a single soak uses: a token TTL that
//! every shard saw reads as one period.

use super::closes::CloseRecord;
use super::{judge, AppPing, ServerPings, StabilityDetails, StabilityHistograms};
use crate::check::mergeable::{add_counts, details, same, sum_histograms, Context, Merger, Part};
use crate::check::Observation;
use crate::clock::seconds_between;

/// `stability`'s merge hook.
pub const MERGER: Merger = Merger { command: "stability", merge };

type Shard<'a> = (Part<'a>, StabilityDetails);

fn merge(parts: &[Part<'_>], ctx: &Context<'_>) -> Result<Observation, String> {
    let shards: Vec<Shard<'_>> =
        parts.iter().map(|p| Ok((*p, details::<StabilityDetails>(p)?))).collect::<Result<_, String>>()?;
    let merged = combine(&shards, ctx)?;
    Ok(judge::judge(&merged).with_details(merged))
}

fn combine(shards: &[Shard<'_>], ctx: &Context<'_>) -> Result<StabilityDetails, String> {
    let each = || shards.iter().map(|(p, d)| (p, d));
    let first = &shards.first().ok_or("no stability shard to merge")?.1;
    same(each().map(|(p, d)| (p, &d.heartbeat)), "heartbeat")?;
    let ping_intervals =
        sum_histograms(each(), "histograms.ping_intervals", |d: &StabilityDetails| &d.histograms.ping_intervals)?;
    let pong_rtt = sum_histograms(each(), "histograms.pong_rtt", |d: &StabilityDetails| &d.histograms.pong_rtt)?;
    let sum = |f: fn(&StabilityDetails) -> u64| shards.iter().map(|(_, d)| f(d)).sum::<u64>();
    let app_ping = first.app_ping.as_ref().map(|_| AppPing {
        sent: sum(|d| d.app_ping.as_ref().map_or(0, |a| a.sent)),
        replies: sum(|d| d.app_ping.as_ref().map_or(0, |a| a.replies)),
    });
    let mut merged = StabilityDetails {
        clients: shards.iter().map(|(_, d)| d.clients).sum(),
        duration_s: first.duration_s,
        survived: shards.iter().map(|(_, d)| d.survived).sum(),
        connections: sum(|d| d.connections),
        heartbeat: first.heartbeat,
        closes: pooled_closes(shards, ctx),
        server_pings: ServerPings { count: sum(|d| d.server_pings.count), median_interval_s: None },
        pong_rtt_ms: pong_rtt.percentiles(),
        app_ping,
        period: None,
        failed_attempts: add_counts(shards.iter().map(|(_, d)| &d.failed_attempts)),
        ping_interval_s: first.ping_interval_s,
        app_ping_interval_s: first.app_ping_interval_s,
        histograms: StabilityHistograms { ping_intervals: ping_intervals.to_base64(), pong_rtt: pong_rtt.to_base64() },
    };
    let stats = judge::stats_of(&merged);
    merged.server_pings.median_interval_s = stats.median_ping_interval_s();
    merged.period = stats.period();
    Ok(merged)
}

/// Every shard's close records on the merged clock, in time order.
fn pooled_closes(shards: &[Shard<'_>], ctx: &Context<'_>) -> Vec<CloseRecord> {
    let mut out: Vec<CloseRecord> = shards
        .iter()
        .flat_map(|(p, d)| {
            let shift = seconds_between(ctx.started, p.started);
            d.closes
                .iter()
                .map(move |c| CloseRecord { at_s: ((c.at_s + shift) * 1000.0).round() / 1000.0, ..c.clone() })
        })
        .collect();
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s).then(a.client.cmp(&b.client)));
    out
}
