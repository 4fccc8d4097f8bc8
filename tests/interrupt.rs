//! Ctrl-C (SIGINT) and SIGTERM (CI cancel, `docker stop`, `timeout`),
//! sent to the PID we started, during long runs: the process exits
//! promptly, prints the partial report, writes `--out`, `--json` is still
//! one valid object, a second signal quits at once, and `serve` closes its
//! connections with 1001.
//!
//! No test sleeps before the signal: each waits (with a deadline) for an
//! event that shows the run has got where the test needs it, seen from
//! the server side of a real connection.

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::contract::{self, StabilityReport};
use common::{endpoint, runtime, wsprobe, ChildGuard, ServeProcess, TestServer};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use wsprobe::net::connect::{open, Attempt, ClientWs};
use wsprobe::server::config::ServerConfig;
use wsprobe::units::ClientId;

/// How long a process may take to exit after Ctrl-C.
const EXIT_BOUND: Duration = Duration::from_secs(8);

/// How long the run may take to reach the point where the test interrupts it.
const READY_BOUND: Duration = Duration::from_secs(20);

/// A WebSocket server that pings its client every 20 ms and reports the
/// running count of pongs. tungstenite queues a pong when wsprobe reads
/// the ping and writes it on the next read, after wsprobe has recorded
/// the ping, so `n` pongs back mean wsprobe has counted `n` server pings.
///
/// With `deaf_after: Some(n)` it stops reading once `n` pongs came back
/// (keeping the TCP connection open), so wsprobe's close at the end waits
/// its whole close timeout for an answer that never comes.
struct Pinger {
    addr: std::net::SocketAddr,
    pongs: mpsc::Receiver<u64>,
    stop: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pinger {
    fn start() -> Pinger {
        Pinger::start_with(None)
    }

    fn start_with(deaf_after: Option<u64>) -> Pinger {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (pong_tx, pongs) = mpsc::channel();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx.send(listener.local_addr().expect("addr")).expect("send addr");
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = token.cancelled() => return,
                };
                let Ok((stream, _)) = accepted else { return };
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let mut pongs = 0;
                loop {
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tick.tick() => {
                            if ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                                return;
                            }
                        }
                        msg = ws.next() => match msg {
                            Some(Ok(Message::Pong(_))) => {
                                pongs += 1;
                                let _ = pong_tx.send(pongs);
                                if deaf_after.is_some_and(|n| pongs >= n) {
                                    token.cancelled().await;
                                    return;
                                }
                            }
                            Some(Ok(_)) => {}
                            _ => return,
                        },
                    }
                }
            });
        });
        let addr = addr_rx.recv().expect("pinger started");
        Pinger { addr, pongs, stop, thread: Some(thread) }
    }

    /// Waits until `n` pongs came back, or fails the test at the deadline.
    fn wait_for_pongs(&self, n: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.pongs.recv_timeout(left) {
                Ok(count) if count >= n => return,
                Ok(_) => {}
                Err(e) => panic!("{n} pongs did not come back within {within:?}: {e}"),
            }
        }
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn ctrl_c_during_a_soak_prints_the_partial_report_as_json() {
    let pinger = Pinger::start();
    let url = format!("ws://{}/ws", pinger.addr);
    let child = ChildGuard::wsprobe(&["stability", &url, "--duration", "60s", "--json"]);
    pinger.wait_for_pongs(5, READY_BOUND);
    child.interrupt();
    let out = child.finish(EXIT_BOUND);
    let report: StabilityReport = contract::parse(&out.stdout);
    assert_eq!(report.interrupted, Some(true));
    assert_eq!(report.verdict, contract::Verdict::Error, "a run cut short does not pass");
    assert!(report.server_pings.count >= 5, "what was seen is kept: {}", out.stdout);
    assert!(report.closes.is_empty(), "our own close at Ctrl-C is not a drop: {:?}", report.closes);
    assert!(report.held_s < 60.0, "it held for the time it ran, not the 60 s planned: {}", report.held_s);
    let survival = report.findings.iter().find(|f| f.check == "survival").expect("a survival finding");
    assert!(survival.detail.ends_with("of the planned 60s (interrupted)"), "{}", survival.detail);
    assert_eq!(out.status.code(), Some(2));
}

