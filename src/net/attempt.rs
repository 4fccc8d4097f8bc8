//! What one connection attempt can come to: opened (with the server's
//! answer and the phase timings), refused at the HTTP level (status,
//! Retry-After, headers, body), or failed in a named phase with a kind a
//! user can act on. Pure data and classification; `connect` produces them.

use std::time::{Duration, Instant};

use serde::Serialize;

pub use crate::event::{FailureKind, Outcome};

use super::app::{AppReady, AppRefusal};
use super::connect::ClientWs;
use super::tls::info::TlsInfo;

/// The phase of opening a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Tcp,
    /// The tunnel through a proxy (HTTP CONNECT or SOCKS5).
    Proxy,
    /// TLS handshake.
    Tls,
    /// HTTP upgrade request and response.
    Upgrade,
    /// The application protocol's handshake, after the upgrade.
    App,
}

impl Phase {
    /// Name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Tcp => "TCP",
            Phase::Proxy => "proxy",
            Phase::Tls => "TLS",
            Phase::Upgrade => "upgrade",
            Phase::App => "app ready",
        }
    }
}

/// How long each phase took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Name resolution (absent when addresses were pinned).
    pub dns: Option<Duration>,
    /// TCP connect (to the proxy, when there is one).
    pub tcp: Option<Duration>,
    /// The proxy's tunnel, CONNECT to its answer (with a proxy only).
    pub proxy: Option<Duration>,
    /// TLS handshake (wss only).
    pub tls: Option<Duration>,
    /// Upgrade request to response head.
    pub upgrade: Option<Duration>,
    /// The application handshake ("app ready"), with an app layer.
    pub app: Option<Duration>,
    /// Everything together.
    pub total: Duration,
}

/// What the server said when it accepted the upgrade.
#[derive(Debug, Clone, Serialize)]
pub struct Handshake {
    /// Status line, such as `HTTP/1.1 101 Switching Protocols`.
    pub status_line: String,
    /// Response headers (secrets redacted).
    pub headers: Vec<(String, String)>,
    /// Subprotocol the server picked.
    pub subprotocol: Option<String>,
    /// Extensions the server enabled.
    pub extensions: Option<String>,
    /// permessage-deflate's parameters, when negotiated.
    pub deflate: Option<crate::net::deflate::DeflateParams>,
    /// The TLS session and the server's certificate, for wss (only when
    /// the endpoint keeps details: a storm does not).
    pub tls: Option<TlsInfo>,
}

/// How a connection got to its server: the proxy it went through, and
/// the redirects it followed on the way (`--follow-redirects`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Route {
    /// The proxy and its answer, in words (credentials redacted).
    pub proxy: Option<String>,
    /// Each redirect followed, in order.
    pub redirects: Vec<Hop>,
}

/// One redirect answer to the upgrade that was followed.
#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// The URL that answered (redacted).
    pub from: String,
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// Its reason phrase.
    pub reason: String,
    /// Where it sent wsprobe (redacted).
    pub to: String,
    /// That attempt, from its DNS to the redirect's head.
    pub took: Duration,
}

/// A connection that completed the upgrade.
pub struct Opened {
    /// The socket, ready for frames.
    pub ws: ClientWs,
    /// What the server answered.
    pub handshake: Handshake,
    /// Phase timings.
    pub timings: Timings,
    /// When the connection was ready.
    pub at: Instant,
    /// The application handshake, with an app layer.
    pub app: Option<AppReady>,
    /// The proxy and redirects on the way.
    pub route: Route,
}

/// The server answered the upgrade with something other than 101.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Retry-After header, when given.
    pub retry_after: Option<String>,
    /// Response headers (secrets redacted).
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body, lossily decoded.
    pub body: String,
    /// Phase timings.
    pub timings: Timings,
    /// Set when the upgrade succeeded but the application protocol refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppRefusal>,
    /// Location of a redirect (301, 302, 307, 308), as sent.
    #[serde(skip)]
    pub location: Option<String>,
    /// The proxy and redirects on the way.
    #[serde(skip)]
    pub route: Route,
}

impl Rejection {
    /// An upgrade the application protocol refused afterwards.
    pub fn app(headers: Vec<(String, String)>, timings: Timings, app: AppRefusal) -> Rejection {
        let reason = "Switching Protocols".to_string();
        Rejection {
            status: 101,
            reason,
            retry_after: None,
            headers,
            body: String::new(),
            timings,
            app: Some(app),
            location: None,
            route: Route::default(),
        }
    }

    /// `http-<status>`, or the application's refusal (`closed-<code>`, `app-refused`).
    pub fn outcome(&self) -> Outcome {
        match &self.app {
            Some(app) => app.outcome(),
            None => Outcome::Http(self.status),
        }
    }

    /// The HTTP status of a refused upgrade (`None` for an application refusal).
    pub fn http_status(&self) -> Option<u16> {
        self.app.is_none().then_some(self.status)
    }

    /// The close code of an application refusal by close.
    pub fn close_code(&self) -> Option<u16> {
        self.app.as_ref().and_then(|a| a.close.as_ref()).map(|c| c.code)
    }

    /// The refusal in words: `HTTP 409 Conflict (body)` or the application's message.
    pub fn describe(&self) -> String {
        match &self.app {
            Some(app) => format!("refused by the application after the upgrade: {}", app.message),
            None => {
                let body = if self.body.is_empty() { String::new() } else { format!(" ({})", self.body) };
                let to = self.redirect_to().map(|l| format!(" → {l}")).unwrap_or_default();
                format!("refused at the handshake: HTTP {} {}{to}{body}", self.status, self.reason)
            }
        }
    }
}

impl Rejection {
    /// Where a redirect sends the client (redacted), for 301/302/307/308.
    pub fn redirect_to(&self) -> Option<String> {
        let location = self.location.as_deref().filter(|_| crate::net::redirect::is_redirect(self.status))?;
        Some(crate::redact::redact_url(location))
    }
}

/// A connection attempt that failed before any HTTP answer.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Where it failed.
    pub phase: Phase,
    /// How it failed.
    pub kind: FailureKind,
    /// A sentence for the user.
    pub detail: String,
    /// Phase timings up to the failure.
    pub timings: Timings,
    /// The HTTP proxy's status when it refused the tunnel.
    pub proxy_status: Option<u16>,
    /// The proxy and redirects on the way.
    pub route: Route,
}

impl Failure {
    /// The failure kind, or the proxy's refusal with its status.
    pub fn outcome(&self) -> Outcome {
        match self.proxy_status {
            Some(status) => Outcome::Proxy(status),
            None => Outcome::Failed(self.kind),
        }
    }
}

/// The result of one connection attempt.
pub enum Attempt {
    /// Upgraded.
    Open(Box<Opened>),
    /// The server answered with an HTTP error.
    Rejected(Box<Rejection>),
    /// No usable answer.
    Failed(Box<Failure>),
}

impl Attempt {
    /// The outcome: accepted, the HTTP status, or the failure kind.
    pub fn outcome(&self) -> Outcome {
        match self {
            Attempt::Open(_) => Outcome::Accepted,
            Attempt::Rejected(r) => r.outcome(),
            Attempt::Failed(f) => f.outcome(),
        }
    }

    /// Timings of whatever phases ran.
    pub fn timings(&self) -> &Timings {
        match self {
            Attempt::Open(o) => &o.timings,
            Attempt::Rejected(r) => &r.timings,
            Attempt::Failed(f) => &f.timings,
        }
    }
}
