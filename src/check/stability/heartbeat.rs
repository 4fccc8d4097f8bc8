//! The heartbeat a soak keeps its connections alive with: protocol pings,
//! an application message, the application protocol's own, withheld
//! pongs, or none.

use serde::{Deserialize, Serialize};

use super::StabilityPlan;

/// The heartbeat a soak ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Heartbeat {
    /// Protocol ping frames, pong round trips measured.
    PingFrames,
    /// An application-level heartbeat message.
    App,
    /// The server's pings left unanswered.
    NoPong,
    /// The application protocol's own heartbeat (`--protocol`, `--reply`).
    Protocol,
    /// Nothing: shows idle timeouts.
    Silent,
}

impl std::fmt::Display for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Heartbeat::PingFrames => "ping-frames",
            Heartbeat::App => "app",
            Heartbeat::NoPong => "no-pong",
            Heartbeat::Protocol => "protocol",
            Heartbeat::Silent => "silent",
        })
    }
}

/// The heartbeat `plan` runs with.
pub(super) fn of(plan: &StabilityPlan) -> Heartbeat {
    match (plan.no_pong, plan.ping_interval, &plan.app_ping) {
        (true, _, _) => Heartbeat::NoPong,
        (_, Some(_), _) => Heartbeat::PingFrames,
        (_, None, Some(_)) => Heartbeat::App,
        _ if plan.client.app.as_ref().is_some_and(|a| a.has_heartbeat()) => Heartbeat::Protocol,
        _ => Heartbeat::Silent,
    }
}
