//! The [`Report`] every command produces: verdict, findings, a plain-words
//! diagnosis and the command's own fields. `Report: Serialize` *is* the
//! `--json` output; the renderers in this module's children are pure
//! functions of it that return strings, and only `main` writes them.

pub mod json;
pub mod junit;
pub mod progress;
pub mod table;
mod table_connect;
mod table_ratelimit;
mod table_single;
mod table_stability;
mod table_storm;
mod table_suite;

use serde::Serialize;

use crate::exit::Verdict;

/// Writes `text` to `path` atomically (a temporary file in the same folder,
/// then a rename), so a CI job never reads a half-written report.
pub fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write next to {}", path.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Counts as people read them: `http-429 ×7, timeout ×2`.
pub fn counts<K: std::fmt::Display, V: std::fmt::Display>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    pairs.into_iter().map(|(k, v)| format!("{k} ×{v}")).collect::<Vec<_>>().join(", ")
}

/// One check and whether it passed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Finding {
    /// What was checked (`policy`, `reconnect-after-close`...).
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen, in words.
    pub detail: String,
}

impl Finding {
    /// A finding.
    pub fn new(check: &str, ok: bool, detail: impl Into<String>) -> Finding {
        Finding { check: check.to_string(), ok, detail: detail.into() }
    }
}

/// The result of one command run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The command (`single`, `storm`...).
    pub command: String,
    /// The target URL, redacted; `embedded (...)` for the reference server.
    pub target: String,
    /// pass, fail or error.
    pub verdict: Verdict,
    /// Each check.
    pub findings: Vec<Finding>,
    /// Plain-words explanation of what was seen.
    pub diagnosis: Vec<String>,
    /// Why the run could not be completed (verdict error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where wsprobe's own limits may have distorted the result.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// True when Ctrl-C cut the run short.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Wall time of the run in seconds.
    pub elapsed_s: f64,
    /// The command's own fields.
    #[serde(flatten)]
    pub details: Option<Details>,
}

/// Command-specific fields, flattened into the report's JSON object.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Details {
    /// `connect`.
    Connect(crate::check::connect::ConnectDetails),
    /// `single`.
    Single(crate::check::single::SingleDetails),
    /// `ratelimit`.
    Ratelimit(Box<crate::check::ratelimit::RatelimitDetails>),
    /// `stability`.
    Stability(Box<crate::check::stability::StabilityDetails>),
    /// `storm`.
    Storm(Box<crate::check::storm::StormDetails>),
    /// `run`.
    Run(Box<crate::scenario::run::RunDetails>),
    /// `selftest`.
    Selftest(Box<crate::selftest::SelftestDetails>),
}

impl Report {
    /// A report with no findings yet.
    pub fn new(command: &str, target: impl Into<String>) -> Report {
        Report {
            command: command.to_string(),
            target: target.into(),
            verdict: Verdict::Pass,
            findings: Vec::new(),
            diagnosis: Vec::new(),
            error: None,
            warnings: Vec::new(),
            interrupted: false,
            elapsed_s: 0.0,
            details: None,
        }
    }

    /// A report for a run that could not be done.
    pub fn error(command: &str, target: impl Into<String>, message: impl Into<String>) -> Report {
        let mut report = Report::new(command, target);
        report.verdict = Verdict::Error;
        report.error = Some(message.into());
        report
    }

    /// Adds a finding.
    pub fn add(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// A run cut short by Ctrl-C cannot pass: what it saw may still have
    /// failed (fail), otherwise it is incomplete (error).
    pub fn settle_interruption(&mut self) {
        if self.interrupted && self.verdict == Verdict::Pass {
            self.verdict = Verdict::Error;
            self.error = Some("interrupted by Ctrl-C before the end: the results are partial".into());
        }
    }

    /// Sets the verdict from the findings, keeping an error verdict.
    pub fn settle_verdict(&mut self) {
        if self.verdict == Verdict::Error {
            return;
        }
        self.verdict = if self.findings.iter().all(|f| f.ok) { Verdict::Pass } else { Verdict::Fail };
    }
}
