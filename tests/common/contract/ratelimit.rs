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
        let labels = ["accepted", "app-refused"];
        for a in &self.attempts {
            let failed = !labels.contains(&a.outcome.0.as_str())
                && !a.outcome.0.starts_with("http-")
                && !a.outcome.0.starts_with("closed-");
            if failed != a.failed_in.is_some() {
                return Err(format!("attempt {}: failed_in {:?} with outcome {}", a.n, a.failed_in, a.outcome.0));
            }
        }
        let i = &self.inferred;
        i.fits.iter().chain(&i.model).try_for_each(Fit::check)?;
        if i.fits.windows(2).any(|w| w[0].explained < w[1].explained) {
            return Err("fits are not best first".into());
        }
        if let Some(m) = &i.model {
            if i.fits.first().map(|f| (f.kind, f.explained)) != Some((m.kind, m.explained)) {
                return Err("model is not the best of fits".into());
            }
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
    RefillProbe,
    ModelProbe,
}

/// The phase a failed attempt ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Dns,
    Tcp,
    Tls,
    Upgrade,
    App,
}

/// How a limit said no: an outcome label, or `queued`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal(pub String);

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text == "queued" {
            return Ok(Signal(text));
        }
        let outcome: Outcome =
            serde_json::from_value(serde_json::Value::String(text)).map_err(serde::de::Error::custom)?;
        Ok(Signal(outcome.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Window,
    CountingWindow,
    Bucket,
}

/// One limiter model fitted to the attempts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fit {
    pub kind: ModelKind,
    pub burst: u32,
    #[serde(deserialize_with = "nullable")]
    pub window_s: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    pub refill_per_s: Option<f64>,
    pub explained: u32,
    pub answered: u32,
    pub fit: f64,
    pub summary: String,
}

impl Fit {
    fn check(&self) -> Result<(), String> {
        let bucket = self.kind == ModelKind::Bucket;
        if bucket != self.refill_per_s.is_some() || bucket == self.window_s.is_some() {
            return Err(format!(
                "{:?} with window_s {:?} and refill_per_s {:?}",
                self.kind, self.window_s, self.refill_per_s
            ));
        }
        let share = f64::from(self.explained) / f64::from(self.answered.max(1));
        if self.explained > self.answered || (share - self.fit).abs() > 0.001 {
            return Err(format!("fit {} is not {} of {}", self.fit, self.explained, self.answered));
        }
        Ok(())
    }
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
    /// Set exactly for failed attempts (no HTTP answer).
    #[serde(deserialize_with = "nullable")]
    pub failed_in: Option<Phase>,
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
    pub signal: Option<Signal>,
    #[serde(deserialize_with = "nullable")]
    pub retry_after: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub counts_refusals: Option<bool>,
    /// The best fit, when it explains enough.
    #[serde(deserialize_with = "nullable")]
    pub model: Option<Fit>,
    /// Every model fitted, best first.
    pub fits: Vec<Fit>,
}
