//! Inferring a connection limit from a timeline of attempts: the burst
//! (accepted before the first rejection), the window (from the first accept
//! until one is accepted again), and the concurrent cap. Pure, so every
//! rule is unit-tested; when the evidence is not there, the answer is
//! `None`, never a guess.

use serde::Serialize;

use crate::net::attempt::{FailureKind, Outcome, Phase};

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// On the --rate schedule.
    Scheduled,
    /// Waiting for the rate limit window to reopen.
    WindowProbe,
    /// After closing a held connection: is the slot given back?
    ReuseProbe,
    /// Right after the window reopened, a quick burst: all in again (a
    /// window) or one at a time (a token bucket)?
    RefillProbe,
    /// Placed where two limiter models that explain the attempts so far
    /// disagree, so its outcome decides between them.
    ModelProbe,
}

/// One connection attempt and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// Attempt number (1-based).
    pub n: u32,
    /// Seconds since the run started, when the attempt began.
    pub at_s: f64,
    /// `accepted`, `http-<status>`, `closed-<code>`, `refused`, `reset`, `timeout`...
    pub outcome: Outcome,
    /// HTTP status of a refused upgrade.
    pub http_status: Option<u16>,
    /// Retry-After of a refused upgrade.
    pub retry_after: Option<String>,
    /// Close code when accepted and then closed within --settle.
    pub close_code: Option<u16>,
    /// The phase a failed attempt ended in (`tcp`, `upgrade`...): TCP
    /// accepted and the upgrade unanswered is how a queue or a TCP-level
    /// refusal looks.
    pub failed_in: Option<Phase>,
    /// Why it was made.
    pub purpose: Purpose,
    /// What to do about a 401/403, read from its body (`--origin` when the
    /// body names the Origin check); not in the report.
    #[serde(skip)]
    pub hint: Option<&'static str>,
}

impl AttemptRecord {
    /// True when the server let this connection in and kept it.
    pub fn accepted(&self) -> bool {
        self.outcome.is_accepted()
    }

    /// True when the server refused it: at the handshake, right after, or
    /// by resetting or closing TCP before any HTTP answer (HAProxy's
    /// `tcp-request connection reject` resets a connection it took, often
    /// before the client's connect returns). A port with nothing behind it
    /// answers `refused`, which is not counted.
    pub fn rejected(&self) -> bool {
        self.outcome.is_refusal()
            || (self.dropped_unanswered() && matches!(self.failed_in, Some(Phase::Tcp | Phase::Upgrade)))
    }

    /// True when TCP was accepted and the upgrade got no answer in time:
    /// with connections held, a server or proxy that queues the excess.
    pub fn queued(&self) -> bool {
        self.outcome == Outcome::Failed(FailureKind::Timeout) && self.failed_in == Some(Phase::Upgrade)
    }

    fn dropped_unanswered(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(FailureKind::Reset | FailureKind::Eof))
    }
}

/// How a limit told a client no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An answer: `http-429`, `closed-1008`, or TCP ended after it was
    /// accepted (`reset`, `eof`).
    Outcome(Outcome),
    /// No answer: TCP accepted, the upgrade left waiting (a queue).
    Queued,
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signal::Outcome(o) => o.fmt(f),
            Signal::Queued => f.write_str("queued"),
        }
    }
}

