//! `wsprobe stability`: hold connections for minutes and explain every
//! drop: who closed, when, clean or abnormal (1006: EOF or reset), after
//! how much silence in each direction, how often the server pinged, and the
//! period of repeated drops. `--find-idle-timeout` searches the idle timeout
//! of the path instead.

mod app;
mod args;
pub mod cause;
pub mod closes;
mod diagnose;
mod heartbeat;
mod idle;
mod judge;
mod kept;
pub mod merge;
mod session;
mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use app::{AppDetails, AppHistograms};
pub use args::StabilityArgs;
pub use closes::{CloseRecord, Period};
pub use heartbeat::Heartbeat;
pub use idle::{IdleDetails, IdleMethod, IdleSearch};
pub use judge::stats_of;
pub use kept::{DropKind, Lifetimes};

use self::closes::StabilityStats;
use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::attempt::Outcome;
use crate::plan::ClientPlan;
use crate::report::progress::LiveProgress;
use crate::report::table::Style;
use crate::report::Details;
use crate::shard::{ShardInfo, ShardPlan};
use crate::stats::latency::Percentiles;
use crate::target::Resolved;
use crate::units::ClientId;

/// `--app-ping-interval` unless given.
pub const DEFAULT_APP_PING_INTERVAL: Duration = Duration::from_secs(10);

/// The `stability` check: a soak, or the idle-timeout search.
#[derive(Debug)]
pub struct Stability;

impl Check for Stability {
    const NAME: &'static str = "stability";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = StabilityArgs;
    type Plan = StabilityPlan;

    fn client_args(args: &StabilityArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(a: &StabilityArgs) -> Result<StabilityPlan, PlanError> {
        let mut client = ClientPlan::from_args(&a.client)?;
        client.withhold_pongs = a.no_pong;
        if let (None, Some(every)) = (&a.app_ping, a.app_ping_interval) {
            app::beat_every(&mut client, every)?;
        }
        let plan = StabilityPlan {
            client,
            clients: a.clients,
            duration: a.duration,
            ping_interval: a.ping_interval,
            app_ping: a.app_ping.clone().map(|text| (text, a.app_ping_interval.unwrap_or(DEFAULT_APP_PING_INTERVAL))),
            no_pong: a.no_pong,
            reconnect: a.reconnect,
            backoff: a.backoff,
            jitter: a.jitter,
            find_idle_timeout: a.find_idle_timeout,
            max_idle: a.max_idle,
            metrics_addr: a.metrics_addr,
            progress: crate::report::progress::wanted(a.client.output.json, a.client.output.quiet),
            shard: ShardPlan::from_args(&a.shard, |k| std::env::var(k).ok())?,
        };
        plan.validate()?;
        Ok(plan)
    }

    fn client(plan: &StabilityPlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a StabilityPlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }

    fn shard(plan: &StabilityPlan) -> Option<ShardInfo> {
        (!plan.find_idle_timeout).then(|| plan.shard.info())
    }

    fn plan_hash(plan: &StabilityPlan) -> String {
        let mut blank = plan.clone();
        blank.shard = ShardPlan::blank();
        blank.progress = false;
        crate::shard::hash::of(&blank)
    }
}

impl Details for StabilityDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// What `stability` does.
#[derive(Debug, Clone)]
pub struct StabilityPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Connections to hold.
    pub clients: u32,
    /// How long.
    pub duration: Duration,
    /// Protocol ping interval.
    pub ping_interval: Option<Duration>,
    /// Application heartbeat text and interval.
    pub app_ping: Option<(String, Duration)>,
    /// Withhold pongs.
    pub no_pong: bool,
    /// Reconnect after drops.
    pub reconnect: bool,
    /// Pause before each reconnect.
    pub backoff: crate::units::Backoff,
    /// Random spread on the pause.
    pub jitter: crate::units::Jitter,
    /// Search the idle timeout instead of soaking.
    pub find_idle_timeout: bool,
    /// Longest idle time the search tries.
    pub max_idle: Duration,
    /// Serve live metrics here while the soak runs.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Draw live progress.
    pub progress: bool,
    /// Which clients of the total are this process's, and when to start.
    pub shard: ShardPlan,
}

