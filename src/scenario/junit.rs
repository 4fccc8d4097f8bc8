//! JUnit XML for `wsprobe run --junit FILE`: one test suite per scenario
//! file, one test case per check, failures carrying the mismatches. The
//! file is written to a temporary name and renamed, so a CI job never reads
//! a half-written report.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};

use super::run::RunDetails;

/// Renders the results as JUnit XML.
pub fn render(details: &RunDetails) -> anyhow::Result<String> {
    let mut junit = Junit::new("wsprobe");
    for file in &details.files {
        let mut suite = TestSuite::new(file.name.clone());
        for check in &file.checks {
            let status = if check.ok {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(check.failures.join("; "));
                s.set_description(format!("expected {}\nobserved {}", check.expected, check.observed));
                s
            };
            let mut case = TestCase::new(format!("{} ({}:{})", check.name, file.file, check.line), status);
            case.set_classname(format!("wsprobe.{}", check.command));
            case.set_time(Duration::from_secs_f64(check.elapsed_s));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().context("cannot render JUnit XML")
}

/// Writes JUnit XML atomically (temporary file in the same folder, then rename).
pub fn write(path: &Path, details: &RunDetails) -> anyhow::Result<()> {
    crate::report::write_atomically(path, &render(details)?)
}
