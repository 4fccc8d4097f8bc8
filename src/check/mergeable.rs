//! The checks whose shard reports `wsprobe merge` can combine, and the
//! hook each registers: a pure function from the shards' reports (their
//! details read back) to one observation, judged by the check's own
//! functions, so a merged run is judged exactly like a single one. Each
//! check keeps its hook next to itself (`check/<name>/merge.rs`); this
//! list is the only place that names them.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::report::meta::RunMeta;
use crate::report::Observation;
use crate::stats::latency::Latency;
use crate::stats::timeline::Second;

/// One shard's report, read back and checked.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// Where it came from (a file, `-#2`).
    pub source: &'a str,
    /// Its run facts.
    pub meta: &'a RunMeta,
    /// When its clock started.
    pub started: SystemTime,
    /// When it ended.
    pub ended: SystemTime,
    /// True when Ctrl-C cut this shard short (its report's `interrupted`).
    pub interrupted: bool,
    /// The whole report.
    pub report: &'a Value,
}

/// What the merge already worked out for every check.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The shards' timelines added up, second by second.
    pub timeline: &'a [Second],
    /// The earliest start.
    pub started: SystemTime,
    /// The latest end.
    pub ended: SystemTime,
}

/// A check's merge: its shards' reports → one observation (merged details,
/// findings, diagnosis), or why they cannot be merged (the input is
/// refused, exit 2).
pub type MergeFn = fn(&[Part<'_>], &Context<'_>) -> Result<Observation, String>;

/// A check that can be merged.
#[derive(Debug, Clone, Copy)]
pub struct Merger {
    /// Its command name.
    pub command: &'static str,
    /// How.
    pub merge: MergeFn,
}

/// Every check `merge` can combine.
pub const MERGERS: &[Merger] =
    &[super::storm::merge::MERGER, super::stability::merge::MERGER, super::fanout::merge::MERGER];

/// The merger of `command`.
pub fn find(command: &str) -> Option<&'static Merger> {
    MERGERS.iter().find(|m| m.command == command)
}

/// Every mergeable command, for messages.
pub fn names() -> String {
    MERGERS.iter().map(|m| m.command).collect::<Vec<_>>().join(", ")
}

/// A part's details, read back as the check's own type.
pub fn details<T: DeserializeOwned>(part: &Part<'_>) -> Result<T, String> {
    T::deserialize(part.report).map_err(|e| format!("{}: cannot read its {} fields: {e}", part.source, command(part)))
}

fn command(part: &Part<'_>) -> String {
    part.report.get("command").and_then(Value::as_str).unwrap_or("report").to_string()
}

/// A histogram of a part (`field` names it in messages), refused when it
/// is not one or was made with other settings than this wsprobe's: only
/// histograms of one shape add up exactly.
pub fn histogram(source: &str, field: &str, text: &str) -> Result<Latency, String> {
    let h =
        Latency::from_base64(text).ok_or_else(|| format!("{source}: {field} is not an HdrHistogram V2 in base64"))?;
    let ours = Latency::new().settings();
    if h.settings() != ours {
        return Err(format!(
            "{source}: {field} has histogram settings {} where this wsprobe uses {ours}: histograms of different settings cannot be added exactly",
            h.settings()
        ));
    }
    Ok(h)
}

/// The sum of one histogram field over every part.
pub fn sum_histograms<'a, T: 'a>(
    parts: impl IntoIterator<Item = (&'a Part<'a>, &'a T)>,
    field: &str,
    get: impl Fn(&T) -> &str,
) -> Result<Latency, String> {
    let mut sum = Latency::new();
    for (part, d) in parts {
        let h = histogram(part.source, field, get(d))?;
        sum.merge(&h).map_err(|e| format!("{}: {field}: {e}", part.source))?;
    }
    Ok(sum)
}

/// Counts by key, added up.
pub fn add_counts<'a, K: Ord + Clone + 'a>(maps: impl IntoIterator<Item = &'a BTreeMap<K, u64>>) -> BTreeMap<K, u64> {
    let mut out = BTreeMap::new();
    for map in maps {
        for (k, v) in map {
            *out.entry(k.clone()).or_default() += v;
        }
    }
    out
}

/// The earliest (`latest` false) or latest of some RFC 3339 times; `None`
/// when there is none.
pub fn extreme<'a>(times: impl IntoIterator<Item = &'a Option<String>>, latest: bool) -> Option<SystemTime> {
    let parsed = times.into_iter().flatten().filter_map(|t| crate::clock::parse_rfc3339(t));
    if latest {
        parsed.max()
    } else {
        parsed.min()
    }
}

/// One value every part must share (equal by the plan hash, so a
/// difference means a damaged file).
pub fn same<'a, T: PartialEq + std::fmt::Debug + 'a>(
    parts: impl IntoIterator<Item = (&'a Part<'a>, &'a T)>,
    field: &str,
) -> Result<&'a T, String> {
    let mut first: Option<(&Part<'_>, &T)> = None;
    for (part, v) in parts {
        match first {
            None => first = Some((part, v)),
            Some((p0, v0)) if v0 != v => {
                return Err(format!("{field} differs: {v0:?} in {}, {v:?} in {}", p0.source, part.source))
            }
            Some(_) => {}
        }
    }
    first.map(|(_, v)| v).ok_or_else(|| "no shard report to merge".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_of_other_settings_are_refused_naming_the_file() {
        let mut coarse = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 2).unwrap();
        coarse.record(1000).unwrap();
        let mut buf = Vec::new();
        hdrhistogram::serialization::Serializer::serialize(
            &mut hdrhistogram::serialization::V2Serializer::new(),
            &coarse,
            &mut buf,
        )
        .unwrap();
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, buf);
        let e = histogram("b.json", "histograms.handshake", &text).unwrap_err();
        assert!(e.starts_with("b.json: histograms.handshake") && e.contains("different settings"), "{e}");
        assert!(histogram("a.json", "h", &Latency::new().to_base64()).is_ok());
        assert!(histogram("a.json", "h", "not base64!").unwrap_err().contains("not an HdrHistogram"));
    }
}
