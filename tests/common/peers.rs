//! Third-party network peers for the TLS, proxy and redirect tests, each
//! one process on loopback, killed by its PID when dropped:
//! - nginx (scripts/test installs it) terminating TLS in front of the
//!   reference server, with any `server {}` body;
//! - tinyproxy (Debian's tinyproxy-bin), an HTTP CONNECT proxy, with or
//!   without Basic credentials;
//! - pproxy (pip, pinned), a SOCKS5 proxy;
//! - `redirect_server.py` (Python's http.server), answering redirects.
//!
//! nginx and tinyproxy need a fixed port in their configuration, so each
//! gets a free one (bound and released) and is retried on a lost race;
//! the others bind port 0 and print theirs.
#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{eventually, ChildGuard};

/// A port the kernel just handed out (and took back).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("addr").port()
}

/// Starts `spawn(port, dir)` on free ports until it accepts connections (5 tries).
fn on_free_port(what: &str, mut spawn: impl FnMut(u16, &Path) -> ChildGuard) -> (ChildGuard, u16, tempfile::TempDir) {
    for _ in 0..5 {
        let port = free_port();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = spawn(port, dir.path());
        let up = eventually(Duration::from_secs(5), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        if up && !child.has_exited() {
            return (child, port, dir);
        }
    }
    panic!("{what} did not start on loopback");
}

fn installed(paths: &[&str], what: &str) -> String {
    paths
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
        .unwrap_or_else(|| panic!("{what} is needed for this test (scripts/test installs it)"))
}

/// nginx with one `server {}` whose body `server(port)` writes.
pub struct Nginx {
    _child: ChildGuard,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx; `server` gets the port and returns the server block's body.
    pub fn start(server: impl Fn(u16) -> String) -> Nginx {
        let nginx = installed(&["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"], "nginx");
        let (child, port, dir) = on_free_port("nginx", |port, dir| {
            let d = dir.display();
            let conf = dir.join("nginx.conf");
            let text = format!(
                "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;
                 events {{ worker_connections 64; }}
                 http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;
                   uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
                   server {{ {} }} }}",
                server(port)
            );
            std::fs::File::create(&conf).and_then(|mut f| f.write_all(text.as_bytes())).expect("write nginx.conf");
            ChildGuard::spawn(
                Command::new(&nginx).args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"]).arg(&conf),
            )
        });
        Nginx { _child: child, port, _dir: dir }
    }

    /// nginx terminating TLS on its port with `cert`, proxying WebSockets to `upstream`; `extra` goes into the server block.
    pub fn tls(cert: &super::pki::Pem, upstream: SocketAddr, extra: &str) -> Nginx {
        let (c, k) = (cert.cert.display().to_string(), cert.key.display().to_string());
        let extra = extra.to_string();
        Nginx::start(move |port| {
            format!(
                "listen 127.0.0.1:{port} ssl; ssl_certificate {c}; ssl_certificate_key {k}; {extra}
                 location / {{ proxy_pass http://{upstream}; proxy_http_version 1.1;
                   proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; }}"
            )
        })
    }
}

/// tinyproxy, an HTTP CONNECT proxy, optionally asking for `user:password`.
pub struct Tinyproxy {
    _child: ChildGuard,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy; `auth` adds `BasicAuth user password`, `extra`
    /// more configuration lines (`ConnectPort 443` to refuse other ports).
    pub fn start(auth: Option<(&str, &str)>, extra: &str) -> Tinyproxy {
        let bin = installed(&["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy", "/usr/local/bin/tinyproxy"], "tinyproxy");
        let auth = auth.map(|(u, p)| format!("BasicAuth {u} {p}\n")).unwrap_or_default();
        let (child, port, dir) = on_free_port("tinyproxy", |port, dir| {
            let conf = dir.join("tinyproxy.conf");
            // No ConnectPort line: CONNECT to any port (the tests' servers sit on high ports).
            let text = format!("Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Info\nAllow 127.0.0.1\n{auth}{extra}\n");
            std::fs::write(&conf, text).expect("write tinyproxy.conf");
            ChildGuard::spawn(Command::new(&bin).arg("-d").arg("-c").arg(&conf))
        });
        Tinyproxy { _child: child, port, _dir: dir }
    }

    /// `http://[user:password@]127.0.0.1:PORT`.
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((u, p)) => format!("http://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }
}

/// pproxy as a SOCKS5 proxy on a port it picks, optionally with `user:password`.
pub struct Pproxy {
    _child: ChildGuard,
    pub port: u16,
}

impl Pproxy {
    pub fn start(auth: Option<(&str, &str)>) -> Pproxy {
        let listen = match auth {
            Some((u, p)) => format!("socks5://127.0.0.1:0#{u}:{p}"),
            None => "socks5://127.0.0.1:0".to_string(),
        };
        let mut child = ChildGuard::spawn(Command::new("python3").args(["-m", "pproxy", "-l", &listen]));
        let line = child
            .stdout_line(Duration::from_secs(20), |l| l.contains("Serving on"))
            .or_else(|| child.stderr_line(Duration::from_secs(1), |l| l.contains("Serving on")))
            .expect("pproxy (pip install pproxy; scripts/test does this) printed `Serving on ...` within 20 s");
        let port = line
            .split_whitespace()
            .find_map(|w| w.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()))
            .expect("a port in pproxy's banner");
        Pproxy { _child: child, port }
    }
}

/// `redirect_server.py TARGET`: `/<status>/...` answers that status with
/// `Location: TARGET`, `/loop` redirects to itself.
pub struct RedirectServer {
    _child: ChildGuard,
    pub port: u16,
}

impl RedirectServer {
    pub fn start(target: &str) -> RedirectServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/third_party/redirect_server.py");
        let mut child = ChildGuard::spawn(Command::new("python3").arg(script).arg(target));
        let line =
            child.stdout_line(Duration::from_secs(20), |l| l.starts_with("READY ")).expect("redirect_server.py READY");
        let port = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port after READY");
        RedirectServer { _child: child, port }
    }
}
