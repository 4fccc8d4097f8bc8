//! What the reference server does: how it finds a client's identity, its
//! duplicate policy, its limits, heartbeats and timers, its workers and
//! delivery bounds, the application-level heartbeat and init it can demand,
//! and the faults that reproduce known bugs. `serve` flags, the `--server-*`
//! flags of every client command and scenario files all become one
//! [`ServerConfig`]; [`ServerConfig::validate`] refuses what cannot work.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

pub use super::deadlines::{DeadlineClose, IdleReset};
pub use super::limits::{CapMode, LimiterModel};
use crate::units::{format_duration, Rate};

/// Where the server reads a client's identity from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// A query parameter, such as `?device=dev-1`.
    Query(String),
    /// A request header, such as `X-Device: dev-1`.
    Header(String),
}

impl Default for IdentitySource {
    fn default() -> Self {
        IdentitySource::Query("device".into())
    }
}

impl FromStr for IdentitySource {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("query", name)) if !name.is_empty() => Ok(IdentitySource::Query(name.into())),
            Some(("header", name)) if !name.is_empty() => Ok(IdentitySource::Header(name.into())),
            _ => Err(format!(
                "invalid identity source '{text}': write query:NAME or header:NAME (for example query:device)"
            )),
        }
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentitySource::Query(n) => write!(f, "query:{n}"),
            IdentitySource::Header(n) => write!(f, "header:{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for IdentitySource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What the server does when an identity that is already connected connects again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// Refuse the newcomer at the handshake with HTTP 409.
    #[default]
    Reject,
    /// Accept the newcomer and close the old connection with 4000 "replaced".
    Replace,
    /// Accept both (the bug behind "one user holds 8 connections").
    Allow,
}

/// How a server-side drop ends the connection: `--drop-after` (abrupt unless
/// told otherwise) and the app pong timeout (a 4002 close unless
/// `--drop-mode abrupt` is given explicitly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropMode {
    /// Close TCP without a close frame: the client sees 1006.
    #[default]
    Abrupt,
    /// Send a close frame (1000) first.
    Close,
}

/// Deliberate bugs, so wsprobe can prove it detects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// A closed connection never frees its max-clients slot.
    LeakSlots,
    /// A closed identity stays registered, so it cannot come back.
    StaleIdentity,
    /// A routed `send` reaches every connection of the worker, not only the
    /// addressee (the "message spam" of a router that broadcasts).
    CrossTalk,
    /// Every delivery (broadcast and routed `send`) arrives twice, as with a
    /// publisher that retries without de-duplication.
    DuplicateDelivery,
}

/// Default bound of one recipient's queue: 1 MiB, as Centrifugo's
/// `client_queue_max_size`; a healthy reader never gets near it.
pub const DEFAULT_MAX_QUEUE_BYTES: usize = 1 << 20;

/// Default listen backlog: deep enough that a burst of thousands of
/// simultaneous connects queues instead of being dropped.
pub const DEFAULT_BACKLOG: u32 = 4096;

/// Most workers `--workers` accepts (each is a registry, not a thread).
pub const MAX_WORKERS: usize = 256;

impl Fault {
    /// The name as `--fault` and scenario files spell it (`cross-talk`).
    pub fn name(self) -> &'static str {
        match self {
            Fault::LeakSlots => "leak-slots",
            Fault::StaleIdentity => "stale-identity",
            Fault::CrossTalk => "cross-talk",
            Fault::DuplicateDelivery => "duplicate-delivery",
        }
    }
}

