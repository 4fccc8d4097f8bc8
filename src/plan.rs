//! Validated plans. The CLI (and scenario files) hold what the user typed;
//! this module checks it and builds the plans the checks run, so runners
//! never see clap types and every bad value is refused with the flag's name
//! before anything touches the network.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::args::{
    AppArgs, ClientArgs, EmbeddedServerArgs, ServerBehaviourArgs, DEFAULT_CLOSE_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_WRITE_TIMEOUT,
};
use crate::exit::PlanError;
use crate::net::app::{AppOptions, AppSpec};
use crate::net::endpoint::{ws_config, Endpoint, NetOptions, CLIENT_READ_BUFFER};
use crate::net::proxy::{ProxySettings, ProxyUrl};
use crate::net::tls::TlsOptions;
use crate::server::config::ServerConfig;
use crate::units::Header;

/// What the clients talk to.
// A plan holds one Target, built once: the embedded variant's size costs
// nothing worth a Box at every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A server of the user's.
    Url(String),
    /// The reference server, started in-process on a free loopback port.
    Embedded(ServerConfig),
}

/// How every client of a command connects.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// The target.
    pub target: Target,
    /// Extra headers.
    pub headers: Vec<Header>,
    /// Subprotocols to offer.
    pub subprotocols: Vec<String>,
    /// Origin header.
    pub origin: Option<String>,
    /// DNS + TCP + TLS + upgrade time limit.
    pub connect_timeout: Duration,
    /// Time the server gets to answer our close frame.
    pub close_timeout: Duration,
    /// Longest one write may wait for the server to take it.
    pub write_timeout: Duration,
    /// Largest message accepted from the server.
    pub max_message_size: usize,
    /// TLS (`--insecure`, `--cacert`, `--cert`/`--key`), proxy and redirects.
    pub net: NetOptions,
    /// Offer permessage-deflate.
    pub deflate: bool,
    /// Local addresses to spread clients over (`--source-ip`).
    pub source_ips: Vec<IpAddr>,
    /// Never answer the server's pings (`stability --no-pong`).
    pub withhold_pongs: bool,
    /// Keep each upgrade's response headers (a storm does not need them).
    pub capture_headers: bool,
    /// Resolve the host once for the whole run instead of per connection.
    pub pin_addresses: bool,
    /// The application protocol every connection speaks (`--protocol`,
    /// `--init`, `--ready`, `--reply`).
    pub app: Option<Arc<AppSpec>>,
}

impl ClientPlan {
    /// Checks the common client options.
    pub fn from_args(args: &ClientArgs) -> Result<ClientPlan, PlanError> {
        let target = match &args.url {
            Some(url) => {
                crate::net::endpoint::parse_ws_url(url, crate::units::ClientId::new(0))?;
                Target::Url(url.clone())
            }
            None => Target::Embedded(server_config_from_embedded(&args.server)?),
        };
        let app = app_spec(&args.app, &target)?;
        if args.max_message_size < 125 {
            return Err(PlanError::new("--max-message-size must be at least 125 bytes (a control frame)"));
        }
        Ok(ClientPlan {
            target,
            headers: args.headers.clone(),
            subprotocols: args.subprotocol.clone(),
            origin: args.origin.clone(),
            connect_timeout: args.connect_timeout,
            close_timeout: args.close_timeout,
            write_timeout: crate::plan::positive("--write-timeout", args.write_timeout)?,
            max_message_size: args.max_message_size,
            net: net_options(args)?,
            deflate: args.deflate,
            source_ips: Vec::new(),
            withhold_pongs: false,
            capture_headers: true,
            pin_addresses: false,
            app,
        })
    }

    /// A plan against the given target with default client options.
    pub fn for_target(target: Target) -> ClientPlan {
        ClientPlan {
            target,
            headers: Vec::new(),
            subprotocols: Vec::new(),
            origin: None,
            connect_timeout: default_duration(DEFAULT_CONNECT_TIMEOUT),
            close_timeout: default_duration(DEFAULT_CLOSE_TIMEOUT),
            write_timeout: default_duration(DEFAULT_WRITE_TIMEOUT),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            net: NetOptions::default(),
            deflate: false,
            source_ips: Vec::new(),
            withhold_pongs: false,
            capture_headers: true,
            pin_addresses: false,
            app: None,
        }
    }

    /// The endpoint for a concrete URL (the target's, or the embedded server's).
    pub fn endpoint(&self, url: String, extra_headers: Vec<Header>) -> Result<Endpoint, PlanError> {
        let url = match &self.app {
            Some(app) => app.rewrite_url(&url),
            None => url,
        };
        let mut endpoint = Endpoint::new(url, &self.net, self.connect_timeout)?;
        endpoint.headers = extra_headers;
        endpoint.close_timeout = self.close_timeout;
        endpoint.write_timeout = self.write_timeout;
        endpoint.headers.extend(self.headers.iter().cloned());
        endpoint.subprotocols = self.subprotocols.clone();
        endpoint.origin = self.origin.clone();
        endpoint.ws_config = ws_config(self.max_message_size, CLIENT_READ_BUFFER);
        endpoint.source_ips = self.source_ips.clone();
        endpoint.withhold_pongs = self.withhold_pongs;
        endpoint.deflate = self.deflate;
        endpoint.capture = self.capture_headers;
        if let Some(sub) = self.app.as_ref().and_then(|a| a.subprotocol) {
            if !endpoint.subprotocols.iter().any(|s| s == sub) {
                endpoint.subprotocols.push(sub.to_string());
            }
        }
        endpoint.app = self.app.clone();
        Ok(endpoint)
    }
}

