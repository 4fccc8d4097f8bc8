//! `wsprobe connect`: one connection, step by step, like `curl -v` for
//! WebSockets: each phase with its time, the response headers, subprotocol
//! and extensions, messages sent and received, and the close.

mod app;
mod args;
mod deflate;
mod payload;
mod route;
mod table;
mod transcript;

use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use app::AppHandshake;
pub use args::{ConnectArgs, SendArg, Sends};
pub use deflate::DeflateReport;
pub use payload::Payload;

use super::{Check, Observation};
use crate::args::ClientArgs;
use crate::event::CloseInfo;
use crate::exit::PlanError;
use crate::net::connect::{open, Attempt, Failure, FailureKind, Opened, Rejection};
use crate::net::session::{
    close_cleanly, interpret_wire, write_within, CloseReply, Read, WriteOp, Written, DONE_CODE, DONE_REASON,
};
use crate::net::tls::info::TlsInfo;
use crate::plan::ClientPlan;
use crate::report::table::Style;
use crate::report::{Details, Finding};
use crate::target::Resolved;
use crate::units::millis;
use crate::units::ClientId;

/// What `connect` does.
#[derive(Debug, Clone)]
pub struct ConnectPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Messages to send once open, in order.
    pub send: Vec<Payload>,
    /// How long to listen before closing.
    pub listen: Duration,
}

/// One phase of the connection.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// dns, tcp, tls, upgrade, close.
    pub phase: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub ms: Option<f64>,
    /// What happened.
    pub detail: String,
}

/// A message on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Traffic {
    /// Milliseconds since the connection opened.
    pub at_ms: f64,
    /// "out" or "in".
    pub direction: &'static str,
    /// text, binary, ping, pong.
    pub kind: &'static str,
    /// The text; for binary, its bytes in base64 (standard, padded; past
    /// the transcript's budget only the first 3072 bytes); for ping and
    /// pong, their size.
    pub data: String,
    /// A binary message's length in bytes (binary only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// `connect`'s JSON fields.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ConnectDetails {
    /// Each phase.
    pub steps: Vec<Step>,
    /// The upgrade's HTTP status, when the server answered.
    pub http_status: Option<u16>,
    /// Response headers (redacted).
    pub response_headers: Vec<(String, String)>,
    /// Body of a refused upgrade (first bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Retry-After of a refused upgrade.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// Negotiated subprotocol.
    pub subprotocol: Option<String>,
    /// Negotiated extensions.
    pub extensions: Option<String>,
    /// The TLS session and the server's certificate, for wss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    /// Where a redirect that was not followed points (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Redirects followed (`--follow-redirects`), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<route::Redirect>,
    /// permessage-deflate: what was offered, agreed and inflated (only
    /// when offered, with --deflate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deflate: Option<DeflateReport>,
    /// Messages sent and received: the first and last 100 when there were more.
    pub messages: Vec<Traffic>,
    /// Messages between the first and the last 100 that were not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_omitted: Option<u64>,
    /// How the connection ended: the server's close, or wsprobe's own
    /// (`by_us`) at the end of `--listen`, whose answer is in the close step.
    pub close: Option<CloseInfo>,
    /// The application handshake, with an application layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppHandshake>,
}

/// The `connect` check: one connection, step by step.
#[derive(Debug)]
pub struct Connect;

impl Check for Connect {
    const NAME: &'static str = "connect";
    const SELFTEST: &'static str = include_str!("selftest.toml");
    type Args = ConnectArgs;
    type Plan = ConnectPlan;

    fn client_args(args: &ConnectArgs) -> &ClientArgs {
        &args.client
    }

    fn plan(args: &ConnectArgs) -> Result<ConnectPlan, PlanError> {
        let send = args.send.0.iter().map(Payload::read).collect::<Result<_, _>>()?;
        Ok(ConnectPlan { client: ClientPlan::from_args(&args.client)?, send, listen: args.listen })
    }

    fn client(plan: &ConnectPlan) -> &ClientPlan {
        &plan.client
    }

    fn run<'a>(
        plan: &'a ConnectPlan,
        target: &'a Resolved,
        stop: &'a CancellationToken,
    ) -> impl Future<Output = Observation> + Send + 'a {
        run(plan, target, stop)
    }
}

impl Details for ConnectDetails {
    fn table(&self, style: Style) -> String {
        table::render(self, style)
    }
}

