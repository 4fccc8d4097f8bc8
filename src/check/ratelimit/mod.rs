//! `wsprobe ratelimit`: connection attempts on a steady schedule, each
//! classified; then the limit is inferred. Churn mode (open, close, next)
//! finds per-IP rate limits: the burst, and the window found by waiting
//! (honouring Retry-After) until an attempt is accepted again. Hold mode
//! keeps accepted connections open to find the concurrent cap, then closes
//! one and tries again: a leaking slot counter refuses forever.

mod args;
mod churn;
pub mod infer;
mod judge;
mod limiter;
pub mod model;
mod phases;
mod probe;
mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use args::{RatelimitArgs, RatelimitMode};

use self::infer::{AttemptRecord, Purpose, Signal};
use self::model::Fit;
use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::attempt::Outcome;
use crate::net::session::{close_all, Watched};
use crate::plan::ClientPlan;
use crate::report::table::Style;
use crate::report::Details;
use crate::target::Resolved;
use crate::units::Rate;
use judge::{details, findings, infer, unreachable};
use probe::Probe;

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
            probe_interval: a.probe_interval,
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
    /// First gap between window probes (and slot-reuse probes).
    pub probe_interval: Duration,
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
        crate::plan::positive("--probe-interval", self.probe_interval)?;
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
    /// How rejections were signalled, first seen: an outcome (`http-429`,
    /// `reset` after TCP was accepted...) or `queued` (hold mode: TCP
    /// accepted, the upgrade left unanswered).
    pub signal: Option<Signal>,
    /// First Retry-After seen.
    pub retry_after: Option<String>,
    /// Whether the limiter counts refused attempts too (a window that
    /// retries keep shut); `None` when the attempts cannot tell.
    pub counts_refusals: Option<bool>,
    /// The limiter model that explains the attempts, when one explains
    /// enough of them (churn mode).
    pub model: Option<Fit>,
    /// Every model fitted, best first, with how many attempts each explains.
    pub fits: Vec<Fit>,
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
        RatelimitMode::Churn => {
            phases::probe_window(plan, &probe, &mut records, &mut next).await;
            phases::probe_models(plan, &probe, &mut records, &mut next).await;
        }
        RatelimitMode::Hold => phases::probe_reuse(plan, &probe, &mut records, &mut held, &mut next).await,
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

/// Stops watching the held connections and closes those still open.
async fn close_held(held: Vec<Watched>, wait: Duration) {
    let open = futures_util::future::join_all(held.into_iter().map(Watched::finish)).await;
    close_all(open.into_iter().filter_map(|(ws, _)| ws).collect(), wait).await;
}
