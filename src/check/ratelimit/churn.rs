//! `ratelimit --mode churn`'s findings and diagnosis: the burst and window
//! as measured, and the limiter model that explains the attempts (a window,
//! a token bucket, a window that counts refusals) with how well it does, in
//! words. A bucket reads as `burst 3, then 1/s` whatever the probe rate.

use super::judge::signal_words;
use super::model::{number, Fit, ModelKind};
use super::{Inferred, RatelimitPlan};
use crate::check::Observation;
use crate::report::Finding;
use crate::units::format_duration;

/// The findings and diagnosis of a churn run.
pub(super) fn findings(plan: &RatelimitPlan, scheduled: usize, inf: &Inferred, obs: &mut Observation) {
    match (inf.burst, inf.window_s) {
        (Some(b), Some(w)) => {
            obs.add(Finding::new(
                "rate-limit",
                true,
                format!("{b} accepted, then {}; accepted again {w:.2} s after the first", signal_words(inf)),
            ));
            obs.diagnosis.push(match &inf.model {
                Some(m) => limit_line(m, inf),
                None => format!(
                    "{b} connections per ~{w:.1} s per IP, signalled with {}, but the attempts cannot tell which limiter this is ({}): run again once the limit has fully recovered, with more --attempts.",
                    signal_words(inf),
                    ranking(&inf.fits)
                ),
            });
        }
        (Some(b), None) => {
            obs.add(Finding::new(
                "rate-limit",
                true,
                format!(
                    "{b} accepted, then {}; not accepted again within {}",
                    signal_words(inf),
                    format_duration(plan.max_wait)
                ),
            ));
            obs.diagnosis.push(format!("A burst of {b}, then refusals that did not lift within --max-wait {}: the window is longer, or the limiter counts refused attempts too (the probes backed off to a gap of a tenth of the wait; try a longer --max-wait or a larger --probe-interval).", format_duration(plan.max_wait)));
        }
        _ => {
            obs.add(Finding::new("rate-limit", true, format!("no rejection in {scheduled} attempts at {}", plan.rate)));
            obs.diagnosis.push(format!("No limit seen: no refusal in {scheduled} attempts at {}. A per-IP limit, if any, is above that; try more --attempts or a faster --rate.", plan.rate));
        }
    }
    if let Some(m) = &inf.model {
        obs.add(Finding::new("limit-model", true, format!("{}: {}", m.summary, ranking(&inf.fits))));
    }
    if inf.counts_refusals == Some(true) {
        obs.diagnosis.push("The limiter counts refused attempts too: a client that retries faster than the limit keeps itself locked out; back off between retries (wsprobe's window probes did).".to_string());
    }
    expect_rate(plan, inf, obs);
}

/// The limit in a sentence, with the model's fit.
fn limit_line(m: &Fit, inf: &Inferred) -> String {
    let signal = signal_words(inf);
    let how = match (m.kind, m.window_s, m.refill_per_s) {
        (ModelKind::Bucket, _, Some(r)) => format!(
            "A token bucket per IP: a burst of {}, then {} per second (one every {} s), signalled with {signal}",
            m.burst,
            number(r),
            number(1.0 / r)
        ),
        (ModelKind::CountingWindow, Some(w), _) => {
            format!("{} attempts per ~{} s per IP, refused ones included, signalled with {signal}", m.burst, number(w))
        }
        (_, w, _) => format!(
            "{} connections per ~{} s per IP (a window), signalled with {signal}",
            m.burst,
            number(w.unwrap_or(0.0))
        ),
    };
    format!("{how}. {}.", capitalised(&ranking(&inf.fits)))
}

/// `a token bucket explains 20 of 20 answered attempts (100%); a window 17 (85%)`.
fn ranking(fits: &[Fit]) -> String {
    let mut parts = fits.iter().map(|f| (kind_words(f.kind), f.explained, (f.fit * 100.0).round()));
    let Some((kind, explained, pct)) = parts.next() else {
        return "no model could be fitted".to_string();
    };
    let answered = fits[0].answered;
    let mut text = format!("{kind} explains {explained} of {answered} answered attempts ({pct}%)");
    for (kind, explained, pct) in parts {
        text.push_str(&format!("; {kind} {explained} ({pct}%)"));
    }
    text
}

fn kind_words(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Window => "a window",
        ModelKind::CountingWindow => "a window counting refusals",
        ModelKind::Bucket => "a token bucket",
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `--expect-rate N/W`: for a window, N in any W; for a bucket, a burst of
/// N refilled at N per W. Without a model, the measured burst and window.
fn expect_rate(plan: &RatelimitPlan, inf: &Inferred, obs: &mut Observation) {
    let Some(expect) = plan.expect_rate else { return };
    let per = expect.per.as_secs_f64();
    let close = |seen: f64, want: f64| (seen - want).abs() <= 0.3 * want;
    let ok = match &inf.model {
        Some(m) if m.kind == ModelKind::Bucket => {
            m.burst == expect.count && m.refill_per_s.is_some_and(|r| close(r, expect.per_second()))
        }
        Some(m) => m.burst == expect.count && m.window_s.is_some_and(|w| close(w, per)),
        None => inf.burst == Some(expect.count) && inf.window_s.is_some_and(|w| close(w, per)),
    };
    let seen = inf.limit.clone().unwrap_or_else(|| "no limit".into());
    obs.add(Finding::new("expect-rate", ok, format!("expected {expect}, seen {seen}")));
}
