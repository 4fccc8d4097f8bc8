//! Judging `single`'s observations: pure functions from what happened to
//! A and B (and the race) to the policy, its finding and its diagnosis,
//! unit-tested without a network.

use serde::Serialize;

use super::ExpectPolicy;
use super::SinglePlan;
use crate::check::Observation;
use crate::report::Finding;

/// How a connection stood at the end of its watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnState {
    /// Alive at the end.
    Open,
    /// Refused at the handshake.
    Rejected,
    /// Closed by the server.
    Closed,
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnState::Open => "open",
            ConnState::Rejected => "rejected",
            ConnState::Closed => "closed",
        })
    }
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
    pub outcome: ConnState,
    /// HTTP status of a refused handshake.
    pub http_status: Option<u16>,
    /// Close code when the server closed it.
    pub close_code: Option<u16>,
    /// In words.
    pub detail: String,
}

impl ConnOutcome {
    /// True when it was open at the end.
    pub fn alive(&self) -> bool {
        self.outcome == ConnState::Open
    }
}

/// The policy finding and its diagnosis.
pub fn policy_findings(
    plan: &SinglePlan,
    policy: Policy,
    first: &ConnOutcome,
    second: &ConnOutcome,
    obs: &mut Observation,
) {
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
        Some(expect) if !ok => format!("{seen}; expected {}", expect),
        _ => seen,
    };
    obs.add(Finding::new("policy", ok, detail));
    obs.diagnosis.push(explain_policy(policy, first, second));
}

fn explain_policy(policy: Policy, first: &ConnOutcome, second: &ConnOutcome) -> String {
    match policy {
        Policy::RejectNew => match second.http_status {
            Some(status) => format!("The server allows one connection per identity and refuses a newcomer with HTTP {status}. A client whose old connection died silently is locked out until the server notices (heartbeats decide how soon)."),
            None if second.outcome == ConnState::Rejected => format!("The server allows one connection per identity; the newcomer was {}.", second.detail),
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
