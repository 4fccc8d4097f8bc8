//! The "app ready" phase: right after the upgrade, the layer runs the
//! spec's handshake (send, wait for a match, send...) under its own
//! deadline, `--ready-timeout`, answering heartbeats that arrive early.
//! It ends one of three ways, each classified here: ready (the connection
//! counts as open), refused by the application (a refusal message such as
//! Socket.IO's `44`, or a close such as graphql-ws's 4403: a rejection
//! with the server's message, not an accepted connection), or failed (no
//! answer in time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::spec::{Expect, Step};
use super::{shown, Announced, AppSpec, Protocol};
use crate::event::{CloseInfo, EndHow, FailureKind, Outcome};
use crate::net::attempt::{Opened, Phase, Rejection, Timings};
use crate::net::connect::StepError;
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret, Read};
use crate::net::stream::WsStream;
use crate::units::{format_duration, millis};

/// Longest wait for the server's answer to our close after an app refusal.
const REFUSAL_CLOSE_WAIT: Duration = Duration::from_millis(500);
/// Messages of the handshake kept for reports.
const MAX_LINES: usize = 32;
/// Messages received that a timeout's message quotes.
const SEEN: usize = 3;
/// Characters of each message kept.
const LINE_CHARS: usize = 300;

/// One message of the application handshake.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Milliseconds since the upgrade.
    pub at_ms: f64,
    /// `out` or `in`.
    pub direction: &'static str,
    /// The text (shortened; control characters escaped).
    pub text: String,
}

/// A connection the application let in.
#[derive(Debug, Clone)]
pub struct AppReady {
    /// The profile, when one was named.
    pub protocol: Option<Protocol>,
    /// The handshake's time.
    pub took: Duration,
    /// The handshake's messages (when headers are captured).
    pub exchange: Vec<Line>,
    /// Heartbeat settings the server announced.
    pub announced: Option<Announced>,
}

/// The application refused the connection after the upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct AppRefusal {
    /// The profile, when one was named.
    pub protocol: Option<Protocol>,
    /// The server's message, in words.
    pub message: String,
    /// The close, when the server refused by closing.
    pub close: Option<CloseInfo>,
    /// The handshake's messages.
    pub exchange: Vec<Line>,
}

impl AppRefusal {
    /// `closed-<code>` for a close, `app-refused` for a refusal message.
    pub fn outcome(&self) -> Outcome {
        match &self.close {
            Some(c) => Outcome::Closed(c.code),
            None => Outcome::AppRefused,
        }
    }
}

enum End {
    Refused(String, Option<CloseInfo>),
    Failed(FailureKind, String),
}

/// A fresh upgrade without an app layer: it only starts watching for a
/// protocol the user did not name.
pub fn watch_for_protocol(endpoint: &Endpoint, mut opened: Opened) -> Opened {
    opened.ws.sniff(&endpoint.detections);
    opened
}

/// Runs the application handshake of `spec` (the endpoint's app layer) on
/// a fresh upgrade; without one, [`watch_for_protocol`] is all there is.
/// `timings` gets the phase's time.
pub async fn ready(
    endpoint: &Endpoint,
    spec: Arc<AppSpec>,
    mut opened: Opened,
    timings: &mut Timings,
    started: Instant,
) -> Result<Result<Opened, Rejection>, StepError> {
    let deadline = tokio::time::Instant::now() + spec.ready_timeout;
    let mut talk = Talk {
        spec: &spec,
        withhold: endpoint.withhold_pongs,
        capture: endpoint.capture,
        t0: Instant::now(),
        lines: Vec::new(),
        announced: None,
        seen: Default::default(),
    };
    let result = talk.run(opened.ws.inner_mut(), deadline).await;
    timings.app = Some(talk.t0.elapsed());
    timings.total = started.elapsed();
    opened.timings = *timings;
    let Talk { lines, announced, .. } = talk;
    match result {
        Ok(()) => {
            let took = timings.app.unwrap_or_default();
            opened.ws.speak(spec.clone(), endpoint.withhold_pongs, announced);
            opened.app = Some(AppReady { protocol: spec.protocol, took, exchange: lines, announced });
            opened.at = Instant::now();
            Ok(Ok(opened))
        }
        Err(End::Refused(message, close)) => {
            if close.is_none() {
                close_cleanly(opened.ws.inner_mut(), 1000, "wsprobe: refused", REFUSAL_CLOSE_WAIT).await;
            }
            let app = AppRefusal { protocol: spec.protocol, message, close, exchange: lines };
            Ok(Err(Rejection::app(opened.handshake.headers, *timings, app)))
        }
        Err(End::Failed(kind, detail)) => {
            close_cleanly(opened.ws.inner_mut(), 1000, "wsprobe: app handshake failed", REFUSAL_CLOSE_WAIT).await;
            Err((Phase::App, kind, detail))
        }
    }
}

