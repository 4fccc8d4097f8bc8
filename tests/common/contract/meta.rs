//! The run facts every check's report carries (`started_at`, `ended_at`,
//! `wsprobe_version`, `plan_hash`, `shard`, `start`), the per-second
//! `timeline`, and a merged report's `merged_from`; and the rules they keep.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{nullable, Outcome};

/// `shard`: which of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// `start`: how the shard met `--start-at`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    pub at: String,
    pub late_s: f64,
    pub skipped: u64,
}

/// One second of `timeline`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Second {
    /// Unix seconds.
    pub at: i64,
    pub attempts: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<Outcome, u64>,
    pub open: i64,
    pub closes: BTreeMap<String, u64>,
    /// HdrHistogram V2 + base64 (µs), null in a second without handshakes.
    #[serde(deserialize_with = "nullable")]
    pub handshake: Option<String>,
}

/// One entry of `merged_from`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedFrom {
    pub source: String,
    pub shard: u32,
}

/// Keys of the run facts a report may leave out (error objects, suites).
pub const OMITTABLE: &[&str] =
    &["started_at", "ended_at", "wsprobe_version", "plan_hash", "shard", "start", "timeline", "merged_from"];

/// Map keys inside the timeline (data, not fields).
pub const TIMELINE_MAPS: &[&str] = &["timeline[].rejected.*", "timeline[].closes.*"];

/// The facts as one report has them.
pub struct Facts<'a> {
    pub started_at: Option<&'a str>,
    pub ended_at: Option<&'a str>,
    pub plan_hash: Option<&'a str>,
    pub shard: Option<Shard>,
    pub timeline: Option<&'a [Second]>,
    pub merged: bool,
}

/// The rules: times are RFC 3339 in order; the hash is 16 hex digits;
/// the timeline is sorted by second, each with at most `attempts`
/// accepted and a histogram of `accepted` samples.
pub fn rules(f: &Facts<'_>) -> Result<(), String> {
    if let (Some(a), Some(b)) = (f.started_at, f.ended_at) {
        let (a, b) = (time(a)?, time(b)?);
        if b < a {
            return Err("ended_at is before started_at".into());
        }
    }
    if let Some(h) = f.plan_hash {
        if h.len() != 16 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("plan_hash {h:?} is not 16 hex digits"));
        }
    }
    if let Some(s) = f.shard {
        if s.index >= s.count {
            return Err(format!("shard {}/{}: index must be below count", s.index, s.count));
        }
    }
    for w in f.timeline.unwrap_or_default().windows(2) {
        if w[1].at <= w[0].at {
            return Err(format!("timeline seconds out of order: {} then {}", w[0].at, w[1].at));
        }
    }
    for s in f.timeline.unwrap_or_default() {
        let samples =
            s.handshake.as_deref().and_then(wsprobe::stats::latency::Latency::from_base64).map_or(0, |h| h.count());
        let rejected: u64 = s.rejected.values().sum();
        if s.accepted + rejected != s.attempts || samples != s.accepted {
            return Err(format!(
                "timeline second {}: attempts {} = accepted {} + rejected {rejected}, {samples} handshakes",
                s.at, s.attempts, s.accepted
            ));
        }
    }
    Ok(())
}

fn time(t: &str) -> Result<std::time::SystemTime, String> {
    wsprobe::clock::parse_rfc3339(t).ok_or_else(|| format!("{t:?} is not an RFC 3339 time"))
}

/// A report of a check that can be sharded names its shard once it ran
/// (a merged one lists `merged_from` instead).
pub fn sharded(f: &Facts<'_>) -> Result<(), String> {
    if f.started_at.is_some() && f.shard.is_none() && !f.merged {
        return Err("a report of a check that can be sharded names its shard (or is merged)".into());
    }
    if f.merged && f.shard.is_some() {
        return Err("a merged report has merged_from, not shard".into());
    }
    Ok(())
}
