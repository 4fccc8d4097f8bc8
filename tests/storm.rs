//! `storm` against the reference server: waves, disruption modes, backoff
//! shrinking the herd, echo round trips, TCP-only baseline, and the
//! preflight that refuses runs this machine cannot hold.

mod common;

use common::{run_json, wsprobe, TestServer};
use wsprobe::server::config::ServerConfig;
use wsprobe::stats::latency::Latency;

#[test]
fn fifty_clients_connect_disrupt_and_recover() {
    let json = run_json(&["storm", "--clients", "50", "--hold", "200ms"]);
    assert_eq!(json["verdict"], "pass", "{json}");
    assert_eq!(json["connected"], 50);
    assert_eq!(json["reconnected"], 50);
    assert_eq!(json["gave_up"], 0);
    assert!(json["recovery_s"].as_f64().unwrap() < 10.0);
    assert_eq!(json["peak_concurrent"], 50);
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(json["handshake_ms"][key].as_f64().unwrap() > 0.0, "{key}");
        assert!(json["reconnect_handshake_ms"][key].as_f64().unwrap() > 0.0, "{key}");
    }
    let hist = Latency::from_base64(json["histogram"].as_str().unwrap()).expect("V2 base64 histogram");
    assert_eq!(hist.count(), 50);
}

#[test]
fn backoff_shrinks_the_herd_against_an_overloaded_server() {
    let herd = |backoff: &str| {
        let json = run_json(&[
            "storm",
            "--clients",
            "60",
            "--server-max-clients",
            "40",
            "--backoff",
            backoff,
            "--jitter",
            "full",
            "--hold",
            "200ms",
            "--max-attempts",
            "10",
        ]);
        assert!(json["rejections"]["http-503"].as_u64().unwrap() > 0, "the cap refused someone: {json}");
        json["peak_attempts_per_s"].as_u64().unwrap()
    };
    let none = herd("none");
    let exp = herd("exp:100ms..2s");
    assert!(none > exp, "no backoff peaks at {none}/s, exponential at {exp}/s");
}

#[test]
fn clean_close_disruption_reconnects() {
    let json = run_json(&["storm", "--clients", "20", "--disrupt", "close", "--hold", "100ms"]);
    assert_eq!(json["reconnected"], 20);
    assert_eq!(json["verdict"], "pass");
}

#[test]
fn server_side_drops_are_the_disruption_in_server_mode() {
    let server = TestServer::start(ServerConfig {
        drop_after: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    });
    let json = run_json(&[
        "storm",
        &server.url(),
        "--clients",
        "10",
        "--disrupt",
        "server",
        "--hold",
        "0ms",
        "--backoff",
        "fixed:50ms",
    ]);
    assert_eq!(json["reconnected"], 10, "{json}");
    assert!(json["drops"]["1006"].as_u64().unwrap() >= 10, "every client was dropped without a close frame: {json}");
    assert!(json["recovery_s"].as_f64().is_some());
}

#[test]
fn no_disruption_holds_and_measures_echo_round_trips() {
    let json = run_json(&[
        "storm",
        "--clients",
        "10",
        "--disrupt",
        "none",
        "--hold",
        "500ms",
        "--message",
        "ping",
        "--message-interval",
        "20ms",
    ]);
    // `get`, not `[]`: a missing key would read as null too.
    assert_eq!(json.get("reconnected"), Some(&serde_json::Value::Null), "no disruption, no reconnect wave");
    let received = json["messages"]["received"].as_u64().unwrap();
    assert!(received >= 100, "10 clients × ~25 messages, got {received}");
    assert!(json["round_trip_ms"]["p50"].as_f64().unwrap() > 0.0);
    assert_eq!(json["verdict"], "pass");
}

#[test]
fn parked_idle_clients_wake_for_the_servers_pings_and_messages() {
    // Silent held connections are parked (socket only); the server's pings
    // and messages must still be answered and counted.
    let server = TestServer::start(ServerConfig {
        ping_interval: Some(std::time::Duration::from_millis(100)),
        pong_timeout: Some(std::time::Duration::from_millis(400)),
        app_ping: Some("tick".into()),
        app_ping_interval: std::time::Duration::from_millis(100),
        ..Default::default()
    });
    let json = run_json(&["storm", &server.url(), "--clients", "20", "--disrupt", "none", "--hold", "900ms"]);
    assert_eq!(json["verdict"], "pass", "{json}");
    assert_eq!(json["connected"], 20);
    assert_eq!(json["drops"], serde_json::json!({}), "no pong timeout, no drop: {json}");
    let received = json["messages"]["received"].as_u64().unwrap();
    assert!(received >= 20 * 4, "20 clients × ~8 ticks, got {received}");
    assert_eq!(server.health().accepted_total, 20, "exactly one connection each, none reopened");
}

