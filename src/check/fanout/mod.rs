//! `wsprobe fanout`: does every message reach exactly who it should?
//!
//! N connections with distinct identities; M rounds, round m published by
//! client m mod N. A broadcast must reach the whole audience exactly once;
//! a unicast (addressed with `{to}`) only its recipient. Each message
//! carries a unique nonce, so receipts are matched whatever the server
//! wraps around them. The run counts deliveries, misses, duplicates,
//! cross-talk and echoes per client, times publish → receipt, and, when
//! broadcasts reach only part of the audience, groups the clients by whom
//! they hear: separate groups are separate connection registries.

mod args;
mod client;
mod details;
mod groups;
mod http;
mod judge;
mod layout;
pub mod merge;
mod nonce;
mod plan;
mod publish;
mod shard;
mod summary;
mod table;
mod tally;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use args::{Audience, FanoutArgs, Mode};
pub use details::{FanoutDetails, FanoutDrop, FanoutHistograms};
pub use plan::FanoutPlan;
pub use summary::ClientDelivery;

use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::attempt::Outcome;
use crate::plan::ClientPlan;
use crate::report::progress::LiveProgress;
use crate::report::table::Style;
use crate::report::Details;
use crate::target::Resolved;
use client::{Ctx, Outbound};
use tally::{PublishClock, Tally};

/// Receipts queued for the collector before readers wait for it.
const EVENT_QUEUE: usize = 65_536;
/// Connections opened at once.
const CONNECTING_AT_ONCE: usize = 500;

/// The `fanout` check: message delivery.
#[derive(Debug)]
pub struct Fanout;

impl Check for Fanout {
    const NAME: &'static str = "fanout";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = FanoutArgs;
    type Plan = FanoutPlan;

    fn client_args(args: &FanoutArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(args: &FanoutArgs) -> Result<FanoutPlan, PlanError> {
        plan::from_args(args)
    }

    fn client(plan: &FanoutPlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a FanoutPlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }

    fn shard(plan: &FanoutPlan) -> Option<crate::shard::ShardInfo> {
        Some(plan.shard.info())
    }

    fn plan_hash(plan: &FanoutPlan) -> String {
        let mut blank = plan.clone();
        blank.shard = crate::shard::ShardPlan::blank();
        blank.progress = false;
        crate::shard::hash::of(&blank)
    }
}

impl Details for FanoutDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// Runs `fanout`.
pub async fn run(plan: &FanoutPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let Some(start) = crate::shard::start::wait(plan.shard.start_at, stop).await else {
        return Observation::default();
    };
    let layout = plan.layout();
    let clock = PublishClock::new(layout.ids());
    let (events, rx) = mpsc::channel(EVENT_QUEUE);
    let mut fresh = Tally::new(layout, clock.clone());
    fresh.shard = plan.shard;
    fresh.timeline = crate::stats::timeline::Timeline::new(start.origin);
    let tally = Arc::new(Mutex::new(fresh));
    let collector = tokio::spawn(crate::stats::collect(rx, tally.clone()));
    let end = stop.child_token();
    let ctx = Arc::new(Ctx {
        endpoint: target.endpoint.clone(),
        nonces: nonces(plan),
        clock,
        t0: start.origin.instant,
        events,
        end: end.clone(),
        close_timeout: plan.client.close_timeout,
    });
    let tracker = TaskTracker::new();
    let (senders, failures) = connect_all(&ctx, plan, &tracker).await;
    let connected: Vec<bool> = senders.iter().map(Option::is_some).collect();
    let open = connected.iter().filter(|&&c| c).count();
    let mut published = publish::Published::default();
    if open >= 2 || (plan.shard.is_sharded() && open >= 1) {
        let progress = progress(plan, tally.clone());
        settle(plan, &start, stop).await;
        published = publish::run(&plan.publishing(target), &ctx, &senders, stop).await;
        pause(plan.wait, stop).await;
        progress.finish();
    }
    end.cancel();
    drop(senders);
    tracker.close();
    let _ = tokio::time::timeout(plan.client.close_timeout + crate::check::FINISH_GRACE, tracker.wait()).await;
    drop(ctx);
    let _ = collector.await;
    let tally = tally.lock().map(|t| t.clone()).unwrap_or_else(|p| p.into_inner().clone());
    let mut obs = observe(plan, &tally, &connected, failures, &published);
    obs.run.origin = Some(start.origin.wall);
    obs.run.start = start.record(0);
    obs.run.timeline = Some(tally.timeline.seconds(std::time::Instant::now()));
    obs.warnings.extend(tally.timeline.truncation_warning());
    obs
}

/// The run's nonces: its own, or (shards) the ones every shard shares.
fn nonces(plan: &FanoutPlan) -> nonce::Nonces {
    match plan.shard.start_at.filter(|_| plan.shard.is_sharded()) {
        Some(at) => nonce::Nonces::shared(&format!("{}@{}", Fanout::plan_hash(plan), crate::clock::rfc3339(at))),
        None => nonce::Nonces::new(),
    }
}

/// The pause before the first publish: `--settle` after connecting, or,
/// for shards, until `--settle` after the shared start, so every shard
/// publishes from the same instant.
async fn settle(plan: &FanoutPlan, start: &crate::shard::start::Start, stop: &CancellationToken) {
    if !plan.shard.is_sharded() {
        return pause(plan.settle, stop).await;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(start.instant(plan.settle).into()) => {}
        _ = stop.cancelled() => {}
    }
}

async fn pause(d: Duration, stop: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.cancelled() => {}
    }
}

