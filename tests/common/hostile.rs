//! A hostile WebSocket server for tests: raw TCP on 127.0.0.1:0, one std
//! thread per connection, each misbehaving in one specific way. Every
//! connection ends within `LIFETIME`, so no test can hang on it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

const LIFETIME: Duration = Duration::from_secs(20);

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Accepts TCP, never answers the upgrade.
    Silent,
    /// Answers with bytes that are not HTTP.
    Garbage,
    /// Answers 101 with a wrong Sec-WebSocket-Accept.
    WrongAccept,
    /// Upgrades, then sends a frame with RSV1 set.
    ReservedBits,
    /// Upgrades, then sends a frame with the reserved opcode 0x3.
    BadOpcode,
    /// Upgrades, then sends a masked frame (servers must not mask).
    MaskedFrame,
    /// Upgrades, then sends a text frame with invalid UTF-8.
    InvalidUtf8,
    /// Upgrades, then announces a 100 MB frame and streams it.
    HugeFrame,
    /// Upgrades, then ends TCP in the middle of a frame.
    CloseMidFrame,
    /// Upgrades, sends a close frame, and keeps TCP open.
    CloseKeepOpen,
    /// Trickles its 101 answer one byte per second.
    Trickle,
    /// Upgrades, then never reads another byte (a stuck or overloaded peer).
    Deaf,
    /// Upgrades, then floods ping frames and never reads.
    PingFlood,
    /// Upgrades, reads what the client sends and never answers (no echo).
    NoEcho,
    /// Upgrades, sends a close frame, and ends TCP once the client's
    /// close frame has arrived (RFC 6455 7.1.1).
    CloseThenEnd,
    /// Upgrades, sends terminal escapes in a text frame, then closes with
    /// a reason that tries to forge the verdict line.
    Escapes,
    /// Upgrades, then closes with code 1005, which must never be on the wire.
    Close1005,
    /// Upgrades, then closes with a reason that is not UTF-8.
    CloseBadReason,
    /// Answers `100 Continue` before its 101.
    ContinueFirst,
    /// Accepts permessage-deflate, then sends one compressed binary
    /// message of 64 MiB of zeros (about 64 KiB on the wire): a
    /// decompression bomb.
    DeflateBomb,
}

