//! One cancellation tree for the whole run: a root token cancelled by
//! Ctrl-C, with child tokens per phase and per client. Long waits select on
//! `cancelled()`, so the first Ctrl-C ends the run and still prints the
//! partial report; a second one exits at once.

use tokio_util::sync::CancellationToken;

/// A root token that Ctrl-C cancels. Must be called inside a runtime.
pub fn on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
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
    token
}
