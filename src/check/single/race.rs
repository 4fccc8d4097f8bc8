//! `single --race`: two connections with one identity opened at the same
//! instant, where a server that checks and then registers in two steps lets
//! both in although it refuses them one after the other.

use tokio_util::sync::CancellationToken;

use super::{hold, open_tracked, settle, ConnOutcome, ConnState, Policy, Race, SinglePlan};
use crate::check::Observation;
use crate::net::endpoint::Endpoint;
use crate::net::session::close_all;
use crate::report::Finding;
use crate::units::ClientId;

/// Runs the race with a fresh identity and reports what happened.
pub(super) async fn run(
    plan: &SinglePlan,
    endpoint: &Endpoint,
    sequential: Policy,
    stop: &CancellationToken,
    obs: &mut Observation,
) -> Race {
    let x = ClientId::new(plan.distinct + 1);
    let (a, b) = tokio::join!(open_tracked(endpoint, x, stop), open_tracked(endpoint, x, stop));
    hold(plan.hold, &[&a, &b], stop).await;
    let (first, a_ws) = settle(a).await;
    let (second, b_ws) = settle(b).await;
    close_all(a_ws.into_iter().chain(b_ws).collect(), plan.client.close_timeout).await;
    let policy = race_policy(&first, &second);
    let enforced = matches!(sequential, Policy::RejectNew | Policy::ReplaceOld);
    let ok = !(enforced && policy == Policy::AllowMultiple);
    let detail = if ok {
        format!("two connections opened at the same instant: {}", policy.label())
    } else {
        obs.diagnosis.push("Under a race the server let both connections in, though it refuses them one after the other: it checks and registers the identity in two steps. Make the check-and-register atomic.".into());
        format!(
            "two connections opened at the same instant were both accepted, though the sequential policy is {}",
            sequential.label()
        )
    };
    obs.add(Finding::new("race", ok, detail));
    Race { first, second, policy }
}

/// Under a race neither connection is first, so the policy is read from how
/// the loser lost: refused at the handshake, or closed after opening.
fn race_policy(a: &ConnOutcome, b: &ConnOutcome) -> Policy {
    match (a.alive(), b.alive()) {
        (true, true) => Policy::AllowMultiple,
        (false, false) => Policy::None,
        (true, false) | (false, true) => {
            let loser = if a.alive() { b } else { a };
            if loser.outcome == ConnState::Rejected {
                Policy::RejectNew
            } else {
                Policy::ReplaceOld
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(outcome: ConnState) -> ConnOutcome {
        ConnOutcome { outcome, http_status: None, close_code: None, detail: String::new() }
    }

    #[test]
    fn race_policy_ignores_order() {
        assert_eq!(race_policy(&outcome(ConnState::Rejected), &outcome(ConnState::Open)), Policy::RejectNew);
        assert_eq!(race_policy(&outcome(ConnState::Open), &outcome(ConnState::Rejected)), Policy::RejectNew);
        assert_eq!(race_policy(&outcome(ConnState::Closed), &outcome(ConnState::Open)), Policy::ReplaceOld);
        assert_eq!(race_policy(&outcome(ConnState::Open), &outcome(ConnState::Open)), Policy::AllowMultiple);
    }
}
