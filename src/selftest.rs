//! `wsprobe selftest`: every reference-server behaviour and fault against
//! every check that can see it. The rows are built-in scenario files, one
//! per check (`check/<name>/selftest.toml`, listed by the registry), run by
//! the scenario runner a few at once, each on its own embedded server with
//! scaled-down timings. Each row states the verdict and values it must
//! produce; a broken classifier makes a row fail and the exit code 1.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::check::Observation;
use comfy_table::Cell;

use crate::report::table::{table, Style};
use crate::report::{Details, Finding, Report};
use crate::scenario::run::{run_scenarios, CheckResult};
use crate::scenario::{Scenario, ScenarioError};
use crate::units::secs;

/// Rows run at once: enough to finish quickly, few enough that timing rows
/// keep their margins on a 2-core machine.
const PARALLEL: usize = 3;

/// Separates the behaviour from the check in a row's name.
const SEPARATOR: &str = " × ";

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

impl RowResult {
    fn from_check(c: CheckResult) -> RowResult {
        let (behaviour, check) = match c.name.split_once(SEPARATOR) {
            Some((b, k)) => (b.to_string(), k.to_string()),
            None => (String::new(), c.name.clone()),
        };
        RowResult {
            behaviour,
            check,
            expected: c.expected,
            observed: c.observed,
            ok: c.ok,
            failures: c.failures,
            elapsed_s: c.elapsed_s,
        }
    }
}

/// `selftest`'s JSON fields.
#[derive(Debug, Clone, Serialize)]
pub struct SelftestDetails {
    /// Every row.
    pub rows: Vec<RowResult>,
}

impl Details for SelftestDetails {
    fn table(&self, style: Style) -> String {
        render(self, style)
    }
    fn shows_findings(&self) -> bool {
        true
    }
}

/// The built-in rows: one scenario per registered check.
pub fn scenarios() -> Result<Vec<Scenario>, ScenarioError> {
    crate::check::SELFTESTS
        .iter()
        .map(|(name, text)| crate::scenario::parse(Path::new(&format!("check/{name}/selftest.toml")), text, None))
        .collect()
}

/// Runs every row (or those whose name contains `filter`) and reports.
pub async fn run(filter: Option<&str>, stop: &CancellationToken) -> Report {
    let mut scenarios = match scenarios() {
        Ok(s) => s,
        Err(e) => return Report::error("selftest", "", format!("a built-in selftest file is broken: {e}")),
    };
    if let Some(filter) = filter {
        for s in &mut scenarios {
            s.checks.retain(|c| c.name.contains(filter));
        }
    }
    run_suite(scenarios, stop).await
}

/// Runs the given rows, a few at once, and reports each against its expectation.
pub async fn run_suite(scenarios: Vec<Scenario>, stop: &CancellationToken) -> Report {
    let started = Instant::now();
    let files = run_scenarios(&scenarios, PARALLEL, false, stop).await;
    let rows: Vec<RowResult> = files.into_iter().flat_map(|f| f.checks).map(RowResult::from_check).collect();
    let mut obs = Observation::default();
    for r in &rows {
        let detail = if r.ok { r.observed.clone() } else { r.failures.join("; ") };
        obs.add(Finding::new(&format!("{}{SEPARATOR}{}", r.behaviour, r.check), r.ok, detail));
    }
    if rows.is_empty() {
        obs.add(Finding::new("rows", false, "no row matches --filter"));
    }
    let obs = obs.with_details(SelftestDetails { rows });
    let mut report = Report::judge("selftest", "embedded reference server, one per row", obs, stop.is_cancelled());
    report.elapsed_s = secs(started.elapsed());
    report
}

/// Renders `selftest`: behaviour | check | expected | observed | ok.
fn render(d: &SelftestDetails, style: Style) -> String {
    let mut t = table(style, &["behaviour", "check", "expected", "observed", "ok"]);
    for r in &d.rows {
        let observed = if r.ok { r.observed.clone() } else { r.failures.join("; ") };
        t.add_row(vec![
            Cell::new(&r.behaviour),
            Cell::new(&r.check),
            Cell::new(&r.expected),
            Cell::new(observed),
            Cell::new(crate::scenario::table::mark(r.ok)),
        ]);
    }
    format!("{t}\n\n{} rows, {} as expected\n\n", d.rows.len(), d.rows.iter().filter(|r| r.ok).count())
}
