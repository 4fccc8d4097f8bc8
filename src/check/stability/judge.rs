//! Judging a soak: pure functions from its details (a fresh run's or a
//! merge of shards') to the findings and the diagnosis. The details are
//! read back into the collector's statistics (the kept close records with
//! the counts of every drop by kind, counts, the decoded histograms), so
//! the diagnosis functions see exactly what they see after a run, and a
//! merged soak is judged like a single one: a token TTL that every shard
//! saw reads as one drop period. The application layer is judged from
//! its own `app` object.

use std::time::{Duration, Instant};

use super::closes::StabilityStats;
use super::kept::KeptCloses;
use super::{diagnose, Heartbeat, StabilityDetails};
use crate::check::Observation;
use crate::report::Finding;
use crate::stats::latency::Latency;
use crate::units::format_duration;

/// The statistics the details stand for.
pub fn stats_of(d: &StabilityDetails) -> StabilityStats {
    let mut s = StabilityStats::new(Instant::now());
    s.closes = KeptCloses::rebuild(&d.closes, &d.drop_kinds, d.closes_omitted.unwrap_or(0));
    s.connections = d.connections;
    s.failed_attempts = d.failed_attempts.clone();
    s.server_pings = d.server_pings.count;
    s.ping_intervals = Latency::from_base64(&d.histograms.ping_intervals).unwrap_or_default();
    s.pong_rtt = Latency::from_base64(&d.histograms.pong_rtt).unwrap_or_default();
    if let Some(app) = &d.app_ping {
        s.app_sent = app.sent;
        s.messages_in = app.replies;
    }
    s.dropped_clients = d.closes.iter().map(|c| c.client).collect();
    s
}

/// What the soak did, as the diagnosis needs it: judged against the
/// time it actually ran when Ctrl-C cut it short.
fn setup(d: &StabilityDetails, interrupted: bool) -> diagnose::Setup {
    let ran = if interrupted { d.held_s.min(d.duration_s) } else { d.duration_s };
    diagnose::Setup {
        clients: d.clients,
        duration: Duration::from_secs_f64(ran.max(0.0)),
        ping_interval: d.ping_interval_s.map(|s| Duration::from_secs_f64(s.max(0.0))),
        app_ping_interval: d.app_ping_interval_s.map(|s| Duration::from_secs_f64(s.max(0.0))),
        no_pong: d.heartbeat == Heartbeat::NoPong,
        app_heartbeat: super::app::heartbeat_name(d.app.as_ref()),
    }
}

/// Reads every kept drop as the diagnosis does (its `cause`), from the
/// details alone, so a merged soak's drops read as a single one's.
pub fn read_causes(d: &mut StabilityDetails) {
    let setup = setup(d, false);
    let interval = d.server_pings.median_interval_s;
    for c in &mut d.closes {
        c.cause = super::cause::classify(&setup, interval, c);
    }
}

/// Findings and diagnosis. `interrupted`: Ctrl-C cut the soak short, so
/// what survived survived for the time run, not the time planned.
pub fn judge(d: &StabilityDetails, interrupted: bool) -> Observation {
    let stats = stats_of(d);
    let setup = setup(d, interrupted);
    let mut obs = Observation::default();
    let planned = format_duration(Duration::from_secs_f64(d.duration_s.max(0.0)));
    let held_for = if interrupted {
        format!("{:.1}s of the planned {planned} (interrupted)", d.held_s.min(d.duration_s))
    } else {
        planned
    };
    let detail = match stats.closes.first() {
        None => format!("{}/{} connections stayed open for {held_for}", d.survived, d.clients),
        Some(first) => format!(
            "{} drop(s); first: client {} after {:.1} s with {}",
            stats.closes.len(),
            first.client,
            first.after_s,
            super::cause::short(first)
        ),
    };
    obs.add(Finding::new("survival", stats.closes.is_empty(), detail));
    heartbeat_findings(d, &stats, &mut obs);
    if let Some(app) = &d.app {
        super::app::findings(app, &mut obs);
    }
    obs.diagnosis = diagnose::diagnose(&setup, &stats);
    obs.diagnosis.extend(d.app.iter().flat_map(super::app::diagnosis));
    obs
}

fn heartbeat_findings(d: &StabilityDetails, stats: &StabilityStats, obs: &mut Observation) {
    if d.heartbeat == Heartbeat::PingFrames {
        let answered = stats.pong_rtt.count();
        let detail = match stats.pong_rtt.percentiles() {
            Some(p) => format!("{answered} pongs, round trip p50 {:.2} ms, p99 {:.2} ms", p.p50, p.p99),
            None => "the server answered none of our pings (RFC 6455 5.5.2 requires a pong)".into(),
        };
        obs.add(Finding::new("pongs", answered > 0, detail));
    }
    if d.app_ping.is_some() {
        let ok = stats.messages_in > 0 || stats.app_sent == 0;
        obs.add(Finding::new(
            "app-heartbeat",
            ok,
            format!("{} replies to {} heartbeats", stats.messages_in, stats.app_sent),
        ));
    }
}
