//! Proxies and redirects with real third-party peers: tinyproxy (HTTP
//! CONNECT, with and without Basic credentials) named by the environment
//! as curl reads it or by `--proxy`, NO_PROXY and `--no-proxy` going
//! direct, pproxy (SOCKS5, `socks5://` and `socks5h://`), the proxy as its
//! own timed phase in `connect` and in a storm's percentiles, its refusals
//! (407, 403, 500) classified as the proxy's with its credentials redacted;
//! and a Python server answering 301/302/307/308, followed or reported,
//! with nginx redirecting wss:// to ws:// (refused unless `--insecure`).

mod common;

use common::peers::{Nginx, Pproxy, RedirectServer, Tinyproxy};
use common::pki::{arg, TestCa, Validity};
use common::{contract, json_stdout, wsprobe, TestServer};
use wsprobe::server::config::ServerConfig;

const PROXY_VARS: &[&str] = &[
    "ws_proxy",
    "WS_PROXY",
    "wss_proxy",
    "WSS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The binary with exactly `env` among the proxy variables; exit code, JSON, stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut cmd = wsprobe();
    cmd.args(args).arg("--json");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("wsprobe runs");
    let json = json_stdout(&out);
    if let Err(e) = contract::check_value(&json) {
        panic!("{args:?} broke the JSON contract: {e}\n{json:#}");
    }
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn connect(url: &str, extra: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let args = [&["connect", url, "--listen", "100ms", "--connect-timeout", "5s"][..], extra].concat();
    run(&args, env)
}

fn step<'a>(json: &'a serde_json::Value, phase: &str) -> Option<&'a serde_json::Value> {
    json["steps"].as_array().unwrap().iter().find(|s| s["phase"] == phase)
}

fn ws_url(server: &TestServer) -> String {
    format!("ws://127.0.0.1:{}/ws?device=p-1", server.addr.port())
}

#[test]
fn https_proxy_from_the_environment_tunnels_wss_through_tinyproxy() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let server = TestServer::start(ServerConfig::default());
    let nginx = Nginx::tls(&cert, server.addr, "");
    let proxy = Tinyproxy::start(None, "");
    let url = format!("wss://localhost:{}/ws?device=p-1", nginx.port);
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        let (code, json, _) = connect(&url, &["--cacert", arg(&ca.ca.cert)], &[(var, &proxy.url(None))]);
        assert_eq!(code, 0, "{var}: {json:#}");
        let p = step(&json, "proxy").unwrap_or_else(|| panic!("{var}: a proxy step: {json:#}"));
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("(from {var})")) && detail.contains("CONNECT localhost:"), "{detail}");
        assert!(detail.contains(" 200 "), "tinyproxy's answer: {detail}");
        assert!(p["ms"].as_f64().is_some_and(|ms| ms > 0.0), "timed: {p}");
        assert_eq!(json["tls"]["certificate"]["subject"], "CN=localhost", "TLS runs through the tunnel");
        let tcp = step(&json, "tcp").unwrap()["detail"].as_str().unwrap().to_string();
        assert!(tcp.ends_with(&format!(":{}", proxy.port)), "TCP goes to the proxy: {tcp}");
    }
}

#[test]
fn ws_uses_http_proxy_in_lower_case_only_as_curl_does() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Tinyproxy::start(None, "");
    let (code, json, _) = connect(&ws_url(&server), &[], &[("http_proxy", &proxy.url(None))]);
    assert_eq!(code, 0, "{json:#}");
    assert!(step(&json, "proxy").is_some_and(|s| s["detail"].as_str().unwrap().contains("(from http_proxy)")));
    let (code, json, _) = connect(&ws_url(&server), &[], &[("HTTP_PROXY", &proxy.url(None))]);
    assert_eq!(code, 0);
    assert!(step(&json, "proxy").is_none(), "HTTP_PROXY is not read: {json:#}");
    assert!(json["warnings"].to_string().contains("HTTP_PROXY is set but not read"), "{json}");
}

#[test]
fn no_proxy_and_the_no_proxy_flag_go_direct() {
    let server = TestServer::start(ServerConfig::default());
    let dead = "http://127.0.0.1:1";
    let (code, json, _) =
        connect(&ws_url(&server), &[], &[("http_proxy", dead), ("NO_PROXY", "localhost,127.0.0.0/8")]);
    assert_eq!(code, 0, "{json:#}");
    assert!(step(&json, "proxy").is_none());
    let (code, _, _) = connect(&ws_url(&server), &[], &[("http_proxy", dead), ("no_proxy", "*")]);
    assert_eq!(code, 0, "`*` bypasses every host");
    let (code, _, _) = connect(&ws_url(&server), &["--no-proxy"], &[("http_proxy", dead)]);
    assert_eq!(code, 0, "--no-proxy ignores the environment");
    let (code, json, _) = connect(&ws_url(&server), &[], &[("http_proxy", dead), ("NO_PROXY", "example.com")]);
    assert_eq!(code, 2, "other hosts still go through the (dead) proxy");
    assert!(json["error"].as_str().unwrap().contains("connection refused by the proxy"), "{json}");
}

