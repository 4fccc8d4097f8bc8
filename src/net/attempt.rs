//! What one connection attempt can come to: opened (with the server's
//! answer and the phase timings), refused at the HTTP level (status,
//! Retry-After, headers, body), or failed in a named phase with a kind a
//! user can act on. Pure data and classification; `connect` produces them.

use std::io;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::connect::ClientWs;

/// The phase of opening a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Tcp,
    /// TLS handshake.
    Tls,
    /// HTTP upgrade request and response.
    Upgrade,
}

impl Phase {
    /// Name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Tcp => "TCP",
            Phase::Tls => "TLS",
            Phase::Upgrade => "upgrade",
        }
    }
}

/// How long each phase took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Name resolution (absent when addresses were pinned).
    pub dns: Option<Duration>,
    /// TCP connect.
    pub tcp: Option<Duration>,
    /// TLS handshake (wss only).
    pub tls: Option<Duration>,
    /// Upgrade request to response head.
    pub upgrade: Option<Duration>,
    /// Everything together.
    pub total: Duration,
}

/// What the server said when it accepted the upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct Handshake {
    /// Status line, such as `HTTP/1.1 101 Switching Protocols`.
    pub status_line: String,
    /// Response headers (secrets redacted).
    pub headers: Vec<(String, String)>,
    /// Subprotocol the server picked.
    pub subprotocol: Option<String>,
    /// Extensions the server enabled.
    pub extensions: Option<String>,
    /// TLS version and cipher, for wss.
    pub tls: Option<String>,
}

/// A connection that completed the upgrade.
pub struct Opened {
    /// The socket, ready for frames.
    pub ws: ClientWs,
    /// What the server answered.
    pub handshake: Handshake,
    /// Phase timings.
    pub timings: Timings,
    /// When the connection was ready.
    pub at: Instant,
}

/// The server answered the upgrade with something other than 101.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Retry-After header, when given.
    pub retry_after: Option<String>,
    /// Response headers (secrets redacted).
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body, lossily decoded.
    pub body: String,
    /// Phase timings.
    pub timings: Timings,
}

/// Why a connection could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The host name could not be resolved.
    Dns,
    /// The port refused the connection (nothing listening).
    Refused,
    /// The peer reset the connection.
    Reset,
    /// A phase did not finish within the connect timeout.
    Timeout,
    /// TLS failed (certificate, protocol).
    Tls,
    /// The server answered, but not with a valid WebSocket upgrade.
    Protocol,
    /// The server closed the connection before answering.
    Eof,
    /// The network or host is unreachable.
    Unreachable,
    /// A limit on our side: open files, ephemeral ports.
    LocalLimit,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Every kind, for reading labels back.
    pub const ALL: [FailureKind; 10] = [
        FailureKind::Dns,
        FailureKind::Refused,
        FailureKind::Reset,
        FailureKind::Timeout,
        FailureKind::Tls,
        FailureKind::Protocol,
        FailureKind::Eof,
        FailureKind::Unreachable,
        FailureKind::LocalLimit,
        FailureKind::Other,
    ];

    /// The outcome label used in tables and JSON (`refused`, `timeout`...).
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Dns => "dns",
            FailureKind::Refused => "refused",
            FailureKind::Reset => "reset",
            FailureKind::Timeout => "timeout",
            FailureKind::Tls => "tls",
            FailureKind::Protocol => "protocol",
            FailureKind::Eof => "eof",
            FailureKind::Unreachable => "unreachable",
            FailureKind::LocalLimit => "local-limit",
            FailureKind::Other => "error",
        }
    }

    /// Classifies a socket error.
    pub fn from_io(err: &io::Error) -> FailureKind {
        use io::ErrorKind as K;
        match err.kind() {
            K::ConnectionRefused => FailureKind::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => FailureKind::Reset,
            K::TimedOut => FailureKind::Timeout,
            K::UnexpectedEof => FailureKind::Eof,
            K::AddrNotAvailable | K::AddrInUse => FailureKind::LocalLimit,
            K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown => FailureKind::Unreachable,
            _ if matches!(err.raw_os_error(), Some(23 | 24 | 105)) => FailureKind::LocalLimit,
            _ => FailureKind::Other,
        }
    }
}

