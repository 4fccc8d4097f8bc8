//! The reference server's flags: as `serve` spells them, and the same
//! behaviour prefixed `--server-` for the embedded server of every client
//! command (clap cannot prefix a flattened struct, so each is spelled out,
//! and a test checks they stay twins). Where `serve` listens (`--addr`,
//! `--reuse-port`) has no twin: the embedded server always binds
//! `127.0.0.1:0`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::server::config::{
    CapMode, DeadlineClose, DropMode, DuplicatePolicy, Fault, IdentitySource, IdleReset, LimiterModel, DEFAULT_BACKLOG,
    DEFAULT_MAX_QUEUE_BYTES,
};
use crate::units::{parse_duration, Rate};

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
    /// The shape of --rate-limit N/W: window (N accepted in any W), bucket
    /// (a token bucket of N refilled at N per W: a burst of N, then one
    /// every W/N, as nginx limit_req with burst and nodelay) or counting
    /// (N attempts in any W, refused ones included, as HAProxy's conn_rate).
    #[arg(long, value_enum, default_value_t = LimiterModel::Window)]
    pub rate_limit_model: LimiterModel,
    /// Concurrent connections allowed (HTTP 503 beyond).
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// What a full server does with one more client: reject (HTTP 503 at
    /// once) or queue (leave the upgrade unanswered until a slot frees, as
    /// HAProxy's maxconn does; 503 after --handshake-timeout).
    #[arg(long, value_enum, default_value_t = CapMode::Reject)]
    pub max_clients_mode: CapMode,
    /// Send a ping frame this often.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Option<Duration>,
    /// End the connection when no pong arrived for this long (how: see
    /// --pong-timeout-close).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub pong_timeout: Option<Duration>,
    /// How --pong-timeout ends a connection: abrupt (no close frame, as a
    /// Go read deadline: 1006), empty (a close frame without a code, as
    /// gorilla's chat example: 1005) or CODE[:REASON] (such as
    /// '1011:keepalive ping timeout', as Python websockets).
    #[arg(long, default_value = "abrupt", value_name = "CLOSE")]
    pub pong_timeout_close: DeadlineClose,
    /// Drop without a close frame after this long without inbound frames.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// What resets --idle-timeout: any (every inbound frame, pongs
    /// included) or data (text and binary messages only, as a Go read
    /// deadline set per message: answered pings do not keep it open).
    #[arg(long, value_enum, default_value_t = IdleReset::Any)]
    pub idle_reset: IdleReset,
    /// Close with 4001 "token expired" this long after the upgrade.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Option<Duration>,
    /// End every connection this long after the upgrade.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub drop_after: Option<Duration>,
    /// How --drop-after ends a connection [default: abrupt]. Given
    /// explicitly, also how an unanswered --app-ping ends it (without it,
    /// that closes with 4002 "app pong timeout").
    #[arg(long, value_enum)]
    pub drop_mode: Option<DropMode>,
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
    /// Most connections waiting to upgrade at once; past it the oldest one
    /// waiting is closed [default: half the open-file limit].
    #[arg(long, value_name = "N")]
    pub max_handshakes: Option<usize>,
    /// The listen backlog: connections the kernel queues for the server to
    /// accept (capped by net.core.somaxconn). A small one makes a herd of
    /// connects overflow it, as an untuned server's does: SYNs are dropped
    /// and clients retry them after 1 s and 3 s.
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_name = "N")]
    pub backlog: u32,
    /// Behave as K separate workers, each with its own registry (identities,
    /// slots, limits, routing, broadcast audience), connections dealt
    /// round-robin at accept, as several uvicorn/gunicorn workers do. Every
    /// accepted TCP connection takes the next worker, /health included.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub workers: usize,
    /// Most bytes of routed and broadcast messages queued for one recipient;
    /// past it the recipient's queue is dropped and it is closed with 1008
    /// "slow consumer" (counted in /health).
    #[arg(long, default_value_t = DEFAULT_MAX_QUEUE_BYTES, value_name = "BYTES")]
    pub max_queue_bytes: usize,
    /// Send this application-level heartbeat text every --app-ping-interval
    /// (for example '{"type":"ping"}', or 2 as Engine.IO does).
    #[arg(long, value_name = "TEXT")]
    pub app_ping: Option<String>,
    /// How often --app-ping is sent.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub app_ping_interval: Duration,
    /// Regex an inbound text message must match to answer an --app-ping;
    /// with none within --app-pong-timeout the server closes with 4002 "app
    /// pong timeout" (drops TCP instead with an explicit --drop-mode abrupt).
    /// The answer is otherwise handled as any message (echoed).
    #[arg(long, value_name = "REGEX")]
    pub app_pong: Option<String>,
    /// Time an --app-ping gets to be answered [default: --app-ping-interval].
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub app_pong_timeout: Option<Duration>,
    /// Regex the first message must match, as a connection_init: another
    /// first message is closed with 4400, none within --init-timeout with
    /// 4408 "connection initialisation timeout". A matching init is then
    /// handled as any message (echoed).
    #[arg(long, value_name = "REGEX")]
    pub require_init: Option<String>,
    /// Time the first message gets to arrive with --require-init.
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub init_timeout: Duration,
    /// Accept a client's permessage-deflate offer (RFC 7692): compress
    /// every message the server sends, inflate compressed ones it receives
    /// (each within --max-message-size: a decompression bomb is closed
    /// with 1009). Offers asking for a window under 2^9 are declined.
    #[arg(long)]
    pub deflate: bool,
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
    /// Embedded server: window, bucket or counting (see serve --help).
    #[arg(long = "server-rate-limit-model", id = "server-rate-limit-model", value_enum, default_value_t = LimiterModel::Window)]
    pub rate_limit_model: LimiterModel,
    /// Embedded server: concurrent connections allowed (HTTP 503 beyond).
    #[arg(long = "server-max-clients", id = "server-max-clients", value_name = "N")]
    pub max_clients: Option<usize>,
    /// Embedded server: reject or queue the client past --server-max-clients.
    #[arg(long = "server-max-clients-mode", id = "server-max-clients-mode", value_enum, default_value_t = CapMode::Reject)]
    pub max_clients_mode: CapMode,
    /// Embedded server: ping frame interval.
    #[arg(long = "server-ping-interval", id = "server-ping-interval", value_parser = parse_duration, value_name = "DURATION")]
    pub ping_interval: Option<Duration>,
    /// Embedded server: drop when no pong arrived for this long.
    #[arg(long = "server-pong-timeout", id = "server-pong-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub pong_timeout: Option<Duration>,
    /// Embedded server: abrupt, empty or CODE[:REASON] on a missed pong.
    #[arg(
        long = "server-pong-timeout-close",
        id = "server-pong-timeout-close",
        default_value = "abrupt",
        value_name = "CLOSE"
    )]
    pub pong_timeout_close: DeadlineClose,
    /// Embedded server: drop after this long without inbound frames.
    #[arg(long = "server-idle-timeout", id = "server-idle-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Option<Duration>,
    /// Embedded server: any frame, or data messages only, reset the idle timeout.
    #[arg(long = "server-idle-reset", id = "server-idle-reset", value_enum, default_value_t = IdleReset::Any)]
    pub idle_reset: IdleReset,
    /// Embedded server: close with 4001 this long after the upgrade.
    #[arg(long = "server-token-ttl", id = "server-token-ttl", value_parser = parse_duration, value_name = "DURATION")]
    pub token_ttl: Option<Duration>,
    /// Embedded server: end every connection this long after the upgrade.
    #[arg(long = "server-drop-after", id = "server-drop-after", value_parser = parse_duration, value_name = "DURATION")]
    pub drop_after: Option<Duration>,
    /// Embedded server: how --server-drop-after ends a connection [default:
    /// abrupt]; given explicitly, also how an unanswered app ping does.
    #[arg(long = "server-drop-mode", id = "server-drop-mode", value_enum)]
    pub drop_mode: Option<DropMode>,
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
    /// Embedded server: most connections waiting to upgrade at once.
    #[arg(long = "server-max-handshakes", id = "server-max-handshakes", value_name = "N")]
    pub max_handshakes: Option<usize>,
    /// Embedded server: the listen backlog (capped by net.core.somaxconn).
    #[arg(long = "server-backlog", id = "server-backlog", default_value_t = DEFAULT_BACKLOG, value_name = "N")]
    pub backlog: u32,
    /// Embedded server: K workers with separate registries, round-robin.
    #[arg(long = "server-workers", id = "server-workers", default_value_t = 1, value_name = "K")]
    pub workers: usize,
    /// Embedded server: most bytes queued for one recipient (1008 beyond).
    #[arg(long = "server-max-queue-bytes", id = "server-max-queue-bytes", default_value_t = DEFAULT_MAX_QUEUE_BYTES, value_name = "BYTES")]
    pub max_queue_bytes: usize,
    /// Embedded server: application-level heartbeat text to send.
    #[arg(long = "server-app-ping", id = "server-app-ping", value_name = "TEXT")]
    pub app_ping: Option<String>,
    /// Embedded server: how often --server-app-ping is sent.
    #[arg(long = "server-app-ping-interval", id = "server-app-ping-interval", default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub app_ping_interval: Duration,
    /// Embedded server: regex that answers an app ping (4002 without one).
    #[arg(long = "server-app-pong", id = "server-app-pong", value_name = "REGEX")]
    pub app_pong: Option<String>,
    /// Embedded server: time an app ping gets to be answered.
    #[arg(long = "server-app-pong-timeout", id = "server-app-pong-timeout", value_parser = parse_duration, value_name = "DURATION")]
    pub app_pong_timeout: Option<Duration>,
    /// Embedded server: regex the first message must match (4400/4408).
    #[arg(long = "server-require-init", id = "server-require-init", value_name = "REGEX")]
    pub require_init: Option<String>,
    /// Embedded server: time the first message gets with --server-require-init.
    #[arg(long = "server-init-timeout", id = "server-init-timeout", default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub init_timeout: Duration,
    /// Embedded server: accept permessage-deflate (compress what it sends).
    #[arg(long = "server-deflate", id = "server-deflate")]
    pub deflate: bool,
}

