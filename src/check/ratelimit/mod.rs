//! `wsprobe ratelimit`: connection attempts on a steady schedule, each
//! classified; then the limit is inferred. Churn mode (open, close, next)
//! finds per-IP rate limits: the burst, and the window found by waiting
//! (honouring Retry-After) until an attempt is accepted again. Hold mode
//! keeps accepted connections open to find the concurrent cap, then closes
//! one and tries again: a leaking slot counter refuses forever.

mod args;
pub mod infer;
mod judge;
mod probe;
mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use args::{RatelimitArgs, RatelimitMode};

use self::infer::{AttemptRecord, Purpose};
use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::attempt::Outcome;
use crate::net::session::{close_all, close_cleanly, Watched};
use crate::plan::ClientPlan;
use crate::report::table::Style;
use crate::report::Details;
use crate::target::Resolved;
use crate::units::Rate;
use judge::{details, findings, infer, unreachable};
use probe::{retry_after_secs, Probe};

/// How often a closed window or a freed slot is probed: the precision of
/// the window found.
const WINDOW_PRECISION: Duration = Duration::from_millis(100);
/// Longest gap between two slot-reuse probes.
const REUSE_GAP_MAX: Duration = Duration::from_secs(2);
/// Longest wait for a freed slot to be given back.
const REUSE_WAIT: Duration = Duration::from_secs(5);

/// The `ratelimit` check: rate limits and concurrent caps.
#[derive(Debug)]
pub struct Ratelimit;

impl Check for Ratelimit {
    const NAME: &'static str = "ratelimit";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = RatelimitArgs;
    type Plan = RatelimitPlan;

    fn client_args(args: &RatelimitArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(a: &RatelimitArgs) -> Result<RatelimitPlan, PlanError> {
        let mut client = ClientPlan::from_args(&a.client)?;
        client.source_ips = a.source_ip.clone();
        let plan = RatelimitPlan {
            client,
            attempts: a.attempts,
            rate: a.rate,
            mode: a.mode,
            settle: a.settle,
            max_wait: a.max_wait,
            expect_rate: a.expect_rate,
            expect_max: a.expect_max,
            progress: crate::report::progress::wanted(a.client.output.json, a.client.output.quiet),
        };
        plan.validate()?;
        Ok(plan)
    }

    fn client(plan: &RatelimitPlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a RatelimitPlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }
}

impl Details for RatelimitDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// What `ratelimit` does.
#[derive(Debug, Clone)]
pub struct RatelimitPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Scheduled attempts.
    pub attempts: u32,
    /// Their schedule.
    pub rate: Rate,
    /// Churn or hold.
    pub mode: RatelimitMode,
    /// How long an accepted connection must stay open to count.
    pub settle: Duration,
    /// Longest wait for the window to reopen or a slot to come back.
    pub max_wait: Duration,
    /// The limit the server must enforce.
    pub expect_rate: Option<Rate>,
    /// The cap the server must enforce.
    pub expect_max: Option<u32>,
    /// Draw live progress.
    pub progress: bool,
}

impl RatelimitPlan {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.attempts == 0 {
            return Err(PlanError::new("--attempts must be at least 1"));
        }
        if self.mode == RatelimitMode::Churn && self.expect_max.is_some() {
            return Err(PlanError::new("--expect-max needs --mode hold: churn mode never holds connections"));
        }
        crate::plan::positive("--max-wait", self.max_wait)?;
        Ok(())
    }
}

/// What was inferred.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Inferred {
    /// Accepted before the first rejection.
    pub burst: Option<u32>,
    /// Seconds from the first accept until accepted again.
    pub window_s: Option<f64>,
    /// The limit as `N/W`.
    pub limit: Option<String>,
    /// Concurrent connections when the first rejection came (hold mode).
    pub max_concurrent: Option<u32>,
    /// Whether a closed connection's slot came back (hold mode).
    pub slots_reused: Option<bool>,
    /// How rejections were signalled (`http-429` ...), first seen.
    pub signal: Option<Outcome>,
    /// First Retry-After seen.
    pub retry_after: Option<String>,
}

/// `ratelimit`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct RatelimitDetails {
    /// churn or hold.
    pub mode: RatelimitMode,
    /// The schedule.
    pub rate: String,
    /// Every attempt.
    pub attempts: Vec<AttemptRecord>,
    /// Accepted attempts.
    pub accepted: u32,
    /// Rejected attempts.
    pub rejected: u32,
    /// Attempts by outcome.
    pub outcomes: BTreeMap<Outcome, u32>,
    /// The inference.
    pub inferred: Inferred,
}