/// Everything that decides how the reference server behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where the identity comes from.
    pub identity: IdentitySource,
    /// Duplicate identity policy.
    pub duplicate: DuplicatePolicy,
    /// Accepted connections allowed per client IP and window (429 beyond).
    pub rate_limit: Option<Rate>,
    /// The shape of the rate limit: a window, a token bucket, or a window
    /// that counts refused attempts too.
    pub rate_limit_model: LimiterModel,
    /// Concurrent connections allowed (503 beyond).
    pub max_clients: Option<usize>,
    /// What a full server does with one more client: refuse or queue it.
    pub max_clients_mode: CapMode,
    /// Interval of server ping frames.
    pub ping_interval: Option<Duration>,
    /// Drop when no pong arrived for this long.
    pub pong_timeout: Option<Duration>,
    /// What a passed pong deadline sends: nothing (a Go read deadline), an
    /// empty close frame, or a code and reason.
    pub pong_timeout_close: DeadlineClose,
    /// Drop (without a close frame) after this long without inbound frames.
    pub idle_timeout: Option<Duration>,
    /// What resets the idle timeout: any frame, or data messages only.
    pub idle_reset: IdleReset,
    /// Close with 4001 "token expired" this long after the upgrade.
    pub token_ttl: Option<Duration>,
    /// End every connection this long after the upgrade.
    pub drop_after: Option<Duration>,
    /// How `drop_after` ends it.
    pub drop_mode: DropMode,
    /// Deliberate bugs.
    pub faults: Vec<Fault>,
    /// Time a client gets to send its whole upgrade request (slowloris guard).
    pub handshake_timeout: Duration,
    /// Largest message accepted; bigger ones are closed with 1009.
    pub max_message_size: usize,
    /// Time a client gets to take what the server writes before it is
    /// dropped as stuck (a client that never reads).
    pub write_timeout: Duration,
    /// Independent workers (each with its own registry, limits and
    /// broadcast audience), connections assigned round-robin at accept.
    pub workers: usize,
    /// Most bytes of routed and broadcast messages queued for one recipient;
    /// past it the recipient is closed with 1008 "slow consumer".
    pub max_queue_bytes: usize,
    /// Application-level heartbeat text the server sends.
    pub app_ping: Option<String>,
    /// How often `app_ping` is sent.
    pub app_ping_interval: Duration,
    /// Regex an inbound text message must match to answer an app ping.
    pub app_pong: Option<String>,
    /// Time after an app ping within which an answer must arrive (default:
    /// the ping interval).
    pub app_pong_timeout: Option<Duration>,
    /// How an app pong timeout ends the connection: 4002 or abrupt.
    pub app_pong_mode: DropMode,
    /// Regex the first message must match (a connection_init).
    pub require_init: Option<String>,
    /// Time the first message gets to arrive when `require_init` is set.
    pub init_timeout: Duration,
    /// Most connections waiting to upgrade at once; past it the oldest one
    /// waiting is closed, so idle sockets cannot lock new clients out.
    /// `None`: half the open-file limit at start.
    pub max_handshakes: Option<usize>,
    /// The listen backlog (the kernel caps it at net.core.somaxconn).
    pub backlog: u32,
    /// Accept permessage-deflate offers: compress outbound messages and
    /// inflate inbound ones (within `max_message_size`).
    pub deflate: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            identity: IdentitySource::default(),
            duplicate: DuplicatePolicy::default(),
            rate_limit: None,
            rate_limit_model: LimiterModel::default(),
            max_clients: None,
            max_clients_mode: CapMode::default(),
            ping_interval: None,
            pong_timeout: None,
            pong_timeout_close: DeadlineClose::default(),
            idle_timeout: None,
            idle_reset: IdleReset::default(),
            token_ttl: None,
            drop_after: None,
            drop_mode: DropMode::default(),
            faults: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            max_message_size: 1 << 20,
            write_timeout: Duration::from_secs(10),
            workers: 1,
            max_queue_bytes: DEFAULT_MAX_QUEUE_BYTES,
            app_ping: None,
            app_ping_interval: Duration::from_secs(10),
            app_pong: None,
            app_pong_timeout: None,
            app_pong_mode: DropMode::Close,
            require_init: None,
            init_timeout: Duration::from_secs(3),
            max_handshakes: None,
            backlog: DEFAULT_BACKLOG,
            deflate: false,
        }
    }
}

