//! `wsprobe merge`: shard reports → one report, as one machine would have
//! measured it. The input is checked first ([`check`]): one command that
//! can be merged, one wsprobe version, one plan, one shard count, no shard
//! twice; anything else is refused naming the files (exit 2). Then the
//! timelines align on absolute seconds ([`timeline`]), the check's own
//! merge hook ([`crate::check::mergeable`]) adds up its details and
//! judges them with the check's judging functions, and the one verdict
//! step decides. A missing shard makes the merged verdict an error that
//! says which.

mod check;
pub mod timeline;

use std::time::SystemTime;

use crate::check::mergeable::{Context, Part};
use crate::clock::{rfc3339, seconds_between};
use crate::report::meta::{MergedFrom, RunMeta};
use crate::report::{Observation, Report};
use crate::saved::Saved;

pub use check::Checked;

/// Merges saved shard reports into one report; `Err` when the input
/// cannot be merged (the message names the files).
pub fn merge(saved: &[Saved]) -> anyhow::Result<Report> {
    let checked = check::check(saved)?;
    let (ok, failed): (Vec<&Checked>, Vec<&Checked>) = checked.shards.iter().partition(|c| c.has_details);
    let parts: Vec<Part<'_>> = ok.iter().map(|c| c.part()).collect();
    let timeline = timeline::add(&checked.shards).map_err(anyhow::Error::msg)?;
    let started = checked.shards.iter().map(|c| c.started).min().unwrap_or(SystemTime::UNIX_EPOCH);
    let ended = checked.shards.iter().map(|c| c.ended).max().unwrap_or(started);
    let ctx = Context { timeline: &timeline, started, ended };
    let merger = checked.merger;
    let mut obs = if parts.is_empty() {
        Observation::default()
    } else {
        (merger.merge)(&parts, &ctx).map_err(|e| anyhow::anyhow!("cannot merge: {e}"))?
    };
    annotate(&mut obs, &checked, &failed);
    let interrupted = checked.shards.iter().any(|c| c.interrupted);
    let first = &checked.shards[0];
    let mut report = Report::judge(merger.command, first.target.clone(), obs, interrupted);
    report.elapsed_s = crate::units::secs(std::time::Duration::from_secs_f64(seconds_between(started, ended).max(0.0)));
    report.meta = Some(RunMeta {
        started_at: rfc3339(started),
        ended_at: rfc3339(ended),
        wsprobe_version: first.meta.wsprobe_version.clone(),
        plan_hash: first.meta.plan_hash.clone(),
        shard: None,
        start: None,
    });
    report.merged_from = Some(checked.shards.iter().map(merged_from).collect());
    report.timeline = Some(timeline);
    Ok(report)
}

fn merged_from(c: &Checked) -> MergedFrom {
    MergedFrom { source: c.source.clone(), shard: c.shard.index }
}

/// What the merge adds to the check's observation: missing and failed
/// shards make it an error; each shard's warnings, marked with its index.
fn annotate(obs: &mut Observation, checked: &check::Shards, failed: &[&Checked]) {
    let mut errors: Vec<String> = Vec::new();
    if !checked.missing.is_empty() {
        let list: Vec<String> = checked.missing.iter().map(u32::to_string).collect();
        errors.push(format!(
            "shard {} of {} missing: the merged numbers cover {} of {} shards; merge every shard's report",
            list.join(", "),
            checked.count,
            checked.shards.len(),
            checked.count
        ));
    }
    for c in checked.shards.iter().filter(|c| c.error.is_some()) {
        let why = c.error.as_deref().unwrap_or_default();
        if why != crate::report::verdict::INTERRUPTED {
            errors.push(format!("shard {} ({}): {why}", c.shard.index, c.source));
        }
    }
    if !failed.is_empty() && obs.details.is_none() {
        errors.push("no shard has results to merge".to_string());
    }
    if let Some(e) = obs.error.take() {
        errors.insert(0, e);
    }
    if !errors.is_empty() {
        obs.error = Some(errors.join("; "));
    }
    for c in &checked.shards {
        obs.warnings.extend(c.warnings.iter().map(|w| format!("shard {}: {w}", c.shard.index)));
    }
    keep_protocol_hints(obs, checked);
}

/// The shards' hints about a protocol nobody named (noticed by the
/// transport, so not in the details the merge judges again), each once.
fn keep_protocol_hints(obs: &mut Observation, checked: &check::Shards) {
    for c in &checked.shards {
        let lines = c.report.get("diagnosis").and_then(serde_json::Value::as_array).into_iter().flatten();
        for line in lines.filter_map(serde_json::Value::as_str) {
            if crate::net::app::Detections::is_hint(line) && !obs.diagnosis.iter().any(|l| l == line) {
                obs.diagnosis.push(line.to_string());
            }
        }
    }
}
