//! `connect`: phases on success, refusals with status and body, and a clear
//! error when nothing listens.

mod common;

use common::{endpoint, run, run_json, runtime, TestServer};
use serde_json::Value;
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

/// Binary messages both ways against the reference server, in the order
/// given: `--send-binary HEX`, `--send @FILE` (not UTF-8: sent as binary,
/// a UTF-8 file as text); JSON carries base64 and the length, the table
/// a hex preview.
#[test]
fn binary_messages_go_out_in_order_and_their_echoes_are_shown_as_base64_and_hex() {
    let server = TestServer::start(ServerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let (bin, text) = (dir.path().join("frame.bin"), dir.path().join("hello.txt"));
    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    std::fs::write(&bin, &bytes).unwrap();
    std::fs::write(&text, "hello from a file").unwrap();
    let (bin_arg, text_arg) = (format!("@{}", bin.display()), format!("@{}", text.display()));
    let args = [
        "connect",
        &server.url(),
        "--send-binary",
        "CAFE babe",
        "--send",
        &bin_arg,
        "--send",
        &text_arg,
        "--listen",
        "300ms",
    ];
    let json = run_json(&args);
    assert_eq!(json["verdict"], "pass");
    let messages = json["messages"].as_array().unwrap();
    let out: Vec<(&str, &str)> = messages
        .iter()
        .filter(|m| m["direction"] == "out")
        .map(|m| (m["kind"].as_str().unwrap(), m["data"].as_str().unwrap()))
        .collect();
    use base64::Engine as _;
    let bin64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert_eq!(out, [("binary", "yv66vg=="), ("binary", bin64.as_str()), ("text", "hello from a file")]);
    let echoed: Vec<&Value> = messages.iter().filter(|m| m["direction"] == "in").collect();
    assert_eq!(echoed.len(), 3, "{messages:?}");
    assert_eq!(
        (echoed[1]["kind"].as_str(), echoed[1]["data"].as_str(), echoed[1]["bytes"].as_u64()),
        (Some("binary"), Some(bin64.as_str()), Some(256))
    );
    assert!(echoed[2].get("bytes").is_none(), "text has no `bytes`");

    let table = common::wsprobe_output(&args);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("4 bytes: ca fe ba be"), "{table}");
    assert!(table.contains("256 bytes: ff fe fd fc"), "{table}");
}

#[test]
fn bad_hex_is_refused_before_connecting() {
    let out = common::wsprobe_output(&["connect", "--send-binary", "abc", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let json = common::json_stdout(&out);
    assert!(json["error"].as_str().unwrap_or("").contains("odd count"), "{json}");
}
