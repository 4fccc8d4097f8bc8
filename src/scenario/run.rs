//! `wsprobe run`: loads every scenario file first (a bad file stops the
//! run before anything connects, exit 2), then runs each check against its
//! own target, judges it, and reports per file; `--junit` writes JUnit XML.
//! `selftest` runs its built-in scenario files through the same runner.

use std::time::Instant;

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{collect, load, Scenario};
use crate::check::Observation;
use crate::cli::RunArgs;
use crate::report::table::Style;
use crate::report::{progress, Details, Finding, Report};
use crate::units::secs;

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

impl RunDetails {
    /// Groups the results by file and counts them.
    pub fn new(files: Vec<FileResult>) -> RunDetails {
        let checks = files.iter().map(|f| f.checks.len()).sum();
        let passed = files.iter().flat_map(|f| &f.checks).filter(|c| c.ok).count();
        RunDetails { files, checks, passed }
    }

    /// One finding per check: did it show what its file expected?
    pub fn observation(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for file in &self.files {
            for c in &file.checks {
                let detail = if c.ok { c.observed.clone() } else { c.failures.join("; ") };
                findings.push(Finding::new(&format!("{}:{} {}", file.file, c.line, c.name), c.ok, detail));
            }
        }
        findings
    }
}

impl Details for RunDetails {
    fn table(&self, style: Style) -> String {
        super::table::render_run(self, style)
    }
    fn shows_findings(&self) -> bool {
        true
    }
}

/// Runs the scenario files named by `args`.
pub async fn run(args: &RunArgs, stop: &CancellationToken) -> anyhow::Result<Report> {
    let started = Instant::now();
    let overrides = super::Overrides::from_run(args);
    let scenarios = collect(&args.paths)?.iter().map(|p| load(p, &overrides)).collect::<Result<Vec<Scenario>, _>>()?;
    // A user's scenarios may share one real server: one check at a time.
    let files = run_scenarios(&scenarios, 1, progress::wanted(args.output.json, args.output.quiet), stop).await;
    let details = RunDetails::new(files);
    if let Some(path) = &args.junit {
        super::junit::write(path, &details)?;
    }
    let observation = Observation { findings: details.observation(), ..Observation::default() }.with_details(details);
    let target = args.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ");
    let mut report = Report::judge("run", target, observation, stop.is_cancelled());
    report.elapsed_s = secs(started.elapsed());
    Ok(report)
}

/// Runs every check of the scenarios, at most `parallel` at once, and
/// returns the results per file in file order. Stops starting checks on
/// Ctrl-C.
pub async fn run_scenarios(
    scenarios: &[Scenario],
    parallel: usize,
    show_progress: bool,
    stop: &CancellationToken,
) -> Vec<FileResult> {
    let total: usize = scenarios.iter().map(|s| s.checks.len()).sum();
    let bar = progress::bar(show_progress, total as u64, "checks");
    let slots = Semaphore::new(parallel.max(1));
    let runs = scenarios.iter().flat_map(|scenario| scenario.checks.iter().map(move |check| (scenario, check)));
    let results = futures_util::future::join_all(runs.map(|(scenario, check)| {
        let (slots, bar) = (&slots, &bar);
        async move {
            let _slot = slots.acquire().await.ok()?;
            if stop.is_cancelled() {
                return None;
            }
            let message = format!("{}: {}", scenario.path.display(), check.name);
            bar.set_message(crate::redact::registered(&message).into_owned());
            let result = run_check(check, stop).await;
            bar.inc(1);
            Some(result)
        }
    }))
    .await;
    bar.finish_and_clear();
    let mut results = results.into_iter();
    scenarios
        .iter()
        .map(|scenario| FileResult {
            file: scenario.path.display().to_string(),
            name: scenario.name.clone(),
            checks: results.by_ref().take(scenario.checks.len()).flatten().collect(),
        })
        .collect()
}

/// Runs one check and judges its report against the expectation. A check
/// that cannot run gets an error report, which its expectation judges.
async fn run_check(check: &super::CheckSpec, stop: &CancellationToken) -> CheckResult {
    let started = Instant::now();
    let report = match super::plan_check(&check.args) {
        Ok(planned) => crate::check::run_planned(planned.as_ref(), stop).await,
        Err(e) => Err(e),
    }
    .unwrap_or_else(|e| Report::error(&check.command, "", format!("{e:#}")));
    let json = serde_json::to_value(&report).unwrap_or_default();
    let judgement = check.expect.judge(&json);
    CheckResult {
        name: check.name.clone(),
        command: check.command.clone(),
        line: check.line,
        ok: judgement.ok,
        expected: judgement.expected,
        observed: judgement.observed,
        failures: judgement.failures,
        elapsed_s: secs(started.elapsed()),
        report: json,
    }
}
