//! wss:// against nginx terminating TLS in front of the reference server,
//! with a CA made in the test (rcgen): trusted through `--cacert` or
//! `SSL_CERT_FILE`, and each way a certificate goes wrong (unknown issuer,
//! wrong name, expired, expiring soon, a CA as the server's certificate, a
//! client certificate required), named in words with exit 2; and the two
//! scheme mix-ups, wss:// to a plain port and ws:// to a TLS port.

mod common;

use common::peers::Nginx;
use common::pki::{arg, Pem, TestCa, Validity};
use common::{contract, json_stdout, wsprobe, TestServer};
use wsprobe::server::config::ServerConfig;

/// Runs the binary with no proxy or certificate variables from outside.
fn connect(args: &[&str], env: &[(&str, &str)]) -> (i32, serde_json::Value, String) {
    let mut cmd = wsprobe();
    cmd.arg("connect").args(args).args(["--json", "--listen", "100ms", "--connect-timeout", "5s"]);
    for var in ["SSL_CERT_FILE", "SSL_CERT_DIR", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "http_proxy"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("wsprobe runs");
    let json = json_stdout(&out);
    if let Err(e) = contract::check_value(&json) {
        panic!("connect {args:?} broke the JSON contract: {e}\n{json:#}");
    }
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn url(port: u16, host: &str) -> String {
    format!("wss://{host}:{port}/ws?device=tls-1")
}

fn nginx_with(cert: &Pem, extra: &str) -> (TestServer, Nginx) {
    let server = TestServer::start(ServerConfig::default());
    let nginx = Nginx::tls(cert, server.addr, extra);
    (server, nginx)
}

fn error(json: &serde_json::Value) -> String {
    json["error"].as_str().unwrap_or_default().to_string()
}

#[test]
fn cacert_trusts_the_test_ca_and_connect_shows_the_certificate() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost", "127.0.0.1"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, stderr) = connect(&[&url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 0, "{json:#}\n{stderr}");
    let tls = &json["tls"];
    assert!(tls["version"] == "TLS 1.3" || tls["version"] == "TLS 1.2", "{tls}");
    assert!(tls["cipher_suite"].as_str().unwrap().starts_with("TLS"), "{tls}");
    assert_eq!(tls["alpn"], "http/1.1", "nginx picks the http/1.1 wsprobe offers");
    let c = &tls["certificate"];
    assert_eq!(c["subject"], "CN=localhost");
    assert_eq!(c["issuer"], "CN=wsprobe test CA");
    assert_eq!(c["sans"], serde_json::json!(["localhost", "127.0.0.1"]));
    let days = c["expires_in_days"].as_f64().unwrap();
    assert!((364.0..=366.0).contains(&days), "{days}");
    assert!(json.get("warnings").is_none(), "a year left is no warning: {json}");
    let step = json["steps"].as_array().unwrap().iter().find(|s| s["phase"] == "tls").expect("a tls step").clone();
    assert!(step["detail"].as_str().unwrap().contains("certificate CN=localhost"), "{step}");
    // The table says the same in words.
    let out = wsprobe()
        .args(["connect", &url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert), "--listen", "100ms"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Certificate: CN=localhost") && table.contains("issuer:  CN=wsprobe test CA"), "{table}");
    assert!(table.contains("names:   localhost, 127.0.0.1"), "{table}");
}

#[test]
fn ssl_cert_file_is_honoured_and_a_broken_one_is_named() {
    let ca = TestCa::new("wsprobe env CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost")], &[("SSL_CERT_FILE", arg(&ca.ca.cert))]);
    assert_eq!(code, 0, "{json:#}");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost")], &[("SSL_CERT_FILE", "/nonexistent/ca.pem")]);
    assert_eq!(code, 2);
    assert!(error(&json).contains("SSL_CERT_FILE=/nonexistent/ca.pem"), "{json}");
}

#[test]
fn an_unknown_issuer_says_to_pass_the_ca() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost")], &[]);
    assert_eq!(code, 2, "a TLS failure is wsprobe unable to do its job: {json}");
    let e = error(&json);
    assert!(e.contains("unknown issuer") && e.contains("--cacert FILE"), "{e}");
    assert_eq!(json["steps"].as_array().unwrap().last().unwrap()["phase"], "tls");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost"), "--insecure"], &[]);
    assert_eq!(code, 0, "--insecure skips the check: {json}");
    assert_eq!(json["tls"]["certificate"]["issuer"], "CN=wsprobe test CA", "and still shows the certificate");
}

#[test]
fn a_wrong_name_lists_the_names_the_certificate_has() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost", "ws.example.test"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "127.0.0.1"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 2);
    let e = error(&json);
    assert!(e.contains("not valid for the name 127.0.0.1: it names localhost, ws.example.test"), "{e}");
}