type Senders = Vec<Option<mpsc::Sender<Outbound>>>;

/// Opens every client (a bounded number at once); the queue of each open
/// one, and the outcomes of those that could not open.
async fn connect_all(ctx: &Arc<Ctx>, plan: &FanoutPlan, tracker: &TaskTracker) -> (Senders, BTreeMap<Outcome, u64>) {
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut waiting = Vec::with_capacity(plan.clients as usize);
    for index in 0..plan.clients {
        if !plan.shard.owns(index) {
            // Another shard's client: never connected here.
            let (tx, rx) = oneshot::channel();
            drop(tx);
            waiting.push(rx);
            continue;
        }
        let (tx, rx) = oneshot::channel();
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tracker.spawn(async move {
            let permit = gate.acquire_owned().await;
            client::run(ctx, index, tx, permit.ok()).await
        });
        waiting.push(rx);
    }
    let mut failures = BTreeMap::new();
    let mut senders = Vec::with_capacity(plan.clients as usize);
    for rx in waiting {
        match rx.await {
            Ok(Ok(tx)) => senders.push(Some(tx)),
            Ok(Err(outcome)) => {
                *failures.entry(outcome).or_default() += 1;
                senders.push(None);
            }
            Err(_) => senders.push(None),
        }
    }
    (senders, failures)
}

/// The live line: receipts so far against what was published.
fn progress(plan: &FanoutPlan, tally: Arc<Mutex<Tally>>) -> LiveProgress {
    let bar = crate::report::progress::bar(plan.progress, plan.messages_planned(), "messages");
    LiveProgress::start(bar, tally, |t: &Tally, bar| {
        bar.set_position(t.messages_published());
        bar.set_message(format!(
            "published | receipts {} | cross-talk {}",
            t.latency.count(),
            t.cross_talk.iter().sum::<u64>()
        ));
    })
}

fn observe(
    plan: &FanoutPlan,
    tally: &Tally,
    connected: &[bool],
    failures: BTreeMap<Outcome, u64>,
    published: &publish::Published,
) -> Observation {
    let open = connected.iter().filter(|&&c| c).count();
    let delivery = summary::deliveries(tally, connected);
    let mut details = details::build(tally, delivery, published, connected, failures);
    details.expect_ratio = plan.expect_ratio;
    if open < 2 && !(plan.shard.is_sharded() && open == 1) {
        let why = format!(
            "only {open} of {} clients could connect ({}): fan-out needs a publisher and a receiver",
            plan.clients,
            crate::report::counts(&details.connect_failures)
        );
        return Observation::failed(why).with_details(details);
    }
    let mut obs = Observation::default();
    judge::judge(&details, details.expect_ratio, &mut obs);
    if let Some(why) = &published.first_failure {
        obs.diagnosis.push(format!("Publishing failed: {why}."));
    }
    obs.with_details(details)
}
