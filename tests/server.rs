//! The reference server's behaviours, driven over real loopback sockets:
//! echo, JSON heartbeat, routing, /health, limits, timers and shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{runtime, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use wsprobe::event::EndHow;
use wsprobe::net::connect::{Attempt, ClientWs};
use wsprobe::net::session::{interpret, Read};
use wsprobe::server::config::{DropMode, ServerConfig};
use wsprobe::units::Rate;

use common::ws::{connect, connected, next_text};

/// Reads until the connection ends; returns how, and how long it took.
async fn until_end(ws: &mut ClientWs) -> (wsprobe::event::CloseInfo, Duration) {
    let t = Instant::now();
    loop {
        let item = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("ends within 10s");
        if let Read::Ended(close) = interpret(item) {
            return (close, t.elapsed());
        }
    }
}

#[test]
fn echoes_text_and_binary_and_answers_json_ping() {
    let server = TestServer::start(ServerConfig::default());
    runtime().block_on(async {
        let mut ws = connected(&server.url(), 0).await;
        ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "hello");
        ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
        assert_eq!(next_text(&mut ws).await, r#"{"type":"pong"}"#);
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        let reply = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("echo within 5s");
        assert_eq!(reply.expect("open").expect("a frame"), Message::binary(vec![1u8, 2, 3]));
    });
}

