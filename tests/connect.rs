//! `connect`: phases on success, refusals with status and body, and a clear
//! error when nothing listens.

mod common;

use common::{endpoint, run, run_json, runtime, TestServer};
use wsprobe::exit::Verdict;
use wsprobe::net::connect::{open, Attempt};
use wsprobe::server::config::ServerConfig;
use wsprobe::units::ClientId;

#[test]
fn step_by_step_on_the_embedded_server() {
    let json = run_json(&["connect", "--send", "hello", "--send", r#"{"type":"ping"}"#, "--listen", "300ms"]);
    assert_eq!(json["verdict"], "pass");
    assert_eq!(json["http_status"], 101);
    let phases: Vec<&str> = json["steps"].as_array().unwrap().iter().map(|s| s["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["dns", "tcp", "upgrade", "close"]);
    let inbound: Vec<&str> = json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| m["data"].as_str().unwrap())
        .collect();
    assert_eq!(inbound, ["hello", r#"{"type":"pong"}"#]);
    assert!(json["steps"][3]["detail"].as_str().unwrap().contains("answered 1000"));
}

#[test]
fn refused_port_is_an_error_with_one_clear_line() {
    let report = run(&["connect", "ws://127.0.0.1:1/"]);
    assert_eq!(report.verdict, Verdict::Error);
    let error = report.error.unwrap();
    assert!(error.contains("connection refused") && error.contains("127.0.0.1:1"), "{error}");
    assert!(!error.contains('\n'));
}

#[test]
fn refused_upgrade_shows_status_and_body() {
    let server = TestServer::start(ServerConfig::default());
    let rt = runtime();
    let _holder = rt.block_on(async {
        match open(&endpoint(&server.url()), ClientId::new(0)).await {
            Attempt::Open(o) => o,
            _ => panic!("first connection"),
        }
    });
    let json = run_json(&["connect", &server.url()]);
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["http_status"], 409);
    assert!(json["body"].as_str().unwrap().contains("already connected"));
    assert!(json["findings"][0]["detail"].as_str().unwrap().contains("409"));
}

#[test]
fn rate_limited_upgrade_shows_retry_after() {
    let server = TestServer::start(ServerConfig { rate_limit: Some("1/30s".parse().unwrap()), ..Default::default() });
    assert_eq!(run_json(&["connect", &server.url(), "--listen", "0ms"])["verdict"], "pass");
    let json = run_json(&["connect", &server.url(), "--listen", "0ms"]);
    assert_eq!(json["http_status"], 429);
    assert!(json["retry_after"].as_str().unwrap().parse::<u32>().unwrap() >= 29);
}

#[test]
fn full_server_answers_503() {
    let server = TestServer::start(ServerConfig {
        max_clients: Some(1),
        faults: vec![wsprobe::server::config::Fault::LeakSlots],
        ..Default::default()
    });
    assert_eq!(run(&["connect", &server.url(), "--listen", "0ms"]).verdict, Verdict::Pass, "the first connection fits");
    let json = run_json(&["connect", &server.url(), "--listen", "0ms"]);
    assert_eq!(json["http_status"], 503);
}

#[test]
fn secrets_in_the_url_and_headers_are_redacted() {
    let server = TestServer::start(ServerConfig::default());
    let url = format!("ws://{}/ws?device=d1&token=SECRET123", server.addr);
    let report = run(&["connect", &url, "-H", "Authorization: Bearer SECRET456", "--listen", "0ms"]);
    let all = format!(
        "{}{}",
        wsprobe::report::json::render(&report),
        wsprobe::report::table::render(&report, Default::default())
    );
    assert!(!all.contains("SECRET"), "{all}");
    assert!(all.contains("token=***"));
}
