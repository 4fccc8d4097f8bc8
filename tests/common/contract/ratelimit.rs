//! `ratelimit`: every attempt, the outcome counts and the inference.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{nullable, omittable, Common, Contract, Finding, Outcome, Verdict};

report! {
    /// `ratelimit`, churn or hold.
    pub struct RatelimitReport {
        pub mode: RatelimitMode,
        /// The schedule, as typed (`20/s`).
        pub rate: String,
        pub attempts: Vec<AttemptRecord>,
        pub accepted: u32,
        pub rejected: u32,
        pub outcomes: BTreeMap<Outcome, u32>,
        pub inferred: Inferred,
    }
}

impl Contract for RatelimitReport {
    const OMITTABLE: &'static [&'static str] = &["outcomes.*"];
    fn rules(&self) -> Result<(), String> {
        let total: u32 = self.outcomes.values().sum();
        if total as usize != self.attempts.len() {
            return Err(format!("outcomes add up to {total}, {} attempts", self.attempts.len()));
        }
        let accepted = self.outcomes.get(&Outcome("accepted".into())).copied().unwrap_or(0);
        if accepted != self.accepted {
            return Err(format!("accepted {} but outcomes.accepted {accepted}", self.accepted));
        }
        let numbered = self.attempts.iter().enumerate().all(|(i, a)| a.n as usize == i + 1);
        if !numbered {
            return Err("attempts are not numbered 1, 2, 3...".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatelimitMode {
    Churn,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Scheduled,
    WindowProbe,
    ReuseProbe,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptRecord {
    pub n: u32,
    pub at_s: f64,
    pub outcome: Outcome,
    #[serde(deserialize_with = "nullable")]
    pub http_status: Option<u16>,
    #[serde(deserialize_with = "nullable")]
    pub retry_after: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub close_code: Option<u16>,
    pub purpose: Purpose,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inferred {
    #[serde(deserialize_with = "nullable")]
    pub burst: Option<u32>,
    #[serde(deserialize_with = "nullable")]
    pub window_s: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub limit: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub max_concurrent: Option<u32>,
    #[serde(deserialize_with = "nullable")]
    pub slots_reused: Option<bool>,
    #[serde(deserialize_with = "nullable")]
    pub signal: Option<Outcome>,
    #[serde(deserialize_with = "nullable")]
    pub retry_after: Option<String>,
}
