//! The [`Report`] every command produces: verdict, findings, a plain-words
//! diagnosis and the command's own fields. `Report: Serialize` *is* the
//! `--json` output; the renderers in this module's children are pure
//! functions of it that return strings, and only `main` writes them.

pub mod json;
pub mod meta;
pub mod progress;
pub mod safe;
pub mod table;
pub mod verdict;

use serde::Serialize;

use crate::exit::Verdict;

/// Writes `text` to `path` atomically (a temporary file in the same folder,
/// then a rename), so a CI job never reads a half-written report. Registered
/// secrets are masked, as on stdout.
pub fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write next to {}", path.display()))?;
    let text = crate::redact::registered(text);
    std::io::Write::write_all(&mut tmp, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
    // A temporary file is private (0600); a report is for reading, like any
    // file the user's shell would create.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
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

/// What a check saw. The verdict is not in here: one pure function,
/// [`verdict::decide`], judges every check the same way.
#[derive(Debug, Default)]
pub struct Observation {
    /// Each check and whether it passed.
    pub findings: Vec<Finding>,
    /// Plain-words explanation of what was seen.
    pub diagnosis: Vec<String>,
    /// Where wsprobe's own limits may have distorted the result.
    pub warnings: Vec<String>,
    /// Why the run could not be done (makes the verdict an error).
    pub error: Option<String>,
    /// The command's own JSON fields and table.
    pub details: Option<Box<dyn Details>>,
    /// The run's clock, shared start and per-second timeline.
    pub run: meta::RunFacts,
}

impl Observation {
    /// An observation of a run that could not be done.
    pub fn failed(why: impl Into<String>) -> Observation {
        Observation { error: Some(why.into()), ..Observation::default() }
    }

    /// Adds a finding.
    pub fn add(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Sets the command's details.
    pub fn with_details(mut self, details: impl Details + 'static) -> Observation {
        self.details = Some(Box::new(details));
        self
    }
}

/// A command's own JSON fields and tables. Each check (and each suite:
/// `run`, `selftest`) owns its details type; the report holds it as a
/// trait object, so this module knows no check by name.
pub trait Details: erased_serde::Serialize + std::fmt::Debug + Send + Sync {
    /// The command's own tables for people, above the findings.
    fn table(&self, style: table::Style) -> String;
    /// True when the details already show the findings (suites render one
    /// row per check), so the generic findings table is left out.
    fn shows_findings(&self) -> bool {
        false
    }
}

erased_serde::serialize_trait_object!(Details);

/// The result of one command run.
#[derive(Debug, Serialize)]
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
    /// When, which wsprobe, which plan and shard (check runs and merges).
    #[serde(flatten)]
    pub meta: Option<meta::RunMeta>,
    /// The shard reports a merged report was made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<meta::MergedFrom>>,
    /// The command's own fields.
    #[serde(flatten)]
    pub details: Option<Box<dyn Details>>,
    /// Per-second numbers on absolute seconds (checks that hold connections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<crate::stats::timeline::Second>>,
}

impl Report {
    /// The report of a finished (or interrupted) run: the one place where
    /// an observation meets the verdict step.
    pub fn judge(command: &str, target: impl Into<String>, obs: Observation, interrupted: bool) -> Report {
        let (verdict, error) = verdict::decide(&obs, interrupted);
        Report {
            command: command.to_string(),
            target: target.into(),
            verdict,
            findings: obs.findings,
            diagnosis: obs.diagnosis,
            error,
            warnings: obs.warnings,
            interrupted,
            elapsed_s: 0.0,
            meta: None,
            merged_from: None,
            details: obs.details,
            timeline: obs.run.timeline,
        }
    }

    /// A report for a run that could not be done.
    pub fn error(command: &str, target: impl Into<String>, message: impl Into<String>) -> Report {
        Report::judge(command, target, Observation::failed(message), false)
    }
}
