//! One cancellation tree for the whole run: a root token cancelled by
//! Ctrl-C (SIGINT) or SIGTERM, with child tokens per phase and per client.
//! Long waits select on `cancelled()`, so the first signal ends the run and
//! still prints the partial report (and writes `--out`); a second one, of
//! either kind, exits at once.
//!
//! SIGTERM is treated exactly like the first Ctrl-C because that is how CI
//! cancels a job, how `docker stop` and `kubectl delete` stop a container
//! and how `timeout` ends a command: a soak stopped that way still leaves
//! its report behind.

use tokio_util::sync::CancellationToken;

/// The signals that stop a run, and how each is named to the user.
#[cfg(unix)]
const STOPPING: [(tokio::signal::unix::SignalKind, &str, i32); 2] = [
    (tokio::signal::unix::SignalKind::interrupt(), "interrupted", libc::SIGINT),
    (tokio::signal::unix::SignalKind::terminate(), "terminated (SIGTERM)", libc::SIGTERM),
];

/// A root token that Ctrl-C or SIGTERM cancels. Must be called inside a
/// runtime. The signal handlers are in place when this returns (not when a
/// task first runs), so a signal right after a banner is already ours.
pub fn on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    #[cfg(unix)]
    unix_handlers(&token);
    #[cfg(not(unix))]
    other_handler(&token);
    token
}

/// Installs a handler for each of [`STOPPING`]; a signal that cannot be
/// caught (a runtime without signal support) is left to its default.
#[cfg(unix)]
fn unix_handlers(token: &CancellationToken) {
    // One channel for both signals, so the second signal is seen whichever
    // kind the first one was. Bounded: only the first two matter.
    let (tx, rx) = tokio::sync::mpsc::channel::<(&'static str, i32)>(4);
    for (kind, words, number) in STOPPING {
        let Ok(mut signal) = tokio::signal::unix::signal(kind) else { continue };
        let tx = tx.clone();
        tokio::spawn(async move {
            while signal.recv().await.is_some() {
                if tx.send((words, number)).await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::spawn(stop_on_signals(rx, token.clone()));
}

/// The first signal cancels the run; the second exits at once with
/// 128 + its number, as a shell reports a process killed by it.
#[cfg(unix)]
async fn stop_on_signals(mut rx: tokio::sync::mpsc::Receiver<(&'static str, i32)>, root: CancellationToken) {
    let Some((words, _)) = rx.recv().await else { return };
    eprintln!("\nwsprobe: {words}; finishing the report (Ctrl-C or SIGTERM again to quit at once)");
    root.cancel();
    if let Some((_, number)) = rx.recv().await {
        std::process::exit(128 + number);
    }
}

#[cfg(not(unix))]
fn other_handler(token: &CancellationToken) {
    let root = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\nwsprobe: interrupted; finishing the report (Ctrl-C again to quit at once)");
        root.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}
