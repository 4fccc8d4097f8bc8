//! The client checks and their registry.
//!
//! A check is a folder: `check/<name>/` owns its clap arguments, its
//! validated plan, its runner, its JSON details and their table, and its
//! selftest rows (a scenario file, `selftest.toml`). Everything else finds
//! the checks through the one list at the bottom of this file: the
//! subcommands, the dispatch, the scenario command names and the lists the
//! tests iterate over are all derived from it, so adding a check is one new
//! folder and one line here.
//!
//! A check never decides its own verdict: it returns an [`Observation`]
//! (findings, diagnosis, warnings, details, or the reason it could not run)
//! and [`crate::report::verdict::decide`] turns that and the interruption state
//! into pass, fail or error.

pub mod connect;
pub mod fanout;
pub mod mergeable;
pub mod ratelimit;
pub mod single;
pub mod stability;
pub mod storm;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::plan::ClientPlan;
use crate::report::meta::RunMeta;
pub use crate::report::{Observation, Report};
use crate::shard::ShardInfo;
use crate::target::Resolved;

/// Beyond the close timeout, how long a check waits for its client tasks
/// to finish at the end of a run before it reports without them.
pub const FINISH_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// One client command: how its arguments become a plan, and how the plan
/// runs against a resolved target.
pub trait Check: 'static {
    /// The subcommand name, as typed and as `command` in the report.
    const NAME: &'static str;
    /// Its selftest rows: a scenario file against the embedded server,
    /// each row with the `--server-*` behaviour it must see through.
    const SELFTEST: &'static str;
    /// Its clap arguments (flattening [`ClientArgs`]).
    type Args: clap::Args + clap::FromArgMatches + Debug + Clone + Send + Sync + 'static;
    /// Its validated plan; runners see only this, never clap types.
    type Plan: Debug + Clone + Send + Sync + 'static;
    /// The common client options inside the arguments.
    fn client_args(args: &Self::Args) -> &ClientArgs;
    /// Checks what the user typed; nothing touches the network yet.
    fn plan(args: &Self::Args) -> Result<Self::Plan, PlanError>;
    /// How the plan's clients connect.
    fn client(plan: &Self::Plan) -> &ClientPlan;
    /// Drives the clients and returns what was observed.
    fn run<'a>(
        plan: &'a Self::Plan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a;
    /// Which shard the plan runs, for checks that can be sharded.
    fn shard(_plan: &Self::Plan) -> Option<ShardInfo> {
        None
    }
    /// The plan's fingerprint; checks that can be sharded blank the
    /// fields shards of one command line differ in first.
    fn plan_hash(plan: &Self::Plan) -> String {
        crate::shard::hash::of(plan)
    }
}

/// A validated plan of some check, type-erased so the dispatch, scenario
/// runner and selftest handle every check alike.
pub trait Planned: Debug + Send + Sync {
    /// The check's name.
    fn command(&self) -> &'static str;
    /// How its clients connect.
    fn client(&self) -> &ClientPlan;
    /// Runs it.
    fn run<'a>(
        &'a self,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Observation> + Send + 'a>>;
    /// Which shard it runs, if the check can be sharded.
    fn shard(&self) -> Option<ShardInfo>;
    /// Its fingerprint.
    fn plan_hash(&self) -> String;
}

/// The plan of check `C`.
#[derive(Debug)]
pub struct PlanOf<C: Check>(pub C::Plan);

impl<C: Check + Debug + Send + Sync> Planned for PlanOf<C> {
    fn command(&self) -> &'static str {
        C::NAME
    }
    fn client(&self) -> &ClientPlan {
        C::client(&self.0)
    }
    fn run<'a>(
        &'a self,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> Pin<Box<dyn Future<Output = Observation> + Send + 'a>> {
        Box::pin(C::run(&self.0, target, stop))
    }
    fn shard(&self) -> Option<ShardInfo> {
        C::shard(&self.0)
    }
    fn plan_hash(&self) -> String {
        C::plan_hash(&self.0)
    }
}

/// Runs a validated plan: resolves its target (starting the embedded
/// server when needed), runs the check, stops the server, and judges what
/// was observed.
pub async fn run_planned(planned: &dyn Planned, stop: &CancellationToken) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let started_at = std::time::SystemTime::now();
    let target = crate::target::resolve(planned.client()).await?;
    let mut observation = planned.run(&target, stop).await;
    let ended_at = std::time::SystemTime::now();
    let origin = observation.run.origin.unwrap_or(started_at);
    let start = observation.run.start.take();
    // A protocol nobody named, noticed by the transport: a hint, never a verdict.
    observation.diagnosis.extend(target.endpoint.detections.lines());
    // What the proxy settings leave out (a variable curl ignores): said once per run.
    observation.warnings.extend(target.endpoint.proxy.notes.iter().cloned());
    let display = target.display.clone();
    target.finish().await;
    let mut report = Report::judge(planned.command(), display, observation, stop.is_cancelled());
    report.elapsed_s = crate::units::secs(started.elapsed());
    let mut meta = RunMeta::new(origin, ended_at, planned.plan_hash(), planned.shard());
    meta.start = start;
    report.meta = Some(meta);
    Ok(report)
}

fn plan_of<C: Check + Debug + Send + Sync>(args: &C::Args) -> Result<Box<dyn Planned>, PlanError> {
    Ok(Box::new(PlanOf::<C>(C::plan(args)?)))
}

/// Derives everything that lists the checks from one list.
macro_rules! registry {
    ($( $(#[$doc:meta])* $variant:ident => $check:ty, )*) => {
        /// The client commands: one subcommand per registered check.
        #[derive(Debug, clap::Subcommand)]
        pub enum CheckCommand {
            $( $(#[$doc])* $variant(<$check as Check>::Args), )*
        }

        impl CheckCommand {
            /// The command's name.
            pub fn name(&self) -> &'static str {
                match self { $( CheckCommand::$variant(_) => <$check as Check>::NAME, )* }
            }
            /// Its common client options.
            pub fn client_args(&self) -> &ClientArgs {
                match self { $( CheckCommand::$variant(a) => <$check as Check>::client_args(a), )* }
            }
            /// Its validated plan.
            pub fn plan(&self) -> Result<Box<dyn Planned>, PlanError> {
                match self { $( CheckCommand::$variant(a) => plan_of::<$check>(a), )* }
            }
        }

        /// Every check's name, in help order.
        pub const NAMES: &[&str] = &[$( <$check as Check>::NAME, )*];

        /// Every check's selftest rows: (check name, scenario text).
        pub const SELFTESTS: &[(&str, &str)] = &[$( (<$check as Check>::NAME, <$check as Check>::SELFTEST), )*];
    };
}

registry! {
    /// One connection, step by step: DNS, TCP, TLS, HTTP upgrade, messages, close.
    Connect => connect::Connect,
    /// Is one connection per identity enforced, and how?
    Single => single::Single,
    /// Long-run soak: close codes, 1006 detection, heartbeats, idle timeouts.
    Stability => stability::Stability,
    /// Connection rate limits and concurrent-connection caps.
    Ratelimit => ratelimit::Ratelimit,
    /// Many clients, a disruption, and the reconnect storm that follows.
    Storm => storm::Storm,
    /// Message delivery: broadcasts reach everyone, a message for one client only it.
    Fanout => fanout::Fanout,
}
