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

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::net::attempt::Route;
use crate::net::endpoint::{Dest, Endpoint};
use crate::net::http::{read_head, HeadError};
use crate::net::proxy::Sourced;
use crate::net::stream::WsStream;
use crate::net::tls::info::TlsInfo;
use crate::net::upgrade::{build_request, offers_deflate, parse_response, validate_upgrade, Agreed, Response};
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
    let mut run = Opening {
        endpoint,
        client,
        started,
        deadline,
        timings: Timings::default(),
        route: Route::default(),
        proxy_status: None,
    };
    match run.steps().await {
        Ok(Ok(mut opened)) => {
            opened.route = run.route;
            Attempt::Open(Box::new(opened))
        }
        Ok(Err(mut rejection)) => {
            rejection.route = run.route;
            Attempt::Rejected(Box::new(rejection))
        }
        Err((phase, kind, detail)) => {
            let mut timings = run.timings;
            timings.total = started.elapsed();
            let (proxy_status, route) = (run.proxy_status, run.route);
            Attempt::Failed(Box::new(Failure { phase, kind, detail, timings, proxy_status, route }))
        }
    }
}

/// Where an opening failed, how, and a sentence for the user.
pub(crate) type StepError = (Phase, FailureKind, String);

/// One opening in progress: its deadline, the phase times so far, and the
/// way it took (proxy, redirects).
pub(crate) struct Opening<'a> {
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) client: ClientId,
    pub(crate) started: Instant,
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) timings: Timings,
    pub(crate) route: Route,
    pub(crate) proxy_status: Option<u16>,
}

