//! The arguments every client check shares, exactly as typed: clap derive
//! structs whose doc comments are the help text. Nothing here is validated
//! beyond parsing single values; `plan` turns these into checked plans, so
//! runners never see clap types. Each default has its one home here.

mod app;
mod net;
mod server;
pub mod shard;

use std::time::Duration;

use clap::Args;

pub use app::{AppArgs, DEFAULT_READY_TIMEOUT};
pub use net::NetArgs;
pub use server::{EmbeddedServerArgs, ServeArgs, ServerBehaviourArgs};
pub use shard::ShardArgs;

use crate::units::{parse_duration, Header};

/// `--connect-timeout` unless given.
pub const DEFAULT_CONNECT_TIMEOUT: &str = "10s";
/// `--close-timeout` unless given.
pub const DEFAULT_CLOSE_TIMEOUT: &str = "2s";
/// `--write-timeout` unless given.
pub const DEFAULT_WRITE_TIMEOUT: &str = "10s";
/// `--max-message-size` unless given.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// How results are shown.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Output")]
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
    /// Also write the report as one self-contained HTML page with charts
    /// (atomically; no network needed to view it).
    #[arg(long, value_name = "FILE", global = true)]
    pub html: Option<std::path::PathBuf>,
}

/// Options shared by every client command, each group under its own help
/// heading; a check's own options, declared after this struct, stay under
/// the plain "Options" heading that `--help` shows first.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server URL (ws:// or wss://). `{client}` expands to the client index and
    /// `{uuid}` to a random id per client. Without it, the embedded reference
    /// server is used.
    pub url: Option<String>,
    /// Extra request header "Name: value" (repeatable; templates allowed).
    #[arg(short = 'H', long = "header", value_name = "HEADER", help_heading = CONNECTION)]
    pub headers: Vec<Header>,
    /// Subprotocol to ask for (Sec-WebSocket-Protocol; repeatable).
    #[arg(long, help_heading = CONNECTION)]
    pub subprotocol: Vec<String>,
    /// Origin header to send (a server that checks it refuses others, often with 403).
    #[arg(long, help_heading = CONNECTION)]
    pub origin: Option<String>,
    /// Time allowed to open a connection (DNS, TCP, TLS and upgrade).
    #[arg(long, default_value = DEFAULT_CONNECT_TIMEOUT, value_parser = parse_duration, value_name = "DURATION", help_heading = CONNECTION)]
    pub connect_timeout: Duration,
    /// Time allowed for the server to answer our close frame.
    #[arg(long, default_value = DEFAULT_CLOSE_TIMEOUT, value_parser = parse_duration, value_name = "DURATION", help_heading = CONNECTION)]
    pub close_timeout: Duration,
    /// Longest one write may wait for the server to take it; past it the
    /// server counts as having stopped reading (reported, never a hang).
    #[arg(long, default_value = DEFAULT_WRITE_TIMEOUT, value_parser = parse_duration, value_name = "DURATION", help_heading = CONNECTION)]
    pub write_timeout: Duration,
    /// Largest message or frame accepted from the server, in bytes (1009 beyond).
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_SIZE, value_name = "BYTES", help_heading = CONNECTION)]
    pub max_message_size: usize,
    /// wss:// without certificate checks (self-signed test servers); also
    /// lets --follow-redirects go from wss:// to ws://.
    #[arg(long, help_heading = CONNECTION)]
    pub insecure: bool,
    /// Offer permessage-deflate (RFC 7692, with client_max_window_bits):
    /// compressed messages from the server are inflated, each within
    /// --max-message-size (a decompression bomb is refused with 1009).
    /// What wsprobe sends stays uncompressed, as RFC 7692 allows.
    #[arg(long, help_heading = CONNECTION)]
    pub deflate: bool,
    /// TLS roots and client certificate, proxy, redirects.
    #[command(flatten, next_help_heading = "TLS, proxy and redirects")]
    pub net: NetArgs,
    /// The application protocol spoken after the upgrade.
    #[command(flatten)]
    pub app: AppArgs,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Behaviour of the embedded server (used when no URL is given).
    #[command(flatten)]
    pub server: EmbeddedServerArgs,
    /// Ends the shared headings: clap carries the last `next_help_heading`
    /// over a flatten, so without this reset the check's own options
    /// (declared after this struct) were listed under "Embedded server".
    #[command(flatten, next_help_heading = None::<&'static str>)]
    pub own: OwnOptions,
}

/// `--help` heading of the connection options every client command shares.
pub const CONNECTION: &str = "Connection";

/// Nothing to parse: the point where a check's own options begin, which
/// `--help` lists under "Options", first (see [`ClientArgs::own`]).
#[derive(Debug, Clone, Copy, Default, Args)]
#[group(skip)]
pub struct OwnOptions {}