#[test]
fn tcp_only_baseline_connects_without_upgrading() {
    let json = run_json(&["storm", "--clients", "20", "--tcp-only", "--hold", "100ms"]);
    assert_eq!(json["mode"], "tcp-only");
    assert_eq!(json["connected"], 20);
    assert_eq!(json["reconnected"], 20);
}

#[test]
fn too_many_clients_stop_before_starting() {
    let out = wsprobe().args(["storm", "--clients", "30000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("open-file limit") && err.contains("wsprobe serve"), "{err}");
}

#[test]
fn unreachable_first_attempts_fail_the_wave() {
    let json =
        run_json(&["storm", "ws://127.0.0.1:1/ws", "--clients", "3", "--max-attempts", "2", "--backoff", "none"]);
    assert_eq!(json["connected"], 0);
    assert_eq!(json["rejections"]["refused"], 6);
    assert_eq!(json["verdict"], "error", "nothing ever answered: wsprobe could not do its job");
    assert!(json["error"].as_str().unwrap().contains("refused"));
}

fn diagnosis(json: &serde_json::Value) -> String {
    json["diagnosis"]
        .as_array()
        .map(|d| d.iter().filter_map(|l| l.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// The reference server with a listen backlog of 1 (`--server-backlog`,
/// as the selftest row runs it): a herd of 100 overflows it, and the
/// report says so in the words that matter, with the kernel's own count
/// (the target is on loopback).
#[test]
fn a_small_listen_backlog_is_named_with_the_kernels_count() {
    let json = run_json(&[
        "storm",
        "--clients",
        "100",
        "--server-backlog",
        "1",
        "--connect-timeout",
        "2s",
        "--hold",
        "0s",
        "--disrupt",
        "none",
    ]);
    let words = diagnosis(&json);
    assert!(
        words.contains("TCP connects waited for a SYN retransmit (") && words.contains("after about 1 s"),
        "{words}"
    );
    assert!(
        words.contains("The server's listen backlog overflowed: raise its backlog (somaxconn) or ramp the clients"),
        "{words}"
    );
    assert!(json["listen_queue"]["overflows"].as_u64().unwrap_or(0) > 0, "{:#}", json["listen_queue"]);
    assert!(json["tcp_connect_ms"]["max"].as_f64().unwrap() >= 900.0, "a connect waited for the retransmit");
}

/// `--disrupt server` against a server that never drops anyone: nothing
/// was disrupted, so the reconnect wave is not judged ("0/5 clients back"
/// would blame the clients); the run is an error that says why.
#[test]
fn a_server_that_never_drops_anyone_leaves_the_reconnect_wave_unjudged() {
    let json = run_json(&["storm", "--clients", "5", "--disrupt", "server", "--wave-timeout", "1s", "--hold", "0s"]);
    assert_eq!(json["verdict"], "error", "{json:#}");
    let error = json["error"].as_str().unwrap_or_default();
    assert!(error.contains("the server never dropped the clients"), "{error}");
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["check"] != "reconnect-wave"), "{findings:#?}");
    assert!(!json["warnings"].to_string().contains("--wave-timeout ("), "not a wave timeout: {:#}", json["warnings"]);
}

/// No client got in, so there was nobody to reconnect: no passing
/// "0/0 clients back"; the first wave's failure is the verdict.
#[test]
fn a_reconnect_wave_with_nobody_to_reconnect_is_not_judged() {
    let json = run_json(&[
        "storm",
        "--clients",
        "5",
        "--server-require-init",
        "^hello$",
        "--init",
        "nope",
        "--ready",
        "^hello$",
        "--max-attempts",
        "1",
        "--hold",
        "0s",
    ]);
    assert_eq!(json["reconnected"], 0, "a disruption was planned: {json:#}");
    let findings = json["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["check"] != "reconnect-wave"), "{findings:#?}");
    assert!(diagnosis(&json).contains("Reconnect wave not judged: no client connected in the first wave"));
    assert_eq!(json["verdict"], "fail", "the first wave failed: {findings:#?}");
}

/// A reconnect wave shorter than a second is worded by its attempts and
/// its span, never as a per-second peak above the attempts made.
#[test]
fn a_short_reconnect_wave_is_worded_from_its_span() {
    // Clients without an identity: with one, a reconnect that reaches the
    // server before it has seen the old connection's reset is refused as a
    // duplicate and retried (41 attempts under load), which is not what
    // this test is about.
    let server = TestServer::start(ServerConfig::default());
    let url = format!("ws://{}/ws", server.addr);
    let json = run_json(&["storm", &url, "--clients", "40", "--hold", "100ms", "--backoff", "none"]);
    let words = diagnosis(&json);
    assert!(words.contains("Reconnect wave: 40 attempts within "), "{words}");
    assert!(!words.contains("attempts/s"), "{words}");
    assert_eq!(json["verdict"], "pass");
}