impl Opening<'_> {
    async fn steps(&mut self) -> Result<Result<Opened, Rejection>, StepError> {
        let endpoint = self.endpoint;
        let first = endpoint.dest_for(self.client).map_err(|e| (Phase::Dns, FailureKind::Other, e.to_string()))?;
        let rejection = match self.connect_once(&first, true).await? {
            Err(rejection) if endpoint.follow_redirects && rejection.redirect_to().is_some() => rejection,
            answer => return Ok(answer),
        };
        Box::pin(self.follow(rejection)).await
    }

    /// One connection to `dest`: DNS, TCP, the proxy, TLS, the upgrade and
    /// the application's ready. `first` allows the pinned addresses.
    pub(crate) async fn connect_once(
        &mut self,
        dest: &Dest<'_>,
        first: bool,
    ) -> Result<Result<Opened, Rejection>, StepError> {
        // The common path (plain TCP, no proxy, no application protocol)
        // keeps this future small: it is boxed once per attempt, so the
        // rarer steps' large futures (DNS, the proxy, TLS, the app
        // handshake) are boxed apart, only when they run.
        let proxy = self.endpoint.proxy.for_dest(dest.tls, &dest.host);
        let (addrs, target) = self.resolve(dest, proxy, first).await?;
        let mut tcp = self.tcp(&addrs, proxy).await?;
        if let Some(proxy) = proxy {
            tcp = Box::pin(self.tunnel(dest, proxy, tcp, target)).await?;
        }
        let stream = if dest.tls {
            Box::pin(self.tls(dest, tcp)).await?
        } else {
            WsStream::new(crate::net::stream::Transport::Plain(tcp))
        };
        let opened = match self.upgrade(dest, stream).await? {
            Ok(opened) => opened,
            rejected => return Ok(rejected),
        };
        match self.endpoint.app.clone() {
            None => Ok(Ok(crate::net::app::watch_for_protocol(self.endpoint, opened))),
            Some(spec) => {
                Box::pin(crate::net::app::ready(self.endpoint, spec, opened, &mut self.timings, self.started)).await
            }
        }
    }

    async fn tcp(&mut self, addrs: &[SocketAddr], proxy: Option<&Sourced>) -> Result<TcpStream, StepError> {
        let t = Instant::now();
        let mut last = None;
        for addr in addrs {
            match timeout_at(self.deadline, connect_tcp(*addr, self.source_ip())).await {
                Ok(Ok(stream)) => {
                    self.timings.tcp = Some(t.elapsed());
                    return Ok(stream);
                }
                Ok(Err(e)) => last = Some((FailureKind::from_io(&e), tcp_error_text(*addr, &e, proxy))),
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
        let (kind, detail) = last.unwrap_or((FailureKind::Other, "no address to connect to".into()));
        // A refusal ended the phase; a timeout cut it short, so it has no time.
        if kind != FailureKind::Timeout {
            self.timings.tcp = Some(t.elapsed());
        }
        Err((Phase::Tcp, kind, detail))
    }

    fn source_ip(&self) -> Option<IpAddr> {
        self.endpoint.source_ip(self.client.index)
    }

    async fn upgrade(&mut self, url: &Dest<'_>, mut stream: WsStream) -> Result<Result<Opened, Rejection>, StepError> {
        let key = generate_key();
        let request = build_request(self.endpoint, url, self.client, &key);
        let t = Instant::now();
        let io_err = |e: io::Error| self.upgrade_io_error(url, e);
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
        let (head_len, response) = self.read_response(url, &mut stream, &mut buf).await?;
        self.timings.upgrade = Some(t.elapsed());
        if response.status != 101 {
            let body = Box::pin(self.read_body(&mut stream, &buf[head_len..], &response)).await;
            self.timings.total = self.started.elapsed();
            if let Some(why) = crate::net::tls::explain::tls_refusal(response.status, &body, &url.host) {
                return Err((Phase::Upgrade, FailureKind::Tls, why));
            }
            return Ok(Err(response.into_rejection(body, self.timings)));
        }
        let agreed = validate_upgrade(&response, &key, &self.endpoint.subprotocols, offers_deflate(self.endpoint))?;
        let tls = if self.endpoint.capture { stream.tls().map(TlsInfo::of) } else { None };
        let max_frame = self.endpoint.ws_config.max_frame_size.unwrap_or(usize::MAX);
        stream.frames_from_now(max_frame, buf[head_len..].to_vec());
        if let Some(params) = &agreed.deflate {
            stream.inflate(params, self.endpoint.ws_config.max_message_size.unwrap_or(usize::MAX));
        }
        if self.endpoint.withhold_pongs {
            stream.withhold_pongs();
        }
        drop(buf);
        // from_raw_socket does no I/O: its future is ready when first
        // polled. Not awaiting it keeps everything above out of this
        // future's state (it is boxed for every attempt).
        let framing = WebSocketStream::from_raw_socket(stream, Role::Client, Some(self.endpoint.ws_config));
        let Some(ws) = futures_util::FutureExt::now_or_never(framing) else {
            let why = "the WebSocket layer could not be set up over the upgraded stream".to_string();
            return Err((Phase::Upgrade, FailureKind::Other, why));
        };
        self.timings.total = self.started.elapsed();
        let Agreed { subprotocol, extensions, deflate } = agreed;
        let handshake = Handshake {
            status_line: response.status_line(),
            headers: response.headers,
            subprotocol,
            extensions,
            deflate,
            tls,
        };
        let route = Route::default();
        Ok(Ok(Opened { ws: ClientWs::new(ws), handshake, timings: self.timings, at: Instant::now(), app: None, route }))
    }

    /// Reads the answer to the upgrade request, skipping interim 1xx
    /// answers (`100 Continue`, `103 Early Hints`) as HTTP says a client
    /// must: they are neither the upgrade nor a refusal.
    async fn read_response(
        &self,
        url: &Dest<'_>,
        stream: &mut WsStream,
        buf: &mut Vec<u8>,
    ) -> Result<(usize, Response), StepError> {
        let io_err = |e: io::Error| self.upgrade_io_error(url, e);
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
                    Err(HeadError::NotHttp(_) | HeadError::Eof(_)) if crate::net::tls::explain::looks_like_tls(buf) => {
                        return Err(tls_port(url))
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

fn tcp_error_text(addr: SocketAddr, e: &io::Error, proxy: Option<&Sourced>) -> String {
    match (FailureKind::from_io(e), proxy) {
        (FailureKind::Refused, Some(p)) => format!(
            "connection refused by the proxy {} at {addr} (from {}): is the proxy running and the port right?",
            p.url, p.from
        ),
        (FailureKind::Refused, None) => format!(
            "connection refused by {addr}: nothing is listening there; is the server running and the port right?"
        ),
        (FailureKind::LocalLimit, _) => {
            format!("cannot open a connection to {addr}: {e} (a limit on this machine: open files or ephemeral ports)")
        }
        _ => format!("TCP connect to {addr} failed: {e}"),
    }
}

/// The answer to a plain HTTP upgrade was a TLS record.
fn tls_port(url: &Dest<'_>) -> StepError {
    let why = format!(
        "{} answered the plain HTTP upgrade with TLS: this port speaks TLS, so the URL must be wss://, not ws://",
        url.host
    );
    (Phase::Upgrade, FailureKind::Tls, why)
}

impl Opening<'_> {
    /// A socket error during the upgrade; a TLS error that arrives only
    /// now (a TLS 1.3 server refusing the client certificate after the
    /// handshake) is named as TLS.
    fn upgrade_io_error(&self, url: &Dest<'_>, e: io::Error) -> StepError {
        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            let cx = crate::net::tls::explain::Context { host: &url.host, opts: &self.endpoint.tls_options };
            let (kind, why) = crate::net::tls::explain::handshake_error(&e, cx);
            return (Phase::Upgrade, kind, why);
        }
        (Phase::Upgrade, FailureKind::from_io(&e), format!("the upgrade failed: {e}"))
    }
}
