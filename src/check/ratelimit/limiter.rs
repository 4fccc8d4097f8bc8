//! The limiters `model` fits, simulated: a sliding window of accepted
//! connections, a token bucket, and a period counter that counts every
//! attempt (HAProxy's `conn_rate`). Each decides one attempt from the
//! attempts before it as they really went (what was let in, what was
//! refused), and a score says how many it gets right. An attempt within
//! [`SLACK`] of a model's threshold is explained either way but counted
//! apart: wsprobe times an attempt when it starts, the limiter when its
//! request arrives, so knife edges (nginx's 1 r/s probed at exactly 2/s)
//! must not decide between models; a model that puts every attempt on an
//! edge explains nothing clearly and is not fitted.

use std::collections::VecDeque;

use super::model::ModelKind;

/// Timing uncertainty of one attempt, in seconds.
pub const SLACK: f64 = 0.01;

/// One answered attempt: when, and whether it got in.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Seconds since the run started.
    pub at: f64,
    /// Let in.
    pub accepted: bool,
}

/// How many attempts a model explains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    /// Explained, edges included.
    pub explained: u32,
    /// Explained away from any edge.
    pub clear: u32,
}

/// A limiter's state as it would be just before an attempt.
enum State {
    Window { counted: VecDeque<f64>, n: u32, w: f64 },
    Bucket { tokens: f64, at: f64, n: u32, refill: f64 },
    Counter { start: f64, current: u32, previous: u32, n: u32, period: f64 },
}

impl State {
    fn new(kind: ModelKind, n: u32, x: f64, first: f64) -> State {
        match kind {
            ModelKind::Window => State::Window { counted: VecDeque::new(), n, w: x },
            ModelKind::Bucket => State::Bucket { tokens: f64::from(n), at: first, n, refill: x },
            ModelKind::CountingWindow => State::Counter { start: first, current: 0, previous: 0, n, period: x },
        }
    }

    /// Whether an attempt at `t` would be let in (no state change).
    fn lets_in(&self, t: f64) -> bool {
        match self {
            State::Window { counted, n, w } => counted.iter().filter(|c| t - **c < *w).count() < *n as usize,
            State::Bucket { tokens, at, n, refill } => (tokens + refill * (t - at)).min(f64::from(*n)) >= 1.0 - 1e-9,
            State::Counter { start, current, previous, n, period } => {
                let (start, current, previous) = rotate(*start, *current, *previous, t, *period);
                let remain = (start + period - t).clamp(0.0, *period);
                current + 1 + (f64::from(previous) * remain / period).floor() as u32 <= *n
            }
        }
    }

    /// Records what happened to an attempt at `t`.
    fn commit(&mut self, t: f64, accepted: bool) {
        match self {
            State::Window { counted, w, .. } => {
                while counted.front().is_some_and(|c| t - c >= *w) {
                    counted.pop_front();
                }
                if accepted {
                    counted.push_back(t);
                }
            }
            State::Bucket { tokens, at, n, refill } => {
                *tokens = (*tokens + *refill * (t - *at)).min(f64::from(*n));
                *at = t;
                if accepted {
                    *tokens = (*tokens - 1.0).max(0.0);
                }
            }
            State::Counter { start, current, previous, period, .. } => {
                (*start, *current, *previous) = rotate(*start, *current, *previous, t, *period);
                *current += 1;
            }
        }
    }
}

/// A period counter brought up to `t`: the previous period's count moves
/// back, or both are forgotten after two periods without attempts.
fn rotate(start: f64, current: u32, previous: u32, t: f64, period: f64) -> (f64, u32, u32) {
    if t - start < period {
        return (start, current, previous);
    }
    if t - start < 2.0 * period {
        return (start + period, 0, current);
    }
    (t, 0, 0)
}

/// How many of `points` the model explains.
pub fn score(kind: ModelKind, points: &[Point], n: u32, x: f64) -> Score {
    let Some(first) = points.first() else { return Score::default() };
    let mut state = State::new(kind, n, x, first.at);
    let mut s = Score::default();
    for p in points {
        let (early, late) = (state.lets_in(p.at - SLACK), state.lets_in(p.at + SLACK));
        if early != late {
            s.explained += 1;
        } else if early == p.accepted {
            s.explained += 1;
            s.clear += 1;
        }
        state.commit(p.at, p.accepted);
    }
    s
}

/// What the model does with more attempts at `times` after `points`:
/// each let in or not, as it would decide them one after the other.
pub fn lets_in(kind: ModelKind, points: &[Point], n: u32, x: f64, times: &[f64]) -> Vec<bool> {
    let first = points.first().map_or(times.first().copied().unwrap_or(0.0), |p| p.at);
    let mut state = State::new(kind, n, x, first);
    for p in points {
        state.commit(p.at, p.accepted);
    }
    times
        .iter()
        .map(|&t| {
            let accepted = state.lets_in(t);
            state.commit(t, accepted);
            accepted
        })
        .collect()
}
