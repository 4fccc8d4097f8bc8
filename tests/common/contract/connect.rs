//! `connect`: phases, headers, messages, the close.

use serde::Deserialize;

use super::{nullable, omittable, Common, Contract, Finding, Verdict};

report! {
    /// `connect`.
    pub struct ConnectReport {
        pub steps: Vec<Step>,
        #[serde(deserialize_with = "nullable")]
        pub http_status: Option<u16>,
        /// (name, value) pairs, secrets redacted.
        pub response_headers: Vec<(String, String)>,
        #[serde(default, deserialize_with = "omittable")]
        pub body: Option<String>,
        #[serde(default, deserialize_with = "omittable")]
        pub retry_after: Option<String>,
        #[serde(deserialize_with = "nullable")]
        pub subprotocol: Option<String>,
        #[serde(deserialize_with = "nullable")]
        pub extensions: Option<String>,
        #[serde(default, deserialize_with = "omittable")]
        pub tls: Option<String>,
        /// Only when permessage-deflate was offered (--deflate).
        #[serde(default, deserialize_with = "omittable")]
        pub deflate: Option<Deflate>,
        pub messages: Vec<Traffic>,
        #[serde(default, deserialize_with = "omittable")]
        pub messages_omitted: Option<u64>,
        #[serde(deserialize_with = "nullable")]
        pub close: Option<CloseInfo>,
        /// Only with an application layer (--protocol, --init, --ready, --reply).
        #[serde(default, deserialize_with = "omittable")]
        pub app: Option<AppHandshake>,
    }
}

impl Contract for ConnectReport {
    const OMITTABLE: &'static [&'static str] =
        &["body", "retry_after", "tls", "deflate", "messages_omitted", "messages[].bytes", "close.detail", "app"];
    fn rules(&self) -> Result<(), String> {
        let app_step = self.steps.iter().any(|s| s.phase == StepPhase::App);
        if app_step != self.app.is_some() {
            return Err(format!("an `app` step is there exactly with `app`: step {app_step}, app {:?}", self.app));
        }
        for m in &self.messages {
            if (m.kind == TrafficKind::Binary) != m.bytes.is_some() {
                return Err(format!("`bytes` is there exactly for binary messages: {m:?}"));
            }
            if m.kind == TrafficKind::Binary {
                use base64::Engine as _;
                let decoded = base64::engine::general_purpose::STANDARD.decode(&m.data);
                let ok = decoded.as_ref().is_ok_and(|d| d.len() as u64 == m.bytes.unwrap_or(0) || d.len() == 3072);
                if !ok {
                    return Err(format!("a binary message's data is the base64 of its `bytes` bytes: {m:?}"));
                }
            }
        }
        if let Some(d) = &self.deflate {
            if d.negotiated.is_none() && d.inflated.messages > 0 {
                return Err(format!("nothing is inflated when deflate was declined: {d:?}"));
            }
        }
        Ok(())
    }
}

/// An application protocol by name (`--protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Socketio,
    GraphqlWs,
    Actioncable,
    Phoenix,
    Signalr,
}

/// Heartbeat settings a server announced.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announced {
    #[serde(deserialize_with = "nullable")]
    pub ping_interval_s: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub ping_timeout_s: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub max_payload: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppLine {
    pub at_ms: f64,
    pub direction: Direction,
    pub text: String,
}

/// `connect`'s application handshake.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppHandshake {
    #[serde(deserialize_with = "nullable")]
    pub protocol: Option<Protocol>,
    #[serde(deserialize_with = "nullable")]
    pub ready_ms: Option<f64>,
    pub exchange: Vec<AppLine>,
    #[serde(deserialize_with = "nullable")]
    pub announced: Option<Announced>,
    #[serde(deserialize_with = "nullable")]
    pub refusal: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    Dns,
    Tcp,
    Tls,
    Upgrade,
    App,
    Close,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub phase: StepPhase,
    pub ok: bool,
    #[serde(deserialize_with = "nullable")]
    pub ms: Option<f64>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrafficKind {
    Text,
    Binary,
    Ping,
    Pong,
    Frame,
}

/// A message on the wire: text as it is; binary as base64, with its length.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub at_ms: f64,
    pub direction: Direction,
    pub kind: TrafficKind,
    pub data: String,
    /// Binary messages only.
    #[serde(default, deserialize_with = "omittable")]
    pub bytes: Option<u64>,
}

/// permessage-deflate's parameters as agreed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    #[serde(deserialize_with = "nullable")]
    pub server_max_window_bits: Option<u8>,
    #[serde(deserialize_with = "nullable")]
    pub client_max_window_bits: Option<u8>,
}

/// What a connection inflated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inflated {
    pub messages: u64,
    pub compressed_bytes: u64,
    pub inflated_bytes: u64,
}

/// permessage-deflate: offered, agreed (null: declined), inflated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deflate {
    pub offered: String,
    #[serde(deserialize_with = "nullable")]
    pub negotiated: Option<DeflateParams>,
    pub inflated: Inflated,
}

/// How a stream ended on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndHow {
    CloseFrame,
    Eof,
    Reset,
    ProtocolError,
    Stalled,
    Ours,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseInfo {
    pub code: u16,
    pub reason: String,
    pub abnormal: bool,
    pub by_us: bool,
    pub how: EndHow,
    #[serde(default, deserialize_with = "omittable")]
    pub detail: Option<String>,
}
