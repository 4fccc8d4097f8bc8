//! `stability` against the reference server in each drop behaviour, and
//! through a real reverse proxy (nginx) with a short read timeout.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::{run_json, ChildGuard, TestServer};
use wsprobe::server::config::ServerConfig;

fn close_near(close: &serde_json::Value, after: f64, tolerance: f64) -> bool {
    (close["after_s"].as_f64().unwrap() - after).abs() <= tolerance
}

#[test]
fn abrupt_drop_is_1006_after_one_second() {
    let json =
        run_json(&["stability", "--server-drop-after", "1s", "--server-drop-mode", "abrupt", "--duration", "3s"]);
    assert_eq!(json["verdict"], "fail");
    let closes = json["closes"].as_array().unwrap();
    assert_eq!(closes.len(), 1, "{json}");
    assert_eq!(closes[0]["code"], 1006);
    assert_eq!(closes[0]["abnormal"], true);
    assert!(close_near(&closes[0], 1.0, 0.3), "{}", closes[0]);
    assert_eq!(json["survived"], 0);
}

#[test]
fn clean_drop_keeps_its_code() {
    let json =
        run_json(&["stability", "--server-drop-after", "300ms", "--server-drop-mode", "close", "--duration", "1s"]);
    assert_eq!(json["closes"][0]["code"], 1000);
    assert_eq!(json["closes"][0]["abnormal"], false);
}

#[test]
fn withheld_pongs_hit_the_pong_deadline() {
    let json = run_json(&[
        "stability",
        "--server-ping-interval",
        "500ms",
        "--server-pong-timeout",
        "1500ms",
        "--no-pong",
        "--duration",
        "3s",
    ]);
    let close = &json["closes"][0];
    assert_eq!(close["abnormal"], true, "{json}");
    assert!(close_near(close, 1.5, 0.35), "{close}");
    assert!(close["pongs_withheld"].as_u64().unwrap() >= 2, "the client really withheld pongs: {close}");
    let median = json["server_pings"]["median_interval_s"].as_f64().unwrap();
    assert!((median - 0.5).abs() < 0.1, "{median}");
    assert!(json["diagnosis"].to_string().contains("pong deadline"));
}

#[test]
fn answering_pings_survives_the_pong_deadline() {
    let json = run_json(&[
        "stability",
        "--server-ping-interval",
        "500ms",
        "--server-pong-timeout",
        "1500ms",
        "--duration",
        "3s",
    ]);
    assert_eq!(json["verdict"], "pass", "{json}");
    assert_eq!(json["survived"], 1);
    assert!(json["server_pings"]["count"].as_u64().unwrap() >= 4);
}

#[test]
fn token_ttl_repeats_with_a_period() {
    let json = run_json(&["stability", "--server-token-ttl", "1s", "--reconnect", "--duration", "5500ms"]);
    let closes = json["closes"].as_array().unwrap();
    assert!(closes.len() >= 4, "{json}");
    assert!(closes.iter().all(|c| c["code"] == 4001 && c["reason"] == "token expired"));
    let period = json["period"]["seconds"].as_f64().unwrap();
    assert!((period - 1.0).abs() < 0.15, "{period}");
    assert!(json["diagnosis"].to_string().contains("A drop every 1.0 s"), "{}", json["diagnosis"]);
}

#[test]
fn silent_connection_hits_the_idle_timeout_and_pings_keep_it_alive() {
    let json = run_json(&["stability", "--server-idle-timeout", "1s", "--duration", "2s"]);
    assert!(close_near(&json["closes"][0], 1.0, 0.3), "{json}");
    assert!(json["diagnosis"].to_string().contains("idle or read timeout of about 1.0 s"));
    let json = run_json(&["stability", "--server-idle-timeout", "1s", "--duration", "2s", "--ping-interval", "300ms"]);
    assert_eq!(json["verdict"], "pass", "{json}");
    assert!(json["pong_rtt_ms"]["count"].as_u64().unwrap() >= 4);
}

#[test]
fn application_heartbeat_counts_replies() {
    let json = run_json(&[
        "stability",
        "--app-ping",
        r#"{"type":"ping"}"#,
        "--app-ping-interval",
        "200ms",
        "--duration",
        "1100ms",
        "--clients",
        "2",
    ]);
    assert_eq!(json["verdict"], "pass", "{json}");
    let sent = json["app_ping"]["sent"].as_u64().unwrap();
    assert!(sent >= 8 && json["app_ping"]["replies"] == sent, "{}", json["app_ping"]);
}

#[test]
fn finds_the_idle_timeout_within_ten_percent() {
    let json = run_json(&["stability", "--server-idle-timeout", "2s", "--find-idle-timeout", "--max", "30s"]);
    let found = json["idle_timeout"]["idle_timeout_s"].as_f64().unwrap();
    assert!((found - 2.0).abs() <= 0.2, "found {found}");
}

#[test]
fn unreachable_is_an_error() {
    let json = run_json(&["stability", "ws://127.0.0.1:1/", "--duration", "1s"]);
    assert_eq!(json["verdict"], "error");
}

/// nginx as a WebSocket reverse proxy with a 1 s read timeout, one process,
/// killed by its PID when dropped.
struct Nginx {
    _child: ChildGuard,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(upstream: std::net::SocketAddr) -> Nginx {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let nginx = nginx.expect("nginx is needed for this test: apt-get install nginx-light (scripts/test does this)");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let dir = tempfile::tempdir().unwrap();
            let conf = dir.path().join("nginx.conf");
            let d = dir.path().display();
            let mut f = std::fs::File::create(&conf).unwrap();
            write!(
                f,
                "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;
                 events {{ worker_connections 64; }}
                 http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
                   server {{ listen 127.0.0.1:{port};
                     location / {{ proxy_pass http://{upstream}; proxy_http_version 1.1;
                       proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";
                       proxy_read_timeout 1s; proxy_send_timeout 1s; }} }} }}"
            )
            .unwrap();
            let mut child = ChildGuard::spawn(
                Command::new(nginx).args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"]).arg(&conf),
            );
            let up = common::eventually(Duration::from_secs(5), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && !child.has_exited() {
                return Nginx { _child: child, port, _dir: dir };
            }
        }
        panic!("nginx did not start on loopback");
    }
}

#[test]
fn nginx_read_timeout_is_reported_as_an_abnormal_drop() {
    let server = TestServer::start(ServerConfig::default());
    let proxy = Nginx::start(server.addr);
    let url = format!("ws://127.0.0.1:{}/ws?device=dev-{{client}}", proxy.port);
    let json = run_json(&["stability", &url, "--duration", "3s"]);
    let closes = json["closes"].as_array().unwrap();
    assert_eq!(closes.len(), 1, "{json}");
    assert_eq!(closes[0]["abnormal"], true, "nginx ends the connection without a close frame");
    assert!(close_near(&closes[0], 1.0, 0.4), "dropped at the proxy's 1 s read timeout: {}", closes[0]);
    assert!(json["diagnosis"].to_string().contains("idle or read timeout of about 1."), "{}", json["diagnosis"]);
    let json = run_json(&["stability", &url, "--duration", "2500ms", "--ping-interval", "400ms"]);
    assert_eq!(json["verdict"], "pass", "pings through the proxy keep it open: {json}");
}
