//! The report shapes of the suites (`run`, `selftest`) and of the error
//! object a command prints when it cannot run at all.

use serde::Deserialize;
use serde_json::Value;

use super::{omittable, Common, Contract, Finding, Verdict};

// -------------------------------------------------------------------- run

report! {
    /// `run PATH...`: every file, every check with its own full report.
    pub struct RunReport {
        pub files: Vec<FileResult>,
        pub checks: usize,
        pub passed: usize,
    }
}

impl Contract for RunReport {
    fn rules(&self) -> Result<(), String> {
        let checks: Vec<&CheckResult> = self.files.iter().flat_map(|f| &f.checks).collect();
        let passed = checks.iter().filter(|c| c.ok).count();
        if (checks.len(), passed) != (self.checks, self.passed) {
            return Err(format!(
                "checks/passed {}/{} but the files hold {}/{passed}",
                self.checks,
                self.passed,
                checks.len()
            ));
        }
        Ok(())
    }
    fn nested(&self) -> Vec<&Value> {
        self.files.iter().flat_map(|f| &f.checks).map(|c| &c.report).collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    pub file: String,
    pub name: String,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub name: String,
    pub command: String,
    pub line: usize,
    pub ok: bool,
    pub expected: String,
    pub observed: String,
    pub failures: Vec<String>,
    pub elapsed_s: f64,
    /// The check's own report: held to its own contract by [`check_value`].
    pub report: Value,
}

// --------------------------------------------------------------- selftest

report! {
    /// `selftest`.
    pub struct SelftestReport {
        pub rows: Vec<RowResult>,
    }
}

impl Contract for SelftestReport {
    fn rules(&self) -> Result<(), String> {
        if self.rows.len() != self.findings.len() {
            return Err(format!("{} rows, {} findings", self.rows.len(), self.findings.len()));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowResult {
    pub behaviour: String,
    pub check: String,
    pub expected: String,
    pub observed: String,
    pub ok: bool,
    pub failures: Vec<String>,
    pub elapsed_s: f64,
}

// ------------------------------------------------------------------ error

report! {
    /// A command that could not run at all (bad arguments, bad input):
    /// the common fields only, verdict error with its reason.
    pub struct ErrorReport {}
}

impl Contract for ErrorReport {
    fn rules(&self) -> Result<(), String> {
        match (self.verdict, &self.error) {
            (Verdict::Error, Some(e)) if !e.is_empty() => Ok(()),
            (v, e) => Err(format!("an error object has verdict error and a reason, got {v:?} / {e:?}")),
        }
    }
}
