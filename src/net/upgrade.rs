//! The HTTP side of the client's upgrade: the request wsprobe writes
//! (templated headers, subprotocols, origin), and the checks on the answer
//! RFC 6455 4.1 asks a client to make: a 101 with `Upgrade: websocket`,
//! `Connection: upgrade`, the right `Sec-WebSocket-Accept`, and no
//! subprotocol or extension that was not offered (permessage-deflate, when
//! offered, is checked as RFC 7692 asks, in [`crate::net::deflate`]).

use std::fmt::Write as _;

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::net::connect::{FailureKind, Phase, Rejection, StepError, Timings};
use crate::net::endpoint::{Dest, Endpoint};
use crate::net::http::{header, header_has_token};
use crate::units::{expand, redact_header_value, ClientId};

/// The upgrade request for one client.
pub(crate) fn build_request(endpoint: &Endpoint, dest: &Dest<'_>, client: ClientId, key: &str) -> String {
    let (path, host) = (&dest.path, &dest.host_header);
    let user_has = |name: &str| endpoint.headers.iter().any(|h| h.name.eq_ignore_ascii_case(name));
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !user_has("host") {
        let _ = write!(req, "Host: {host}\r\n");
    }
    let _ = write!(
        req,
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if !endpoint.subprotocols.is_empty() {
        let _ = write!(req, "Sec-WebSocket-Protocol: {}\r\n", endpoint.subprotocols.join(", "));
    }
    if endpoint.deflate && !user_has("sec-websocket-extensions") {
        let _ = write!(req, "Sec-WebSocket-Extensions: {}\r\n", crate::net::deflate::OFFER);
    }
    if let Some(origin) = endpoint.origin.as_ref().filter(|_| !user_has("origin")) {
        let _ = write!(req, "Origin: {origin}\r\n");
    }
    if !user_has("user-agent") {
        let _ = write!(req, "User-Agent: wsprobe/{}\r\n", env!("CARGO_PKG_VERSION"));
    }
    for h in &endpoint.headers {
        let _ = write!(req, "{}: {}\r\n", h.name, expand(&h.value, client));
    }
    req.push_str("\r\n");
    if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug!("client {}: upgrade request\n{}", client.index, shown_request(&req));
    }
    req
}

/// The request head as `-vv` shows it, one indented line each: token-like
/// query values and Authorization, Cookie and other secret header values
/// redacted (an auth scheme such as `Bearer` is kept). What was sent is
/// the first thing to check when a server refuses for credentials or Origin.
pub(crate) fn shown_request(request: &str) -> String {
    let mut lines = request.lines().filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    let first = match first.split_once(' ') {
        Some((method, rest)) => match rest.rsplit_once(' ') {
            Some((target, version)) => format!("{method} {} {version}", crate::redact::redact_url(target)),
            None => format!("{method} {}", crate::redact::redact_url(rest)),
        },
        None => first.to_string(),
    };
    let headers = lines.map(|l| match l.split_once(':') {
        Some((name, value)) => format!("{name}: {}", redact_header_value(name, value.trim())),
        None => l.to_string(),
    });
    std::iter::once(first).chain(headers).map(|l| format!("  > {l}")).collect::<Vec<_>>().join("\n")
}

/// A parsed response head.
pub(crate) struct Response {
    version: u8,
    pub(crate) status: u16,
    reason: String,
    pub(crate) headers: Vec<(String, String)>,
    raw_headers: Vec<(String, String)>,
    pub(crate) content_length: Option<usize>,
}

impl Response {
    pub(crate) fn status_line(&self) -> String {
        format!("HTTP/1.{} {} {}", self.version, self.status, self.reason)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.raw_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn into_rejection(self, body: String, timings: Timings) -> Rejection {
        let retry_after = self.get("retry-after").map(str::to_string);
        let location = self.get("location").map(str::to_string);
        Rejection {
            location,
            route: Default::default(),
            status: self.status,
            reason: self.reason,
            retry_after,
            headers: self.headers,
            body,
            timings,
            app: None,
        }
    }
}

/// Parses a response head; refuses what is not HTTP, and a 101 without the upgrade headers.
pub(crate) fn parse_response(head: &[u8], capture: bool) -> Result<Response, StepError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let bad = |why: String| (Phase::Upgrade, FailureKind::Protocol, why);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("the server's answer is an incomplete HTTP head".into())),
        Err(e) => {
            return Err(bad(format!("the server's answer is not valid HTTP ({e}): first bytes {:?}", preview(head))))
        }
    }
    let raw: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).trim().to_string()))
        .collect();
    let content_length = header(parsed.headers, "content-length").and_then(|v| v.parse().ok());
    let upgrade_ok = header_has_token(parsed.headers, "upgrade", "websocket")
        && header_has_token(parsed.headers, "connection", "upgrade");
    let shown = if capture { raw.iter().map(|(n, v)| (n.clone(), shown_header(n, v))).collect() } else { Vec::new() };
    let mut response = Response {
        version: parsed.version.unwrap_or(1),
        status: parsed.code.unwrap_or(0),
        reason: parsed.reason.unwrap_or("").to_string(),
        headers: shown,
        raw_headers: raw,
        content_length,
    };
    if response.status == 101 && !upgrade_ok {
        response.reason.push_str(" (without Upgrade: websocket / Connection: upgrade)");
        return Err(bad(format!(
            "the server answered 101 without 'Upgrade: websocket' and 'Connection: upgrade' ({})",
            response.status_line()
        )));
    }
    Ok(response)
}

