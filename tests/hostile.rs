//! wsprobe against servers that are broken by definition: every outcome is
//! classified in words, within a bounded time, with the protocol close code
//! wsprobe sends, and with the exit codes of the spec. No panics, no hangs.

mod common;

use std::time::{Duration, Instant};

use common::hostile::{Hostile, HostileServer};
use common::run_json;
use serde_json::Value;

/// Runs `connect` against the fixture and checks the time bound.
fn connect(kind: Hostile, bound: Duration) -> Value {
    let server = HostileServer::start(kind);
    let started = Instant::now();
    let json =
        run_json(&["connect", &server.url(), "--connect-timeout", "2s", "--listen", "1s", "--close-timeout", "1s"]);
    assert!(started.elapsed() < bound, "{kind:?} took {:?}", started.elapsed());
    json
}

fn text(v: &Value) -> String {
    v.to_string()
}

#[test]
fn silent_server_times_out_at_the_connect_timeout() {
    let json = connect(Hostile::Silent, Duration::from_secs(5));
    assert_eq!(json["verdict"], "error", "{json}");
    assert!(text(&json["error"]).contains("did not answer the upgrade"), "{json}");
}

#[test]
fn trickling_server_times_out_at_the_connect_timeout() {
    let json = connect(Hostile::Trickle, Duration::from_secs(5));
    assert_eq!(json["verdict"], "error", "{json}");
    assert!(text(&json["error"]).contains("connect timeout"), "{json}");
}

#[test]
fn garbage_is_not_http() {
    let json = connect(Hostile::Garbage, Duration::from_secs(3));
    assert_eq!(json["verdict"], "fail", "the server answered, not with an upgrade: {json}");
    assert!(text(&json["findings"]).contains("not valid HTTP"), "{json}");
}

#[test]
fn wrong_accept_key_fails_the_connection() {
    let json = connect(Hostile::WrongAccept, Duration::from_secs(3));
    assert_eq!(json["verdict"], "fail");
    assert!(text(&json["findings"]).contains("wrong Sec-WebSocket-Accept"), "{json}");
}

fn protocol_close(kind: Hostile, code: u16, words: &str) {
    let json = connect(kind, Duration::from_secs(4));
    assert_eq!(json["verdict"], "fail", "{kind:?}: {json}");
    assert_eq!(json["close"]["code"], code, "{kind:?}: {json}");
    assert_eq!(json["close"]["how"], "protocol-error");
    assert!(text(&json["close"]["detail"]).contains(words), "{kind:?}: {}", json["close"]);
}

#[test]
fn reserved_bits_are_a_protocol_error_1002() {
    protocol_close(Hostile::ReservedBits, 1002, "reserved bits");
}

#[test]
fn reserved_opcode_is_a_protocol_error_1002() {
    protocol_close(Hostile::BadOpcode, 1002, "opcode");
}

#[test]
fn masked_server_frame_is_a_protocol_error_1002() {
    protocol_close(Hostile::MaskedFrame, 1002, "masked");
}

#[test]
fn invalid_utf8_is_1007() {
    protocol_close(Hostile::InvalidUtf8, 1007, "UTF-8");
}

#[test]
fn wsprobe_sends_the_close_code_it_reports() {
    let server = HostileServer::start(Hostile::InvalidUtf8);
    run_json(&["connect", &server.url(), "--listen", "1s"]);
    assert!(common::eventually(Duration::from_secs(2), || server.received().len() >= 8), "a close frame arrived");
    let got = server.received();
    assert_eq!(got[0], 0x88, "a close frame: {got:02x?}");
    assert_eq!(got[1], 0x82, "masked, 2-byte payload: {got:02x?}");
    let code = u16::from_be_bytes([got[6] ^ got[2], got[7] ^ got[3]]);
    assert_eq!(code, 1007);
}

#[test]
fn a_100_mb_frame_is_refused_with_1009_without_reading_it() {
    protocol_close(Hostile::HugeFrame, 1009, "limit");
}

#[test]
fn close_in_the_middle_of_a_frame_is_1006() {
    let json = connect(Hostile::CloseMidFrame, Duration::from_secs(4));
    assert_eq!(json["close"]["code"], 1006, "{json}");
    assert_eq!(json["close"]["abnormal"], true);
}

#[test]
fn close_frame_with_tcp_left_open_is_a_clean_close_in_bounded_time() {
    let json = connect(Hostile::CloseKeepOpen, Duration::from_secs(4));
    assert_eq!(json["close"]["code"], 1000, "{json}");
    assert_eq!(json["close"]["abnormal"], false);
}

#[test]
fn every_client_command_stays_bounded_against_a_silent_server() {
    let server = HostileServer::start(Hostile::Silent);
    let url = server.url();
    let runs: Vec<Vec<&str>> = vec![
        vec!["single", &url, "--connect-timeout", "1s", "--hold", "200ms"],
        vec!["stability", &url, "--connect-timeout", "1s", "--duration", "3s"],
        vec!["ratelimit", &url, "--connect-timeout", "1s", "--attempts", "3", "--rate", "10/s", "--max-wait", "1s"],
        vec!["storm", &url, "--connect-timeout", "1s", "--clients", "5", "--max-attempts", "1", "--hold", "0ms"],
    ];
    for args in runs {
        let started = Instant::now();
        let json = run_json(&args);
        assert!(started.elapsed() < Duration::from_secs(8), "{} took {:?}", args[0], started.elapsed());
        assert!(matches!(json["verdict"].as_str(), Some("fail" | "error")), "{}: {json}", args[0]);
    }
}

#[test]
fn every_client_command_classifies_garbage() {
    let server = HostileServer::start(Hostile::Garbage);
    let url = server.url();
    let json = run_json(&["single", &url, "--hold", "200ms"]);
    assert!(text(&json["error"]).contains("not valid HTTP"), "{json}");
    let json = run_json(&["ratelimit", &url, "--attempts", "3", "--rate", "20/s"]);
    assert_eq!(json["verdict"], "error", "nothing was accepted, so nothing can be inferred: {json}");
    assert_eq!(json["outcomes"]["protocol"], 3, "{json}");
    let json = run_json(&["storm", &url, "--clients", "5", "--max-attempts", "1"]);
    assert_eq!(json["rejections"]["protocol"], 5, "{json}");
    assert_eq!(json["connected"], 0);
}

#[test]
fn stability_records_protocol_errors_as_drops_with_their_code() {
    for (kind, code) in [(Hostile::InvalidUtf8, 1007), (Hostile::ReservedBits, 1002), (Hostile::HugeFrame, 1009)] {
        let server = HostileServer::start(kind);
        let json = run_json(&["stability", &server.url(), "--duration", "2s"]);
        assert_eq!(json["closes"][0]["code"], code, "{kind:?}: {json}");
        assert!(text(&json["diagnosis"]).contains("broke the protocol"), "{kind:?}: {}", json["diagnosis"]);
    }
}
