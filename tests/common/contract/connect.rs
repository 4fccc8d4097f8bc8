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
        pub messages: Vec<Traffic>,
        #[serde(default, deserialize_with = "omittable")]
        pub messages_omitted: Option<u64>,
        #[serde(deserialize_with = "nullable")]
        pub close: Option<CloseInfo>,
    }
}

impl Contract for ConnectReport {
    const OMITTABLE: &'static [&'static str] = &["body", "retry_after", "tls", "messages_omitted", "close.detail"];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepPhase {
    Dns,
    Tcp,
    Tls,
    Upgrade,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    pub at_ms: f64,
    pub direction: Direction,
    pub kind: TrafficKind,
    pub data: String,
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
