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
mod idle;
mod kept;
mod session;
mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use app::AppDetails;
pub use args::StabilityArgs;
pub use closes::{CloseRecord, Period};
pub use idle::{IdleDetails, IdleMethod, IdleSearch};

use self::closes::StabilityStats;
use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::attempt::Outcome;
use crate::plan::ClientPlan;
use crate::report::progress::LiveProgress;
use crate::report::table::Style;
use crate::report::{Details, Finding};
use crate::stats::latency::Percentiles;
use crate::target::Resolved;
use crate::units::{format_duration, ClientId};

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
            progress: crate::report::progress::wanted(a.client.output.json, a.client.output.quiet),
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
    /// Draw live progress.
    pub progress: bool,
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
        Ok(())
    }
}

/// Server pings seen.
#[derive(Debug, Clone, Serialize)]
pub struct ServerPings {
    /// How many.
    pub count: u64,
    /// Median interval between two on one connection, in seconds.
    pub median_interval_s: Option<f64>,
}

/// Application heartbeat counts.
#[derive(Debug, Clone, Serialize)]
pub struct AppPing {
    /// Heartbeats sent.
    pub sent: u64,
    /// Messages received (replies).
    pub replies: u64,
}

/// `stability`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct StabilityDetails {
    /// Connections held at once.
    pub clients: u32,
    /// Planned duration.
    pub duration_s: f64,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes_omitted: Option<u64>,
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
    /// The application protocol, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppDetails>,
}

/// The heartbeat a soak ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heartbeat {
    /// Protocol ping frames, pong round trips measured.
    PingFrames,
    /// An application-level heartbeat message.
    App,
    /// The server's pings left unanswered.
    NoPong,
    /// The application protocol's own heartbeat (`--protocol`, `--reply`).
    Protocol,
    /// Nothing: shows idle timeouts.
    Silent,
}

impl std::fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Heartbeat::PingFrames => "ping-frames",
            Heartbeat::App => "app",
            Heartbeat::NoPong => "no-pong",
            Heartbeat::Protocol => "protocol",
            Heartbeat::Silent => "silent",
        })
    }
}

fn heartbeat(plan: &StabilityPlan) -> Heartbeat {
    match (plan.no_pong, plan.ping_interval, &plan.app_ping) {
        (true, _, _) => Heartbeat::NoPong,
        (_, Some(_), _) => Heartbeat::PingFrames,
        (_, None, Some(_)) => Heartbeat::App,
        _ if plan.client.app.as_ref().is_some_and(|a| a.has_heartbeat()) => Heartbeat::Protocol,
        _ => Heartbeat::Silent,
    }
}

/// Runs `stability`.
pub async fn run(plan: &StabilityPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    if plan.find_idle_timeout {
        return idle::run(plan, target, stop).await;
    }
    let t0 = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let stats = Arc::new(Mutex::new(StabilityStats::new(t0)));
    let collector = tokio::spawn(crate::stats::collect(rx, stats.clone()));
    let endpoint = target.endpoint.clone();
    let end = stop.child_token();
    let ctx = Arc::new(session::Ctx {
        endpoint,
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
    for i in 0..plan.clients {
        tracker.spawn(session::run(ctx.clone(), ClientId::new(i)));
    }
    tracker.close();
    let progress = progress(plan, stats.clone());
    tokio::select! {
        _ = tokio::time::sleep(plan.duration) => {}
        _ = stop.cancelled() => {}
        _ = all_gone(&tracker, plan.reconnect) => {}
    }
    end.cancel();
    let _ = tokio::time::timeout(plan.client.close_timeout + crate::check::FINISH_GRACE, tracker.wait()).await;
    progress.finish();
    drop(ctx);
    let _ = collector.await;
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone());
    build(plan, &stats)
}

/// Without --reconnect, the soak is over once every client has ended.
async fn all_gone(tracker: &TaskTracker, reconnect: bool) {
    if reconnect {
        std::future::pending::<()>().await;
    }
    tracker.wait().await;
}

fn build(plan: &StabilityPlan, stats: &StabilityStats) -> Observation {
    let mut obs = Observation::default();
    let survived = plan.clients.saturating_sub(stats.dropped_clients.len() as u32);
    if stats.connections == 0 {
        let outcomes = crate::report::counts(&stats.failed_attempts);
        return Observation::failed(format!("no connection could be opened ({outcomes})"));
    }
    let held = format_duration(plan.duration);
    let detail = match stats.closes.first() {
        None => format!("{survived}/{} connections stayed open for {held}", plan.clients),
        Some(first) => format!(
            "{} drop(s); first: client {} after {:.1} s with {}",
            stats.closes.len(),
            first.client,
            first.after_s,
            cause::short(first)
        ),
    };
    obs.add(Finding::new("survival", stats.closes.is_empty(), detail));
    heartbeat_findings(plan, stats, &mut obs);
    app::findings(plan, &stats.app, &mut obs);
    let setup = diagnose::Setup {
        clients: plan.clients,
        duration: plan.duration,
        ping_interval: plan.ping_interval,
        app_ping_interval: plan.app_ping.as_ref().map(|(_, d)| *d),
        no_pong: plan.no_pong,
        app_heartbeat: plan
            .client
            .app
            .as_ref()
            .filter(|a| a.has_heartbeat())
            .map(|a| a.protocol.map(|p| p.title()).unwrap_or("application")),
    };
    obs.diagnosis = diagnose::diagnose(&setup, stats);
    obs.diagnosis.extend(app::diagnosis(plan, &stats.app));
    let mut closes = stats.closes.records();
    diagnose::read_causes(&setup, stats, &mut closes);
    obs.with_details(StabilityDetails {
        clients: plan.clients,
        duration_s: plan.duration.as_secs_f64(),
        survived,
        connections: stats.connections,
        heartbeat: heartbeat(plan),
        closes,
        closes_omitted: Some(stats.closes.omitted()).filter(|&n| n > 0),
        server_pings: ServerPings { count: stats.server_pings, median_interval_s: stats.median_ping_interval_s() },
        pong_rtt_ms: stats.pong_rtt.percentiles(),
        app_ping: plan.app_ping.as_ref().map(|_| AppPing { sent: stats.app_sent, replies: stats.messages_in }),
        period: stats.period(),
        failed_attempts: stats.failed_attempts.clone(),
        app: app::details(plan, &stats.app),
    })
}

fn heartbeat_findings(plan: &StabilityPlan, stats: &StabilityStats, obs: &mut Observation) {
    if plan.ping_interval.is_some() && !plan.no_pong {
        let answered = stats.pong_rtt.count();
        let detail = match stats.pong_rtt.percentiles() {
            Some(p) => format!("{answered} pongs, round trip p50 {:.2} ms, p99 {:.2} ms", p.p50, p.p99),
            None => "the server answered none of our pings (RFC 6455 5.5.2 requires a pong)".into(),
        };
        obs.add(Finding::new("pongs", answered > 0, detail));
    }
    if plan.app_ping.is_some() {
        let ok = stats.messages_in > 0 || stats.app_sent == 0;
        obs.add(Finding::new(
            "app-heartbeat",
            ok,
            format!("{} replies to {} heartbeats", stats.messages_in, stats.app_sent),
        ));
    }
}

/// The live line: elapsed / duration, open connections, drops so far.
fn progress(plan: &StabilityPlan, stats: Arc<Mutex<StabilityStats>>) -> LiveProgress {
    let bar = crate::report::progress::bar(plan.progress, plan.duration.as_secs().max(1), "soaking");
    let clients = plan.clients;
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
