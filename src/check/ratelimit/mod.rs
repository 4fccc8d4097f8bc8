//! `wsprobe ratelimit`: connection attempts on a steady schedule, each
//! classified; then the limit is inferred. Churn mode (open, close, next)
//! finds per-IP rate limits: the burst, and the window found by waiting
//! (honouring Retry-After) until an attempt is accepted again. Hold mode
//! keeps accepted connections open to find the concurrent cap, then closes
//! one and tries again: a leaking slot counter refuses forever.

mod probe;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::RatelimitMode;
use crate::exit::PlanError;
use crate::net::session::{close_all, close_cleanly, Watched};
use crate::plan::ClientPlan;
use crate::report::{Details, Finding, Report};
use crate::stats::infer::{self, AttemptRecord, Purpose};
use crate::target::Resolved;
use crate::units::{format_duration, Rate};
use probe::{retry_after_secs, Probe};

/// Longest wait for a freed slot to be given back.
const REUSE_WAIT: Duration = Duration::from_secs(5);

/// What `ratelimit` does.
#[derive(Debug, Clone)]
pub struct RatelimitPlan {
    /// How to connect.
    pub client: ClientPlan,
    /// Scheduled attempts.
    pub attempts: u32,
    /// Their schedule.
    pub rate: Rate,
    /// Churn or hold.
    pub mode: RatelimitMode,
    /// How long an accepted connection must stay open to count.
    pub settle: Duration,
    /// Longest wait for the window to reopen or a slot to come back.
    pub max_wait: Duration,
    /// The limit the server must enforce.
    pub expect_rate: Option<Rate>,
    /// The cap the server must enforce.
    pub expect_max: Option<u32>,
    /// Local addresses to spread attempts over.
    pub source_ips: Vec<std::net::IpAddr>,
    /// Draw live progress.
    pub progress: bool,
}

impl RatelimitPlan {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.attempts == 0 {
            return Err(PlanError::new("--attempts must be at least 1"));
        }
        if self.mode == RatelimitMode::Churn && self.expect_max.is_some() {
            return Err(PlanError::new("--expect-max needs --mode hold: churn mode never holds connections"));
        }
        crate::plan::positive("--max-wait", self.max_wait)?;
        Ok(())
    }
}

/// What was inferred.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Inferred {
    /// Accepted before the first rejection.
    pub burst: Option<u32>,
    /// Seconds from the first accept until accepted again.
    pub window_s: Option<f64>,
    /// The limit as `N/W`.
    pub limit: Option<String>,
    /// Concurrent connections when the first rejection came (hold mode).
    pub max_concurrent: Option<u32>,
    /// Whether a closed connection's slot came back (hold mode).
    pub slots_reused: Option<bool>,
    /// How rejections were signalled (`http-429` ...), first seen.
    pub signal: Option<String>,
    /// First Retry-After seen.
    pub retry_after: Option<String>,
}

/// `ratelimit`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct RatelimitDetails {
    /// churn or hold.
    pub mode: &'static str,
    /// The schedule.
    pub rate: String,
    /// Every attempt.
    pub attempts: Vec<AttemptRecord>,
    /// Accepted attempts.
    pub accepted: u32,
    /// Rejected attempts.
    pub rejected: u32,
    /// Attempts by outcome.
    pub outcomes: BTreeMap<String, u32>,
    /// The inference.
    pub inferred: Inferred,
}

/// Runs `ratelimit`.
pub async fn run(plan: &RatelimitPlan, target: &Resolved, stop: &CancellationToken) -> Report {
    let mut endpoint = target.endpoint.clone();
    endpoint.source_ips = plan.source_ips.clone();
    let probe = Probe {
        endpoint: &endpoint,
        t0: Instant::now(),
        settle: plan.settle,
        close_timeout: plan.client.close_timeout,
        stop,
    };
    let bar = crate::report::progress::bar(plan.progress, u64::from(plan.attempts), "attempts");
    let (mut records, mut held) = scheduled(plan, &probe, &bar).await;
    bar.finish_and_clear();
    if let Some(why) = unreachable(&records) {
        close_held(held, plan.client.close_timeout).await;
        let mut report = Report::error("ratelimit", target.display.clone(), why);
        report.details = Some(Details::Ratelimit(Box::new(details(plan, records, Inferred::default()))));
        return report;
    }
    let held_after_schedule = held.len() as u32;
    let mut next = plan.attempts + 1;
    match plan.mode {
        RatelimitMode::Churn => probe_window(plan, &probe, &mut records, &mut next).await,
        RatelimitMode::Hold => probe_reuse(plan, &probe, &mut records, &mut held, &mut next).await,
    }
    close_held(held, plan.client.close_timeout).await;
    let mut report = Report::new("ratelimit", target.display.clone());
    report.interrupted = stop.is_cancelled();
    let inferred = infer(plan.mode, &records, held_after_schedule);
    findings(plan, &records, &inferred, &mut report);
    report.settle_verdict();
    report.details = Some(Details::Ratelimit(Box::new(details(plan, records, inferred))));
    report
}

