//! The command line: the top-level parser, whose subcommands are the
//! registry's checks (see [`crate::check`]) and the commands that are not
//! checks. The argument structs the checks share live in [`crate::args`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::args::{ClientArgs, EmbeddedServerArgs, OutputArgs, ServeArgs, ServerBehaviourArgs};

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

/// The wsprobe commands: the checks of the registry, then the rest.
// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// A client check (connect, single, ...; see [`crate::check`]).
    #[command(flatten)]
    Check(crate::check::CheckCommand),
    /// Run the reference server standalone.
    Serve(ServeArgs),
    /// Run every check against the reference server in every behaviour.
    Selftest(SelftestArgs),
    /// Run scenario files (TOML) with expectations, for CI.
    Run(RunArgs),
    /// Merge shard reports (JSON) into one report, as one machine would have measured it.
    Merge(MergeArgs),
    /// Render saved JSON reports as an HTML page with charts, or Markdown.
    Report(ReportArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    Man,
}

impl Command {
    /// The command's name as typed, for reports and error JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Check(c) => c.name(),
            Command::Serve(_) => "serve",
            Command::Selftest(_) => "selftest",
            Command::Run(_) => "run",
            Command::Merge(_) => "merge",
            Command::Report(_) => "report",
            Command::Completions(_) => "completions",
            Command::Man => "man",
        }
    }

    /// The output options of this command, when it has any.
    pub fn output(&self) -> Option<&OutputArgs> {
        match self {
            Command::Check(c) => Some(&c.client_args().output),
            Command::Selftest(a) => Some(&a.output),
            Command::Run(a) => Some(&a.output),
            Command::Merge(a) => Some(&a.output),
            Command::Serve(_) | Command::Report(_) | Command::Completions(_) | Command::Man => None,
        }
    }
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
    /// Connection options for every check of every file.
    #[command(flatten)]
    pub every: EveryCheckArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `run`'s connection options, applied to every check of every scenario
/// file; a check's own value wins (the scenario loader merges them).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Every check (a check's own value wins)")]
pub struct EveryCheckArgs {
    /// Request header "Name: value" for every check (repeatable; templates
    /// allowed); a check's own header of the same name wins.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<crate::units::Header>,
    /// Subprotocol to ask for (repeatable), for every check that names none
    /// of its own.
    #[arg(long)]
    pub subprotocol: Vec<String>,
    /// Origin header, for every check that sets none of its own.
    #[arg(long)]
    pub origin: Option<String>,
    /// wss:// without certificate checks, for every check.
    #[arg(long)]
    pub insecure: bool,
    /// Application protocol, for every check that names none of its own.
    #[arg(long, value_enum, value_name = "NAME")]
    pub protocol: Option<crate::net::app::Protocol>,
}

/// `wsprobe merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Shard reports (`--json` or `--out` output of storm, stability or
    /// fanout run with --shard); `-` reads them from stdin, several JSON
    /// objects one after another (as `kubectl logs` of several pods gives).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `wsprobe report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// JSON reports (`--json` or `--out` output); `-` reads them from stdin.
    /// Several shard reports of one run are merged first, as `wsprobe
    /// merge` does.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Markdown (verdict, findings, main figures) instead of HTML, for a CI
    /// job summary such as $GITHUB_STEP_SUMMARY.
    #[arg(long)]
    pub markdown: bool,
    /// Write here (atomically) instead of to stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
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

    /// Every `serve` behaviour flag has a `--server-` twin on every client command.
    #[test]
    fn every_serve_flag_has_a_server_twin() {
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").unwrap();
        for name in crate::check::NAMES {
            let check = cli.find_subcommand(name).unwrap();
            let twins: Vec<String> = check.get_arguments().filter_map(|a| a.get_long()).map(str::to_string).collect();
            for arg in serve.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if ["addr", "reuse-port", "verbose", "help", "version"].contains(&long) {
                    continue;
                }
                assert!(twins.contains(&format!("server-{long}")), "{name}: --{long} has no --server-{long} twin");
            }
        }
    }
}
