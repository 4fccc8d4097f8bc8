//! The command line exactly as the user typed it: clap derive structs whose
//! doc comments are the help text. Nothing here is validated beyond parsing
//! single values; `plan` turns these into checked plans, so runners never
//! see clap types.

mod checks;
mod server;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub use checks::{
    ConnectArgs, Disrupt, ExpectPolicy, Jitter, RatelimitArgs, RatelimitMode, SingleArgs, StabilityArgs, StormArgs,
};
pub use server::{EmbeddedServerArgs, ServeArgs, ServerBehaviourArgs};

use crate::units::{parse_duration, Header};

/// Diagnose and load-test WebSocket servers.
///
/// Every client command runs against URL, or, when no URL is given, against
/// the embedded reference server on a free loopback port (its behaviour set
/// with the --server-* options).
#[derive(Debug, Parser)]
#[command(name = "wsprobe", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The wsprobe commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One connection, step by step: DNS, TCP, TLS, HTTP upgrade, messages, close.
    Connect(ConnectArgs),
    /// Is one connection per identity enforced, and how?
    Single(SingleArgs),
    /// Long-run soak: close codes, 1006 detection, heartbeats, idle timeouts.
    Stability(StabilityArgs),
    /// Connection rate limits and concurrent-connection caps.
    Ratelimit(RatelimitArgs),
    /// Many clients, a disruption, and the reconnect storm that follows.
    Storm(StormArgs),
    /// Run the reference server standalone.
    Serve(ServeArgs),
    /// Run every check against the reference server in every behaviour.
    Selftest(SelftestArgs),
    /// Run scenario files (TOML) with expectations, for CI.
    Run(RunArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man,
}

impl Command {
    /// The command's name as typed, for reports and error JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Connect(_) => "connect",
            Command::Single(_) => "single",
            Command::Stability(_) => "stability",
            Command::Ratelimit(_) => "ratelimit",
            Command::Storm(_) => "storm",
            Command::Serve(_) => "serve",
            Command::Selftest(_) => "selftest",
            Command::Run(_) => "run",
            Command::Completions(_) => "completions",
            Command::Man => "man",
        }
    }

    /// The output options of this command, when it has any.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            Command::Connect(a) => Some(&a.client.output),
            Command::Single(a) => Some(&a.client.output),
            Command::Stability(a) => Some(&a.client.output),
            Command::Ratelimit(a) => Some(&a.client.output),
            Command::Storm(a) => Some(&a.client.output),
            Command::Selftest(a) => Some(&a.output),
            Command::Run(a) => Some(&a.output),
            Command::Serve(_) | Command::Completions(_) | Command::Man => None,
        }
    }
}

/// How results are shown.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Print exactly one JSON object on stdout and nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress display; print only the verdict and failed findings.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log what happens on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Also write the JSON report to this file (atomically).
    #[arg(long, value_name = "FILE", global = true)]
    pub out: Option<std::path::PathBuf>,
}

/// Options shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server URL (ws:// or wss://). `{client}` expands to the client index and
    /// `{uuid}` to a random id per client. Without it, the embedded reference
    /// server is used.
    pub url: Option<String>,
    /// Extra request header "Name: value" (repeatable; templates allowed).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<Header>,
    /// Subprotocol to ask for (Sec-WebSocket-Protocol; repeatable).
    #[arg(long)]
    pub subprotocol: Vec<String>,
    /// Origin header to send.
    #[arg(long)]
    pub origin: Option<String>,
    /// Time allowed to open a connection (DNS, TCP, TLS and upgrade).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Time allowed for the server to answer our close frame.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub close_timeout: Duration,
    /// Largest message or frame accepted from the server, in bytes (1009 beyond).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES")]
    pub max_message_size: usize,
    /// wss:// without certificate checks (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Behaviour of the embedded server (used when no URL is given).
    #[command(flatten)]
    pub server: EmbeddedServerArgs,
}

/// `wsprobe selftest`.
#[derive(Debug, Clone, Args)]
pub struct SelftestArgs {
    /// Only rows whose behaviour or check contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `wsprobe run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Scenario files or folders of them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Point every scenario at this server instead of its own target.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `wsprobe completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every `serve` behaviour flag has a `--server-` twin on client commands.
    #[test]
    fn every_serve_flag_has_a_server_twin() {
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        let single = cli.find_subcommand("single").unwrap();
        let twins: Vec<String> = single.get_arguments().filter_map(|a| a.get_long()).map(str::to_string).collect();
        for arg in serve.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["addr", "reuse-port", "verbose", "help", "version"].contains(&long) {
                continue;
            }
            assert!(twins.contains(&format!("server-{long}")), "--{long} has no --server-{long} twin");
        }
    }
}
