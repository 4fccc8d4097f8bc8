//! Merging soak shards: counts add, histograms add (the ping cadence and
//! pong round trips are read from the sums), close records are pooled on
//! one clock (each shard's `at_s` moved to the earliest start), and the
//! drop period and every diagnosis line are derived again from the pooled
//! records and the drops by kind (counts and lifetimes add, so drops a
//! shard counted but did not keep still count) by the same functions a
//! single soak uses: a token TTL that every shard saw reads as one period.
//! The application layers add up the same way (histograms add).

use super::app::{median_s, AppDetails, AppHistograms, MAX_EXPLAINED};
use super::closes::CloseRecord;
use super::kept::{merge_kinds, DropKind};
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
        closes_omitted: Some(shards.iter().map(|(_, d)| d.closes_omitted.unwrap_or(0)).sum()).filter(|&n| n > 0),
        drop_kinds: pooled_kinds(shards, ctx),
        server_pings: ServerPings { count: sum(|d| d.server_pings.count), median_interval_s: None },
        pong_rtt_ms: pong_rtt.percentiles(),
        app_ping,
        period: None,
        failed_attempts: add_counts(shards.iter().map(|(_, d)| &d.failed_attempts)),
        ping_interval_s: first.ping_interval_s,
        app_ping_interval_s: first.app_ping_interval_s,
        histograms: StabilityHistograms { ping_intervals: ping_intervals.to_base64(), pong_rtt: pong_rtt.to_base64() },
        app: merged_app(shards)?,
    };
    let stats = judge::stats_of(&merged);
    merged.server_pings.median_interval_s = stats.median_ping_interval_s();
    merged.period = stats.period();
    Ok(merged)
}

/// A shard's close record moved onto the merged clock.
fn shifted(c: &CloseRecord, shift: f64) -> CloseRecord {
    CloseRecord { at_s: ((c.at_s + shift) * 1000.0).round() / 1000.0, ..c.clone() }
}

/// Every shard's close records on the merged clock, in time order. Each
/// client lives on one shard, so every client keeps at most its first and
/// last 10, as in one soak.
fn pooled_closes(shards: &[Shard<'_>], ctx: &Context<'_>) -> Vec<CloseRecord> {
    let mut out: Vec<CloseRecord> = shards
        .iter()
        .flat_map(|(p, d)| {
            let shift = seconds_between(ctx.started, p.started);
            d.closes.iter().map(move |c| shifted(c, shift))
        })
        .collect();
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s).then(a.client.cmp(&b.client)));
    out
}

/// Every shard's drops by kind added up, their first drops on the merged clock.
fn pooled_kinds(shards: &[Shard<'_>], ctx: &Context<'_>) -> Vec<DropKind> {
    let lists: Vec<Vec<DropKind>> = shards
        .iter()
        .map(|(p, d)| {
            let shift = seconds_between(ctx.started, p.started);
            d.drop_kinds.iter().map(|k| DropKind { first: shifted(&k.first, shift), ..k.clone() }).collect()
        })
        .collect();
    merge_kinds(lists.iter().map(Vec::as_slice))
}

/// The shards' application layers as one: counts add, histograms add
/// (medians and percentiles from the sums), the longest silence is the
/// longest, the explained drops the first shards' (still at most 3).
fn merged_app(shards: &[Shard<'_>]) -> Result<Option<AppDetails>, String> {
    let apps: Vec<(&Part<'_>, &AppDetails)> = shards.iter().filter_map(|(p, d)| Some((p, d.app.as_ref()?))).collect();
    let Some((_, first)) = apps.first() else { return Ok(None) };
    if apps.len() != shards.len() {
        return Err("some shards ran an application layer and some did not".into());
    }
    same(apps.iter().map(|(p, a)| (*p, &a.protocol)), "app.protocol")?;
    let each = || apps.iter().map(|(p, a)| (*p, *a));
    let ready = sum_histograms(each(), "app.histograms.ready", |a: &AppDetails| &a.histograms.ready)?;
    let intervals = sum_histograms(each(), "app.histograms.server_heartbeat_intervals", |a: &AppDetails| {
        &a.histograms.server_heartbeat_intervals
    })?;
    let rtt = sum_histograms(each(), "app.histograms.heartbeat_rtt", |a: &AppDetails| &a.histograms.heartbeat_rtt)?;
    let sum = |f: fn(&AppDetails) -> u64| apps.iter().map(|(_, a)| f(a)).sum::<u64>();
    Ok(Some(AppDetails {
        protocol: first.protocol,
        announced: apps.iter().find_map(|(_, a)| a.announced),
        ready_ms: ready.percentiles(),
        server_heartbeats: ServerPings {
            count: sum(|a| a.server_heartbeats.count),
            median_interval_s: median_s(&intervals),
        },
        replies: sum(|a| a.replies),
        withheld: sum(|a| a.withheld),
        heartbeats_sent: sum(|a| a.heartbeats_sent),
        heartbeat_rtt_ms: rtt.percentiles(),
        stale: sum(|a| a.stale),
        longest_silence_s: apps.iter().map(|(_, a)| a.longest_silence_s).fold(0.0, f64::max),
        dropped_replies: sum(|a| a.dropped_replies),
        keeps_alive: first.keeps_alive,
        heartbeat_acked: first.heartbeat_acked,
        explained: apps.iter().flat_map(|(_, a)| a.explained.iter().cloned()).take(MAX_EXPLAINED).collect(),
        explained_total: sum(|a| a.explained_total),
        histograms: AppHistograms {
            ready: ready.to_base64(),
            server_heartbeat_intervals: intervals.to_base64(),
            heartbeat_rtt: rtt.to_base64(),
        },
    }))
}