impl StabilityPlan {
    /// Checks combinations that cannot work.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.clients == 0 {
            return Err(PlanError::new("--clients must be at least 1"));
        }
        crate::plan::positive("--duration", self.duration)?;
        if let Some(p) = self.ping_interval {
            crate::plan::positive("--ping-interval", p)?;
        }
        if let Some((_, every)) = &self.app_ping {
            crate::plan::positive("--app-ping-interval", *every)?;
        }
        if self.find_idle_timeout && (self.ping_interval.is_some() || self.app_ping.is_some()) {
            return Err(PlanError::new(
                "--find-idle-timeout holds silent connections: drop --ping-interval and --app-ping",
            ));
        }
        if self.find_idle_timeout {
            crate::plan::positive("--max", self.max_idle)?;
        }
        if self.find_idle_timeout && self.shard.is_sharded() {
            return Err(PlanError::new("--find-idle-timeout runs on one machine: drop --shard/--shards"));
        }
        self.shard.check(self.clients, matches!(self.client.target, crate::plan::Target::Embedded(_)))?;
        Ok(())
    }
}

/// Server pings seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerPings {
    /// How many.
    pub count: u64,
    /// Median interval between two on one connection, in seconds.
    pub median_interval_s: Option<f64>,
}

/// Application heartbeat counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppPing {
    /// Heartbeats sent.
    pub sent: u64,
    /// Messages received (replies).
    pub replies: u64,
}

/// The soak's histograms (HdrHistogram V2 + base64, µs), mergeable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StabilityHistograms {
    /// Intervals between two server pings on one connection.
    pub ping_intervals: String,
    /// Round trips of our pings.
    pub pong_rtt: String,
}

/// `stability`'s JSON fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StabilityDetails {
    /// Connections held at once.
    pub clients: u32,
    /// Planned duration.
    pub duration_s: f64,
    /// Seconds the soak actually ran: the planned duration, or less when
    /// Ctrl-C (or every client gone) ended it early. Findings speak of
    /// this time, never of a duration that was not run.
    pub held_s: f64,
    /// Clients never dropped.
    pub survived: u32,
    /// Connections opened (reconnects included).
    pub connections: u64,
    /// How the connections kept alive.
    pub heartbeat: Heartbeat,
    /// The drops: all of them, or the first and last 10 of each client.
    pub closes: Vec<CloseRecord>,
    /// Drops counted but left out of `closes` (between each client's first
    /// and last 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_omitted: Option<u64>,
    /// Every drop, in `closes` or not, by close code and kind: how many,
    /// the first, and their lifetimes (the diagnosis and the drop period
    /// count them all).
    pub drop_kinds: Vec<DropKind>,
    /// Server pings.
    pub server_pings: ServerPings,
    /// Round trip of our pings, ms.
    pub pong_rtt_ms: Option<Percentiles>,
    /// Application heartbeat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_ping: Option<AppPing>,
    /// A regular drop period.
    pub period: Option<Period>,
    /// Failed connection attempts by outcome.
    pub failed_attempts: BTreeMap<Outcome, u64>,
    /// Our ping interval, in seconds.
    pub ping_interval_s: Option<f64>,
    /// Our application heartbeat interval, in seconds.
    pub app_ping_interval_s: Option<f64>,
    /// The histograms.
    pub histograms: StabilityHistograms,
    /// The application protocol, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppDetails>,
}

