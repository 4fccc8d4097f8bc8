//! The reference server's per-IP connection rate limiter, in the shapes real
//! limiters take, so `ratelimit` can prove it tells them apart: a sliding
//! window of accepted connections (the default), a token bucket that holds
//! N and refills N per W (nginx `limit_req` with `burst` and `nodelay`),
//! and a period counter that counts refused attempts too (HAProxy's
//! `conn_rate`, where a client that keeps retrying keeps itself locked out). Also how a
//! full server treats the next client ([`CapMode`]). Memory per IP is
//! bounded by the limit's count.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::units::Rate;

/// The shape of `--rate-limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LimiterModel {
    /// At most N accepted connections in any W (a sliding window).
    #[default]
    Window,
    /// A token bucket of N, refilled at N per W: a burst of N, then one
    /// every W/N (nginx limit_req burst=N-1 nodelay).
    Bucket,
    /// At most N attempts per W, refused ones included, counted as HAProxy's
    /// conn_rate does (this period's attempts plus the last period's
    /// weighted by the share still in the window): retrying too often
    /// keeps the window shut.
    Counting,
}

/// What a full server (`--max-clients`) does with one more client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapMode {
    /// Refuse at once with HTTP 503.
    #[default]
    Reject,
    /// Leave the upgrade unanswered until a slot frees (as HAProxy's
    /// maxconn queues), 503 after --handshake-timeout; a client that gives
    /// up leaves the queue.
    Queue,
}

#[derive(Debug, Clone)]
enum IpState {
    /// Recent attempt times, newest last, at most the limit's count.
    Log(VecDeque<Instant>),
    /// Tokens left as of an instant.
    Tokens(f64, Instant),
    /// A period counter: when the current period started, the attempts in
    /// it and in the one before.
    Counter { start: Instant, current: u32, previous: u32 },
}

/// Per-IP limiter state of one worker.
#[derive(Debug, Default)]
pub struct RateLimiter {
    by_ip: HashMap<IpAddr, IpState>,
}

impl RateLimiter {
    /// Decides one attempt from `ip` at `now`: `Err(wait)` refuses it, `wait`
    /// being when a retry can succeed. Only a counting window counts it
    /// here; an attempt let in is counted by [`RateLimiter::admitted`] once
    /// every other check passed too.
    pub fn attempt(&mut self, model: LimiterModel, rate: Rate, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let count = rate.count.max(1) as usize;
        match self.state(model, rate, ip, now) {
            IpState::Log(log) if log.len() < count => Ok(()),
            IpState::Log(log) => {
                let oldest = log.front().copied().unwrap_or(now);
                Err((oldest + rate.per).saturating_duration_since(now))
            }
            IpState::Tokens(tokens, _) if *tokens >= 1.0 => Ok(()),
            IpState::Tokens(tokens, _) => {
                Err(Duration::from_secs_f64((1.0 - *tokens) * rate.per.as_secs_f64() / count as f64))
            }
            IpState::Counter { start, current, previous } => {
                *current += 1;
                let remain = (*start + rate.per).saturating_duration_since(now).as_secs_f64();
                let weighted = (f64::from(*previous) * remain / rate.per.as_secs_f64()).floor() as usize;
                if *current as usize + weighted <= count {
                    Ok(())
                } else {
                    Err((*start + rate.per).saturating_duration_since(now))
                }
            }
        }
    }

    /// Counts an attempt that was let in: a window slot or a token.
    pub fn admitted(&mut self, model: LimiterModel, rate: Rate, ip: IpAddr, now: Instant) {
        let count = rate.count.max(1) as usize;
        match self.state(model, rate, ip, now) {
            IpState::Log(log) => push_bounded(log, now, count),
            IpState::Tokens(tokens, _) => *tokens = (*tokens - 1.0).max(0.0),
            IpState::Counter { .. } => {}
        }
    }

    /// This IP's state brought up to `now`: expired attempts forgotten,
    /// tokens refilled.
    fn state(&mut self, model: LimiterModel, rate: Rate, ip: IpAddr, now: Instant) -> &mut IpState {
        let full = f64::from(rate.count.max(1));
        let fresh = || match model {
            LimiterModel::Bucket => IpState::Tokens(full, now),
            LimiterModel::Window => IpState::Log(VecDeque::new()),
            LimiterModel::Counting => IpState::Counter { start: now, current: 0, previous: 0 },
        };
        let state = self.by_ip.entry(ip).or_insert_with(fresh);
        match state {
            IpState::Log(log) => {
                while log.front().is_some_and(|t| now.duration_since(*t) >= rate.per) {
                    log.pop_front();
                }
            }
            IpState::Tokens(tokens, at) => {
                let refill = full / rate.per.as_secs_f64() * now.saturating_duration_since(*at).as_secs_f64();
                *tokens = (*tokens + refill).min(full);
                *at = now;
            }
            IpState::Counter { start, current, previous } => {
                if now.duration_since(*start) >= rate.per {
                    (*previous, *current) = (*current, 0);
                    *start += rate.per;
                    if now.duration_since(*start) >= rate.per {
                        (*previous, *start) = (0, now);
                    }
                }
            }
        }
        state
    }

    /// Forgets IPs whose limit has fully recovered, so memory stays bounded.
    pub fn prune(&mut self, rate: Option<Rate>, now: Instant) {
        let window = rate.map(|r| r.per).unwrap_or(Duration::ZERO);
        self.by_ip.retain(|_, s| match s {
            IpState::Log(log) => log.back().is_some_and(|t| now.duration_since(*t) < window),
            IpState::Tokens(_, at) => now.duration_since(*at) < window,
            IpState::Counter { start, .. } => now.duration_since(*start) < window * 2,
        });
    }
}

/// Appends an attempt time, keeping only the newest `count`.
fn push_bounded(log: &mut VecDeque<Instant>, at: Instant, count: usize) {
    log.push_back(at);
    while log.len() > count {
        log.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> IpAddr {
        IpAddr::from([127, 0, 0, 1])
    }

    /// Outcomes of attempts at these offsets (ms).
    fn run(model: LimiterModel, rate: &str, at_ms: &[u64]) -> Vec<bool> {
        let mut limiter = RateLimiter::default();
        let t0 = Instant::now();
        let rate: Rate = rate.parse().unwrap();
        at_ms
            .iter()
            .map(|ms| {
                let at = t0 + Duration::from_millis(*ms);
                let ok = limiter.attempt(model, rate, ip(), at).is_ok();
                if ok {
                    limiter.admitted(model, rate, ip(), at);
                }
                ok
            })
            .collect()
    }

    #[test]
    fn a_bucket_gives_a_burst_then_one_per_refill() {
        let at = [0, 50, 100, 150, 1050, 1100, 2100];
        assert_eq!(run(LimiterModel::Bucket, "3/3s", &at), [true, true, true, false, true, false, true]);
        assert_eq!(run(LimiterModel::Window, "3/3s", &at), [true, true, true, false, false, false, false]);
    }

    #[test]
    fn a_counting_window_stays_shut_while_retries_keep_coming() {
        let retries: Vec<u64> = (0..30).map(|i| i * 100).collect();
        let counting = run(LimiterModel::Counting, "3/1s", &retries);
        assert_eq!(counting.iter().filter(|ok| **ok).count(), 3, "{counting:?}");
        let window = run(LimiterModel::Window, "3/1s", &retries);
        assert!(window.iter().filter(|ok| **ok).count() >= 9, "{window:?}");
    }
}