struct Talk<'a> {
    spec: &'a AppSpec,
    withhold: bool,
    capture: bool,
    t0: Instant,
    lines: Vec<Line>,
    announced: Option<Announced>,
    /// The last few messages received, for a timeout's message.
    seen: std::collections::VecDeque<String>,
}

type Ws = WebSocketStream<WsStream>;

impl Talk<'_> {
    async fn run(&mut self, ws: &mut Ws, deadline: tokio::time::Instant) -> Result<(), End> {
        let spec = self.spec;
        for step in &spec.steps {
            match step {
                Step::Send(text) => self.send(ws, text, deadline).await?,
                Step::Expect(expect) => self.expect(ws, expect, deadline).await?,
            }
        }
        Ok(())
    }

    fn log(&mut self, out: bool, text: &str) {
        if self.capture && self.lines.len() < MAX_LINES {
            let direction = if out { "out" } else { "in" };
            self.lines.push(Line { at_ms: millis(self.t0.elapsed()), direction, text: shown(text, LINE_CHARS) });
        }
    }

    async fn send(&mut self, ws: &mut Ws, text: &str, deadline: tokio::time::Instant) -> Result<(), End> {
        self.log(true, text);
        let timed_out = || {
            End::Failed(FailureKind::Timeout, format!("sending {} took longer than --ready-timeout", shown(text, 80)))
        };
        match timeout_at(deadline, ws.send(Message::text(text))).await.map_err(|_| timed_out())? {
            Ok(()) => Ok(()),
            Err(e) => {
                let close = crate::net::session::close_from_error(&e);
                let kind = if close.how == EndHow::Reset { FailureKind::Reset } else { FailureKind::Eof };
                Err(End::Failed(
                    kind,
                    format!("the connection ended while sending {}: {}", shown(text, 80), close.describe()),
                ))
            }
        }
    }

    async fn expect(&mut self, ws: &mut Ws, expect: &Expect, deadline: tokio::time::Instant) -> Result<(), End> {
        let spec = self.spec;
        loop {
            let item = timeout_at(deadline, ws.next()).await.map_err(|_| self.late(expect))?;
            let text = match interpret(item) {
                Read::Frame(Message::Text(t)) => t.to_string(),
                Read::Frame(Message::Binary(b)) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => t,
                    Err(_) => continue,
                },
                Read::Frame(_) => continue,
                Read::Ended(close) => return Err(End::Refused(self.closed(&close), Some(close))),
            };
            self.log(false, &text);
            if self.seen.len() == SEEN {
                self.seen.pop_front();
            }
            self.seen.push_back(shown(&text, 80));
            if let Some(refusal) = spec.refusals.iter().find(|r| r.pattern.is_match(&text)) {
                return Err(End::Refused((refusal.message)(&text), None));
            }
            if expect.pattern.is_match(&text) {
                if let Some(read) = expect.announce {
                    self.announced = read(&text);
                }
                return Ok(());
            }
            if let Some(reply) = spec.replies.iter().find(|r| r.pattern.is_match(&text)) {
                if !self.withhold {
                    self.send(ws, &reply.text, deadline).await?;
                }
            }
        }
    }

    fn late(&self, expect: &Expect) -> End {
        let within = format_duration(self.spec.ready_timeout);
        let got: Vec<String> = self.seen.iter().map(|t| format!("`{t}`")).collect();
        let got =
            if got.is_empty() { "nothing arrived".to_string() } else { format!("last received: {}", got.join(", ")) };
        End::Failed(
            FailureKind::Timeout,
            format!("{} did not arrive within --ready-timeout {within} of the upgrade ({got})", expect.what),
        )
    }

    fn closed(&self, close: &CloseInfo) -> String {
        let named = self.spec.protocol.and_then(|p| p.close_name(close.code).map(|n| (p, n)));
        match named {
            Some((p, name)) => format!("closed with {} during the handshake ({p}: {name})", close.describe()),
            None => format!("closed with {} during the application handshake", close.describe()),
        }
    }
}
