//! Validated plans. The CLI (and scenario files) hold what the user typed;
//! this module checks it and builds the plans the checks run, so runners
//! never see clap types and every bad value is refused with the flag's name
//! before anything touches the network.

use std::time::Duration;

use crate::cli::{ClientArgs, EmbeddedServerArgs, ServerBehaviourArgs};
use crate::exit::PlanError;
use crate::net::endpoint::{Endpoint, EndpointSpec};
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
    /// Largest message accepted from the server.
    pub max_message_size: usize,
    /// Skip certificate checks.
    pub insecure: bool,
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
            max_message_size: args.max_message_size,
            insecure: args.insecure,
        })
    }

    /// A plan against the given target with default client options.
    pub fn for_target(target: Target) -> ClientPlan {
        ClientPlan {
            target,
            headers: Vec::new(),
            subprotocols: Vec::new(),
            origin: None,
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            max_message_size: 16 << 20,
            insecure: false,
        }
    }

    /// The endpoint for a concrete URL (the target's, or the embedded server's).
    pub fn endpoint(&self, url: String, extra_headers: Vec<Header>) -> Result<Endpoint, PlanError> {
        let mut headers = extra_headers;
        headers.extend(self.headers.iter().cloned());
        Endpoint::new(EndpointSpec {
            url,
            headers,
            subprotocols: self.subprotocols.clone(),
            origin: self.origin.clone(),
            connect_timeout: self.connect_timeout,
            max_message_size: self.max_message_size,
            insecure: self.insecure,
        })
    }
}

/// Both spellings of the server flags (`serve`'s and the `--server-*`
/// twins) have the same field names; one mapping serves both.
macro_rules! server_config {
    ($a:expr) => {
        ServerConfig {
            identity: $a.identity.clone(),
            duplicate: $a.duplicate,
            rate_limit: $a.rate_limit,
            max_clients: $a.max_clients,
            ping_interval: $a.ping_interval,
            pong_timeout: $a.pong_timeout,
            idle_timeout: $a.idle_timeout,
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

/// A client command turned into its validated plan.
#[derive(Debug, Clone)]
pub enum Planned {
    /// `connect`.
    Connect(crate::check::connect::ConnectPlan),
    /// `single`.
    Single(crate::check::single::SinglePlan),
    /// `stability`.
    Stability(crate::check::stability::StabilityPlan),
    /// `ratelimit`.
    Ratelimit(crate::check::ratelimit::RatelimitPlan),
    /// `storm`.
    Storm(crate::check::storm::StormPlan),
}

impl Planned {
    /// How the plan's clients connect.
    pub fn client(&self) -> &ClientPlan {
        match self {
            Planned::Connect(p) => &p.client,
            Planned::Single(p) => &p.client,
            Planned::Stability(p) => &p.client,
            Planned::Ratelimit(p) => &p.client,
            Planned::Storm(p) => &p.client,
        }
    }
}

/// Builds and checks the plan of a client command; nothing touches the
/// network, so a bad value is refused before anything runs.
pub fn plan_command(command: &crate::cli::Command) -> Result<Planned, PlanError> {
    use crate::check::{connect, ratelimit, single, stability, storm};
    use crate::cli::Command;
    let progress = |o: &crate::cli::OutputArgs| crate::report::progress::wanted(o.json, o.quiet);
    Ok(match command {
        Command::Connect(a) => Planned::Connect(connect::ConnectPlan {
            client: ClientPlan::from_args(&a.client)?,
            send: a.send.clone(),
            listen: a.listen,
        }),
        Command::Single(a) => Planned::Single(single::SinglePlan {
            client: ClientPlan::from_args(&a.client)?,
            hold: positive("--hold", a.hold)?,
            distinct: a.distinct,
            race: a.race,
            expect: a.expect,
            settle: a.settle,
        }),
        Command::Stability(a) => {
            let plan = stability::StabilityPlan {
                client: ClientPlan::from_args(&a.client)?,
                clients: a.clients,
                duration: a.duration,
                ping_interval: a.ping_interval,
                app_ping: a.app_ping.clone().map(|text| (text, a.app_ping_interval)),
                no_pong: a.no_pong,
                reconnect: a.reconnect,
                find_idle_timeout: a.find_idle_timeout,
                max_idle: a.max_idle,
                progress: progress(&a.client.output),
            };
            plan.validate()?;
            Planned::Stability(plan)
        }
        Command::Ratelimit(a) => {
            let plan = ratelimit::RatelimitPlan {
                client: ClientPlan::from_args(&a.client)?,
                attempts: a.attempts,
                rate: a.rate,
                mode: a.mode,
                settle: a.settle,
                max_wait: a.max_wait,
                expect_rate: a.expect_rate,
                expect_max: a.expect_max,
                source_ips: a.source_ip.clone(),
                progress: progress(&a.client.output),
            };
            plan.validate()?;
            Planned::Ratelimit(plan)
        }
        Command::Storm(a) => {
            let plan = storm::StormPlan {
                client: ClientPlan::from_args(&a.client)?,
                clients: a.clients,
                ramp: a.ramp,
                connect_rate: a.connect_rate,
                hold: a.hold,
                message: a.message.clone(),
                message_interval: a.message_interval,
                disrupt: a.disrupt,
                backoff: a.backoff,
                jitter: a.jitter,
                max_attempts: a.max_attempts,
                wave_timeout: a.wave_timeout,
                source_ips: a.source_ip.clone(),
                tcp_only: a.tcp_only,
                close_timeout: a.client.close_timeout,
                max_pending: a.max_pending,
                progress: progress(&a.client.output),
            };
            plan.validate()?;
            storm::preflight(&plan)?;
            Planned::Storm(plan)
        }
        other => return Err(PlanError::new(format!("`wsprobe {}` is not a client command", other.name()))),
    })
}
