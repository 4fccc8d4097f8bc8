//! `single` against the reference server in each duplicate policy and
//! fault, in-process on port 0: the policy is classified from the wire.

mod common;

use common::{run, run_json, TestServer};
use rstest::rstest;
use wsprobe::exit::Verdict;
use wsprobe::server::config::{DuplicatePolicy, Fault, ServerConfig};

#[test]
fn embedded_default_rejects_the_second_connection_with_409() {
    let json = run_json(&["single", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["policy"], "reject-new");
    assert_eq!(json["second"]["outcome"], "rejected");
    assert_eq!(json["second"]["http_status"], 409);
    assert_eq!(json["first"]["outcome"], "open");
    assert_eq!(json["reconnect_after_close"], "accepted");
    assert_eq!(json["verdict"], "pass");
}

#[rstest]
#[case::reject(DuplicatePolicy::Reject, "reject-new")]
#[case::replace(DuplicatePolicy::Replace, "replace-old")]
#[case::allow(DuplicatePolicy::Allow, "allow-multiple")]
fn policy_is_classified_against_a_separate_server(#[case] duplicate: DuplicatePolicy, #[case] expected: &str) {
    let server = TestServer::start(ServerConfig { duplicate, ..Default::default() });
    let json = run_json(&["single", &server.url(), "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["policy"], expected);
    assert_eq!(json["verdict"], "pass", "no --expect: any single-or-multiple policy passes");
    drop(server);
}

#[test]
fn replace_reports_the_old_connections_close_code() {
    let json = run_json(&["single", "--server-duplicate", "replace", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["policy"], "replace-old");
    assert_eq!(json["first"]["outcome"], "closed");
    assert_eq!(json["first"]["close_code"], 4000);
    assert_eq!(json["second"]["outcome"], "open");
}

#[test]
fn allow_multiple_fails_expect_single() {
    let report =
        run(&["single", "--server-duplicate", "allow", "--expect", "single", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(report.verdict, Verdict::Fail);
    let policy = report.findings.iter().find(|f| f.check == "policy").unwrap();
    assert!(!policy.ok && policy.detail.contains("expected single"), "{}", policy.detail);
}

#[test]
fn stale_identity_blocks_the_reconnect() {
    let json = run_json(&["single", "--server-fault", "stale-identity", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["reconnect_after_close"], "rejected");
    assert_eq!(json["verdict"], "fail");
    assert_eq!(json["policy"], "reject-new", "the policy itself is still enforced");
}

#[test]
fn distinct_identities_connect_together() {
    let json = run_json(&["single", "--distinct", "8", "--hold", "200ms", "--settle", "200ms"]);
    assert_eq!(json["distinct"]["tried"], 8);
    assert_eq!(json["distinct"]["accepted"], 8);
}

#[test]
fn distinct_is_skipped_without_an_identity_template() {
    let server = TestServer::start(ServerConfig::default());
    let url = format!("ws://{}/ws?device=fixed", server.addr);
    let report = run(&["single", &url, "--hold", "200ms", "--settle", "200ms"]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["distinct"]["tried"], 0);
    assert!(report.diagnosis.iter().any(|d| d.contains("{client}")), "{:?}", report.diagnosis);
}

#[test]
fn identity_from_a_header() {
    let json = run_json(&["single", "--server-identity", "header:X-Device", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["policy"], "reject-new");
    assert_eq!(json["distinct"]["accepted"], 5);
}

#[test]
fn race_against_an_atomic_registry_lets_one_in() {
    let json = run_json(&["single", "--race", "--hold", "300ms", "--settle", "200ms"]);
    assert_eq!(json["race"]["policy"], "reject-new");
    assert_eq!(json["verdict"], "pass");
}

#[test]
fn leak_slots_with_a_cap_of_one_is_seen_as_none_after_reconnect() {
    let server =
        TestServer::start(ServerConfig { max_clients: Some(2), faults: vec![Fault::LeakSlots], ..Default::default() });
    let json = run_json(&["single", &server.url(), "--hold", "200ms", "--settle", "200ms", "--distinct", "2"]);
    assert_eq!(json["policy"], "reject-new");
    assert_eq!(json["distinct"]["accepted"], 0, "every slot leaked: {json}");
    assert_eq!(json["verdict"], "fail");
}

#[test]
fn unreachable_target_is_an_error_not_a_failure() {
    let report = run(&["single", "ws://127.0.0.1:1/ws", "--hold", "200ms"]);
    assert_eq!(report.verdict, Verdict::Error);
    assert!(report.error.as_deref().unwrap_or("").contains("refused"), "{:?}", report.error);
}
