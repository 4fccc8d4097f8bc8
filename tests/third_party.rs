//! `wsprobe serve` answers a client that is not ours: Python's `websockets`
//! (installed by .ci/run) checks the echo, the JSON heartbeat, HTTP 409 on
//! a duplicate device, routing and a clean close handshake.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// `wsprobe serve` on a free port, killed (by its PID) when dropped.
struct ServeProcess {
    child: Child,
    url: String,
}

impl ServeProcess {
    fn start(args: &[&str]) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsprobe"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wsprobe serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("banner");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .expect("ws:// in banner")
            .trim_end_matches('/')
            .to_string();
        ServeProcess { child, url }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_has_websockets() -> bool {
    Command::new("python3").args(["-c", "import websockets"]).status().is_ok_and(|s| s.success())
}

#[test]
fn python_websockets_client_against_wsprobe_serve() {
    assert!(
        python_has_websockets(),
        "python3 with the `websockets` package is needed: pip install websockets (.ci/run does this)"
    );
    let server = ServeProcess::start(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/third_party/python_client.py");
    let out = Command::new("python3").arg(script).arg(&server.url).output().expect("run python client");
    assert!(out.status.success(), "python client failed: {}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(seen["echo"], "hello from python");
    assert_eq!(seen["json_ping"], serde_json::json!({"type": "pong"}));
    assert_eq!(seen["duplicate"], 409);
    assert!(seen["duplicate_body"].as_str().unwrap().contains("already connected"));
    assert_eq!(seen["routed"], serde_json::json!({"type": "message", "from": "py-1", "data": "routed"}));
    assert_eq!(seen["close_code"], 1000, "the server answered the close handshake");
    assert_eq!(seen["reconnect"], "accepted");
}
