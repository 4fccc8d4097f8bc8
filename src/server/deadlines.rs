//! How the reference server's heartbeat deadlines behave, so it can stand
//! in for the stacks people run: what a missed pong deadline sends
//! ([`DeadlineClose`]: nothing, as a Go read deadline; an empty close frame,
//! as gorilla's chat example; or a code and reason, as Python `websockets`'
//! 1011 "keepalive ping timeout"), and what resets the idle timeout
//! ([`IdleReset`]: any frame, or only data messages, as a Go server that
//! sets its read deadline per message and has no pong handler).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// What the server sends when a pong deadline passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DeadlineClose {
    /// End TCP without a close frame (the client sees 1006).
    #[default]
    Abrupt,
    /// A close frame without a status code (the client sees 1005).
    Empty,
    /// A close frame with this code and reason.
    Code(u16, String),
}

impl FromStr for DeadlineClose {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "invalid close '{text}': write abrupt, empty, or CODE[:REASON] with a code a server may send (1000, 1001, 1008, 1011, 3000-4999), such as '1011:keepalive ping timeout'"
            )
        };
        match text {
            "abrupt" => return Ok(DeadlineClose::Abrupt),
            "empty" => return Ok(DeadlineClose::Empty),
            _ => {}
        }
        let (code, reason) = text.split_once(':').unwrap_or((text, ""));
        let code: u16 = code.trim().parse().map_err(|_| invalid())?;
        let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        if !sendable || reason.len() > 123 {
            return Err(invalid());
        }
        Ok(DeadlineClose::Code(code, reason.to_string()))
    }
}

impl fmt::Display for DeadlineClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineClose::Abrupt => f.write_str("abrupt"),
            DeadlineClose::Empty => f.write_str("empty"),
            DeadlineClose::Code(code, reason) if reason.is_empty() => write!(f, "{code}"),
            DeadlineClose::Code(code, reason) => write!(f, "{code}:{reason}"),
        }
    }
}

impl<'de> Deserialize<'de> for DeadlineClose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What resets the idle timeout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleReset {
    /// Every inbound frame, pongs included.
    #[default]
    Any,
    /// Only text and binary messages: answered pings do not keep a silent
    /// connection open.
    Data,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_closes_parse_and_print_back() {
        for text in ["abrupt", "empty", "1011:keepalive ping timeout", "1000", "4000:gone"] {
            assert_eq!(text.parse::<DeadlineClose>().unwrap().to_string(), text);
        }
        for bad in ["1005", "1006", "99", "x", "5000:no"] {
            assert!(bad.parse::<DeadlineClose>().unwrap_err().contains("CODE[:REASON]"), "{bad}");
        }
    }
}
