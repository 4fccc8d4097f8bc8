//! `stability --metrics-addr`: the endpoint scraped while a real soak runs
//! against the reference server on loopback, its text parsed by the
//! official Prometheus Python client's parsers (prometheus-client, pinned
//! in tests/third_party/requirements.txt), in both formats it serves.
//!
//! What must hold: the open-connections gauge equals the connections the
//! server itself counts open; the server's token-TTL closes are counted
//! by code and cause; pong and app heartbeat round trips are histograms
//! with samples; the server's ping interval is observed.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, ChildGuard, TestServer};
use serde_json::Value;
use wsprobe::server::config::ServerConfig;

/// `GET /metrics`, asking for OpenMetrics (as Prometheus does) or not.
fn scrape(addr: SocketAddr, openmetrics: bool) -> (String, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let accept = if openmetrics { "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" } else { "*/*" };
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\n\r\n");
    s.write_all(request.as_bytes()).expect("request");
    let mut response = String::new();
    s.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or("").to_string();
    (content_type, body.to_string())
}

/// The exposition parsed by prometheus-client (Python): family name →
/// its samples.
fn parse(text: &str, format: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/third_party/parse_metrics.py");
    let mut child = Command::new("python3")
        .args([script, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("exposition to the parser");
    let out = child.wait_with_output().expect("the parser ends");
    assert!(
        out.status.success(),
        "prometheus-client refused the {format} text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout).expect("JSON")["families"].clone()
}

/// The value of `family`'s sample named `sample` whose labels include `labels`.
fn sample(families: &Value, family: &str, sample: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[family]["samples"].as_array()?.iter().find_map(|s| {
        let matches = s["name"] == sample && labels.iter().all(|(k, v)| s["labels"][*k] == *v);
        matches.then(|| s["value"].as_f64()).flatten()
    })
}

fn python_has_prometheus_client() -> bool {
    Command::new("python3").args(["-c", "import prometheus_client"]).status().is_ok_and(|s| s.success())
}

#[test]
fn metrics_are_served_and_parse_while_a_soak_runs() {
    assert!(python_has_prometheus_client(), "python3 with prometheus-client is needed: run scripts/test");
    let cfg = ServerConfig {
        ping_interval: Some(Duration::from_millis(300)),
        token_ttl: Some(Duration::from_millis(1500)),
        ..ServerConfig::default()
    };
    let server = TestServer::start(cfg);
    let url = server.url();
    let mut soak = ChildGuard::wsprobe(&[
        "stability",
        &url,
        "--clients",
        "3",
        "--duration",
        "12s",
        "--reconnect",
        "--backoff",
        "none",
        "--ping-interval",
        "200ms",
        "--app-ping",
        r#"{"type":"ping"}"#,
        "--app-ping-interval",
        "250ms",
        "--metrics-addr",
        "127.0.0.1:0",
        "--json",
    ]);
    let line =
        soak.stderr_line(Duration::from_secs(20), |l| l.contains("metrics at http://")).expect("the address on stderr");
    let addr: SocketAddr =
        line.trim().trim_end_matches("/metrics").rsplit("http://").next().unwrap().parse().expect("an address");
    assert!(addr.ip().is_loopback());

    let mut last = Value::Null;
    let all_seen = eventually(Duration::from_secs(10), || {
        let (kind, text) = scrape(addr, true);
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        last = parse(&text, "openmetrics");
        let open = sample(&last, "wsprobe_open_connections", "wsprobe_open_connections", &[]);
        let server_open = server.health().open_connections as f64;
        let dropped =
            sample(&last, "wsprobe_closes", "wsprobe_closes_total", &[("code", "4001"), ("cause", "close-frame")]);
        let pongs = sample(&last, "wsprobe_pong_rtt_seconds", "wsprobe_pong_rtt_seconds_count", &[]);
        let beats = sample(&last, "wsprobe_app_heartbeat_rtt_seconds", "wsprobe_app_heartbeat_rtt_seconds_count", &[]);
        open == Some(3.0)
            && server_open == 3.0
            && dropped.is_some_and(|n| n >= 1.0)
            && pongs > Some(0.0)
            && beats > Some(0.0)
    });
    assert!(
        all_seen,
        "the gauge equals the server's 3 open connections, with a 4001 close, pongs and heartbeats counted: {last:#}"
    );
    let interval = sample(&last, "wsprobe_server_ping_interval_seconds", "wsprobe_server_ping_interval_seconds", &[]);
    assert!(interval.is_some_and(|i| (0.2..1.5).contains(&i)), "the server pings every 300 ms: {interval:?}");
    assert_eq!(last["wsprobe_closes"]["type"], "counter");
    assert_eq!(last["wsprobe_pong_rtt_seconds"]["type"], "histogram");

    let (kind, text) = scrape(addr, false);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let prometheus = parse(&text, "prometheus");
    assert!(
        sample(&prometheus, "wsprobe_open_connections", "wsprobe_open_connections", &[]).is_some(),
        "{prometheus:#}"
    );

    let out = soak.finish(Duration::from_secs(40));
    let report: Value = serde_json::from_str(&out.stdout).expect("one JSON report");
    assert!(report["closes"].as_array().is_some_and(|c| c.iter().any(|c| c["code"] == 4001)), "{report:#}");
    assert!(TcpStream::connect(addr).is_err(), "the endpoint stops with the soak");
}

#[test]
fn a_busy_metrics_port_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = common::wsprobe_output(&["stability", "--duration", "1s", "--metrics-addr", &addr, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json = common::json_stdout(&out);
    let error = json["error"].as_str().unwrap_or("");
    assert!(error.contains("--metrics-addr") && error.contains(&addr), "{error}");
}
