//! `ratelimit`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::args::ClientArgs;
use crate::units::{parse_duration, Rate};

/// How `ratelimit` treats accepted connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Serialize)]
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
    /// First gap between window probes (the window's precision); each later
    /// gap is at least a tenth of the time waited, so a limiter that counts
    /// refused attempts sees the probes slow down.
    #[arg(long, default_value = "100ms", value_parser = parse_duration, value_name = "DURATION")]
    pub probe_interval: Duration,
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

impl std::fmt::Display for RatelimitMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RatelimitMode::Churn => "churn",
            RatelimitMode::Hold => "hold",
        })
    }
}
