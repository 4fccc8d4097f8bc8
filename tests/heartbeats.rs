//! `stability`'s heartbeat diagnosis against the stacks that showed it
//! wrong: Python `websockets` closes a missed pong with 1011 "keepalive ping
//! timeout", gorilla/websocket's chat pattern with an empty close frame
//! (1005) or a bare TCP close (1006), Node `ws`'s README heartbeat with
//! terminate() (1006). Whatever the code, withheld pongs and a close before
//! the next ping read as a pong deadline. A gorilla server whose read
//! deadline only data messages reset drops a silent connection although
//! every ping is answered: that must not read as a heartbeat failure. The
//! reference server reproduces each (`--pong-timeout-close`,
//! `--idle-reset data`) for selftest.

mod common;

use common::run_json;
use common::stacks::Peer;
use serde_json::Value;

fn first_close(json: &Value) -> &Value {
    let close = &json["closes"][0];
    assert!(close.is_object(), "no drop: {json}");
    close
}

fn diagnosis(json: &Value) -> String {
    json["diagnosis"].to_string()
}

/// The drop reads as a pong deadline and names the stack's own words.
fn assert_pong_deadline(json: &Value, code: u64) {
    let close = first_close(json);
    assert_eq!(close["code"], code, "{close}");
    assert_eq!(close["cause"], "pong-deadline", "{close}");
    let text = diagnosis(json);
    assert!(text.contains("a pong deadline"), "{text}");
    assert!(!text.contains("internal error\""), "{text}");
    assert!(!text.contains("no status code."), "{text}");
}

#[test]
fn python_websockets_keepalive_1011_is_a_pong_deadline() {
    let peer = Peer::python_keepalive("1", "1");
    let json = run_json(&["stability", &peer.url, "--no-pong", "--duration", "5s"]);
    assert_pong_deadline(&json, 1011);
    let close = first_close(&json);
    assert_eq!(close["reason"], "keepalive ping timeout");
    let since = close["since_ping_s"].as_f64().unwrap();
    assert!((since - 1.0).abs() < 0.4, "closed one ping_timeout (1 s) after the ping: {close}");
    let text = diagnosis(&json);
    assert!(text.contains("In its own words: \\\"keepalive ping timeout\\\""), "{text}");
    assert!(text.contains("not a crash"), "{text}");
    assert!(!text.contains("the server hit an internal error"), "{text}");
}

#[test]
fn python_websockets_survives_when_pongs_are_answered() {
    let peer = Peer::python_keepalive("0.5", "0.5");
    let json = run_json(&["stability", &peer.url, "--duration", "2500ms"]);
    assert_eq!(json["verdict"], "pass", "{json}");
    assert!(json["server_pings"]["count"].as_u64().unwrap() >= 3, "{}", json["server_pings"]);
}

#[test]
fn gorilla_empty_close_1005_on_its_read_deadline_is_a_pong_deadline() {
    let peer = Peer::gorilla(&["pong", "400ms", "1200ms"]);
    let json = run_json(&["stability", &peer.url, "--no-pong", "--duration", "3s"]);
    assert_pong_deadline(&json, 1005);
    let close = first_close(&json);
    assert!((close["after_s"].as_f64().unwrap() - 1.2).abs() < 0.35, "the 1.2 s read deadline: {close}");
    assert!(diagnosis(&json).contains("of about 1.2 s counted from the last pong"), "{}", diagnosis(&json));
}

#[test]
fn gorilla_bare_tcp_close_1006_is_a_pong_deadline() {
    let peer = Peer::gorilla(&["pong", "400ms", "1200ms", "abrupt"]);
    let json = run_json(&["stability", &peer.url, "--no-pong", "--duration", "3s"]);
    assert_pong_deadline(&json, 1006);
    assert_eq!(first_close(&json)["abnormal"], true);
}

#[test]
fn node_ws_terminate_is_a_pong_deadline() {
    let peer = Peer::node("heartbeat_ws.js", &["500"]);
    let json = run_json(&["stability", &peer.url, "--no-pong", "--duration", "3s"]);
    assert_pong_deadline(&json, 1006);
    let since = first_close(&json)["since_ping_s"].as_f64().unwrap();
    assert!((since - 0.5).abs() < 0.3, "terminated at the next tick: {since}");
}

#[test]
fn gorilla_data_read_deadline_with_answered_pings_is_not_a_heartbeat_failure() {
    let peer = Peer::gorilla(&["idle", "300ms", "1s"]);
    let json = run_json(&["stability", &peer.url, "--duration", "3500ms", "--reconnect"]);
    let close = first_close(&json);
    assert_eq!(close["code"], 1005, "{close}");
    assert_eq!(close["cause"], "pings-answered", "{close}");
    assert_eq!(close["pongs_withheld"], 0);
    let text = diagnosis(&json);
    assert!(text.contains("not a heartbeat timeout") && text.contains("only data messages reset"), "{text}");
    assert!(text.contains("wsprobe answered, yet it dropped every connection at the same age"), "{text}");
    let period = json["period"]["seconds"].as_f64().unwrap();
    assert!((period - 1.0).abs() < 0.25, "{period}");
    // A data message now and then resets that deadline: the connection lives.
    let json =
        run_json(&["stability", &peer.url, "--duration", "2500ms", "--app-ping", "hi", "--app-ping-interval", "300ms"]);
    assert_eq!(json["verdict"], "pass", "{json}");
}

#[test]
fn reference_server_reproduces_each_close_of_a_pong_deadline() {
    for (close, code) in [("1011:keepalive ping timeout", 1011), ("empty", 1005), ("abrupt", 1006), ("1000", 1000)] {
        let json = run_json(&[
            "stability",
            "--server-ping-interval",
            "300ms",
            "--server-pong-timeout",
            "900ms",
            "--server-pong-timeout-close",
            close,
            "--no-pong",
            "--duration",
            "2s",
        ]);
        assert_pong_deadline(&json, code);
    }
}

#[test]
fn reference_server_idle_reset_data_drops_despite_answered_pings() {
    let args = ["stability", "--server-ping-interval", "200ms", "--server-idle-timeout", "800ms"];
    let json = run_json(&[&args[..], &["--server-idle-reset", "data", "--duration", "2s"]].concat());
    let close = first_close(&json);
    assert_eq!(close["cause"], "pings-answered", "{close}");
    assert!((close["idle_data_out_s"].as_f64().unwrap() - 0.8).abs() < 0.3, "{close}");
    let json = run_json(&[&args[..], &["--duration", "1500ms"]].concat());
    assert_eq!(json["verdict"], "pass", "pongs reset the default idle timeout: {json}");
}