/// A connection attempt that failed before any HTTP answer.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Where it failed.
    pub phase: Phase,
    /// How it failed.
    pub kind: FailureKind,
    /// A sentence for the user.
    pub detail: String,
    /// Phase timings up to the failure.
    pub timings: Timings,
}

/// What one connection attempt came to, as a value: the key of every
/// outcome count and the word in every table and JSON (`accepted`,
/// `http-429`, `closed-1008`, `refused`...). `Copy`, so counting a storm's
/// attempts allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Upgraded (and, where a check settles, kept open).
    Accepted,
    /// Refused at the handshake with this HTTP status.
    Http(u16),
    /// Accepted, then closed by the server with this code right away.
    Closed(u16),
    /// No usable answer.
    Failed(FailureKind),
}

impl Outcome {
    /// True when the server let the connection in.
    pub fn is_accepted(self) -> bool {
        self == Outcome::Accepted
    }

    /// True when the server answered with a refusal (HTTP or a close).
    pub fn is_refusal(self) -> bool {
        matches!(self, Outcome::Http(_) | Outcome::Closed(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Accepted => f.write_str("accepted"),
            Outcome::Http(status) => write!(f, "http-{status}"),
            Outcome::Closed(code) => write!(f, "closed-{code}"),
            Outcome::Failed(kind) => f.write_str(kind.label()),
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    /// Reads the words back (`http-429`...), as in a saved report.
    fn from_str(text: &str) -> Result<Outcome, String> {
        let code = |n: &str| n.parse::<u16>().map_err(|_| format!("unknown outcome {text:?}"));
        if text == "accepted" {
            return Ok(Outcome::Accepted);
        }
        if let Some(status) = text.strip_prefix("http-") {
            return Ok(Outcome::Http(code(status)?));
        }
        if let Some(close) = text.strip_prefix("closed-") {
            return Ok(Outcome::Closed(code(close)?));
        }
        FailureKind::ALL
            .into_iter()
            .find(|k| k.label() == text)
            .map(Outcome::Failed)
            .ok_or_else(|| format!("unknown outcome {text:?}"))
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The result of one connection attempt.
pub enum Attempt {
    /// Upgraded.
    Open(Box<Opened>),
    /// The server answered with an HTTP error.
    Rejected(Box<Rejection>),
    /// No usable answer.
    Failed(Box<Failure>),
}

impl Attempt {
    /// The outcome: accepted, the HTTP status, or the failure kind.
    pub fn outcome(&self) -> Outcome {
        match self {
            Attempt::Open(_) => Outcome::Accepted,
            Attempt::Rejected(r) => Outcome::Http(r.status),
            Attempt::Failed(f) => Outcome::Failed(f.kind),
        }
    }

    /// Timings of whatever phases ran.
    pub fn timings(&self) -> &Timings {
        match self {
            Attempt::Open(o) => &o.timings,
            Attempt::Rejected(r) => &r.timings,
            Attempt::Failed(f) => &f.timings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let e = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(FailureKind::from_io(&e), FailureKind::Refused);
        let e = io::Error::from_raw_os_error(24);
        assert_eq!(FailureKind::from_io(&e), FailureKind::LocalLimit);
        let e = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(FailureKind::from_io(&e).label(), "reset");
    }

    #[test]
    fn outcomes_read_as_their_wire_words() {
        assert_eq!(Outcome::Accepted.to_string(), "accepted");
        assert_eq!(Outcome::Http(429).to_string(), "http-429");
        assert_eq!(Outcome::Closed(1008).to_string(), "closed-1008");
        assert_eq!(Outcome::Failed(FailureKind::LocalLimit).to_string(), "local-limit");
        assert_eq!(serde_json::to_value(Outcome::Http(503)).unwrap(), "http-503");
        assert!(Outcome::Closed(4000).is_refusal() && !Outcome::Failed(FailureKind::Reset).is_refusal());
        for o in [Outcome::Accepted, Outcome::Http(409), Outcome::Closed(4001), Outcome::Failed(FailureKind::Eof)] {
            assert_eq!(o.to_string().parse::<Outcome>(), Ok(o));
        }
        assert!("http-x".parse::<Outcome>().is_err() && "nonsense".parse::<Outcome>().is_err());
    }
}
