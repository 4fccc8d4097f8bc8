//! `wsprobe single`: is one connection per identity enforced, and how?
//!
//! Connection A opens with identity X; once it is open, B opens with the
//! same identity; both are watched for `--hold`. The server's policy is read
//! from who survives. Then the survivor is closed cleanly and X reconnects
//! at once (a stale registration refuses it), `--distinct N` identities
//! connect together, and `--race` opens two X connections at the same
//! instant, where check-then-register servers let both in.

mod args;
mod judge;
mod race;
mod table;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use args::{ExpectPolicy, SingleArgs};
pub use judge::{ConnOutcome, ConnState, Policy};

use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::exit::PlanError;
use crate::net::connect::{open, Attempt, ClientWs};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_all, Watched};
use crate::plan::{positive, ClientPlan};
use crate::report::table::Style;
use crate::report::{Details, Finding};
use crate::target::Resolved;
use crate::units::ClientId;

/// The `single` check: one connection per identity.
#[derive(Debug)]
pub struct Single;

impl Check for Single {
    const NAME: &'static str = "single";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = SingleArgs;
    type Plan = SinglePlan;

    fn client_args(args: &SingleArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(a: &SingleArgs) -> Result<SinglePlan, PlanError> {
        Ok(SinglePlan {
            client: ClientPlan::from_args(&a.client)?,
            hold: positive("--hold", a.hold)?,
            distinct: a.distinct,
            race: a.race,
            expect: a.expect,
            settle: a.settle,
        })
    }

    fn client(plan: &SinglePlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a SinglePlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }
}

impl Details for SingleDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// What `single` does.
#[derive(Debug, Clone)]
pub struct SinglePlan {
    /// How to connect.
    pub client: ClientPlan,
    /// How long A and B are watched.
    pub hold: Duration,
    /// Distinct identities to open together.
    pub distinct: u32,
    /// Also race two connections of one identity.
    pub race: bool,
    /// The policy that must be seen.
    pub expect: Option<ExpectPolicy>,
    /// How long a new connection must stay open to count as accepted.
    pub settle: Duration,
}

/// Distinct identities tried together.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Distinct {
    /// Connections tried.
    pub tried: u32,
    /// Connections accepted and still open after settling.
    pub accepted: u32,
}

/// The race of two connections with one identity.
#[derive(Debug, Clone, Serialize)]
pub struct Race {
    /// The first of the pair.
    pub first: ConnOutcome,
    /// The second of the pair.
    pub second: ConnOutcome,
    /// The policy seen under the race.
    pub policy: Policy,
}

/// `single`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct SingleDetails {
    /// The policy.
    pub policy: Policy,
    /// Connection A.
    pub first: ConnOutcome,
    /// Connection B.
    pub second: ConnOutcome,
    /// accepted or rejected.
    pub reconnect_after_close: Option<&'static str>,
    /// Distinct identities.
    pub distinct: Distinct,
    /// The race, with --race.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<Race>,
}

/// A connection attempt and, if it opened, its watcher.
struct Tracked {
    attempt_outcome: ConnOutcome,
    watched: Option<Watched>,
}

async fn open_tracked(endpoint: &Endpoint, client: ClientId, stop: &CancellationToken) -> Tracked {
    match open(endpoint, client).await {
        Attempt::Open(o) => Tracked {
            attempt_outcome: ConnOutcome {
                outcome: ConnState::Open,
                http_status: None,
                close_code: None,
                detail: "accepted".into(),
            },
            watched: Some(Watched::spawn(o.ws, stop, endpoint.close_timeout)),
        },
        Attempt::Rejected(r) => Tracked {
            attempt_outcome: ConnOutcome {
                outcome: ConnState::Rejected,
                http_status: r.http_status(),
                close_code: r.close_code(),
                detail: r.describe(),
            },
            watched: None,
        },
        Attempt::Failed(f) => Tracked {
            attempt_outcome: ConnOutcome {
                outcome: ConnState::Rejected,
                http_status: None,
                close_code: None,
                detail: format!("failed at the handshake: {}", f.detail),
            },
            watched: None,
        },
    }
}

/// Ends tracking: the final outcome and the socket if it is still open.
async fn settle(tracked: Tracked) -> (ConnOutcome, Option<ClientWs>) {
    let Some(w) = tracked.watched else {
        return (tracked.attempt_outcome, None);
    };
    match w.finish().await {
        (Some(ws), _) => (tracked.attempt_outcome, Some(ws)),
        (None, close) => {
            let close_code = close.as_ref().map(|c| c.code);
            let detail =
                close.map(|c| format!("closed by the server: {}", c.describe())).unwrap_or_else(|| "ended".into());
            (ConnOutcome { outcome: ConnState::Closed, http_status: None, close_code, detail }, None)
        }
    }
}

