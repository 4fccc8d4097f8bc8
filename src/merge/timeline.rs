//! Shards' timelines on one clock: every Unix second from the earliest to
//! the latest, each shard's numbers added in (attempts, accepted,
//! rejections and closes by kind, the handshake histograms), and open
//! connections as the sum of what each shard had open at the end of that
//! second (a shard's last count carries over the seconds it has no entry
//! for; before its first, it had none open).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::Checked;
use crate::check::mergeable::histogram;
use crate::stats::latency::Latency;
use crate::stats::timeline::{Second, MAX_SECONDS};

/// The shards' timelines added up, second by second.
pub fn add(shards: &[Checked<'_>]) -> Result<Vec<Second>, String> {
    let mut read: Vec<(&str, Vec<Second>)> = Vec::new();
    for c in shards {
        read.push((&c.source, seconds(&c.source, c.report)?));
    }
    let first = read.iter().filter_map(|(_, s)| s.first()).map(|s| s.at).min();
    let last = read.iter().filter_map(|(_, s)| s.last()).map(|s| s.at).max();
    let (Some(first), Some(last)) = (first, last) else { return Ok(Vec::new()) };
    if last - first >= MAX_SECONDS as i64 {
        return Err(format!(
            "the shards' timelines span {} s, more than the {MAX_SECONDS} s one report holds: were they one run?",
            last - first + 1
        ));
    }
    let mut out: Vec<Second> = (first..=last).map(|at| Second { at, ..Second::default() }).collect();
    let mut hists: Vec<Option<Latency>> = vec![None; out.len()];
    for (source, secs) in &read {
        add_one(source, secs, first, &mut out, &mut hists)?;
    }
    for (s, h) in out.iter_mut().zip(hists) {
        s.handshake = h.map(|h| h.to_base64());
    }
    Ok(out)
}

fn seconds(source: &str, report: &Value) -> Result<Vec<Second>, String> {
    let Some(t) = report.get("timeline") else { return Ok(Vec::new()) };
    let mut secs = Vec::<Second>::deserialize(t).map_err(|e| format!("{source}: timeline: {e}"))?;
    secs.sort_by_key(|s| s.at);
    Ok(secs)
}

fn add_one(
    source: &str,
    secs: &[Second],
    first: i64,
    out: &mut [Second],
    hists: &mut [Option<Latency>],
) -> Result<(), String> {
    let Some(start) = secs.first().map(|s| (s.at - first) as usize) else { return Ok(()) };
    let mut by_at = secs.iter().peekable();
    let mut open = 0;
    for (i, slot) in out.iter_mut().enumerate().skip(start) {
        while let Some(s) = by_at.next_if(|s| s.at == slot.at) {
            open = s.open;
            slot.attempts += s.attempts;
            slot.accepted += s.accepted;
            add_map(&mut slot.rejected, &s.rejected);
            add_map(&mut slot.closes, &s.closes);
            if let Some(text) = &s.handshake {
                let h = histogram(source, &format!("timeline[at={}].handshake", s.at), text)?;
                let sum = hists[i].get_or_insert_with(Latency::new);
                sum.merge(&h).map_err(|e| format!("{source}: timeline: {e}"))?;
            }
        }
        slot.open += open;
    }
    Ok(())
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(at: i64, attempts: u64, open: i64) -> Second {
        Second { at, attempts, accepted: attempts, open, ..Second::default() }
    }

    #[test]
    fn seconds_align_and_open_counts_carry_over() {
        let a = vec![sec(100, 2, 2), sec(101, 1, 3), sec(103, 0, 0)];
        let b = vec![sec(101, 5, 5)];
        let mut out: Vec<Second> = (100..=103).map(|at| Second { at, ..Second::default() }).collect();
        let mut hists = vec![None; 4];
        add_one("a", &a, 100, &mut out, &mut hists).unwrap();
        add_one("b", &b, 100, &mut out, &mut hists).unwrap();
        let got: Vec<(u64, i64)> = out.iter().map(|s| (s.attempts, s.open)).collect();
        assert_eq!(got, [(2, 2), (6, 8), (0, 8), (0, 5)]);
    }
}
