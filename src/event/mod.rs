//! What client tasks report: [`Event`]s sent over a channel to one collector,
//! and the [`CloseInfo`] that describes how a connection ended.
//!
//! Clients never compute statistics or print; they say what happened and
//! when. Closes wsprobe starts itself carry `by_us` so they are never
//! counted as the server's drops.

mod app;
mod outcome;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use app::{Announced, AppEvent};
pub use outcome::{FailureKind, Outcome, Phase, PhaseTimes};

/// How the stream of a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndHow {
    /// A close frame arrived (a clean close).
    CloseFrame,
    /// TCP ended (FIN) without a close frame.
    Eof,
    /// TCP was reset without a close frame.
    Reset,
    /// The server broke the protocol; wsprobe failed the connection.
    ProtocolError,
    /// The server stopped reading: a write made no progress within the
    /// write timeout, and wsprobe dropped TCP (no close frame could go out).
    Stalled,
    /// wsprobe closed it (end of run, disruption, Ctrl-C).
    Ours,
}

impl EndHow {
    /// How tables show it.
    pub fn label(self) -> &'static str {
        match self {
            EndHow::CloseFrame => "close frame",
            EndHow::Eof => "EOF, no close frame",
            EndHow::Reset => "reset, no close frame",
            EndHow::ProtocolError => "protocol error",
            EndHow::Stalled => "stalled: the server stopped reading",
            EndHow::Ours => "closed by wsprobe",
        }
    }
}

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloseInfo {
    /// The close code: from the server's close frame, 1005 when the frame had
    /// none, 1006 when no frame came (never on the wire), or the code wsprobe
    /// sent when the server broke the protocol (1002, 1007, 1009).
    pub code: u16,
    /// The reason text of the close frame.
    pub reason: String,
    /// True unless a close frame ended the connection.
    pub abnormal: bool,
    /// True when wsprobe started the close; such closes are not drops.
    pub by_us: bool,
    /// What exactly happened on the wire.
    pub how: EndHow,
    /// The error text, for protocol errors and resets.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl CloseInfo {
    /// A close frame from the server.
    pub fn frame(code: u16, reason: impl Into<String>) -> Self {
        CloseInfo {
            code,
            reason: reason.into(),
            abnormal: false,
            by_us: false,
            how: EndHow::CloseFrame,
            detail: String::new(),
        }
    }

    /// The stream ended without a close frame: 1006.
    pub fn abnormal(how: EndHow, detail: impl Into<String>) -> Self {
        CloseInfo { code: 1006, reason: String::new(), abnormal: true, by_us: false, how, detail: detail.into() }
    }

    /// wsprobe failed the connection because the server broke the protocol.
    pub fn protocol(code: u16, detail: impl Into<String>) -> Self {
        CloseInfo {
            code,
            reason: String::new(),
            abnormal: true,
            by_us: false,
            how: EndHow::ProtocolError,
            detail: detail.into(),
        }
    }

    /// The server stopped reading: `unsent` bytes were still waiting for
    /// it after `waited`. A failure of the server's, not a close of ours.
    pub fn stalled(unsent: usize, waited: Duration) -> Self {
        CloseInfo {
            code: 1006,
            reason: String::new(),
            abnormal: true,
            by_us: false,
            how: EndHow::Stalled,
            detail: format!(
                "the server stopped reading: {unsent} bytes unsent after {}",
                crate::units::format_duration(waited)
            ),
        }
    }

    /// wsprobe closed the connection itself.
    pub fn ours(code: u16, reason: impl Into<String>) -> Self {
        CloseInfo {
            code,
            reason: reason.into(),
            abnormal: false,
            by_us: true,
            how: EndHow::Ours,
            detail: String::new(),
        }
    }

    /// True when this is the server dropping or closing the connection.
    pub fn is_drop(&self) -> bool {
        !self.by_us
    }

    /// A short description: `4001 "token expired"`, `1006 (EOF without a close frame)`.
    pub fn describe(&self) -> String {
        match self.how {
            EndHow::CloseFrame if self.reason.is_empty() => {
                format!("{} ({})", self.code, code_name(self.code))
            }
            EndHow::CloseFrame => format!("{} \"{}\"", self.code, self.reason),
            EndHow::Eof => "1006 (TCP closed without a close frame)".into(),
            EndHow::Reset => "1006 (TCP reset without a close frame)".into(),
            EndHow::ProtocolError => format!("{} (wsprobe failed the connection: {})", self.code, self.detail),
            EndHow::Stalled => format!("1006 ({}; wsprobe dropped TCP)", self.detail),
            EndHow::Ours => format!("{} by wsprobe", self.code),
        }
    }
}

