//! The server side of the HTTP upgrade: read the request head under the
//! handshake timeout (a slowloris guard), answer `/health`, refuse what is
//! not a WebSocket upgrade, find the identity, ask the registry, and write
//! 101 or the refusal (409/429/503 with a body and Retry-After). With
//! `--deflate`, the 101 accepts the client's first permessage-deflate
//! offer it can honour.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::config::IdentitySource;
use super::registry::{Refusal, RejectReason, Ticket};
use super::Shared;
use crate::net::deflate::{choose_offer, DeflateParams};
use crate::net::http::{header, header_has_token, read_head, HeadError};

/// Time a client gets to take a plain HTTP answer (health, a refusal, the
/// 101): a few hundred bytes, so only a client that never reads needs it.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the handshake produced.
pub enum Upgrade {
    /// Upgraded: the stream, bytes read past the request, the ticket, and
    /// permessage-deflate's parameters when it was negotiated.
    Accepted(TcpStream, Vec<u8>, Ticket, Option<DeflateParams>),
    /// Answered with plain HTTP (health, refusal, bad request) and done.
    Done,
}

/// Runs the server side of the handshake on a fresh TCP connection.
/// `worker` is the worker the connection was dealt to: its registry admits
/// it and counts its refusals.
pub async fn accept(mut stream: TcpStream, peer: SocketAddr, worker: usize, shared: &Arc<Shared>) -> Upgrade {
    let mut buf = Vec::with_capacity(256);
    let head_len = match tokio::time::timeout(shared.cfg.handshake_timeout, read_head(&mut stream, &mut buf)).await {
        Ok(Ok(n)) => n,
        Ok(Err(HeadError::TooLarge)) => {
            return refuse(stream, shared, worker, plain(RejectReason::HeadTooLarge, 431, "request head too large"))
                .await
        }
        Ok(Err(HeadError::NotHttp(0x16))) => {
            let why = "this port speaks plain HTTP and WebSocket (ws://), not TLS: a TLS ClientHello arrived";
            return refuse(stream, shared, worker, plain(RejectReason::BadRequest, 400, why)).await;
        }
        Ok(Err(HeadError::NotHttp(_))) => {
            return refuse(stream, shared, worker, plain(RejectReason::BadRequest, 400, "malformed HTTP request")).await
        }
        Ok(Err(_)) => return Upgrade::Done,
        Err(_) => {
            return refuse(
                stream,
                shared,
                worker,
                plain(RejectReason::HandshakeTimeout, 408, "the upgrade request did not arrive in time"),
            )
            .await
        }
    };
    let request = match Request::parse(&buf[..head_len], &shared.cfg.identity) {
        Ok(r) => r,
        Err(refusal) => return refuse(stream, shared, worker, refusal).await,
    };
    if request.path == "/health" {
        let response = http_response(200, "OK", "application/json", &shared.health_json(), None);
        let _ = tokio::time::timeout(ANSWER_TIMEOUT, async {
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        })
        .await;
        return Upgrade::Done;
    }
    if let Err(refusal) = request.check_upgrade() {
        return refuse(stream, shared, worker, refusal).await;
    }
    let assigned = shared.worker(worker);
    let ticket = match super::queue::admit(&mut stream, peer, request.identity.clone(), assigned, shared).await {
        Ok(t) => t,
        Err(Some(refusal)) => return write_refusal(stream, refusal).await,
        Err(None) => return Upgrade::Done,
    };
    let deflate = request.deflate.filter(|_| shared.cfg.deflate);
    let response = request.switching_protocols(deflate.as_ref());
    if !matches!(tokio::time::timeout(ANSWER_TIMEOUT, stream.write_all(response.as_bytes())).await, Ok(Ok(()))) {
        assigned.release(&shared.cfg, &ticket);
        return Upgrade::Done;
    }
    Upgrade::Accepted(stream, buf.split_off(head_len), ticket, deflate)
}

struct Request {
    /// What makes the request unfit for an upgrade (RFC 6455 4.2.1), if anything.
    flaw: Option<&'static str>,
    path: String,
    identity: Option<String>,
    key: Option<String>,
    is_get: bool,
    upgrade: bool,
    version_ok: bool,
    subprotocol: Option<String>,
    /// The permessage-deflate offer the server can take, if any.
    deflate: Option<DeflateParams>,
}

impl Request {
    fn parse(head: &[u8], source: &IdentitySource) -> Result<Request, Refusal> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(plain(RejectReason::HeadTooLarge, 431, "more than 64 request headers"))
            }
            _ => return Err(plain(RejectReason::BadRequest, 400, "malformed HTTP request")),
        }
        if has_bare_lf(head) {
            return Err(plain(RejectReason::BadRequest, 400, "malformed HTTP request: lines must end with CRLF"));
        }
        let target = req.path.unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let identity = match source {
            IdentitySource::Query(name) => {
                url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            }
            IdentitySource::Header(name) => header(req.headers, name).map(str::to_string),
        };
        let subprotocol = header(req.headers, "sec-websocket-protocol")
            .and_then(|v| v.split(',').next())
            .map(|s| s.trim().to_string());
        Ok(Request {
            flaw: flaw(&req),
            path: path.to_string(),
            identity: identity.filter(|i| !i.is_empty()),
            key: header(req.headers, "sec-websocket-key").map(str::to_string),
            is_get: req.method == Some("GET"),
            upgrade: header_has_token(req.headers, "upgrade", "websocket")
                && header_has_token(req.headers, "connection", "upgrade"),
            version_ok: header(req.headers, "sec-websocket-version") == Some("13"),
            subprotocol: subprotocol.filter(|s| !s.is_empty()),
            deflate: choose_offer(
                req.headers
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
                    .filter_map(|h| std::str::from_utf8(h.value).ok()),
            ),
        })
    }

    fn check_upgrade(&self) -> Result<(), Refusal> {
        if let Some(why) = self.flaw {
            return Err(plain(RejectReason::BadRequest, 400, why));
        }
        if !self.is_get || !self.upgrade {
            return Err(plain(
                RejectReason::BadRequest,
                426,
                "this endpoint speaks WebSocket (GET with Upgrade: websocket); GET /health for status",
            ));
        }
        if !self.version_ok {
            return Err(plain(RejectReason::BadRequest, 426, "only Sec-WebSocket-Version 13 is supported"));
        }
        if self.key.as_deref().is_none_or(|k| k.len() != 24) {
            return Err(plain(RejectReason::BadRequest, 400, "missing or malformed Sec-WebSocket-Key"));
        }
        Ok(())
    }

    fn switching_protocols(&self, deflate: Option<&DeflateParams>) -> String {
        let accept = derive_accept_key(self.key.as_deref().unwrap_or_default().as_bytes());
        let mut out = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
        if let Some(p) = &self.subprotocol {
            out.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
        }
        if let Some(d) = deflate {
            out.push_str(&format!("Sec-WebSocket-Extensions: {}\r\n", d.header()));
        }
        out.push_str("\r\n");
        out
    }
}

