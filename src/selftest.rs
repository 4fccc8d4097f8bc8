//! `wsprobe selftest`: every reference-server behaviour and fault against
//! every client command that can see it, each on its own embedded server
//! with scaled-down timings, a few at once. Each row states the verdict and
//! values it must produce; a broken classifier makes a row fail and the
//! exit code 1.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::check::secs;
use crate::cli::Cli;
use crate::exit::Verdict;
use crate::report::{Details, Finding, Report};
use crate::scenario::expect::{Expect, Matcher};

/// Rows run at once: enough to finish quickly, few enough that timing rows
/// keep their margins on a 2-core machine.
const PARALLEL: usize = 3;

/// One row: a server behaviour, a check, and what it must show.
#[derive(Debug, Clone)]
pub struct Row {
    /// The reference server's behaviour.
    pub behaviour: &'static str,
    /// The check that should see it.
    pub check: &'static str,
    /// The command line (embedded server flags included).
    pub args: Vec<String>,
    /// What it must show.
    pub expect: Expect,
}

/// One row's result.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    /// The behaviour.
    pub behaviour: String,
    /// The check.
    pub check: String,
    /// The expectation, in words.
    pub expected: String,
    /// What was seen.
    pub observed: String,
    /// True when they agree.
    pub ok: bool,
    /// Each mismatch.
    pub failures: Vec<String>,
    /// Seconds it took.
    pub elapsed_s: f64,
}

/// `selftest`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct SelftestDetails {
    /// Every row.
    pub rows: Vec<RowResult>,
}

fn is(v: &str) -> Matcher {
    match v {
        "true" => Matcher::Exact(toml::Value::Boolean(true)),
        "false" => Matcher::Exact(toml::Value::Boolean(false)),
        _ => match v.parse::<i64>() {
            Ok(i) => Matcher::Exact(toml::Value::Integer(i)),
            Err(_) => Matcher::Exact(toml::Value::String(v.into())),
        },
    }
}

fn between(min: f64, max: f64) -> Matcher {
    Matcher::Range { min: Some(min), max: Some(max) }
}

fn row(
    behaviour: &'static str,
    check: &'static str,
    args: &str,
    verdict: Verdict,
    fields: Vec<(&str, Matcher)>,
) -> Row {
    Row {
        behaviour,
        check,
        args: args.split_whitespace().map(str::to_string).collect(),
        expect: Expect { verdict, fields: fields.into_iter().map(|(p, m)| (p.to_string(), m)).collect() },
    }
}

