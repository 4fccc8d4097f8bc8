//! The application-protocol profiles that have no server installable here
//! (ActionCable, Phoenix, SignalR), against a server that replays their
//! wire formats as their documents give them (common::scripted): the
//! handshake and ready, heartbeats both ways, refusals classified as
//! refusals, drops explained, protocols noticed without `--protocol`; and
//! the exit-2 errors of the application flags. Socket.IO and graphql-ws run
//! against their real servers in tests/protocols_third_party.rs.
//!
//! Wire formats: ActionCable (actioncable-v1-json, Rails guides "Action
//! Cable Overview" and action_cable/connection/base.rb: welcome, ping every
//! 3 s, disconnect, confirm/reject_subscription), Phoenix (serializer
//! V2.JSONSerializer: [join_ref, ref, topic, event, payload], phx_join,
//! phx_reply, the "phoenix" topic heartbeat), SignalR (HubProtocol.md: the
//! JSON handshake and its 0x1E separator, type 6 ping, type 7 close).

mod common;

use std::time::Duration;

use common::scripted::{Act, Scripted};
use common::{run_json, wsprobe_output};
use serde_json::Value;

const RS: &str = "\u{1e}";
const WELCOME: &str = r#"{"type":"welcome"}"#;
const SUBSCRIBE: &str = r#"{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\"}"}"#;
const JOIN: &str = r#"["1","1","room:lobby","phx_join",{}]"#;

