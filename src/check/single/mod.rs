//! `wsprobe single`: is one connection per identity enforced, and how?
//!
//! Connection A opens with identity X; once it is open, B opens with the
//! same identity; both are watched for `--hold`. The server's policy is read
//! from who survives. Then the survivor is closed cleanly and X reconnects
//! at once (a stale registration refuses it), `--distinct N` identities
//! connect together, and `--race` opens two X connections at the same
//! instant, where check-then-register servers let both in.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::ExpectPolicy;
use crate::exit::Verdict;
use crate::net::connect::{open, Attempt, ClientWs};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_all, Watched};
use crate::plan::ClientPlan;
use crate::report::{Details, Finding, Report};
use crate::target::Resolved;
use crate::units::ClientId;

mod race;

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

/// The duplicate-identity policy the server showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Policy {
    /// B was refused (or closed at once) while A lived.
    RejectNew,
    /// B lived and the server closed A.
    ReplaceOld,
    /// Both lived.
    AllowMultiple,
    /// Neither lived.
    None,
}

impl Policy {
    /// Reads the policy from who survived.
    pub fn classify(first_alive: bool, second_alive: bool) -> Policy {
        match (first_alive, second_alive) {
            (true, false) => Policy::RejectNew,
            (false, true) => Policy::ReplaceOld,
            (true, true) => Policy::AllowMultiple,
            (false, false) => Policy::None,
        }
    }

    /// The policy's name as in JSON.
    pub fn label(self) -> &'static str {
        match self {
            Policy::RejectNew => "reject-new",
            Policy::ReplaceOld => "replace-old",
            Policy::AllowMultiple => "allow-multiple",
            Policy::None => "none",
        }
    }

    /// True when this is what `--expect` asked for.
    pub fn satisfies(self, expect: ExpectPolicy) -> bool {
        matches!(
            (expect, self),
            (ExpectPolicy::RejectNew, Policy::RejectNew)
                | (ExpectPolicy::ReplaceOld, Policy::ReplaceOld)
                | (ExpectPolicy::Single, Policy::RejectNew | Policy::ReplaceOld)
                | (ExpectPolicy::AllowMultiple, Policy::AllowMultiple)
        )
    }
}

/// What happened to one connection.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConnOutcome {
    /// open (alive at the end), rejected (at the handshake) or closed (by the server).
    pub outcome: &'static str,
    /// HTTP status of a refused handshake.
    pub http_status: Option<u16>,
    /// Close code when the server closed it.
    pub close_code: Option<u16>,
    /// In words.
    pub detail: String,
}

impl ConnOutcome {
    fn alive(&self) -> bool {
        self.outcome == "open"
    }
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
                outcome: "open",
                http_status: None,
                close_code: None,
                detail: "accepted".into(),
            },
            watched: Some(Watched::spawn(o.ws, stop)),
        },
        Attempt::Rejected(r) => Tracked {
            attempt_outcome: ConnOutcome {
                outcome: "rejected",
                http_status: Some(r.status),
                close_code: None,
                detail: rejection_detail(&r),
            },
            watched: None,
        },
        Attempt::Failed(f) => Tracked {
            attempt_outcome: ConnOutcome {
                outcome: "rejected",
                http_status: None,
                close_code: None,
                detail: format!("failed at the handshake: {}", f.detail),
            },
            watched: None,
        },
    }
}

fn rejection_detail(r: &crate::net::connect::Rejection) -> String {
    let body = if r.body.is_empty() { String::new() } else { format!(" ({})", r.body) };
    format!("refused at the handshake: HTTP {} {}{body}", r.status, r.reason)
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
            (ConnOutcome { outcome: "closed", http_status: None, close_code, detail }, None)
        }
    }
}

/// Waits for `d`, or less when every watched connection has ended or Ctrl-C.
async fn hold(d: Duration, watched: &[&Tracked], stop: &CancellationToken) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.is_cancelled() {
        if watched.iter().all(|t| t.watched.as_ref().is_none_or(Watched::ended)) {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now()))) => {}
            _ = stop.cancelled() => {}
        }
    }
}

/// Runs `single`.
pub async fn run(plan: &SinglePlan, target: &Resolved, stop: &CancellationToken) -> Report {
    let mut report = Report::new("single", target.display.clone());
    let endpoint = &target.endpoint;
    let x = ClientId::new(0);
    let a = open_tracked(endpoint, x, stop).await;
    if a.watched.is_none() {
        return first_refused(report, a.attempt_outcome);
    }
    let b = open_tracked(endpoint, x, stop).await;
    hold(plan.hold, &[&a, &b], stop).await;
    let (first, a_ws) = settle(a).await;
    let (second, b_ws) = settle(b).await;
    let policy = Policy::classify(first.alive(), second.alive());
    policy_findings(plan, policy, &first, &second, &mut report);
    close_all(a_ws.into_iter().chain(b_ws).collect(), plan.client.close_timeout).await;

    let reconnect =
        if stop.is_cancelled() { None } else { Some(reconnect(plan, endpoint, x, stop, &mut report).await) };
    let distinct = distinct(plan, endpoint, stop, &mut report).await;
    let race = if plan.race && !stop.is_cancelled() {
        Some(race::run(plan, endpoint, policy, stop, &mut report).await)
    } else {
        None
    };
    report.interrupted = stop.is_cancelled();
    report.settle_verdict();
    report.details = Some(Details::Single(SingleDetails {
        policy,
        first,
        second,
        reconnect_after_close: reconnect,
        distinct,
        race,
    }));
    report
}

