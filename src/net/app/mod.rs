//! The application-protocol layer: the last layer of the transport stack,
//! above the HTTP upgrade. Most real-time apps speak a protocol on top of
//! WebSocket (Socket.IO, GraphQL over WebSocket, ActionCable, Phoenix
//! channels, SignalR) with its own handshake and heartbeat; a client that
//! does not speak it is dropped after a fixed time.
//!
//! Everything here is data over one generic mechanism ([`AppSpec`]):
//! messages to send after the upgrade, messages to wait for before the
//! connection counts as open (the timed "app ready" phase), messages that
//! mean the server refused us, and messages to answer for as long as the
//! connection lives. Each profile (one file per protocol) only fills in
//! that data, and explains drops in its own terms. The layer classifies
//! its own refusals ([`AppRefusal`]) and answers heartbeats inside
//! [`ClientWs`], so checks never special-case a protocol. Without a
//! protocol, [`Detections`] notices streams that look like one.

mod actioncable;
mod detect;
mod graphql_ws;
mod handshake;
mod phoenix;
mod signalr;
mod socketio;
mod speaker;
mod spec;
mod ws;

use serde::Serialize;

pub use detect::Detections;
pub use handshake::{ready, watch_for_protocol, AppReady, AppRefusal, Line};
pub use speaker::DropFacts;
pub use spec::{AppOptions, AppSpec, Beat, Expect, Refusal, Reply, ServerBeat, Step, UrlRule};
pub use ws::{ClientWs, ParkedWs};

/// The application protocols wsprobe speaks by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// Socket.IO 5 over Engine.IO 4.
    Socketio,
    /// GraphQL over WebSocket (graphql-transport-ws, the graphql-ws library).
    GraphqlWs,
    /// Rails ActionCable (actioncable-v1-json).
    Actioncable,
    /// Phoenix channels (serializer 2.0.0).
    Phoenix,
    /// ASP.NET Core SignalR, JSON hub protocol.
    Signalr,
}

impl Protocol {
    /// Every protocol, in help order.
    pub const ALL: [Protocol; 5] =
        [Protocol::Socketio, Protocol::GraphqlWs, Protocol::Actioncable, Protocol::Phoenix, Protocol::Signalr];

    /// The name people know it by.
    pub fn title(self) -> &'static str {
        match self {
            Protocol::Socketio => "Socket.IO",
            Protocol::GraphqlWs => "graphql-ws",
            Protocol::Actioncable => "ActionCable",
            Protocol::Phoenix => "Phoenix",
            Protocol::Signalr => "SignalR",
        }
    }

    /// The value of `--protocol`.
    pub fn flag(self) -> &'static str {
        match self {
            Protocol::Socketio => "socketio",
            Protocol::GraphqlWs => "graphql-ws",
            Protocol::Actioncable => "actioncable",
            Protocol::Phoenix => "phoenix",
            Protocol::Signalr => "signalr",
        }
    }

    /// What a close code the protocol defines means, if it defines it.
    pub fn close_name(self, code: u16) -> Option<&'static str> {
        match self {
            Protocol::GraphqlWs => graphql_ws::close_name(code),
            _ => None,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.flag())
    }
}

pub use crate::event::Announced;

/// Shortens a message for reports: at most `max` characters, control
/// characters (SignalR's 0x1E record separator) shown as `\x1e`.
pub fn shown(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
