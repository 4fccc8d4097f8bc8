//! The reference server refuses what it must and cannot be locked out:
//! bare-LF requests answered at once, idle sockets waiting to upgrade
//! bounded (the oldest gives way), an impossible pong deadline refused,
//! and logs without colour when stderr is not a terminal.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{endpoint, eventually, runtime, wsprobe, ServeProcess, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::connect::{open, Attempt};
use wsprobe::server::config::ServerConfig;
use wsprobe::units::ClientId;

fn answer(server: &TestServer, request: &str) -> (String, Duration) {
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let started = Instant::now();
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    (String::from_utf8_lossy(&out).into_owned(), started.elapsed())
}

#[test]
fn a_bare_lf_request_gets_400_at_once_not_408_after_the_timeout() {
    let server = TestServer::start(ServerConfig::default());
    let (text, took) = answer(&server, "GET /ws?device=a HTTP/1.1\nHost: x\nUpgrade: websocket\n\n");
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn more_than_64_headers_get_431() {
    let server = TestServer::start(ServerConfig::default());
    let pad = "X-Pad: 1\r\n".repeat(70);
    let (text, _) = answer(&server, &format!("GET /ws?device=a HTTP/1.1\r\nHost: x\r\n{pad}\r\n"));
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
}

#[test]
fn idle_sockets_waiting_to_upgrade_cannot_lock_a_client_out() {
    let cfg =
        ServerConfig { max_handshakes: Some(16), handshake_timeout: Duration::from_secs(30), ..Default::default() };
    let server = TestServer::start(cfg);
    let idle: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(server.addr).expect("idle connect")).collect();
    let evicted = || server.health().rejections.get("handshake-evicted").copied().unwrap_or(0);
    assert!(eventually(Duration::from_secs(5), || evicted() >= 24), "evicted {}", evicted());
    let rt = runtime();
    let started = Instant::now();
    rt.block_on(async {
        let Attempt::Open(o) = open(&endpoint(&server.url()), ClientId::new(0)).await else { panic!("locked out") };
        let mut ws = o.ws;
        ws.send(Message::text("hello")).await.expect("send");
        let echo = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("echo within 5 s");
        assert!(matches!(echo, Some(Ok(Message::Text(_)))), "{echo:?}");
    });
    assert!(started.elapsed() < Duration::from_secs(5), "long before the 30 s handshake timeout");
    drop(idle);
}

#[test]
fn a_pong_deadline_within_the_ping_interval_is_refused_naming_both_flags() {
    let out = wsprobe().args(["serve", "--ping-interval", "1s", "--pong-timeout", "1s"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pong-timeout") && err.contains("--ping-interval"), "{err}");
    let out = wsprobe().args(["single", "--server-ping-interval", "1s", "--server-pong-timeout", "500ms"]).output();
    let err = String::from_utf8_lossy(&out.expect("runs").stderr).into_owned();
    assert!(err.contains("--server-pong-timeout") && err.contains("--server-ping-interval"), "{err}");
}

#[test]
fn logs_have_no_colour_when_stderr_is_not_a_terminal() {
    let mut serve = ServeProcess::start(&["-vv"]);
    let rt = runtime();
    rt.block_on(async {
        if let Attempt::Open(mut o) = open(&endpoint(&serve.url), ClientId::new(0)).await {
            let _ = o.ws.close(None).await;
        }
    });
    let line = serve.child.stderr_line(Duration::from_secs(10), |l| l.contains("upgraded"));
    let line = line.expect("a debug line for the upgrade");
    assert!(!line.contains('\x1b'), "{line:?}");
}
