//! The timers of one server connection: ping frames and their pong
//! deadline, the idle timeout, the token TTL and the scheduled drop.
//! The connection sleeps until the earliest one; the state is a handful of
//! instants, so 10,000 idle connections stay small.

use std::time::Duration;

use tokio::time::Instant;

use super::config::ServerConfig;

/// The timers of one connection.
#[derive(Debug)]
pub struct Clock {
    /// When the upgrade finished.
    pub opened: Instant,
    /// The last inbound frame.
    pub last_in: Instant,
    /// The last pong frame.
    pub last_pong: Instant,
    /// The next ping frame.
    pub next_ping: Option<Instant>,
}

/// Which timer fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Send a ping frame.
    Ping,
    /// No pong frame in time.
    PongDeadline,
    /// No inbound frame in time.
    Idle,
    /// The token expired.
    TokenTtl,
    /// The scheduled drop.
    DropAfter,
    /// Nothing is scheduled.
    None,
}

impl Clock {
    /// The timers of a connection that has just been upgraded.
    pub fn new(cfg: &ServerConfig) -> Clock {
        let now = Instant::now();
        Clock { opened: now, last_in: now, last_pong: now, next_ping: cfg.ping_interval.map(|p| now + p) }
    }

    /// The earliest timer and when it fires.
    pub fn next(&self, cfg: &ServerConfig) -> (Instant, Timer) {
        let candidates = [
            (self.next_ping, Timer::Ping),
            (cfg.pong_timeout.map(|t| self.last_pong + t), Timer::PongDeadline),
            (cfg.idle_timeout.map(|t| self.last_in + t), Timer::Idle),
            (cfg.token_ttl.map(|t| self.opened + t), Timer::TokenTtl),
            (cfg.drop_after.map(|t| self.opened + t), Timer::DropAfter),
        ];
        candidates
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| (at, timer)))
            .min_by_key(|(at, _)| *at)
            .unwrap_or((self.opened + Duration::from_secs(86_400 * 365), Timer::None))
    }
}
