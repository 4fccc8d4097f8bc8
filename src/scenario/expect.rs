//! Expectations on a report: the verdict a check must reach, and values at
//! dotted paths of its JSON (`closes.0.code = 4001`, `period.seconds =
//! { min = 0.8, max = 1.2 }`). Shared by scenario files and `selftest`.

use serde::Deserialize;
use serde_json::Value;

use crate::exit::Verdict;

/// What one value must be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Matcher {
    /// A number within bounds (either may be left out).
    Range {
        /// Smallest allowed.
        min: Option<f64>,
        /// Largest allowed.
        max: Option<f64>,
    },
    /// Exactly this value (strings, booleans, integers, null via "null").
    Exact(toml::Value),
}

impl Matcher {
    /// Whether `actual` satisfies this matcher.
    pub fn matches(&self, actual: &Value) -> bool {
        match self {
            Matcher::Range { min, max } => {
                actual.as_f64().is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m))
            }
            Matcher::Exact(expected) => exact(expected, actual),
        }
    }

    /// The matcher as people read it.
    pub fn describe(&self) -> String {
        match self {
            Matcher::Range { min: Some(a), max: Some(b) } => format!("{a}..{b}"),
            Matcher::Range { min: Some(a), max: None } => format!(">= {a}"),
            Matcher::Range { min: None, max: Some(b) } => format!("<= {b}"),
            Matcher::Range { .. } => "any number".into(),
            Matcher::Exact(v) => v.to_string().trim_matches('"').to_string(),
        }
    }
}

fn exact(expected: &toml::Value, actual: &Value) -> bool {
    match expected {
        toml::Value::String(s) if s == "null" => actual.is_null(),
        toml::Value::String(s) => actual.as_str() == Some(s.as_str()),
        toml::Value::Integer(i) => actual.as_i64() == Some(*i) || actual.as_f64() == Some(*i as f64),
        toml::Value::Float(f) => actual.as_f64().is_some_and(|a| (a - f).abs() <= 1e-9),
        toml::Value::Boolean(b) => actual.as_bool() == Some(*b),
        _ => false,
    }
}

/// The value at a dotted path (`closes.0.code`), or null.
pub fn lookup<'a>(json: &'a Value, path: &str) -> &'a Value {
    path.split('.').filter(|p| !p.is_empty()).fold(json, |v, key| match v {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)).unwrap_or(&Value::Null),
        Value::Object(map) => map.get(key).unwrap_or(&Value::Null),
        _ => &Value::Null,
    })
}

/// Everything a check must show.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// The verdict the check must reach.
    pub verdict: Verdict,
    /// Values at paths of the report's JSON.
    pub fields: Vec<(String, Matcher)>,
}

/// How a report measured up to an [`Expect`].
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// True when everything matched.
    pub ok: bool,
    /// The expectation, in words.
    pub expected: String,
    /// What was seen, in words.
    pub observed: String,
    /// Each mismatch.
    pub failures: Vec<String>,
}

impl Expect {
    /// Judges a report (as JSON) against the expectation.
    pub fn judge(&self, report: &Value) -> Judgement {
        let verdict = report.get("verdict").and_then(Value::as_str).unwrap_or("error");
        let mut failures = Vec::new();
        if verdict != self.verdict_word() {
            let why = report.get("error").and_then(Value::as_str).map(|e| format!(" ({e})")).unwrap_or_default();
            failures.push(format!("verdict {verdict}, expected {}{why}", self.verdict_word()));
        }
        let mut expected = vec![self.verdict_word().to_string()];
        let mut observed = vec![verdict.to_string()];
        for (path, matcher) in &self.fields {
            let actual = lookup(report, path);
            expected.push(format!("{path}={}", matcher.describe()));
            observed.push(format!("{path}={}", short(actual)));
            if !matcher.matches(actual) {
                failures.push(format!("{path} is {}, expected {}", short(actual), matcher.describe()));
            }
        }
        Judgement { ok: failures.is_empty(), expected: expected.join(", "), observed: observed.join(", "), failures }
    }

    fn verdict_word(&self) -> &'static str {
        match self.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            n.as_f64().filter(|f| f.fract() != 0.0).map(|f| format!("{f:.3}")).unwrap_or_else(|| n.to_string())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_matchers() {
        let report = json!({"verdict": "fail", "closes": [{"code": 4001}], "period": {"seconds": 1.02}, "race": null});
        assert_eq!(lookup(&report, "closes.0.code"), &json!(4001));
        assert!(Matcher::Exact(toml::Value::Integer(4001)).matches(lookup(&report, "closes.0.code")));
        assert!(Matcher::Range { min: Some(0.8), max: Some(1.2) }.matches(lookup(&report, "period.seconds")));
        assert!(!Matcher::Range { min: Some(1.1), max: None }.matches(lookup(&report, "period.seconds")));
        assert!(Matcher::Exact(toml::Value::String("null".into())).matches(lookup(&report, "race")));
        assert!(lookup(&report, "closes.7.code").is_null());
    }

    #[test]
    fn judgement_lists_each_mismatch() {
        let report = json!({"verdict": "pass", "policy": "allow-multiple"});
        let expect = Expect {
            verdict: Verdict::Fail,
            fields: vec![("policy".into(), Matcher::Exact(toml::Value::String("reject-new".into())))],
        };
        let j = expect.judge(&report);
        assert!(!j.ok);
        assert_eq!(j.failures.len(), 2);
        assert!(j.failures[1].contains("policy is allow-multiple, expected reject-new"), "{:?}", j.failures);
    }
}
