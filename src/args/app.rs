//! The application-protocol flags every client command takes, as typed:
//! a named profile (`--protocol socketio`) and the generic mechanism the
//! profiles are made of (`--init`, `--ready`, `--reply`), which users can
//! drive directly for an in-house protocol. `plan` checks and compiles them
//! into a [`crate::net::app::AppSpec`].

use std::time::Duration;

use clap::Args;

use crate::net::app::Protocol;
use crate::units::parse_duration;

/// `--ready-timeout` unless given.
pub const DEFAULT_READY_TIMEOUT: &str = "10s";

/// The application protocol each connection speaks after the upgrade.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Application protocol")]
pub struct AppArgs {
    /// Speak this application protocol on every connection: its handshake,
    /// its heartbeat answers, its refusals and its close codes.
    #[arg(long, value_enum, value_name = "NAME")]
    pub protocol: Option<Protocol>,
    /// Credentials for the protocol's handshake, as JSON: Socket.IO sends
    /// `40` + JSON, graphql-ws puts it in connection_init's payload.
    #[arg(long, value_name = "JSON")]
    pub auth: Option<String>,
    /// Text message to send right after the upgrade (repeatable, in order;
    /// with a protocol, after its own handshake).
    #[arg(long, value_name = "TEXT")]
    pub init: Vec<String>,
    /// The connection counts as open only once a message matching this
    /// regex arrives (timed as its own phase, "app ready").
    #[arg(long, value_name = "REGEX")]
    pub ready: Option<String>,
    /// Answer every inbound message matching REGEX with TEXT (repeatable;
    /// split at the first `=`, write `\x3d` for an `=` in the regex).
    #[arg(long, value_name = "REGEX=TEXT")]
    pub reply: Vec<String>,
    /// Time the application handshake gets after the upgrade.
    #[arg(long, default_value = DEFAULT_READY_TIMEOUT, value_parser = parse_duration, value_name = "DURATION")]
    pub ready_timeout: Duration,
}