#[test]
fn proxy_credentials_are_sent_and_redacted_and_a_407_is_the_proxys() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Tinyproxy::start(Some(("wsuser", "s3cret-pw")), "");
    let good = proxy.url(Some(("wsuser", "s3cret-pw")));
    let (code, json, stderr) = connect(&ws_url(&server), &["--proxy", &good], &[]);
    assert_eq!(code, 0, "{json:#}");
    let all = format!("{json}{stderr}");
    assert!(!all.contains("s3cret-pw"), "the password never shows: {all}");
    assert!(all.contains("wsuser:***@127.0.0.1"), "{all}");
    let wrong = proxy.url(Some(("wsuser", "wrong-pw")));
    let (code, json, stderr) = connect(&ws_url(&server), &["--proxy", &wrong], &[]);
    assert_eq!(code, 2, "the server was never reached: {json:#}");
    let error = json["error"].as_str().unwrap();
    // tinyproxy answers wrong credentials with 401 (and missing ones with 407).
    assert!(error.contains("401") && error.contains("did not accept the credentials"), "{error}");
    assert_eq!(json["http_status"], serde_json::Value::Null, "a proxy's 407 is not the server's status");
    assert!(step(&json, "proxy").is_some_and(|s| s["ok"] == false));
    assert!(!format!("{json}{stderr}").contains("wrong-pw"));
    let (code, json, _) = connect(&ws_url(&server), &["--proxy", &proxy.url(None)], &[]);
    assert_eq!(code, 2);
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("407 Proxy Authentication Required") && error.contains("wants credentials"), "{error}");
}

#[test]
fn proxy_refusals_say_what_the_proxy_refused() {
    let server = TestServer::start(ServerConfig::default());
    let strict = Tinyproxy::start(None, "ConnectPort 443");
    let (code, json, _) = connect(&ws_url(&server), &["--proxy", &strict.url(None)], &[]);
    assert_eq!(code, 2);
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("403") && error.contains("does not allow a tunnel"), "{error}");
    let open = Tinyproxy::start(None, "");
    let (code, json, _) = connect("ws://127.0.0.1:1/ws", &["--proxy", &open.url(None)], &[]);
    assert_eq!(code, 2);
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("could not reach 127.0.0.1:1"), "{error}");
}

#[test]
fn socks5_through_pproxy_with_local_or_proxy_side_names() {
    let server = TestServer::start(ServerConfig::default());
    let socks = Pproxy::start(None);
    let url = format!("ws://localhost:{}/ws?device=s-1", server.addr.port());
    for (scheme, resolves) in [("socks5", "resolved here"), ("socks5h", "the proxy resolves the name")] {
        let (code, json, _) = connect(&url, &["--proxy", &format!("{scheme}://127.0.0.1:{}", socks.port)], &[]);
        assert_eq!(code, 0, "{scheme}: {json:#}");
        let detail = step(&json, "proxy").expect("a proxy step")["detail"].as_str().unwrap().to_string();
        assert!(detail.contains("SOCKS5 CONNECT") && detail.contains(resolves), "{detail}");
    }
    // Refusals first: pproxy lets an address in without credentials once it has authenticated.
    let guarded = Pproxy::start(Some(("su", "spw")));
    for bad in
        [format!("socks5h://127.0.0.1:{}", guarded.port), format!("socks5h://su:nope@127.0.0.1:{}", guarded.port)]
    {
        let (code, json, stderr) = connect(&url, &["--proxy", &bad], &[]);
        assert_eq!(code, 2, "{json:#}");
        let error = json["error"].as_str().unwrap();
        assert!(error.contains("refused") && error.contains("user and password"), "{error}");
        assert!(!format!("{json}{stderr}").contains("nope"), "redacted");
    }
    let ok = format!("socks5h://su:spw@127.0.0.1:{}", guarded.port);
    let (code, json, _) = connect(&url, &["--proxy", &ok], &[]);
    assert_eq!(code, 0, "{json:#}");
}