/// The running fixture; stops its accept loop when dropped.
pub struct HostileServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl HostileServer {
    /// Starts the fixture.
    pub fn start(kind: Hostile) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let flag = stop.clone();
        let sink = received.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let sink = sink.clone();
                        std::thread::spawn(move || serve(stream, kind, &sink));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HostileServer { addr, stop, thread: Some(thread), received }
    }

    /// What clients sent after the upgrade (all connections, in order).
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// A URL for it.
    pub fn url(&self) -> String {
        format!("ws://{}/ws?device=dev-{{client}}", self.addr)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(stream: &mut TcpStream) -> Option<String> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16384 {
        match stream.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn accept_key(head: &str) -> String {
    let key = head.lines().find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap_or("").trim();
    derive_accept_key(key.as_bytes())
}

fn upgrade(stream: &mut TcpStream, accept: &str) -> bool {
    let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
    stream.write_all(response.as_bytes()).is_ok()
}

/// Waits (bounded) until the client closes, keeping what it sends.
fn linger(stream: &mut TcpStream, sink: &Mutex<Vec<u8>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let until = Instant::now() + LIFETIME;
    let mut buf = [0u8; 1024];
    while Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if let Ok(mut kept) = sink.lock() {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

fn serve(mut stream: TcpStream, kind: Hostile, sink: &Mutex<Vec<u8>>) {
    let Some(head) = read_head(&mut stream) else { return };
    let accept = accept_key(&head);
    let frame: &[u8] = match kind {
        Hostile::Silent => return linger(&mut stream, sink),
        Hostile::Garbage => {
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01\x02 not http at all\r\n\r\n");
            return;
        }
        Hostile::WrongAccept => {
            upgrade(&mut stream, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            return linger(&mut stream, sink);
        }
        Hostile::Trickle => {
            let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
            for b in response.bytes() {
                if stream.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            return linger(&mut stream, sink);
        }
        Hostile::ReservedBits => &[0xC1, 0x02, b'h', b'i'],
        Hostile::BadOpcode => &[0x83, 0x00],
        Hostile::MaskedFrame => &[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2],
        Hostile::InvalidUtf8 => &[0x81, 0x02, 0xC3, 0x28],
        Hostile::CloseMidFrame => &[0x81, 0x0A, b'h', b'e'],
        Hostile::CloseKeepOpen => &[0x88, 0x02, 0x03, 0xE8],
        Hostile::HugeFrame | Hostile::Deaf | Hostile::PingFlood | Hostile::NoEcho => &[],
        Hostile::CloseThenEnd => &[0x88, 0x06, 0x0F, 0xA1, b'b', b'y', b'e', b'!'],
        Hostile::Escapes => ESCAPES,
        Hostile::Close1005 => &[0x88, 0x02, 0x03, 0xED],
        Hostile::CloseBadReason => &[0x88, 0x04, 0x03, 0xE8, 0xC3, 0x28],
        Hostile::ContinueFirst => {
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
            upgrade(&mut stream, &accept);
            return linger(&mut stream, sink);
        }
        Hostile::DeflateBomb => {
            let response = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
            let _ = stream.write_all(response.as_bytes());
            let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(&deflate_bomb());
            return linger(&mut stream, sink);
        }
    };
    if !upgrade(&mut stream, &accept) {
        return;
    }
    match kind {
        Hostile::HugeFrame => huge_frame(&mut stream),
        Hostile::Deaf => std::thread::sleep(DEAF_FOR),
        Hostile::PingFlood => ping_flood(&mut stream),
        Hostile::CloseThenEnd => {
            let _ = stream.write_all(frame);
            until_close_frame(&mut stream, sink);
        }
        Hostile::CloseMidFrame => {
            let _ = stream.write_all(frame);
        }
        _ => {
            let _ = stream.write_all(frame);
            linger(&mut stream, sink);
        }
    }
}

/// Bytes the bomb inflates to.
pub const BOMB_INFLATED: usize = 64 << 20;

/// One FIN, RSV1, binary frame holding [`BOMB_INFLATED`] zeros, deflated.
pub fn deflate_bomb() -> Vec<u8> {
    let params = wsprobe::net::deflate::DeflateParams::default();
    let payload = wsprobe::net::deflate::Deflater::new(&params).compress(&vec![0u8; BOMB_INFLATED]);
    let mut frame = vec![0xC2, 127];
    frame.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame
}

fn huge_frame(stream: &mut TcpStream) {
    let mut header = vec![0x82, 127];
    header.extend_from_slice(&(100u64 << 20).to_be_bytes());
    if stream.write_all(&header).is_err() {
        return;
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let chunk = vec![0u8; 64 * 1024];
    let until = Instant::now() + LIFETIME;
    for _ in 0..1600 {
        if Instant::now() > until || stream.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// How long a deaf connection stays open (past every test's bound).
const DEAF_FOR: Duration = Duration::from_secs(12);

/// Pings as fast as the socket takes them, for a bounded time, reading nothing.
fn ping_flood(stream: &mut TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let ping = [0x89, 0x04, b'p', b'i', b'n', b'g'];
    let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 1000).collect();
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        if let Err(e) = stream.write_all(&burst) {
            if !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
                return;
            }
        }
    }
}

/// Reads (bounded) until a client close frame has arrived, then ends TCP.
fn until_close_frame(stream: &mut TcpStream, sink: &Mutex<Vec<u8>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let until = Instant::now() + LIFETIME;
    let mut buf = [0u8; 1024];
    while Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if let Ok(mut kept) = sink.lock() {
                    kept.extend_from_slice(&buf[..n]);
                    if kept.first() == Some(&0x88) {
                        return; // a close frame: our turn to end TCP
                    }
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// `ESC[2J ESC[H` (clear, home) and a BEL in a text frame; then a close
/// 1000 whose reason is `\r\nPASS  9/9 \x1b[1A`.
const ESCAPES: &[u8] = &[
    0x81, 0x0C, 0x1b, b'[', b'2', b'J', 0x1b, b'[', b'H', b'f', b'a', b'k', b'e', 0x07, //
    0x88, 0x0F, 0x03, 0xE8, b'\r', b'\n', b'P', b'A', b'S', b'S', b' ', b' ', b'9', b'/', b'9', 0x1b, b'[',
];
