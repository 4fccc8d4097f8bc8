//! Ctrl-C (SIGINT, sent to the PID we started) during long runs: the
//! process exits promptly, prints the partial report, `--json` is still
//! one valid object, and `serve` closes its connections with 1001.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_wsprobe"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wsprobe")
}

fn interrupt(child: &Child) {
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

fn wait_bounded(child: Child, bound: Duration) -> std::process::Output {
    let started = Instant::now();
    let out = child.wait_with_output().expect("wait");
    assert!(started.elapsed() < bound, "exited {:?} after Ctrl-C", started.elapsed());
    out
}

#[test]
fn ctrl_c_during_a_soak_prints_the_partial_report_as_json() {
    let child = start(&["stability", "--duration", "60s", "--server-ping-interval", "100ms", "--json"]);
    std::thread::sleep(Duration::from_millis(1200));
    interrupt(&child);
    let out = wait_bounded(child, Duration::from_secs(5));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object after Ctrl-C");
    assert_eq!(json["interrupted"], true);
    assert_eq!(json["verdict"], "error", "a run cut short does not pass");
    assert!(json["server_pings"]["count"].as_u64().unwrap() >= 5, "what was seen is kept: {json}");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ctrl_c_during_a_storm_shows_the_tables() {
    let child = start(&["storm", "--clients", "20", "--hold", "60s"]);
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    let out = wait_bounded(child, Duration::from_secs(8));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("first wave") && text.contains("20/20"), "{text}");
    assert!(text.contains("interrupted"), "{text}");
}

#[test]
fn ctrl_c_stops_serve_with_1001() {
    let mut child = start(&["serve", "--addr", "127.0.0.1:0"]);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("ws://")).unwrap().trim_end_matches('/').to_string();
    let rt = common::runtime();
    let mut ws = rt.block_on(async {
        match wsprobe::net::connect::open(
            &common::endpoint(&format!("{url}/ws?device=a")),
            wsprobe::units::ClientId::new(0),
        )
        .await
        {
            wsprobe::net::connect::Attempt::Open(o) => o.ws,
            other => panic!("{}", other.outcome()),
        }
    });
    interrupt(&child);
    let close = rt.block_on(async {
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::time::timeout(Duration::from_secs(5), wsprobe::net::session::watch(&mut ws, &stop))
            .await
            .expect("closed in time")
    });
    assert_eq!(close.map(|c| c.code), Some(1001));
    let out = wait_bounded(child, Duration::from_secs(5));
    assert!(out.status.success());
}

#[test]
fn out_file_holds_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_wsprobe"))
        .args(["connect", "--listen", "0ms", "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["command"], "connect");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
}
