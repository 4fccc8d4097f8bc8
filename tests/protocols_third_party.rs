//! `--protocol` judged against real application-protocol servers that
//! scripts/test installs (tests/third_party/README.md): python-socketio
//! under uvicorn and Node socket.io, both with pingInterval = pingTimeout
//! = 1 s, and Node graphql-ws with its default 3 s init timeout.
//!
//! What must hold: with `--protocol socketio` a session outlives two
//! heartbeat deadlines (2 × (pingInterval + pingTimeout)) on both stacks;
//! without it the drop at about 2 s is diagnosed naming Socket.IO and the
//! option; `--no-pong` shows the app-level deadline in Socket.IO's terms,
//! whatever close code the stack sends (python-socketio 1000, Node 1005);
//! graphql-ws holds with the protocol, and its 4408 (or 4406 without the
//! subprotocol) is named without it; an auth refusal is a refusal.
//!
//! Each server runs in its own process group, killed by that group's id
//! when dropped; its readiness line and every run are bounded in time.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::run_json;
use serde_json::Value;

/// How long a peer may take to print its readiness line (uvicorn starts a
/// fresh interpreter; tests run in parallel on 2 cores).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const REJECT: &str = r#"{"token":"reject"}"#;

fn third_party(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/third_party").join(rel)
}

/// A peer server in its own process group, killed by the group's id on drop.
struct Peer {
    child: Child,
    /// The URL from the readiness line (`ws://127.0.0.1:PORT[/path]`).
    url: String,
}

