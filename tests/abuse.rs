//! The reference server under abuse: slowloris handshakes, a flood of
//! connection attempts, invalid UTF-8, clients that never read, a sender
//! flooding a recipient that never reads. It stays up, keeps answering a
//! well-behaved client, holds bounded memory, and `/health` stays right.
//!
//! "Keeps answering" is judged against the server's own clock, not ours:
//! the well-behaved client's echoes must come back *while* the abusers are
//! still held (before the handshake or write timeout that would release
//! them fires), which a server that blocks on them cannot do. That holds
//! on a loaded machine and with the tests running in parallel (each on its
//! own server), where a fixed latency budget in milliseconds did not.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{endpoint, eventually, runtime, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use wsprobe::net::connect::{open, Attempt, ClientWs};
use wsprobe::server::config::ServerConfig;
use wsprobe::units::ClientId;

async fn connected(url: &str, client: u32) -> ClientWs {
    match open(&endpoint(url), ClientId::new(client)).await {
        Attempt::Open(o) => o.ws,
        other => panic!("expected an open connection, got {}", other.outcome()),
    }
}

/// Sends `n` messages one at a time and waits for each echo (5 s at most
/// each); returns the slowest round trip, for messages.
async fn echoes(ws: &mut ClientWs, n: usize) -> Duration {
    let mut worst = Duration::ZERO;
    for i in 0..n {
        let t = Instant::now();
        ws.send(Message::text(format!("probe {i}"))).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("echo within 5s") {
                Some(Ok(Message::Text(_))) => break,
                Some(Ok(_)) => continue,
                other => panic!("well-behaved client lost its connection: {other:?}"),
            }
        }
        worst = worst.max(t.elapsed());
    }
    worst
}

fn timed_out_handshakes(server: &TestServer) -> u64 {
    server.health().rejections.get("handshake-timeout").copied().unwrap_or(0)
}

#[test]
fn echo_is_served_while_slowloris_handshakes_hang_and_a_flood_connects() {
    // 500 held handshakes and 1000 attempts need more descriptors than a
    // default soft limit of 1024 (client and server ends in one process).
    wsprobe::net::limits::raise_open_files();
    let hold = Duration::from_secs(6);
    let server = TestServer::start(ServerConfig { handshake_timeout: hold, ..Default::default() });
    let rt = runtime();
    let mut good = rt.block_on(connected(&server.url(), 0));
    let slowloris: Vec<std::net::TcpStream> = (0..500)
        .map(|i| {
            let mut s = std::net::TcpStream::connect(server.addr).expect("slowloris connect");
            let _ = write!(s, "GET /ws?device=slow-{i} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n");
            s
        })
        .collect();
    let url = server.url();
    let flood = rt.spawn(async move {
        let ep = endpoint(&url);
        let mut accepted = 0;
        for batch in 0..10u32 {
            let attempts = (0..100u32).map(|i| open(&ep, ClientId::new(1000 + batch * 100 + i)));
            for a in futures_util::future::join_all(attempts).await {
                if let Attempt::Open(mut o) = a {
                    accepted += 1;
                    let _ = o.ws.close(None).await;
                }
            }
        }
        accepted
    });
    let worst = rt.block_on(echoes(&mut good, 40));
    let accepted = rt.block_on(flood).unwrap();
    // The flood's connections queued behind the slowloris ones, so they
    // were all accepted and pending while the flood and the echoes ran.
    assert_eq!(accepted, 1000, "the flood's well-formed attempts were all served");
    assert_eq!(
        timed_out_handshakes(&server),
        0,
        "echoes (slowest {worst:?}) and the flood were served while the 500 handshakes still hung"
    );
    assert!(eventually(Duration::from_secs(5), || server.health().open_connections == 1), "{:?}", server.health());
    assert!(
        eventually(hold + Duration::from_secs(10), || timed_out_handshakes(&server) == 500),
        "{:?}",
        server.health()
    );
    drop(slowloris);
    assert_eq!(server.health().accepted_total, 1001);
    rt.block_on(echoes(&mut good, 5));
}

#[test]
fn invalid_utf8_from_a_client_is_closed_with_1007() {
    let server = TestServer::start(ServerConfig::default());
    let rt = runtime();
    rt.block_on(async {
        let mut ws = connected(&server.url(), 0).await;
        let mut frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
            vec![0xC3u8, 0x28],
            tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
                tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
            ),
            true,
        );
        frame.header_mut().mask = Some([1, 2, 3, 4]);
        ws.send(Message::Frame(frame)).await.unwrap();
        let end = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(end, Some(1007));
    });
    assert!(eventually(Duration::from_secs(3), || server.health().open_connections == 0));
}