#[test]
fn routes_a_message_to_one_identity_only() {
    let server = TestServer::start(ServerConfig::default());
    runtime().block_on(async {
        let mut one = connected(&server.url(), 1).await;
        let mut two = connected(&server.url(), 2).await;
        let mut three = connected(&server.url(), 3).await;
        one.send(Message::text(r#"{"type":"send","to":"dev-2","data":{"n":7}}"#)).await.unwrap();
        let ack: serde_json::Value = serde_json::from_str(&next_text(&mut one).await).unwrap();
        assert_eq!(ack["type"], "sent");
        assert_eq!(ack["delivered"], 1);
        let got: serde_json::Value = serde_json::from_str(&next_text(&mut two).await).unwrap();
        assert_eq!(got, serde_json::json!({"type": "message", "from": "dev-1", "data": {"n": 7}}));
        three.send(Message::text("probe")).await.unwrap();
        assert_eq!(next_text(&mut three).await, "probe", "dev-3 got nothing routed before its own echo");
        one.send(Message::text(r#"{"type":"send","to":"nobody","data":1}"#)).await.unwrap();
        assert!(next_text(&mut one).await.contains("not connected"));
    });
}

/// One plain HTTP request; the server answers and closes (within 5 s).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("the server answered and closed within 5s")
        .unwrap();
    out
}

#[test]
fn health_counts_connections_identities_and_rejections() {
    let server = TestServer::start(ServerConfig::default());
    runtime().block_on(async {
        let _a = connected(&server.url(), 0).await;
        let _b = connected(&server.url(), 1).await;
        assert!(matches!(connect(&server.url(), 0).await, Attempt::Rejected(r) if r.status == 409));
        let response = http_get(server.addr, "/health").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let body = response.split("\r\n\r\n").nth(1).unwrap();
        let health: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(health["open_connections"], 2);
        assert_eq!(health["identities"], 2);
        assert_eq!(health["rejections"]["duplicate"], 1);
        assert_eq!(health["status"], "ok");
    });
}

#[test]
fn plain_http_is_told_to_upgrade() {
    let server = TestServer::start(ServerConfig::default());
    let response = runtime().block_on(http_get(server.addr, "/ws"));
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    assert!(response.contains("Sec-WebSocket-Version: 13"));
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let server =
        TestServer::start(ServerConfig { rate_limit: Some("2/10s".parse::<Rate>().unwrap()), ..Default::default() });
    runtime().block_on(async {
        for i in 0..2 {
            assert!(matches!(connect(&server.url(), i).await, Attempt::Open(_)));
        }
        match connect(&server.url(), 9).await {
            Attempt::Rejected(r) => {
                assert_eq!(r.status, 429);
                let retry: u64 = r.retry_after.as_deref().unwrap().parse().unwrap();
                assert!((9..=10).contains(&retry), "Retry-After {retry}");
                assert!(r.body.contains("rate limit"));
            }
            other => panic!("expected 429, got {}", other.outcome()),
        }
    });
}

#[test]
fn max_clients_answers_503_and_frees_slots() {
    let server = TestServer::start(ServerConfig { max_clients: Some(2), ..Default::default() });
    runtime().block_on(async {
        let mut a = connected(&server.url(), 0).await;
        let _b = connected(&server.url(), 1).await;
        assert!(matches!(connect(&server.url(), 2).await, Attempt::Rejected(r) if r.status == 503));
        wsprobe::net::session::close_cleanly(&mut a, 1000, "bye", Duration::from_secs(2)).await;
        let mut freed = false;
        for _ in 0..50 {
            if let Attempt::Open(_) = connect(&server.url(), 3).await {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(freed, "the closed connection's slot came back");
    });
}

#[test]
fn timers_end_connections_as_configured() {
    let cases = [
        (ServerConfig { token_ttl: Some(Duration::from_millis(300)), ..Default::default() }, 4001, EndHow::CloseFrame),
        (ServerConfig { drop_after: Some(Duration::from_millis(300)), ..Default::default() }, 1006, EndHow::Eof),
        (
            ServerConfig {
                drop_after: Some(Duration::from_millis(300)),
                drop_mode: DropMode::Close,
                ..Default::default()
            },
            1000,
            EndHow::CloseFrame,
        ),
        (ServerConfig { idle_timeout: Some(Duration::from_millis(300)), ..Default::default() }, 1006, EndHow::Eof),
    ];
    for (cfg, code, how) in cases {
        let server = TestServer::start(cfg.clone());
        runtime().block_on(async {
            let mut ws = connected(&server.url(), 0).await;
            let (close, after) = until_end(&mut ws).await;
            assert_eq!((close.code, close.how), (code, how), "{}", cfg.summary());
            assert!(
                after >= Duration::from_millis(250) && after < Duration::from_secs(3),
                "{after:?} for {}",
                cfg.summary()
            );
        });
    }
}

#[test]
fn server_pings_on_its_interval() {
    let server =
        TestServer::start(ServerConfig { ping_interval: Some(Duration::from_millis(100)), ..Default::default() });
    runtime().block_on(async {
        let mut ws = connected(&server.url(), 0).await;
        let mut at = Vec::new();
        while at.len() < 7 {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a ping within 5s") {
                Some(Ok(Message::Ping(_))) => at.push(Instant::now()),
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
        // The median gap: one late wake-up on a busy machine (and the
        // catch-up tick after it) does not move it.
        let mut gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort();
        let median = gaps[gaps.len() / 2];
        assert!(
            median >= Duration::from_millis(70) && median <= Duration::from_millis(200),
            "median gap {median:?} between pings at 100ms: {gaps:?}"
        );
    });
}

#[test]
fn shutdown_closes_every_connection_with_1001() {
    let server = TestServer::start(ServerConfig::default());
    let rt = runtime();
    let mut ws = rt.block_on(connected(&server.url(), 0));
    let waiter = rt.spawn(async move { until_end(&mut ws).await });
    server.stop();
    let (close, _) = rt.block_on(waiter).unwrap();
    assert_eq!((close.code, close.reason.as_str(), close.abnormal), (1001, "server shutting down", false));
}

#[test]
fn oversized_message_is_closed_with_1009() {
    let server = TestServer::start(ServerConfig { max_message_size: 1024, ..Default::default() });
    runtime().block_on(async {
        let mut ws = connected(&server.url(), 0).await;
        ws.send(Message::binary(vec![0u8; 4096])).await.unwrap();
        let (close, _) = until_end(&mut ws).await;
        assert_eq!(close.code, 1009);
        assert!(common::eventually(Duration::from_secs(3), || server.health().open_connections == 0));
    });
}
