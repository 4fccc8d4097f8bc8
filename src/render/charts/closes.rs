//! Closes over time, stacked by cause: from the close records (`closes[]`
//! with `code`, `reason`, `abnormal` and `at_s`, or `after_s` when a record
//! has no `at_s`), or from the timeline's per-second `closes{cause: n}`.

use serde_json::Value;

use super::timeline::{draw_stacks, origin, parse};
use super::{colour, slot, top_names, Chart};
use crate::render::escape::clip;
use crate::render::fields::{arr, fmt_num, num, text};
use crate::render::series::{bin_width, seconds_per_bin, time_unit, MAX_BARS};
use crate::render::svg::{Axis, Plot};

/// Causes shown apart; the rest are folded into "other".
const MAX_CAUSES: usize = 6;
/// At most this many bins on the close-record chart.
const MAX_BINS: usize = 60;

/// The cause of one close record, as people read it (`4001 "token expired"`).
pub(crate) fn cause(close: &Value) -> String {
    let code = num(close, "code").map_or("no code".to_string(), fmt_num);
    let reason = text(close, "reason").filter(|r| !r.is_empty());
    match (reason, close.get("abnormal").and_then(Value::as_bool)) {
        (Some(r), _) => format!("{code} \"{}\"", clip(r, 32)),
        (None, Some(true)) => format!("{code} (no close frame)"),
        (None, _) => code,
    }
}

/// Colours of the causes in turn (pink first: the palette's alarm colour
/// after red, which is kept for failed phases and cross-talk).
fn cause_colours(n: usize) -> Vec<String> {
    (0..n).map(|i| colour([4, 3, 2, 5, 6, 7, 1][i % 7])).collect()
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    let chart = if arr(report, "closes").is_empty() { from_timeline(report) } else { from_records(report) };
    out.extend(chart);
}

/// Binned close records.
fn from_records(report: &Value) -> Option<Chart> {
    let closes = arr(report, "closes");
    let by_at = closes.iter().all(|c| num(c, "at_s").is_some());
    let key = if by_at { "at_s" } else { "after_s" };
    let events: Vec<(f64, String)> = closes.iter().filter_map(|c| Some((num(c, key)?, cause(c)))).collect();
    if events.is_empty() {
        return None;
    }
    let last = events.iter().map(|e| e.0).fold(0.0, f64::max);
    let end = if by_at { num(report, "duration_s").or(num(report, "elapsed_s")).unwrap_or(0.0) } else { 0.0 };
    let span = last.max(end).max(1e-3) * 1.0001;
    let (div, unit) = time_unit(span);
    let width = bin_width(span, MAX_BINS);
    let names = top_names(events.iter().map(|e| (e.1.clone(), 1.0)), MAX_CAUSES, "other");
    let mut stacks = vec![vec![0.0; names.len()]; ((span / width).ceil() as usize).max(1)];
    for (t, c) in &events {
        let i = ((t / width) as usize).min(stacks.len() - 1);
        stacks[i][slot(&names, c)] += 1.0;
    }
    let (x_label, note) = if by_at {
        (format!("time since start ({unit})"), "closes by the time they happened")
    } else {
        (format!("time since the connection opened ({unit})"), "records have no at_s, so closes are placed by after_s")
    };
    let max = stacks.iter().map(|r| r.iter().sum::<f64>()).fold(0.0, f64::max);
    let y_label = format!("closes per {} {unit}", fmt_num(width / div));
    let mut p = Plot::new("Closes over time", Axis::linear(0.0, span / div), Axis::counts(max), &x_label, &y_label);
    let colours = cause_colours(names.len());
    draw_stacks(&mut p, &stacks, width / div, &names, &colours);
    let caption = format!("From closes[] ({} records): {note}, stacked by close code and reason.", events.len());
    Some(Chart::new("Closes over time", caption, p.finish()))
}

/// Per-second closes by cause from the timeline.
fn from_timeline(report: &Value) -> Option<Chart> {
    let (at0, secs) = parse(report)?;
    let names = top_names(secs.iter().flat_map(|s| s.closes.iter().cloned()), MAX_CAUSES, "other");
    if names.is_empty() {
        return None;
    }
    let span = secs.last()?.t + 1.0;
    let k = seconds_per_bin(span as usize, MAX_BARS) as f64;
    let mut stacks = vec![vec![0.0; names.len()]; (span / k).ceil() as usize];
    for s in &secs {
        for (c, n) in &s.closes {
            stacks[(s.t / k) as usize][slot(&names, c)] += n;
        }
    }
    let (div, unit) = time_unit(span);
    let max = stacks.iter().map(|r| r.iter().sum::<f64>()).fold(0.0, f64::max);
    let y_label = format!("closes per {} s", fmt_num(k));
    let x_label = format!("time since start ({unit})");
    let mut p = Plot::new("Closes over time", Axis::linear(0.0, span / div), Axis::counts(max), &x_label, &y_label);
    let colours = cause_colours(names.len());
    draw_stacks(&mut p, &stacks, k / div, &names, &colours);
    let caption = format!("From timeline[].closes: closes per {} s stacked by cause; {}.", fmt_num(k), origin(at0));
    Some(Chart::new("Closes over time", caption, p.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn causes_read_as_code_and_reason() {
        assert_eq!(cause(&json!({"code": 4001, "reason": "token expired"})), "4001 \"token expired\"");
        assert_eq!(cause(&json!({"code": 1006, "reason": "", "abnormal": true})), "1006 (no close frame)");
        assert_eq!(cause(&json!({})), "no code");
    }

    #[test]
    fn records_are_binned_by_at_s_or_after_s() {
        let r = json!({"duration_s": 4.0, "closes": [{"code": 1006, "at_s": 1.0}, {"code": 1006, "at_s": 2.0}]});
        let c = from_records(&r).expect("chart");
        assert!(c.caption.contains("by the time they happened"));
        let r = json!({"closes": [{"code": 1000, "after_s": 1.0}]});
        assert!(from_records(&r).expect("chart").caption.contains("after_s"));
    }
}
