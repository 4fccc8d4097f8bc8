//! `stability --find-idle-timeout`: how long may a connection stay silent
//! before the path (server, proxy, NAT) kills it?
//!
//! Several silent connections run at once, each idle for a different time,
//! then each sends a ping and waits for the answer. A probe the path drops
//! while silent measures the timeout directly; otherwise the interval
//! between the longest idle that survived and the shortest that did not is
//! narrowed round by round until it is within 10%.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use comfy_table::Cell;

use super::StabilityPlan;
use crate::check::Observation;
use crate::net::connect::{open, Attempt};
use crate::net::endpoint::Endpoint;
use crate::net::session::{close_cleanly, interpret_wire, write_within, Read, WriteOp, Written};
use crate::report::table::{table, Style};
use crate::report::Details;
use crate::report::Finding;
use crate::target::Resolved;
use crate::units::secs;
use crate::units::{format_duration, ClientId};

/// Probes per round.
const PROBES: u32 = 4;
/// Rounds at most.
const ROUNDS: u32 = 8;
/// Time a probe waits for the answer to its ping after the idle time.
const ANSWER_WAIT: Duration = Duration::from_secs(3);

/// One silent connection.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// How long it was to stay silent.
    pub idle_s: f64,
    /// True when it answered a ping after the idle time.
    pub alive: bool,
    /// When the path dropped it while silent.
    pub dropped_after_s: Option<f64>,
}

/// The search's result.
#[derive(Debug, Clone, Serialize)]
pub struct IdleSearch {
    /// The idle timeout found, in seconds (null: none up to `max_s`).
    pub idle_timeout_s: Option<f64>,
    /// How it was found.
    pub method: IdleMethod,
    /// Longest idle time tried.
    pub max_s: f64,
    /// Every probe.
    pub probes: Vec<Probe>,
}

/// How the idle timeout was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleMethod {
    /// A silent probe was dropped by the path: the timeout measured directly.
    DropObserved,
    /// Probes stopped answering past some idle time: narrowed by bisection.
    Bisection,
    /// Every probe survived up to `--max`.
    NoneUpToMax,
}

impl std::fmt::Display for IdleMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdleMethod::DropObserved => "drop-observed",
            IdleMethod::Bisection => "bisection",
            IdleMethod::NoneUpToMax => "none-up-to-max",
        })
    }
}

/// `stability --find-idle-timeout`'s JSON fields: the search, not a soak.
#[derive(Debug, Clone, Serialize)]
pub struct IdleDetails {
    /// The search and every probe.
    pub idle_timeout: IdleSearch,
}

impl Details for IdleDetails {
    fn table(&self, style: Style) -> String {
        render(&self.idle_timeout, style)
    }
}

/// The probes and the result, for people.
fn render(search: &IdleSearch, style: Style) -> String {
    let mut t = table(style, &["probe idle", "result"]);
    for p in &search.probes {
        let result = match (p.alive, p.dropped_after_s) {
            (_, Some(at)) => format!("dropped after {at:.2} s of silence"),
            (true, None) => "answered a ping after the idle time".to_string(),
            (false, None) => "did not answer after the idle time".to_string(),
        };
        t.add_row(vec![Cell::new(format!("{:.2} s", p.idle_s)), Cell::new(result)]);
    }
    let found = search
        .idle_timeout_s
        .map(|s| format!("{s:.2} s ({})", search.method))
        .unwrap_or_else(|| format!("none up to {} s", search.max_s));
    format!("{t}\n\nIdle timeout: {found}\n\n")
}

enum Outcome {
    Alive,
    Dead,
    Dropped(Duration),
    Failed(String),
}

