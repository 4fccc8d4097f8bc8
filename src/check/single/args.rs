//! `single`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::args::ClientArgs;
use crate::units::parse_duration;

/// The policy `single --expect` demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
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

impl std::fmt::Display for ExpectPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExpectPolicy::RejectNew => "reject-new",
            ExpectPolicy::ReplaceOld => "replace-old",
            ExpectPolicy::Single => "single",
            ExpectPolicy::AllowMultiple => "allow-multiple",
        })
    }
}
