//! `connect`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::time::Duration;

use clap::Args;

use crate::args::ClientArgs;
use crate::units::parse_duration;

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
