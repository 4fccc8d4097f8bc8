//! `ratelimit` against the limiters that showed it wrong, each in front of
//! the reference server: nginx `limit_req rate=1r/s burst=2 nodelay` (a
//! token bucket: burst 3, then 1/s, whatever the probe rate; it was read as
//! "3 per 1 s" at 20/s and "5 per 3 s" at 2/s), HAProxy `maxconn 5` (a cap
//! signalled by queueing; it was read as "no cap seen"), HAProxy `conn_rate`
//! (counts refused attempts, so probes every 100 ms kept it shut forever),
//! over HTTP (429) and at TCP (`tcp-request connection reject`: a reset).
//! The reference server reproduces each (`--rate-limit-model bucket|counting`,
//! `--max-clients-mode queue`) for selftest.

mod common;

use common::proxies::Proxy;
use common::{run_json, TestServer};
use serde_json::Value;
use wsprobe::server::config::ServerConfig;

fn nginx_limit_req(upstream: std::net::SocketAddr) -> Proxy {
    Proxy::nginx(
        "limit_req_zone $binary_remote_addr zone=ws:1m rate=1r/s;",
        &format!(
            "location / {{ limit_req zone=ws burst=2 nodelay; limit_req_status 429;
               proxy_pass http://{upstream}; proxy_http_version 1.1;
               proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; }}"
        ),
    )
}

fn url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/ws?device=dev-{{client}}")
}

fn assert_bucket(json: &Value, burst: u64, refill: f64) {
    let model = &json["inferred"]["model"];
    assert_eq!(model["kind"], "bucket", "{}", json["inferred"]);
    assert_eq!(model["burst"], burst, "{model}");
    let r = model["refill_per_s"].as_f64().unwrap();
    assert!((r - refill).abs() <= 0.2 * refill, "refill {r}/s, want {refill}/s: {model}");
    assert!(model["fit"].as_f64().unwrap() >= 0.9, "{model}");
    assert!(json["diagnosis"].to_string().contains("A token bucket per IP"), "{}", json["diagnosis"]);
}

#[test]
fn nginx_limit_req_burst_reads_as_the_same_bucket_at_any_probe_rate() {
    let server = TestServer::start(ServerConfig::default());
    for rate in ["20/s", "2/s"] {
        // A fresh nginx each time: its zone starts full.
        let proxy = nginx_limit_req(server.addr);
        let json = run_json(&["ratelimit", &url(proxy.port), "--attempts", "8", "--rate", rate]);
        assert_bucket(&json, 3, 1.0);
        assert_eq!(json["inferred"]["signal"], "http-429");
        assert_eq!(json["inferred"]["limit"], "burst 3, then 1/s", "at {rate}: {}", json["inferred"]);
        let fits = json["inferred"]["fits"].as_array().unwrap();
        let window = fits.iter().find(|f| f["kind"] == "window").expect("a window was fitted too");
        assert!(window["explained"].as_u64() < json["inferred"]["model"]["explained"].as_u64(), "{fits:?}");
    }
}

#[test]
fn haproxy_maxconn_queueing_is_a_cap() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Proxy::haproxy("", &format!("  server s1 {} maxconn 5", server.addr));
    let json = run_json(&[
        "ratelimit",
        &url(proxy.port),
        "--mode",
        "hold",
        "--attempts",
        "8",
        "--rate",
        "50/s",
        "--connect-timeout",
        "1500ms",
    ]);
    let inferred = &json["inferred"];
    assert_eq!(inferred["max_concurrent"], 5, "{json}");
    assert_eq!(inferred["signal"], "queued", "{inferred}");
    assert_eq!(inferred["slots_reused"], true, "{inferred}");
    let queued = json["attempts"].as_array().unwrap().iter().filter(|a| a["failed_in"] == "upgrade").count();
    assert_eq!(queued, 3, "3 upgrades left waiting: {}", json["attempts"]);
    assert_eq!(json["verdict"], "pass", "queued attempts are the cap's signal, not unanswered: {}", json["findings"]);
    let text = json["diagnosis"].to_string();
    assert!(text.contains("caps concurrent connections from here at 5") && text.contains("queueing"), "{text}");
}

