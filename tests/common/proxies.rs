//! Real proxies in front of the reference server, as child processes killed
//! by PID when dropped: nginx (a config `http` block of the caller's) and
//! HAProxy (a config of the caller's). Each listens on a loopback port
//! picked by binding port 0 first; a start that loses the port to a race
//! is retried. Readiness is checked from 127.0.0.2, so a per-IP limit in
//! the config starts untouched for the test's own 127.0.0.1. scripts/test
//! installs both; a missing one fails the test.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{eventually, ChildGuard};

/// A running proxy.
pub struct Proxy {
    _child: ChildGuard,
    _dir: tempfile::TempDir,
    /// The port it listens on.
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn binary(candidates: &[&str], what: &str) -> String {
    let found = candidates.iter().find(|p| Path::new(p).exists());
    found.unwrap_or_else(|| panic!("{what} is needed for this test (scripts/test installs it)")).to_string()
}

/// Connects to the port from 127.0.0.2, so per-IP limits on 127.0.0.1
/// (the tests' own address) do not count the readiness check.
fn knock(port: u16) -> bool {
    let Ok(socket) = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None) else { return false };
    let from = std::net::SocketAddr::from(([127, 0, 0, 2], 0));
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    socket.bind(&from.into()).is_ok() && socket.connect_timeout(&to.into(), Duration::from_secs(1)).is_ok()
}

impl Proxy {
    /// Starts `program` with the config `make(port, dir)` wrote, until it listens.
    fn start(program: &str, args: impl Fn(&Path) -> Vec<String>, make: impl Fn(u16, &Path) -> String) -> Proxy {
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("proxy.conf"), make(port, dir.path())).unwrap();
            let mut child = ChildGuard::spawn(Command::new(program).args(args(dir.path())));
            let up = eventually(Duration::from_secs(5), || knock(port));
            if up && !child.has_exited() {
                return Proxy { _child: child, _dir: dir, port };
            }
        }
        panic!("{program} did not start on loopback");
    }

    /// nginx with this inside its `http { server { listen PORT; ... } }`,
    /// `{upstream}` and `{zone}` (an `http`-level line) substituted.
    pub fn nginx(http_level: &str, server_level: &str) -> Proxy {
        let nginx = binary(&["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"], "nginx");
        Proxy::start(
            &nginx,
            |d| {
                let d = d.display().to_string();
                vec![
                    "-p".into(),
                    d.clone(),
                    "-e".into(),
                    format!("{d}/error.log"),
                    "-c".into(),
                    format!("{d}/proxy.conf"),
                ]
            },
            |port, dir| {
                let d = dir.display();
                format!(
                    "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;
                     events {{ worker_connections 64; }}
                     http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
                       {http_level}
                       server {{ listen 127.0.0.1:{port}; {server_level} }} }}"
                )
            },
        )
    }

    /// HAProxy with `frontend fe` bound to the port, then `frontend` (its
    /// body) and `backend` (the `backend be` body), in HTTP mode.
    pub fn haproxy(frontend: &str, backend: &str) -> Proxy {
        let haproxy = binary(&["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"], "HAProxy");
        Proxy::start(
            &haproxy,
            |d| vec!["-db".into(), "-f".into(), format!("{}/proxy.conf", d.display())],
            |port, _| {
                format!(
                    "global\n  maxconn 200\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 60s\n  timeout queue 30s\nfrontend fe\n  bind 127.0.0.1:{port}\n{frontend}\n  default_backend be\nbackend be\n{backend}\n"
                )
            },
        )
    }
}
