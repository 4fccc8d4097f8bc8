//! The timers of one server connection: ping frames and their pong
//! deadline, the idle timeout, the token TTL, the scheduled drop, the
//! application-level ping and its answer deadline, and the init deadline.
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
    /// The next application-level ping.
    pub next_app_ping: Option<Instant>,
    /// When the oldest unanswered app ping runs out (None: none pending).
    pub app_pong_due: Option<Instant>,
    /// No first message yet while `--require-init` is set.
    pub awaiting_init: bool,
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
    /// Send the application-level ping.
    AppPing,
    /// No answer to an app ping in time.
    AppPongDeadline,
    /// No first message in time.
    InitDeadline,
    /// Nothing is scheduled.
    None,
}

impl Clock {
    /// The timers of a connection that has just been upgraded.
    pub fn new(cfg: &ServerConfig) -> Clock {
        let now = Instant::now();
        Clock {
            opened: now,
            last_in: now,
            last_pong: now,
            next_ping: cfg.ping_interval.map(|p| now + p),
            next_app_ping: cfg.app_ping.as_ref().map(|_| now + cfg.app_ping_interval),
            app_pong_due: None,
            awaiting_init: cfg.require_init.is_some(),
        }
    }

    /// The earliest timer and when it fires.
    pub fn next(&self, cfg: &ServerConfig) -> (Instant, Timer) {
        let candidates = [
            (self.next_ping, Timer::Ping),
            (cfg.pong_timeout.map(|t| self.last_pong + t), Timer::PongDeadline),
            (cfg.idle_timeout.map(|t| self.last_in + t), Timer::Idle),
            (cfg.token_ttl.map(|t| self.opened + t), Timer::TokenTtl),
            (cfg.drop_after.map(|t| self.opened + t), Timer::DropAfter),
            (self.next_app_ping, Timer::AppPing),
            (self.app_pong_due, Timer::AppPongDeadline),
            (self.awaiting_init.then(|| self.opened + cfg.init_timeout), Timer::InitDeadline),
        ];
        candidates
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| (at, timer)))
            .min_by_key(|(at, _)| *at)
            .unwrap_or((self.opened + Duration::from_secs(86_400 * 365), Timer::None))
    }

    /// An app ping goes out now: schedule the next one and, when answers
    /// are expected, start the answer deadline unless one is running (the
    /// deadline belongs to the oldest unanswered ping).
    pub fn app_ping_sent(&mut self, cfg: &ServerConfig) {
        let now = Instant::now();
        self.next_app_ping = Some(now + cfg.app_ping_interval);
        if cfg.app_pong.is_some() && self.app_pong_due.is_none() {
            self.app_pong_due = Some(now + cfg.app_pong_window());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn app_ping_then_its_deadline_then_the_next_ping() {
        let cfg = ServerConfig {
            app_ping: Some("2".into()),
            app_ping_interval: Duration::from_secs(25),
            app_pong: Some("^3$".into()),
            app_pong_timeout: Some(Duration::from_secs(20)),
            ..Default::default()
        };
        let mut clock = Clock::new(&cfg);
        assert_eq!(clock.next(&cfg), (clock.opened + Duration::from_secs(25), Timer::AppPing));
        tokio::time::advance(Duration::from_secs(25)).await;
        clock.app_ping_sent(&cfg);
        assert_eq!(clock.next(&cfg), (clock.opened + Duration::from_secs(45), Timer::AppPongDeadline));
        clock.app_pong_due = None;
        assert_eq!(clock.next(&cfg), (clock.opened + Duration::from_secs(50), Timer::AppPing));
    }

    #[tokio::test(start_paused = true)]
    async fn init_deadline_only_until_the_first_message() {
        let cfg = ServerConfig { require_init: Some("init".into()), ..Default::default() };
        let mut clock = Clock::new(&cfg);
        assert_eq!(clock.next(&cfg), (clock.opened + Duration::from_secs(3), Timer::InitDeadline));
        clock.awaiting_init = false;
        assert_eq!(clock.next(&cfg).1, Timer::None);
    }
}
