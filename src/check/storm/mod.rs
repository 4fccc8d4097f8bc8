//! `wsprobe storm`: N clients connect (all at once, ramped, or at a rate),
//! hold, are disrupted, and reconnect by a backoff policy. Reports the
//! handshake latency of each wave, attempts per second at the peak,
//! rejections by reason, clients that gave up, peak concurrency and the
//! time to recover, and says when wsprobe's own limits shaped the result.

mod args;
mod backlog;
mod client;
mod echo;
mod hold;
mod judge;
mod launch;
pub mod merge;
mod park;
mod phases;
mod report;
mod settle;
pub mod stats;
mod table;

use std::future::Future;
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use args::{Disrupt, Jitter, StormArgs};
pub use phases::Phases;
pub use report::{Histograms, Interruption, Messages, StormDetails, StormPart, StormTimes, WaveCounts};

use self::stats::StormStats;
use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::limits;
use crate::plan::{ClientPlan, Target};
use crate::shard::{ShardInfo, ShardPlan};
use crate::stats::listen_queue::ListenQueue;
use crate::stats::selfwatch::SelfWatch;
use crate::target::Resolved;
use crate::units::{Backoff, Rate};

/// The `storm` check: a herd, a disruption, a reconnect storm.
#[derive(Debug)]
pub struct Storm;

impl Check for Storm {
    const NAME: &'static str = "storm";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = StormArgs;
    type Plan = StormPlan;

    fn client_args(args: &StormArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(a: &StormArgs) -> Result<StormPlan, PlanError> {
        let mut client = ClientPlan::from_args(&a.client)?;
        client.source_ips = a.source_ip.clone();
        client.capture_headers = false;
        client.pin_addresses = true;
        let plan = StormPlan {
            client,
            clients: a.clients,
            ramp: a.ramp,
            connect_rate: a.connect_rate,
            hold: a.hold,
            message: a.message.clone(),
            message_interval: a.message_interval,
            disrupt: a.disrupt,
            backoff: a.backoff,
            jitter: a.jitter,
            max_attempts: a.max_attempts,
            wave_timeout: a.wave_timeout,
            tcp_only: a.tcp_only,
            close_timeout: a.client.close_timeout,
            max_pending: a.max_pending,
            progress: crate::report::progress::wanted(a.client.output.json, a.client.output.quiet),
            shard: ShardPlan::from_args(&a.shard, |k| std::env::var(k).ok())?,
        };
        plan.validate()?;
        preflight(&plan)?;
        Ok(plan)
    }

    fn client(plan: &StormPlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a StormPlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }

    fn shard(plan: &StormPlan) -> Option<ShardInfo> {
        Some(plan.shard.info())
    }

    fn plan_hash(plan: &StormPlan) -> String {
        let mut blank = plan.clone();
        blank.shard = ShardPlan::blank();
        blank.progress = false;
        blank.client.source_ips.clear();
        crate::shard::hash::of(&blank)
    }
}

/// What `storm` does.
#[derive(Debug, Clone)]
pub struct StormPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Clients.
    pub clients: u32,
    /// Spread the first wave over this time.
    pub ramp: Option<Duration>,
    /// Or open the first wave at this rate.
    pub connect_rate: Option<Rate>,
    /// Hold before the disruption.
    pub hold: Duration,
    /// Echo message.
    pub message: Option<String>,
    /// Echo interval per client.
    pub message_interval: Duration,
    /// How clients are disrupted.
    pub disrupt: Disrupt,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// Backoff jitter.
    pub jitter: Jitter,
    /// Attempts per client and wave.
    pub max_attempts: u32,
    /// Longest time a wave may take.
    pub wave_timeout: Duration,
    /// Plain TCP instead of WebSocket.
    pub tcp_only: bool,
    /// Time the server gets to answer our close frame.
    pub close_timeout: Duration,
    /// Connection attempts in flight at once.
    pub max_pending: u32,
    /// Draw live progress.
    pub progress: bool,
    /// Which clients of the total are this process's, and when to start.
    pub shard: ShardPlan,
}

impl StormPlan {
    /// Checks the storm options that clap cannot.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.clients == 0 {
            return Err(PlanError::new("--clients must be at least 1"));
        }
        if self.max_pending == 0 {
            return Err(PlanError::new("--max-pending must be at least 1"));
        }
        if self.max_attempts == 0 {
            return Err(PlanError::new("--max-attempts must be at least 1"));
        }
        if self.message.is_some() && self.message_interval.is_zero() {
            return Err(PlanError::new("--message-interval must be above zero"));
        }
        crate::plan::positive("--wave-timeout", self.wave_timeout)?;
        self.shard.check(self.clients, matches!(self.client.target, Target::Embedded(_)))?;
        if self.tcp_only && self.client.app.is_some() {
            return Err(PlanError::new(
                "--tcp-only opens bare TCP connections: drop --protocol, --init, --ready and --reply",
            ));
        }
        Ok(())
    }

    /// Clients this process runs (its shard's share of `clients`).
    pub fn local_clients(&self) -> u32 {
        self.shard.share(self.clients)
    }

    /// When global client `i` starts, after the run's start: the
    /// one-machine schedule, whichever shard runs it.
    fn start_offset(&self, i: u32) -> Duration {
        match (self.ramp, self.connect_rate) {
            (Some(ramp), _) => ramp.mul_f64(f64::from(i) / f64::from(self.clients)),
            (None, Some(rate)) => rate.interval().saturating_mul(i),
            (None, None) => Duration::ZERO,
        }
    }
}

