//! permessage-deflate (RFC 7692) against real peers on loopback: Python
//! `websockets` and Node `ws` with compression on (scripts/test installs
//! them), the reference server's `--deflate` (as `wsprobe serve` and
//! against Python's client, which compresses what it sends), and hostile
//! peers sending a decompression bomb each way.
//!
//! What must hold: compressed echoes are read back exactly, the
//! parameters each server agreed to are reported as it sent them, what
//! was inflated is counted, and a bomb is refused with 1009 (and said to
//! be one) without inflating it.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::hostile::{Hostile, HostileServer};
use common::peer::Peer;
use common::{run_json, ChildGuard, ServeProcess, TestServer};
use serde_json::{json, Value};
use wsprobe::server::config::ServerConfig;

/// Python `websockets` echoing with permessage-deflate (tests/third_party/deflate_echo.py).
fn python_deflate(args: &[&str]) -> Peer {
    Peer::python("deflate_echo.py", "websockets", args)
}

/// Node `ws` with permessage-deflate (tests/third_party/node/deflate_ws.js).
fn node_deflate() -> Peer {
    Peer::node("node/deflate_ws.js", &[])
}

/// `connect --deflate` sending `texts` (and a binary message), listening briefly.
fn connect_deflate(url: &str, texts: &[&str]) -> Value {
    let mut args = vec!["connect", url, "--deflate", "--listen", "500ms"];
    for t in texts {
        args.extend(["--send", t]);
    }
    args.extend(["--send-binary", "00ff00ff00ff00ff00ff"]);
    run_json(&args)
}

/// The inbound messages' data, in order.
fn inbound(json: &Value) -> Vec<String> {
    let messages = json["messages"].as_array().expect("messages");
    messages.iter().filter(|m| m["direction"] == "in").map(|m| m["data"].as_str().unwrap_or("").to_string()).collect()
}

/// Echoes every message exactly, all of them compressed.
fn assert_compressed_echo(json: &Value, texts: &[&str]) {
    assert_eq!(json["verdict"], "pass", "{json:#}");
    let mut expected: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    expected.push("AP8A/wD/AP8A/w==".into());
    assert_eq!(inbound(json), expected, "{json:#}");
    let inflated = &json["deflate"]["inflated"];
    assert_eq!(inflated["messages"], expected.len(), "every echo came compressed: {inflated}");
    let plain: usize = texts.iter().map(|t| t.len()).sum::<usize>() + 10;
    assert_eq!(inflated["inflated_bytes"], plain, "{inflated}");
}

fn params(json: &Value) -> Value {
    json["deflate"]["negotiated"].clone()
}

const TEXTS: [&str; 3] = [
    "the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog",
    "the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog",
    "{\"type\":\"hello\",\"data\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
];

#[test]
fn python_websockets_compressed_echo_and_its_default_parameters() {
    let peer = python_deflate(&[]);
    let json = connect_deflate(&peer.base, &TEXTS);
    assert_compressed_echo(&json, &TEXTS);
    assert_eq!(
        params(&json),
        json!({"server_no_context_takeover": false, "client_no_context_takeover": false,
               "server_max_window_bits": 12, "client_max_window_bits": 12}),
        "websockets' defaults, as it answered: {}",
        json["extensions"]
    );
    let ext = json["extensions"].as_str().unwrap_or("");
    assert!(ext.contains("server_max_window_bits=12"), "{ext}");
    let inflated = &json["deflate"]["inflated"];
    assert!(inflated["compressed_bytes"].as_u64() < inflated["inflated_bytes"].as_u64(), "{inflated}");
}

#[test]
fn python_websockets_without_context_takeover() {
    let peer = python_deflate(&["--no-context-takeover"]);
    let json = connect_deflate(&peer.base, &TEXTS);
    assert_compressed_echo(&json, &TEXTS);
    assert_eq!(
        params(&json),
        json!({"server_no_context_takeover": true, "client_no_context_takeover": true,
               "server_max_window_bits": 10, "client_max_window_bits": null}),
    );
}

#[test]
fn node_ws_compressed_echo_and_its_parameters() {
    let peer = node_deflate();
    let json = connect_deflate(&peer.base, &TEXTS);
    assert_compressed_echo(&json, &TEXTS);
    assert_eq!(
        params(&json),
        json!({"server_no_context_takeover": true, "client_no_context_takeover": true,
               "server_max_window_bits": 10, "client_max_window_bits": null}),
        "{}",
        json["extensions"]
    );
}

#[test]
fn a_server_that_declines_is_reported_as_declining() {
    let server = TestServer::start(ServerConfig::default());
    let json = connect_deflate(&server.url(), &["hello"]);
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["deflate"]["negotiated"], Value::Null);
    assert_eq!(json["deflate"]["inflated"]["messages"], 0);
    assert_eq!(inbound(&json), ["hello", "AP8A/wD/AP8A/w=="]);
}

