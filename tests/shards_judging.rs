//! Merged shards are judged by the checks' own judging functions, so what
//! the reliability and protocol work taught those functions holds for a
//! merge too: a soak that drops faster than its records are kept counts
//! every drop; application handshakes, heartbeats, refusals and echoes
//! add up across shards; a shard cut short by Ctrl-C makes the merged run
//! interrupted, not the server's failure; fan-out's delivery window spans
//! every shard; and the hint about a protocol nobody named survives.

mod common;

use std::time::Duration;

use common::shards::{merged, shards, u};
use common::TestServer;
use serde_json::Value;
use wsprobe::server::config::ServerConfig;

fn sum(parts: &[Value], key: &str) -> u64 {
    parts.iter().map(|p| u(p, key)).sum()
}

fn count_in(histogram: &Value) -> u64 {
    wsprobe::stats::latency::Latency::from_base64(histogram.as_str().expect("histogram text")).expect("V2").count()
}

fn finding<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["findings"].as_array().expect("findings").iter().find(|f| f["check"] == name)
}

/// A 50 ms token TTL and no reconnect backoff: every client is dropped
/// some 25 times in 1.5 s, more than the 20 records a client keeps. The
/// merge counts every drop (from the shards' drops by kind, not from the
/// kept records), keeps each client's records bounded, and its totals are
/// the server's.
#[test]
fn a_drop_storm_in_shards_counts_every_drop_and_keeps_the_records_bounded() {
    let cfg = ServerConfig { token_ttl: Some(Duration::from_millis(50)), ..ServerConfig::default() };
    let server = TestServer::start(cfg);
    let url = server.url();
    let args = ["stability", &url, "--clients", "4", "--duration", "1500ms", "--reconnect", "--backoff", "none"];
    let parts = shards(2, &args);
    assert!(parts.iter().all(|p| u(p, "/closes_omitted") > 0), "each shard dropped more than it keeps");
    let m = merged(&parts);
    let counted =
        |r: &Value| -> u64 { r["drop_kinds"].as_array().expect("drop_kinds").iter().map(|k| u(k, "/count")).sum() };
    let total: u64 = parts.iter().map(counted).sum();
    assert_eq!(counted(&m), total, "{:#}", m["drop_kinds"]);
    assert_eq!(u(&m, "/closes_omitted"), sum(&parts, "/closes_omitted"));
    let kept = m["closes"].as_array().expect("closes").len() as u64;
    assert_eq!(kept + u(&m, "/closes_omitted"), total, "every drop is kept or counted as omitted");
    assert!(kept <= 4 * 20, "at most the first and last 10 of each client: {kept}");
    let survival = finding(&m, "survival").expect("a survival finding");
    assert!(survival["detail"].as_str().is_some_and(|d| d.starts_with(&format!("{total} drop(s)"))), "{survival}");
    assert!(m["diagnosis"].to_string().contains(&format!("({total} times)")), "{:#}", m["diagnosis"]);
    if let Some(period) = m["period"].as_object() {
        assert_eq!(period["drops"].as_u64(), Some(total), "a period counts every drop, kept or not");
    }
    // The server's own count, give or take the one reconnect per client
    // that may be in flight when the soak ends: the server has sent its 101,
    // the client stops before it reads it (seen once in a loaded suite run).
    let (accepted, counted) = (server.health().accepted_total, u(&m, "/connections"));
    assert!((counted..=counted + 4).contains(&accepted), "the server's own count: {accepted}, merged {counted}");
}

