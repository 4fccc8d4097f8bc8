//! One cancellation tree for the whole run: a root token cancelled by
//! Ctrl-C, with child tokens per phase and per client. Long waits select on
//! `cancelled()`, so the first Ctrl-C ends the run and still prints the
//! partial report; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A root token that Ctrl-C cancels. Must be called inside a runtime.
pub fn on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let root = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        INTERRUPTED.store(true, Ordering::SeqCst);
        eprintln!("\nwsprobe: interrupted; finishing the report (Ctrl-C again to quit at once)");
        root.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
    token
}

/// True once Ctrl-C was pressed in this process.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
