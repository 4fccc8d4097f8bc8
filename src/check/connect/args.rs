//! `connect`'s command-line arguments, exactly as typed: their doc comments are
//! the `--help` text; [`super::plan`] validates them.

use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::args::ClientArgs;
use crate::units::parse_duration;

/// `wsprobe connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Common client options.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Messages to send once open.
    #[command(flatten)]
    pub send: Sends,
    /// How long to print what arrives before closing.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub listen: Duration,
}

/// One `--send` or `--send-binary` value, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendArg {
    /// `--send TEXT` (or `@FILE`).
    Text(String),
    /// `--send-binary HEX` (or `@FILE`).
    Binary(String),
}

/// `--send` and `--send-binary` together, in the order they were given
/// (clap's derive keeps each flag's values apart, so this one reads both
/// with their positions on the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sends(pub Vec<SendArg>);

const SEND: &str = "send";
const SEND_BINARY: &str = "send-binary";

impl Args for Sends {
    fn augment_args(cmd: Command) -> Command {
        cmd.arg(
            Arg::new(SEND)
                .long(SEND)
                .value_name("TEXT")
                .action(ArgAction::Append)
                .help("Message to send once open (repeatable, sent in order with --send-binary). @FILE sends the file: as text when it is UTF-8, as binary otherwise; @@TEXT sends @TEXT"),
        )
        .arg(
            Arg::new(SEND_BINARY)
                .long(SEND_BINARY)
                .value_name("HEX")
                .action(ArgAction::Append)
                .help("Binary message to send once open, as hex (48656c6c6f, 'de ad be ef'), or @FILE for a file's bytes (repeatable, in order with --send)"),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for Sends {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut all: Vec<(usize, SendArg)> = Vec::new();
        for (id, make) in [(SEND, SendArg::Text as fn(String) -> SendArg), (SEND_BINARY, SendArg::Binary)] {
            if let (Some(values), Some(at)) = (m.get_many::<String>(id), m.indices_of(id)) {
                all.extend(at.zip(values).map(|(i, v)| (i, make(v.clone()))));
            }
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(Sends(all.into_iter().map(|(_, a)| a).collect()))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Sends::from_arg_matches(m)?;
        Ok(())
    }
}
