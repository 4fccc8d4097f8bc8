//! `storm` diagnosed against real stacks that scripts/test installs: a Node
//! `ws` server listening with a small backlog (tests/third_party/node/
//! backlog_ws.js) overflows its listen queue under a herd, and HAProxy in
//! front of the reference server queues connections at its `maxconn`:
//! globally (it stops accepting, the kernel drops SYNs) or per backend
//! server (TCP connects at once, the upgrade waits in HAProxy's queue).
//! Each test asserts what wsprobe calls it and where the time went. Python
//! `websockets` (tests/third_party/plain_server.py) is the truth for how a
//! storm ends: the close handshakes it received, the echoes it sent late
//! (slow-echo) or never (silent).
//!
//! Every peer is a child process killed by its PID when the test ends;
//! every wait is bounded (the readiness line, the port, the run).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{run_json, ChildGuard, TestServer};
use serde_json::Value;
use wsprobe::server::config::ServerConfig;
use wsprobe::stats::latency::Latency;

/// How long a peer may take to print its readiness line or open its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

fn diagnosis(r: &Value) -> String {
    r["diagnosis"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn count(r: &Value, pointer: &str) -> u64 {
    r.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// The Node `ws` echo server with `server.listen(0, host, backlog)`.
fn node_ws(backlog: u32) -> common::peer::Peer {
    common::peer::Peer::node("node/backlog_ws.js", &[&backlog.to_string()])
}

/// A herd of 300 clients at once against Node `ws` with a backlog of 8:
/// the kernel drops SYNs, the clients retry them after 1 s, and wsprobe
/// says the backlog overflowed and what to do, with the kernel's count.
#[test]
fn node_ws_with_a_small_backlog_overflows_its_listen_queue() {
    let node = node_ws(8);
    let url = node.base.clone();
    let r = run_json(&[
        "storm",
        &url,
        "--clients",
        "300",
        "--hold",
        "0s",
        "--disrupt",
        "none",
        "--connect-timeout",
        "3s",
        "--max-attempts",
        "3",
    ]);
    let words = diagnosis(&r);
    assert!(
        words.contains("TCP connects waited for a SYN retransmit")
            && words
                .contains("The server's listen backlog overflowed: raise its backlog (somaxconn) or ramp the clients"),
        "{words}"
    );
    let tcp = Latency::from_base64(r["histograms"]["tcp_connect"].as_str().expect("histogram")).expect("V2");
    assert!(
        tcp.count_between_us(1_000_000, 1_499_999) > 0,
        "connects piled up after the 1 s retransmit: {:#}",
        r["tcp_connect_ms"]
    );
    assert!(count(&r, "/listen_queue/overflows") > 0, "the kernel counted the overflows: {:#}", r["listen_queue"]);
}

/// HAProxy in front of one server, in the foreground (`-db`), killed by
/// its PID when dropped.
struct Haproxy {
    _child: ChildGuard,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    /// `global_maxconn` connections at once, `backlog` more queued by the
    /// kernel, `server_maxconn` passed on to the server (the rest wait in
    /// HAProxy's queue).
    fn start(global_maxconn: u32, backlog: u32, server_maxconn: u32, upstream: std::net::SocketAddr) -> Haproxy {
        let haproxy = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"].into_iter().find(|p| Path::new(p).exists());
        let haproxy =
            haproxy.expect("haproxy is needed for this test: apt-get install haproxy (scripts/test does this)");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let dir = tempfile::tempdir().unwrap();
            let conf = dir.path().join("haproxy.cfg");
            let mut f = std::fs::File::create(&conf).unwrap();
            write!(
                f,
                "global\n  maxconn {global_maxconn}\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  timeout queue 30s\nfrontend fe\n  backlog {backlog}\n  bind 127.0.0.1:{port}\n  default_backend be\nbackend be\n  server s1 {upstream} maxconn {server_maxconn}\n"
            )
            .unwrap();
            let mut child = ChildGuard::spawn(Command::new(haproxy).args(["-db", "-f"]).arg(&conf));
            let up = common::eventually(STARTUP_TIMEOUT, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
            if up && !child.has_exited() {
                return Haproxy { _child: child, port, _dir: dir };
            }
        }
        panic!("haproxy did not start on loopback");
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws?device=dev-{{client}}", self.port)
    }
}

fn herd(url: &str) -> Value {
    run_json(&[
        "storm",
        url,
        "--clients",
        "120",
        "--hold",
        "0s",
        "--disrupt",
        "none",
        "--connect-timeout",
        "2500ms",
        "--max-attempts",
        "1",
    ])
}

/// HAProxy's global `maxconn 30` and a backlog of 10: past them HAProxy
/// stops accepting, its listen queue fills and the kernel drops SYNs (so
/// TCP connects time out) and handshake ACKs (so connects this side
/// thinks done wait for an upgrade answer that never comes); which of the
/// two each client meets is the kernel's timing. Both are counted by
/// phase, and neither gives its phase a time (before, each TCP timeout
/// read as a 2.5 s "tcp connect").
#[test]
fn haproxy_global_maxconn_times_out_connects_without_timing_them() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Haproxy::start(30, 10, 10, server.addr);
    let r = herd(&proxy.url());
    let (tcp_timeouts, upgrade_timeouts) = (count(&r, "/timeouts/tcp"), count(&r, "/timeouts/upgrade"));
    assert_eq!((count(&r, "/connected"), tcp_timeouts + upgrade_timeouts), (10, 110), "{:#}", r["timeouts"]);
    assert_eq!(count(&r, "/tcp_connect_ms/count"), 120 - tcp_timeouts, "{:#}", r["tcp_connect_ms"]);
    assert_eq!(count(&r, "/upgrade_ms/count"), 10, "only answered upgrades are timed: {:#}", r["upgrade_ms"]);
    let max = r["tcp_connect_ms"]["max"].as_f64().expect("connects were timed");
    assert!(max < 2500.0, "no timeout is a TCP connect time: max {max} ms");
    let words = diagnosis(&r);
    assert!(words.contains("timeout (--connect-timeout): "), "{words}");
    assert!(words.contains("Listen backlog: ") && words.contains("raise its backlog (somaxconn)"), "{words}");
    assert_eq!(r["verdict"], "fail", "{:#}", r["findings"]);
}

/// HAProxy's per-server `maxconn 10` with a 30 s queue: HAProxy accepts
/// every connection at once and queues the upgrades, so the timeouts are
/// the upgrade's and the TCP connects stay fast.
#[test]
fn haproxy_server_maxconn_queues_upgrades_not_tcp_connects() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Haproxy::start(4000, 1024, 10, server.addr);
    let r = herd(&proxy.url());
    let upgrade_timeouts = count(&r, "/timeouts/upgrade");
    assert_eq!((count(&r, "/connected"), upgrade_timeouts), (10, 110), "{:#}", r["timeouts"]);
    assert_eq!(count(&r, "/timeouts/tcp"), 0, "{:#}", r["timeouts"]);
    assert_eq!(count(&r, "/tcp_connect_ms/count"), 120, "every TCP connect completed and was timed");
    let max = r["tcp_connect_ms"]["max"].as_f64().expect("connects were timed");
    assert!(max < 1000.0, "HAProxy accepted at once: tcp connect max {max} ms");
    assert_eq!(count(&r, "/upgrade_ms/count"), 10, "only the answered upgrades are timed");
    let words = diagnosis(&r);
    assert!(
        words.contains("110 in the upgrade (TCP connected, no HTTP answer in time") && words.contains("maxconn"),
        "{words}"
    );
}

/// Every storm connection ends with a closing handshake the server sees:
/// our close frame first, 1000 "wsprobe done", then the server's. Idle
/// connections are parked and closed on their bare socket at the end, so
/// this is the truth of that path, read from Python `websockets` itself.
#[test]
fn storm_closes_every_held_connection_with_a_handshake_the_server_sees() {
    let peer = common::peer::Peer::python("plain_server.py", "websockets", &["echo"]);
    let clients = 200;
    let r = run_json(&[
        "storm",
        &format!("{}/ws", peer.base),
        "--clients",
        &clients.to_string(),
        "--hold",
        "300ms",
        "--disrupt",
        "none",
    ]);
    assert_eq!(r["verdict"], "pass", "{r:#}");
    assert_eq!(count(&r, "/connected"), clients);
    let closes =
        |p: &common::peer::Peer| -> Vec<Value> { p.truth().into_iter().filter(|e| e["event"] == "close").collect() };
    let deadline = std::time::Instant::now() + STARTUP_TIMEOUT;
    while (closes(&peer).len() as u64) < clients && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let seen = closes(&peer);
    assert_eq!(seen.len() as u64, clients, "the server saw {} closes: {seen:?}", seen.len());
    for close in &seen {
        assert_eq!(close["code"], 1000, "{close}");
        assert_eq!(close["reason"], "wsprobe done", "{close}");
        assert_eq!(close["client_first"], true, "the client closed first: {close}");
    }
}

/// A storm's echo hold against a server that answers every message 150 ms
/// late (Python `websockets`, tests/third_party/plain_server.py slow-echo):
/// when the hold ends, about 150 ms of messages are still in flight on
/// every connection. They are waited for (twice the slowest round trip
/// seen), so every message the server answered is counted: received equals
/// sent, none reported lost.
#[test]
fn echoes_in_flight_when_the_run_ends_are_waited_for_not_counted_lost() {
    let peer = common::peer::Peer::python("plain_server.py", "websockets", &["slow-echo", "150"]);
    let r = echo_storm(&peer, "600ms", &[]);
    let (sent, received) = (count(&r, "/messages/sent"), count(&r, "/messages/received"));
    assert!(sent >= 100, "5 clients × about 30 messages: {sent} sent ({r:#})");
    assert_eq!(received, sent, "every echo the server sent was counted: {r:#}");
    let p50 = r["round_trip_ms"]["p50"].as_f64().unwrap_or(0.0);
    assert!(p50 >= 150.0, "the server's 150 ms shows in the round trips: p50 {p50} ms");
}

/// Against a server that reads every message and answers none, the end of
/// the run does not wait for echoes: none ever came, so none is expected
/// (the wait is twice the slowest round trip seen, here none), even with a
/// long --close-timeout. Every message is reported sent and unanswered.
#[test]
fn a_server_that_never_echoes_does_not_hold_up_the_end_of_the_run() {
    let peer = common::peer::Peer::python("plain_server.py", "websockets", &["silent"]);
    let started = std::time::Instant::now();
    let r = echo_storm(&peer, "300ms", &["--close-timeout", "20s"]);
    let took = started.elapsed();
    assert!(count(&r, "/messages/sent") >= 25, "{r:#}");
    assert_eq!(count(&r, "/messages/received"), 0, "{r:#}");
    assert!(took < Duration::from_secs(10), "the run took {took:?}: it waited for echoes that never came");
}

/// Five storm clients sending "hi" every 20 ms to `peer` for `hold`.
fn echo_storm(peer: &common::peer::Peer, hold: &str, more: &[&str]) -> Value {
    let url = format!("{}/ws", peer.base);
    let mut args = vec!["storm", &url, "--clients", "5", "--hold", hold, "--disrupt", "none"];
    args.extend(["--message", "hi", "--message-interval", "20ms"]);
    args.extend(more);
    run_json(&args)
}
