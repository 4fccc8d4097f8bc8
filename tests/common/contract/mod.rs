//! The `--json` contract, written out field by field (ripgrep's
//! `tests/json.rs` style): one test-side struct per report shape, every
//! struct `deny_unknown_fields`, every field typed.
//!
//! - A field the tool adds, renames or removes fails the contract: the
//!   contract is changed on purpose, in the same commit.
//! - A field that is always present but may be null is `#[serde(deserialize_with
//!   = "nullable")]`: the key must be there, its value may be null.
//! - A field the tool leaves out when it is empty is `#[serde(default,
//!   deserialize_with = "omittable")]`: absent, or a real value, never null.
//!   Each report type lists those keys in [`Contract::OMITTABLE`], and
//!   [`mutations_fail`] checks that every other key is required and that
//!   every object refuses an unknown key.
//! - String values with a closed set (verdicts, policies, close kinds...)
//!   are enums; outcome labels (`accepted`, `http-429`...) are checked
//!   against their grammar.
#![allow(dead_code)]

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Key must be present; value may be null.
pub(super) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(d)
}

/// Key may be absent (see `#[serde(default)]`); when present it is a value, not null.
pub(super) fn omittable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// pass, fail or error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
}

/// One entry of `findings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// An attempt's outcome label: `accepted`, `http-<status>`,
/// `closed-<code>`, `app-refused`, `proxy-<status>` (the proxy refused the
/// tunnel), or a failure kind (`refused`, `timeout`, `proxy`...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Outcome(pub String);

const FAILURE_KINDS: &[&str] =
    &["dns", "refused", "reset", "timeout", "tls", "protocol", "eof", "unreachable", "local-limit", "proxy", "error"];

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let code = |prefix: &str| text.strip_prefix(prefix).and_then(|n| n.parse::<u16>().ok());
        let http = code("http-").is_some_and(|s| (100..600).contains(&s));
        let app = text == "app-refused";
        let proxy = code("proxy-").is_some_and(|s| (100..600).contains(&s));
        let closed = code("closed-").is_some();
        if text == "accepted" || app || http || proxy || closed || FAILURE_KINDS.contains(&text.as_str()) {
            Ok(Outcome(text))
        } else {
            Err(serde::de::Error::custom(format!("`{text}` is not an outcome label")))
        }
    }
}

/// The fields every report has, then the command's own.
macro_rules! report {
    ($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub command: String,
            /// The URL (redacted) or `embedded (...)`.
            pub target: String,
            pub verdict: Verdict,
            pub findings: Vec<Finding>,
            pub diagnosis: Vec<String>,
            /// Only with verdict error.
            #[serde(default, deserialize_with = "omittable")]
            pub error: Option<String>,
            /// Only when there are some.
            #[serde(default, deserialize_with = "omittable")]
            pub warnings: Option<Vec<String>>,
            /// Only after Ctrl-C (then true).
            #[serde(default, deserialize_with = "omittable")]
            pub interrupted: Option<bool>,
            pub elapsed_s: f64,
            #[serde(default, deserialize_with = "omittable")]
            pub started_at: Option<String>,
            #[serde(default, deserialize_with = "omittable")]
            pub ended_at: Option<String>,
            #[serde(default, deserialize_with = "omittable")]
            pub wsprobe_version: Option<String>,
            #[serde(default, deserialize_with = "omittable")]
            pub plan_hash: Option<String>,
            /// Checks that can be sharded; not in a merged report.
            #[serde(default, deserialize_with = "omittable")]
            pub shard: Option<super::meta::Shard>,
            /// Only with --start-at.
            #[serde(default, deserialize_with = "omittable")]
            pub start: Option<super::meta::Start>,
            /// Checks that hold connections.
            #[serde(default, deserialize_with = "omittable")]
            pub timeline: Option<Vec<super::meta::Second>>,
            /// Only in a merged report.
            #[serde(default, deserialize_with = "omittable")]
            pub merged_from: Option<Vec<super::meta::MergedFrom>>,
            $($fields)*
        }

        impl Common for $name {
            fn facts(&self) -> super::meta::Facts<'_> {
                super::meta::Facts {
                    started_at: self.started_at.as_deref(),
                    ended_at: self.ended_at.as_deref(),
                    plan_hash: self.plan_hash.as_deref(),
                    shard: self.shard,
                    timeline: self.timeline.as_deref(),
                    merged: self.merged_from.is_some(),
                }
            }
            fn command(&self) -> &str { &self.command }
            fn verdict(&self) -> Verdict { self.verdict }
            fn findings(&self) -> &[Finding] { &self.findings }
            fn error(&self) -> Option<&str> { self.error.as_deref() }
            fn warnings(&self) -> Option<&[String]> { self.warnings.as_deref() }
            fn interrupted(&self) -> Option<bool> { self.interrupted }
        }
    };
}