/// Ctrl-C a few seconds into a 20 s soak: the survival line speaks of the
/// time run ("for 0.4s of the planned 20s (interrupted)"), never of the
/// 20 s that were not.
#[test]
fn ctrl_c_during_a_soak_speaks_of_the_time_it_ran() {
    let pinger = Pinger::start();
    let url = format!("ws://{}/ws", pinger.addr);
    let child = ChildGuard::wsprobe(&["stability", &url, "--duration", "20s"]);
    pinger.wait_for_pongs(5, READY_BOUND);
    child.interrupt();
    let out = child.finish(EXIT_BOUND);
    let line = out.stdout.lines().find(|l| l.contains("survival")).unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("1/1 connections stayed open for ") && line.contains("s of the planned 20s (interrupted)"),
        "{line}"
    );
    assert!(!out.stdout.contains("stayed open for 20s"), "{}", out.stdout);
    assert_eq!(out.status.code(), Some(2), "an interrupted soak does not pass");
}

/// A server that accepts TCP and never answers the upgrade, reporting
/// each connection it accepted: the first wave of a storm can never
/// finish, so the test knows it is in the first wave when all arrived.
fn silent_listener() -> (std::net::SocketAddr, mpsc::Receiver<std::net::TcpStream>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if tx.send(stream).is_err() {
                return;
            }
        }
    });
    (addr, rx)
}

/// Ctrl-C while the first wave is still waiting for its upgrades: the
/// wave was interrupted after the time it ran, not timed out (no
/// --wave-timeout warning), and the report says how far it had got.
#[test]
fn ctrl_c_during_the_first_wave_is_an_interruption_not_a_wave_timeout() {
    let (addr, accepted) = silent_listener();
    let url = format!("ws://{addr}/ws");
    let child = ChildGuard::wsprobe(&["storm", &url, "--clients", "5", "--connect-timeout", "60s", "--json"]);
    let held: Vec<_> =
        (0..5).map(|_| accepted.recv_timeout(READY_BOUND).expect("all 5 clients connected TCP")).collect();
    child.interrupt();
    let out = child.finish(EXIT_BOUND);
    drop(held);
    let report: contract::StormReport = contract::parse(&out.stdout);
    assert_eq!(report.interrupted, Some(true));
    let cut = report.interruption.expect("where Ctrl-C cut the run");
    assert_eq!(cut.during, contract::StormPart::FirstWave, "{cut:?}");
    assert!(cut.after_s > 0.0 && cut.after_s < READY_BOUND.as_secs_f64(), "{cut:?}");
    let warnings = report.warnings.unwrap_or_default().join("\n");
    assert!(!warnings.contains("--wave-timeout"), "Ctrl-C is not a wave timeout: {warnings}");
    let words = report.diagnosis.join("\n");
    assert!(
        words.contains("Interrupted after ") && words.contains("s of the first wave: 0/5 clients had connected"),
        "{words}"
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigterm_during_a_soak_prints_the_report_and_writes_out() {
    let pinger = Pinger::start();
    let url = format!("ws://{}/ws", pinger.addr);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("soak.json");
    let out_file = path.to_str().unwrap();
    let child = ChildGuard::wsprobe(&["stability", &url, "--duration", "60s", "--out", out_file]);
    pinger.wait_for_pongs(5, READY_BOUND);
    child.terminate();
    let out = child.finish(EXIT_BOUND);
    assert_eq!(out.status.code(), Some(2), "a terminated run is interrupted, not a pass: {out:?}");
    assert!(out.stderr.contains("terminated (SIGTERM); finishing the report"), "{}", out.stderr);
    assert!(out.stdout.contains("interrupted"), "the partial report is printed: {}", out.stdout);
    assert!(out.stdout.contains("server pings"), "with what was seen: {}", out.stdout);
    let report: StabilityReport = contract::parse(&std::fs::read_to_string(&path).expect("--out was written"));
    assert_eq!(report.interrupted, Some(true));
    assert_eq!(report.verdict, contract::Verdict::Error);
    assert!(report.server_pings.count >= 5, "what was seen is kept");
    assert!(report.closes.is_empty(), "our own close at SIGTERM is not a drop: {:?}", report.closes);
}

/// The server stops reading after 3 pongs, so after the first signal
/// wsprobe waits its 30 s close timeout; the second signal (the other
/// kind) must end it at once, exiting as a shell reports SIGINT (130).
#[test]
fn a_second_signal_quits_at_once() {
    let pinger = Pinger::start_with(Some(3));
    let url = format!("ws://{}/ws", pinger.addr);
    let mut child = ChildGuard::wsprobe(&["stability", &url, "--duration", "60s", "--close-timeout", "30s"]);
    pinger.wait_for_pongs(3, READY_BOUND);
    child.terminate();
    let said = child.stderr_line(EXIT_BOUND, |l| l.contains("finishing the report"));
    assert!(said.is_some(), "the first signal is acknowledged on stderr");
    assert!(!child.has_exited(), "still waiting for the close the server never answers");
    let sent = Instant::now();
    child.interrupt();
    let out = child.finish(EXIT_BOUND);
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(sent.elapsed() < Duration::from_secs(5), "quit at once, not after the close timeout: {:?}", sent.elapsed());
}

#[test]
fn sigterm_stops_serve_with_1001() {
    let serve = ServeProcess::start(&[]);
    let rt = runtime();
    let mut ws = rt.block_on(async {
        tokio::time::timeout(READY_BOUND, observer(&format!("{}/ws?device=a", serve.url))).await.expect("connected")
    });
    serve.child.terminate();
    let close = rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::time::timeout(EXIT_BOUND, wsprobe::net::session::watch(&mut ws, &stop)).await.expect("closed in time")
    });
    assert_eq!(close.map(|c| c.code), Some(1001));
    let out = serve.child.finish(EXIT_BOUND);
    assert!(out.status.success(), "{out:?}");
}

