//! Diagnostic truth on real stacks (issue 15): wsprobe's classification
//! and its advice judged against servers that are not wsprobe's
//! (tests/third_party/plain_server.py on Python `websockets`: an echo
//! server, websockets' own Origin check, a bearer-token check; the FastAPI
//! device router) and the reference server. What really arrived comes
//! from each peer's truth file, not from wsprobe.
//!
//! - a token from the environment (`${WS_TOKEN}`) authenticates a CI run
//!   and never shows in any output;
//! - `run -H/--origin/--subprotocol` reach every check; a check's own wins;
//! - the shipped routing check fails against an echo server and passes
//!   against routers;
//! - a 403 that names the Origin gets `--origin` advice, not `-H`;
//! - `-vv` shows the request headers as sent, secrets redacted.

mod common;

use common::peer::Peer;
use common::{json_stdout, wsprobe};
use serde_json::Value;

/// The bearer token the token server wants (and no output may show).
const TOKEN: &str = "tok-8c1f2e7a-ci";
const ORIGIN: &str = "https://app.example.com";

fn plain(args: &[&str]) -> Peer {
    Peer::python("plain_server.py", "websockets", args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes a scenario file into `dir` and returns its path.
fn scenario(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("ci.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

/// The `open` events the peer logged: the headers that really arrived.
fn opened(peer: &Peer) -> Vec<Value> {
    peer.truth().into_iter().filter(|e| e["event"] == "open").collect()
}

const TOKEN_SCENARIO: &str = r#"name = "Authenticated smoke check"
[target]
url = "${WS_URL}/ws?device=ci-{client}"

[[check]]
name = "the upgrade with the CI token is accepted"
command = "connect"
header = ["Authorization: Bearer ${WS_TOKEN}"]
send = ["echo ${WS_TOKEN}"]
listen = "300ms"
expect = { http_status = 101, "messages.1.direction" = "in" }
"#;

#[test]
fn a_token_from_the_environment_authenticates_and_never_shows() {
    let server = plain(&["token", TOKEN]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, TOKEN_SCENARIO);
    let (out_file, junit) = (dir.path().join("run.json"), dir.path().join("run.xml"));
    let out = wsprobe()
        .env("WS_URL", &server.base)
        .env("WS_TOKEN", TOKEN)
        .args(["run", &file, "--json", "-vv", "--out"])
        .arg(&out_file)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let arrived = opened(&server);
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(arrived[0]["headers"]["authorization"], format!("Bearer {TOKEN}"), "the real token was sent");
    let json = json_stdout(&out);
    let report = &json["files"][0]["checks"][0]["report"];
    assert_eq!(report["http_status"], 101, "{json}");
    assert_eq!(report["messages"][1]["data"], "echo ***", "the echoed token is masked too: {json}");
    let written = [std::fs::read_to_string(&out_file).unwrap(), std::fs::read_to_string(&junit).unwrap()];
    for (what, output) in
        [("stdout", &stdout), ("stderr (-vv)", &stderr), ("--out", &written[0]), ("--junit", &written[1])]
    {
        assert!(!output.contains(TOKEN), "{what} shows the token:\n{output}");
    }
    assert!(stderr.contains("> Authorization: Bearer ***"), "-vv shows the header, masked: {stderr}");
}

#[test]
fn an_unset_variable_stops_the_run_naming_it_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, TOKEN_SCENARIO);
    let out = wsprobe().env("WS_URL", "ws://127.0.0.1:1").env_remove("WS_TOKEN").args(["run", &file]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ci.toml:8: ${WS_TOKEN} is not set"), "{stderr}");
    assert!(stderr.contains("secrets.WS_TOKEN"), "says how to set it in CI: {stderr}");
}

const TWO_CHECKS: &str = r#"[target]
url = "${WS_URL}/ws?device=ci-{client}"

[[check]]
name = "takes the run's credentials"
command = "connect"
listen = "0ms"
expect = { http_status = 101 }

[[check]]
name = "its own header wins over the run's"
command = "connect"
listen = "0ms"
header = ["authorization: Bearer not-the-token"]
expect_verdict = "fail"
expect = { http_status = 401 }
"#;

#[test]
fn run_options_reach_every_check_and_a_checks_own_value_wins() {
    let server = plain(&["token", TOKEN]);
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(&dir, TWO_CHECKS);
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let out = wsprobe()
        .env("WS_URL", &server.base)
        .args(["run", &file, "-H", &bearer, "--origin", ORIGIN, "--subprotocol", "chat.v1", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let json = json_stdout(&out);
    let checks = &json["files"][0]["checks"];
    assert_eq!(checks[0]["report"]["http_status"], 101, "{json}");
    assert_eq!(checks[1]["report"]["http_status"], 401, "{json}");
    let diagnosis = checks[1]["report"]["diagnosis"].to_string();
    assert!(diagnosis.contains("pass credentials with -H"), "a plain 401 is about credentials: {diagnosis}");
    let arrived = opened(&server);
    assert_eq!(arrived.len(), 1, "only the run's token got in: {arrived:?}");
    assert_eq!(arrived[0]["headers"]["origin"], ORIGIN);
    assert_eq!(arrived[0]["headers"]["sec-websocket-protocol"], "chat.v1");
}

/// The shipped check, by its name in scenarios/device-router.toml.
fn routing_check(target: Option<&str>) -> Value {
    let mut cmd = wsprobe();
    cmd.args(["run", "scenarios/device-router.toml", "--json"]);
    if let Some(url) = target {
        cmd.args(["--target", url]);
    }
    let out = cmd.output().unwrap();
    let json = json_stdout(&out);
    let checks = json["files"][0]["checks"].as_array().cloned().unwrap_or_default();
    checks
        .into_iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("messages are routed to the device they name")))
        .unwrap_or_else(|| panic!("the routing check is in the file: {json}"))
}

#[test]
fn the_shipped_routing_check_fails_against_an_echo_server() {
    let echo = plain(&["echo"]);
    let check = routing_check(Some(&format!("{}/ws?device=dev-{{client}}", echo.base)));
    assert_eq!(check["ok"], false, "{check}");
    let report = &check["report"];
    assert_eq!(report["command"], "fanout");
    assert_eq!(report["verdict"], "fail", "{report}");
    assert_eq!((report["expected"].as_u64(), report["delivered"].as_u64()), (Some(12), Some(0)), "{report}");
    assert_eq!(report["missing"], 12, "{report}");
    assert_eq!(report["echoes"], 12, "each message came back to its sender only: {report}");
    let paths: Vec<Value> = opened(&echo).into_iter().map(|e| e["path"].clone()).collect();
    assert!(paths.contains(&Value::from("/ws?device=dev-3")), "the fourth device connected: {paths:?}");
}

#[test]
fn the_shipped_routing_check_passes_against_the_reference_server_and_a_fastapi_router() {
    let embedded = routing_check(None);
    assert_eq!(embedded["ok"], true, "{embedded}");
    assert_eq!(embedded["report"]["delivered"], 12, "{embedded}");
    let router = Peer::python("fanout_router.py", "fastapi, uvicorn", &[]);
    let check = routing_check(Some(&format!("{}/ws?device=dev-{{client}}", router.base)));
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["report"]["cross_talk"], 0, "{check}");
    let sends: Vec<Value> = router.truth().into_iter().filter(|e| e["event"] == "send").collect();
    assert_eq!(sends.len(), 12, "the router routed 12 messages: {sends:?}");
    assert!(sends.iter().all(|s| s["recipients"] == serde_json::json!([s["to"]])), "each to its addressee: {sends:?}");
}

#[test]
fn a_403_naming_the_origin_suggests_origin_not_credentials() {
    let server = plain(&["origin", ORIGIN]);
    let url = format!("{}/ws?device=d1", server.base);
    let out = wsprobe().args(["connect", &url, "--listen", "0ms", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the server answered and refused");
    let json = json_stdout(&out);
    assert_eq!(json["http_status"], 403);
    assert!(json["body"].as_str().unwrap_or_default().contains("missing Origin header"), "{json}");
    let diagnosis = json["diagnosis"].to_string();
    assert!(diagnosis.contains("--origin https://"), "{diagnosis}");
    assert!(!diagnosis.contains("pass credentials"), "not an authentication problem: {diagnosis}");

    let out = wsprobe().args(["single", &url, "--hold", "200ms", "--settle", "100ms", "--json"]).output().unwrap();
    let error = json_stdout(&out)["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("names the Origin") && error.contains("--origin"), "{error}");
    let out = wsprobe().args(["ratelimit", &url, "--attempts", "2", "--rate", "20/s", "--json"]).output().unwrap();
    let error = json_stdout(&out)["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("http-403") && error.contains("--origin"), "{error}");

    let out = wsprobe().args(["connect", &url, "--listen", "0ms", "--origin", ORIGIN]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "with the allowed Origin it upgrades: {}", text(&out.stdout));
}

#[test]
fn verbose_shows_the_request_headers_as_sent_with_secrets_redacted() {
    let server = plain(&["token", TOKEN]);
    let url = format!("{}/ws?device=d1&token=QUERYSECRET9", server.base);
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let out = wsprobe()
        .args(["connect", &url, "--listen", "0ms", "-vv", "-H", &bearer, "-H", "Cookie: sid=COOKIESECRET9"])
        .args(["--origin", ORIGIN])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for line in [
        "> GET /ws?device=d1&token=*** HTTP/1.1",
        "> Authorization: Bearer ***",
        "> Cookie: ***",
        &format!("> Origin: {ORIGIN}"),
        "> Sec-WebSocket-Version: 13",
    ] {
        assert!(stderr.contains(line), "-vv shows {line:?}:\n{stderr}");
    }
    for secret in [TOKEN, "QUERYSECRET9", "COOKIESECRET9"] {
        assert!(!stderr.contains(secret) && !text(&out.stdout).contains(secret), "{secret} leaked:\n{stderr}");
    }
    let arrived = opened(&server);
    assert_eq!(arrived[0]["headers"]["cookie"], "sid=COOKIESECRET9", "what -vv redacts was really sent");
    let quiet = wsprobe().args(["connect", &url, "--listen", "0ms", "-H", &bearer]).output().unwrap();
    assert!(!text(&quiet.stderr).contains("> Authorization"), "only at -vv");
}
