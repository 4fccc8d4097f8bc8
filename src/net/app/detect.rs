//! Noticing an application protocol nobody named. Without `--protocol`,
//! each connection glances at its first few messages and at its close: an
//! Engine.IO open packet, an ActionCable welcome, SignalR's record
//! separator, a Phoenix reply, graphql-ws's init-timeout close. What it
//! sees is shared by the run's connections ([`Detections`]) and becomes a
//! diagnosis line that names the protocol and the option; the behaviour
//! never switches by itself, and the verdict follows what happened.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::{socketio, Protocol};
use crate::units::format_duration;

/// Text messages a connection inspects before it stops looking.
const LOOK_AT: u8 = 4;

/// What the connections of a run noticed.
#[derive(Debug, Default)]
pub struct Detections {
    seen: AtomicU32,
    ping_interval_ms: AtomicU64,
    ping_timeout_ms: AtomicU64,
    close_code: AtomicU32,
}

const SOCKETIO: u32 = 1;
const ACTIONCABLE: u32 = 1 << 1;
const SIGNALR: u32 = 1 << 2;
const PHOENIX: u32 = 1 << 3;
const GRAPHQL_CLOSE: u32 = 1 << 4;

impl Detections {
    fn mark(&self, bit: u32) {
        self.seen.fetch_or(bit, Ordering::Relaxed);
    }

    fn has(&self, bit: u32) -> bool {
        self.seen.load(Ordering::Relaxed) & bit != 0
    }

    /// Looks at one inbound text message.
    pub fn text(&self, text: &str) {
        if text.starts_with("0{") && text.contains("\"sid\"") {
            if let Some(a) = socketio::announced(text) {
                let ms = |s: Option<f64>| s.map_or(0, |s| (s * 1000.0) as u64);
                self.ping_interval_ms.store(ms(a.ping_interval_s), Ordering::Relaxed);
                self.ping_timeout_ms.store(ms(a.ping_timeout_s), Ordering::Relaxed);
            }
            self.mark(SOCKETIO);
        } else if text.contains("\"type\":\"welcome\"") || text.starts_with("{\"type\":\"ping\",\"message\":") {
            self.mark(ACTIONCABLE);
        } else if text.ends_with('\u{1e}') {
            self.mark(SIGNALR);
        } else if text.starts_with('[') && (text.contains("\"phx_reply\"") || text.contains("\"phx_error\"")) {
            self.mark(PHOENIX);
        }
    }

    /// Looks at a close code (graphql-ws's 4406 and 4408).
    pub fn close(&self, code: u16) {
        if code == 4406 || code == 4408 {
            self.close_code.store(u32::from(code), Ordering::Relaxed);
            self.mark(GRAPHQL_CLOSE);
        }
    }

    /// The protocols noticed.
    pub fn protocols(&self) -> Vec<Protocol> {
        let mut out = Vec::new();
        for (bit, p) in [
            (SOCKETIO, Protocol::Socketio),
            (GRAPHQL_CLOSE, Protocol::GraphqlWs),
            (ACTIONCABLE, Protocol::Actioncable),
            (PHOENIX, Protocol::Phoenix),
            (SIGNALR, Protocol::Signalr),
        ] {
            if self.has(bit) {
                out.push(p);
            }
        }
        out
    }

    /// True for a line of [`Detections::lines`] (a hint about a protocol
    /// noticed), so `merge` can keep the shards' hints: they come from the
    /// transport, not from the details the merge judges again.
    pub fn is_hint(line: &str) -> bool {
        line.starts_with("This server speaks ") || line.starts_with("This looks like a GraphQL over WebSocket server")
    }

    /// One diagnosis line per protocol noticed.
    pub fn lines(&self) -> Vec<String> {
        self.protocols().into_iter().map(|p| self.line(p)).collect()
    }

    fn line(&self, p: Protocol) -> String {
        let opt = format!("run with --protocol {}", p.flag());
        match p {
            Protocol::Socketio => {
                let ms = |a: &AtomicU64| std::time::Duration::from_millis(a.load(Ordering::Relaxed));
                let (i, t) = (ms(&self.ping_interval_ms), ms(&self.ping_timeout_ms));
                format!(
                    "This server speaks Socket.IO: it opened with an Engine.IO open packet (0{{...}}, pingInterval {}, pingTimeout {}). A client that does not answer its `2` pings with `3` is dropped about {} after connecting (pingInterval + pingTimeout), whatever close code the stack then sends: {opt} to hold the session as a Socket.IO client does.",
                    format_duration(i),
                    format_duration(t),
                    format_duration(i + t)
                )
            }
            Protocol::GraphqlWs => {
                let code = self.close_code.load(Ordering::Relaxed);
                let why = if code == 4406 {
                    "4406 (Subprotocol not acceptable): graphql-ws wants the graphql-transport-ws subprotocol"
                } else {
                    "4408 (Connection initialisation timeout): graphql-ws closes a connection that sends no connection_init in time (3 s by default)"
                };
                format!("This looks like a GraphQL over WebSocket server: it closed with {why}; {opt} (with --auth JSON for the connection_init payload).")
            }
            Protocol::Actioncable => format!("This server speaks ActionCable (it sent a welcome or a ping message): {opt} to wait for the welcome, subscribe with --init and watch its 3 s pings."),
            Protocol::Phoenix => format!("This server speaks Phoenix channels (it sent phx_reply/phx_error arrays): {opt}, which sends the 30 s heartbeat Phoenix needs."),
            Protocol::Signalr => format!("This server speaks SignalR (its messages end with the 0x1E record separator): {opt} for the hub handshake and the type 6 pings."),
        }
    }
}

/// One connection's glance at its first messages.
#[derive(Debug)]
pub struct Sniffer {
    into: Arc<Detections>,
    left: u8,
}

impl Sniffer {
    /// Starts looking.
    pub fn new(into: Arc<Detections>) -> Sniffer {
        Sniffer { into, left: LOOK_AT }
    }

    /// Looks at one item; true once it has seen enough.
    pub fn see(&mut self, item: &Option<Result<Message, WsError>>) -> bool {
        match item {
            Some(Ok(Message::Text(text))) => {
                self.into.text(text.as_str());
                self.left = self.left.saturating_sub(1);
                self.left == 0
            }
            Some(Ok(Message::Close(frame))) => {
                if let Some(f) = frame {
                    self.into.close(u16::from(f.code));
                }
                true
            }
            Some(Ok(_)) => false,
            Some(Err(_)) | None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_is_noticed_and_named_with_its_option() {
        let d = Detections::default();
        assert!(d.lines().is_empty());
        d.text(r#"0{"sid":"a","upgrades":[],"pingInterval":1000,"pingTimeout":1000,"maxPayload":1000000}"#);
        d.close(4408);
        d.text(r#"{"type":"welcome"}"#);
        d.text("{\"type\":6}\u{1e}");
        d.text(r#"[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]"#);
        let lines = d.lines();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].contains("Socket.IO") && lines[0].contains("--protocol socketio") && lines[0].contains("2s"));
        assert!(lines[1].contains("4408") && lines[1].contains("--protocol graphql-ws"));
        assert!(lines[2].contains("--protocol actioncable") && lines[4].contains("--protocol signalr"));
    }

    #[test]
    fn ordinary_traffic_is_not_a_protocol() {
        let d = Detections::default();
        for t in ["hello", "2", "{\"type\":\"pong\"}", "0", "[1,2]"] {
            d.text(t);
        }
        d.close(1000);
        d.close(4001);
        assert!(d.protocols().is_empty());
    }
}
