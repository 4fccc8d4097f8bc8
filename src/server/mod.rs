//! The reference server: a WebSocket server that behaves correctly or
//! reproduces each connection bug on demand, so wsprobe can test itself and
//! every command runs with no server of your own.
//!
//! It takes an already-bound listener and a shutdown token and never binds
//! for itself: `serve` binds the user's address, embedded targets and tests
//! bind `127.0.0.1:0`. On shutdown every connection is closed with 1001.
//!
//! Its parts: [`config`] (the behaviour; [`deadlines`] how heartbeat
//! deadlines end a connection, [`limits`] the rate limiter's shapes and
//! the full server's queue, `summary` its one-line description), [`workers`] (K independent
//! registries, connections dealt round-robin), [`registry`] (one worker's
//! book-keeping), [`mailbox`] (per-recipient queues bounded in bytes),
//! `deliver` (send and broadcast), `handshake` (the upgrade and `/health`),
//! [`pending`] (connections waiting to upgrade, bounded; rate-limited logs),
//! `conn` and `timers` (one connection's loop), [`health`] (the numbers).

pub mod config;
mod conn;
pub mod deadlines;
mod deliver;
mod handshake;
pub mod health;
pub mod limits;
pub mod mailbox;
pub mod pending;
mod queue;
pub mod registry;
mod summary;
mod timers;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::Regex;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use config::ServerConfig;
use registry::Health;
use workers::{Worker, Workers};

/// State every connection task shares.
#[derive(Debug)]
pub struct Shared {
    /// The behaviour.
    pub cfg: ServerConfig,
    workers: Workers,
    app: AppProtocol,
    pending: Arc<pending::Pending>,
    started: Instant,
}

/// The application-level heartbeat and init, compiled once per server so
/// no connection compiles a regex or copies the ping text.
#[derive(Debug, Default)]
struct AppProtocol {
    ping: Option<Utf8Bytes>,
    pong: Option<Regex>,
    init: Option<Regex>,
}

impl AppProtocol {
    fn new(cfg: &ServerConfig) -> AppProtocol {
        let pattern = |flag: &str, source: Option<&str>| {
            config::compile(flag, source).unwrap_or_else(|e| {
                // validate() refuses this first; a hand-built config that
                // skipped it gets a pattern that matches nothing, so the
                // mistake shows as closes instead of passing silently.
                tracing::error!("{e}");
                Regex::new(r"[^\s\S]").ok()
            })
        };
        AppProtocol {
            ping: cfg.app_ping.as_deref().map(Utf8Bytes::from),
            pong: pattern("--app-pong", cfg.app_pong.as_deref()),
            init: pattern("--require-init", cfg.require_init.as_deref()),
        }
    }
}

impl Shared {
    fn new(cfg: ServerConfig) -> Shared {
        Shared {
            workers: Workers::new(cfg.workers),
            app: AppProtocol::new(&cfg),
            pending: pending::Pending::new(cfg.max_handshakes),
            cfg,
            started: Instant::now(),
        }
    }

    /// Worker `index`, whose registry holds the connections dealt to it.
    pub fn worker(&self, index: usize) -> &Worker {
        self.workers.get(index)
    }

    /// The `/health` numbers: totals over the workers, and each worker's.
    pub fn health(&self) -> Health {
        self.workers.health(&self.cfg)
    }

    fn health_json(&self) -> String {
        self.health().to_json(self.started.elapsed().as_secs_f64(), self.cfg.summary())
    }
}