/// Stops before starting when this machine cannot hold the storm: open
/// files for every client socket (and the embedded server's), ephemeral
/// ports towards one server address. The message says the numbers and the
/// ways out.
pub fn preflight(plan: &StormPlan) -> Result<(), PlanError> {
    let limit = limits::raise_open_files();
    let embedded = matches!(plan.client.target, Target::Embedded(_));
    let clients = u64::from(plan.local_clients());
    let need = limits::open_files_now() + 64 + clients * if embedded { 2 } else { 1 };
    if need > limit.soft {
        let server_part = if embedded { format!(" + {clients} for the embedded server") } else { String::new() };
        let can = limit.soft.saturating_sub(limits::open_files_now() + 64) / if embedded { 2 } else { 1 };
        let way_out = if embedded {
            "run the server in another process (`wsprobe serve`) and give its URL, lower --clients, or raise the open-file limit (ulimit -n; the hard limit needs root)"
        } else {
            "lower --clients, run several wsprobe processes, or raise the open-file limit (ulimit -n; the hard limit needs root)"
        };
        return Err(PlanError::new(format!(
            "storm --clients {clients} needs about {need} open files ({clients} client sockets{server_part}), but the open-file limit of this process is {} (hard limit {}): it can open about {can} clients here. Way out: {way_out}",
            limit.soft, limit.hard
        )));
    }
    let (first, last) = limits::ephemeral_ports();
    let ports = u64::from(last - first + 1) * plan.client.source_ips.len().max(1) as u64;
    if clients > ports {
        return Err(PlanError::new(format!(
            "storm --clients {clients} needs {clients} local ports towards one server address, but the ephemeral range {first}-{last} gives {ports}: spread clients over more local addresses with --source-ip 127.0.0.2,127.0.0.3,... (any 127.x address works on loopback)"
        )));
    }
    Ok(())
}

/// Runs `storm`.
pub async fn run(plan: &StormPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let Some(start) = crate::shard::start::wait(plan.shard.start_at, stop).await else {
        return Observation::default();
    };
    let t0 = start.origin.instant;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut fresh = StormStats::new(t0);
    fresh.timeline = crate::stats::timeline::Timeline::new(start.origin);
    let stats = Arc::new(Mutex::new(fresh));
    let collector = tokio::spawn(crate::stats::collect(rx, stats.clone()));
    let end = stop.child_token();
    let mut endpoint = target.endpoint.clone();
    endpoint.source_stride = plan.shard.count;
    let tracker = TaskTracker::new();
    let (parked, parked_rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(client::Ctx {
        endpoint,
        plan: plan.clone(),
        events: tx,
        disrupt: end.child_token(),
        end: end.clone(),
        settled: Default::default(),
        connected: [AtomicU32::new(0), AtomicU32::new(0)],
        pending: tokio::sync::Semaphore::new(plan.max_pending as usize),
        parked,
        tracker: tracker.clone(),
    });
    let watch = SelfWatch::start();
    let progress = report::progress(plan, stats.clone(), ctx.clone());
    // Read before the first client can send its SYN.
    let queue_before = on_this_machine(target).then(ListenQueue::read).flatten();
    let arrivals = launch::arrivals(plan, &start).count() as u32;
    tracker.spawn(park::holder(ctx.clone(), parked_rx));
    tracker.spawn(launch::launch(ctx.clone(), start));
    let mut phases = phases::drive(plan, &ctx, arrivals, stop).await;
    phases.listen_queue = queue_before.and_then(|before| Some(ListenQueue::read()?.since(before)));
    end.cancel();
    tracker.close();
    let _ = tokio::time::timeout(plan.close_timeout + crate::check::FINISH_GRACE, tracker.wait()).await;
    progress.finish();
    drop(ctx);
    let _ = collector.await;
    let samples = watch.finish().await;
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_else(|p| p.into_inner().clone());
    let mut obs = report::build(plan, &stats, &phases, &samples);
    obs.run.origin = Some(start.origin.wall);
    obs.run.start = start.record(u64::from(plan.local_clients() - arrivals));
    obs.run.timeline = Some(stats.timeline.seconds(Instant::now()));
    obs.warnings.extend(stats.timeline.truncation_warning());
    obs
}

/// True when every address the clients connect to is on this machine
/// (loopback), so the kernel's listen-queue counters are the server's.
fn on_this_machine(target: &Resolved) -> bool {
    target.endpoint.pinned.as_ref().is_some_and(|a| !a.is_empty() && a.iter().all(|a| a.ip().is_loopback()))
}

#[cfg(test)]
pub(crate) fn tests_support_plan() -> StormPlan {
    tests::plan(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn plan(clients: u32) -> StormPlan {
        StormPlan {
            client: ClientPlan::for_target(Target::Embedded(Default::default())),
            clients,
            ramp: None,
            connect_rate: None,
            hold: Duration::ZERO,
            message: None,
            message_interval: Duration::from_millis(100),
            disrupt: Disrupt::Abrupt,
            backoff: Backoff::None,
            jitter: Jitter::None,
            max_attempts: 3,
            wave_timeout: Duration::from_secs(5),
            tcp_only: false,
            close_timeout: Duration::from_secs(1),
            max_pending: 100,
            progress: false,
            shard: ShardPlan::default(),
        }
    }

    #[test]
    fn preflight_names_the_open_file_limit() {
        let err = preflight(&plan(1_000_000)).unwrap_err().to_string();
        assert!(err.contains("open-file limit") && err.contains("wsprobe serve"), "{err}");
        assert!(preflight(&plan(10)).is_ok());
    }

    #[test]
    fn ramp_and_rate_spread_start_times() {
        let mut p = plan(10);
        p.ramp = Some(Duration::from_secs(1));
        assert_eq!(p.start_offset(5), Duration::from_millis(500));
        p.ramp = None;
        p.connect_rate = Some("100/s".parse().unwrap());
        assert_eq!(p.start_offset(5), Duration::from_millis(50));
    }
}