/// Runs `ratelimit`.
pub async fn run(plan: &RatelimitPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let endpoint = target.endpoint.clone();
    let probe = Probe {
        endpoint: &endpoint,
        t0: Instant::now(),
        settle: plan.settle,
        close_timeout: plan.client.close_timeout,
        stop,
    };
    let bar = crate::report::progress::bar(plan.progress, u64::from(plan.attempts), "attempts");
    let (mut records, mut held) = scheduled(plan, &probe, &bar).await;
    bar.finish_and_clear();
    if let Some(why) = unreachable(&records) {
        close_held(held, plan.client.close_timeout).await;
        return Observation::failed(why).with_details(details(plan, records, Inferred::default()));
    }
    let held_after_schedule = held.len() as u32;
    let mut next = plan.attempts + 1;
    match plan.mode {
        RatelimitMode::Churn => probe_window(plan, &probe, &mut records, &mut next).await,
        RatelimitMode::Hold => probe_reuse(plan, &probe, &mut records, &mut held, &mut next).await,
    }
    close_held(held, plan.client.close_timeout).await;
    let mut obs = Observation::default();
    let inferred = infer(plan.mode, &records, held_after_schedule);
    findings(plan, &records, &inferred, &mut obs);
    obs.with_details(details(plan, records, inferred))
}

async fn scheduled(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    bar: &indicatif::ProgressBar,
) -> (Vec<AttemptRecord>, Vec<Watched>) {
    let keep = plan.mode == RatelimitMode::Hold;
    let start = tokio::time::Instant::now();
    let attempts = (0..plan.attempts).map(|i| async move {
        tokio::time::sleep_until(start + plan.rate.interval() * i).await;
        let result = probe.attempt(i + 1, Purpose::Scheduled, keep).await;
        bar.inc(1);
        result
    });
    let results = tokio::select! {
        r = futures_util::future::join_all(attempts) => r,
        _ = probe.stop.cancelled() => Vec::new(),
    };
    let mut records = Vec::new();
    let mut held = Vec::new();
    for (record, watched) in results {
        records.push(record);
        held.extend(watched);
    }
    (records, held)
}

/// Waits for the rate limit window to reopen: at the earliest moment any
/// rejection's Retry-After allows, else every 100 ms (the window's
/// precision); never longer than --max-wait.
async fn probe_window(plan: &RatelimitPlan, probe: &Probe<'_>, records: &mut Vec<AttemptRecord>, next: &mut u32) {
    let Some(first_rejection) = records.iter().position(|r| r.rejected()) else { return };
    if records[first_rejection..].iter().any(|r| r.accepted()) {
        return;
    }
    let deadline = Instant::now() + plan.max_wait;
    let gap = WINDOW_PRECISION;
    let mut allowed = earliest_retry(probe.t0, records);
    loop {
        let wait = allowed.take().unwrap_or_else(|| Instant::now() + gap);
        if wait > deadline || probe.stop.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wait.into()) => {}
            _ = probe.stop.cancelled() => return,
        }
        let (record, _) = probe.attempt(*next, Purpose::WindowProbe, false).await;
        *next += 1;
        let accepted = record.accepted();
        records.push(record);
        if accepted {
            return;
        }
        allowed = earliest_retry(probe.t0, &records[records.len() - 1..]);
    }
}

/// The earliest instant a Retry-After among these rejections allows a retry.
fn earliest_retry(t0: Instant, records: &[AttemptRecord]) -> Option<Instant> {
    records
        .iter()
        .filter(|r| r.rejected())
        .filter_map(|r| retry_after_secs(r.retry_after.as_deref()).map(|s| t0 + Duration::from_secs_f64(r.at_s + s)))
        .min()
}

/// Closes one held connection and tries again until a slot comes back or
/// --max-wait passes.
async fn probe_reuse(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    records: &mut Vec<AttemptRecord>,
    held: &mut Vec<Watched>,
    next: &mut u32,
) {
    if !records.iter().any(|r| r.rejected()) || held.is_empty() {
        return;
    }
    if let (Some(mut ws), _) = held.remove(0).finish().await {
        close_cleanly(&mut ws, 1000, "wsprobe: freeing a slot", plan.client.close_timeout).await;
    }
    // A cleanly closed connection frees its slot at once on a sound server;
    // a few seconds cover asynchronous clean-up without stalling the run.
    let deadline = Instant::now() + plan.max_wait.min(REUSE_WAIT);
    let mut gap = WINDOW_PRECISION;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            _ = probe.stop.cancelled() => return,
        }
        let (record, watched) = probe.attempt(*next, Purpose::ReuseProbe, true).await;
        *next += 1;
        let retry = retry_after_secs(record.retry_after.as_deref());
        let done = record.accepted();
        records.push(record);
        held.extend(watched);
        gap = retry.map(Duration::from_secs_f64).unwrap_or(gap * 2).min(REUSE_GAP_MAX);
        if done || Instant::now() + gap > deadline {
            return;
        }
    }
}

/// Stops watching the held connections and closes those still open.
async fn close_held(held: Vec<Watched>, wait: Duration) {
    let open = futures_util::future::join_all(held.into_iter().map(Watched::finish)).await;
    close_all(open.into_iter().filter_map(|(ws, _)| ws).collect(), wait).await;
}
