//! The reference server's deliveries over real loopback sockets: broadcast
//! (every open connection of the worker, data verbatim, no ack), `--workers
//! K` (separate registries dealt round-robin, limits counted per worker),
//! and the `cross-talk` and `duplicate-delivery` faults.

mod common;

use common::ws::{connect, connected, next_text};
use common::{runtime, TestServer};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::connect::{Attempt, ClientWs};
use wsprobe::server::config::{Fault, ServerConfig};

/// Sends a probe and expects its echo as the very next text: nothing else
/// was queued for this client before it.
async fn nothing_else(ws: &mut ClientWs) {
    ws.send(Message::text("probe")).await.unwrap();
    assert_eq!(next_text(ws).await, "probe", "nothing but the probe's echo");
}

#[test]
fn broadcast_reaches_every_connection_with_the_data_verbatim() {
    let server = TestServer::start(ServerConfig::default());
    runtime().block_on(async {
        let mut clients = Vec::new();
        for i in 0..3 {
            clients.push(connected(&server.url(), i).await);
        }
        let mut anonymous = connected(&format!("ws://{}/ws", server.addr), 9).await;
        let sent = r#"{"type":"broadcast","data":"n-42 caf\u00e9"}"#;
        clients[1].send(Message::text(sent)).await.unwrap();
        let expected = r#"{"type":"broadcast","from":"dev-1","data":"n-42 caf\u00e9"}"#;
        assert_eq!(next_text(&mut clients[1]).await, expected, "the sender's own copy comes first, no ack");
        nothing_else(&mut clients[1]).await;
        for (i, ws) in clients.iter_mut().enumerate().filter(|(i, _)| *i != 1) {
            assert_eq!(next_text(ws).await, expected, "client {i}");
            nothing_else(ws).await;
        }
        assert_eq!(next_text(&mut anonymous).await, expected, "a connection without an identity too");
        anonymous.send(Message::text(r#"{"type":"broadcast","data":{"n":[1,2.50]}}"#)).await.unwrap();
        let got = next_text(&mut clients[0]).await;
        assert_eq!(got, r#"{"type":"broadcast","from":null,"data":{"n":[1,2.50]}}"#);
    });
    let health = server.health();
    assert_eq!((health.deliveries_total, health.deliveries_dropped), (8, 0), "{health:?}");
}

#[test]
fn workers_keep_separate_registries() {
    let server = TestServer::start(ServerConfig { workers: 2, ..Default::default() });
    runtime().block_on(async {
        // Dealt round-robin: dev-0 and dev-2 on worker 0, dev-1 and dev-3 on 1.
        let mut clients = Vec::new();
        for i in 0..4 {
            clients.push(connected(&server.url(), i).await);
        }
        let mut second = connected(&server.url(), 1).await;
        assert!(
            matches!(connect(&server.url(), 1).await, Attempt::Rejected(r) if r.status == 409),
            "the worker that already holds dev-1 refuses it"
        );
        let health = server.health();
        assert_eq!((health.open_connections, health.identities), (5, 5), "{health:?}");
        let per_worker: Vec<(usize, usize, usize)> =
            health.workers.iter().map(|w| (w.worker, w.open, w.identities)).collect();
        assert_eq!(per_worker, vec![(0, 3, 3), (1, 2, 2)]);
        assert_eq!(health.rejections.get("duplicate"), Some(&1));

        clients[0].send(Message::text(r#"{"type":"broadcast","data":"w0"}"#)).await.unwrap();
        for ws in [&mut clients[0], &mut second] {
            assert!(next_text(ws).await.contains(r#""data":"w0""#));
        }
        assert!(next_text(&mut clients[2]).await.contains(r#""data":"w0""#));
        assert_eq!(server.health().deliveries_total, 3, "only worker 0's three connections");
        nothing_else(&mut clients[1]).await;
        nothing_else(&mut clients[3]).await;
    });
}

#[test]
fn workers_multiply_per_ip_limits_and_caps() {
    let cfg = ServerConfig {
        workers: 2,
        rate_limit: Some("1/30s".parse().unwrap()),
        max_clients: Some(2),
        ..Default::default()
    };
    let server = TestServer::start(cfg);
    runtime().block_on(async {
        // One accept per IP per 30 s, but each worker counts its own.
        let _a = connected(&server.url(), 0).await;
        let _b = connected(&server.url(), 1).await;
        assert!(matches!(connect(&server.url(), 2).await, Attempt::Rejected(r) if r.status == 429));
    });
    let server = TestServer::start(ServerConfig { workers: 2, max_clients: Some(1), ..Default::default() });
    runtime().block_on(async {
        let _a = connected(&server.url(), 0).await;
        let _b = connected(&server.url(), 1).await;
        assert!(matches!(connect(&server.url(), 2).await, Attempt::Rejected(r) if r.status == 503));
        assert_eq!((server.health().slots_in_use, server.health().max_clients), (2, Some(1)));
    });
}

#[test]
fn cross_talk_fault_delivers_a_send_to_everyone() {
    let server = TestServer::start(ServerConfig { faults: vec![Fault::CrossTalk], ..Default::default() });
    runtime().block_on(async {
        let mut clients = Vec::new();
        for i in 0..3 {
            clients.push(connected(&server.url(), i).await);
        }
        clients[0].send(Message::text(r#"{"type":"send","to":"dev-1","data":"for-1"}"#)).await.unwrap();
        let message = r#"{"type":"message","from":"dev-0","data":"for-1"}"#;
        let (mut ack, mut copy) = (None, None);
        for _ in 0..2 {
            let text = next_text(&mut clients[0]).await;
            if text.contains(r#""type":"sent""#) {
                ack = Some(text)
            } else {
                copy = Some(text)
            }
        }
        let ack: serde_json::Value = serde_json::from_str(&ack.expect("an ack")).unwrap();
        assert_eq!((ack["to"].as_str(), ack["delivered"].as_u64()), (Some("dev-1"), Some(3)));
        assert_eq!(copy.as_deref(), Some(message), "even the sender got it");
        for ws in &mut clients[1..] {
            assert_eq!(next_text(ws).await, message);
        }
    });
}

#[test]
fn duplicate_delivery_fault_delivers_everything_twice() {
    let server = TestServer::start(ServerConfig { faults: vec![Fault::DuplicateDelivery], ..Default::default() });
    runtime().block_on(async {
        let mut one = connected(&server.url(), 1).await;
        let mut two = connected(&server.url(), 2).await;
        one.send(Message::text(r#"{"type":"broadcast","data":"b"}"#)).await.unwrap();
        for _ in 0..2 {
            assert_eq!(next_text(&mut two).await, r#"{"type":"broadcast","from":"dev-1","data":"b"}"#);
        }
        one.send(Message::text(r#"{"type":"send","to":"dev-2","data":"s"}"#)).await.unwrap();
        for _ in 0..2 {
            assert_eq!(next_text(&mut two).await, r#"{"type":"message","from":"dev-1","data":"s"}"#);
        }
        nothing_else(&mut two).await;
    });
    assert_eq!(server.health().deliveries_total, 6, "two copies to each of two recipients, then two routed");
}

#[test]
fn one_broadcast_reaches_five_hundred_clients() {
    let server = TestServer::start(ServerConfig::default());
    runtime().block_on(async {
        let url = server.url();
        let opened = futures_util::future::join_all((0..500).map(|i| connected(&url, i))).await;
        let mut clients = opened;
        clients[0].send(Message::text(r#"{"type":"broadcast","data":"nonce-500"}"#)).await.unwrap();
        let reads = clients.iter_mut().map(|ws| async move { next_text(ws).await.contains("nonce-500") });
        let got = futures_util::future::join_all(reads).await;
        assert_eq!(got.iter().filter(|ok| **ok).count(), 500);
    });
    assert_eq!(server.health().deliveries_total, 500);
}
