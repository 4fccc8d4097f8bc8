//! One classified connection attempt for `ratelimit`: open, watch for
//! `--settle` (an accepted connection closed by the server right away is a
//! rejection too), then close it or keep it open (hold mode).

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::infer::{AttemptRecord, Purpose};
use crate::net::attempt::Outcome;
use crate::net::connect::{open, Attempt};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, Watched};
use crate::units::ClientId;

/// What a probe needs to know.
pub struct Probe<'a> {
    /// Where to connect.
    pub endpoint: &'a Endpoint,
    /// When the run started.
    pub t0: Instant,
    /// How long an accepted connection must stay open to count.
    pub settle: Duration,
    /// Time the server gets to answer our close.
    pub close_timeout: Duration,
    /// Ctrl-C.
    pub stop: &'a CancellationToken,
}

/// An attempt whose upgrade succeeded and whose `--settle` is still to come.
pub struct Opened {
    record: AttemptRecord,
    watched: Watched,
}

/// How far an attempt got by the end of its handshake.
pub enum Begun {
    /// Upgraded; settle it to know whether the server keeps it.
    Open(Opened),
    /// Refused or failed: the final record.
    Done(AttemptRecord),
}

impl Probe<'_> {
    /// Makes attempt `n`; returns its record and, when `keep`, the open connection.
    pub async fn attempt(&self, n: u32, purpose: Purpose, keep: bool) -> (AttemptRecord, Option<Watched>) {
        match self.begin(n, purpose).await {
            Begun::Open(opened) => self.settle(opened, keep).await,
            Begun::Done(record) => (record, None),
        }
    }

    /// Makes attempt `n` up to the end of its handshake, so a caller can act
    /// the moment the server lets a connection in.
    pub async fn begin(&self, n: u32, purpose: Purpose) -> Begun {
        let at_s = crate::units::secs(self.t0.elapsed());
        let mut record = AttemptRecord {
            n,
            at_s,
            outcome: Outcome::Accepted,
            http_status: None,
            retry_after: None,
            close_code: None,
            failed_in: None,
            purpose,
            hint: None,
        };
        match open(self.endpoint, ClientId::new(n)).await {
            Attempt::Open(o) => {
                Begun::Open(Opened { record, watched: Watched::spawn(o.ws, self.stop, self.close_timeout) })
            }
            Attempt::Rejected(r) => {
                record.outcome = r.outcome();
                record.http_status = r.http_status();
                record.close_code = r.close_code();
                record.hint = crate::net::refusal::auth_hint(r.status, &r.body);
                record.retry_after = r.retry_after;
                Begun::Done(record)
            }
            Attempt::Failed(f) => {
                record.outcome = f.outcome();
                record.failed_in = Some(f.phase);
                Begun::Done(record)
            }
        }
    }

    /// Watches an upgraded attempt for `--settle`: closed by the server
    /// within it is a refusal; else it is closed cleanly, or kept (`keep`).
    pub async fn settle(&self, opened: Opened, keep: bool) -> (AttemptRecord, Option<Watched>) {
        let Opened { mut record, watched } = opened;
        tokio::select! {
            _ = tokio::time::sleep(self.settle) => {}
            _ = self.stop.cancelled() => {}
        }
        if watched.ended() {
            let (_, close) = watched.finish().await;
            let code = close.map(|c| c.code).unwrap_or(1006);
            record.outcome = Outcome::Closed(code);
            record.close_code = Some(code);
            return (record, None);
        }
        if keep {
            return (record, Some(watched));
        }
        if let (Some(mut ws), _) = watched.finish().await {
            close_cleanly(&mut ws, 1000, "wsprobe ratelimit", self.close_timeout).await;
        }
        (record, None)
    }
}

/// Seconds from a Retry-After header (delta-seconds form only).
pub fn retry_after_secs(value: Option<&str>) -> Option<f64> {
    value?.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0)
}
