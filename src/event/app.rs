//! What the application layer of a connection reports while it lives:
//! its handshake's time, heartbeats answered, withheld or sent, answers to
//! ours, a server that stopped pinging. Checks that care (stability) ask
//! a connection to report these; the others never see them.

use std::time::Duration;

use serde::Serialize;

/// One thing the application layer did or saw.
#[derive(Debug, Clone)]
pub enum AppEvent {
    /// The application handshake finished ("app ready") in this time.
    Ready {
        /// Time from the upgrade to ready.
        took: Duration,
        /// Heartbeat settings the server announced.
        announced: Option<Announced>,
    },
    /// A server heartbeat arrived (answered or not).
    ServerBeat,
    /// A heartbeat was answered.
    Replied,
    /// An answer was withheld (`--no-pong`).
    Withheld,
    /// Our own heartbeat went out.
    BeatSent,
    /// The server answered our heartbeat after this round trip.
    BeatAck(Duration),
    /// No server heartbeat for this long (ActionCable's stale rule).
    Stale(Duration),
    /// An answer was dropped because the send queue was full.
    Dropped,
    /// The application refused the connection after the upgrade, saying this.
    Refused(String),
    /// The protocol's explanation of the connection's drop (sent just
    /// before its `Closed` event).
    Explained(String),
}

/// Heartbeat settings a server announced in its handshake (Socket.IO's
/// open packet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Announced {
    /// How often the server pings, in seconds.
    pub ping_interval_s: Option<f64>,
    /// How long the server waits for the answer, in seconds.
    pub ping_timeout_s: Option<f64>,
    /// Largest message the server accepts, in bytes.
    pub max_payload: Option<u64>,
}

impl Announced {
    /// The ping interval as a duration.
    pub fn ping_interval(&self) -> Option<Duration> {
        self.ping_interval_s.map(Duration::from_secs_f64)
    }

    /// The ping timeout as a duration.
    pub fn ping_timeout(&self) -> Option<Duration> {
        self.ping_timeout_s.map(Duration::from_secs_f64)
    }

    /// `pingInterval 1 s, pingTimeout 1 s, maxPayload 1000000`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = self.ping_interval() {
            parts.push(format!("pingInterval {}", crate::units::format_duration(i)));
        }
        if let Some(t) = self.ping_timeout() {
            parts.push(format!("pingTimeout {}", crate::units::format_duration(t)));
        }
        if let Some(m) = self.max_payload {
            parts.push(format!("maxPayload {m}"));
        }
        parts.join(", ")
    }
}