/// A response header as reports show it: secrets redacted, and a URL
/// (a redirect's Location) with its token-like parameters redacted.
fn shown_header(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("location") || name.eq_ignore_ascii_case("content-location") {
        return crate::redact::redact_url(value);
    }
    redact_header_value(name, value)
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned()
}

/// What a valid 101 agreed to.
#[derive(Debug)]
pub(crate) struct Agreed {
    /// The subprotocol the server picked.
    pub(crate) subprotocol: Option<String>,
    /// The Sec-WebSocket-Extensions answer, as sent.
    pub(crate) extensions: Option<String>,
    /// permessage-deflate's parameters, when it was negotiated.
    pub(crate) deflate: Option<crate::net::deflate::DeflateParams>,
}

/// True when the request offers permessage-deflate (`--deflate`, or the
/// user's own `Sec-WebSocket-Extensions` header naming it).
pub(crate) fn offers_deflate(endpoint: &Endpoint) -> bool {
    endpoint.deflate
        || endpoint.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("sec-websocket-extensions")
                && h.value.to_ascii_lowercase().contains("permessage-deflate")
        })
}

/// Checks a 101 as RFC 6455 4.1 asks; returns what it agreed to.
pub(crate) fn validate_upgrade(
    response: &Response,
    key: &str,
    offered: &[String],
    deflate_offered: bool,
) -> Result<Agreed, StepError> {
    let bad = |why: String| (Phase::Upgrade, FailureKind::Protocol, why);
    let expected = derive_accept_key(key.as_bytes());
    match response.get("sec-websocket-accept") {
        Some(got) if got == expected => {}
        Some(got) => return Err(bad(format!("the server answered 101 with a wrong Sec-WebSocket-Accept ('{got}', expected '{expected}'): wsprobe fails the connection as RFC 6455 4.1 requires"))),
        None => return Err(bad("the server answered 101 without Sec-WebSocket-Accept: not a WebSocket server".into())),
    }
    let subprotocol = response.get("sec-websocket-protocol").map(str::to_string);
    if let Some(chosen) = &subprotocol {
        if !offered.iter().any(|o| o == chosen) {
            return Err(bad(format!("the server picked subprotocol '{chosen}', which wsprobe did not offer")));
        }
    }
    let extensions = response.get("sec-websocket-extensions").map(str::to_string);
    let deflate = match &extensions {
        Some(ext) if deflate_offered => Some(crate::net::deflate::accept_answer(ext).map_err(bad)?),
        Some(ext) => return Err(bad(format!("the server enabled extension '{ext}', which wsprobe did not offer"))),
        None => None,
    };
    Ok(Agreed { subprotocol, extensions, deflate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_accept_key_is_a_protocol_failure() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        let response = parse_response(head, true).unwrap();
        let err = validate_upgrade(&response, "dGhlIHNhbXBsZSBub25jZQ==", &[], false).unwrap_err();
        assert_eq!(err.1, FailureKind::Protocol);
        assert!(err.2.contains("wrong Sec-WebSocket-Accept"));
    }

    #[test]
    fn garbage_is_not_http() {
        let err = parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true).err().unwrap();
        assert!(err.2.contains("not valid HTTP"), "{}", err.2);
    }

    #[test]
    fn the_request_is_shown_with_its_secrets_redacted() {
        let req = "GET /ws?device=d1&token=abc HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\nCookie: sid=abc\r\nOrigin: https://app\r\n\r\n";
        let shown = shown_request(req);
        assert_eq!(
            shown,
            "  > GET /ws?device=d1&token=*** HTTP/1.1\n  > Host: h\n  > Authorization: Bearer ***\n  > Cookie: ***\n  > Origin: https://app"
        );
    }

    #[test]
    fn rejection_keeps_retry_after() {
        let head = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 5\r\n\r\n";
        let r = parse_response(head, true).unwrap().into_rejection("slow!".into(), Timings::default());
        assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("2")));
    }
}
