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
mod nonce;
mod plan;
mod publish;
mod summary;
mod table;
mod tally;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

impl Details for FanoutDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// Runs `fanout`.
pub async fn run(plan: &FanoutPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let layout = plan.layout();
    let clock = PublishClock::new(layout.ids());
    let (events, rx) = mpsc::channel(EVENT_QUEUE);
    let tally = Arc::new(Mutex::new(Tally::new(layout, clock.clone())));
    let collector = tokio::spawn(crate::stats::collect(rx, tally.clone()));
    let end = stop.child_token();
    let ctx = Arc::new(Ctx {
        endpoint: target.endpoint.clone(),
        nonces: nonce::Nonces::new(),
        clock,
        t0: Instant::now(),
        events,
        end: end.clone(),
        close_timeout: plan.client.close_timeout,
    });
    let tracker = TaskTracker::new();
    let (senders, failures) = connect_all(&ctx, plan.clients, &tracker).await;
    let connected: Vec<bool> = senders.iter().map(Option::is_some).collect();
    let open = connected.iter().filter(|&&c| c).count();
    let mut published = publish::Published::default();
    if open >= 2 {
        let progress = progress(plan, tally.clone());
        pause(plan.settle, stop).await;
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
    observe(plan, &tally, &connected, failures, &published)
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
async fn connect_all(ctx: &Arc<Ctx>, clients: u32, tracker: &TaskTracker) -> (Senders, BTreeMap<Outcome, u64>) {
    let gate = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut waiting = Vec::with_capacity(clients as usize);
    for index in 0..clients {
        let (tx, rx) = oneshot::channel();
        let (ctx, gate) = (ctx.clone(), gate.clone());
        tracker.spawn(async move {
            let permit = gate.acquire_owned().await;
            client::run(ctx, index, tx, permit.ok()).await
        });
        waiting.push(rx);
    }
    let mut failures = BTreeMap::new();
    let mut senders = Vec::with_capacity(clients as usize);
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
    let details = details::build(tally, delivery, published, connected, failures);
    if open < 2 {
        let why = format!(
            "only {open} of {} clients could connect ({}): fan-out needs a publisher and a receiver",
            plan.clients,
            crate::report::counts(&details.connect_failures)
        );
        return Observation::failed(why).with_details(details);
    }
    let mut obs = Observation::default();
    judge::judge(&details, plan.expect_ratio, &mut obs);
    if let Some(why) = &published.first_failure {
        obs.diagnosis.push(format!("Publishing failed: {why}."));
    }
    obs.with_details(details)
}