impl Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How the first refusal (or, holding connections, the first attempt left
/// queued) was signalled.
pub fn signal(records: &[AttemptRecord], holding: bool) -> Option<Signal> {
    let first = records.iter().find(|r| r.rejected() || (holding && r.queued()))?;
    Some(if first.rejected() { Signal::Outcome(first.outcome) } else { Signal::Queued })
}

/// Accepted scheduled attempts before the first rejection; `None` when
/// nothing was rejected (no limit seen).
pub fn burst(records: &[AttemptRecord]) -> Option<u32> {
    let scheduled: Vec<&AttemptRecord> = records.iter().filter(|r| r.purpose == Purpose::Scheduled).collect();
    let first_rejection = scheduled.iter().position(|r| r.rejected())?;
    Some(scheduled[..first_rejection].iter().filter(|r| r.accepted()).count() as u32)
}

/// Seconds from the first accepted attempt until one is accepted again
/// after a rejection; `None` without a rejection or a re-acceptance.
pub fn window_s(records: &[AttemptRecord]) -> Option<f64> {
    let first_accept = records.iter().find(|r| r.accepted())?;
    let first_rejection = records.iter().position(|r| r.rejected())?;
    let again = records[first_rejection..].iter().find(|r| r.accepted())?;
    Some(((again.at_s - first_accept.at_s) * 1000.0).round() / 1000.0)
}

/// Accepted scheduled connections (held open) when the first rejection, or
/// the first attempt left queued, came.
pub fn max_concurrent(records: &[AttemptRecord], still_open: u32) -> Option<u32> {
    let scheduled: Vec<&AttemptRecord> = records.iter().filter(|r| r.purpose == Purpose::Scheduled).collect();
    scheduled.iter().any(|r| r.rejected() || r.queued()).then_some(still_open)
}

/// Whether a closed connection's slot came back: `None` without a reuse probe.
pub fn slots_reused(records: &[AttemptRecord]) -> Option<bool> {
    let probes: Vec<&AttemptRecord> = records.iter().filter(|r| r.purpose == Purpose::ReuseProbe).collect();
    (!probes.is_empty()).then(|| probes.iter().any(|r| r.accepted()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u32, at_s: f64, outcome: &str, purpose: Purpose) -> AttemptRecord {
        AttemptRecord {
            n,
            at_s,
            outcome: outcome.parse().expect("test outcome"),
            http_status: None,
            retry_after: None,
            close_code: None,
            failed_in: None,
            purpose,
            hint: None,
        }
    }

    fn timeline() -> Vec<AttemptRecord> {
        let mut r: Vec<AttemptRecord> = (0..10)
            .map(|i| rec(i + 1, f64::from(i) * 0.05, if i < 3 { "accepted" } else { "http-429" }, Purpose::Scheduled))
            .collect();
        r.push(rec(11, 1.5, "http-429", Purpose::WindowProbe));
        r.push(rec(12, 2.01, "accepted", Purpose::WindowProbe));
        r
    }

    #[test]
    fn burst_and_window_from_a_rate_limited_timeline() {
        assert_eq!(burst(&timeline()), Some(3));
        assert_eq!(window_s(&timeline()), Some(2.01));
    }

    #[test]
    fn no_rejection_means_no_inference() {
        let all_ok: Vec<AttemptRecord> = (0..5).map(|i| rec(i, f64::from(i), "accepted", Purpose::Scheduled)).collect();
        assert_eq!(burst(&all_ok), None);
        assert_eq!(window_s(&all_ok), None);
        assert_eq!(max_concurrent(&all_ok, 5), None);
        assert_eq!(slots_reused(&all_ok), None);
    }

    #[test]
    fn closed_right_after_opening_counts_as_rejected() {
        let r = vec![rec(1, 0.0, "accepted", Purpose::Scheduled), rec(2, 0.1, "closed-1008", Purpose::Scheduled)];
        assert_eq!(burst(&r), Some(1));
    }

    #[test]
    fn slot_reuse_from_probes() {
        let mut r = vec![rec(1, 0.0, "accepted", Purpose::Scheduled), rec(2, 0.1, "http-503", Purpose::Scheduled)];
        assert_eq!(max_concurrent(&r, 1), Some(1));
        r.push(rec(3, 0.5, "http-503", Purpose::ReuseProbe));
        assert_eq!(slots_reused(&r), Some(false));
        r.push(rec(4, 0.7, "accepted", Purpose::ReuseProbe));
        assert_eq!(slots_reused(&r), Some(true));
    }
}
