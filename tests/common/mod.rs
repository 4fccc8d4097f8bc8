//! Shared test fixtures: the reference server on `127.0.0.1:0` in its own
//! runtime thread (so the code under test runs exactly as it does against a
//! separate server), helpers to run wsprobe commands in-process, the
//! binary and child processes ([`process`]), hostile servers
//! ([`hostile`]) and the `--json` contract ([`contract`]).
#![allow(dead_code)]

pub mod contract;
pub mod hostile;
pub mod peer;
pub mod peers;
pub mod pki;
pub mod process;
pub mod proxies;
pub mod scripted;
pub mod shards;
pub mod stacks;
pub mod ws;

#[allow(unused_imports)]
pub use process::{banner_url, json_stdout, wsprobe, wsprobe_output, ChildGuard, ServeProcess};

use std::net::SocketAddr;
use std::thread::JoinHandle;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use wsprobe::cli::Cli;
use wsprobe::report::Report;
use wsprobe::server::config::ServerConfig;
use wsprobe::server::registry::Health;
use wsprobe::server::Server;

/// A reference server running on a free loopback port until dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Server,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with this behaviour.
    pub fn start(cfg: ServerConfig) -> TestServer {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                let server = Server::new(cfg);
                tx.send((listener.local_addr().expect("addr"), server.clone())).expect("send addr");
                server.run(listener, token).await;
            });
        });
        let (addr, server) = rx.recv().expect("server started");
        TestServer { addr, server, stop, thread: Some(thread) }
    }

    /// URL template with a per-client device identity.
    pub fn url(&self) -> String {
        format!("ws://{}/ws?device=dev-{{client}}", self.addr)
    }

    /// The server's `/health` numbers.
    pub fn health(&self) -> Health {
        self.server.health()
    }

    /// Stops the server (closing every connection with 1001) and waits.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `wsprobe ARGS...` in-process and returns its report.
pub fn run(args: &[&str]) -> Report {
    let cli = Cli::try_parse_from(std::iter::once("wsprobe").chain(args.iter().copied())).expect("arguments parse");
    wsprobe::report(&cli).expect("command runs")
}

/// Runs and returns the report as JSON, as `--json` would print it,
/// after checking it against the JSON contract (so every run of every
/// test holds the contract too, in whatever mode it ran).
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let json = serde_json::to_value(run(args)).expect("report serializes");
    if let Err(e) = contract::check_value(&json) {
        panic!("wsprobe {args:?} broke the JSON contract: {e}\n{json:#}");
    }
    json
}

/// A multi-thread runtime for tests that drive connections themselves.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// An endpoint for driving raw connections against a URL.
pub fn endpoint(url: &str) -> wsprobe::net::endpoint::Endpoint {
    let plan = wsprobe::plan::ClientPlan::for_target(wsprobe::plan::Target::Url(url.to_string()));
    plan.endpoint(url.to_string(), Vec::new()).expect("endpoint")
}

/// Polls `cond` every 10 ms until it holds or `within` passes.
pub fn eventually(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + within;
    while std::time::Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cond()
}
