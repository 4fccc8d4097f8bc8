//! Secrets never leave wsprobe: tokens in Authorization and Cookie headers
//! and in token-like query parameters are redacted in every output format
//! (tables, JSON, JUnit, logs), for every command.

mod common;

use common::{wsprobe, TestServer};
use wsprobe::server::config::ServerConfig;

const SECRETS: [&str; 4] = ["SECRETQUERY1", "SECRETBEARER2", "SECRETCOOKIE3", "SECRETJWT4"];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} leaked {s}:\n{text}");
    }
}

/// Runs `args` in every output format, checks that none shows a secret,
/// and returns the `--json` object (so callers can check that the run did
/// what it should: a clean output from a run that did nothing proves nothing).
fn all_outputs(args: &[&str]) -> serde_json::Value {
    let mut json = serde_json::Value::Null;
    for extra in [vec!["--json"], vec![], vec!["-vv"], vec!["-q"]] {
        let out = wsprobe().args(args).args(&extra).output().unwrap();
        let both = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_clean(&format!("{} {:?}", args[0], extra), &both);
        if extra == ["--json"] {
            json = common::json_stdout(&out);
        }
    }
    json
}

fn url(server: &TestServer) -> String {
    format!(
        "ws://user:{}@{}/ws?device=dev-{{client}}&token={}&jwt={}",
        "SECRETJWT4", server.addr, "SECRETQUERY1", "SECRETJWT4"
    )
}

#[test]
fn no_output_format_of_any_command_shows_a_secret() {
    let server = TestServer::start(ServerConfig::default());
    let url = url(&server);
    let headers = ["-H", "Authorization: Bearer SECRETBEARER2", "-H", "Cookie: session=SECRETCOOKIE3"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["connect", &url, "--listen", "0ms"],
        vec!["single", &url, "--hold", "200ms", "--settle", "100ms", "--distinct", "2"],
        vec!["stability", &url, "--duration", "300ms"],
        vec!["ratelimit", &url, "--attempts", "3", "--rate", "50/s"],
        vec!["storm", &url, "--clients", "5", "--hold", "100ms"],
    ];
    for mut cmd in commands {
        cmd.extend(headers);
        let json = all_outputs(&cmd);
        assert_ne!(json["verdict"], "error", "{} ran against the server: {json}", cmd[0]);
        let target = json["target"].as_str().unwrap_or_default();
        assert!(
            target.contains("token=***") && target.contains("jwt=***"),
            "{}: the target is shown, redacted: {target}",
            cmd[0]
        );
    }
}

#[test]
fn errors_do_not_show_secrets_either() {
    let json = all_outputs(&[
        "connect",
        "ws://127.0.0.1:1/ws?access_token=SECRETQUERY1",
        "-H",
        "Authorization: Bearer SECRETBEARER2",
    ]);
    assert_eq!(json["target"], "ws://127.0.0.1:1/ws?access_token=***");
    let json = all_outputs(&["connect", "gopher://host/?token=SECRETQUERY1"]);
    assert!(json["error"].as_str().unwrap().contains("gopher://host/?token=***"), "the URL is named, redacted: {json}");
    let json = all_outputs(&["connect", "ws://127.0.0.1:1/", "-H", "Authorization SECRETBEARER2"]);
    assert!(json["error"].as_str().unwrap().contains("--header"), "the flag is named: {json}");
}

#[test]
fn junit_and_run_output_do_not_show_secrets() {
    let server = TestServer::start(ServerConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out.xml");
    let out = wsprobe()
        .args(["run", "scenarios/device-router.toml", "--target", &url(&server), "--json", "--junit"])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "the scenario ran: {}", String::from_utf8_lossy(&out.stdout));
    assert_clean("run --json", &String::from_utf8_lossy(&out.stdout));
    assert_clean("run stderr", &String::from_utf8_lossy(&out.stderr));
    assert_clean("junit", &std::fs::read_to_string(&junit).unwrap());
}
