//! Third-party servers from tests/third_party (installed by scripts/test):
//! started in their own process group, ready once they print
//! `READY ws://127.0.0.1:PORT ...` (bounded wait), killed by that group's
//! id when dropped. With `FANOUT_TRUTH` each writes what really arrived to
//! a file the test reads instead of trusting wsprobe.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a peer may take to print its readiness line (a Python
/// interpreter starting while tests run in parallel on 2 cores).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A file in tests/third_party.
pub fn third_party(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/third_party").join(rel)
}

/// A running peer.
pub struct Peer {
    child: Child,
    /// `ws://127.0.0.1:PORT` from the readiness line.
    pub base: String,
    truth: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Peer {
    /// `python3 tests/third_party/SCRIPT ARGS`; fails the test (never
    /// skips) when Python or the pinned package `module` is missing.
    pub fn python(script: &str, module: &str, args: &[&str]) -> Peer {
        let import = Command::new("python3").args(["-c", &format!("import {module}")]).status();
        assert!(
            import.is_ok_and(|s| s.success()),
            "python3 with {module} is needed: scripts/test installs tests/third_party/requirements.txt"
        );
        let script = third_party(script);
        let mut all = vec![script.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Peer::start("python3", &all)
    }

    /// `node tests/third_party/SCRIPT ARGS`; fails the test (never skips)
    /// when `npm ci` has not installed tests/third_party/node/node_modules.
    pub fn node(script: &str, args: &[&str]) -> Peer {
        assert!(
            third_party("node/node_modules/.package-lock.json").exists(),
            "tests/third_party/node/node_modules is missing: run scripts/test (npm ci)"
        );
        let script = third_party(script);
        let mut all = vec![script.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Peer::start("node", &all)
    }

    /// Starts `program args` and waits for its readiness line.
    pub fn start(program: &str, args: &[&str]) -> Peer {
        let dir = tempfile::tempdir().expect("temp dir");
        let truth = dir.path().join("truth.jsonl");
        let stderr = dir.path().join("stderr.log");
        let mut child = Command::new(program)
            .args(args)
            .env("FANOUT_TRUTH", &truth)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).expect("stderr log"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} {args:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("READY ") {
                    let _ = tx.send(line);
                }
            }
        });
        let mut peer = Peer { child, base: String::new(), truth, stderr, _dir: dir };
        match rx.recv_timeout(STARTUP_TIMEOUT) {
            Ok(line) => {
                let url = line.split_whitespace().nth(1).unwrap_or_default();
                assert!(url.starts_with("ws://127.0.0.1:"), "readiness line without a URL: {line}");
                peer.base = url.trim_end_matches('/').to_string();
            }
            Err(_) => panic!(
                "{program} {args:?} printed no READY line within {STARTUP_TIMEOUT:?} (exit: {:?}); stderr:\n{}",
                peer.child.try_wait(),
                peer.stderr_text()
            ),
        }
        peer
    }

    /// What the peer wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Every truth event written so far, one JSON value per line.
    pub fn truth(&self) -> Vec<serde_json::Value> {
        self.truth_since(0)
    }

    /// Bytes of truth written so far, to read one run's events later.
    pub fn truth_len(&self) -> u64 {
        std::fs::metadata(&self.truth).map(|m| m.len()).unwrap_or(0)
    }

    /// Truth events written after byte `from`.
    pub fn truth_since(&self, from: u64) -> Vec<serde_json::Value> {
        let text = std::fs::read(&self.truth).unwrap_or_default();
        let tail = &text[(from as usize).min(text.len())..];
        String::from_utf8_lossy(tail)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad truth line {l:?}: {e}")))
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: killpg(2) on the process group this test created for its
        // own child (process_group(0)), which is not reaped yet, so the id
        // cannot have been reused.
        unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
