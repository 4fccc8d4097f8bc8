//! The shared start: wait for `--start-at` (under the run's cancellation),
//! or start at once; a shard that comes up after the start gets an origin
//! in the past, so its schedule stays the one every shard keeps, and
//! records how late it was and how many arrivals it skipped.

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::clock::{rfc3339, Origin};

/// An arrival more than this far past its planned time is skipped, not run late.
pub const LATE_GRACE: Duration = Duration::from_secs(1);

/// How a shard met the shared start, as reports carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRecord {
    /// The planned start (RFC 3339, UTC, µs).
    pub at: String,
    /// Seconds this shard came up after it (0 when on time).
    pub late_s: f64,
    /// Arrivals skipped because they were already more than 1 s past.
    pub skipped: u64,
}

/// The run's start: its origin and how late it came.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// The planned start on both clocks (in the past for a late shard).
    pub origin: Origin,
    /// How late this process came (zero when on time or without a shared start).
    pub late: Duration,
    /// True when the start was shared (`--start-at`).
    pub shared: bool,
}

impl Start {
    /// Starting now, without a shared start.
    pub fn now() -> Start {
        Start { origin: Origin::now(), late: Duration::ZERO, shared: false }
    }

    /// True when an arrival planned `offset` after the start is already
    /// too far past to run (more than [`LATE_GRACE`]).
    pub fn is_past(&self, offset: Duration) -> bool {
        self.late > offset + LATE_GRACE
    }

    /// The instant of the arrival planned `offset` after the start.
    pub fn instant(&self, offset: Duration) -> Instant {
        self.origin.instant + offset
    }

    /// The record for the report (`None` without a shared start).
    pub fn record(&self, skipped: u64) -> Option<StartRecord> {
        self.shared.then(|| StartRecord {
            at: rfc3339(self.origin.wall),
            late_s: crate::units::secs(self.late),
            skipped,
        })
    }
}

/// Waits for `at` (at once without one). `None` when `stop` fired first.
pub async fn wait(at: Option<SystemTime>, stop: &CancellationToken) -> Option<Start> {
    let Some(at) = at else { return Some(Start::now()) };
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => {
            tokio::select! {
                _ = tokio::time::sleep(ahead) => {}
                _ = stop.cancelled() => return None,
            }
            Some(Start { origin: Origin { wall: at, instant: Instant::now() }, late: Duration::ZERO, shared: true })
        }
        Err(past) => {
            let late = past.duration();
            let now = Instant::now();
            let instant = now.checked_sub(late).unwrap_or(now);
            Some(Start { origin: Origin { wall: at, instant }, late, shared: true })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_late_start_has_its_origin_in_the_past() {
        let stop = CancellationToken::new();
        let at = SystemTime::now() - Duration::from_secs(5);
        let s = wait(Some(at), &stop).await.unwrap();
        assert!(s.late >= Duration::from_secs(5) && s.shared);
        assert!(s.is_past(Duration::from_secs(3)) && !s.is_past(Duration::from_secs(5)));
        let r = s.record(7).unwrap();
        assert_eq!((r.skipped, r.late_s.round()), (7, 5.0));
        assert!(Start::now().record(0).is_none());
    }

    #[tokio::test]
    async fn a_future_start_waits_and_ctrl_c_ends_the_wait() {
        let stop = CancellationToken::new();
        let at = SystemTime::now() + Duration::from_millis(50);
        let began = Instant::now();
        let s = wait(Some(at), &stop).await.unwrap();
        assert!(began.elapsed() >= Duration::from_millis(40) && s.late.is_zero());
        stop.cancel();
        assert!(wait(Some(SystemTime::now() + Duration::from_secs(60)), &stop).await.is_none());
    }
}
