//! Peers that stop reading, flood control frames or close first: every
//! write has a deadline under the cancellation, pongs are coalesced, and a
//! close frame from the server is answered. Each test is bounded in time
//! by the fixture's own lifetime and by the options it passes.

mod common;

use std::time::{Duration, Instant};

use common::hostile::{Hostile, HostileServer};
use common::{endpoint, eventually, run_json, runtime};
use futures_util::StreamExt;
use wsprobe::net::connect::{open, Attempt};
use wsprobe::units::ClientId;

fn big_text() -> String {
    "x".repeat(8 * 1024)
}

#[test]
fn a_soak_whose_server_stops_reading_reports_it_at_the_write_timeout() {
    let server = HostileServer::start(Hostile::Deaf);
    let started = Instant::now();
    let text = big_text();
    let json = run_json(&[
        "stability",
        &server.url(),
        "--app-ping",
        &text,
        "--app-ping-interval",
        "1ms",
        "--duration",
        "30s",
        "--write-timeout",
        "1s",
        "--close-timeout",
        "500ms",
    ]);
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_eq!(json["verdict"], "fail", "{json}");
    let close = &json["closes"][0];
    assert_eq!(close["how"], "stalled", "{json}");
    assert!(close["detail"].as_str().unwrap_or("").contains("stopped reading"), "{close}");
    assert!(json["diagnosis"].to_string().contains("stopped reading"), "{}", json["diagnosis"]);
}

#[test]
fn a_storm_hold_ends_on_time_while_its_writes_are_blocked() {
    let server = HostileServer::start(Hostile::Deaf);
    let started = Instant::now();
    let text = big_text();
    let json = run_json(&[
        "storm",
        &server.url(),
        "--clients",
        "2",
        "--message",
        &text,
        "--message-interval",
        "1ms",
        "--hold",
        "2s",
        "--disrupt",
        "none",
        "--write-timeout",
        "60s",
        "--close-timeout",
        "500ms",
    ]);
    assert!(started.elapsed() < Duration::from_secs(9), "the hold was not seen: {:?}", started.elapsed());
    assert_eq!(json["connected"], 2, "{json}");
}

#[test]
fn pongs_to_a_ping_flood_are_coalesced_while_the_server_does_not_read() {
    let server = HostileServer::start(Hostile::PingFlood);
    let rt = runtime();
    let (coalesced, queued) = rt.block_on(async {
        let Attempt::Open(o) = open(&endpoint(&server.url()), ClientId::new(0)).await else { panic!("no upgrade") };
        let mut ws = o.ws;
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut worst = 0;
        while let Ok(Some(Ok(_))) = tokio::time::timeout_at(until, ws.next()).await {
            worst = worst.max(ws.get_ref().queued());
        }
        (ws.get_ref().pongs_coalesced(), worst)
    });
    assert!(coalesced > 1000, "pongs were coalesced, not queued: {coalesced}");
    assert!(queued <= 300 * 1024, "the write queue stayed bounded: {queued} bytes");
}

/// The server's close frame (4001 "bye!") comes back masked, code and all.
fn echoed_close(server: &HostileServer) -> bool {
    eventually(Duration::from_secs(3), || server.received().first() == Some(&0x88)) && {
        let got = server.received();
        got.len() >= 8 && u16::from_be_bytes([got[6] ^ got[2], got[7] ^ got[3]]) == 4001
    }
}

#[test]
fn connect_answers_a_close_frame_the_server_sends_first() {
    let server = HostileServer::start(Hostile::CloseThenEnd);
    let started = Instant::now();
    let json = run_json(&["connect", &server.url(), "--listen", "5s", "--close-timeout", "2s"]);
    assert!(echoed_close(&server), "no close frame came back: {:02x?}", server.received());
    assert!(started.elapsed() < Duration::from_secs(4), "the server's TCP close ends it: {:?}", started.elapsed());
    assert_eq!(json["close"]["code"], 4001, "{json}");
}

#[test]
fn stability_and_single_answer_a_close_frame_too() {
    for args in [vec!["stability", "--duration", "2s"], vec!["single", "--hold", "300ms", "--distinct", "1"]] {
        let server = HostileServer::start(Hostile::CloseThenEnd);
        let url = server.url();
        let mut full = vec![args[0], url.as_str()];
        full.extend(&args[1..]);
        run_json(&full);
        assert!(echoed_close(&server), "{}: no close frame came back: {:02x?}", args[0], server.received());
    }
}

/// Runs a command in-process, rendered for people (not `--json`).
fn human(args: &[&str]) -> String {
    use clap::Parser;
    let cli = wsprobe::cli::Cli::try_parse_from(std::iter::once("wsprobe").chain(args.iter().copied()))
        .expect("arguments parse");
    let out = wsprobe::run(cli).expect("command runs");
    out.stdout + &out.stderr
}

#[test]
fn a_long_echo_renders_in_linear_time_clipped_with_its_length() {
    let text = "z".repeat(120_000);
    let started = Instant::now();
    let out = human(&["connect", "--send", &text, "--listen", "300ms"]);
    assert!(started.elapsed() < Duration::from_secs(5), "rendering took {:?}", started.elapsed());
    assert!(out.contains("… (120000 bytes)"), "{}", &out[..out.len().min(2000)]);
    assert!(out.len() < 20_000, "the table shows a clip, not the payload: {} bytes", out.len());
}

