//! A validated connection target shared by every client of a run: the URL
//! template, headers, subprotocols, TLS settings, timeouts and frame limits.
//! Built once from a plan; [`crate::net::connect::open`] uses it per client.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use url::Url;

use crate::exit::PlanError;
use crate::units::{expand, redact_url, ClientId, Header};

/// What every client of a run connects to, and how.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL, possibly with `{client}`/`{uuid}`.
    pub url_template: String,
    /// Extra request headers (templates allowed).
    pub headers: Vec<Header>,
    /// Subprotocols offered.
    pub subprotocols: Vec<String>,
    /// Origin header, when given.
    pub origin: Option<String>,
    /// Time allowed for DNS, TCP, TLS and the upgrade together.
    pub connect_timeout: Duration,
    /// Time the server gets to answer (or follow up) a close frame.
    pub close_timeout: Duration,
    /// Longest one write may wait for the server to take it.
    pub write_timeout: Duration,
    /// Frame and buffer limits of each connection.
    pub ws_config: WebSocketConfig,
    /// TLS settings, present for wss:// (and with `--follow-redirects`,
    /// which may lead there).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The TLS options the settings came from (for the words of a failure).
    pub tls_options: crate::net::tls::TlsOptions,
    /// Which proxy each connection goes through.
    pub proxy: crate::net::proxy::ProxySettings,
    /// Follow redirects on the upgrade (`--follow-redirects`).
    pub follow_redirects: bool,
    /// Local addresses to spread clients over.
    pub source_ips: Vec<IpAddr>,
    /// Clients k of one process are k = i, i + stride, i + 2 × stride...
    /// (a shard's); addresses are spread over k / stride, so every
    /// address gets its share.
    pub source_stride: u32,
    /// Addresses resolved once for the whole run (storms skip per-client DNS).
    pub pinned: Option<Vec<SocketAddr>>,
    /// Never answer the server's pings (`stability --no-pong`).
    pub withhold_pongs: bool,
    /// Keep the response headers of each upgrade (storms do not need them).
    pub capture: bool,
    /// The application protocol every connection speaks after the upgrade.
    pub app: Option<Arc<crate::net::app::AppSpec>>,
    /// Offer permessage-deflate (`--deflate`).
    pub deflate: bool,
    /// Protocols noticed on connections that were not told to speak one.
    pub detections: Arc<crate::net::app::Detections>,
    fixed: Option<FixedAuthority>,
}

/// The network options of an endpoint: TLS, proxy, redirects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetOptions {
    /// Roots, client certificate, `--insecure`.
    pub tls: crate::net::tls::TlsOptions,
    /// Proxies from `--proxy`, `--no-proxy` or the environment.
    pub proxy: crate::net::proxy::ProxySettings,
    /// `--follow-redirects`.
    pub follow_redirects: bool,
}

/// Where one client connects: host, port, Host header and request target.
#[derive(Debug, Clone, PartialEq)]
pub struct Dest<'a> {
    /// wss:// (TLS over the TCP connection).
    pub tls: bool,
    /// Host name or address (no IPv6 brackets).
    pub host: Cow<'a, str>,
    /// Port (the scheme's default when absent).
    pub port: u16,
    /// The Host header value.
    pub host_header: Cow<'a, str>,
    /// Path and query.
    pub path: String,
}

impl Dest<'static> {
    /// Where a URL points (a redirect's target, or a templated one).
    pub fn from_url(url: &Url) -> Dest<'static> {
        let (host, port) = host_port(url);
        let host_header = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        let tls = url.scheme() == "wss";
        Dest { tls, host: Cow::Owned(host), port, host_header: Cow::Owned(host_header), path }
    }
}

/// The parts of the URL every client shares, when only the path and query
/// carry templates: a storm then expands a string per connection instead of
/// parsing a whole URL.
#[derive(Debug, Clone)]
struct FixedAuthority {
    tls: bool,
    host: String,
    port: u16,
    host_header: String,
    path_template: String,
}