impl ServerConfig {
    /// True when the given fault is switched on.
    pub fn has_fault(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    /// Checks combinations that cannot work and says which flag to change.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_timers()?;
        if self.max_handshakes == Some(0) {
            return Err("--max-handshakes 0 would refuse everyone: give at least 1".into());
        }
        if self.max_clients == Some(0) {
            return Err("--max-clients 0 would refuse everyone: give at least 1".into());
        }
        if self.backlog == 0 {
            return Err("--backlog must be at least 1".into());
        }
        if self.max_message_size < 125 {
            return Err("--max-message-size must be at least 125 bytes".into());
        }
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(format!("--workers must be between 1 and {MAX_WORKERS}"));
        }
        if self.max_queue_bytes < 1024 {
            return Err("--max-queue-bytes must be at least 1024 bytes".into());
        }
        self.validate_modes()?;
        self.validate_app()
    }

    /// A mode given without the option it shapes would do nothing.
    fn validate_modes(&self) -> Result<(), String> {
        let pairs = [
            (
                self.pong_timeout_close != DeadlineClose::Abrupt && self.pong_timeout.is_none(),
                "--pong-timeout-close",
                "--pong-timeout",
            ),
            (self.idle_reset != IdleReset::Any && self.idle_timeout.is_none(), "--idle-reset", "--idle-timeout"),
            (
                self.rate_limit_model != LimiterModel::Window && self.rate_limit.is_none(),
                "--rate-limit-model",
                "--rate-limit",
            ),
            (
                self.max_clients_mode != CapMode::Reject && self.max_clients.is_none(),
                "--max-clients-mode",
                "--max-clients",
            ),
        ];
        match pairs.into_iter().find(|(alone, _, _)| *alone) {
            Some((_, mode, needs)) => Err(format!("{mode} needs {needs}: it only shapes what {needs} does")),
            None => Ok(()),
        }
    }

    fn validate_timers(&self) -> Result<(), String> {
        if self.pong_timeout.is_some() && self.ping_interval.is_none() {
            return Err("--pong-timeout needs --ping-interval: the server only expects pongs to its own pings".into());
        }
        if let (Some(ping), Some(pong)) = (self.ping_interval, self.pong_timeout) {
            if pong.is_zero() || ping.is_zero() {
                return Err("--ping-interval and --pong-timeout must be above zero".into());
            }
            if pong <= ping {
                return Err(format!(
                    "--pong-timeout ({}) must be longer than --ping-interval ({}): the deadline runs from the last pong, and pongs only answer pings, so even a client that answers every ping would be dropped before the next one",
                    format_duration(pong),
                    format_duration(ping)
                ));
            }
        }
        if self.write_timeout.is_zero() || self.handshake_timeout.is_zero() {
            return Err("--write-timeout and --handshake-timeout must be above zero".into());
        }
        Ok(())
    }

    /// The application-level heartbeat and init: regexes compile, and each
    /// option has what it depends on.
    fn validate_app(&self) -> Result<(), String> {
        if self.app_pong.is_some() && self.app_ping.is_none() {
            return Err("--app-pong needs --app-ping: the server only expects answers to its own app pings".into());
        }
        if self.app_pong_timeout.is_some() && self.app_pong.is_none() {
            return Err("--app-pong-timeout needs --app-pong (the regex an answer must match)".into());
        }
        if self.app_ping_interval.is_zero() || self.app_pong_timeout.is_some_and(|t| t.is_zero()) {
            return Err("--app-ping-interval and --app-pong-timeout must be above zero".into());
        }
        if self.init_timeout.is_zero() {
            return Err("--init-timeout must be above zero".into());
        }
        compile("--app-pong", self.app_pong.as_deref())?;
        compile("--require-init", self.require_init.as_deref())?;
        Ok(())
    }

    /// Time an app ping gets to be answered: `--app-pong-timeout`, or the
    /// ping interval (answered before the next ping).
    pub fn app_pong_window(&self) -> Duration {
        self.app_pong_timeout.unwrap_or(self.app_ping_interval)
    }
}

/// Compiles an optional regex; the error names the flag it came from.
pub fn compile(flag: &str, pattern: Option<&str>) -> Result<Option<regex::Regex>, String> {
    pattern.map(|p| regex::Regex::new(p).map_err(|e| format!("{flag} '{p}' is not a valid regex: {e}"))).transpose()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