fn first_refused(mut report: Report, first: ConnOutcome) -> Report {
    report.verdict = Verdict::Error;
    report.error = Some(format!(
        "the first connection could not be opened, so nothing can be said about duplicates: {}{}",
        first.detail,
        if first.http_status.is_some_and(|s| s == 401 || s == 403) { " (pass credentials with -H)" } else { "" }
    ));
    report
}

fn policy_findings(plan: &SinglePlan, policy: Policy, first: &ConnOutcome, second: &ConnOutcome, report: &mut Report) {
    let seen = match policy {
        Policy::RejectNew => format!("reject-new: the second connection was {}", second.detail),
        Policy::ReplaceOld => format!("replace-old: the first connection was {}", first.detail),
        Policy::AllowMultiple => "allow-multiple: both connections with one identity stayed open".to_string(),
        Policy::None => format!("none: neither survived (first: {}; second: {})", first.detail, second.detail),
    };
    let ok = match plan.expect {
        Some(expect) => policy.satisfies(expect),
        None => policy != Policy::None,
    };
    let detail = match plan.expect {
        Some(expect) if !ok => format!("{seen}; expected {}", expect.to_possible_value_name()),
        _ => seen,
    };
    report.add(Finding::new("policy", ok, detail));
    report.diagnosis.push(explain_policy(policy, first, second));
}

trait PossibleValueName {
    fn to_possible_value_name(&self) -> String;
}

impl PossibleValueName for ExpectPolicy {
    fn to_possible_value_name(&self) -> String {
        use clap::ValueEnum;
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

fn explain_policy(policy: Policy, first: &ConnOutcome, second: &ConnOutcome) -> String {
    match policy {
        Policy::RejectNew => match second.http_status {
            Some(status) => format!("The server allows one connection per identity and refuses a newcomer with HTTP {status}. A client whose old connection died silently is locked out until the server notices (heartbeats decide how soon)."),
            None => "The server allows one connection per identity: the newcomer was closed right after opening while the first lived.".into(),
        },
        Policy::ReplaceOld => format!(
            "The server keeps the newest connection and closes the old one ({}). Clients must not reconnect when closed this way, or two tabs will take turns forever.",
            first.close_code.map(|c| c.to_string()).unwrap_or_else(|| "no code".into())
        ),
        Policy::AllowMultiple => "Nothing stops one identity from holding several connections: this is the 'one user holds 8 connections' bug, unless the application wants it.".into(),
        Policy::None => "Neither connection survived the hold: the server drops this identity (or every connection) on its own; run `wsprobe stability` to see why.".into(),
    }
}

async fn reconnect(
    plan: &SinglePlan,
    endpoint: &Endpoint,
    x: ClientId,
    stop: &CancellationToken,
    report: &mut Report,
) -> &'static str {
    let c = open_tracked(endpoint, x, stop).await;
    hold(plan.settle, &[&c], stop).await;
    let (outcome, ws) = settle(c).await;
    close_all(ws.into_iter().collect(), plan.client.close_timeout).await;
    if outcome.alive() {
        report.add(Finding::new(
            "reconnect-after-close",
            true,
            "after a clean close, the same identity reconnected at once",
        ));
        "accepted"
    } else {
        report.add(Finding::new(
            "reconnect-after-close",
            false,
            format!("after a clean close, the same identity was {}", outcome.detail),
        ));
        report.diagnosis.push("Right after a clean close the identity was still registered: the server forgets identities late or never (a stale registration), so a client that reconnects is locked out.".into());
        "rejected"
    }
}

async fn distinct(plan: &SinglePlan, endpoint: &Endpoint, stop: &CancellationToken, report: &mut Report) -> Distinct {
    if plan.distinct == 0 || stop.is_cancelled() {
        return Distinct { tried: 0, accepted: 0 };
    }
    if !endpoint.has_identity_template() {
        report.diagnosis.push("Distinct identities were not tried: put {client} or {uuid} in the URL or a header so each client gets its own identity.".into());
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
    report.add(Finding::new("distinct-identities", ok, detail));
    Distinct { tried: plan.distinct, accepted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_from_survivors() {
        assert_eq!(Policy::classify(true, false), Policy::RejectNew);
        assert_eq!(Policy::classify(false, true), Policy::ReplaceOld);
        assert_eq!(Policy::classify(true, true), Policy::AllowMultiple);
        assert_eq!(Policy::classify(false, false), Policy::None);
    }

    #[test]
    fn expectations() {
        assert!(Policy::RejectNew.satisfies(ExpectPolicy::Single));
        assert!(Policy::ReplaceOld.satisfies(ExpectPolicy::Single));
        assert!(!Policy::AllowMultiple.satisfies(ExpectPolicy::Single));
        assert!(Policy::AllowMultiple.satisfies(ExpectPolicy::AllowMultiple));
        assert!(!Policy::RejectNew.satisfies(ExpectPolicy::ReplaceOld));
    }
}
