//! `--max-clients-mode queue`: a full server leaves the next client's
//! upgrade unanswered until a slot frees, as HAProxy's `maxconn` queues
//! requests, so `ratelimit` can prove it reads queueing as a cap. A queued
//! client waits at most `--handshake-timeout` (then 503, counted as a
//! max-clients refusal) and leaves the queue when it hangs up; the queue is
//! bounded as every waiting handshake is (`--max-handshakes`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpStream;

use super::config::{CapMode, ServerConfig};
use super::registry::{Refusal, RejectReason, Ticket};
use super::workers::Worker;
use super::Shared;

/// True when this refusal waits in the queue instead of being written.
pub fn queues(cfg: &ServerConfig, refusal: &Refusal) -> bool {
    cfg.max_clients_mode == CapMode::Queue && refusal.reason == RejectReason::MaxClients
}

/// Admits a connection, or queues it when the server is full and queues:
/// the ticket, `Err(Some(refusal))` to write, `Err(None)` when a queued
/// client hung up.
pub async fn admit(
    stream: &mut TcpStream,
    peer: SocketAddr,
    identity: Option<String>,
    worker: &Worker,
    shared: &Arc<Shared>,
) -> Result<Ticket, Option<Refusal>> {
    let first = worker.registry().admit(&shared.cfg, peer.ip(), identity.clone(), Instant::now());
    match first {
        Err(refusal) if queues(&shared.cfg, &refusal) => wait(stream, peer, identity, worker, shared).await,
        other => other.map_err(Some),
    }
}

/// Waits for a slot: the ticket once admitted, `Err(Some(refusal))` to
/// write (the wait ran out, or another check refused), `Err(None)` when the
/// client hung up while queued.
async fn wait(
    stream: &mut TcpStream,
    peer: SocketAddr,
    identity: Option<String>,
    worker: &Worker,
    shared: &Arc<Shared>,
) -> Result<Ticket, Option<Refusal>> {
    let deadline = tokio::time::Instant::now() + shared.cfg.handshake_timeout;
    let mut watching = true;
    loop {
        let freed = worker.slot_freed().notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        match worker.registry().admit(&shared.cfg, peer.ip(), identity.clone(), Instant::now()) {
            Ok(ticket) => return Ok(ticket),
            Err(refusal) if !queues(&shared.cfg, &refusal) => return Err(Some(refusal)),
            Err(_) => {}
        }
        tokio::select! {
            _ = &mut freed => {}
            _ = tokio::time::sleep_until(deadline) => {
                // One last try: a slot may have come free this instant.
                let last = worker.registry().admit(&shared.cfg, peer.ip(), identity, Instant::now());
                return last.map_err(|mut refusal| {
                    if queues(&shared.cfg, &refusal) {
                        worker.registry().count_rejection(RejectReason::MaxClients);
                        let waited = crate::units::format_duration(shared.cfg.handshake_timeout);
                        refusal.body = format!("{} (queued {waited})", refusal.body);
                    }
                    Some(refusal)
                });
            }
            gone = hung_up(stream), if watching => {
                if gone {
                    return Err(None);
                }
                watching = false;
            }
        }
    }
}

/// True once the client closed its side; false when it sent bytes early
/// (frames before the 101), after which hang-ups are not watched.
async fn hung_up(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(stream.peek(&mut byte).await, Ok(n) if n > 0)
}
