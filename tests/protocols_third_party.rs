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

use std::process::Command;

use common::peer::{third_party, Peer};
use common::run_json;
use serde_json::Value;

const REJECT: &str = r#"{"token":"reject"}"#;

fn python_socketio() -> Peer {
    let ok = Command::new("python3").args(["-c", "import socketio, uvicorn"]).status();
    assert!(ok.is_ok_and(|s| s.success()), "python-socketio and uvicorn are needed: run scripts/test");
    let script = third_party("socketio_server.py");
    Peer::start("python3", &[script.to_str().expect("utf-8"), "--ping-interval", "1", "--ping-timeout", "1"])
}

fn node_socketio() -> Peer {
    Peer::node("node/socketio_server.js", &["1000", "1000"])
}

fn graphql_ws() -> Peer {
    Peer::node("node/graphql_ws_server.js", &[])
}

/// The Engine.IO endpoint spelled out, for runs without `--protocol`.
fn engine_io_url(peer: &Peer) -> String {
    format!("{}/socket.io/?EIO=4&transport=websocket", peer.base)
}

fn diagnosis(r: &Value) -> String {
    r["diagnosis"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn socketio_holds(peer: &Peer) {
    // 2 × (pingInterval + pingTimeout) = 4 s; hold 5 s.
    let r = run_json(&["stability", &peer.base, "--protocol", "socketio", "--duration", "5s"]);
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
    socketio_holds(&python_socketio());
}

#[test]
fn node_socketio_is_held_with_the_protocol() {
    socketio_holds(&node_socketio());
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
    let r = run_json(&["stability", &engine_io_url(peer), "--duration", "4s"]);
    dropped_at_the_heartbeat_deadline(&r, code);
    let text = diagnosis(&r);
    assert!(text.contains("Socket.IO") && text.contains("--protocol socketio"), "{text}");
    assert!(text.contains("pingInterval 1s, pingTimeout 1s"), "{text}");
}

#[test]
fn without_the_protocol_python_socketio_is_named() {
    without_the_protocol_socketio_is_named(&python_socketio(), 1000);
}

#[test]
fn without_the_protocol_node_socketio_is_named() {
    without_the_protocol_socketio_is_named(&node_socketio(), 1005);
}

fn no_pong_shows_the_app_deadline(peer: &Peer, code: u64) {
    let r = run_json(&["stability", &peer.base, "--protocol", "socketio", "--no-pong", "--duration", "4s"]);
    dropped_at_the_heartbeat_deadline(&r, code);
    assert!(r["app"]["withheld"].as_u64() >= Some(1), "{:#}", r["app"]);
    let text = diagnosis(&r);
    assert!(text.contains("after a ping that was not answered (pingTimeout 1s; pings every 1s)"), "{text}");
    assert!(text.contains("clients must answer `2` with `3`"), "{text}");
}

#[test]
fn no_pong_shows_python_socketios_deadline() {
    no_pong_shows_the_app_deadline(&python_socketio(), 1000);
}

#[test]
fn no_pong_shows_node_socketios_deadline() {
    no_pong_shows_the_app_deadline(&node_socketio(), 1005);
}

fn socketio_refusal_is_a_refusal(peer: &Peer) {
    let r = run_json(&["single", &peer.base, "--protocol", "socketio", "--auth", REJECT]);
    assert_eq!(r["verdict"], "error", "the first connection was refused: {r:#}");
    assert!(r["error"].as_str().unwrap_or_default().contains("connect_error \"unauthorized\" (44)"), "{r:#}");
    let args = ["--clients", "3", "--hold", "100ms", "--disrupt", "none", "--max-attempts", "1"];
    let r = run_json(&[&["storm", &peer.base, "--protocol", "socketio", "--auth", REJECT][..], &args].concat());
    assert_eq!((r["connected"].as_u64(), r["rejections"]["app-refused"].as_u64()), (Some(0), Some(3)), "{r:#}");
    assert!(diagnosis(&r).contains("connect_error \"unauthorized\""), "the server's message: {}", diagnosis(&r));
    let r = run_json(&["single", &peer.base, "--protocol", "socketio", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(r["policy"], "allow-multiple", "accepted when not refused: {r:#}");
}

#[test]
fn a_python_socketio_auth_refusal_is_a_refusal() {
    socketio_refusal_is_a_refusal(&python_socketio());
}

#[test]
fn a_node_socketio_auth_refusal_is_a_refusal() {
    socketio_refusal_is_a_refusal(&node_socketio());
}

#[test]
fn graphql_ws_is_held_with_the_protocol() {
    let peer = graphql_ws();
    let r = run_json(&["stability", &peer.base, "--protocol", "graphql-ws", "--duration", "4s"]);
    assert_eq!(
        (r["verdict"].as_str(), r["survived"].as_u64()),
        (Some("pass"), Some(1)),
        "past the 3 s init timeout: {r:#}"
    );
    assert!(r["app"]["ready_ms"]["count"].as_u64() == Some(1), "{:#}", r["app"]);
}

#[test]
fn without_the_protocol_graphql_ws_closes_are_named() {
    let peer = graphql_ws();
    let r = run_json(&["stability", &peer.base, "--subprotocol", "graphql-transport-ws", "--duration", "5s"]);
    assert_eq!(r["closes"][0]["code"], 4408, "{r:#}");
    let after = r["closes"][0]["after_s"].as_f64().unwrap_or_default();
    assert!((2.7..4.0).contains(&after), "closed after {after} s, expected about 3 s");
    assert!(diagnosis(&r).contains("4408") && diagnosis(&r).contains("--protocol graphql-ws"), "{}", diagnosis(&r));
    let r = run_json(&["stability", &peer.base, "--duration", "2s"]);
    assert_eq!(r["closes"][0]["code"], 4406, "{r:#}");
    assert!(diagnosis(&r).contains("graphql-transport-ws subprotocol"), "{}", diagnosis(&r));
}

#[test]
fn a_graphql_ws_refusal_is_a_refusal() {
    let peer = graphql_ws();
    let args = ["--clients", "3", "--hold", "100ms", "--disrupt", "none", "--max-attempts", "1"];
    let r = run_json(&[&["storm", &peer.base, "--protocol", "graphql-ws", "--auth", REJECT][..], &args].concat());
    assert_eq!((r["connected"].as_u64(), r["rejections"]["closed-4403"].as_u64()), (Some(0), Some(3)), "{r:#}");
    let r = run_json(&["connect", &peer.base, "--protocol", "graphql-ws", "--auth", REJECT]);
    assert_eq!((r["verdict"].as_str(), r["close"]["code"].as_u64()), (Some("fail"), Some(4403)), "{r:#}");
    assert!(r["app"]["refusal"].as_str().unwrap_or_default().contains("onConnect refused"), "{r:#}");
}

/// The shipped protocol scenarios run against the real servers with `--target`.
#[test]
fn the_protocol_scenarios_run_against_real_servers() {
    for (file, peer) in [
        ("scenarios/protocols/socketio-app.toml", node_socketio()),
        ("scenarios/protocols/graphql-subscriptions.toml", graphql_ws()),
    ] {
        let out = common::wsprobe().args(["run", file, "--target", &peer.base]).output().expect("wsprobe runs");
        assert_eq!(out.status.code(), Some(0), "{file}:\n{}", String::from_utf8_lossy(&out.stdout));
    }
}
