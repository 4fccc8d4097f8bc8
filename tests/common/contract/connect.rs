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
        /// wss only.
        #[serde(default, deserialize_with = "omittable")]
        pub tls: Option<Tls>,
        /// Only for a redirect that was not followed.
        #[serde(default, deserialize_with = "omittable")]
        pub location: Option<String>,
        /// Only with redirects followed (--follow-redirects).
        #[serde(default, deserialize_with = "omittable")]
        pub redirects: Option<Vec<Redirect>>,
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
    const OMITTABLE: &'static [&'static str] = &[
        "body",
        "retry_after",
        "tls",
        "location",
        "redirects",
        "deflate",
        "messages_omitted",
        "messages[].bytes",
        "close.detail",
        "app",
    ];
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
        let hops = self.steps.iter().filter(|s| s.phase == StepPhase::Redirect).count();
        if hops != self.redirects.as_ref().map_or(0, Vec::len) {
            return Err(format!("one `redirect` step per entry of `redirects`: {hops} steps, {:?}", self.redirects));
        }
        if self.redirects.as_ref().is_some_and(Vec::is_empty) {
            return Err("`redirects` is left out when empty".into());
        }
        if let Some(tls) = &self.tls {
            let tls_step = self.steps.iter().any(|s| s.phase == StepPhase::Tls && s.ok);
            if !tls_step || !tls.version.starts_with("TLS 1.") || tls.cipher_suite.is_empty() {
                return Err(format!("`tls` comes with a tls step, a TLS 1.x version and a cipher suite: {tls:?}"));
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

/// The TLS session of a wss connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    pub cipher_suite: String,
    #[serde(deserialize_with = "nullable")]
    pub alpn: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub certificate: Option<Certificate>,
}

/// The server's certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    /// RFC 3339 UTC.
    pub not_before: String,
    pub not_after: String,
    pub expires_in_days: f64,
}

/// A redirect followed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    pub from: String,
    pub status: u16,
    pub to: String,
    pub ms: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    Redirect,
    Dns,
    Tcp,
    Proxy,
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
