//! `connect`'s view of the application layer: the handshake as its own
//! step ("app ready": what was sent, what came back, the announced
//! intervals), an application refusal after a successful upgrade, and the
//! heartbeats the layer answered while `connect` listened, merged into
//! the conversation.

use std::time::Instant;

use serde::Serialize;

use super::{ConnectDetails, Step, Traffic};
use crate::net::app::{Announced, AppReady, AppRefusal, AppSpec, ClientWs, Line, Protocol};
use crate::net::attempt::{Failure, Phase, Rejection, Timings};
use crate::report::{Finding, Observation};
use crate::units::millis;

/// The phase name of the application handshake in `steps`.
pub const PHASE: &str = "app";
/// Messages the layer handled itself that `connect` shows.
pub const TRANSCRIPT: usize = 64;

/// The application handshake in `connect`'s JSON.
#[derive(Debug, Clone, Serialize)]
pub struct AppHandshake {
    /// The profile (null for the generic mechanism alone).
    pub protocol: Option<Protocol>,
    /// Time from the upgrade to ready (or to the refusal), ms.
    pub ready_ms: Option<f64>,
    /// The handshake's messages.
    pub exchange: Vec<Line>,
    /// Heartbeat settings the server announced.
    pub announced: Option<Announced>,
    /// The application's refusal, in words.
    pub refusal: Option<String>,
}

fn name(protocol: Option<Protocol>) -> &'static str {
    protocol.map(Protocol::title).unwrap_or("application")
}

fn server(protocol: Option<Protocol>) -> String {
    match protocol {
        Some(p) => format!("{} server", p.title()),
        None => "application protocol".into(),
    }
}

/// The step and the `app` field of a connection the application let in.
pub fn ready(app: &AppReady, t: &Timings, obs: &mut Observation, details: &mut ConnectDetails) {
    let sent = app.exchange.iter().filter(|l| l.direction == "out").count();
    let got = app.exchange.len() - sent;
    let announced = app.announced.map(|a| format!("; announced {}", a.describe())).unwrap_or_default();
    let detail = format!("{} handshake done: {sent} sent, {got} received{announced}", name(app.protocol));
    details.steps.push(Step { phase: PHASE.into(), ok: true, ms: t.app.map(millis), detail: detail.clone() });
    details.app = Some(AppHandshake {
        protocol: app.protocol,
        ready_ms: t.app.map(millis),
        exchange: app.exchange.clone(),
        announced: app.announced,
        refusal: None,
    });
    obs.add(Finding::new("app-ready", true, detail));
}

/// A connection the application refused after the upgrade.
pub fn refused(r: &Rejection, app: &AppRefusal, obs: &mut Observation, details: &mut ConnectDetails) {
    upgraded_step(&r.timings, details);
    details.steps.push(Step {
        phase: PHASE.into(),
        ok: false,
        ms: r.timings.app.map(millis),
        detail: app.message.clone(),
    });
    details.http_status = Some(101);
    details.response_headers = r.headers.clone();
    details.app = Some(AppHandshake {
        protocol: app.protocol,
        ready_ms: r.timings.app.map(millis),
        exchange: app.exchange.clone(),
        announced: None,
        refusal: Some(app.message.clone()),
    });
    details.close = app.close.clone();
    details.subprotocol =
        r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol")).map(|(_, v)| v.clone());
    let who = server(app.protocol);
    obs.add(Finding::new("app-ready", false, format!("the {who} refused the connection: {}", app.message)));
    obs.diagnosis.push(format!(
        "The upgrade succeeded, then the {who} refused the connection: check the credentials it expects (--auth, -H, the URL)."
    ));
}

/// The upgrade step of a connection whose application handshake failed.
pub fn failed(failure: &Failure, details: &mut ConnectDetails) -> bool {
    if failure.phase != Phase::App {
        return false;
    }
    upgraded_step(&failure.timings, details);
    details.http_status = Some(101);
    true
}

/// The `app` object of a connection whose application handshake timed
/// out (the step says why; nothing was refused).
pub fn after_failure(spec: Option<&AppSpec>, details: &mut ConnectDetails) {
    let Some(step) = details.steps.iter().find(|s| s.phase == PHASE) else { return };
    if details.app.is_none() {
        let protocol = spec.and_then(|s| s.protocol);
        details.app =
            Some(AppHandshake { protocol, ready_ms: step.ms, exchange: Vec::new(), announced: None, refusal: None });
    }
}

fn upgraded_step(t: &Timings, details: &mut ConnectDetails) {
    let detail = "HTTP/1.1 101 Switching Protocols".to_string();
    details.steps.push(Step { phase: "upgrade".into(), ok: true, ms: t.upgrade.map(millis), detail });
}

/// Adds what the layer answered or consumed while `connect` listened to
/// the conversation, in time order.
pub fn merge_transcript(ws: &mut ClientWs, start: Instant, details: &mut ConnectDetails) {
    let handled = ws.take_transcript();
    if handled.is_empty() {
        return;
    }
    for t in handled {
        let data = if t.out { format!("{} (sent by the app layer)", t.text) } else { t.text };
        let at_ms = millis(t.at.saturating_duration_since(start));
        details.messages.push(Traffic {
            at_ms,
            direction: if t.out { "out" } else { "in" },
            kind: "text",
            data,
            bytes: None,
        });
    }
    details.messages.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
}