/// Shards of a soak whose server sends an application heartbeat ("2",
/// answered "3" with --reply): the merged `app` adds the shards' counts and
/// histograms and is judged by the same app-heartbeat finding.
#[test]
fn application_heartbeats_of_shards_add_up() {
    let cfg = ServerConfig {
        app_ping: Some("2".into()),
        app_ping_interval: Duration::from_millis(200),
        app_pong: Some("^3$".into()),
        app_pong_timeout: Some(Duration::from_millis(300)),
        ..ServerConfig::default()
    };
    let server = TestServer::start(cfg);
    let url = server.url();
    let parts = shards(2, &["stability", &url, "--clients", "4", "--duration", "1500ms", "--reply", "^2$=3"]);
    let m = merged(&parts);
    assert_eq!(m["heartbeat"], "protocol");
    assert_eq!(u(&m, "/app/replies"), sum(&parts, "/app/replies"));
    assert!(u(&m, "/app/replies") >= 8, "{:#}", m["app"]);
    assert_eq!(u(&m, "/app/server_heartbeats/count"), sum(&parts, "/app/server_heartbeats/count"));
    let intervals: u64 = parts.iter().map(|p| count_in(&p["app"]["histograms"]["server_heartbeat_intervals"])).sum();
    assert_eq!(count_in(&m["app"]["histograms"]["server_heartbeat_intervals"]), intervals);
    let median = m["app"]["server_heartbeats"]["median_interval_s"].as_f64().expect("a median");
    assert!((0.15..=0.3).contains(&median), "{median}");
    let beat = finding(&m, "app-heartbeat").expect("the app-heartbeat finding");
    assert_eq!(beat["ok"], true, "{beat}");
    assert_eq!(m["verdict"], "pass", "{:#}", m["findings"]);
}

/// Storm shards through an application handshake, with echoed messages:
/// the app-ready histograms and message counts add up, the echo finding
/// is judged on the sums, and the reconnect wave's peak is the shards'.
#[test]
fn storm_shards_add_app_ready_times_echoes_and_reconnect_peaks() {
    let cfg = ServerConfig { require_init: Some("^hello$".into()), ..ServerConfig::default() };
    let server = TestServer::start(cfg);
    let url = server.url();
    let args = [
        "storm",
        &url,
        "--clients",
        "6",
        "--hold",
        "400ms",
        "--init",
        "hello",
        "--ready",
        "^hello$",
        "--message",
        "hi",
        "--message-interval",
        "50ms",
        "--backoff",
        "fixed:200ms",
    ];
    let parts = shards(2, &args);
    let m = merged(&parts);
    assert_eq!(u(&m, "/app_ready_ms/count"), 12, "6 first-wave and 6 reconnect handshakes: {:#}", m["app_ready_ms"]);
    assert_eq!(count_in(&m["histograms"]["app_ready"]), 12);
    assert_eq!(u(&m, "/messages/sent"), sum(&parts, "/messages/sent"));
    assert_eq!(u(&m, "/messages/received"), sum(&parts, "/messages/received"));
    let echo = finding(&m, "echo").expect("an echo finding");
    assert_eq!(echo["ok"], true, "{echo}");
    let peak = u(&m, "/reconnect_peak_attempts_per_s");
    assert_eq!(peak, sum(&parts, "/reconnect_peak_attempts_per_s").min(u(&m, "/waves/1/attempts")));
    // The wave lasts well under a second: its words are its attempts and
    // its span, from the shards' first and last attempts, not a rate.
    let words = format!("Reconnect wave: {} attempts within ", u(&m, "/waves/1/attempts"));
    assert!(m["diagnosis"].to_string().contains(&words), "{:#}", m["diagnosis"]);
    assert!(!m["diagnosis"].to_string().contains("attempts/s"), "{:#}", m["diagnosis"]);
    let (from, to) =
        (m["times"]["reconnect_first_attempt_at"].as_str(), m["times"]["reconnect_last_attempt_at"].as_str());
    assert!(from.is_some() && from <= to, "{:#}", m["times"]);
    assert_eq!(m["verdict"], "pass", "{:#}", m["findings"]);
}

/// An application that refuses the init message: the merged report names
/// the first refusal message and counts every refusal.
#[test]
fn an_application_refusal_seen_by_shards_is_named_once_merged() {
    let cfg = ServerConfig { require_init: Some("^hello$".into()), ..ServerConfig::default() };
    let server = TestServer::start(cfg);
    let url = server.url();
    let args = [
        "storm",
        &url,
        "--clients",
        "4",
        "--hold",
        "100ms",
        "--disrupt",
        "none",
        "--max-attempts",
        "1",
        "--init",
        "nope",
        "--ready",
        "^hello$",
    ];
    let parts = shards(2, &args);
    let m = merged(&parts);
    assert_eq!(u(&m, "/rejections/closed-4400"), 4, "{:#}", m["rejections"]);
    let first = parts.iter().find_map(|p| p["app_refusal"].as_str()).expect("a shard names the refusal");
    assert_eq!(m["app_refusal"].as_str(), Some(first));
    let line = format!("The application protocol refused connections after the upgrade; the first: {first}.");
    assert!(m["diagnosis"].as_array().expect("diagnosis").iter().any(|l| l == &line), "{:#}", m["diagnosis"]);
}