/// Where `serve` listens: the address and the socket options that go with
/// it, one value, so binding takes one argument.
#[derive(Debug, Clone, Copy, Args)]
pub struct ListenArgs {
    /// Address to listen on. Binding beyond loopback must be asked for here.
    #[arg(long, default_value = "127.0.0.1:9001")]
    pub addr: SocketAddr,
    /// Share the port with other `wsprobe serve --reuse-port` processes
    /// (SO_REUSEPORT; the kernel spreads connections over them), to serve
    /// more connections than one process's open-file limit allows. Each
    /// process keeps its own registry, as separate servers do.
    #[arg(long)]
    pub reuse_port: bool,
}

impl fmt::Display for ListenArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)
    }
}

impl From<ListenArgs> for crate::server::Listen {
    fn from(a: ListenArgs) -> crate::server::Listen {
        crate::server::Listen { addr: a.addr, reuse_port: a.reuse_port }
    }
}

/// `wsprobe serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where to listen: `--addr` and `--reuse-port` (the field keeps the
    /// name `addr`, so `server::bind(args.addr)` binds with both).
    #[command(flatten)]
    pub addr: ListenArgs,
    /// Server behaviour.
    #[command(flatten)]
    pub behaviour: ServerBehaviourArgs,
    /// Log connections on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