#[test]
fn a_storm_through_the_proxy_times_the_tunnel_and_blames_the_proxy_for_its_refusals() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Tinyproxy::start(Some(("u", "p")), "");
    let url = format!("ws://127.0.0.1:{}/ws?device=st-{{client}}", server.addr.port());
    let storm = ["storm", &url, "--clients", "5", "--hold", "200ms", "--disrupt", "none", "--proxy"];
    let (code, json, _) = run(&[&storm[..], &[&proxy.url(Some(("u", "p")))]].concat(), &[]);
    assert_eq!(code, 0, "{json:#}");
    let p = &json["proxy_connect_ms"];
    assert!(p["p50"].as_f64().is_some_and(|v| v > 0.0) && p["max"].as_f64() >= p["p50"].as_f64(), "{p}");
    assert_eq!(json["connected"], 5);
    let bad_url = proxy.url(Some(("u", "bad")));
    let bad = [&storm[..], &[&bad_url, "--max-attempts", "1"]].concat();
    let (code, json, _) = run(&bad, &[]);
    assert_eq!(code, 2, "every attempt refused by the proxy: wsprobe could not reach the server: {json:#}");
    assert!(json["rejections"]["proxy-401"].as_u64() >= Some(5), "every attempt is the proxy's refusal: {json}");
    assert!(!json.to_string().contains("u:bad"), "redacted");
}

// ------------------------------------------------------------- redirects

#[test]
fn a_redirect_is_reported_with_its_location_unless_followed() {
    let server = TestServer::start(ServerConfig::default());
    let redirect =
        RedirectServer::start(&format!("ws://127.0.0.1:{}/ws?device=r-1&token=t0ps3cret", server.addr.port()));
    let url = format!("ws://127.0.0.1:{}/302/old", redirect.port);
    let (code, json, _) = connect(&url, &[], &[]);
    assert_eq!(code, 1, "the server answered, with a redirect: {json:#}");
    let location = json["location"].as_str().unwrap();
    assert!(location.starts_with("ws://127.0.0.1:") && location.ends_with("token=***"), "{location}");
    assert!(json["diagnosis"].to_string().contains("--follow-redirects"), "{json}");
    assert!(!json.to_string().contains("t0ps3cret"));
    for status in ["301", "302", "307", "308"] {
        let url = format!("ws://127.0.0.1:{}/{status}/old", redirect.port);
        let (code, json, _) = connect(&url, &["--follow-redirects"], &[]);
        assert_eq!(code, 0, "{status}: {json:#}");
        let hops = json["redirects"].as_array().unwrap();
        assert_eq!((hops.len(), hops[0]["status"].as_u64()), (1, status.parse().ok()), "{json:#}");
        assert_eq!(json["steps"][0]["phase"], "redirect");
        assert_eq!(json["http_status"], 101);
    }
}

#[test]
fn http_locations_are_read_as_ws_and_loops_stop_after_five() {
    let server = TestServer::start(ServerConfig::default());
    let redirect = RedirectServer::start(&format!("http://127.0.0.1:{}/ws?device=r-2", server.addr.port()));
    let (code, json, _) = connect(&format!("ws://127.0.0.1:{}/307/x", redirect.port), &["--follow-redirects"], &[]);
    assert_eq!(code, 0, "{json:#}");
    assert!(json["redirects"][0]["to"].as_str().unwrap().starts_with("ws://"), "{json}");
    let (code, json, _) = connect(&format!("ws://127.0.0.1:{}/loop", redirect.port), &["--follow-redirects"], &[]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["redirects"].as_array().unwrap().len(), 5);
    let last = json["steps"].as_array().unwrap().last().unwrap().clone();
    assert!(last["detail"].as_str().unwrap().contains("more than 5 redirects"), "{last}");
}

#[test]
fn a_redirect_from_wss_to_ws_is_refused_unless_insecure() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let server = TestServer::start(ServerConfig::default());
    let down = format!("ws://127.0.0.1:{}/ws?device=d-1", server.addr.port());
    let nginx = Nginx::tls(&cert, server.addr, &format!("location /old {{ return 302 {down}; }}"));
    let url = format!("wss://localhost:{}/old", nginx.port);
    let (code, json, _) = connect(&url, &["--cacert", arg(&ca.ca.cert), "--follow-redirects"], &[]);
    assert_eq!(code, 1, "{json:#}");
    let last = json["steps"].as_array().unwrap().last().unwrap()["detail"].as_str().unwrap().to_string();
    assert!(last.contains("drop TLS") && last.contains("--insecure"), "{last}");
    let (code, json, _) = connect(&url, &["--cacert", arg(&ca.ca.cert), "--follow-redirects", "--insecure"], &[]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["redirects"][0]["to"], down.as_str());
}
