//! What the application layer of a connection reports while it lives:
//! its handshake's time, heartbeats answered, withheld or sent, answers to
//! ours, a server that stopped pinging. Checks that care (stability) ask
//! a connection to report these; the others never see them.

use std::time::Duration;

use crate::net::app::Announced;

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
