//! Does the input belong together? Every report must be a shard report
//! (with `plan_hash` and `shard`) of one command that can be merged, made
//! by one wsprobe version from one plan with one shard count, and no shard
//! may appear twice. Each refusal names the files, so the wrong artifact
//! is found at once; missing shards are listed, not refused.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::check::mergeable::{self, Merger, Part};
use crate::report::meta::RunMeta;
use crate::saved::Saved;
use crate::shard::ShardInfo;

/// Keys a report has whether or not the check produced details.
const FRAME: &[&str] = &[
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
];

/// One shard report, checked.
#[derive(Debug)]
pub struct Checked<'a> {
    /// Where it came from.
    pub source: String,
    /// Its run facts.
    pub meta: RunMeta,
    /// Its shard.
    pub shard: ShardInfo,
    /// When its clock started and when it ended.
    pub started: SystemTime,
    /// When it ended.
    pub ended: SystemTime,
    /// Its target.
    pub target: String,
    /// False for a shard that failed before it measured anything.
    pub has_details: bool,
    /// Its error, if its verdict was one.
    pub error: Option<String>,
    /// True when Ctrl-C cut it short.
    pub interrupted: bool,
    /// Its warnings.
    pub warnings: Vec<String>,
    /// The report.
    pub report: &'a Value,
}

impl Checked<'_> {
    /// As the check's merge hook sees it.
    pub fn part(&self) -> Part<'_> {
        Part {
            source: &self.source,
            meta: &self.meta,
            started: self.started,
            ended: self.ended,
            interrupted: self.interrupted,
            report: self.report,
        }
    }
}

/// The checked input.
#[derive(Debug)]
pub struct Shards<'a> {
    /// The check's merge hook.
    pub merger: &'static Merger,
    /// How many shards the run had.
    pub count: u32,
    /// Shard indices with no report.
    pub missing: Vec<u32>,
    /// The reports, by shard index.
    pub shards: Vec<Checked<'a>>,
}

/// Checks the input, or says why it cannot be merged.
pub fn check(saved: &[Saved]) -> anyhow::Result<Shards<'_>> {
    let first = saved.first().ok_or_else(|| anyhow::anyhow!("no report to merge"))?;
    let command = first.report.get("command").and_then(Value::as_str).unwrap_or_default();
    one_value(saved, "command", |s| s.report.get("command").and_then(Value::as_str).unwrap_or("?").to_string())?;
    let merger = mergeable::find(command).ok_or_else(|| {
        anyhow::anyhow!(
            "cannot merge {}: it is a `{command}` report, and merge combines shard reports of {}",
            first.source,
            mergeable::names()
        )
    })?;
    let mut shards = saved.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;
    one_value(saved, "wsprobe version", |s| text(&s.report, "wsprobe_version"))?;
    one_value(saved, "plan (plan_hash)", |s| text(&s.report, "plan_hash"))?;
    one_value(saved, "shard count", |s| s.report.pointer("/shard/count").map(Value::to_string).unwrap_or_default())?;
    shards.sort_by_key(|c| c.shard.index);
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            anyhow::bail!(
                "cannot merge: shard {}/{} appears twice, in {} and in {}",
                pair[0].shard.index,
                pair[0].shard.count,
                pair[0].source,
                pair[1].source
            );
        }
    }
    let count = shards[0].shard.count;
    let missing = (0..count).filter(|i| !shards.iter().any(|c| c.shard.index == *i)).collect();
    Ok(Shards { merger, count, missing, shards })
}

fn text(report: &Value, key: &str) -> String {
    report.get(key).and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Refuses the input when `get` differs between reports, naming which
/// files have which value.
fn one_value(saved: &[Saved], what: &str, get: impl Fn(&Saved) -> String) -> anyhow::Result<()> {
    let mut by: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in saved {
        by.entry(get(s)).or_default().push(&s.source);
    }
    if by.len() > 1 {
        let groups: Vec<String> = by.iter().map(|(v, files)| format!("{v} in {}", files.join(", "))).collect();
        anyhow::bail!(
            "cannot merge reports of different {what}s: {}; every shard must be the same command line run by the same wsprobe, with only --shard differing",
            groups.join("; ")
        );
    }
    Ok(())
}

fn read(s: &Saved) -> anyhow::Result<Checked<'_>> {
    let r = &s.report;
    let meta = <RunMeta as serde::Deserialize>::deserialize(r).map_err(|_| {
        anyhow::anyhow!("cannot merge {}: it has no started_at/wsprobe_version/plan_hash, so it is not a shard report of this wsprobe", s.source)
    })?;
    let shard = meta
        .shard
        .ok_or_else(|| anyhow::anyhow!("cannot merge {}: it has no `shard`, so it is not a shard report", s.source))?;
    let time = |t: &str| {
        crate::clock::parse_rfc3339(t).ok_or_else(|| anyhow::anyhow!("{}: {t:?} is not an RFC 3339 time", s.source))
    };
    let (started, ended) = (time(&meta.started_at)?, time(&meta.ended_at)?);
    let has_details = r.as_object().is_some_and(|m| m.keys().any(|k| !FRAME.contains(&k.as_str())));
    let error = r.get("error").and_then(Value::as_str).map(str::to_string);
    let warnings = r
        .get("warnings")
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |w| w.iter().filter_map(Value::as_str).map(str::to_string).collect());
    Ok(Checked {
        source: s.source.clone(),
        shard,
        started,
        ended,
        target: text(r, "target"),
        has_details,
        error,
        interrupted: r.get("interrupted").and_then(Value::as_bool) == Some(true),
        warnings,
        meta,
        report: r,
    })
}