async fn scheduled(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    bar: &indicatif::ProgressBar,
) -> (Vec<AttemptRecord>, Vec<Watched>) {
    let keep = plan.mode == RatelimitMode::Hold;
    let start = tokio::time::Instant::now();
    let attempts = (0..plan.attempts).map(|i| async move {
        tokio::time::sleep_until(start + plan.rate.interval() * i).await;
        let result = probe.attempt(i + 1, Purpose::Scheduled, keep).await;
        bar.inc(1);
        result
    });
    let results = tokio::select! {
        r = futures_util::future::join_all(attempts) => r,
        _ = probe.stop.cancelled() => Vec::new(),
    };
    let mut records = Vec::new();
    let mut held = Vec::new();
    for (record, watched) in results {
        records.push(record);
        held.extend(watched);
    }
    (records, held)
}

/// Nothing can be inferred when no attempt got in: say why instead.
fn unreachable(records: &[AttemptRecord]) -> Option<String> {
    if records.is_empty() || records.iter().any(|r| r.accepted()) {
        return None;
    }
    let outcomes = count_outcomes(records);
    let hint = if outcomes.keys().any(|k| *k == "http-401" || *k == "http-403") {
        "; pass credentials with -H"
    } else if outcomes.keys().all(|k| k.starts_with("http-")) {
        "; the limit may already be used up by earlier connections: wait for its window and run again"
    } else {
        ""
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

/// Waits for the rate limit window to reopen: at the earliest moment any
/// rejection's Retry-After allows, else every 100 ms (the window's
/// precision); never longer than --max-wait.
async fn probe_window(plan: &RatelimitPlan, probe: &Probe<'_>, records: &mut Vec<AttemptRecord>, next: &mut u32) {
    let Some(first_rejection) = records.iter().position(|r| r.rejected()) else { return };
    if records[first_rejection..].iter().any(|r| r.accepted()) {
        return;
    }
    let deadline = Instant::now() + plan.max_wait;
    let gap = Duration::from_millis(100);
    let mut allowed = earliest_retry(probe.t0, records);
    loop {
        let wait = allowed.take().unwrap_or_else(|| Instant::now() + gap);
        if wait > deadline || probe.stop.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wait.into()) => {}
            _ = probe.stop.cancelled() => return,
        }
        let (record, _) = probe.attempt(*next, Purpose::WindowProbe, false).await;
        *next += 1;
        let accepted = record.accepted();
        records.push(record);
        if accepted {
            return;
        }
        allowed = earliest_retry(probe.t0, &records[records.len() - 1..]);
    }
}

/// The earliest instant a Retry-After among these rejections allows a retry.
fn earliest_retry(t0: Instant, records: &[AttemptRecord]) -> Option<Instant> {
    records
        .iter()
        .filter(|r| r.rejected())
        .filter_map(|r| retry_after_secs(r.retry_after.as_deref()).map(|s| t0 + Duration::from_secs_f64(r.at_s + s)))
        .min()
}

/// Closes one held connection and tries again until a slot comes back or
/// --max-wait passes.
async fn probe_reuse(
    plan: &RatelimitPlan,
    probe: &Probe<'_>,
    records: &mut Vec<AttemptRecord>,
    held: &mut Vec<Watched>,
    next: &mut u32,
) {
    if !records.iter().any(|r| r.rejected()) || held.is_empty() {
        return;
    }
    if let (Some(mut ws), _) = held.remove(0).finish().await {
        close_cleanly(&mut ws, 1000, "wsprobe: freeing a slot", plan.client.close_timeout).await;
    }
    // A cleanly closed connection frees its slot at once on a sound server;
    // a few seconds cover asynchronous clean-up without stalling the run.
    let deadline = Instant::now() + plan.max_wait.min(REUSE_WAIT);
    let mut gap = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(gap) => {}
            _ = probe.stop.cancelled() => return,
        }
        let (record, watched) = probe.attempt(*next, Purpose::ReuseProbe, true).await;
        *next += 1;
        let retry = retry_after_secs(record.retry_after.as_deref());
        let done = record.accepted();
        records.push(record);
        held.extend(watched);
        gap = retry.map(Duration::from_secs_f64).unwrap_or(gap * 2).min(Duration::from_secs(2));
        if done || Instant::now() + gap > deadline {
            return;
        }
    }
}

/// Stops watching the held connections and closes those still open.
async fn close_held(held: Vec<Watched>, wait: Duration) {
    let open = futures_util::future::join_all(held.into_iter().map(Watched::finish)).await;
    close_all(open.into_iter().filter_map(|(ws, _)| ws).collect(), wait).await;
}

fn infer(mode: RatelimitMode, records: &[AttemptRecord], held: u32) -> Inferred {
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
        signal: first_rejection.map(|r| r.outcome.clone()),
        retry_after: records.iter().find_map(|r| r.retry_after.clone()),
    }
}