/// Runs `stability`.
pub async fn run(plan: &StabilityPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    if plan.find_idle_timeout {
        return idle::run(plan, target, stop).await;
    }
    let Some(start) = crate::shard::start::wait(plan.shard.start_at, stop).await else {
        return Observation::default();
    };
    let t0 = start.origin.instant;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut fresh = StabilityStats::new(t0);
    fresh.timeline = crate::stats::timeline::Timeline::new(start.origin);
    let stats = Arc::new(Mutex::new(fresh));
    let mut live = match crate::metrics::Live::start(plan.metrics_addr, stop).await {
        Ok(live) => live,
        Err(why) => return Observation::failed(why),
    };
    let collector = tokio::spawn(crate::stats::collect_tapped(rx, stats.clone(), live.tap()));
    let end = stop.child_token();
    let ctx = Arc::new(session::Ctx {
        endpoint: target.endpoint.clone(),
        ping_interval: plan.ping_interval,
        app_ping: plan.app_ping.clone(),
        reconnect: plan.reconnect,
        backoff: plan.backoff,
        jitter: plan.jitter,
        close_timeout: plan.client.close_timeout,
        end: end.clone(),
        events: tx,
        t0,
    });
    let tracker = TaskTracker::new();
    for i in plan.shard.clients(plan.clients) {
        tracker.spawn(session::run(ctx.clone(), ClientId::new(i)));
    }
    tracker.close();
    let progress = progress(plan, stats.clone());
    // Every shard ends at the same time: a late one holds for less.
    tokio::select! {
        _ = tokio::time::sleep_until((t0 + plan.duration).into()) => {}
        _ = stop.cancelled() => {}
        _ = session::all_gone(&tracker, plan.reconnect) => {}
    }
    let held = t0.elapsed().min(plan.duration);
    end.cancel();
    let _ = tokio::time::timeout(plan.client.close_timeout + crate::check::FINISH_GRACE, tracker.wait()).await;
    progress.finish();
    drop(ctx);
    let _ = collector.await;
    live.stop().await;
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone());
    let mut obs = build(plan, &stats, held, stop.is_cancelled());
    obs.run.origin = Some(start.origin.wall);
    obs.run.start = start.record(0);
    obs.run.timeline = Some(stats.timeline.seconds(Instant::now()));
    obs.warnings.extend(stats.timeline.truncation_warning());
    obs
}

/// The soak's details, judged; `held` is how long it ran, `interrupted`
/// whether Ctrl-C ended it.
fn build(plan: &StabilityPlan, stats: &StabilityStats, held: Duration, interrupted: bool) -> Observation {
    if stats.connections == 0 {
        let outcomes = crate::report::counts(&stats.failed_attempts);
        return Observation::failed(format!("no connection could be opened ({outcomes})"));
    }
    let mut details = StabilityDetails {
        clients: plan.shard.share(plan.clients),
        duration_s: plan.duration.as_secs_f64(),
        held_s: crate::units::secs(held),
        survived: plan.shard.share(plan.clients).saturating_sub(stats.dropped_clients.len() as u32),
        connections: stats.connections,
        heartbeat: heartbeat::of(plan),
        closes: stats.closes.records(),
        closes_omitted: Some(stats.closes.omitted()).filter(|&n| n > 0),
        drop_kinds: stats.closes.kind_list(),
        server_pings: ServerPings { count: stats.server_pings, median_interval_s: stats.median_ping_interval_s() },
        pong_rtt_ms: stats.pong_rtt.percentiles(),
        app_ping: plan.app_ping.as_ref().map(|_| AppPing { sent: stats.app_sent, replies: stats.messages_in }),
        period: stats.period(),
        failed_attempts: stats.failed_attempts.clone(),
        ping_interval_s: plan.ping_interval.map(|d| d.as_secs_f64()),
        app_ping_interval_s: plan.app_ping.as_ref().map(|(_, d)| d.as_secs_f64()),
        histograms: StabilityHistograms {
            ping_intervals: stats.ping_intervals.to_base64(),
            pong_rtt: stats.pong_rtt.to_base64(),
        },
        app: app::details(plan, &stats.app),
    };
    judge::read_causes(&mut details);
    judge::judge(&details, interrupted).with_details(details)
}

/// The live line: elapsed / duration, open connections, drops so far.
fn progress(plan: &StabilityPlan, stats: Arc<Mutex<StabilityStats>>) -> LiveProgress {
    let bar = crate::report::progress::bar(plan.progress, plan.duration.as_secs().max(1), "soaking");
    let clients = plan.shard.share(plan.clients);
    LiveProgress::start(bar, stats, move |s: &StabilityStats, bar| {
        let open = s.connections.saturating_sub(s.closes.len() + s.ours).min(u64::from(clients));
        bar.set_position(s.t0.elapsed().as_secs());
        bar.set_message(format!(
            "s | open {open}/{clients} | drops {} | server pings {}",
            s.closes.len(),
            s.server_pings
        ));
    })
}
