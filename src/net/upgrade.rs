//! The HTTP side of the client's upgrade: the request wsprobe writes
//! (templated headers, subprotocols, origin), and the checks on the answer
//! RFC 6455 4.1 asks a client to make: a 101 with `Upgrade: websocket`,
//! `Connection: upgrade`, the right `Sec-WebSocket-Accept`, and no
//! subprotocol or extension that was not offered.

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
    req
}

/// A parsed response head.
pub(crate) struct Response {
    version: u8,
    pub(crate) status: u16,
    reason: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The headers the checks read, copied once (not every header: a
    /// storm parses thousands of these a second).
    wanted: [Option<String>; WANTED.len()],
    pub(crate) content_length: Option<usize>,
}

/// The response headers [`Response::get`] answers for.
const WANTED: [&str; 4] = ["sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions", "retry-after"];

impl Response {
    pub(crate) fn status_line(&self) -> String {
        format!("HTTP/1.{} {} {}", self.version, self.status, self.reason)
    }

    fn get(&self, name: &str) -> Option<&str> {
        let i = WANTED.iter().position(|w| *w == name)?;
        self.wanted[i].as_deref()
    }

    pub(crate) fn into_rejection(self, body: String, timings: Timings) -> Rejection {
        let retry_after = self.get("retry-after").map(str::to_string);
        Rejection {
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
    let value = |h: &httparse::Header<'_>| String::from_utf8_lossy(h.value).trim().to_string();
    let wanted = WANTED.map(|w| parsed.headers.iter().find(|h| h.name.eq_ignore_ascii_case(w)).map(value));
    let content_length = header(parsed.headers, "content-length").and_then(|v| v.parse().ok());
    let upgrade_ok = header_has_token(parsed.headers, "upgrade", "websocket")
        && header_has_token(parsed.headers, "connection", "upgrade");
    let shown = if capture {
        parsed.headers.iter().map(|h| (h.name.to_string(), redact_header_value(h.name, &value(h)))).collect()
    } else {
        Vec::new()
    };
    let mut response = Response {
        version: parsed.version.unwrap_or(1),
        status: parsed.code.unwrap_or(0),
        reason: parsed.reason.unwrap_or("").to_string(),
        headers: shown,
        wanted,
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

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned()
}

/// Checks a 101 as RFC 6455 4.1 asks; returns the subprotocol and extensions.
pub(crate) fn validate_upgrade(
    response: &Response,
    key: &str,
    offered: &[String],
) -> Result<(Option<String>, Option<String>), StepError> {
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
    if let Some(ext) = &extensions {
        return Err(bad(format!("the server enabled extension '{ext}', which wsprobe did not offer")));
    }
    Ok((subprotocol, extensions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_accept_key_is_a_protocol_failure() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: nope\r\n\r\n";
        let response = parse_response(head, true).unwrap();
        let err = validate_upgrade(&response, "dGhlIHNhbXBsZSBub25jZQ==", &[]).unwrap_err();
        assert_eq!(err.1, FailureKind::Protocol);
        assert!(err.2.contains("wrong Sec-WebSocket-Accept"));
    }

    #[test]
    fn garbage_is_not_http() {
        let err = parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", true).err().unwrap();
        assert!(err.2.contains("not valid HTTP"), "{}", err.2);
    }

    #[test]
    fn rejection_keeps_retry_after() {
        let head = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 5\r\n\r\n";
        let r = parse_response(head, true).unwrap().into_rejection("slow!".into(), Timings::default());
        assert_eq!((r.status, r.retry_after.as_deref()), (429, Some("2")));
    }
}
