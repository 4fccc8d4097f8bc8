//! `wsprobe serve --reuse-port`: two server processes share one port, the
//! kernel spreads connections over both (each `/health` names its process),
//! and when one is killed the other keeps serving the port. Without the
//! flag a second server on the port is refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio_tungstenite::tungstenite;

/// `wsprobe serve` on a given port, killed (by its PID) when dropped.
struct ServeProcess {
    child: Child,
}

impl ServeProcess {
    /// Starts it and waits for its banner; None when it exited instead.
    fn start(addr: SocketAddr, extra: &[&str]) -> Result<ServeProcess, (i32, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wsprobe"))
            .args(["serve", "--addr", &addr.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wsprobe serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("banner");
        if line.contains("listening on") {
            return Ok(ServeProcess { child });
        }
        let status = child.wait().expect("exit status");
        let mut stderr = String::new();
        let _ = child.stderr.take().expect("stderr").read_to_string(&mut stderr);
        Err((status.code().unwrap_or(-1), stderr))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port held with SO_REUSEPORT but not listening: no other
/// program can take it meanwhile, and it takes no connections itself.
fn reserve_port() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind 127.0.0.1:0");
    socket
}

/// `GET /health` on a fresh connection: (pid, open connections).
fn health(addr: SocketAddr) -> (u64, u64) {
    let mut s = TcpStream::connect(addr).expect("connect for /health");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").expect("write /health");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read /health");
    let body = out.split("\r\n\r\n").nth(1).expect("a body");
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON health");
    (json["pid"].as_u64().expect("pid"), json["open_connections"].as_u64().expect("open_connections"))
}

/// Asks `/health` until both processes have answered; their open counts.
fn open_by_pid(addr: SocketAddr, pids: [u32; 2]) -> [u64; 2] {
    let mut seen = [None, None];
    for _ in 0..400 {
        let (pid, open) = health(addr);
        let slot = pids.iter().position(|p| u64::from(*p) == pid).expect("a /health from one of ours");
        seen[slot] = Some(open);
        if let [Some(a), Some(b)] = seen {
            return [a, b];
        }
    }
    panic!("400 /health requests never reached both processes: {seen:?}");
}

#[test]
fn two_processes_share_a_port_with_reuse_port() {
    let reserved = reserve_port();
    let addr = reserved.local_addr().expect("the reserved address");
    let a = ServeProcess::start(addr, &["--reuse-port"]).expect("the first server starts");
    let b = ServeProcess::start(addr, &["--reuse-port"]).expect("the second server shares the port");
    drop(reserved);
    let (code, stderr) = ServeProcess::start(addr, &[]).err().expect("without --reuse-port the port is taken");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");

    let url = format!("ws://{addr}/ws");
    let clients: Vec<_> =
        (0..40).map(|i| tungstenite::connect(format!("{url}?device=dev-{i}")).expect("upgrade").0).collect();
    let [on_a, on_b] = open_by_pid(addr, [a.pid(), b.pid()]);
    assert_eq!(on_a + on_b, 40, "every connection is on one of the two");
    assert!(on_a > 0 && on_b > 0, "both accept: {on_a} + {on_b}");

    drop(a);
    let mut served = None;
    for _ in 0..200 {
        if let Ok((ws, _)) = tungstenite::connect(format!("{url}?device=after")) {
            served = Some(ws);
            break;
        }
    }
    assert!(served.is_some(), "the port still serves after one process is gone");
    let (pid, _) = health(addr);
    assert_eq!(pid, u64::from(b.pid()), "the survivor answers");
    drop(clients);
}