#[test]
fn server_text_cannot_drive_the_terminal() {
    let server = HostileServer::start(Hostile::Escapes);
    let out = human(&["connect", &server.url(), "--listen", "1s", "--close-timeout", "300ms"]);
    assert!(!out.contains('\x1b') && !out.contains('\x07') && !out.contains('\r'), "{out:?}");
    assert!(out.contains("\\x1b[2J"), "shown escaped: {out}");
    assert!(!out.lines().any(|l| l.starts_with("PASS  9/9")), "no forged verdict line: {out}");
}

#[test]
fn connect_keeps_both_ends_of_a_ping_flood_and_counts_the_rest() {
    let server = HostileServer::start(Hostile::PingFlood);
    let json = run_json(&["connect", &server.url(), "--listen", "2s", "--close-timeout", "300ms"]);
    let kept = json["messages"].as_array().map_or(0, Vec::len);
    assert!(kept <= 200, "{kept} messages kept");
    assert!(json["messages_omitted"].as_u64().unwrap_or(0) > 10_000, "{}", json["messages_omitted"]);
}

#[test]
fn stability_reconnects_by_a_backoff_when_every_connection_drops_at_once() {
    let started = Instant::now();
    let json =
        run_json(&["stability", "--clients", "20", "--reconnect", "--duration", "3s", "--server-drop-after", "5ms"]);
    assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
    let connections = json["connections"].as_u64().unwrap_or(0);
    // exp:50ms..5s with equal jitter: at most ~8 reconnects per client in 3 s
    // (thousands per second without a pause).
    assert!((20..=20 * 12).contains(&connections), "{connections} connections: {}", json["diagnosis"]);
    assert!(json["closes"].as_array().map_or(0, Vec::len) <= 20 * 20);
}

#[test]
fn a_message_phase_with_no_echo_fails_with_its_own_row() {
    let server = HostileServer::start(Hostile::NoEcho);
    let url = server.url();
    let args = [
        "storm",
        url.as_str(),
        "--clients",
        "3",
        "--message",
        "hi",
        "--message-interval",
        "50ms",
        "--hold",
        "1s",
        "--disrupt",
        "none",
        "--close-timeout",
        "300ms",
    ];
    let json = run_json(&args);
    assert_eq!(json["verdict"], "fail", "{json}");
    let echo = json["findings"].as_array().and_then(|f| f.iter().find(|f| f["check"] == "echo")).cloned();
    assert_eq!(echo.as_ref().map(|e| e["ok"].clone()), Some(serde_json::json!(false)), "{json}");
    let out = human(&args);
    assert!(out.lines().any(|l| l.contains("echo round trip") && l.contains("0/")), "{out}");
}

#[test]
fn ctrl_c_during_the_reconnect_backoff_is_an_interruption_not_a_failure() {
    use clap::Parser;
    let cli = wsprobe::cli::Cli::try_parse_from([
        "wsprobe",
        "storm",
        "--clients",
        "5",
        "--hold",
        "200ms",
        "--disrupt",
        "abrupt",
        "--backoff",
        "fixed:5s",
        "--jitter",
        "none",
    ])
    .expect("arguments parse");
    let stop = tokio_util::sync::CancellationToken::new();
    let rt = runtime();
    let started = Instant::now();
    let report = rt.block_on(async {
        let cancel = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            cancel.cancel();
        });
        wsprobe::execute(&cli.command, &stop).await.expect("runs")
    });
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["verdict"], "error", "interrupted, not failed: {json}");
    assert_eq!(json["interrupted"], true);
    assert!(json["findings"].as_array().is_some_and(|f| f.iter().all(|f| f["ok"] == true)), "{json}");
}

#[test]
fn a_close_code_1005_on_the_wire_is_the_servers_protocol_violation_named() {
    let server = HostileServer::start(Hostile::Close1005);
    let json = run_json(&["connect", &server.url(), "--listen", "1s", "--close-timeout", "300ms"]);
    assert_eq!(json["close"]["how"], "protocol-error", "{json}");
    assert!(json["close"]["detail"].as_str().unwrap_or("").contains("code 1005"), "{}", json["close"]);
    assert_eq!(json["verdict"], "fail");
}

#[test]
fn a_close_reason_that_is_not_utf8_is_called_a_close_reason() {
    let server = HostileServer::start(Hostile::CloseBadReason);
    let json = run_json(&["connect", &server.url(), "--listen", "1s", "--close-timeout", "300ms"]);
    let detail = json["close"]["detail"].as_str().unwrap_or("").to_string();
    assert_eq!(json["close"]["code"], 1007, "{json}");
    assert!(detail.contains("close frame") && !detail.contains("text frame"), "{detail}");
}

#[test]
fn an_interim_100_continue_is_skipped_not_shown_as_the_refusal() {
    let server = HostileServer::start(Hostile::ContinueFirst);
    let json = run_json(&["connect", &server.url(), "--listen", "300ms", "--close-timeout", "300ms"]);
    assert_eq!(json["http_status"], 101, "{json}");
}

#[test]
fn a_ping_flood_is_counted_in_full_in_a_soak() {
    let server = HostileServer::start(Hostile::PingFlood);
    let started = Instant::now();
    let json =
        run_json(&["stability", &server.url(), "--clients", "2", "--duration", "2s", "--close-timeout", "300ms"]);
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(json["server_pings"]["count"].as_u64().unwrap_or(0) > 10_000, "{}", json["server_pings"]);
}