/// Read access to the fields every report has.
pub trait Common {
    fn facts(&self) -> meta::Facts<'_>;
    fn command(&self) -> &str;
    fn verdict(&self) -> Verdict;
    fn findings(&self) -> &[Finding];
    fn error(&self) -> Option<&str>;
    fn warnings(&self) -> Option<&[String]>;
    fn interrupted(&self) -> Option<bool>;
}

/// Keys every report may leave out.
const COMMON_OMITTABLE: &[&str] = &["error", "warnings", "interrupted"];

/// One report shape of the contract.
pub trait Contract: DeserializeOwned + Common + Debug {
    /// Key paths that may be absent besides the common ones: `a.b` for a
    /// field, `a[].b` for a field of every element of array `a`, `a.*`
    /// for the keys of a map (data, not fields).
    const OMITTABLE: &'static [&'static str] = &[];
    /// Rules across fields that the types cannot say.
    fn rules(&self) -> Result<(), String> {
        Ok(())
    }
    /// Nested reports to check with their own contract (`run`).
    fn nested(&self) -> Vec<&Value> {
        Vec::new()
    }
}

mod connect;
mod fanout;
pub mod meta;
mod ratelimit;
mod single;
mod stability;
mod storm;
mod suites;

pub use connect::*;
pub use fanout::*;
pub use ratelimit::*;
pub use single::*;
pub use stability::*;
pub use storm::*;
pub use suites::*;

// ------------------------------------------------------------- checking

/// The rules every report keeps, whatever its command.
fn common_rules(r: &dyn Common) -> Result<(), String> {
    let facts = r.facts();
    meta::rules(&facts)?;
    let ran = wsprobe::check::NAMES.contains(&r.command()) && facts.started_at.is_some();
    if ran && (facts.ended_at.is_none() || facts.plan_hash.is_none()) {
        return Err("a check's report has started_at, ended_at, wsprobe_version and plan_hash together".into());
    }

    if (r.verdict() == Verdict::Error) != r.error().is_some() {
        return Err(format!("`error` is there exactly when the verdict is error: {:?} / {:?}", r.verdict(), r.error()));
    }
    let failed = r.findings().iter().any(|f| !f.ok);
    match r.verdict() {
        Verdict::Pass if failed => return Err("verdict pass with a failed finding".into()),
        Verdict::Fail if !failed => return Err("verdict fail without a failed finding".into()),
        _ => {}
    }
    if r.warnings().is_some_and(|w| w.is_empty()) {
        return Err("`warnings` is left out when empty, not printed as []".into());
    }
    match r.interrupted() {
        Some(false) => return Err("`interrupted` is left out unless true".into()),
        Some(true) if r.verdict() == Verdict::Pass => return Err("an interrupted run passed".into()),
        _ => {}
    }
    Ok(())
}

/// Parses `json` as report type `T` and checks its rules and nested
/// reports; the error says which report and what broke.
pub fn parse_value<T: Contract>(json: &Value) -> Result<T, String> {
    let report: T = serde_json::from_value(json.clone()).map_err(|e| format!("{}: {e}", std::any::type_name::<T>()))?;
    common_rules(&report).and_then(|()| report.rules()).map_err(|e| format!("{}: {e}", std::any::type_name::<T>()))?;
    for nested in report.nested() {
        check_value(nested).map_err(|e| format!("nested report: {e}"))?;
    }
    Ok(report)
}

/// Parses text that must be exactly one JSON object meeting contract `T`.
pub fn parse<T: Contract>(stdout: &str) -> T {
    let json: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("stdout is not exactly one JSON object ({e}):\n{stdout}"));
    assert!(json.is_object(), "stdout is JSON but not an object:\n{stdout}");
    parse_value(&json).unwrap_or_else(|e| panic!("{e}\n{stdout}"))
}

