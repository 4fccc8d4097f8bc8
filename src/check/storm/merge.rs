//! Merging storm shards: counts and outcome maps add, histograms add (the
//! percentiles and the chart are taken from the sums, never averaged),
//! rates are taken over the union of the shards' windows (and, steady,
//! over the whole seconds every shard was connecting), phase times are the
//! earliest or latest of the shards', the reconnect wave's peak is the sum
//! of the shards' (they disrupt at one instant), the first application
//! refusal is the first shard's that saw one, and the result is judged by
//! the same [`super::judge`] as a single run (interrupted when any shard
//! was).

use super::report::{Messages, StormDetails, StormTimes, WaveCounts};
use super::Disrupt;
use crate::check::mergeable::{add_counts, details, extreme, same, sum_histograms, Context, Merger, Part};
use crate::check::Observation;
use crate::clock::{rfc3339, seconds_between};
use crate::stats::timeline::{steady_rate, Count};

/// `storm`'s merge hook.
pub const MERGER: Merger = Merger { command: "storm", merge };

type Shard<'a> = (Part<'a>, StormDetails);

fn merge(parts: &[Part<'_>], ctx: &Context<'_>) -> Result<Observation, String> {
    let shards: Vec<Shard<'_>> =
        parts.iter().map(|p| Ok((*p, details::<StormDetails>(p)?))).collect::<Result<_, String>>()?;
    let merged = combine(&shards, ctx)?;
    let interrupted = parts.iter().any(|p| p.interrupted);
    let mut obs = super::judge::judge(&merged, interrupted);
    obs.warnings.extend(lost_seconds(ctx));
    Ok(obs.with_details(merged))
}

fn combine(shards: &[Shard<'_>], ctx: &Context<'_>) -> Result<StormDetails, String> {
    let each = || shards.iter().map(|(p, d)| (p, d));
    let first = &shards.first().ok_or("no storm shard to merge")?.1;
    same(each().map(|(p, d)| (p, &d.mode)), "mode")?;
    same(each().map(|(p, d)| (p, &d.disrupt)), "disrupt")?;
    let handshake = sum_histograms(each(), "histograms.handshake", |d: &StormDetails| &d.histograms.handshake)?;
    let reconnect =
        sum_histograms(each(), "histograms.reconnect_handshake", |d: &StormDetails| &d.histograms.reconnect_handshake)?;
    let tcp = sum_histograms(each(), "histograms.tcp_connect", |d: &StormDetails| &d.histograms.tcp_connect)?;
    let round_trip = sum_histograms(each(), "histograms.round_trip", |d: &StormDetails| &d.histograms.round_trip)?;
    let app_ready = sum_histograms(each(), "histograms.app_ready", |d: &StormDetails| &d.histograms.app_ready)?;
    let proxy = sum_histograms(each(), "histograms.proxy_connect", |d: &StormDetails| &d.histograms.proxy_connect)?;
    let sum = |f: fn(&StormDetails) -> u64| shards.iter().map(|(_, d)| f(d)).sum::<u64>();
    let times = times(shards);
    let connected = sum(|d| d.connected);
    let reconnected = shards.iter().any(|(_, d)| d.reconnected.is_some()).then(|| sum(|d| d.reconnected.unwrap_or(0)));
    let per_second: Vec<u64> = ctx.timeline.iter().map(|s| s.attempts).collect();
    let peak_open = ctx.timeline.iter().map(|s| s.open).max().unwrap_or(0);
    Ok(StormDetails {
        mode: first.mode.clone(),
        clients: shards.iter().map(|(_, d)| d.clients).sum(),
        connected,
        reconnected,
        gave_up: sum(|d| d.gave_up),
        attempts: sum(|d| d.attempts),
        connections_per_s: rate(connected, ctx.started, &times.connected_at),
        steady_connections_per_s: steady(shards, ctx),
        peak_attempts_per_s: per_second.iter().copied().max().unwrap_or(0),
        reconnect_peak_attempts_per_s: reconnected.and(reconnect_peak(shards)),
        attempts_per_s: per_second,
        recovery_s: recovery(first.disrupt, connected, reconnected, &times),
        peak_concurrent: shards.iter().map(|(_, d)| d.peak_concurrent).max().unwrap_or(0).max(peak_open),
        handshake_ms: handshake.percentiles(),
        reconnect_handshake_ms: reconnect.percentiles(),
        tcp_connect_ms: tcp.percentiles(),
        proxy_connect_ms: proxy.percentiles(),
        round_trip_ms: round_trip.percentiles(),
        app_ready_ms: app_ready.percentiles(),
        messages: messages(shards, &times),
        rejections: add_counts(shards.iter().map(|(_, d)| &d.rejections)),
        app_refusal: shards.iter().find_map(|(_, d)| d.app_refusal.clone()),
        drops: add_counts(shards.iter().map(|(_, d)| &d.drops)),
        histogram: handshake.to_base64(),
        histograms: super::Histograms {
            handshake: handshake.to_base64(),
            reconnect_handshake: reconnect.to_base64(),
            tcp_connect: tcp.to_base64(),
            round_trip: round_trip.to_base64(),
            app_ready: app_ready.to_base64(),
            proxy_connect: proxy.to_base64(),
        },
        handshake_buckets: handshake.buckets(),
        disrupt: first.disrupt,
        backoff: first.backoff.clone(),
        max_attempts: first.max_attempts,
        waves: [wave(shards, 0), wave(shards, 1)],
        times,
    })
}

/// Messages sent and echoed, the rate over the union of the shards'
/// windows (the first intended send to the last echo).
fn messages(shards: &[Shard<'_>], times: &StormTimes) -> Messages {
    let sum = |f: fn(&Messages) -> u64| shards.iter().map(|(_, d)| f(&d.messages)).sum::<u64>();
    let received = sum(|m| m.received);
    Messages {
        sent: sum(|m| m.sent),
        received,
        per_s: span(&times.first_message_at, &times.last_message_at)
            .filter(|s| *s > 0.1)
            .map(|s| (received as f64 / s).round()),
    }
}

/// The reconnect wave's peak over all shards: the sum of the shards' own
/// peaks, at most the wave's attempts. The shards disrupt at the shared
/// instant, so their peaks coincide; the sum is never below the true peak
/// (the timeline's whole seconds would mix in the first wave's attempts).
fn reconnect_peak(shards: &[Shard<'_>]) -> Option<u64> {
    let peaks: Vec<u64> = shards.iter().filter_map(|(_, d)| d.reconnect_peak_attempts_per_s).collect();
    let attempts: u64 = shards.iter().map(|(_, d)| d.waves[1].attempts).sum();
    (!peaks.is_empty()).then(|| peaks.iter().sum::<u64>().min(attempts))
}

fn wave(shards: &[Shard<'_>], i: usize) -> WaveCounts {
    shards.iter().fold(WaveCounts::default(), |w, (_, d)| WaveCounts {
        attempts: w.attempts + d.waves[i].attempts,
        accepted: w.accepted + d.waves[i].accepted,
        gave_up: w.gave_up + d.waves[i].gave_up,
    })
}

/// Each phase at its earliest (starts) or latest (ends) over the shards.
fn times(shards: &[Shard<'_>]) -> StormTimes {
    let pick = |get: fn(&StormTimes) -> &Option<String>, latest: bool| {
        extreme(shards.iter().map(|(_, d)| get(&d.times)), latest).map(rfc3339)
    };
    StormTimes {
        connected_at: pick(|t| &t.connected_at, true),
        disrupt_at: pick(|t| &t.disrupt_at, false),
        first_drop_at: pick(|t| &t.first_drop_at, false),
        reconnected_at: pick(|t| &t.reconnected_at, true),
        first_message_at: pick(|t| &t.first_message_at, false),
        last_message_at: pick(|t| &t.last_message_at, true),
    }
}

fn span(from: &Option<String>, to: &Option<String>) -> Option<f64> {
    let parse = |t: &Option<String>| t.as_deref().and_then(crate::clock::parse_rfc3339);
    Some(seconds_between(parse(from)?, parse(to)?))
}

/// `n` over the union window: the earliest start to `until`.
fn rate(n: u64, started: std::time::SystemTime, until: &Option<String>) -> Option<f64> {
    let until = until.as_deref().and_then(crate::clock::parse_rfc3339)?;
    let s = seconds_between(started, until);
    (s > 0.0 && n > 0).then(|| (n as f64 / s).round())
}

/// First-wave connections per second over the whole seconds in which
/// every shard was connecting: from the latest start to the earliest
/// last connection.
fn steady(shards: &[Shard<'_>], ctx: &Context<'_>) -> Option<f64> {
    let from = shards.iter().map(|(p, _)| p.started).max()?;
    let ends: Option<Vec<_>> =
        shards.iter().map(|(_, d)| d.times.connected_at.as_deref().and_then(crate::clock::parse_rfc3339)).collect();
    let to = ends?.into_iter().min()?;
    steady_rate(ctx.timeline, from, to, Count::Accepted).map(f64::round)
}

fn recovery(disrupt: Disrupt, connected: u64, reconnected: Option<u64>, t: &StormTimes) -> Option<f64> {
    let all_back = reconnected? >= connected && connected > 0;
    let from = if disrupt == Disrupt::Server { &t.first_drop_at } else { &t.disrupt_at };
    let s = span(from, &t.reconnected_at)?;
    all_back.then(|| crate::units::secs(std::time::Duration::from_secs_f64(s.max(0.0))))
}

fn lost_seconds(ctx: &Context<'_>) -> Option<String> {
    ctx.timeline.is_empty().then(|| "no shard report had a timeline: per-second rates could not be merged".to_string())
}