/// The RFC 6455 name of a close code, or its range.
pub fn code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status code",
        1006 => "abnormal closure",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered code",
        4000..=4999 => "application code",
        _ => "unknown code",
    }
}

impl EventKind {
    /// A connection's end, timed against its open and its last traffic in
    /// each direction, as of now.
    pub fn closed(
        close: CloseInfo,
        opened: Instant,
        last_in: Instant,
        last_out: Instant,
        pongs_withheld: u64,
    ) -> EventKind {
        let now = Instant::now();
        EventKind::Closed {
            close,
            after: now.duration_since(opened),
            idle_in: now.duration_since(last_in),
            idle_out: now.duration_since(last_out),
            pongs_withheld,
        }
    }
}

/// Events of one kind closer together than this on one connection are
/// counted, not sent one by one: a server that floods pings or messages
/// must not outrun the collector and grow its channel without bound.
pub const FLOOD_GAP: Duration = Duration::from_millis(1);

/// Coalesces a flood of one kind of event on one connection.
#[derive(Debug, Default, Clone, Copy)]
pub struct Flood {
    last: Option<Instant>,
    held: u32,
}

impl Flood {
    /// `Some(held)` when an event at `now` is to be sent (with the count of
    /// those held back since the last one), `None` when it is held back.
    pub fn admit(&mut self, now: Instant) -> Option<u32> {
        if self.last.is_some_and(|t| now.saturating_duration_since(t) < FLOOD_GAP) {
            self.held = self.held.saturating_add(1);
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }

    /// The events held back and not sent yet (at the end of a connection).
    pub fn take(&mut self) -> u32 {
        std::mem::take(&mut self.held)
    }

    /// When the last event was sent: the held ones came within
    /// [`FLOOD_GAP`] of it, so a late count can carry this time.
    pub fn last(&self) -> Option<Instant> {
        self.last
    }
}

/// One thing that happened to one client, at one instant.
#[derive(Debug, Clone)]
pub struct Event {
    /// Client index.
    pub client: u32,
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone)]
pub enum EventKind {
    /// A connection attempt finished.
    Attempt {
        /// 0 for the first wave, 1 for reconnects.
        wave: u8,
        /// `accepted`, `http-429`, `refused`...
        outcome: Outcome,
        /// Each phase's time (only phases that completed) and the phase a
        /// timeout cut short.
        phases: PhaseTimes,
        /// Whole attempt.
        total: Duration,
    },
    /// The server sent a ping frame.
    ServerPing,
    /// The server sent this many more ping frames, each within
    /// [`FLOOD_GAP`] of the one before: counted, not timed one by one.
    ServerPings(u32),
    /// A pong answered one of our pings after this round trip.
    Pong(Duration),
    /// Messages sent and received since the last such event, with the
    /// round trips (µs, from each message's intended send time) they
    /// completed; batched per client.
    Traffic {
        /// Messages sent.
        sent: u32,
        /// Messages received.
        received: u32,
        /// Round-trip samples in µs.
        round_trips: Vec<u32>,
    },
    /// The connection ended.
    Closed {
        /// How.
        close: CloseInfo,
        /// Seconds since the connection opened.
        after: Duration,
        /// Time since the last inbound frame.
        idle_in: Duration,
        /// Time since the last outbound frame.
        idle_out: Duration,
        /// Pongs wsprobe withheld on this connection (`--no-pong`).
        pongs_withheld: u64,
    },
    /// When a batch of messages was sent and its last echo received, so
    /// rates come from the wire's times, not from when batches reached
    /// the collector.
    MessageSpan {
        /// Intended send time of the batch's first message.
        first_sent: Instant,
        /// Arrival of the batch's last echo.
        last_received: Instant,
    },
    /// The client stopped trying in this wave (0 first, 1 reconnect).
    GaveUp {
        /// The wave it gave up in.
        wave: u8,
    },
    /// The application layer of the connection did or saw something.
    App(AppEvent),
}

#[cfg(test)]
mod flood_tests {
    use super::*;

    #[test]
    fn a_flood_is_counted_and_spaced_events_pass() {
        let mut f = Flood::default();
        let t0 = Instant::now();
        assert_eq!(f.admit(t0), Some(0));
        for _ in 0..1_000_000 {
            assert_eq!(f.admit(t0), None);
        }
        assert_eq!(f.admit(t0 + FLOOD_GAP), Some(1_000_000), "the next spaced one carries the count");
        assert_eq!(f.admit(t0 + FLOOD_GAP), None);
        assert_eq!(f.take(), 1);
    }
}