/// A line that ends in LF without CR (the head ended at a blank line of
/// bare LFs, which [`read_head`] accepts so it can refuse at once).
fn has_bare_lf(head: &[u8]) -> bool {
    head.iter().enumerate().any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// What RFC 6455 4.2.1 and RFC 9112 forbid in an upgrade request that
/// httparse lets through: HTTP/1.0, no Host, a key that is not 16 bytes
/// in base64, a repeated key or version.
fn flaw(req: &httparse::Request<'_, '_>) -> Option<&'static str> {
    use base64::Engine as _;
    let count = |name: &str| req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)).count();
    if req.version != Some(1) {
        return Some("a WebSocket upgrade needs HTTP/1.1 or later");
    }
    if count("host") != 1 {
        return Some("the request needs exactly one Host header");
    }
    if count("sec-websocket-key") > 1 || count("sec-websocket-version") > 1 {
        return Some("Sec-WebSocket-Key and Sec-WebSocket-Version may appear only once");
    }
    let key = header(req.headers, "sec-websocket-key")?;
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if bytes.len() == 16 => None,
        _ => Some("Sec-WebSocket-Key must be 16 bytes in base64"),
    }
}

fn plain(reason: RejectReason, status: u16, body: &str) -> Refusal {
    Refusal { reason, status, body: body.to_string(), retry_after: None }
}

async fn refuse(stream: TcpStream, shared: &Arc<Shared>, worker: usize, refusal: Refusal) -> Upgrade {
    shared.worker(worker).registry().count_rejection(refusal.reason);
    write_refusal(stream, refusal).await
}

async fn write_refusal(mut stream: TcpStream, refusal: Refusal) -> Upgrade {
    let extra = refusal.retry_after.map(|s| format!("Retry-After: {s}\r\n"));
    let extra = match refusal.status {
        426 => Some("Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n".to_string()),
        _ => extra,
    };
    let text = http_response(
        refusal.status,
        reason_phrase(refusal.status),
        "text/plain; charset=utf-8",
        &refusal.body,
        extra.as_deref(),
    );
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, async {
        let _ = stream.write_all(text.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
    Upgrade::Done
}

fn http_response(status: u16, reason: &str, content_type: &str, body: &str, extra: Option<&str>) -> String {
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{body}",
        body.len(),
        extra.unwrap_or("")
    )
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        408 => "Request Timeout",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_query_or_header() {
        let head = b"GET /ws?device=dev-3&x=1 HTTP/1.1\r\nX-Device: hdr\r\n\r\n";
        let r = Request::parse(head, &IdentitySource::Query("device".into())).unwrap();
        assert_eq!((r.path.as_str(), r.identity.as_deref()), ("/ws", Some("dev-3")));
        let r = Request::parse(head, &IdentitySource::Header("x-device".into())).unwrap();
        assert_eq!(r.identity.as_deref(), Some("hdr"));
    }

    fn refusal(head: &str) -> (u16, String) {
        let r = Request::parse(head.as_bytes(), &IdentitySource::default()).and_then(|r| r.check_upgrade());
        r.map(|_| (101, String::new())).unwrap_or_else(|e| (e.status, e.body))
    }

    #[test]
    fn requests_rfc_6455_forbids_are_refused_with_400_or_431() {
        let ok = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        assert_eq!(refusal(&format!("{ok}\r\n")).0, 101);
        let cases = [
            (ok.replace("HTTP/1.1", "HTTP/1.0"), 400, "HTTP/1.1"),
            (ok.replace("Host: x\r\n", ""), 400, "Host"),
            (ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA=="), 101, ""),
            (ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "not-base64-at-all-but-24"), 400, "16 bytes"),
            (ok.replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZSE="), 400, "16 bytes"),
            (format!("{ok}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), 400, "only once"),
            (format!("{ok}Sec-WebSocket-Version: 13\r\n"), 400, "only once"),
            (format!("{ok}{}", "X-Pad: 1\r\n".repeat(64)), 431, "64"),
            (ok.replace("\r\n", "\n"), 400, "CRLF"),
        ];
        for (head, status, words) in cases {
            let (got, body) = refusal(&format!("{head}\r\n"));
            assert_eq!(got, status, "{head:?}: {body}");
            assert!(body.contains(words), "{head:?}: {body}");
        }
    }

    #[test]
    fn plain_get_is_told_to_upgrade() {
        let r = Request::parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &IdentitySource::default()).unwrap();
        assert_eq!(r.check_upgrade().unwrap_err().status, 426);
    }
}
