//! One cancellation tree for the whole run: a root token cancelled by
//! Ctrl-C, with child tokens per phase and per client. Long waits select on
//! `cancelled()`, so the first Ctrl-C ends the run and still prints the
//! partial report; a second one exits at once.

use tokio_util::sync::CancellationToken;

/// A root token that Ctrl-C cancels. Must be called inside a runtime. The
/// signal handler is in place when this returns (not when a task first
/// runs), so a Ctrl-C right after a banner is already ours.
pub fn on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let root = token.clone();
    #[cfg(unix)]
    let mut interrupt = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(s) => s,
        Err(_) => return token,
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        let got = interrupt.recv().await.is_some();
        #[cfg(not(unix))]
        let got = tokio::signal::ctrl_c().await.is_ok();
        if !got {
            return;
        }
        eprintln!("\nwsprobe: interrupted; finishing the report (Ctrl-C again to quit at once)");
        root.cancel();
        #[cfg(unix)]
        let again = interrupt.recv().await.is_some();
        #[cfg(not(unix))]
        let again = tokio::signal::ctrl_c().await.is_ok();
        if again {
            std::process::exit(130);
        }
    });
    token
}