#[test]
fn wsprobe_serve_deflate_compresses_a_large_message_from_a_file() {
    let server = ServeProcess::start(&["--deflate", "--max-message-size", "4194304"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.json");
    let big = format!("[{}]", vec![r#"{"id":1,"name":"sensor","value":21.5}"#; 20_000].join(","));
    std::fs::write(&file, &big).expect("write");
    let at_file = format!("@{}", file.display());
    let json = run_json(&["connect", &format!("{}/ws", server.url), "--deflate", "--send", &at_file, "--listen", "1s"]);
    assert_eq!(json["verdict"], "pass", "{json:#}");
    assert_eq!(inbound(&json), std::slice::from_ref(&big), "a {}-byte echo, inflated over many fragments", big.len());
    assert_eq!(params(&json)["server_no_context_takeover"], false);
    let inflated = &json["deflate"]["inflated"];
    assert_eq!((inflated["messages"].as_u64(), inflated["inflated_bytes"].as_u64()), (Some(1), Some(big.len() as u64)));
    assert!(inflated["compressed_bytes"].as_u64().unwrap_or(u64::MAX) < big.len() as u64 / 20, "{inflated}");
}

#[test]
fn python_websockets_client_talks_compressed_to_wsprobe_serve_deflate() {
    let server = ServeProcess::start(&["--deflate"]);
    let script = r#"
import asyncio, json, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1] + "/ws?device=py") as ws:
        text = "compress me " * 200
        await ws.send(text)
        echo = await ws.recv()
        await ws.send(bytes(range(256)) * 40)
        binary = await ws.recv()
        names = [e.name for e in ws.protocol.extensions]
        print(json.dumps({"extensions": names, "echo_ok": echo == text, "binary_ok": binary == bytes(range(256)) * 40}))
asyncio.run(main())
"#;
    let out =
        ChildGuard::spawn(Command::new("python3").args(["-c", script, &server.url])).finish(Duration::from_secs(30));
    assert!(out.status.success(), "python client failed: {}", out.stderr);
    let seen: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(seen, json!({"extensions": ["permessage-deflate"], "echo_ok": true, "binary_ok": true}));
}

#[test]
fn a_decompression_bomb_from_the_server_is_refused_with_1009() {
    let server = HostileServer::start(Hostile::DeflateBomb);
    let started = Instant::now();
    let json = run_json(&["connect", &server.url(), "--deflate", "--listen", "3s", "--close-timeout", "1s"]);
    assert!(started.elapsed() < Duration::from_secs(6), "refused in {:?}", started.elapsed());
    assert_eq!(json["verdict"], "fail", "{json:#}");
    assert_eq!(json["close"]["code"], 1009);
    assert_eq!(json["close"]["how"], "protocol-error");
    let detail = json["close"]["detail"].as_str().unwrap_or("");
    assert!(detail.contains("decompression bomb") && detail.contains("16777216-byte limit"), "{detail}");
    assert!(common::eventually(Duration::from_secs(3), || close_code(&server.received()) == Some(1009)));
}

/// The code of the first (masked) client close frame in `bytes`.
fn close_code(bytes: &[u8]) -> Option<u16> {
    let mut at = 0;
    while at + 6 <= bytes.len() {
        let len = usize::from(bytes[at + 1] & 0x7f);
        let key = &bytes[at + 2..at + 6];
        if bytes[at] & 0x0f == 0x8 && len >= 2 && at + 8 <= bytes.len() {
            return Some(u16::from_be_bytes([bytes[at + 6] ^ key[0], bytes[at + 7] ^ key[1]]));
        }
        at += 6 + len;
    }
    None
}

#[test]
fn a_decompression_bomb_from_a_client_is_closed_with_1009_by_the_server() {
    let server = TestServer::start(ServerConfig { deflate: true, ..ServerConfig::default() });
    let mut tcp = std::net::TcpStream::connect(server.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let request = "GET /ws?device=bomber HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    tcp.write_all(request.as_bytes()).expect("request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("101 head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.contains("101") && head.contains("Sec-WebSocket-Extensions: permessage-deflate"), "{head}");
    // The bomb, masked as a client's frames must be (a zero key keeps it as it is).
    let bomb = common::hostile::deflate_bomb();
    let mut frame = vec![bomb[0], 0x80 | 127];
    frame.extend_from_slice(&bomb[2..10]);
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&bomb[10..]);
    let _ = tcp.write_all(&frame);
    let mut answer = [0u8; 4];
    tcp.read_exact(&mut answer).expect("a close frame");
    assert_eq!(answer[0], 0x88, "a close frame: {answer:?}");
    assert_eq!(u16::from_be_bytes([answer[2], answer[3]]), 1009, "message too big (limit 1 MiB, inflated 64 MiB)");
}
