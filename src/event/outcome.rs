//! The vocabulary of connection attempts: how one could fail
//! ([`FailureKind`]) and what it came to ([`Outcome`]). Client tasks report
//! outcomes in events, collectors count them, reports print them; the
//! words (`accepted`, `http-429`, `closed-1008`, `refused`) come only from
//! here.

use std::io;

use serde::Serialize;

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
    /// The proxy refused or failed to open the tunnel (not the server's doing).
    Proxy,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Every kind, for reading labels back.
    pub const ALL: [FailureKind; 11] = [
        FailureKind::Dns,
        FailureKind::Refused,
        FailureKind::Reset,
        FailureKind::Timeout,
        FailureKind::Tls,
        FailureKind::Protocol,
        FailureKind::Eof,
        FailureKind::Unreachable,
        FailureKind::LocalLimit,
        FailureKind::Proxy,
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
            FailureKind::Proxy => "proxy",
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
    /// Upgraded, then refused by the application protocol with a message
    /// (Socket.IO's `44`, ActionCable's `reject_subscription`...).
    AppRefused,
    /// The HTTP proxy answered CONNECT with this status (407, 403, 502...):
    /// the proxy's refusal; the server was never reached.
    Proxy(u16),
}

impl Outcome {
    /// True when the server let the connection in.
    pub fn is_accepted(self) -> bool {
        self == Outcome::Accepted
    }

    /// True when the server answered with a refusal (HTTP or a close).
    pub fn is_refusal(self) -> bool {
        matches!(self, Outcome::Http(_) | Outcome::Closed(_) | Outcome::AppRefused)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Accepted => f.write_str("accepted"),
            Outcome::Http(status) => write!(f, "http-{status}"),
            Outcome::Closed(code) => write!(f, "closed-{code}"),
            Outcome::Failed(kind) => f.write_str(kind.label()),
            Outcome::AppRefused => f.write_str("app-refused"),
            Outcome::Proxy(status) => write!(f, "proxy-{status}"),
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
        if text == "app-refused" {
            return Ok(Outcome::AppRefused);
        }
        if let Some(status) = text.strip_prefix("http-") {
            return Ok(Outcome::Http(code(status)?));
        }
        if let Some(close) = text.strip_prefix("closed-") {
            return Ok(Outcome::Closed(code(close)?));
        }
        if let Some(status) = text.strip_prefix("proxy-") {
            return Ok(Outcome::Proxy(code(status)?));
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

impl<'de> serde::Deserialize<'de> for Outcome {
    /// Reads the words back from a saved report (`merge`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
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
        assert!(Outcome::AppRefused.is_refusal() && Outcome::AppRefused.to_string() == "app-refused");
        assert!(!Outcome::Proxy(407).is_refusal(), "the proxy's refusal is not the server's");
        assert_eq!(Outcome::Proxy(407).to_string(), "proxy-407");
        for o in [
            Outcome::Accepted,
            Outcome::Http(409),
            Outcome::Closed(4001),
            Outcome::Failed(FailureKind::Eof),
            Outcome::AppRefused,
            Outcome::Proxy(407),
            Outcome::Failed(FailureKind::Proxy),
        ] {
            assert_eq!(o.to_string().parse::<Outcome>(), Ok(o));
        }
        assert!("http-x".parse::<Outcome>().is_err() && "nonsense".parse::<Outcome>().is_err());
    }
}
