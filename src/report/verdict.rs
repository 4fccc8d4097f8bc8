//! The one verdict step. Every check, suite and merged report is judged
//! here, from what was observed and whether Ctrl-C cut the run short, so
//! no runner writes its own verdict.

use super::Observation;
use crate::exit::Verdict;

/// Why an interrupted run that saw no failure cannot pass.
pub const INTERRUPTED: &str = "interrupted by Ctrl-C before the end: the results are partial";

/// Pass, fail or error, and the reason for an error.
///
/// - A run that could not be done is an error, whatever it saw.
/// - A failed finding fails the run, interrupted or not: what was seen
///   stays true.
/// - An interrupted run with no failure is incomplete: an error.
pub fn decide(obs: &Observation, interrupted: bool) -> (Verdict, Option<String>) {
    if let Some(why) = &obs.error {
        return (Verdict::Error, Some(why.clone()));
    }
    if obs.findings.iter().any(|f| !f.ok) {
        return (Verdict::Fail, None);
    }
    if interrupted {
        return (Verdict::Error, Some(INTERRUPTED.to_string()));
    }
    (Verdict::Pass, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Finding;

    fn obs(oks: &[bool], error: Option<&str>) -> Observation {
        Observation {
            findings: oks.iter().map(|&ok| Finding::new("x", ok, "")).collect(),
            error: error.map(str::to_string),
            ..Observation::default()
        }
    }

    #[test]
    fn findings_decide_a_complete_run() {
        assert_eq!(decide(&obs(&[true, true], None), false), (Verdict::Pass, None));
        assert_eq!(decide(&obs(&[true, false], None), false), (Verdict::Fail, None));
        assert_eq!(decide(&obs(&[], None), false), (Verdict::Pass, None));
    }

    #[test]
    fn an_error_wins_over_findings() {
        assert_eq!(decide(&obs(&[false], Some("no")), false), (Verdict::Error, Some("no".into())));
    }

    #[test]
    fn an_interrupted_run_never_passes() {
        assert_eq!(decide(&obs(&[true], None), true), (Verdict::Error, Some(INTERRUPTED.into())));
        assert_eq!(decide(&obs(&[false], None), true), (Verdict::Fail, None));
    }
}
