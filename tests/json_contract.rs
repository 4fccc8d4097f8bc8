//! The `--json` contract of SPEC.md: field names, types and meanings that
//! machines rely on. A change that breaks one of these breaks users.

mod common;

use common::run_json;
use serde_json::Value;

fn assert_common(json: &Value, command: &str) {
    assert_eq!(json["command"], command);
    assert!(json["target"].is_string());
    assert!(["pass", "fail", "error"].contains(&json["verdict"].as_str().unwrap()));
    for f in json["findings"].as_array().expect("findings array") {
        assert!(f["check"].is_string() && f["ok"].is_boolean() && f["detail"].is_string(), "{f}");
    }
}

fn assert_conn(v: &Value) {
    assert!(["open", "rejected", "closed"].contains(&v["outcome"].as_str().unwrap()), "{v}");
    assert!(v["http_status"].is_null() || v["http_status"].is_u64());
    assert!(v["close_code"].is_null() || v["close_code"].is_u64());
}

#[test]
fn single_fields() {
    let json = run_json(&["single", "--hold", "200ms", "--settle", "200ms"]);
    assert_common(&json, "single");
    assert!(["reject-new", "replace-old", "allow-multiple", "none"].contains(&json["policy"].as_str().unwrap()));
    assert_conn(&json["first"]);
    assert_conn(&json["second"]);
    assert!(["accepted", "rejected"].contains(&json["reconnect_after_close"].as_str().unwrap()));
    assert!(json["distinct"]["tried"].is_u64() && json["distinct"]["accepted"].is_u64());
}

#[test]
fn connect_fields() {
    let json = run_json(&["connect", "--listen", "0ms"]);
    assert_common(&json, "connect");
    assert!(json["steps"].is_array());
    assert_eq!(json["http_status"], 101);
}

#[test]
fn target_is_redacted() {
    let json = run_json(&["connect", "ws://127.0.0.1:1/ws?access_token=abc", "--listen", "0ms"]);
    assert_eq!(json["verdict"], "error");
    assert!(!json.to_string().contains("abc"));
}
