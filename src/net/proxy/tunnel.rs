//! Opening the tunnel through a proxy on a TCP connection wsprobe made
//! (and timed) itself: HTTP CONNECT (RFC 9110 9.3.6) with Basic
//! credentials from the proxy URL, or SOCKS5 (RFC 1928, tokio-socks) with
//! user/password (RFC 1929). What the proxy refuses is the proxy's
//! refusal, never the server's: it keeps its status and says what to fix.
//! The caller puts the whole exchange under the connect deadline.

use std::net::SocketAddr;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;

use super::{ProxyKind, Sourced};
use crate::event::FailureKind;
use crate::net::http::{read_head, HeadError};

/// The proxy did not open the tunnel.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyError {
    /// How it failed (`proxy` for the proxy's own refusals).
    pub kind: FailureKind,
    /// The proxy's HTTP status, for an HTTP proxy's refusal (407, 403, 502...).
    pub status: Option<u16>,
    /// A sentence for the user.
    pub detail: String,
}

/// Where the tunnel goes: the server's name and port, and its address when
/// wsprobe resolved it (SOCKS5 without `h`).
#[derive(Debug, Clone, Copy)]
pub struct TunnelTo<'a> {
    /// The server's host, as in the URL.
    pub host: &'a str,
    /// The server's port.
    pub port: u16,
    /// The server's address, resolved here, for `socks5://`.
    pub resolved: Option<SocketAddr>,
}

/// Opens the tunnel; returns the stream that now reaches the server, and
/// the proxy's answer in words (`HTTP/1.1 200 Connection established`).
pub async fn open(proxy: &Sourced, tcp: TcpStream, to: TunnelTo<'_>) -> Result<(TcpStream, String), ProxyError> {
    match proxy.url.kind {
        ProxyKind::Http => http_connect(proxy, tcp, to).await,
        ProxyKind::Socks5 | ProxyKind::Socks5h => socks5(proxy, tcp, to).await,
    }
}

/// `host:port` as a CONNECT target (IPv6 in brackets).
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn http_connect(
    proxy: &Sourced,
    mut tcp: TcpStream,
    to: TunnelTo<'_>,
) -> Result<(TcpStream, String), ProxyError> {
    let target = authority(to.host, to.port);
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, pass)) = proxy.url.credentials() {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str(&format!("User-Agent: wsprobe/{}\r\n\r\n", env!("CARGO_PKG_VERSION")));
    let io = |e: std::io::Error| ProxyError {
        kind: FailureKind::from_io(&e),
        status: None,
        detail: format!("the proxy {} ({}) failed during CONNECT: {e}", proxy.url, proxy.from),
    };
    tcp.write_all(request.as_bytes()).await.map_err(io)?;
    let mut buf = Vec::with_capacity(256);
    let head_len = read_head(&mut tcp, &mut buf).await.map_err(|e| match e {
        HeadError::Io(e) => io(e),
        other => refused(proxy, None, &format!("its answer to CONNECT is not HTTP ({other})")),
    })?;
    let (status, line, authenticate) = parse_answer(&buf[..head_len]).map_err(|why| refused(proxy, None, &why))?;
    if !(200..300).contains(&status) {
        return Err(refused(
            proxy,
            Some(status),
            &http_refusal(proxy, status, &line, authenticate.as_deref(), &target),
        ));
    }
    if buf.len() > head_len {
        return Err(refused(proxy, None, "it sent bytes after its 200 before the server could have spoken"));
    }
    Ok((tcp, format!("CONNECT {target}: {line}")))
}

/// Status, status line and Proxy-Authenticate of the proxy's answer.
fn parse_answer(head: &[u8]) -> Result<(u16, String, Option<String>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut answer = httparse::Response::new(&mut headers);
    match answer.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err("its answer to CONNECT is not valid HTTP".into()),
    }
    let status = answer.code.unwrap_or(0);
    let line = format!("HTTP/1.{} {status} {}", answer.version.unwrap_or(1), answer.reason.unwrap_or(""));
    let authenticate = crate::net::http::header(answer.headers, "proxy-authenticate").map(str::to_string);
    Ok((status, line.trim_end().to_string(), authenticate))
}