/// Runs `connect`.
pub async fn run(plan: &ConnectPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let mut obs = Observation::default();
    let mut details = ConnectDetails::default();
    let attempt = tokio::select! {
        a = open(&target.endpoint, ClientId::new(0)) => a,
        _ = stop.cancelled() => {
            return with_details(obs, details);
        }
    };
    match attempt {
        Attempt::Open(opened) => converse(plan, *opened, &mut obs, &mut details, stop).await,
        Attempt::Rejected(rejection) => rejected(*rejection, &mut obs, &mut details),
        Attempt::Failed(failure) => failed(*failure, &mut obs, &mut details),
    }
    app::after_failure(target.endpoint.app.as_deref(), &mut details);
    with_details(obs, details)
}

fn with_details(mut obs: Observation, details: ConnectDetails) -> Observation {
    obs.details = Some(Box::new(details));
    obs
}

fn failed(failure: Failure, obs: &mut Observation, details: &mut ConnectDetails) {
    route::steps(&failure.timings, &failure.route, None, details);
    let after_upgrade = app::failed(&failure, details);
    let phase = if after_upgrade { app::PHASE.to_string() } else { failure.phase.label().to_lowercase() };
    // The failed phase's time is on its failure line, not on a success line.
    let ms = match details.steps.last() {
        Some(last) if last.phase == phase => details.steps.pop().and_then(|s| s.ms),
        _ => None,
    };
    details.steps.push(Step { phase, ok: false, ms, detail: failure.detail.clone() });
    let server_answered = matches!(failure.kind, FailureKind::Protocol) || after_upgrade;
    if server_answered {
        obs.add(Finding::new("upgrade", false, failure.detail));
    } else {
        obs.error = Some(failure.detail);
    }
}

fn rejected(r: Rejection, obs: &mut Observation, details: &mut ConnectDetails) {
    route::steps(&r.timings, &r.route, None, details);
    if let Some(refusal) = &r.app {
        return app::refused(&r, refusal, obs, details);
    }
    let advice = crate::net::refusal::auth_advice(r.status, &r.body);
    let mut detail = format!("HTTP {} {}", r.status, r.reason);
    let location = r.redirect_to();
    if let Some(to) = &location {
        detail.push_str(&format!(" → {to}"));
    }
    if !r.body.is_empty() {
        detail.push_str(&format!(": {}", r.body));
    }
    details.steps.push(Step {
        phase: "upgrade".into(),
        ok: false,
        ms: r.timings.upgrade.map(millis),
        detail: detail.clone(),
    });
    details.http_status = Some(r.status);
    details.response_headers = r.headers;
    details.body = Some(r.body);
    details.retry_after = r.retry_after.clone();
    let retry = r.retry_after.map(|s| format!(" (Retry-After: {s})")).unwrap_or_default();
    obs.add(Finding::new("upgrade", false, format!("the server refused the upgrade: {detail}{retry}")));
    match &location {
        Some(to) => obs.diagnosis.push(route::redirect_diagnosis(r.status, to)),
        None => obs.diagnosis.push(advice.unwrap_or_else(|| explain_status(r.status).to_string())),
    }
    details.location = location;
}

/// What an HTTP status on the upgrade usually means.
pub fn explain_status(status: u16) -> &'static str {
    match status {
        400 => "400: the server did not like the upgrade request (headers, version, or path).",
        401 | 403 => crate::net::refusal::CREDENTIALS_ADVICE,
        404 => "404: nothing serves WebSockets at this path; check the URL path.",
        409 => "409: this identity is already connected and the server refuses a second connection.",
        426 => "426: the server wants a different protocol or WebSocket version.",
        429 => "429: a rate limit refused the connection; wait for Retry-After before trying again.",
        503 => "503: the server is full or unavailable (a max-clients cap or overload).",
        _ => "the server answered with HTTP instead of switching protocols.",
    }
}

