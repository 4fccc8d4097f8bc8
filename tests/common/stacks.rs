//! Third-party servers the heartbeat and limiter tests run against, each
//! started as a child process (killed by PID when dropped) that prints
//! `READY ws://127.0.0.1:PORT ...`: Python `websockets` with its keepalive,
//! a gorilla/websocket server built from `tests/third_party/gorilla` with
//! Debian's Go and gorilla packages (GOPATH mode, no network), Node `ws`.
//! scripts/test installs all three; a missing one fails the test, naming
//! what to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::ChildGuard;

/// Time a peer gets to print its READY line (Python imports on a loaded box).
const STARTUP: Duration = Duration::from_secs(30);

/// A running third-party server.
pub struct Peer {
    _child: ChildGuard,
    /// Its URL (`ws://127.0.0.1:PORT`).
    pub url: String,
}

impl Peer {
    /// Starts `cmd` and waits for its READY line.
    pub fn start(cmd: &mut Command, what: &str) -> Peer {
        let mut child = ChildGuard::spawn(cmd);
        let line = child.stdout_line(STARTUP, |l| l.starts_with("READY ")).unwrap_or_else(|| {
            let exited = child.has_exited();
            panic!("{what} printed no READY line within {STARTUP:?} (exited: {exited}); scripts/test installs it")
        });
        let url = line.split_whitespace().nth(1).expect("READY URL").to_string();
        Peer { _child: child, url }
    }

    /// `tests/third_party/python_keepalive_server.py INTERVAL TIMEOUT`.
    pub fn python_keepalive(interval: &str, timeout: &str) -> Peer {
        let script = third_party().join("python_keepalive_server.py");
        Peer::start(Command::new("python3").arg(script).args([interval, timeout]), "Python websockets")
    }

    /// The gorilla server: `MODE PING_PERIOD PONG_WAIT [abrupt]`.
    pub fn gorilla(args: &[&str]) -> Peer {
        Peer::start(Command::new(gorilla_binary()).args(args), "the gorilla/websocket server")
    }

    /// `node tests/third_party/node/SCRIPT ARGS`.
    pub fn node(script: &str, args: &[&str]) -> Peer {
        let dir = third_party().join("node");
        Peer::start(Command::new("node").arg(dir.join(script)).args(args).current_dir(&dir), "the Node peer")
    }
}

fn third_party() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/third_party")
}

/// Builds the gorilla server once per test binary, into the target's
/// temporary folder, with Debian's Go toolchain and gorilla sources.
fn gorilla_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gorilla_server");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(third_party().join("gorilla"))
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOCACHE", Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"))
            .env("GOFLAGS", "")
            .status()
            .unwrap_or_else(|e| panic!("cannot run `go` ({e}): apt-get install golang-go golang-github-gorilla-websocket-dev (scripts/test does this)"));
        assert!(status.success(), "go build of tests/third_party/gorilla failed: is golang-github-gorilla-websocket-dev installed? (scripts/test installs it)");
        out
    })
}