fn http_refusal(proxy: &Sourced, status: u16, line: &str, authenticate: Option<&str>, target: &str) -> String {
    let what = match status {
        // tinyproxy answers wrong credentials with 401, missing ones with 407.
        401 | 407 if proxy.url.has_credentials() => {
            "it did not accept the credentials in the proxy URL: check user and password".to_string()
        }
        401 | 407 => format!(
            "it wants credentials ({}): put them in the proxy URL, http://user:password@host:port",
            authenticate.unwrap_or("Proxy-Authenticate not given")
        ),
        403 => format!(
            "it does not allow a tunnel to {target}: its access rules (allowed clients, CONNECT ports) refuse it"
        ),
        500 | 502 | 503 | 504 => {
            format!("it could not reach {target}: is the server up, and reachable from the proxy?")
        }
        _ => format!("it refused the tunnel to {target}"),
    };
    format!("{line}: {what}")
}

fn refused(proxy: &Sourced, status: Option<u16>, why: &str) -> ProxyError {
    ProxyError {
        kind: FailureKind::Proxy,
        status,
        detail: format!("the proxy {} ({}) refused: {why}", proxy.url, proxy.from),
    }
}

async fn socks5(proxy: &Sourced, tcp: TcpStream, to: TunnelTo<'_>) -> Result<(TcpStream, String), ProxyError> {
    let target = authority(to.host, to.port);
    let result = match (to.resolved, proxy.url.credentials()) {
        (Some(addr), None) => Socks5Stream::connect_with_socket(tcp, addr).await,
        (Some(addr), Some((u, p))) => Socks5Stream::connect_with_password_and_socket(tcp, addr, u, p).await,
        (None, None) => Socks5Stream::connect_with_socket(tcp, (to.host, to.port)).await,
        (None, Some((u, p))) => Socks5Stream::connect_with_password_and_socket(tcp, (to.host, to.port), u, p).await,
    };
    match result {
        Ok(stream) => {
            let via = match to.resolved {
                Some(addr) => format!("SOCKS5 CONNECT {addr} ({target} resolved here)"),
                None => format!("SOCKS5 CONNECT {target} (the proxy resolves the name)"),
            };
            Ok((stream.into_inner(), format!("{via}: succeeded")))
        }
        Err(tokio_socks::Error::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(refused(
            proxy,
            None,
            "it closed the connection during the SOCKS5 handshake: does it want a user and password (socks5://user:password@host:port), or other ones?",
        )),
        Err(tokio_socks::Error::Io(e)) => Err(ProxyError {
            kind: FailureKind::from_io(&e),
            status: None,
            detail: format!("the SOCKS5 proxy {} ({}) failed: {e}", proxy.url, proxy.from),
        }),
        Err(e) => Err(refused(proxy, None, &socks_refusal(&e, &target))),
    }
}

fn socks_refusal(e: &tokio_socks::Error, target: &str) -> String {
    use tokio_socks::Error as E;
    match e {
        E::PasswordAuthFailure(_) => "it did not accept the user and password in the proxy URL".into(),
        E::NoAcceptableAuthMethods => {
            "it accepts none of the authentication methods offered: does it want a user and password (socks5://user:password@host:port)?".into()
        }
        E::ConnectionNotAllowedByRuleset => format!("its rules do not allow a connection to {target}"),
        E::HostUnreachable | E::NetworkUnreachable => format!("it cannot reach {target} ({e})"),
        E::ConnectionRefused => format!("{target} refused the proxy's connection: is the server up?"),
        E::AddressTypeNotSupported => format!("it cannot connect to this kind of address ({target}): try socks5h://"),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::proxy::ProxyUrl;

    fn sourced(url: &str) -> Sourced {
        Sourced { url: ProxyUrl::parse(url).unwrap(), from: "--proxy" }
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let bare = sourced("http://127.0.0.1:3128");
        let line = "HTTP/1.1 407 Proxy Authentication Required";
        let text = http_refusal(&bare, 407, line, Some("Basic realm=\"tinyproxy\""), "h:1");
        assert!(text.contains("http://user:password@host:port") && text.contains("realm"), "{text}");
        let with = sourced("http://u:pw@127.0.0.1:3128");
        assert!(http_refusal(&with, 407, line, None, "h:1").contains("did not accept the credentials"));
        assert!(http_refusal(&bare, 403, "HTTP/1.1 403 Forbidden", None, "h:1").contains("access rules"));
        let e = refused(&with, Some(407), "x");
        assert!(!e.detail.contains("pw") && e.detail.contains("u:***@"), "{}", e.detail);
    }

    #[test]
    fn answers_are_parsed_with_their_status() {
        let (status, line, auth) =
            parse_answer(b"HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n").unwrap();
        assert_eq!(
            (status, line.as_str(), auth.as_deref()),
            (407, "HTTP/1.0 407 Proxy Authentication Required", Some("Basic"))
        );
        assert_eq!(authority("::1", 443), "[::1]:443");
    }
}
