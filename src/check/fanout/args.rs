//! `fanout`'s command-line arguments, exactly as typed: their doc comments
//! are the `--help` text; [`super::Fanout`] validates them.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::args::{ClientArgs, ShardArgs};
use crate::units::parse_duration;

/// What a round publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One message per round that the whole audience must receive.
    #[default]
    Broadcast,
    /// One message per other client per round, addressed with {to}: only
    /// that client may receive it.
    Unicast,
}

/// Who must receive a broadcast.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Every client, the publisher included.
    #[default]
    All,
    /// Every client but the publisher (a copy back to it is an echo).
    Others,
}

/// `wsprobe fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Connections, each with its own identity ({client} in the URL or a
    /// header); the total over all shards.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub clients: u32,
    /// Broadcast (everyone must receive each message) or unicast (only the addressee).
    #[arg(long, value_enum, default_value_t = Mode::Broadcast)]
    pub mode: Mode,
    /// The message to publish; {nonce} (required) becomes a unique token per
    /// message, {to} the recipient's client index (unicast). Default without
    /// a URL: the reference server's protocol.
    #[arg(long, value_name = "TEXT")]
    pub publish: Option<String>,
    /// Who must receive a broadcast.
    #[arg(long, value_enum, default_value_t = Audience::All)]
    pub audience: Audience,
    /// Rounds to publish, round m by client m mod N (default: one per
    /// client; the total over all shards).
    #[arg(long, value_name = "M")]
    pub messages: Option<u32>,
    /// Publish with an HTTP POST to this URL (body: --publish; {to} and
    /// {nonce} expand in both) instead of over a connection.
    #[arg(long, value_name = "URL")]
    pub publish_http: Option<String>,
    /// How long to wait after the last publish for late deliveries.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub wait: Duration,
    /// Pause between connecting everyone and the first publish, so servers
    /// that register a connection just after the upgrade have done so.
    #[arg(long, default_value = "250ms", value_parser = parse_duration, value_name = "DURATION")]
    pub settle: Duration,
    /// Pause between two rounds (0: as fast as the publisher can send).
    #[arg(long, default_value = "0ms", value_parser = parse_duration, value_name = "DURATION")]
    pub interval: Duration,
    /// Pass when at least this share of the expected deliveries arrived
    /// (best-effort systems); duplicates and cross-talk still fail.
    #[arg(long, value_name = "RATIO")]
    pub expect_ratio: Option<f64>,
    /// Running as one of several shards (each publishes its own clients'
    /// rounds; needs --start-at, and a --settle long enough for every
    /// shard to connect).
    #[command(flatten)]
    pub shard: ShardArgs,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Broadcast => "broadcast",
            Mode::Unicast => "unicast",
        })
    }
}
