//! Opening one WebSocket connection, phase by phase: DNS, TCP, TLS and the
//! HTTP upgrade, each timed apart and all under one connect deadline.
//!
//! Every way it can go wrong is an outcome, not an error: a refused upgrade
//! keeps its status, Retry-After, headers and the first bytes of its body; a
//! timeout says in which phase it happened. Callers classify; nothing here
//! prints or panics.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;

use crate::net::endpoint::{Dest, Endpoint};
use crate::net::http::{read_head, HeadError};
use crate::net::stream::{Transport, WsStream};
use crate::net::upgrade::{build_request, parse_response, validate_upgrade, Response};
use crate::units::ClientId;

/// An open client WebSocket, with its application layer.
pub use crate::net::app::ClientWs;

pub use crate::net::attempt::{Attempt, Failure, FailureKind, Handshake, Opened, Phase, Rejection, Timings};

/// Interim 1xx answers skipped before the real answer to the upgrade.
const MAX_INTERIM: usize = 4;

/// Longest wait for the body of a refused upgrade after its head.
const REJECTION_BODY_WAIT: Duration = Duration::from_millis(500);

/// Opens one connection for `client`, never waiting past the connect timeout.
pub async fn open(endpoint: &Endpoint, client: ClientId) -> Attempt {
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + endpoint.connect_timeout);
    let mut run = Opening { endpoint, client, started, deadline, timings: Timings::default() };
    match run.steps().await {
        Ok(Ok(opened)) => Attempt::Open(Box::new(opened)),
        Ok(Err(rejection)) => Attempt::Rejected(Box::new(rejection)),
        Err((phase, kind, detail)) => {
            let mut timings = run.timings;
            timings.total = started.elapsed();
            Attempt::Failed(Box::new(Failure { phase, kind, detail, timings }))
        }
    }
}

/// Where an opening failed, how, and a sentence for the user.
pub(crate) type StepError = (Phase, FailureKind, String);

struct Opening<'a> {
    endpoint: &'a Endpoint,
    client: ClientId,
    started: Instant,
    deadline: tokio::time::Instant,
    timings: Timings,
}

