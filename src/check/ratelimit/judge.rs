//! Judging `ratelimit`'s attempts: pure functions from the classified
//! attempts to the inferred limit, the findings and the diagnosis.

use std::collections::BTreeMap;
use std::time::Duration;

use super::infer::{self, AttemptRecord, Purpose, Signal};
use super::model::{self, Fit, ModelKind};
use super::{Inferred, RatelimitDetails, RatelimitMode, RatelimitPlan};
use crate::check::Observation;
use crate::net::attempt::{FailureKind, Outcome};
use crate::report::Finding;
use crate::units::format_duration;

/// Nothing can be inferred when no attempt got in: say why instead.
pub(super) fn unreachable(records: &[AttemptRecord]) -> Option<String> {
    if records.is_empty() || records.iter().any(|r| r.accepted()) {
        return None;
    }
    let outcomes = count_outcomes(records);
    let hint = if let Some(hint) = records.iter().find_map(|r| r.hint) {
        format!("; {}", hint.trim().trim_matches(['(', ')']))
    } else if outcomes.keys().all(|k| matches!(k, Outcome::Http(_))) {
        "; the limit may already be used up by earlier connections: wait for its window and run again".into()
    } else {
        String::new()
    };
    Some(format!("no attempt was accepted ({}){hint}", crate::report::counts(&outcomes)))
}

/// Attempts that got no HTTP answer at all (timeouts, resets) are neither
/// acceptances nor limits; they make the inference less certain. Holding
/// connections, an upgrade left unanswered is the cap's signal (a queue).
fn unanswered(records: &[AttemptRecord], holding: bool) -> Option<Finding> {
    let failed: Vec<&AttemptRecord> =
        records.iter().filter(|r| !(r.accepted() || r.rejected() || (holding && r.queued()))).collect();
    if failed.is_empty() {
        return None;
    }
    let summary = crate::report::counts(&count_outcomes(failed.iter().copied()));
    Some(Finding::new(
        "unanswered",
        false,
        format!(
            "{} of {} attempts got no HTTP answer ({}): the inference may be incomplete",
            failed.len(),
            records.len(),
            summary
        ),
    ))
}

pub(super) fn infer(mode: RatelimitMode, records: &[AttemptRecord], held: u32) -> Inferred {
    let burst = infer::burst(records);
    // In hold mode refusals come from the cap, so there is no rate window.
    let churn = mode == RatelimitMode::Churn;
    let window_s = if churn { infer::window_s(records) } else { None };
    let fits = if churn { model::fit_all(records) } else { Vec::new() };
    let best = decisive(&fits);
    let measured = burst.zip(window_s).map(|(b, w)| format!("{b}/{}", format_duration(Duration::from_secs_f64(w))));
    Inferred {
        burst,
        window_s,
        limit: best.as_ref().map(limit_of).or(measured),
        max_concurrent: if churn { None } else { infer::max_concurrent(records, held) },
        slots_reused: infer::slots_reused(records),
        signal: infer::signal(records, !churn),
        retry_after: records.iter().find_map(|r| r.retry_after.clone()),
        counts_refusals: counts_refusals(&fits),
        model: best,
        fits,
    }
}

/// A model that gets at least this share of the answered attempts right
/// is reported as the limit; below it, only the measured burst and window.
pub(super) const GOOD_FIT: f64 = 0.85;

/// The best fit, when it explains enough and no model of the other family
/// (a bucket against a window) explains as much: then the attempts cannot
/// tell them apart, and guessing would be worse than saying so.
fn decisive(fits: &[Fit]) -> Option<Fit> {
    let best = fits.first().filter(|f| f.fit >= GOOD_FIT)?;
    let bucket = |f: &Fit| f.kind == ModelKind::Bucket;
    let tied = fits[1..].iter().any(|f| bucket(f) != bucket(best) && f.explained >= best.explained);
    (!tied).then(|| best.clone())
}

/// The limit as `N/W` for a window, `burst N, then R/s` for a bucket.
fn limit_of(fit: &Fit) -> String {
    match (fit.kind, fit.window_s) {
        (ModelKind::Bucket, _) | (_, None) => fit.summary.clone(),
        (_, Some(w)) => format!("{}/{}s", fit.burst, model::number(w)),
    }
}

