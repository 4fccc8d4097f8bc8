//! The client commands. Each check drives connections against a resolved
//! target and returns a [`crate::report::Report`]; none of them prints.

pub mod connect;
pub mod ratelimit;
pub mod single;
pub mod stability;
pub mod storm;

use std::time::Duration;

/// Seconds as a float rounded to milliseconds, the way reports show time.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Milliseconds as a float rounded to microseconds.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}