#[test]
fn an_expired_certificate_names_its_date() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Expired);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 2);
    let e = error(&json);
    let ended = (time::OffsetDateTime::now_utc() - time::Duration::days(10)).date().to_string();
    assert!(e.contains(&format!("expired on {ended}T")) && e.contains("days ago"), "{e} (expected {ended})");
}

#[test]
fn a_certificate_expiring_within_two_weeks_is_a_warning() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::ExpiresSoon);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 0, "still valid: {json}");
    let warnings = json["warnings"].to_string();
    assert!(warnings.contains("expires on") && warnings.contains("in 5.0 days"), "{warnings}");
}

#[test]
fn a_ca_certificate_served_as_the_servers_own_is_named() {
    let ca = TestCa::new("wsprobe test CA");
    let (_server, nginx) = nginx_with(&ca.ca, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 2);
    let e = error(&json);
    assert!(e.contains("presented a CA certificate") && !e.contains("CaUsedAsEndEntity"), "{e}");
}

#[test]
fn a_required_client_certificate_is_asked_for_and_accepted() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let verify = format!("ssl_client_certificate {}; ssl_verify_client on;", ca.ca.cert.display());
    let (_server, nginx) = nginx_with(&cert, &verify);
    let base = [url(nginx.port, "localhost"), "--cacert".into(), arg(&ca.ca.cert).into()];
    let base: Vec<&str> = base.iter().map(String::as_str).collect();
    let (code, json, _) = connect(&base, &[]);
    assert_eq!(code, 2, "{json}");
    let e = error(&json);
    assert!(e.contains("requires a client certificate") && e.contains("pass --cert FILE --key FILE"), "{e}");
    let client = ca.client("client", "wsprobe client");
    let (code, json, _) =
        connect(&[&base[..], &["--cert", arg(&client.cert), "--key", arg(&client.key)]].concat(), &[]);
    assert_eq!(code, 0, "{json:#}");
    let other_ca = TestCa::new("some other CA");
    let stranger = other_ca.client("client", "stranger");
    let (code, json, _) =
        connect(&[&base[..], &["--cert", arg(&stranger.cert), "--key", arg(&stranger.key)]].concat(), &[]);
    assert_eq!(code, 2);
    assert!(error(&json).contains("refused wsprobe's client certificate"), "{json}");
}

#[test]
fn ws_to_a_tls_port_says_use_wss() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&format!("ws://localhost:{}/ws?device=a", nginx.port)], &[]);
    assert_eq!(code, 2, "{json}");
    assert!(error(&json).contains("speaks TLS on this port") && error(&json).contains("use wss://"), "{json}");
}

#[test]
fn wss_to_a_plain_port_says_use_ws() {
    let server = TestServer::start(ServerConfig::default());
    let (code, json, _) = connect(&[&format!("wss://127.0.0.1:{}/ws?device=a", server.addr.port())], &[]);
    assert_eq!(code, 2, "{json}");
    let e = error(&json);
    assert!(e.contains("not TLS") && e.contains("use ws://"), "the reference server: {e}");
    let plain = Nginx::start(|port| format!("listen 127.0.0.1:{port}; location / {{ return 200 ok; }}"));
    let (code, json, _) = connect(&[&format!("wss://127.0.0.1:{}/", plain.port)], &[]);
    assert_eq!(code, 2, "{json}");
    assert!(error(&json).contains("use ws://"), "nginx on a plain port: {json}");
}

/// The `--json` contract of a wss connect: `tls` with its certificate.
#[test]
fn wss_connect_keeps_the_json_contract_strictly() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "");
    let (code, json, _) = connect(&[&url(nginx.port, "localhost"), "--cacert", arg(&ca.ca.cert)], &[]);
    assert_eq!(code, 0);
    let loose = contract::mutations_fail::<contract::ConnectReport>(&json);
    assert!(loose.is_empty(), "the contract accepted this output changed so: {loose:#?}");
}

/// SNI is the URL's host: nginx echoes the name it received (none for an
/// IP address, as TLS says) on a path that does not upgrade.
#[test]
fn sni_is_the_urls_host() {
    let ca = TestCa::new("wsprobe test CA");
    let cert = ca.server("server", &["localhost", "127.0.0.1"], Validity::Good);
    let (_server, nginx) = nginx_with(&cert, "location /sni { return 200 \"sni=[$ssl_server_name]\"; }");
    for (host, seen) in [("localhost", "sni=[localhost]"), ("127.0.0.1", "sni=[]")] {
        let (code, json, _) =
            connect(&[&format!("wss://{host}:{}/sni", nginx.port), "--cacert", arg(&ca.ca.cert)], &[]);
        assert_eq!((code, json["http_status"].as_u64()), (1, Some(200)), "{json}");
        assert_eq!(json["body"], seen, "{json}");
    }
}
