//! `stability`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::time::Duration;

use clap::Args;

use crate::args::{ClientArgs, ShardArgs};
use crate::units::Jitter;
use crate::units::{parse_duration, Backoff};

/// `wsprobe stability`.
#[derive(Debug, Clone, Args)]
pub struct StabilityArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Connections to hold (the total over all shards).
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
    /// How often to send --app-ping [default: 10s]; with a --protocol
    /// whose client sends its own heartbeat (phoenix, signalr), how often
    /// that goes out.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub app_ping_interval: Option<Duration>,
    /// Never answer the server's pings (shows its pong deadline).
    #[arg(long)]
    pub no_pong: bool,
    /// Reconnect after a drop and keep going to the end.
    #[arg(long)]
    pub reconnect: bool,
    /// Pause before each --reconnect: none, fixed:5s, exp:50ms..5s (it
    /// grows while connections keep dropping within 500 ms, and starts
    /// over after one that lived longer).
    #[arg(long, default_value = "exp:50ms..5s", value_name = "POLICY")]
    pub backoff: Backoff,
    /// Random spread on each --reconnect pause.
    #[arg(long, value_enum, default_value_t = Jitter::Equal)]
    pub jitter: Jitter,
    /// Search the idle timeout of the path with silent connections.
    #[arg(long)]
    pub find_idle_timeout: bool,
    /// Longest idle time --find-idle-timeout tries.
    #[arg(long = "max", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub max_idle: Duration,
    /// Serve live Prometheus/OpenMetrics metrics at http://ADDR/metrics
    /// while the soak runs (open connections, closes by code and cause,
    /// pong and app heartbeat round trips, server ping interval). A port
    /// alone (9464) means loopback; listening beyond it needs an explicit
    /// IP address (0.0.0.0:9464).
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::addr::parse, conflicts_with = "find_idle_timeout")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Running as one of several shards.
    #[command(flatten)]
    pub shard: ShardArgs,
}
