//! Judging `ratelimit`'s attempts: pure functions from the classified
//! attempts to the inferred limit, the findings and the diagnosis.

use std::collections::BTreeMap;
use std::time::Duration;

use super::infer::{self, AttemptRecord, Purpose};
use super::{Inferred, RatelimitDetails, RatelimitMode, RatelimitPlan};
use crate::check::Observation;
use crate::net::attempt::Outcome;
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
/// acceptances nor limits; they make the inference less certain.
fn unanswered(records: &[AttemptRecord]) -> Option<Finding> {
    let failed: Vec<&AttemptRecord> = records.iter().filter(|r| !r.accepted() && !r.rejected()).collect();
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
    let window_s = if mode == RatelimitMode::Churn { infer::window_s(records) } else { None };
    let first_rejection = records.iter().find(|r| r.rejected());
    Inferred {
        burst,
        window_s,
        limit: burst.zip(window_s).map(|(b, w)| format!("{b}/{}", format_duration(Duration::from_secs_f64(w)))),
        max_concurrent: if mode == RatelimitMode::Hold { infer::max_concurrent(records, held) } else { None },
        slots_reused: infer::slots_reused(records),
        signal: first_rejection.map(|r| r.outcome),
        retry_after: records.iter().find_map(|r| r.retry_after.clone()),
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

fn signal_words(inf: &Inferred) -> String {
    let signal = match inf.signal {
        Some(Outcome::Http(status)) => format!("HTTP {status}"),
        Some(Outcome::Closed(code)) => format!("a close frame {code}"),
        Some(other) => other.to_string(),
        None => "?".to_string(),
    };
    match &inf.retry_after {
        Some(r) => format!("{signal} and Retry-After: {r}"),
        None => signal,
    }
}

pub(super) fn findings(plan: &RatelimitPlan, records: &[AttemptRecord], inf: &Inferred, obs: &mut Observation) {
    let scheduled = records.iter().filter(|r| r.purpose == Purpose::Scheduled).count();
    if let Some(finding) = unanswered(records) {
        obs.add(finding);
    }
    match plan.mode {
        RatelimitMode::Churn => churn_findings(plan, scheduled, inf, obs),
        RatelimitMode::Hold => hold_findings(plan, scheduled, inf, obs),
    }
}

fn churn_findings(plan: &RatelimitPlan, scheduled: usize, inf: &Inferred, obs: &mut Observation) {
    match (inf.burst, inf.window_s) {
        (Some(b), Some(w)) => {
            obs.add(Finding::new(
                "rate-limit",
                true,
                format!("{b} accepted, then {}; accepted again {w:.2} s after the first", signal_words(inf)),
            ));
            obs.diagnosis.push(format!("{b} connections per ~{w:.1} s per IP, signalled with {}.", signal_words(inf)));
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
            obs.diagnosis.push(format!("A burst of {b}, then refusals that did not lift within --max-wait {}: the window is longer, or the limiter counts refused attempts too.", format_duration(plan.max_wait)));
        }
        _ => {
            obs.add(Finding::new("rate-limit", true, format!("no rejection in {scheduled} attempts at {}", plan.rate)));
            obs.diagnosis.push(format!("No limit seen: no refusal in {scheduled} attempts at {}. A per-IP limit, if any, is above that; try more --attempts or a faster --rate.", plan.rate));
        }
    }
    if let Some(expect) = plan.expect_rate {
        let ok = inf.burst == Some(expect.count)
            && inf.window_s.is_some_and(|w| (w - expect.per.as_secs_f64()).abs() <= 0.3 * expect.per.as_secs_f64());
        let seen = inf.limit.clone().unwrap_or_else(|| "no limit".into());
        obs.add(Finding::new("expect-rate", ok, format!("expected {expect}, seen {seen}")));
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
            obs.diagnosis.push(format!(
                "The server caps concurrent connections from here at {cap}, signalled with {}.",
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