/// The application layer from its flags; a named protocol needs a URL
/// (the reference server speaks only the generic mechanism).
fn app_spec(args: &AppArgs, target: &Target) -> Result<Option<Arc<AppSpec>>, PlanError> {
    let opts = AppOptions {
        protocol: args.protocol,
        auth: args.auth.clone(),
        init: args.init.clone(),
        ready: args.ready.clone(),
        replies: args.reply.clone(),
        ready_timeout: args.ready_timeout,
    };
    if let (Some(p), Target::Embedded(_)) = (args.protocol, target) {
        return Err(PlanError::new(format!(
            "--protocol {p} needs the URL of a {} server: the embedded reference server speaks only the generic mechanism (--init, --ready, --reply with its --server-app-ping and --server-require-init)",
            p.title()
        )));
    }
    Ok(AppSpec::build(&opts).map_err(PlanError::new)?.map(Arc::new))
}

/// TLS, proxy and redirect options; the proxy environment is read here,
/// once, so a bad proxy variable is refused before any connection.
fn net_options(args: &ClientArgs) -> Result<NetOptions, PlanError> {
    let n = &args.net;
    let tls =
        TlsOptions { insecure: args.insecure, cacert: n.cacert.clone(), cert: n.cert.clone(), key: n.key.clone() };
    let env = |name: &str| std::env::var(name).ok();
    let proxy = match (&n.proxy, n.no_proxy) {
        (_, true) => ProxySettings::default(),
        (Some(url), false) => {
            let url = ProxyUrl::parse(url).map_err(|e| PlanError::new(format!("--proxy {e}")))?;
            ProxySettings::fixed(url, crate::net::proxy::env::no_proxy_from(&env))
        }
        (None, false) => ProxySettings::from_env(&env).map_err(PlanError::new)?,
    };
    Ok(NetOptions { tls, proxy, follow_redirects: n.follow_redirects })
}

fn default_duration(text: &str) -> Duration {
    crate::units::parse_duration(text).unwrap_or(Duration::from_secs(10))
}

/// Both spellings of the server flags (`serve`'s and the `--server-*`
/// twins) have the same field names; one mapping serves both.
macro_rules! server_config {
    ($a:expr) => {
        ServerConfig {
            identity: $a.identity.clone(),
            duplicate: $a.duplicate,
            rate_limit: $a.rate_limit,
            rate_limit_model: $a.rate_limit_model,
            max_clients: $a.max_clients,
            max_clients_mode: $a.max_clients_mode,
            ping_interval: $a.ping_interval,
            pong_timeout: $a.pong_timeout,
            pong_timeout_close: $a.pong_timeout_close.clone(),
            idle_timeout: $a.idle_timeout,
            idle_reset: $a.idle_reset,
            token_ttl: $a.token_ttl,
            drop_after: $a.drop_after,
            // Not given: --drop-after drops abruptly, an app pong timeout
            // closes with 4002; given, it decides both.
            drop_mode: $a.drop_mode.unwrap_or_default(),
            faults: $a.fault.clone(),
            handshake_timeout: $a.handshake_timeout,
            max_message_size: $a.max_message_size,
            write_timeout: $a.write_timeout,
            workers: $a.workers,
            max_queue_bytes: $a.max_queue_bytes,
            app_ping: $a.app_ping.clone(),
            app_ping_interval: $a.app_ping_interval,
            app_pong: $a.app_pong.clone(),
            app_pong_timeout: $a.app_pong_timeout,
            app_pong_mode: $a.drop_mode.unwrap_or(crate::server::config::DropMode::Close),
            require_init: $a.require_init.clone(),
            init_timeout: $a.init_timeout,
            max_handshakes: $a.max_handshakes,
            backlog: $a.backlog,
            deflate: $a.deflate,
        }
    };
}

/// The reference server's behaviour from `serve` flags.
pub fn server_config_from_serve(a: &ServerBehaviourArgs) -> Result<ServerConfig, PlanError> {
    let cfg = server_config!(a);
    cfg.validate().map_err(PlanError::new)?;
    Ok(cfg)
}

/// The reference server's behaviour from the `--server-*` flags; errors
/// name the flags as the user typed them.
pub fn server_config_from_embedded(a: &EmbeddedServerArgs) -> Result<ServerConfig, PlanError> {
    let cfg = server_config!(a);
    cfg.validate().map_err(|e| PlanError::new(e.replace("--", "--server-")))?;
    Ok(cfg)
}

/// Checks that a duration option is above zero.
pub fn positive(flag: &str, d: Duration) -> Result<Duration, PlanError> {
    if d.is_zero() {
        return Err(PlanError::new(format!("{flag} must be above zero")));
    }
    Ok(d)
}