/// The table: every behaviour against every check that can see it.
pub fn rows() -> Vec<Row> {
    use Verdict::{Fail, Pass};
    let single = "--hold 300ms --settle 200ms --distinct 3";
    vec![
        row("duplicate reject", "single", &format!("single {single}"), Pass, vec![("policy", is("reject-new")), ("second.http_status", is("409"))]),
        row("duplicate replace", "single", &format!("single --server-duplicate replace {single}"), Pass, vec![("policy", is("replace-old")), ("first.close_code", is("4000"))]),
        row("duplicate allow", "single --expect single", &format!("single --server-duplicate allow --expect single {single}"), Fail, vec![("policy", is("allow-multiple"))]),
        row("fault stale-identity", "single", &format!("single --server-fault stale-identity {single}"), Fail, vec![("reconnect_after_close", is("rejected"))]),
        row("duplicate reject", "single --race", &format!("single --race {single}"), Pass, vec![("race.policy", is("reject-new"))]),
        row("drop-after abrupt", "stability", "stability --server-drop-after 500ms --duration 1500ms", Fail, vec![("closes.0.code", is("1006")), ("closes.0.abnormal", is("true")), ("closes.0.after_s", between(0.4, 0.8))]),
        row("drop-after close", "stability", "stability --server-drop-after 500ms --server-drop-mode close --duration 1500ms", Fail, vec![("closes.0.code", is("1000")), ("closes.0.abnormal", is("false"))]),
        row("pong deadline", "stability --no-pong", "stability --server-ping-interval 200ms --server-pong-timeout 600ms --no-pong --duration 1500ms", Fail, vec![("closes.0.abnormal", is("true")), ("closes.0.after_s", between(0.5, 0.9)), ("server_pings.median_interval_s", between(0.15, 0.3))]),
        row("pong deadline", "stability (answering)", "stability --server-ping-interval 200ms --server-pong-timeout 600ms --duration 1200ms", Pass, vec![("survived", is("1"))]),
        row("idle timeout", "stability (silent)", "stability --server-idle-timeout 500ms --duration 1500ms", Fail, vec![("closes.0.code", is("1006")), ("closes.0.after_s", between(0.4, 0.8))]),
        row("idle timeout", "stability --ping-interval", "stability --server-idle-timeout 500ms --duration 1200ms --ping-interval 150ms", Pass, vec![("survived", is("1"))]),
        row("idle timeout", "stability --find-idle-timeout", "stability --server-idle-timeout 1s --find-idle-timeout --max 20s", Pass, vec![("idle_timeout.idle_timeout_s", between(0.9, 1.1))]),
        row("token ttl", "stability --reconnect", "stability --server-token-ttl 400ms --reconnect --duration 1800ms", Fail, vec![("closes.0.code", is("4001")), ("period.code", is("4001")), ("period.seconds", between(0.3, 0.5))]),
        row("rate limit 3/1s", "ratelimit", "ratelimit --server-rate-limit 3/1s --attempts 8 --rate 20/s", Pass, vec![("inferred.burst", is("3")), ("inferred.window_s", between(0.8, 1.5))]),
        row("max clients 5", "ratelimit --mode hold", "ratelimit --mode hold --server-max-clients 5 --attempts 8 --rate 50/s --max-wait 2s", Pass, vec![("inferred.max_concurrent", is("5")), ("inferred.slots_reused", is("true"))]),
        row("fault leak-slots", "ratelimit --mode hold", "ratelimit --mode hold --server-max-clients 5 --server-fault leak-slots --attempts 8 --rate 50/s --max-wait 2s", Fail, vec![("inferred.slots_reused", is("false"))]),
        row("abrupt disruption", "storm --backoff none", "storm --clients 30 --hold 200ms --backoff none", Pass, vec![("reconnected", is("30")), ("gave_up", is("0"))]),
        row("abrupt disruption", "storm --backoff fixed", "storm --clients 30 --hold 200ms --backoff fixed:100ms", Pass, vec![("reconnected", is("30")), ("gave_up", is("0"))]),
        row("abrupt disruption", "storm --backoff exp", "storm --clients 30 --hold 200ms --backoff exp:50ms..1s --jitter full", Pass, vec![("reconnected", is("30")), ("gave_up", is("0"))]),
        row("max clients 20", "storm (herd)", "storm --clients 30 --server-max-clients 20 --hold 200ms --backoff none --max-attempts 3", Fail, vec![("connected", is("20")), ("rejections.http-503", Matcher::Range { min: Some(10.0), max: None })]),
        row("echo", "connect --send", "connect --send hello --listen 200ms", Pass, vec![("messages.1.data", is("hello"))]),
    ]
}

/// Runs every row (or those matching `filter`) and reports.
pub async fn run(filter: Option<&str>, stop: &CancellationToken) -> Report {
    let rows =
        rows().into_iter().filter(|r| filter.is_none_or(|f| r.behaviour.contains(f) || r.check.contains(f))).collect();
    run_rows(rows, stop).await
}

/// Runs the given rows, a few at once, and reports each against its expectation.
pub async fn run_rows(rows: Vec<Row>, stop: &CancellationToken) -> Report {
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(PARALLEL));
    let runs = rows.into_iter().map(|row| {
        let slots = slots.clone();
        async move {
            let _slot = slots.acquire().await;
            run_row(row, stop).await
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut report = Report::new("selftest", "embedded reference server, one per row");
    for r in &results {
        let detail = if r.ok { r.observed.clone() } else { r.failures.join("; ") };
        report.add(Finding::new(&format!("{} × {}", r.behaviour, r.check), r.ok, detail));
    }
    if results.is_empty() {
        report.add(Finding::new("rows", false, "no row matches --filter"));
    }
    report.interrupted = stop.is_cancelled();
    report.settle_verdict();
    report.elapsed_s = secs(started.elapsed());
    report.details = Some(Details::Selftest(Box::new(SelftestDetails { rows: results })));
    report
}

async fn run_row(row: Row, stop: &CancellationToken) -> RowResult {
    let started = Instant::now();
    let argv =
        std::iter::once("wsprobe".to_string()).chain(row.args.iter().cloned()).chain(std::iter::once("--quiet".into()));
    let report = match Cli::try_parse_from(argv) {
        Ok(cli) => match crate::plan::plan_command(&cli.command) {
            Ok(planned) => crate::commands::run_planned(&planned, stop)
                .await
                .unwrap_or_else(|e| Report::error(row.check, "", format!("{e:#}"))),
            Err(e) => Report::error(row.check, "", e.to_string()),
        },
        Err(e) => Report::error(row.check, "", e.to_string()),
    };
    let json = serde_json::to_value(&report).unwrap_or_default();
    let judgement = row.expect.judge(&json);
    RowResult {
        behaviour: row.behaviour.to_string(),
        check: row.check.to_string(),
        expected: judgement.expected,
        observed: judgement.observed,
        ok: judgement.ok,
        failures: judgement.failures,
        elapsed_s: secs(started.elapsed()),
    }
}
