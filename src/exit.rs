//! Exit codes and the error types callers match on.
//!
//! The codes are a contract for CI: 0 every check passed, 1 a check failed
//! (the server misbehaved or an expectation was not met), 2 wsprobe could not
//! do its job. They live in one enum so no module invents its own.

use std::process::ExitCode;

use serde::Serialize;

/// The process exit status, as the spec defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every check passed.
    Pass = 0,
    /// 1: a check failed or an expectation was not met.
    Fail = 1,
    /// 2: wsprobe could not do its job (bad input, target unreachable).
    Error = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The overall outcome of a command, as it appears in `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// At least one check failed.
    Fail,
    /// wsprobe could not complete the run.
    Error,
}

impl Verdict {
    /// The exit code that goes with this verdict.
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Pass => Exit::Pass,
            Verdict::Fail => Exit::Fail,
            Verdict::Error => Exit::Error,
        }
    }

    /// The worse of two verdicts (error > fail > pass), to combine checks.
    pub fn worst(self, other: Verdict) -> Verdict {
        self.max(other)
    }

    fn rank(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }

    fn max(self, other: Verdict) -> Verdict {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The word shown in tables.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

/// A plan could not be built from what the user gave: a flag value or a
/// combination of flags that cannot work. The message names the flag and
/// the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl PlanError {
    /// Builds a plan error from any message.
    pub fn new(message: impl Into<String>) -> Self {
        PlanError(message.into())
    }
}

/// wsprobe could not reach the target at its first attempt, so nothing about
/// the server can be said: exit 2, not a failed check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_verdict_wins() {
        assert_eq!(Verdict::Pass.worst(Verdict::Fail), Verdict::Fail);
        assert_eq!(Verdict::Error.worst(Verdict::Fail), Verdict::Error);
        assert_eq!(Verdict::Pass.worst(Verdict::Pass), Verdict::Pass);
        assert_eq!(Verdict::Fail.exit() as u8, 1);
    }
}
