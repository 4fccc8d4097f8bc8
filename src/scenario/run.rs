//! `wsprobe run`: loads every scenario file first (a bad file stops the
//! run before anything connects, exit 2), then runs each check against its
//! own target, judges it, and reports per file; `--junit` writes JUnit XML.

use std::time::Instant;

use clap::Parser;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::{collect, load, Scenario};
use crate::check::secs;
use crate::cli::{Cli, RunArgs};
use crate::report::{Details, Finding, Report};

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Its name.
    pub name: String,
    /// The command.
    pub command: String,
    /// Line of the check in its file.
    pub line: usize,
    /// True when it showed what was expected.
    pub ok: bool,
    /// The expectation, in words.
    pub expected: String,
    /// What was seen, in words.
    pub observed: String,
    /// Each mismatch.
    pub failures: Vec<String>,
    /// Seconds it took.
    pub elapsed_s: f64,
    /// The check's own report.
    pub report: serde_json::Value,
}

/// One file's results.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// The file.
    pub file: String,
    /// The scenario's name.
    pub name: String,
    /// Its checks.
    pub checks: Vec<CheckResult>,
}

/// `run`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetails {
    /// Every file.
    pub files: Vec<FileResult>,
    /// Checks run.
    pub checks: usize,
    /// Checks that showed what was expected.
    pub passed: usize,
}

/// Runs the scenario files named by `args`.
pub async fn run(args: &RunArgs, stop: &CancellationToken) -> anyhow::Result<Report> {
    let started = Instant::now();
    let scenarios =
        collect(&args.paths)?.iter().map(|p| load(p, args.target.as_deref())).collect::<Result<Vec<Scenario>, _>>()?;
    let total: usize = scenarios.iter().map(|s| s.checks.len()).sum();
    let bar = crate::report::progress::bar(
        crate::report::progress::wanted(args.output.json, args.output.quiet),
        total as u64,
        "checks",
    );
    let mut files = Vec::new();
    for scenario in &scenarios {
        let mut checks = Vec::new();
        for check in &scenario.checks {
            if stop.is_cancelled() {
                break;
            }
            bar.set_message(format!("{}: {}", scenario.path.display(), check.name));
            checks.push(run_check(check, stop).await?);
            bar.inc(1);
        }
        files.push(FileResult { file: scenario.path.display().to_string(), name: scenario.name.clone(), checks });
    }
    bar.finish_and_clear();
    let mut report =
        Report::new("run", args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "));
    for file in &files {
        for c in &file.checks {
            let detail = if c.ok { c.observed.clone() } else { c.failures.join("; ") };
            report.add(Finding::new(&format!("{}:{} {}", file.file, c.line, c.name), c.ok, detail));
        }
    }
    let passed = report.findings.iter().filter(|f| f.ok).count();
    let details = RunDetails { checks: report.findings.len(), passed, files };
    if let Some(path) = &args.junit {
        crate::report::junit::write(path, &details)?;
    }
    report.interrupted = stop.is_cancelled();
    report.settle_verdict();
    report.elapsed_s = secs(started.elapsed());
    report.details = Some(Details::Run(Box::new(details)));
    Ok(report)
}

async fn run_check(check: &super::CheckSpec, stop: &CancellationToken) -> anyhow::Result<CheckResult> {
    let started = Instant::now();
    let argv = std::iter::once("wsprobe".to_string())
        .chain(check.args.iter().cloned())
        .chain(std::iter::once("--quiet".to_string()));
    let cli = Cli::try_parse_from(argv)?;
    let planned = crate::plan::plan_command(&cli.command)?;
    let report = crate::commands::run_planned(&planned, stop).await?;
    let json = serde_json::to_value(&report)?;
    let judgement = check.expect.judge(&json);
    Ok(CheckResult {
        name: check.name.clone(),
        command: check.command.clone(),
        line: check.line,
        ok: judgement.ok,
        expected: judgement.expected,
        observed: judgement.observed,
        failures: judgement.failures,
        elapsed_s: secs(started.elapsed()),
        report: json,
    })
}