impl Opening<'_> {
    async fn steps(&mut self) -> Result<Result<Opened, Rejection>, StepError> {
        let endpoint = self.endpoint;
        let url = endpoint.dest_for(self.client).map_err(|e| (Phase::Dns, FailureKind::Other, e.to_string()))?;
        let addrs = self.resolve(&url).await?;
        let tcp = self.tcp(&addrs).await?;
        let stream = self.tls(&url, tcp).await?;
        match self.upgrade(&url, stream).await? {
            Ok(opened) => crate::net::app::ready(self.endpoint, opened, &mut self.timings, self.started).await,
            rejected => Ok(rejected),
        }
    }

    async fn resolve(&mut self, url: &Dest<'_>) -> Result<Vec<SocketAddr>, StepError> {
        if let Some(pinned) = &self.endpoint.pinned {
            return Ok(pinned.clone());
        }
        let (host, port) = (&url.host, url.port);
        let t = Instant::now();
        let lookup = timeout_at(self.deadline, tokio::net::lookup_host((host.as_ref(), port))).await;
        self.timings.dns = Some(t.elapsed());
        let timed_out =
            || (Phase::Dns, FailureKind::Timeout, format!("resolving {host} took longer than the connect timeout"));
        let addrs: Vec<SocketAddr> = lookup
            .map_err(|_| timed_out())?
            .map_err(|e| (Phase::Dns, FailureKind::Dns, format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err((Phase::Dns, FailureKind::Dns, format!("{host} has no address")));
        }
        Ok(addrs)
    }

    async fn tcp(&mut self, addrs: &[SocketAddr]) -> Result<TcpStream, StepError> {
        let t = Instant::now();
        let mut last = None;
        for addr in addrs {
            match timeout_at(self.deadline, connect_tcp(*addr, self.source_ip())).await {
                Ok(Ok(stream)) => {
                    self.timings.tcp = Some(t.elapsed());
                    return Ok(stream);
                }
                Ok(Err(e)) => last = Some((FailureKind::from_io(&e), tcp_error_text(*addr, &e))),
                Err(_) => {
                    last = Some((
                        FailureKind::Timeout,
                        format!(
                            "TCP connect to {addr} took longer than the connect timeout ({})",
                            crate::units::format_duration(self.endpoint.connect_timeout)
                        ),
                    ))
                }
            }
        }
        self.timings.tcp = Some(t.elapsed());
        let (kind, detail) = last.unwrap_or((FailureKind::Other, "no address to connect to".into()));
        Err((Phase::Tcp, kind, detail))
    }

    fn source_ip(&self) -> Option<IpAddr> {
        let ips = &self.endpoint.source_ips;
        (!ips.is_empty()).then(|| ips[self.client.index as usize % ips.len()])
    }

    async fn tls(&mut self, url: &Dest<'_>, tcp: TcpStream) -> Result<WsStream, StepError> {
        let Some(config) = &self.endpoint.tls else {
            return Ok(WsStream::new(Transport::Plain(tcp)));
        };
        let host = url.host.to_string();
        let name = ServerName::try_from(host.clone())
            .map_err(|e| (Phase::Tls, FailureKind::Tls, format!("'{host}' is not a valid TLS server name: {e}")))?;
        let t = Instant::now();
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let result = timeout_at(self.deadline, connector.connect(name, tcp)).await;
        self.timings.tls = Some(t.elapsed());
        match result {
            Ok(Ok(tls)) => Ok(WsStream::new(Transport::Tls(Box::new(tls)))),
            Ok(Err(e)) => {
                let kind =
                    if e.kind() == io::ErrorKind::InvalidData { FailureKind::Tls } else { FailureKind::from_io(&e) };
                let hint = if kind == FailureKind::Tls { " (a self-signed test server? add --insecure)" } else { "" };
                Err((Phase::Tls, kind, format!("TLS handshake with {host} failed: {e}{hint}")))
            }
            Err(_) => {
                Err((Phase::Tls, FailureKind::Timeout, "the TLS handshake took longer than the connect timeout".into()))
            }
        }
    }

    async fn upgrade(&mut self, url: &Dest<'_>, mut stream: WsStream) -> Result<Result<Opened, Rejection>, StepError> {
        let key = generate_key();
        let request = build_request(self.endpoint, url, self.client, &key);
        let t = Instant::now();
        let io_err = |e: io::Error| (Phase::Upgrade, FailureKind::from_io(&e), format!("the upgrade failed: {e}"));
        let timed_out = || {
            (
                Phase::Upgrade,
                FailureKind::Timeout,
                "the server did not answer the upgrade request within the connect timeout".to_string(),
            )
        };
        timeout_at(self.deadline, stream.write_all(request.as_bytes()))
            .await
            .map_err(|_| timed_out())?
            .map_err(io_err)?;
        let mut buf = Vec::with_capacity(256);
        let (head_len, response) = self.read_response(&mut stream, &mut buf).await?;
        self.timings.upgrade = Some(t.elapsed());
        if response.status != 101 {
            let body = self.read_body(&mut stream, &buf[head_len..], &response).await;
            self.timings.total = self.started.elapsed();
            return Ok(Err(response.into_rejection(body, self.timings)));
        }
        let (subprotocol, extensions) = validate_upgrade(&response, &key, &self.endpoint.subprotocols)?;
        let tls = tls_summary(&stream);
        let already = buf[head_len..].to_vec();
        drop(buf);
        let ws = ClientWs::framed(stream, self.endpoint, already).await;
        self.timings.total = self.started.elapsed();
        let handshake =
            Handshake { status_line: response.status_line(), headers: response.headers, subprotocol, extensions, tls };
        Ok(Ok(Opened { ws, handshake, timings: self.timings, at: Instant::now(), app: None }))
    }

    /// Reads the answer to the upgrade request, skipping interim 1xx
    /// answers (`100 Continue`, `103 Early Hints`) as HTTP says a client
    /// must: they are neither the upgrade nor a refusal.
    async fn read_response(&self, stream: &mut WsStream, buf: &mut Vec<u8>) -> Result<(usize, Response), StepError> {
        let io_err = |e: io::Error| (Phase::Upgrade, FailureKind::from_io(&e), format!("the upgrade failed: {e}"));
        let timed_out = || {
            (
                Phase::Upgrade,
                FailureKind::Timeout,
                "the server did not answer the upgrade request within the connect timeout".to_string(),
            )
        };
        for _ in 0..MAX_INTERIM {
            let head_len =
                match timeout_at(self.deadline, read_head(&mut *stream, &mut *buf)).await.map_err(|_| timed_out())? {
                    Ok(n) => n,
                    Err(HeadError::Io(e)) => return Err(io_err(e)),
                    Err(HeadError::Eof(0)) => {
                        return Err((
                            Phase::Upgrade,
                            FailureKind::Eof,
                            "the server closed the connection without answering the upgrade request".into(),
                        ))
                    }
                    Err(e) => {
                        return Err((
                            Phase::Upgrade,
                            FailureKind::Protocol,
                            format!("the server's answer is not HTTP: {e}"),
                        ))
                    }
                };
            let response = parse_response(&buf[..head_len], self.endpoint.capture)?;
            if (100..200).contains(&response.status) && response.status != 101 {
                buf.drain(..head_len);
                continue;
            }
            return Ok((head_len, response));
        }
        Err((
            Phase::Upgrade,
            FailureKind::Protocol,
            format!("the server sent more than {MAX_INTERIM} interim 1xx answers"),
        ))
    }

    async fn read_body(&self, stream: &mut WsStream, already: &[u8], response: &Response) -> String {
        const MAX_BODY: usize = 2048;
        let mut body = already.to_vec();
        let wanted = response.content_length.unwrap_or(MAX_BODY).min(MAX_BODY);
        let body_deadline = self.deadline.min(tokio::time::Instant::now() + REJECTION_BODY_WAIT);
        let mut chunk = [0u8; 1024];
        while body.len() < wanted {
            match timeout_at(body_deadline, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => body.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        body.truncate(wanted);
        String::from_utf8_lossy(&body).trim().to_string()
    }
}

/// Connects TCP (optionally from a source address), with Nagle off.
pub async fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(ip) = source {
        crate::net::limits::bind_no_port(&socket);
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn tcp_error_text(addr: SocketAddr, e: &io::Error) -> String {
    match FailureKind::from_io(e) {
        FailureKind::Refused => format!(
            "connection refused by {addr}: nothing is listening there; is the server running and the port right?"
        ),
        FailureKind::LocalLimit => {
            format!("cannot open a connection to {addr}: {e} (a limit on this machine: open files or ephemeral ports)")
        }
        _ => format!("TCP connect to {addr} failed: {e}"),
    }
}

fn tls_summary(stream: &WsStream) -> Option<String> {
    let conn = stream.tls()?;
    let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
    let suite = conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())).unwrap_or_default();
    Some(format!("{version} {suite}").trim().to_string())
}