/// Whether the limiter counts refused attempts: yes when a counting window
/// explains more than any model that does not; no when one that does not
/// explains more; `None` when the attempts cannot tell.
fn counts_refusals(fits: &[Fit]) -> Option<bool> {
    let best = |counting: bool| {
        fits.iter().filter(|f| (f.kind == ModelKind::CountingWindow) == counting).map(|f| f.explained).max()
    };
    let (counting, other) = (best(true)?, best(false)?);
    match counting.cmp(&other) {
        std::cmp::Ordering::Greater => Some(true),
        std::cmp::Ordering::Less => Some(false),
        std::cmp::Ordering::Equal => None,
    }
}

/// Attempts by outcome.
fn count_outcomes<'a>(records: impl IntoIterator<Item = &'a AttemptRecord>) -> BTreeMap<Outcome, u32> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts.entry(r.outcome).or_default() += 1;
    }
    counts
}

pub(super) fn details(plan: &RatelimitPlan, attempts: Vec<AttemptRecord>, inferred: Inferred) -> RatelimitDetails {
    let outcomes = count_outcomes(&attempts);
    RatelimitDetails {
        mode: plan.mode,
        rate: plan.rate.to_string(),
        accepted: attempts.iter().filter(|a| a.accepted()).count() as u32,
        rejected: attempts.iter().filter(|a| a.rejected()).count() as u32,
        attempts,
        outcomes,
        inferred,
    }
}

/// The signal in words: `HTTP 429 and Retry-After: 2`, `queueing`.
pub(super) fn signal_words(inf: &Inferred) -> String {
    let signal = match inf.signal {
        Some(Signal::Outcome(Outcome::Http(status))) => format!("HTTP {status}"),
        Some(Signal::Outcome(Outcome::Closed(code))) => format!("a close frame {code}"),
        Some(Signal::Outcome(Outcome::Failed(kind))) => {
            format!("a TCP {} before any HTTP answer", if kind == FailureKind::Eof { "close" } else { "reset" })
        }
        Some(Signal::Outcome(other)) => other.to_string(),
        Some(Signal::Queued) => "queueing (TCP accepted, the upgrade left unanswered)".to_string(),
        None => "?".to_string(),
    };
    match &inf.retry_after {
        Some(r) => format!("{signal} and Retry-After: {r}"),
        None => signal,
    }
}

pub(super) fn findings(plan: &RatelimitPlan, records: &[AttemptRecord], inf: &Inferred, obs: &mut Observation) {
    let scheduled = records.iter().filter(|r| r.purpose == Purpose::Scheduled).count();
    if let Some(finding) = unanswered(records, plan.mode == RatelimitMode::Hold) {
        obs.add(finding);
    }
    match plan.mode {
        RatelimitMode::Churn => super::churn::findings(plan, scheduled, inf, obs),
        RatelimitMode::Hold => hold_findings(plan, scheduled, inf, obs),
    }
}

fn hold_findings(plan: &RatelimitPlan, scheduled: usize, inf: &Inferred, obs: &mut Observation) {
    match inf.max_concurrent {
        Some(cap) => {
            obs.add(Finding::new(
                "concurrent-cap",
                true,
                format!("{cap} held connections, then {}", signal_words(inf)),
            ));
            let queued = if inf.signal == Some(Signal::Queued) {
                format!(
                    ": past it, the upgrade waits unanswered until a slot frees (wsprobe gave up after --connect-timeout {})",
                    format_duration(plan.client.connect_timeout)
                )
            } else {
                String::new()
            };
            obs.diagnosis.push(format!(
                "The server caps concurrent connections from here at {cap}, signalled with {}{queued}.",
                signal_words(inf)
            ));
        }
        None => {
            obs.add(Finding::new("concurrent-cap", true, format!("all {scheduled} held connections accepted")));
            obs.diagnosis.push(format!("No cap seen with {scheduled} connections held; try more --attempts."));
        }
    }
    match inf.slots_reused {
        Some(true) => obs.add(Finding::new("slot-reuse", true, "after closing one connection, a new one was accepted")),
        Some(false) => {
            obs.add(Finding::new("slot-reuse", false, "after closing one connection, new ones were still refused"));
            obs.diagnosis.push("A closed connection's slot was never given back: the server's connection counter leaks, and after enough disconnects it refuses everyone.".into());
        }
        None => {}
    }
    if let Some(expect) = plan.expect_max {
        let ok = inf.max_concurrent == Some(expect);
        let seen = inf.max_concurrent.map(|m| m.to_string()).unwrap_or_else(|| "no cap".into());
        obs.add(Finding::new("expect-max", ok, format!("expected {expect}, seen {seen}")));
    }
}