/// A storm shard report, edited into one whose first wave had not finished.
fn unfinished(file: &str, connected: u64, interrupted: bool) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shards").join(file);
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    r["connected"] = connected.into();
    r["waves"][0]["accepted"] = connected.into();
    r["reconnected"] = Value::Null;
    r["reconnect_peak_attempts_per_s"] = Value::Null;
    r["times"]["disrupt_at"] = Value::Null;
    if interrupted {
        r["interrupted"] = true.into();
        r["verdict"] = "error".into();
        r["error"] = wsprobe::report::verdict::INTERRUPTED.into();
    }
    r
}

/// Ctrl-C on one shard before the first wave finished: the merged run is
/// interrupted and gets no first-wave finding (the wave did not finish,
/// which is not the server's failure); the same numbers from a run that
/// was not interrupted fail the first wave.
#[test]
fn a_shard_cut_short_makes_the_merged_run_interrupted_not_failed() {
    let m = merged(&[unfinished("storm-0.json", 3, false), unfinished("storm-1.json", 1, true)]);
    assert_eq!(m["interrupted"], true);
    assert_eq!(m["verdict"], "error", "{:#}", m["findings"]);
    assert!(finding(&m, "first-wave").is_none(), "{:#}", m["findings"]);
    assert!(m["error"].as_str().is_some_and(|e| e.contains("interrupted")), "{:#}", m["error"]);
    let m = merged(&[unfinished("storm-0.json", 3, false), unfinished("storm-1.json", 1, false)]);
    let first = finding(&m, "first-wave").expect("a first-wave finding");
    assert_eq!((first["ok"].as_bool(), m["verdict"].as_str()), (Some(false), Some("fail")), "{first}");
}

/// A protocol hint (noticed by the transport, not judged from details)
/// in the shards' diagnosis is kept once in the merged one.
#[test]
fn a_protocol_hint_of_the_shards_survives_the_merge_once() {
    let hint = "This server speaks SignalR (its messages end with the 0x1E record separator): run with --protocol signalr for the hub handshake and the type 6 pings.";
    let read = |f: &str| -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shards").join(f);
        let mut r: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
        r["diagnosis"].as_array_mut().expect("diagnosis").push(hint.into());
        r
    };
    let m = merged(&[read("storm-0.json"), read("storm-1.json")]);
    let lines = m["diagnosis"].as_array().expect("diagnosis");
    assert_eq!(lines.iter().filter(|l| *l == hint).count(), 1, "{lines:#?}");
}

/// Fan-out shards: the merged delivery window runs from the earliest
/// shard's first publish to the latest receipt on any shard, so it is at
/// least each shard's own, and the delivery rate is taken over it.
#[test]
fn the_merged_delivery_window_spans_every_shard() {
    let server = TestServer::start(ServerConfig::default());
    let url = server.url();
    let args = [
        "fanout",
        url.as_str(),
        "--clients",
        "6",
        "--publish",
        r#"{"type":"broadcast","data":"{nonce}"}"#,
        "--settle",
        "1s",
        "--wait",
        "500ms",
    ];
    let parts = shards(2, &args);
    assert!(parts.iter().all(|p| p["delivery_times"].is_object()), "shards report their delivery times");
    let m = merged(&parts);
    assert_eq!(u(&m, "/delivered"), 36, "{:#}", m["findings"]);
    let window = m["delivery_window_s"].as_f64().expect("a merged window");
    for p in &parts {
        let own = p["delivery_window_s"].as_f64().expect("a shard's window");
        assert!(window + 1e-9 >= own, "merged {window} s < a shard's {own} s");
    }
    let rate = m["deliveries_per_s"].as_f64().expect("a merged rate");
    assert_eq!(rate, (36.0 / window).round());
    assert!(m.get("delivery_times").is_none(), "a merged report is no shard");
    let accepted: u64 = m["timeline"].as_array().expect("a merged timeline").iter().map(|s| u(s, "/accepted")).sum();
    assert_eq!(accepted, 6, "each shard's connections are in the merged timeline");
}
