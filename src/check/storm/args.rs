//! `storm`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::args::{ClientArgs, ShardArgs};
pub use crate::units::Jitter;
use crate::units::{parse_duration, Backoff, Rate};

/// How `storm` disrupts the connected clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
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

/// `wsprobe storm`.
#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Clients to connect (the total over all shards).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub clients: u32,
    /// Spread the first connections evenly over this time.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", conflicts_with = "connect_rate")]
    pub ramp: Option<Duration>,
    /// Open the first connections at this rate, such as 1000/s (the total
    /// over all shards).
    #[arg(long, value_name = "RATE")]
    pub connect_rate: Option<Rate>,
    /// How long to hold the connections before the disruption.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub hold: Duration,
    /// Text to send for echo round trips while holding (echoes still in
    /// flight when the run ends are waited for: twice the slowest round
    /// trip seen, at most --close-timeout).
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
    /// latency) and memory. The attempt rate is at most N / handshake time:
    /// raise it for a server far away (128 over a 20 ms round trip is at
    /// most 6,400/s) or a sharper herd.
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub max_pending: u32,
    /// Running as one of several shards.
    #[command(flatten)]
    pub shard: ShardArgs,
}

impl std::fmt::Display for Disrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Disrupt::Abrupt => "abrupt",
            Disrupt::Close => "close",
            Disrupt::Server => "server",
            Disrupt::None => "none",
        })
    }
}
