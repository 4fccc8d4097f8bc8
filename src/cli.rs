//! The command line exactly as the user typed it: clap derive structs whose
//! doc comments are the help text. Nothing here is validated beyond parsing
//! single values; `plan` turns these into checked plans, so runners never
//! see clap types.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::server::config::{DropMode, DuplicatePolicy, Fault, IdentitySource};
use crate::units::{parse_duration, Backoff, Header, Rate};

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

/// The reference server's behaviour flags, as `serve` spells them.
#[derive(Debug, Clone, Args)]
pub struct ServerBehaviourArgs {
    /// Where the identity comes from: query:NAME or header:NAME.
    #[arg(long, default_value = "query:device", value_name = "SOURCE")]
    pub identity: IdentitySource,
    /// What to do when a connected identity connects again.
    #[arg(long, value_enum, default_value_t = DuplicatePolicy::Reject)]
    pub duplicate: DuplicatePolicy,
    /// Accepted connections per client IP, such as 3/10s (HTTP 429 beyond).
    #[arg(long, value_name = "RATE")]
    pub rate_limit: Option<Rate>,
    /// Concurrent connections allowed (HTTP 503 beyond).
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// Send a ping frame this often.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Option<Duration>,
    /// Drop without a close frame when no pong arrived for this long.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub pong_timeout: Option<Duration>,
    /// Drop without a close frame after this long without inbound frames.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// Close with 4001 "token expired" this long after the upgrade.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Option<Duration>,
    /// End every connection this long after the upgrade.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub drop_after: Option<Duration>,
    /// How --drop-after ends a connection.
    #[arg(long, value_enum, default_value_t = DropMode::Abrupt)]
    pub drop_mode: DropMode,
    /// Reproduce a known bug (repeatable).
    #[arg(long, value_enum)]
    pub fault: Vec<Fault>,
    /// Time a client gets to send its whole upgrade request.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub handshake_timeout: Duration,
    /// Largest message accepted, in bytes (closed with 1009 beyond).
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Drop a client that does not take what the server writes for this long.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub write_timeout: Duration,
}

/// The same behaviour flags for the embedded server, prefixed `--server-`
/// (clap cannot prefix a flattened struct, so each is spelled out).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Embedded server (when no URL is given)")]
pub struct EmbeddedServerArgs {
    /// Embedded server: identity source, query:NAME or header:NAME.
    #[arg(long = "server-identity", id = "server-identity", default_value = "query:device", value_name = "SOURCE")]
    pub identity: IdentitySource,
    /// Embedded server: duplicate identity policy.
    #[arg(long = "server-duplicate", id = "server-duplicate", value_enum, default_value_t = DuplicatePolicy::Reject)]
    pub duplicate: DuplicatePolicy,
    /// Embedded server: accepted connections per IP (HTTP 429 beyond).
    #[arg(long = "server-rate-limit", id = "server-rate-limit", value_name = "RATE")]
    pub rate_limit: Option<Rate>,
    /// Embedded server: concurrent connections allowed (HTTP 503 beyond).
    #[arg(long = "server-max-clients", id = "server-max-clients", value_name = "N")]
    pub max_clients: Option<usize>,
    /// Embedded server: ping frame interval.
    #[arg(long = "server-ping-interval", id = "server-ping-interval", value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Option<Duration>,
    /// Embedded server: drop when no pong arrived for this long.
    #[arg(long = "server-pong-timeout", id = "server-pong-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub pong_timeout: Option<Duration>,
    /// Embedded server: drop after this long without inbound frames.
    #[arg(long = "server-idle-timeout", id = "server-idle-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// Embedded server: close with 4001 this long after the upgrade.
    #[arg(long = "server-token-ttl", id = "server-token-ttl", value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Option<Duration>,
    /// Embedded server: end every connection this long after the upgrade.
    #[arg(long = "server-drop-after", id = "server-drop-after", value_parser = parse_duration, value_name = "DURATION")]
    pub drop_after: Option<Duration>,
    /// Embedded server: how --server-drop-after ends a connection.
    #[arg(long = "server-drop-mode", id = "server-drop-mode", value_enum, default_value_t = DropMode::Abrupt)]
    pub drop_mode: DropMode,
    /// Embedded server: reproduce a known bug (repeatable).
    #[arg(long = "server-fault", id = "server-fault", value_enum)]
    pub fault: Vec<Fault>,
    /// Embedded server: time a client gets to send its upgrade request.
    #[arg(long = "server-handshake-timeout", id = "server-handshake-timeout", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub handshake_timeout: Duration,
    /// Embedded server: largest message accepted, in bytes.
    #[arg(long = "server-max-message-size", id = "server-max-message-size", default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_message_size: usize,
    /// Embedded server: drop a client that does not read for this long.
    #[arg(long = "server-write-timeout", id = "server-write-timeout", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub write_timeout: Duration,
}

/// `wsprobe serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Binding beyond loopback must be asked for here.
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub addr: SocketAddr,
    /// Server behaviour.
    #[command(flatten)]
    pub behaviour: ServerBehaviourArgs,
    /// Log connections on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
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
            if ["addr", "verbose", "help", "version"].contains(&long) {
                continue;
            }
            assert!(twins.contains(&format!("server-{long}")), "--{long} has no --server-{long} twin");
        }
    }
}