/// Attempts by outcome.
fn count_outcomes<'a>(records: impl IntoIterator<Item = &'a AttemptRecord>) -> BTreeMap<&'a str, u32> {
    let mut counts = BTreeMap::new();
    for r in records {
        *counts.entry(r.outcome.as_str()).or_default() += 1;
    }
    counts
}

fn details(plan: &RatelimitPlan, attempts: Vec<AttemptRecord>, inferred: Inferred) -> RatelimitDetails {
    let outcomes = count_outcomes(&attempts).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    RatelimitDetails {
        mode: if plan.mode == RatelimitMode::Hold { "hold" } else { "churn" },
        rate: plan.rate.to_string(),
        accepted: attempts.iter().filter(|a| a.accepted()).count() as u32,
        rejected: attempts.iter().filter(|a| a.rejected()).count() as u32,
        attempts,
        outcomes,
        inferred,
    }
}

fn signal_words(inf: &Inferred) -> String {
    let signal = inf.signal.as_deref().unwrap_or("?");
    let signal = match signal.strip_prefix("http-") {
        Some(status) => format!("HTTP {status}"),
        None => signal.replace("closed-", "a close frame "),
    };
    match &inf.retry_after {
        Some(r) => format!("{signal} and Retry-After: {r}"),
        None => signal,
    }
}

fn findings(plan: &RatelimitPlan, records: &[AttemptRecord], inf: &Inferred, report: &mut Report) {
    let scheduled = records.iter().filter(|r| r.purpose == Purpose::Scheduled).count();
    if let Some(finding) = unanswered(records) {
        report.add(finding);
    }
    match plan.mode {
        RatelimitMode::Churn => churn_findings(plan, scheduled, inf, report),
        RatelimitMode::Hold => hold_findings(plan, scheduled, inf, report),
    }
}

fn churn_findings(plan: &RatelimitPlan, scheduled: usize, inf: &Inferred, report: &mut Report) {
    match (inf.burst, inf.window_s) {
        (Some(b), Some(w)) => {
            report.add(Finding::new(
                "rate-limit",
                true,
                format!("{b} accepted, then {}; accepted again {w:.2} s after the first", signal_words(inf)),
            ));
            report
                .diagnosis
                .push(format!("{b} connections per ~{w:.1} s per IP, signalled with {}.", signal_words(inf)));
        }
        (Some(b), None) => {
            report.add(Finding::new(
                "rate-limit",
                true,
                format!(
                    "{b} accepted, then {}; not accepted again within {}",
                    signal_words(inf),
                    format_duration(plan.max_wait)
                ),
            ));
            report.diagnosis.push(format!("A burst of {b}, then refusals that did not lift within --max-wait {}: the window is longer, or the limiter counts refused attempts too.", format_duration(plan.max_wait)));
        }
        _ => {
            report.add(Finding::new(
                "rate-limit",
                true,
                format!("no rejection in {scheduled} attempts at {}", plan.rate),
            ));
            report.diagnosis.push(format!("No limit seen: no refusal in {scheduled} attempts at {}. A per-IP limit, if any, is above that; try more --attempts or a faster --rate.", plan.rate));
        }
    }
    if let Some(expect) = plan.expect_rate {
        let ok = inf.burst == Some(expect.count)
            && inf.window_s.is_some_and(|w| (w - expect.per.as_secs_f64()).abs() <= 0.3 * expect.per.as_secs_f64());
        let seen = inf.limit.clone().unwrap_or_else(|| "no limit".into());
        report.add(Finding::new("expect-rate", ok, format!("expected {expect}, seen {seen}")));
    }
}

fn hold_findings(plan: &RatelimitPlan, scheduled: usize, inf: &Inferred, report: &mut Report) {
    match inf.max_concurrent {
        Some(cap) => {
            report.add(Finding::new(
                "concurrent-cap",
                true,
                format!("{cap} held connections, then {}", signal_words(inf)),
            ));
            report.diagnosis.push(format!(
                "The server caps concurrent connections from here at {cap}, signalled with {}.",
                signal_words(inf)
            ));
        }
        None => {
            report.add(Finding::new("concurrent-cap", true, format!("all {scheduled} held connections accepted")));
            report.diagnosis.push(format!("No cap seen with {scheduled} connections held; try more --attempts."));
        }
    }
    match inf.slots_reused {
        Some(true) => {
            report.add(Finding::new("slot-reuse", true, "after closing one connection, a new one was accepted"))
        }
        Some(false) => {
            report.add(Finding::new("slot-reuse", false, "after closing one connection, new ones were still refused"));
            report.diagnosis.push("A closed connection's slot was never given back: the server's connection counter leaks, and after enough disconnects it refuses everyone.".into());
        }
        None => {}
    }
    if let Some(expect) = plan.expect_max {
        let ok = inf.max_concurrent == Some(expect);
        let seen = inf.max_concurrent.map(|m| m.to_string()).unwrap_or_else(|| "no cap".into());
        report.add(Finding::new("expect-max", ok, format!("expected {expect}, seen {seen}")));
    }
}