async fn converse(
    plan: &ConnectPlan,
    mut opened: Opened,
    obs: &mut Observation,
    details: &mut ConnectDetails,
    stop: &CancellationToken,
) {
    route::steps(&opened.timings, &opened.route, opened.handshake.tls.as_ref(), details);
    route::expiry_warning(opened.handshake.tls.as_ref(), obs);
    let tcp = opened.ws.get_ref().tcp();
    if let (Ok(local), Ok(peer)) = (tcp.local_addr(), tcp.peer_addr()) {
        if let Some(step) = details.steps.iter_mut().find(|s| s.phase == "tcp") {
            step.detail = format!("connected {local} → {peer}");
        }
    }
    let hs = &opened.handshake;
    details.steps.push(Step {
        phase: "upgrade".into(),
        ok: true,
        ms: opened.timings.upgrade.map(millis),
        detail: hs.status_line.clone(),
    });
    details.http_status = Some(101);
    details.response_headers = hs.headers.clone();
    details.subprotocol = hs.subprotocol.clone();
    details.extensions = hs.extensions.clone();
    details.tls = hs.tls.clone();
    details.deflate = deflate::offered(&plan.client, hs.deflate);
    let upgraded = opened.timings.total.saturating_sub(opened.timings.app.unwrap_or_default());
    obs.add(Finding::new("upgrade", true, format!("upgraded in {:.1} ms", millis(upgraded))));
    if let Some(ready) = &opened.app {
        app::ready(ready, &opened.timings, obs, details);
    }
    opened.ws.keep_transcript(app::TRANSCRIPT);
    let start = opened.at;
    let ended = exchange(plan, &mut opened, start, details, stop).await;
    app::merge_transcript(&mut opened.ws, start, details);
    deflate::inflated(&opened.ws, details);
    match ended {
        Some(close) => {
            let ok = !close.abnormal && close.code != 1002 && close.code != 1007 && close.code != 1009;
            obs.add(Finding::new("close", ok, format!("the server ended the connection: {}", close.describe())));
            details.close = Some(close);
        }
        None => close_at_end(plan, &mut opened, obs, details).await,
    }
}

async fn exchange(
    plan: &ConnectPlan,
    opened: &mut Opened,
    start: Instant,
    details: &mut ConnectDetails,
    stop: &CancellationToken,
) -> Option<CloseInfo> {
    let mut transcript = transcript::Transcript::default();
    let ended = talk(plan, opened, start, &mut transcript, stop).await;
    let (messages, omitted) = transcript.finish();
    details.messages = messages;
    details.messages_omitted = (omitted > 0).then_some(omitted);
    ended
}

async fn talk(
    plan: &ConnectPlan,
    opened: &mut Opened,
    start: Instant,
    details: &mut transcript::Transcript,
    stop: &CancellationToken,
) -> Option<CloseInfo> {
    for payload in &plan.send {
        let msg = payload.message();
        details.push(payload::traffic("out", &msg, start));
        let limit = plan.client.write_timeout;
        match write_within(&mut opened.ws, WriteOp::Send(msg), limit, stop).await {
            Written::Done => {}
            Written::Stopped => return None,
            Written::Ended(close) => return Some(close),
        }
    }
    let deadline = tokio::time::sleep(plan.listen);
    tokio::pin!(deadline);
    loop {
        let item = tokio::select! {
            _ = &mut deadline => return None,
            _ = stop.cancelled() => return None,
            item = opened.ws.next() => item,
        };
        match interpret_wire(&opened.ws, item) {
            Read::Frame(msg) => details.push(payload::traffic("in", &msg, start)),
            Read::Ended(close) => {
                crate::net::session::conclude(&mut opened.ws, &close, plan.client.close_timeout).await;
                return Some(close);
            }
        }
    }
}

async fn close_at_end(plan: &ConnectPlan, opened: &mut Opened, obs: &mut Observation, details: &mut ConnectDetails) {
    let t = Instant::now();
    let reply = close_cleanly(&mut opened.ws, DONE_CODE, DONE_REASON, plan.client.close_timeout).await;
    let ms = Some(millis(t.elapsed()));
    let (ok, detail) = match reply {
        CloseReply::Answered(code) => (true, format!("sent 1000, the server answered {code}")),
        CloseReply::NoReply(why) => (false, format!("sent 1000, the server ended TCP without a close frame ({why})")),
        CloseReply::TimedOut => {
            (false, format!("sent 1000, no answer within {}", crate::units::format_duration(plan.client.close_timeout)))
        }
    };
    details.steps.push(Step { phase: "close".into(), ok, ms, detail: detail.clone() });
    details.close = Some(CloseInfo::ours(DONE_CODE, DONE_REASON));
    obs.add(Finding::new("close", ok, detail));
}