impl FixedAuthority {
    /// `None` when the host is templated or the URL needs normalizing
    /// (percent-encoding, user info, a fragment): then every client's URL
    /// is parsed in full.
    fn of(template: &str) -> Option<FixedAuthority> {
        let rest = &template[template.find("://")? + 3..];
        let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
        if rest[..path_start].contains(['{', '@']) || rest.contains('#') {
            return None;
        }
        let mut path_template = rest[path_start..].to_string();
        if !path_template.starts_with('/') {
            path_template.insert(0, '/');
        }
        let probe = ClientId::new(0);
        let dest = Dest::from_url(&parse_ws_url(template, probe).ok()?);
        (expand(&path_template, probe) == dest.path).then(|| FixedAuthority {
            tls: dest.tls,
            host: dest.host.into_owned(),
            port: dest.port,
            host_header: dest.host_header.into_owned(),
            path_template,
        })
    }
}

/// Close timeout of an endpoint built without a plan (`--close-timeout`'s default).
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Write timeout of an endpoint built without a plan (`--write-timeout`'s default).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Read buffer of each client connection: small, because a load test holds
/// thousands of connections that mostly sit idle; it grows for big frames.
pub const CLIENT_READ_BUFFER: usize = 256;

/// The frame and buffer limits wsprobe uses for a connection.
pub fn ws_config(max_message_size: usize, read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(max_message_size.saturating_mul(2).max(64 * 1024))
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
}

impl Endpoint {
    /// The local address client `index` connects from (`--source-ip`).
    pub fn source_ip(&self, index: u32) -> Option<IpAddr> {
        let ips = &self.source_ips;
        (!ips.is_empty()).then(|| ips[(index / self.source_stride.max(1)) as usize % ips.len()])
    }

    /// An endpoint for a URL template with default options: validates the
    /// URL and builds the TLS settings. `plan::ClientPlan::endpoint` is the
    /// one place that sets the rest from a plan.
    pub fn new(url: String, net: &NetOptions, connect_timeout: Duration) -> Result<Endpoint, PlanError> {
        let parsed = parse_ws_url(&url, ClientId::new(0))?;
        let tls = if parsed.scheme() == "wss" || net.follow_redirects {
            Some(crate::net::tls::client_config(&net.tls).map_err(PlanError::new)?)
        } else {
            None
        };
        if connect_timeout.is_zero() {
            return Err(PlanError::new("--connect-timeout must be above zero"));
        }
        Ok(Endpoint {
            headers: Vec::new(),
            subprotocols: Vec::new(),
            origin: None,
            connect_timeout,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            ws_config: ws_config(16 << 20, CLIENT_READ_BUFFER),
            tls,
            tls_options: net.tls.clone(),
            proxy: net.proxy.clone(),
            follow_redirects: net.follow_redirects,
            source_ips: Vec::new(),
            source_stride: 1,
            pinned: None,
            withhold_pongs: false,
            capture: true,
            app: None,
            deflate: false,
            detections: Arc::default(),
            fixed: FixedAuthority::of(&url),
            url_template: url,
        })
    }

    /// Where one client connects.
    pub fn dest_for(&self, client: ClientId) -> Result<Dest<'_>, PlanError> {
        match &self.fixed {
            Some(f) => Ok(Dest {
                tls: f.tls,
                host: Cow::Borrowed(&f.host),
                port: f.port,
                host_header: Cow::Borrowed(&f.host_header),
                path: expand(&f.path_template, client),
            }),
            None => self.url_for(client).map(|u| Dest::from_url(&u)),
        }
    }

    /// The URL for one client, expanded and parsed.
    pub fn url_for(&self, client: ClientId) -> Result<Url, PlanError> {
        parse_ws_url(&self.url_template, client)
    }

    /// The target as shown in reports: the template with secrets redacted.
    pub fn display(&self) -> String {
        redact_url(&self.url_template)
    }

    /// True when the URL or a header gives each client its own identity.
    pub fn has_identity_template(&self) -> bool {
        crate::units::has_client_template(&self.url_template)
            || self.headers.iter().any(|h| crate::units::has_client_template(&h.value))
    }

    /// Resolves the host once so a storm of clients does not each ask DNS:
    /// the proxy's host when connections go through one.
    pub async fn pin_addresses(&mut self) -> Result<(), crate::exit::Unreachable> {
        let dest = self.dest_for(ClientId::new(0)).map_err(|e| crate::exit::Unreachable(e.to_string()))?;
        let (host, port) = match self.proxy.for_dest(dest.tls, &dest.host) {
            Some(proxy) => (proxy.url.host.clone(), proxy.url.port),
            None => (dest.host.into_owned(), dest.port),
        };
        let lookup = tokio::time::timeout(self.connect_timeout, tokio::net::lookup_host((host.as_str(), port)));
        let addrs: Vec<SocketAddr> = lookup
            .await
            .map_err(|_| crate::exit::Unreachable(format!("resolving {host} took longer than --connect-timeout")))?
            .map_err(|e| crate::exit::Unreachable(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(crate::exit::Unreachable(format!("{host} has no address")));
        }
        self.pinned = Some(addrs);
        Ok(())
    }
}

/// Parses and checks a WebSocket URL after template expansion.
pub fn parse_ws_url(template: &str, client: ClientId) -> Result<Url, PlanError> {
    let text = expand(template, client);
    let shown = redact_url(template);
    let url = Url::parse(&text)
        .map_err(|e| PlanError::new(format!("invalid URL '{shown}': {e}; write it like ws://host:port/path")))?;
    match url.scheme() {
        "ws" | "wss" => {}
        "http" | "https" => {
            return Err(PlanError::new(format!(
                "invalid URL '{shown}': use ws:// (or wss://) instead of {}://",
                url.scheme()
            )))
        }
        other => {
            return Err(PlanError::new(format!("invalid URL '{shown}': unknown scheme '{other}'; use ws:// or wss://")))
        }
    }
    if url.host().is_none() {
        return Err(PlanError::new(format!("invalid URL '{shown}': it has no host")));
    }
    Ok(url)
}

/// Host (without IPv6 brackets) and port (the scheme's default when absent).
pub fn host_port(url: &Url) -> (String, u16) {
    let host = match url.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    (host, url.port_or_known_default().unwrap_or(80))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shards_clients_spread_over_every_source_address() {
        let mut e = Endpoint::new("ws://127.0.0.1:9/".into(), &NetOptions::default(), Duration::from_secs(1)).unwrap();
        e.source_ips = vec![[127, 0, 0, 2].into(), [127, 0, 0, 3].into()];
        e.source_stride = 6;
        let used: Vec<_> = [1u32, 7, 13, 19].iter().filter_map(|&k| e.source_ip(k)).collect();
        assert_eq!(used, [e.source_ips[0], e.source_ips[1], e.source_ips[0], e.source_ips[1]]);
    }

    #[test]
    fn urls_are_checked_with_a_fix() {
        let c = ClientId::new(0);
        assert!(parse_ws_url("ws://127.0.0.1:9001/ws?device=dev-{client}", c).is_ok());
        assert!(parse_ws_url("http://h/", c).unwrap_err().to_string().contains("use ws://"));
        assert!(parse_ws_url("ftp://h/", c).unwrap_err().to_string().contains("unknown scheme"));
        assert!(parse_ws_url("not a url", c).unwrap_err().to_string().contains("ws://host:port/path"));
        let err = parse_ws_url("gopher://h/?token=abc", c).unwrap_err().to_string();
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn fixed_authority_expands_only_the_path() {
        let spec = |url: &str| url.to_string();
        let new = |url: String| Endpoint::new(url, &NetOptions::default(), Duration::from_secs(1));
        let e = new(spec("ws://127.0.0.1:9001/ws?device=dev-{client}")).unwrap();
        assert!(e.fixed.is_some());
        let fast = e.dest_for(ClientId::new(42)).unwrap();
        assert_eq!(fast, Dest::from_url(&e.url_for(ClientId::new(42)).unwrap()));
        assert_eq!(fast.path, "/ws?device=dev-42");
        for slow in ["ws://{client}.example.com/", "ws://h/a b?x={client}", "ws://u:p@h/", "ws://h/#frag"] {
            let e = new(spec(slow)).unwrap();
            assert!(e.fixed.is_none(), "{slow}");
            assert_eq!(e.dest_for(ClientId::new(3)).unwrap(), Dest::from_url(&e.url_for(ClientId::new(3)).unwrap()));
        }
        assert_eq!(new(spec("ws://h:80")).unwrap().dest_for(ClientId::new(0)).unwrap().path, "/");
    }

    #[test]
    fn host_port_defaults() {
        let u = Url::parse("wss://example.com/x").unwrap();
        assert_eq!(host_port(&u), ("example.com".to_string(), 443));
        let u = Url::parse("ws://[::1]:9/x").unwrap();
        assert_eq!(host_port(&u), ("::1".to_string(), 9));
    }
}