#[test]
fn a_client_that_never_reads_is_dropped_and_others_are_served_meanwhile() {
    let write_timeout = Duration::from_secs(3);
    let server = TestServer::start(ServerConfig { write_timeout, ..Default::default() });
    let rt = runtime();
    rt.block_on(async {
        let mut good = connected(&server.url(), 0).await;
        let mut deaf = connected(&server.url(), 1).await;
        // The deaf client sends until its writes stall: the server no longer
        // reads it, because it is stuck writing echoes the deaf client never
        // reads (TCP buffers full), and will be until its write timeout.
        let payload = "x".repeat(64 * 1024);
        let mut stalled = false;
        for _ in 0..5000 {
            match tokio::time::timeout(Duration::from_millis(200), deaf.send(Message::text(payload.clone()))).await {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => panic!("the deaf client was dropped before the server got stuck on it: {e}"),
                Err(_) => {
                    stalled = true;
                    break;
                }
            }
        }
        assert!(stalled, "the server kept reading a client that never reads");
        let worst = echoes(&mut good, 5).await;
        assert_eq!(
            server.health().open_connections,
            2,
            "echoes (slowest {worst:?}) came back while the server was still stuck on the deaf client"
        );
        assert!(
            eventually(write_timeout + Duration::from_secs(10), || server.health().open_connections == 1),
            "the deaf client was dropped at the write timeout: {:?}",
            server.health()
        );
        echoes(&mut good, 5).await;
    });
}

/// A WebSocket client that upgrades and then never reads, with a small
/// receive buffer so the kernel cannot hide the server's backlog.
async fn deaf_recipient(addr: SocketAddr, device: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = format!(
        "GET /ws?device={device} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await.unwrap().unwrap();
        assert_eq!(n, 1, "the server answered the upgrade");
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    stream
}

/// Sends `rounds` batches of `batch` routed messages to `to`, reading the
/// acks of each batch; returns how many acks said the message was dropped,
/// and how many that the addressee was gone (closed as a slow consumer:
/// how soon that happens depends on how fast the server reads the flood).
async fn flood(sender: &mut ClientWs, to: &str, payload: &str, rounds: usize, batch: usize) -> (usize, usize) {
    let request = format!(r#"{{"type":"send","to":"{to}","data":"{payload}"}}"#);
    let (mut dropped, mut gone) = (0, 0);
    for _ in 0..rounds {
        for _ in 0..batch {
            sender.feed(Message::text(request.clone())).await.unwrap();
        }
        sender.flush().await.unwrap();
        for _ in 0..batch {
            let ack = loop {
                match tokio::time::timeout(Duration::from_secs(5), sender.next()).await.expect("an ack within 5s") {
                    Some(Ok(Message::Text(t))) => break t.to_string(),
                    Some(Ok(_)) => continue,
                    other => panic!("the sender lost its connection: {other:?}"),
                }
            };
            dropped += usize::from(ack.contains("dropped"));
            gone += usize::from(ack.contains("not connected"));
        }
    }
    (dropped, gone)
}

#[test]
fn a_sender_flooding_a_recipient_that_never_reads_meets_a_bounded_queue() {
    let cfg = ServerConfig { write_timeout: Duration::from_millis(500), ..Default::default() };
    let limit = cfg.max_queue_bytes;
    let server = TestServer::start(cfg);
    let rt = runtime();
    rt.block_on(async {
        let deaf = deaf_recipient(server.addr, "deaf").await;
        let mut good = connected(&server.url(), 0).await;
        let mut sender = connected(&server.url(), 1).await;
        // 256 x 64 KiB = 16 MiB at one recipient, 16 times its bound; the
        // count-bounded queue of before held up to 1,024 such messages.
        let payload = "x".repeat(64 * 1024);
        let (((dropped, gone), took), worst) = tokio::join!(
            async {
                let t = Instant::now();
                (flood(&mut sender, "deaf", &payload, 16, 16).await, t.elapsed())
            },
            echoes(&mut good, 10)
        );
        let refused = dropped + gone;
        let health = server.health();
        assert_eq!(health.slow_consumers_closed, 1, "{health:?}");
        assert!(health.queue_peak_bytes <= limit, "peak {} over the bound {limit}", health.queue_peak_bytes);
        // Every message was either queued or refused (and counted), none held.
        assert_eq!(refused as u64 + health.deliveries_total, 256, "{refused} refused, {health:?}");
        assert!(health.deliveries_dropped >= dropped as u64 && refused >= 128, "{dropped}+{gone} refused, {health:?}");
        assert!(took < Duration::from_secs(20), "the sender was never held up: {took:?}");
        // The good client's echoes ran alongside the flood; the bound is
        // tolerant so a loaded machine does not fail it, a stuck server does.
        assert!(worst < Duration::from_secs(5), "the good client was served meanwhile: {worst:?}");
        assert!(
            eventually(Duration::from_secs(5), || server.health().open_connections == 2),
            "the slow consumer was dropped: {:?}",
            server.health()
        );
        assert_eq!(server.health().queued_bytes, 0);
        drop(deaf);
    });
}