impl Peer {
    fn start(program: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} {args:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = tx.send(line);
                }
            }
        });
        let mut peer = Peer { child, url: String::new() };
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => peer.url = line.split_whitespace().nth(1).unwrap_or_default().to_string(),
            Err(_) => {
                panic!("{program} {args:?}: no READY line within {STARTUP_TIMEOUT:?} ({:?})", peer.child.try_wait())
            }
        }
        assert!(peer.url.starts_with("ws://127.0.0.1:"), "readiness line without a URL: {}", peer.url);
        peer
    }

    fn python_socketio() -> Peer {
        let ok = Command::new("python3").args(["-c", "import socketio, uvicorn"]).status();
        assert!(ok.is_ok_and(|s| s.success()), "python-socketio and uvicorn are needed: run scripts/test");
        Peer::start(
            "python3",
            &[
                third_party("socketio_server.py").to_str().expect("utf-8"),
                "--ping-interval",
                "1",
                "--ping-timeout",
                "1",
            ],
        )
    }

    fn node(script: &str, args: &[&str]) -> Peer {
        assert!(
            third_party("node/node_modules/.package-lock.json").exists(),
            "tests/third_party/node/node_modules is missing: run scripts/test (npm ci)"
        );
        let path = third_party(script);
        let mut all = vec![path.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        Peer::start("node", &all)
    }

    fn node_socketio() -> Peer {
        Peer::node("node/socketio_server.js", &["1000", "1000"])
    }

    fn graphql_ws() -> Peer {
        Peer::node("node/graphql_ws_server.js", &[])
    }

    /// The Engine.IO endpoint spelled out, for runs without `--protocol`.
    fn engine_io_url(&self) -> String {
        format!("{}/socket.io/?EIO=4&transport=websocket", self.url)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: killpg(2) on the process group this test created for its
        // child (process_group(0) makes the child's PID the group id).
        unsafe {
            libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn diagnosis(r: &Value) -> String {
    r["diagnosis"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn socketio_holds(peer: &Peer) {
    // 2 × (pingInterval + pingTimeout) = 4 s; hold 5 s.
    let r = run_json(&["stability", &peer.url, "--protocol", "socketio", "--duration", "5s"]);
    assert_eq!((r["verdict"].as_str(), r["survived"].as_u64()), (Some("pass"), Some(1)), "{r:#}");
    let app = &r["app"];
    assert_eq!(
        (app["announced"]["ping_interval_s"].as_f64(), app["announced"]["ping_timeout_s"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    assert!(app["replies"].as_u64() >= Some(4), "a `3` for every `2`: {app:#}");
    let every = app["server_heartbeats"]["median_interval_s"].as_f64().unwrap_or_default();
    assert!((0.8..1.3).contains(&every), "pings every {every} s");
    assert_eq!(r["heartbeat"], "protocol");
}

#[test]
fn python_socketio_is_held_with_the_protocol() {
    socketio_holds(&Peer::python_socketio());
}

#[test]
fn node_socketio_is_held_with_the_protocol() {
    socketio_holds(&Peer::node_socketio());
}

/// The drop at about pingInterval + pingTimeout, with the code the stack sends.
fn dropped_at_the_heartbeat_deadline(r: &Value, code: u64) {
    assert_eq!(r["verdict"], "fail", "{r:#}");
    let close = &r["closes"][0];
    assert_eq!(close["code"].as_u64(), Some(code), "{close:#}");
    let after = close["after_s"].as_f64().unwrap_or_default();
    assert!((1.6..3.0).contains(&after), "closed after {after} s, expected about 2 s");
}

fn without_the_protocol_socketio_is_named(peer: &Peer, code: u64) {
    let r = run_json(&["stability", &peer.engine_io_url(), "--duration", "4s"]);
    dropped_at_the_heartbeat_deadline(&r, code);
    let text = diagnosis(&r);
    assert!(text.contains("Socket.IO") && text.contains("--protocol socketio"), "{text}");
    assert!(text.contains("pingInterval 1s, pingTimeout 1s"), "{text}");
}

#[test]
fn without_the_protocol_python_socketio_is_named() {
    without_the_protocol_socketio_is_named(&Peer::python_socketio(), 1000);
}

#[test]
fn without_the_protocol_node_socketio_is_named() {
    without_the_protocol_socketio_is_named(&Peer::node_socketio(), 1005);
}

fn no_pong_shows_the_app_deadline(peer: &Peer, code: u64) {
    let r = run_json(&["stability", &peer.url, "--protocol", "socketio", "--no-pong", "--duration", "4s"]);
    dropped_at_the_heartbeat_deadline(&r, code);
    assert!(r["app"]["withheld"].as_u64() >= Some(1), "{:#}", r["app"]);
    let text = diagnosis(&r);
    assert!(text.contains("after a ping that was not answered (pingTimeout 1s; pings every 1s)"), "{text}");
    assert!(text.contains("clients must answer `2` with `3`"), "{text}");
}

#[test]
fn no_pong_shows_python_socketios_deadline() {
    no_pong_shows_the_app_deadline(&Peer::python_socketio(), 1000);
}

#[test]
fn no_pong_shows_node_socketios_deadline() {
    no_pong_shows_the_app_deadline(&Peer::node_socketio(), 1005);
}

fn socketio_refusal_is_a_refusal(peer: &Peer) {
    let r = run_json(&["single", &peer.url, "--protocol", "socketio", "--auth", REJECT]);
    assert_eq!(r["verdict"], "error", "the first connection was refused: {r:#}");
    assert!(r["error"].as_str().unwrap_or_default().contains("connect_error \"unauthorized\" (44)"), "{r:#}");
    let args = ["--clients", "3", "--hold", "100ms", "--disrupt", "none", "--max-attempts", "1"];
    let r = run_json(&[&["storm", &peer.url, "--protocol", "socketio", "--auth", REJECT][..], &args].concat());
    assert_eq!((r["connected"].as_u64(), r["rejections"]["app-refused"].as_u64()), (Some(0), Some(3)), "{r:#}");
    assert!(diagnosis(&r).contains("connect_error \"unauthorized\""), "the server's message: {}", diagnosis(&r));
    let r = run_json(&["single", &peer.url, "--protocol", "socketio", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(r["policy"], "allow-multiple", "accepted when not refused: {r:#}");
}

#[test]
fn a_python_socketio_auth_refusal_is_a_refusal() {
    socketio_refusal_is_a_refusal(&Peer::python_socketio());
}

#[test]
fn a_node_socketio_auth_refusal_is_a_refusal() {
    socketio_refusal_is_a_refusal(&Peer::node_socketio());
}

#[test]
fn graphql_ws_is_held_with_the_protocol() {
    let peer = Peer::graphql_ws();
    let r = run_json(&["stability", &peer.url, "--protocol", "graphql-ws", "--duration", "4s"]);
    assert_eq!(
        (r["verdict"].as_str(), r["survived"].as_u64()),
        (Some("pass"), Some(1)),
        "past the 3 s init timeout: {r:#}"
    );
    assert!(r["app"]["ready_ms"]["count"].as_u64() == Some(1), "{:#}", r["app"]);
}

#[test]
fn without_the_protocol_graphql_ws_closes_are_named() {
    let peer = Peer::graphql_ws();
    let r = run_json(&["stability", &peer.url, "--subprotocol", "graphql-transport-ws", "--duration", "5s"]);
    assert_eq!(r["closes"][0]["code"], 4408, "{r:#}");
    let after = r["closes"][0]["after_s"].as_f64().unwrap_or_default();
    assert!((2.7..4.0).contains(&after), "closed after {after} s, expected about 3 s");
    assert!(diagnosis(&r).contains("4408") && diagnosis(&r).contains("--protocol graphql-ws"), "{}", diagnosis(&r));
    let r = run_json(&["stability", &peer.url, "--duration", "2s"]);
    assert_eq!(r["closes"][0]["code"], 4406, "{r:#}");
    assert!(diagnosis(&r).contains("graphql-transport-ws subprotocol"), "{}", diagnosis(&r));
}

#[test]
fn a_graphql_ws_refusal_is_a_refusal() {
    let peer = Peer::graphql_ws();
    let args = ["--clients", "3", "--hold", "100ms", "--disrupt", "none", "--max-attempts", "1"];
    let r = run_json(&[&["storm", &peer.url, "--protocol", "graphql-ws", "--auth", REJECT][..], &args].concat());
    assert_eq!((r["connected"].as_u64(), r["rejections"]["closed-4403"].as_u64()), (Some(0), Some(3)), "{r:#}");
    let r = run_json(&["connect", &peer.url, "--protocol", "graphql-ws", "--auth", REJECT]);
    assert_eq!((r["verdict"].as_str(), r["close"]["code"].as_u64()), (Some("fail"), Some(4403)), "{r:#}");
    assert!(r["app"]["refusal"].as_str().unwrap_or_default().contains("onConnect refused"), "{r:#}");
}

/// The shipped protocol scenarios run against the real servers with `--target`.
#[test]
fn the_protocol_scenarios_run_against_real_servers() {
    for (file, peer) in [
        ("scenarios/protocols/socketio-app.toml", Peer::node_socketio()),
        ("scenarios/protocols/graphql-subscriptions.toml", Peer::graphql_ws()),
    ] {
        let out = common::wsprobe().args(["run", file, "--target", &peer.url]).output().expect("wsprobe runs");
        assert_eq!(out.status.code(), Some(0), "{file}:\n{}", String::from_utf8_lossy(&out.stdout));
    }
}