fn text(v: &Value) -> String {
    v["diagnosis"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

#[test]
fn app_flags_that_cannot_work_exit_2_naming_the_flag() {
    for (args, flag) in [
        (vec!["connect", "ws://127.0.0.1:1/", "--ready", "("], "--ready"),
        (vec!["connect", "ws://127.0.0.1:1/", "--reply", "no-equals-sign"], "--reply"),
        (vec!["connect", "ws://127.0.0.1:1/", "--reply", "(=3"], "--reply"),
        (vec!["storm", "ws://127.0.0.1:1/", "--protocol", "socketio", "--auth", "{not json"], "--auth"),
        (vec!["single", "ws://127.0.0.1:1/", "--protocol", "phoenix", "--auth", "{}"], "--auth"),
        (vec!["stability", "--protocol", "socketio"], "--protocol socketio"),
        (vec!["ratelimit", "--protocol", "nonsense"], "--protocol"),
    ] {
        let out = wsprobe_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?} should name {flag}: {stderr}");
    }
}

fn actioncable(script: Vec<Act>) -> Scripted {
    Scripted::start(Some("actioncable-v1-json"), script)
}

#[test]
fn actioncable_is_ready_on_welcome_and_a_silent_server_is_reported_stale() {
    let ping = r#"{"type":"ping","message":1700000000}"#.to_string();
    let server = actioncable(vec![Act::Send(WELCOME.into()), Act::Send(ping)]);
    let url = server.url("/cable");
    let r = run_json(&["stability", &url, "--protocol", "actioncable", "--duration", "7s"]);
    assert_eq!(r["verdict"], "pass", "the connection was never dropped: {r:#}");
    assert_eq!(r["app"]["protocol"], "actioncable");
    assert!(r["app"]["stale"].as_u64() >= Some(1), "{r:#}");
    assert!(text(&r).contains("stale"), "{}", text(&r));
}

#[test]
fn actioncable_reject_subscription_is_a_refusal() {
    let reject = r#"{"identifier":"{\"channel\":\"ChatChannel\"}","type":"reject_subscription"}"#.to_string();
    let server = actioncable(vec![Act::Send(WELCOME.into()), Act::Expect("subscribe"), Act::Send(reject)]);
    let url = server.url("/cable");
    let args = ["storm", &url, "--protocol", "actioncable", "--init", SUBSCRIBE, "--clients", "3"];
    let r = run_json(&[&args[..], &["--hold", "100ms", "--disrupt", "none", "--max-attempts", "1"]].concat());
    assert_eq!(r["connected"], 0, "{r:#}");
    assert_eq!(r["rejections"]["app-refused"], 3, "{r:#}");
}

#[test]
fn actioncable_disconnect_in_the_handshake_is_a_refusal_with_its_reason() {
    let bye = r#"{"type":"disconnect","reason":"unauthorized","reconnect":false}"#.to_string();
    let server = actioncable(vec![Act::Send(bye), Act::Close(1000, "")]);
    let r = run_json(&["connect", &server.url("/cable"), "--protocol", "actioncable"]);
    assert_eq!(r["verdict"], "fail");
    let refusal = r["app"]["refusal"].as_str().unwrap_or_default();
    assert!(refusal.contains("disconnect \"unauthorized\"") && refusal.contains("reconnect false"), "{r:#}");
}

#[test]
fn an_actioncable_welcome_without_the_option_is_named() {
    let server = actioncable(vec![Act::Send(WELCOME.into())]);
    let r = run_json(&["stability", &server.url("/cable"), "--duration", "300ms"]);
    assert_eq!(r["verdict"], "pass");
    assert!(text(&r).contains("ActionCable") && text(&r).contains("--protocol actioncable"), "{}", text(&r));
}

#[test]
fn phoenix_joins_then_keeps_its_heartbeat_and_times_the_replies() {
    let ok = r#"["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]"#.to_string();
    let beat_reply = r#"[null,"$REF","phoenix","phx_reply",{"status":"ok","response":{}}]"#.to_string();
    let server =
        Scripted::start(None, vec![Act::Expect("phx_join"), Act::Send(ok), Act::Reply(r#""heartbeat""#, beat_reply)]);
    let url = server.url("/socket");
    let args = ["stability", &url, "--protocol", "phoenix", "--init", JOIN, "--app-ping-interval", "200ms"];
    let r = run_json(&[&args[..], &["--duration", "1500ms"]].concat());
    assert_eq!(r["verdict"], "pass", "{r:#}");
    let app = &r["app"];
    assert!(app["heartbeats_sent"].as_u64() >= Some(5), "{app:#}");
    assert!(app["heartbeat_rtt_ms"]["count"].as_u64() >= Some(5), "{app:#}");
    let beats: Vec<String> = server.received().into_iter().filter(|m| m.contains("heartbeat")).collect();
    assert!(beats.len() >= 5 && beats[0].starts_with(r#"[null,""#), "{beats:?}");
    assert_ne!(beats[0], beats[1], "each heartbeat has its own ref");
}

#[test]
fn a_phoenix_join_error_is_a_refusal_with_its_reason() {
    let err = r#"["1","1","room:lobby","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]"#;
    let server = Scripted::start(None, vec![Act::Expect("phx_join"), Act::Send(err.into())]);
    let r = run_json(&["connect", &server.url("/socket"), "--protocol", "phoenix", "--init", JOIN]);
    assert_eq!(r["verdict"], "fail");
    let refusal = r["app"]["refusal"].as_str().unwrap_or_default();
    assert!(refusal.contains("phx_reply error \"unauthorized\" for room:lobby"), "{r:#}");
}

fn signalr(after_ready: Vec<Act>) -> Scripted {
    let mut script = vec![Act::Expect(r#"^\{"protocol":"json","version":1\}\x1e$"#), Act::Send(format!("{{}}{RS}"))];
    script.extend(after_ready);
    Scripted::start(None, script)
}

#[test]
fn signalr_pings_both_ways() {
    let server = signalr(vec![Act::Every(Duration::from_millis(200), format!(r#"{{"type":6}}{RS}"#))]);
    let url = server.url("/hub");
    let r =
        run_json(&["stability", &url, "--protocol", "signalr", "--app-ping-interval", "200ms", "--duration", "1500ms"]);
    assert_eq!(r["verdict"], "pass", "{r:#}");
    let app = &r["app"];
    assert!(app["server_heartbeats"]["count"].as_u64() >= Some(4) && app["replies"].as_u64() >= Some(4), "{app:#}");
    assert!(app["heartbeats_sent"].as_u64() >= Some(4), "{app:#}");
    let pings = server.received().iter().filter(|m| *m == &format!(r#"{{"type":6}}{RS}"#)).count();
    assert!(pings >= 8, "our pings and our answers: {pings}");
}

#[test]
fn a_signalr_close_message_explains_the_drop() {
    let close = format!(r#"{{"type":7,"error":"Server is shutting down"}}{RS}"#);
    let server = signalr(vec![Act::Sleep(Duration::from_millis(300)), Act::Send(close), Act::Close(1000, "")]);
    let r = run_json(&["stability", &server.url("/hub"), "--protocol", "signalr", "--duration", "3s"]);
    assert_eq!(r["verdict"], "fail");
    assert!(text(&r).contains("type 7) with error \"Server is shutting down\""), "{}", text(&r));
}

#[test]
fn a_signalr_handshake_error_is_a_refusal() {
    let server = Scripted::start(None, vec![Act::Expect("protocol"), Act::Send(format!(r#"{{"error":"nope"}}{RS}"#))]);
    let r = run_json(&["single", &server.url("/hub"), "--protocol", "signalr"]);
    assert_eq!(r["verdict"], "error");
    assert!(r["error"].as_str().unwrap_or_default().contains("SignalR handshake error \"nope\""), "{r:#}");
}

#[test]
fn an_application_that_never_gets_ready_is_its_own_timed_out_phase() {
    let r = run_json(&["connect", "--init", "hello", "--ready", "^never$", "--ready-timeout", "300ms"]);
    assert_eq!(r["verdict"], "fail", "the server answered the upgrade: {r:#}");
    let step = r["steps"].as_array().and_then(|s| s.last().cloned()).unwrap_or_default();
    assert_eq!((step["phase"].as_str(), step["ok"].as_bool()), (Some("app"), Some(false)), "{r:#}");
    let detail = step["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("a message matching --ready '^never$' did not arrive within --ready-timeout 300ms"),
        "{detail}"
    );
    let r = run_json(&[
        "storm",
        "--clients",
        "3",
        "--hold",
        "100ms",
        "--disrupt",
        "none",
        "--max-attempts",
        "1",
        "--ready",
        "^never$",
        "--ready-timeout",
        "200ms",
    ]);
    assert_eq!(r["rejections"]["timeout"], 3, "{r:#}");
}