/// Connects an observer (identity `observer`) that the storm's clients
/// send their messages to, through the server's routing: a message from
/// `dev-k` proves client k is open on wsprobe's side too (it sends only
/// once it has counted its connection).
async fn observer(url: &str) -> ClientWs {
    match open(&endpoint(url), ClientId::new(0)).await {
        Attempt::Open(o) => o.ws,
        other => panic!("observer: {}", other.outcome()),
    }
}

/// Reads routed messages until `n` distinct senders were heard.
async fn hear_from(ws: &mut ClientWs, n: usize) -> BTreeSet<String> {
    let mut senders = BTreeSet::new();
    while senders.len() < n {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let msg: serde_json::Value = serde_json::from_str(&t).expect("JSON from the router");
                if let Some(from) = msg["from"].as_str() {
                    senders.insert(from.to_string());
                }
            }
            Some(Ok(_)) => {}
            other => panic!("observer lost its connection: {other:?}"),
        }
    }
    senders
}

#[test]
fn ctrl_c_during_a_storm_shows_the_tables() {
    let server = TestServer::start(ServerConfig::default());
    let rt = runtime();
    let mut watch = rt.block_on(observer(&format!("ws://{}/ws?device=observer", server.addr)));
    let message = r#"{"type":"send","to":"observer","data":"here"}"#;
    let child = ChildGuard::wsprobe(&[
        "storm",
        &server.url(),
        "--clients",
        "20",
        "--hold",
        "60s",
        "--message",
        message,
        "--message-interval",
        "100ms",
    ]);
    let heard = rt.block_on(async { tokio::time::timeout(READY_BOUND, hear_from(&mut watch, 20)).await });
    assert_eq!(heard.expect("all 20 clients were heard from in time").len(), 20);
    child.interrupt();
    let out = child.finish(EXIT_BOUND);
    assert!(out.stdout.contains("first wave") && out.stdout.contains("20/20"), "{}", out.stdout);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
    assert!(!out.stdout.contains("--wave-timeout"), "Ctrl-C in the hold is no wave timeout: {}", out.stdout);
    assert_eq!(out.status.code(), Some(2), "an interrupted run is not a pass");
}

#[test]
fn ctrl_c_stops_serve_with_1001() {
    let serve = ServeProcess::start(&[]);
    let rt = runtime();
    let mut ws = rt.block_on(async {
        tokio::time::timeout(READY_BOUND, observer(&format!("{}/ws?device=a", serve.url))).await.expect("connected")
    });
    serve.child.interrupt();
    let close = rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::time::timeout(EXIT_BOUND, wsprobe::net::session::watch(&mut ws, &stop)).await.expect("closed in time")
    });
    assert_eq!(close.map(|c| c.code), Some(1001));
    let out = serve.child.finish(EXIT_BOUND);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn out_file_holds_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = wsprobe().args(["connect", "--listen", "0ms", "--out"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    let _: contract::ConnectReport = contract::parse(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
}
