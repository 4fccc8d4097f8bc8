//! Messages between connections of one worker: `{"type":"send","to":ID,
//! "data":X}` reaches the connections of identity ID as
//! `{"type":"message","from":<identity|null>,"data":X}` and the sender gets
//! a `{"type":"sent",...}` ack; `{"type":"broadcast","data":X}` reaches every
//! open connection of the worker (the sender included) as
//! `{"type":"broadcast","from":<identity|null>,"data":X}`, with no ack.
//!
//! `X` is spliced in as the sender wrote it (a raw JSON value, never
//! re-serialized), so a nonce inside it arrives byte for byte. The text is
//! built once and shared by every recipient; the registry lock is held only
//! to copy the audience's mailbox handles, and pushes happen after it. The
//! faults live here: `cross-talk` sends a `send` to everyone,
//! `duplicate-delivery` queues every delivery twice.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::config::Fault;
use super::mailbox::Mailbox;
use super::registry::Ticket;
use super::workers::Worker;
use super::Shared;

/// The parts of a JSON text message the server acts on; `data` stays raw.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// `type`: ping, send, broadcast (anything else is echoed).
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    /// `to`: the addressee's identity, for `send`.
    #[serde(default)]
    pub to: Option<serde_json::Value>,
    /// `data`: the payload, exactly as written.
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    /// The envelope of a text message, when it is a JSON object.
    pub fn parse(text: &'a str) -> Option<Envelope<'a>> {
        if !text.starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// How many recipients got a delivery and how many did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Recipients that got at least one copy queued.
    pub reached: usize,
    /// Recipients that got none (over their bound, or closing).
    pub dropped: usize,
}

/// `{"type":KIND,"from":FROM,"data":DATA}` with DATA spliced in verbatim.
fn envelope(kind: &str, from: Option<&str>, data: Option<&RawValue>) -> Utf8Bytes {
    let from = from.map_or_else(|| "null".to_string(), |f| serde_json::Value::from(f).to_string());
    let data = data.map_or("null", |d| d.get());
    Utf8Bytes::from(format!(r#"{{"type":"{kind}","from":{from},"data":{data}}}"#))
}

/// Queues `text` for every target (twice with `duplicate-delivery`) and
/// counts what happened in the worker's counters.
pub fn fan_out(shared: &Shared, worker: &Worker, targets: &[Arc<Mailbox>], text: &Utf8Bytes) -> Tally {
    let copies = if shared.cfg.has_fault(Fault::DuplicateDelivery) { 2 } else { 1 };
    let mut tally = Tally::default();
    for mailbox in targets {
        let mut queued = false;
        for _ in 0..copies {
            queued |= worker.count(mailbox.deliver(text, shared.cfg.max_queue_bytes));
        }
        if queued {
            tally.reached += 1;
        } else {
            tally.dropped += 1;
        }
    }
    tally
}

/// Routes a `send` and returns the ack (or the error) for the sender.
pub fn send(shared: &Shared, from: &Ticket, request: &Envelope<'_>) -> String {
    let Some(to) = request.to.as_ref().and_then(|t| t.as_str()) else {
        return serde_json::json!({"type": "error", "error": "send needs a \"to\" identity"}).to_string();
    };
    let worker = shared.worker(from.worker);
    let targets =
        if shared.cfg.has_fault(Fault::CrossTalk) { worker.registry().everyone() } else { worker.registry().route(to) };
    if targets.is_empty() {
        return serde_json::json!({"type": "error", "error": format!("'{to}' is not connected")}).to_string();
    }
    let message = envelope("message", from.identity.as_deref(), request.data);
    let tally = fan_out(shared, worker, &targets, &message);
    let mut ack = serde_json::json!({"type": "sent", "to": to, "delivered": tally.reached});
    if tally.dropped > 0 {
        ack["dropped"] = tally.dropped.into();
    }
    ack.to_string()
}

/// Delivers a `broadcast` to every open connection of the sender's worker.
pub fn broadcast(shared: &Shared, from: &Ticket, request: &Envelope<'_>) -> Tally {
    let worker = shared.worker(from.worker);
    let audience = worker.registry().everyone();
    let message = envelope("broadcast", from.identity.as_deref(), request.data);
    fan_out(shared, worker, &audience, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_spliced_in_verbatim() {
        let text = r#"{"type":"broadcast","data":"caf\u00e9 n-42\/x","extra":1}"#;
        let env = Envelope::parse(text).unwrap();
        assert_eq!(env.kind.as_deref(), Some("broadcast"));
        let out = envelope("broadcast", Some("dev-\"1"), env.data);
        assert_eq!(out.as_str(), r#"{"type":"broadcast","from":"dev-\"1","data":"caf\u00e9 n-42\/x"}"#);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["data"], "café n-42/x");
    }

    #[test]
    fn missing_data_is_null_and_non_objects_are_not_envelopes() {
        let env = Envelope::parse(r#"{"type":"broadcast"}"#).unwrap();
        assert_eq!(envelope("broadcast", None, env.data).as_str(), r#"{"type":"broadcast","from":null,"data":null}"#);
        let env = Envelope::parse(r#"{"type":"broadcast","data":{"n": [1, 2.50]}}"#).unwrap();
        assert!(envelope("broadcast", None, env.data).ends_with(r#""data":{"n": [1, 2.50]}}"#));
        assert!(Envelope::parse("hello").is_none());
        assert!(Envelope::parse("{not json").is_none());
        assert!(Envelope::parse(r#"{"type":7}"#).is_none(), "echoed, as before");
    }
}
