//! `wsprobe serve` answers a client that is not ours: Python's `websockets`
//! (scripts/test installs it) checks the echo, the JSON heartbeat, HTTP 409 on
//! a duplicate device, routing and a clean close handshake.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{ChildGuard, ServeProcess};

fn python_has_websockets() -> bool {
    Command::new("python3").args(["-c", "import websockets"]).status().is_ok_and(|s| s.success())
}

#[test]
fn python_websockets_client_against_wsprobe_serve() {
    assert!(
        python_has_websockets(),
        "python3 with the `websockets` package is needed: pip install websockets (scripts/test does this)"
    );
    let server = ServeProcess::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/third_party/python_client.py");
    let out = ChildGuard::spawn(Command::new("python3").arg(script).arg(&server.url)).finish(Duration::from_secs(30));
    assert!(out.status.success(), "python client failed: {}", out.stderr);
    let seen: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON line");
    assert_eq!(seen["echo"], "hello from python");
    assert_eq!(seen["json_ping"], serde_json::json!({"type": "pong"}));
    assert_eq!(seen["duplicate"], 409);
    assert!(seen["duplicate_body"].as_str().unwrap().contains("already connected"));
    assert_eq!(seen["routed"], serde_json::json!({"type": "message", "from": "py-1", "data": "routed"}));
    assert_eq!(seen["close_code"], 1000, "the server answered the close handshake");
    assert_eq!(seen["reconnect"], "accepted");
}
