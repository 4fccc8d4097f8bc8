//! Per-command arguments of the client checks, as typed: their doc
//! comments are the `--help` text.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::ClientArgs;
use crate::units::{parse_duration, Backoff, Rate};

/// `wsprobe connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Text message to send once open (repeatable, sent in order).
    #[arg(long, value_name = "TEXT")]
    pub send: Vec<String>,
    /// How long to print what arrives before closing.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub listen: Duration,
}

/// The policy `single --expect` demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectPolicy {
    /// The second connection must be refused.
    RejectNew,
    /// The first connection must be closed by the server.
    ReplaceOld,
    /// Either of the two above.
    Single,
    /// Both may live.
    AllowMultiple,
}

/// `wsprobe single`.
#[derive(Debug, Clone, Args)]
pub struct SingleArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// How long to watch both connections.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub hold: Duration,
    /// Connections with distinct identities to open together.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub distinct: u32,
    /// Also open both connections at the same instant.
    #[arg(long)]
    pub race: bool,
    /// The policy the server must show (sets the exit code).
    #[arg(long, value_enum)]
    pub expect: Option<ExpectPolicy>,
    /// How long a new connection must stay open to count as accepted.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Duration,
}

/// `wsprobe stability`.
#[derive(Debug, Clone, Args)]
pub struct StabilityArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Connections to hold.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub clients: u32,
    /// How long to hold them.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Duration,
    /// Send protocol ping frames this often and measure the pong round trip.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Option<Duration>,
    /// Application heartbeat text to send (for example '{"type":"ping"}').
    #[arg(long, value_name = "TEXT")]
    pub app_ping: Option<String>,
    /// How often to send --app-ping.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub app_ping_interval: Duration,
    /// Never answer the server's pings (shows its pong deadline).
    #[arg(long)]
    pub no_pong: bool,
    /// Reconnect after a drop and keep going to the end.
    #[arg(long)]
    pub reconnect: bool,
    /// Search the idle timeout of the path with silent connections.
    #[arg(long)]
    pub find_idle_timeout: bool,
    /// Longest idle time --find-idle-timeout tries.
    #[arg(long = "max", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub max_idle: Duration,
}

/// How `ratelimit` treats accepted connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatelimitMode {
    /// Open, close cleanly, next: probes per-IP rate limits.
    #[default]
    Churn,
    /// Keep accepted connections open: finds the concurrent cap and slot reuse.
    Hold,
}

/// `wsprobe ratelimit`.
#[derive(Debug, Clone, Args)]
pub struct RatelimitArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Connection attempts to make.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub attempts: u32,
    /// Attempt schedule (steady), such as 20/s or 3/10s.
    #[arg(long, default_value = "10/s", value_name = "RATE")]
    pub rate: Rate,
    /// Churn (rate limits) or hold (concurrent caps).
    #[arg(long, value_enum, default_value_t = RatelimitMode::Churn)]
    pub mode: RatelimitMode,
    /// An accepted connection closed by the server within this time counts as rejected.
    #[arg(long, default_value = "500ms", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Duration,
    /// Longest wait for a rejected client to be accepted again (finds the window).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub max_wait: Duration,
    /// The limit the server must enforce, such as 3/10s (sets the exit code).
    #[arg(long, value_name = "RATE")]
    pub expect_rate: Option<Rate>,
    /// The concurrent cap the server must enforce (sets the exit code).
    #[arg(long, value_name = "N")]
    pub expect_max: Option<u32>,
    /// Local addresses to spread attempts over (per-IP limits see several clients).
    #[arg(long, value_delimiter = ',', value_name = "IP,IP,...")]
    pub source_ip: Vec<IpAddr>,
}

/// How `storm` disrupts the connected clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disrupt {
    /// Drop TCP without a close frame, as a network blip does.
    #[default]
    Abrupt,
    /// Close cleanly (1000) and reconnect.
    Close,
    /// Wait for the server to drop the clients (for example while you restart it).
    Server,
    /// No disruption: connect, hold, report.
    None,
}

/// Random spread added to each backoff wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Jitter {
    /// Wait exactly the backoff.
    None,
    /// Wait a random time between 0 and the backoff.
    #[default]
    Full,
    /// Wait half the backoff plus a random part of the other half.
    Equal,
}

/// `wsprobe storm`.
#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Clients to connect.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub clients: u32,
    /// Spread the first connections evenly over this time.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", conflicts_with = "connect_rate")]
    pub ramp: Option<Duration>,
    /// Open the first connections at this rate, such as 1000/s.
    #[arg(long, value_name = "RATE")]
    pub connect_rate: Option<Rate>,
    /// How long to hold the connections before the disruption.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub hold: Duration,
    /// Text to send for echo round trips while holding.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
    /// How often each client sends --message.
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub message_interval: Duration,
    /// How the connections are disrupted after the hold.
    #[arg(long, value_enum, default_value_t = Disrupt::Abrupt)]
    pub disrupt: Disrupt,
    /// Reconnect policy: none, fixed:5s, exp:500ms..30s.
    #[arg(long, default_value = "exp:100ms..5s", value_name = "POLICY")]
    pub backoff: Backoff,
    /// Random spread on each backoff wait.
    #[arg(long, value_enum, default_value_t = Jitter::Full)]
    pub jitter: Jitter,
    /// Attempts per client and wave before it gives up.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_attempts: u32,
    /// Longest time a wave may take (connect or reconnect).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub wave_timeout: Duration,
    /// Local addresses to spread clients over (past the ephemeral-port limit).
    #[arg(long, value_delimiter = ',', value_name = "IP,IP,...")]
    pub source_ip: Vec<IpAddr>,
    /// Plain TCP connects without the upgrade: a baseline for the WebSocket cost.
    #[arg(long)]
    pub tcp_only: bool,
    /// Connection attempts this process keeps in flight at once. Bounds
    /// wsprobe's own queueing (which would otherwise show up as handshake
    /// latency) and memory; raise it for a sharper herd.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_pending: u32,
}