/// A reference server ready to run on a listener.
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// A server with this behaviour.
    pub fn new(cfg: ServerConfig) -> Server {
        Server { shared: Arc::new(Shared::new(cfg)) }
    }

    /// The `/health` numbers right now.
    pub fn health(&self) -> Health {
        self.shared.health()
    }

    /// Accepts connections until `shutdown` is cancelled, then closes each
    /// with 1001 and waits (bounded) for them to finish.
    pub async fn run(&self, listener: TcpListener, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let mut prune = tokio::time::interval(Duration::from_secs(10));
        let mut log = pending::LogLimit::new(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = prune.tick() => self.shared.workers.prune(&self.shared.cfg, Instant::now()),
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let worker = self.shared.workers.assign();
                        tracker.spawn(connection(stream, peer, worker, self.shared.clone(), shutdown.clone()));
                    }
                    Err(e) => self.accept_failed(&e, &mut log).await,
                },
            }
        }
        drop(listener);
        tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(3), tracker.wait()).await;
    }
}

impl Server {
    /// Out of files: the oldest waiting handshake gives up its file and
    /// accept goes on at once; otherwise a short pause. Logged at most
    /// once a second, with the count of failures held back.
    async fn accept_failed(&self, e: &std::io::Error, log: &mut pending::LogLimit) {
        let out_of_files = matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE));
        let made_room = out_of_files && self.shared.pending.evict_oldest();
        if let Some(held) = log.allow(Instant::now()) {
            let more = if held > 0 { format!(" ({held} more since the last report)") } else { String::new() };
            let action = if made_room { "closed the oldest waiting handshake" } else { "retrying" };
            tracing::warn!("accept failed: {e}{more}; {action}");
        }
        if !made_room {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    worker: usize,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let place = shared.pending.enter();
    let upgraded = tokio::select! {
        _ = shutdown.cancelled() => return,
        _ = place.evicted.cancelled() => {
            shared.worker(worker).registry().count_rejection(registry::RejectReason::HandshakeEvicted);
            return;
        }
        u = handshake::accept(stream, peer, worker, &shared) => u,
    };
    drop(place);
    if let handshake::Upgrade::Accepted(stream, leftover, ticket, deflate) = upgraded {
        tracing::debug!(peer = %peer, identity = ?ticket.identity, deflate = deflate.is_some(), "upgraded");
        conn::serve(conn::Upgraded { stream, leftover, ticket, deflate }, shared, shutdown).await;
    }
}

/// Where and how to listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// The address.
    pub addr: SocketAddr,
    /// Set SO_REUSEPORT, so several processes share the port and the kernel
    /// spreads connections over them (past one process's open-file limit).
    pub reuse_port: bool,
}

impl From<SocketAddr> for Listen {
    fn from(addr: SocketAddr) -> Listen {
        Listen { addr, reuse_port: false }
    }
}

/// Binds a listener with an accept backlog of `backlog` (the default,
/// [`config::DEFAULT_BACKLOG`], is deep, so a burst of thousands of
/// simultaneous connects queues instead of being dropped; a small one
/// reproduces an untuned server). Without `reuse_port` a port already in
/// use is an error, as it should be.
pub fn bind(listen: impl Into<Listen>, backlog: u32) -> std::io::Result<TcpListener> {
    let Listen { addr, reuse_port } = listen.into();
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    if reuse_port {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Runs a reference server on `listener` until `shutdown` is cancelled.
pub async fn run(listener: TcpListener, cfg: ServerConfig, shutdown: CancellationToken) {
    Server::new(cfg).run(listener, shutdown).await
}

/// A reference server running in this process on a free loopback port.
#[derive(Debug)]
pub struct Embedded {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server, for `/health` numbers.
    pub server: Server,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Embedded {
    /// Binds `127.0.0.1:0` and starts serving on the current runtime.
    pub async fn start(cfg: ServerConfig) -> std::io::Result<Embedded> {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)), cfg.backlog)?;
        let addr = listener.local_addr()?;
        let server = Server::new(cfg);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let (server, shutdown) = (server.clone(), shutdown.clone());
            async move { server.run(listener, shutdown).await }
        });
        Ok(Embedded { addr, server, shutdown, task })
    }

    /// Stops accepting, closes every connection with 1001, waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}
