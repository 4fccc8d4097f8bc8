//! The phases of an opening around TCP: name resolution (of the proxy,
//! when there is one, and of the server unless the proxy resolves it), the
//! tunnel through the proxy, and the TLS handshake. Each is timed into the
//! opening's [`Timings`](crate::net::attempt::Timings), runs under its
//! deadline, and fails as a kind and a sentence.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::TcpStream;
use tokio::time::timeout_at;

use crate::net::attempt::{FailureKind, Phase};
use crate::net::connect::{Opening, StepError};
use crate::net::endpoint::Dest;
use crate::net::proxy::tunnel::{self, TunnelTo};
use crate::net::proxy::{ProxyKind, Sourced};
use crate::net::stream::{Transport, WsStream};
use crate::net::tls::explain;

impl Opening<'_> {
    /// The addresses TCP connects to (the proxy's, with a proxy), and the
    /// server's own address when wsprobe must resolve it for the proxy
    /// (`socks5://`). `first`: the run's pinned addresses may be used.
    pub(crate) async fn resolve(
        &mut self,
        dest: &Dest<'_>,
        proxy: Option<&Sourced>,
        first: bool,
    ) -> Result<(Vec<SocketAddr>, Option<SocketAddr>), StepError> {
        let target = match proxy {
            Some(p) if p.url.kind == ProxyKind::Socks5 => {
                self.lookup(&dest.host, dest.port, None).await?.first().copied()
            }
            _ => None,
        };
        if let Some(pinned) = self.endpoint.pinned.as_ref().filter(|_| first) {
            return Ok((pinned.clone(), target));
        }
        let addrs = match proxy {
            Some(p) => self.lookup(&p.url.host, p.url.port, Some(p)).await?,
            None => self.lookup(&dest.host, dest.port, None).await?,
        };
        Ok((addrs, target))
    }

    /// Resolves `host`, adding the time to the DNS phase.
    async fn lookup(&mut self, host: &str, port: u16, proxy: Option<&Sourced>) -> Result<Vec<SocketAddr>, StepError> {
        let what = match proxy {
            Some(p) => format!("the proxy host {host} (from {})", p.from),
            None => host.to_string(),
        };
        let t = Instant::now();
        // Boxed: the resolver's future is large, and this step is inlined
        // into every attempt's future (pinned addresses skip it).
        let lookup = timeout_at(self.deadline, Box::pin(tokio::net::lookup_host((host, port)))).await;
        // A phase the connect timeout cut short has no time: it never finished.
        if lookup.is_ok() {
            self.timings.dns = Some(self.timings.dns.unwrap_or_default() + t.elapsed());
        }
        let timed_out =
            || (Phase::Dns, FailureKind::Timeout, format!("resolving {what} took longer than the connect timeout"));
        let addrs: Vec<SocketAddr> = lookup
            .map_err(|_| timed_out())?
            .map_err(|e| (Phase::Dns, FailureKind::Dns, format!("cannot resolve {what}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err((Phase::Dns, FailureKind::Dns, format!("{what} has no address")));
        }
        Ok(addrs)
    }

    /// The tunnel through the proxy to the server.
    pub(crate) async fn tunnel(
        &mut self,
        dest: &Dest<'_>,
        proxy: &Sourced,
        tcp: TcpStream,
        resolved: Option<SocketAddr>,
    ) -> Result<TcpStream, StepError> {
        let t = Instant::now();
        let to = TunnelTo { host: &dest.host, port: dest.port, resolved };
        let result = timeout_at(self.deadline, tunnel::open(proxy, tcp, to)).await;
        if result.is_ok() {
            self.timings.proxy = Some(t.elapsed());
        }
        match result {
            Ok(Ok((stream, answer))) => {
                self.route.proxy = Some(format!("{} (from {}): {answer}", proxy.url, proxy.from));
                Ok(stream)
            }
            Ok(Err(e)) => {
                self.proxy_status = e.status;
                Err((Phase::Proxy, e.kind, e.detail))
            }
            Err(_) => Err((
                Phase::Proxy,
                FailureKind::Timeout,
                format!(
                    "the proxy {} (from {}) did not open the tunnel within the connect timeout",
                    proxy.url, proxy.from
                ),
            )),
        }
    }

    /// The TLS handshake for wss:// (SNI and the certificate's name from the
    /// URL's host); a plain stream for ws://.
    pub(crate) async fn tls(&mut self, dest: &Dest<'_>, tcp: TcpStream) -> Result<WsStream, StepError> {
        if !dest.tls {
            return Ok(WsStream::new(Transport::Plain(tcp)));
        }
        let fail = |kind, why: String| (Phase::Tls, kind, why);
        let Some(config) = &self.endpoint.tls else {
            return Err(fail(FailureKind::Other, "no TLS settings for a wss:// URL".into()));
        };
        let name = crate::net::tls::server_name(&dest.host).map_err(|why| fail(FailureKind::Tls, why))?;
        let t = Instant::now();
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let result = timeout_at(self.deadline, connector.connect(name, tcp)).await;
        if result.is_ok() {
            self.timings.tls = Some(t.elapsed());
        }
        let cx = explain::Context { host: &dest.host, opts: &self.endpoint.tls_options };
        match result {
            Ok(Ok(tls)) => Ok(WsStream::new(Transport::Tls(Box::new(tls)))),
            Ok(Err(e)) => {
                let (kind, why) = explain::handshake_error(&e, cx);
                Err(fail(kind, why))
            }
            Err(_) => Err(fail(FailureKind::Timeout, explain::timed_out(&dest.host))),
        }
    }
}
