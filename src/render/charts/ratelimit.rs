//! Connection attempts on a time line, one lane per outcome: `attempts[]`
//! (`at_s`, `outcome`, optional `n`, `purpose`, `retry_after`), with the
//! inferred rate-limit window (`inferred.window_s` from the first attempt,
//! `inferred.burst`, `inferred.limit`) shaded and the concurrent cap
//! (`inferred.max_concurrent`, `inferred.slots_reused`) noted. Past a few
//! thousand attempts, each lane shows counts per time bin instead of dots.

use serde_json::Value;

use super::{outcome_colours, Chart};
use crate::render::fields::{arr, fmt_num, num, text};
use crate::render::series::{bin_counts, bin_width, time_unit};
use crate::render::svg::{Axis, Plot, Swatch};

/// Above this many attempts, lanes are drawn as binned counts.
const MAX_DOTS: usize = 1500;
/// Bins per lane when binned.
const LANE_BINS: usize = 200;

/// One attempt.
struct Attempt<'a> {
    at: f64,
    outcome: &'a str,
    v: &'a Value,
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    let attempts: Vec<Attempt> = arr(report, "attempts")
        .iter()
        .filter_map(|v| Some(Attempt { at: num(v, "at_s")?, outcome: text(v, "outcome")?, v }))
        .collect();
    if attempts.is_empty() {
        return;
    }
    let mut lanes: Vec<String> = Vec::new();
    for a in &attempts {
        if !lanes.iter().any(|l| l == a.outcome) {
            lanes.push(a.outcome.to_string());
        }
    }
    lanes.sort_by_key(|l| l != "accepted");
    lanes.truncate(12);
    let colours = outcome_colours(&lanes);
    let inferred = report.get("inferred").unwrap_or(&Value::Null);
    let window = num(inferred, "window_s");
    let last = attempts.iter().map(|a| a.at).fold(0.0, f64::max);
    let first = attempts.iter().map(|a| a.at).fold(f64::INFINITY, f64::min);
    let span = last.max(first + window.unwrap_or(0.0)).max(0.1) * 1.05;
    let (div, unit) = time_unit(span);
    let y = Axis::categories(lanes.clone());
    let height = 96.0 + 38.0 * lanes.len() as f64;
    let x_label = format!("time since the first attempt was due ({unit})");
    let mut p = Plot::new("Connection attempts by outcome", Axis::linear(0.0, span / div), y, &x_label, "outcome")
        .height(height.max(170.0));
    if let Some(w) = window {
        let label = window_label(inferred, w);
        p.band((first / div, (first + w) / div), &label, true);
    }
    if attempts.len() > MAX_DOTS {
        binned(&mut p, &attempts, &lanes, &colours, (span, div));
    } else {
        dots(&mut p, &attempts, &lanes, &colours, div);
    }
    for (lane, class) in lanes.iter().zip(&colours) {
        p.legend(lane, class, Swatch::Fill);
    }
    if attempts.len() <= MAX_DOTS && attempts.iter().any(|a| text(a.v, "purpose").is_some_and(|p| p != "scheduled")) {
        p.legend("a probe, not on the schedule", "cmuted", Swatch::Ring);
    }
    out.push(Chart::new("Connection attempts by outcome", caption(inferred, attempts.len()), p.finish()));
}

/// The band's label: `inferred window 1.15 s (burst 3, limit 3/1.15s)`.
fn window_label(inferred: &Value, w: f64) -> String {
    let mut parts = Vec::new();
    if let Some(b) = num(inferred, "burst") {
        parts.push(format!("burst {}", fmt_num(b)));
    }
    if let Some(l) = text(inferred, "limit") {
        parts.push(format!("limit {l}"));
    }
    let extra = if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) };
    format!("inferred window {} s{extra}", fmt_num(w))
}

/// The caption, with the inferred cap and slot reuse when known.
fn caption(inferred: &Value, n: usize) -> String {
    let mut s =
        format!("From attempts[] ({n} attempts): each attempt at the time it started, in the lane of its outcome");
    if num(inferred, "window_s").is_some() {
        s.push_str("; the shaded band is the inferred rate-limit window from the first attempt");
    }
    if let Some(cap) = num(inferred, "max_concurrent") {
        s.push_str(&format!("; concurrent cap {}", fmt_num(cap)));
    }
    match inferred.get("slots_reused").and_then(Value::as_bool) {
        Some(true) => s.push_str("; a freed slot was reused"),
        Some(false) => s.push_str("; a freed slot was NOT reused (a leaking counter)"),
        None => {}
    }
    s.push('.');
    s
}

/// One dot per attempt; attempts not `scheduled` (probes) drawn as rings.
fn dots(p: &mut Plot, attempts: &[Attempt], lanes: &[String], colours: &[String], div: f64) {
    for a in attempts {
        let Some(lane) = lanes.iter().position(|l| l == a.outcome) else { continue };
        let purpose = text(a.v, "purpose").filter(|p| *p != "scheduled");
        let mut tip = format!("{} s: {}", fmt_num(a.at), a.outcome);
        if let Some(n) = num(a.v, "n") {
            tip = format!("#{} at {tip}", fmt_num(n));
        }
        if let Some(r) = text(a.v, "retry_after") {
            tip.push_str(&format!(" (Retry-After {r})"));
        }
        if let Some(purpose) = purpose {
            tip.push_str(&format!(" [{purpose}]"));
        }
        let shape = if purpose.is_some() { "ring" } else { "dot" };
        p.dot((a.at / div, lane as f64), 5.0, &format!("{shape} {}", colours[lane]), &tip);
    }
}

/// Counts per time bin and lane, as bars whose height grows with the count.
fn binned(p: &mut Plot, attempts: &[Attempt], lanes: &[String], colours: &[String], (span, div): (f64, f64)) {
    let width = bin_width(span, LANE_BINS);
    for (lane, name) in lanes.iter().enumerate() {
        let counts = bin_counts(attempts.iter().filter(|a| a.outcome == name).map(|a| a.at), width, span);
        let max = counts.iter().copied().fold(1.0, f64::max);
        for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0.0) {
            let h = 0.15 + 0.3 * c / max;
            let (x0, x1) = (i as f64 * width / div, (i + 1) as f64 * width / div);
            let tip =
                format!("{}–{} s: {} {name}", fmt_num(i as f64 * width), fmt_num((i + 1) as f64 * width), fmt_num(*c));
            p.rect((x0, x1), (lane as f64 - h, lane as f64 + h), &format!("bar {}", colours[lane]), &tip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn window_label_names_burst_and_limit() {
        let i = json!({"burst": 3, "window_s": 1.152, "limit": "3/1.2s"});
        assert_eq!(window_label(&i, 1.152), "inferred window 1.15 s (burst 3, limit 3/1.2s)");
        assert_eq!(window_label(&json!({}), 2.0), "inferred window 2 s");
    }

    #[test]
    fn caption_says_when_a_slot_leaks() {
        let c = caption(&json!({"max_concurrent": 5, "slots_reused": false}), 9);
        assert!(c.contains("concurrent cap 5") && c.contains("NOT reused"), "{c}");
    }

    #[test]
    fn many_attempts_are_binned_not_dotted() {
        let attempts: Vec<Value> =
            (0..5000).map(|i| json!({"at_s": i as f64 / 100.0, "outcome": "accepted"})).collect();
        let mut out = Vec::new();
        charts(&json!({"attempts": attempts}), &mut out);
        let svg = &out[0].svgs[0];
        assert!(!svg.contains("<circle") && svg.matches("<rect").count() <= LANE_BINS + 20, "{}", svg.len());
    }
}