/// The common keys: a report with nothing else is an error object.
const COMMON_KEYS: &[&str] = &[
    "command",
    "target",
    "verdict",
    "findings",
    "diagnosis",
    "error",
    "warnings",
    "interrupted",
    "elapsed_s",
    "started_at",
    "ended_at",
    "wsprobe_version",
    "plan_hash",
    "shard",
    "start",
    "timeline",
    "merged_from",
];

/// Checks a report of any command against the shape its `command` (and,
/// for `stability`, its mode) calls for.
pub fn check_value(json: &Value) -> Result<(), String> {
    let map = json.as_object().ok_or("a report is a JSON object")?;
    if map.keys().all(|k| COMMON_KEYS.contains(&k.as_str())) {
        return parse_value::<ErrorReport>(json).map(drop);
    }
    let command = map.get("command").and_then(Value::as_str).ok_or("a report names its command")?;
    match command {
        "connect" => parse_value::<ConnectReport>(json).map(drop),
        "single" => parse_value::<SingleReport>(json).map(drop),
        "stability" if map.contains_key("idle_timeout") => parse_value::<IdleReport>(json).map(drop),
        "stability" => parse_value::<StabilityReport>(json).map(drop),
        "ratelimit" => parse_value::<RatelimitReport>(json).map(drop),
        "storm" => parse_value::<StormReport>(json).map(drop),
        "fanout" => parse_value::<FanoutReport>(json).map(drop),
        "run" => parse_value::<RunReport>(json).map(drop),
        "selftest" => parse_value::<SelftestReport>(json).map(drop),
        other => Err(format!("no contract for command `{other}`: add one to tests/common/contract.rs")),
    }
}

/// Every object key in `json` with its generic path (`a[].b`), and
/// whether it sits in a map (`a.*`). Nested reports of `run` are left to
/// the contract cases of their own command.
fn keys(json: &Value, path: &str, out: &mut Vec<String>) {
    match json {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                out.push(p.clone());
                if p != "files[].checks[].report" {
                    keys(v, &p, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                keys(item, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn omittable_path<T: Contract>(path: &str) -> bool {
    COMMON_OMITTABLE.contains(&path) || meta::OMITTABLE.contains(&path) || T::OMITTABLE.contains(&path)
}

fn in_map<T: Contract>(path: &str) -> bool {
    T::OMITTABLE
        .iter()
        .chain(meta::TIMELINE_MAPS)
        .filter_map(|p| p.strip_suffix(".*"))
        .any(|m| path.starts_with(&format!("{m}.")))
}

/// Applies `f` to the object(s) at generic `path`'s parent and key.
fn edit(json: &mut Value, path: &str, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>, &str)) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, each) = match head.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (head, false),
    };
    let Value::Object(map) = json else { return };
    match rest {
        None => f(map, key),
        Some(rest) => match map.get_mut(key) {
            Some(Value::Array(items)) if each => items.iter_mut().for_each(|i| edit(i, rest, f)),
            Some(v) if !each => edit(v, rest, f),
            _ => {}
        },
    }
}

/// The contract is strict: removing any key it does not list as
/// omittable fails it, and an unknown key fails it at every level.
/// Returns each mutation that the contract wrongly accepted.
pub fn mutations_fail<T: Contract>(json: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    keys(json, "", &mut paths);
    paths.sort();
    paths.dedup();
    let mut accepted = Vec::new();
    for path in &paths {
        if in_map::<T>(path) {
            continue;
        }
        let mut removed = json.clone();
        edit(&mut removed, path, &mut |map, key| {
            map.remove(key);
        });
        if !omittable_path::<T>(path) && parse_value::<T>(&removed).is_ok() {
            accepted.push(format!("without `{path}`"));
        }
    }
    let mut objects: Vec<&str> =
        paths.iter().filter(|p| !in_map::<T>(p)).map(|p| p.rsplit_once('.').map_or("", |(parent, _)| parent)).collect();
    objects.sort();
    objects.dedup();
    for path in objects {
        let mut added = json.clone();
        let target = if path.is_empty() { "__unknown_field".to_string() } else { format!("{path}.__unknown_field") };
        edit(&mut added, &target, &mut |map, key| {
            map.insert(key.to_string(), Value::Bool(true));
        });
        if parse_value::<T>(&added).is_ok() {
            accepted.push(format!("with an unknown key in `{}`", if path.is_empty() { "." } else { path }));
        }
    }
    accepted
}