async fn probe(
    endpoint: &Endpoint,
    client: ClientId,
    idle: Duration,
    close_wait: Duration,
    stop: &CancellationToken,
) -> Outcome {
    let mut ws = match open(endpoint, client).await {
        Attempt::Open(o) => o.ws,
        other => return Outcome::Failed(other.outcome().to_string()),
    };
    let opened = Instant::now();
    let silent_until = tokio::time::sleep(idle);
    tokio::pin!(silent_until);
    loop {
        tokio::select! {
            _ = &mut silent_until => break,
            _ = stop.cancelled() => return Outcome::Failed("interrupted".into()),
            item = ws.next() => match interpret_wire(&ws, item) {
                Read::Frame(_) => continue,
                Read::Ended(_) => return Outcome::Dropped(opened.elapsed()),
            },
        }
    }
    let ping = WriteOp::Send(Message::Ping(b"idle-probe".to_vec().into()));
    match write_within(&mut ws, ping, ANSWER_WAIT, stop).await {
        Written::Done => {}
        Written::Stopped => return Outcome::Failed("interrupted".into()),
        Written::Ended(_) => return Outcome::Dead,
    }
    let answer = tokio::time::timeout(ANSWER_WAIT, async {
        loop {
            let item = ws.next().await;
            match interpret_wire(&ws, item) {
                Read::Frame(Message::Pong(_)) => return true,
                Read::Frame(_) => continue,
                Read::Ended(_) => return false,
            }
        }
    })
    .await;
    close_cleanly(&mut ws, 1000, "idle probe done", close_wait).await;
    if answer == Ok(true) {
        Outcome::Alive
    } else {
        Outcome::Dead
    }
}

/// Runs the search and reports it.
pub async fn run(plan: &StabilityPlan, target: &Resolved, stop: &CancellationToken) -> Observation {
    let obs = Observation::default();
    let (mut lo, mut hi) = (Duration::ZERO, plan.max_idle);
    let mut probes = Vec::new();
    let mut result = None;
    for round in 0..ROUNDS {
        let points: Vec<Duration> =
            (1..=PROBES).map(|k| lo + (hi - lo).mul_f64(f64::from(k) / f64::from(PROBES))).collect();
        let runs = points.iter().enumerate().map(|(i, d)| {
            probe(&target.endpoint, ClientId::new(round * PROBES + i as u32), *d, plan.client.close_timeout, stop)
        });
        let outcomes = futures_util::future::join_all(runs).await;
        let mut drops = Vec::new();
        for (d, outcome) in points.iter().zip(outcomes) {
            let (alive, dropped) = match outcome {
                Outcome::Alive => (true, None),
                Outcome::Dead => (false, None),
                Outcome::Dropped(at) => (false, Some(at)),
                Outcome::Failed(why) if probes.is_empty() => {
                    return Observation::failed(format!("an idle probe could not connect: {why}"));
                }
                Outcome::Failed(_) => return finish(obs, plan, probes, None),
            };
            match (alive, dropped) {
                (true, _) => lo = lo.max(*d),
                (false, Some(at)) => drops.push(at),
                (false, None) => hi = hi.min(*d),
            }
            probes.push(Probe { idle_s: secs(*d), alive, dropped_after_s: dropped.map(secs) });
        }
        if !drops.is_empty() {
            drops.sort();
            result = Some((drops[drops.len() / 2], IdleMethod::DropObserved));
            break;
        }
        if hi < plan.max_idle && (hi - lo) <= hi.mul_f64(0.1) {
            result = Some(((lo + hi) / 2, IdleMethod::Bisection));
            break;
        }
        if lo >= plan.max_idle || stop.is_cancelled() {
            break;
        }
    }
    finish(obs, plan, probes, result)
}

fn finish(
    mut obs: Observation,
    plan: &StabilityPlan,
    probes: Vec<Probe>,
    result: Option<(Duration, IdleMethod)>,
) -> Observation {
    let search = IdleSearch {
        idle_timeout_s: result.map(|(d, _)| secs(d)),
        method: result.map(|(_, m)| m).unwrap_or(IdleMethod::NoneUpToMax),
        max_s: plan.max_idle.as_secs_f64(),
        probes,
    };
    match result {
        Some((d, method)) => {
            let how = if method == IdleMethod::DropObserved {
                "silent connections were dropped"
            } else {
                "silent connections stopped answering"
            };
            obs.add(Finding::new("idle-timeout", true, format!("about {} ({how})", format_duration(d))));
            obs.diagnosis.push(format!(
                "The path kills a connection that is silent for about {}: send a ping or a message more often than that (every {} leaves room).",
                format_duration(d),
                format_duration(d / 2)
            ));
        }
        None => {
            obs.add(Finding::new("idle-timeout", true, format!("none up to {}", format_duration(plan.max_idle))));
            obs.diagnosis.push(format!(
                "Silent connections survived {} of idling: no idle timeout up to --max.",
                format_duration(plan.max_idle)
            ));
        }
    }
    obs.with_details(IdleDetails { idle_timeout: search })
}