/// Waits for `d`, or less when every watched connection has ended or Ctrl-C.
async fn hold(d: Duration, watched: &[&Tracked], stop: &CancellationToken) {
    let all_ended =
        futures_util::future::join_all(watched.iter().filter_map(|t| t.watched.as_ref()).map(Watched::until_ended));
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = all_ended => {}
        _ = stop.cancelled() => {}
    }
}

/// Runs `single`.
pub async fn run(plan: &SinglePlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let mut obs = Observation::default();
    let endpoint = &target.endpoint;
    let x = ClientId::new(0);
    let a = open_tracked(endpoint, x, stop).await;
    if a.watched.is_none() {
        return first_refused(obs, a.attempt_outcome);
    }
    let b = open_tracked(endpoint, x, stop).await;
    hold(plan.hold, &[&a, &b], stop).await;
    let (first, a_ws) = settle(a).await;
    let (second, b_ws) = settle(b).await;
    let policy = Policy::classify(first.alive(), second.alive());
    judge::policy_findings(plan, policy, &first, &second, &mut obs);
    close_all(a_ws.into_iter().chain(b_ws).collect(), plan.client.close_timeout).await;

    let reconnect = if stop.is_cancelled() { None } else { Some(reconnect(plan, endpoint, x, stop, &mut obs).await) };
    let distinct = distinct(plan, endpoint, stop, &mut obs).await;
    let race = if plan.race && !stop.is_cancelled() {
        Some(race::run(plan, endpoint, policy, stop, &mut obs).await)
    } else {
        None
    };
    obs.with_details(SingleDetails { policy, first, second, reconnect_after_close: reconnect, distinct, race })
}

fn first_refused(mut obs: Observation, first: ConnOutcome) -> Observation {
    obs.error = Some(format!(
        "the first connection could not be opened, so nothing can be said about duplicates: {}{}",
        first.detail,
        first.http_status.and_then(|s| crate::net::refusal::auth_hint(s, &first.detail)).unwrap_or("")
    ));
    obs
}

async fn reconnect(
    plan: &SinglePlan,
    endpoint: &Endpoint,
    x: ClientId,
    stop: &CancellationToken,
    obs: &mut Observation,
) -> &'static str {
    let c = open_tracked(endpoint, x, stop).await;
    hold(plan.settle, &[&c], stop).await;
    let (outcome, ws) = settle(c).await;
    close_all(ws.into_iter().collect(), plan.client.close_timeout).await;
    if outcome.alive() {
        obs.add(Finding::new(
            "reconnect-after-close",
            true,
            "after a clean close, the same identity reconnected at once",
        ));
        "accepted"
    } else {
        obs.add(Finding::new(
            "reconnect-after-close",
            false,
            format!("after a clean close, the same identity was {}", outcome.detail),
        ));
        obs.diagnosis.push("Right after a clean close the identity was still registered: the server forgets identities late or never (a stale registration), so a client that reconnects is locked out.".into());
        "rejected"
    }
}

async fn distinct(plan: &SinglePlan, endpoint: &Endpoint, stop: &CancellationToken, obs: &mut Observation) -> Distinct {
    if plan.distinct == 0 || stop.is_cancelled() {
        return Distinct { tried: 0, accepted: 0 };
    }
    if !endpoint.has_identity_template() {
        obs.diagnosis.push("Distinct identities were not tried: put {client} or {uuid} in the URL or a header so each client gets its own identity.".into());
        return Distinct { tried: 0, accepted: 0 };
    }
    let opens = (1..=plan.distinct).map(|i| open_tracked(endpoint, ClientId::new(i), stop));
    let tracked = futures_util::future::join_all(opens).await;
    let refs: Vec<&Tracked> = tracked.iter().collect();
    hold(plan.settle, &refs, stop).await;
    let settled = futures_util::future::join_all(tracked.into_iter().map(settle)).await;
    let accepted = settled.iter().filter(|(o, _)| o.alive()).count() as u32;
    let refused: Vec<String> =
        settled.iter().filter(|(o, _)| !o.alive()).map(|(o, _)| o.detail.clone()).take(3).collect();
    close_all(settled.into_iter().filter_map(|(_, ws)| ws).collect(), plan.client.close_timeout).await;
    let ok = accepted == plan.distinct;
    let mut detail = format!("{accepted}/{} distinct identities connected together", plan.distinct);
    if !ok {
        detail.push_str(&format!("; refused: {}", refused.join("; ")));
    }
    obs.add(Finding::new("distinct-identities", ok, detail));
    Distinct { tried: plan.distinct, accepted }
}