/// HAProxy's per-IP `conn_rate` over 1 s, more than 2 refused with `deny`.
fn haproxy_conn_rate(server: &TestServer, deny: &str) -> Proxy {
    let frontend = format!(
        "  stick-table type ip size 1k expire 30s store conn_rate(1s)\n  tcp-request connection track-sc0 src\n  {deny} if {{ sc0_conn_rate gt 2 }}"
    );
    Proxy::haproxy(&frontend, &format!("  server s1 {}", server.addr))
}

fn assert_counts_refusals(json: &Value, signal: &str) {
    let inferred = &json["inferred"];
    assert_eq!(inferred["burst"], 2, "{json}");
    assert_eq!(inferred["signal"], signal, "{inferred}");
    assert!(inferred["window_s"].is_number(), "the backed-off probes got in again: {inferred}");
    assert_eq!(inferred["counts_refusals"], true, "{inferred}");
    let model = &inferred["model"];
    assert_eq!((model["kind"].as_str(), model["burst"].as_u64()), (Some("counting-window"), Some(2)), "{inferred}");
    let w = model["window_s"].as_f64().unwrap();
    assert!((w - 1.0).abs() <= 0.25, "conn_rate(1s): {model}");
    assert!(json["diagnosis"].to_string().contains("counts refused attempts"), "{}", json["diagnosis"]);
}

#[test]
fn haproxy_conn_rate_deny_counts_refusals_and_backed_off_probes_get_in() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = haproxy_conn_rate(&server, "http-request deny deny_status 429");
    let json = run_json(&["ratelimit", &url(proxy.port), "--attempts", "6", "--rate", "20/s", "--max-wait", "40s"]);
    assert_counts_refusals(&json, "http-429");
}

#[test]
fn haproxy_conn_rate_tcp_reject_is_a_refusal_by_reset() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = haproxy_conn_rate(&server, "tcp-request connection reject");
    let json = run_json(&["ratelimit", &url(proxy.port), "--attempts", "6", "--rate", "20/s", "--max-wait", "40s"]);
    assert_counts_refusals(&json, "reset");
    assert!(json["findings"].as_array().unwrap().iter().all(|f| f["check"] != "unanswered"), "{}", json["findings"]);
}

#[test]
fn reference_server_limiter_models_read_back() {
    let run = |model: &str| {
        run_json(&[
            "ratelimit",
            "--server-rate-limit",
            "3/1s",
            "--server-rate-limit-model",
            model,
            "--attempts",
            "8",
            "--rate",
            "20/s",
            "--max-wait",
            "30s",
        ])
    };
    let json = run("window");
    assert_eq!(json["inferred"]["model"]["kind"], "window", "{}", json["inferred"]);
    assert_eq!(json["inferred"]["limit"], "3/1s");
    assert_bucket(&run("bucket"), 3, 3.0);
    let json = run("counting");
    assert_eq!(json["inferred"]["model"]["kind"], "counting-window", "{}", json["inferred"]);
    assert_eq!(json["inferred"]["counts_refusals"], true);
}

#[test]
fn reference_server_queue_mode_is_a_queued_cap() {
    let json = run_json(&[
        "ratelimit",
        "--mode",
        "hold",
        "--server-max-clients",
        "4",
        "--server-max-clients-mode",
        "queue",
        "--attempts",
        "6",
        "--rate",
        "50/s",
        "--connect-timeout",
        "1s",
    ]);
    assert_eq!(json["inferred"]["max_concurrent"], 4, "{json}");
    assert_eq!(json["inferred"]["signal"], "queued");
    assert_eq!(json["inferred"]["slots_reused"], true, "a queued client that gave up left the queue: {json}");
    assert_eq!(json["verdict"], "pass", "{}", json["findings"]);
}
