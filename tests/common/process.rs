//! Processes the tests start: the `wsprobe` binary (assert_cmd, bounded),
//! long-running children killed by their PID when dropped, with their
//! output read on threads so waiting for a line has a deadline, and the
//! `wsprobe serve` banner.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest any single run of the binary may take before the test fails
/// (the whole `run scenarios/` suite included, on a loaded machine).
pub const RUN_BOUND: Duration = Duration::from_secs(120);

/// The binary, run from the crate root (so `scenarios/...` resolves),
/// killed and failed if it runs longer than [`RUN_BOUND`].
pub fn wsprobe() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("wsprobe").expect("binary built");
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).timeout(RUN_BOUND);
    cmd
}

/// Runs the binary to completion (bounded) and returns its output.
pub fn wsprobe_output(args: &[&str]) -> std::process::Output {
    wsprobe().args(args).output().unwrap_or_else(|e| panic!("wsprobe {args:?}: {e}"))
}

/// stdout, which must be exactly one JSON object.
pub fn json_stdout(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{text}"));
    assert!(json.is_object(), "stdout is JSON but not an object:\n{text}");
    json
}

/// One output stream of a child, read line by line on its own thread.
struct Stream {
    lines: Receiver<String>,
    seen: Vec<String>,
    reader: Option<JoinHandle<()>>,
}

impl Stream {
    fn start(pipe: impl Read + Send + 'static) -> Stream {
        let (tx, lines) = channel();
        let reader = std::thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            loop {
                let mut line = String::new();
                match pipe.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Stream { lines, seen: Vec::new(), reader: Some(reader) }
    }

    /// The next line that satisfies `wanted`, waiting at most until `deadline`.
    fn wait_for(&mut self, deadline: Instant, wanted: &mut dyn FnMut(&str) -> bool) -> Option<String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Everything, once the child has exited (the pipe then ends).
    fn finish(mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.seen.extend(self.lines.try_iter());
        self.seen.concat()
    }
}

/// A child process, killed (SIGKILL, by its PID) and reaped when dropped,
/// so a failing test never leaves it behind.
pub struct ChildGuard {
    child: Option<Child>,
    stdout: Option<Stream>,
    stderr: Option<Stream>,
    what: String,
}

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ChildGuard {
    /// Starts `cmd` with stdout and stderr piped (and read on threads).
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = child.stdout.take().map(Stream::start);
        let stderr = child.stderr.take().map(Stream::start);
        ChildGuard { child: Some(child), stdout, stderr, what }
    }

    /// Starts the wsprobe binary with `args`.
    pub fn wsprobe(args: &[&str]) -> ChildGuard {
        ChildGuard::spawn(
            Command::new(env!("CARGO_BIN_EXE_wsprobe")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")),
        )
    }

    /// The child's PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends SIGINT (Ctrl-C) to the child's PID.
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// Sends SIGTERM (CI cancel, `docker stop`, `timeout`) to the child's PID.
    pub fn terminate(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Sends `signal` to the child's PID.
    pub fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("child still running");
        // SAFETY: kill(2) on the PID of a child we started and have not reaped
        // yet (it is reaped only in `finish` or on drop), so the PID is ours.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed: {}", std::io::Error::last_os_error());
    }

    /// The next stdout line that satisfies `wanted`, within `within`.
    pub fn stdout_line(&mut self, within: Duration, mut wanted: impl FnMut(&str) -> bool) -> Option<String> {
        self.stdout.as_mut()?.wait_for(Instant::now() + within, &mut wanted)
    }

    /// The next stderr line that satisfies `wanted`, within `within`.
    pub fn stderr_line(&mut self, within: Duration, mut wanted: impl FnMut(&str) -> bool) -> Option<String> {
        self.stderr.as_mut()?.wait_for(Instant::now() + within, &mut wanted)
    }

    /// Whether the child has exited already.
    pub fn has_exited(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }

    /// Waits for the child to exit on its own within `within` (polling);
    /// kills it and fails the test if it does not.
    pub fn finish(mut self, within: Duration) -> Finished {
        let mut child = self.child.take().expect("child");
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let err = self.stderr.take().map(Stream::finish).unwrap_or_default();
                panic!("{} did not exit within {within:?}; stderr:\n{err}", self.what);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.stdout.take().map(Stream::finish).unwrap_or_default();
        let stderr = self.stderr.take().map(Stream::finish).unwrap_or_default();
        Finished { status, stdout, stderr }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The URL in `wsprobe serve`'s banner (`... listening on ws://ADDR/ ...`),
/// without the trailing slash.
pub fn banner_url(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let url = rest.split_whitespace().next()?;
    url.starts_with("ws://").then(|| url.trim_end_matches('/').to_string())
}

/// `wsprobe serve --addr 127.0.0.1:0 ARGS...`, killed when dropped.
pub struct ServeProcess {
    /// The child.
    pub child: ChildGuard,
    /// `ws://127.0.0.1:PORT`, from the banner.
    pub url: String,
}

impl ServeProcess {
    /// Starts it and waits (bounded) for its banner.
    pub fn start(args: &[&str]) -> ServeProcess {
        let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = ChildGuard::wsprobe(&all);
        let line = child
            .stdout_line(Duration::from_secs(20), |l| banner_url(l).is_some())
            .expect("wsprobe serve printed its banner within 20 s");
        let url = banner_url(&line).expect("banner URL");
        ServeProcess { child, url }
    }
}
