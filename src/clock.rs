//! Wall-clock time for reports that several machines write: a run's time
//! origin pairs a monotonic [`Instant`] (what events carry) with the
//! wall-clock [`SystemTime`] it stands for, so event times become
//! absolute seconds that line up across shards; and the one format for
//! absolute times in reports (RFC 3339, UTC, microseconds).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A run's time origin: `instant` on this process's monotonic clock is
/// `wall` on the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The wall-clock time of the origin.
    pub wall: SystemTime,
    /// The same moment on the monotonic clock.
    pub instant: Instant,
}

impl Origin {
    /// Now.
    pub fn now() -> Origin {
        Origin { wall: SystemTime::now(), instant: Instant::now() }
    }

    /// The origin at `instant` (in the past or now), its wall time
    /// derived from the wall clock now.
    pub fn at(instant: Instant) -> Origin {
        let back = Instant::now().saturating_duration_since(instant);
        Origin { wall: SystemTime::now() - back, instant }
    }

    /// The wall-clock time of `instant`.
    pub fn wall_of(&self, instant: Instant) -> SystemTime {
        match instant.checked_duration_since(self.instant) {
            Some(after) => self.wall + after,
            None => self.wall - self.instant.saturating_duration_since(instant),
        }
    }
}

/// Unix time in microseconds (0 before 1970).
pub fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros().min(u128::from(u64::MAX)) as u64)
}

/// The whole Unix second `t` falls in.
pub fn unix_second(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `2025-12-01T12:00:00.123456Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// Reads a time written by [`rfc3339`] (or any RFC 3339 UTC time).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

/// Seconds from `a` to `b`, negative when `b` is earlier.
pub fn seconds_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// `t` moved by `s` seconds (either way).
pub fn shifted(t: SystemTime, s: f64) -> SystemTime {
    let d = Duration::from_secs_f64(s.abs().min(1e9));
    if s >= 0.0 {
        t + d
    } else {
        t - d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_at_microseconds() {
        let t = UNIX_EPOCH + Duration::from_micros(1_764_590_400_123_456);
        let text = rfc3339(t);
        assert_eq!(text, "2025-12-01T12:00:00.123456Z");
        assert_eq!(parse_rfc3339(&text), Some(t));
        assert_eq!((unix_us(t), unix_second(t)), (1_764_590_400_123_456, 1_764_590_400));
    }

    #[test]
    fn instants_map_to_wall_times_either_side_of_the_origin() {
        let o = Origin::now();
        let later = o.instant + Duration::from_millis(1500);
        assert_eq!(seconds_between(o.wall, o.wall_of(later)), 1.5);
        assert!(seconds_between(o.wall, shifted(o.wall, -2.0)) == -2.0);
    }
}
