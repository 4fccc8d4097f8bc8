//! The herd over time, from the per-second `timeline` (`at`, `attempts`,
//! `accepted`, `rejected{}`, `open`, `handshake`): open connections with
//! attempts per second stacked by outcome, and handshake percentiles per
//! second from the per-second histograms. Without a timeline, the
//! `attempts_per_s` array still gives the attempts bars.

use serde_json::Value;

use super::{outcome_colours, slot, top_names, Chart};
use crate::render::fields::{arr, fmt_num, num, text};
use crate::render::hdr;
use crate::render::series::{minmax, seconds_per_bin, split_gaps, time_unit, MAX_BARS, MAX_LINE_POINTS};
use crate::render::svg::{Axis, Plot, Swatch};

/// One second of the timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Second {
    /// Seconds since the first entry.
    pub t: f64,
    /// Connection attempts started.
    pub attempts: f64,
    /// Attempts accepted.
    pub accepted: f64,
    /// Rejected attempts by outcome.
    pub rejected: Vec<(String, f64)>,
    /// Open connections (`None` when not given).
    pub open: Option<f64>,
    /// Closes by cause.
    pub closes: Vec<(String, f64)>,
    /// Handshake histogram of the second (base64), if any.
    pub handshake: Option<String>,
}

/// Numbers of a `{"name": n}` map.
fn counts(v: Option<&Value>) -> Vec<(String, f64)> {
    let Some(map) = v.and_then(Value::as_object) else { return Vec::new() };
    map.iter().filter_map(|(k, n)| n.as_f64().filter(|x| x.is_finite() && *x > 0.0).map(|x| (k.clone(), x))).collect()
}

/// The timeline sorted by time (entries of the same second added up) and
/// the absolute time of its first second; `None` without entries.
pub(crate) fn parse(report: &Value) -> Option<(f64, Vec<Second>)> {
    let mut rows: Vec<(f64, Second)> = arr(report, "timeline")
        .iter()
        .filter_map(|e| {
            let at = num(e, "at")?;
            let s = Second {
                attempts: num(e, "attempts").unwrap_or(0.0),
                accepted: num(e, "accepted").unwrap_or(0.0),
                rejected: counts(e.get("rejected")),
                open: num(e, "open"),
                closes: counts(e.get("closes")),
                handshake: text(e, "handshake").map(str::to_string),
                t: 0.0,
            };
            Some((at, s))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let at0 = rows.first()?.0;
    let mut out: Vec<Second> = Vec::with_capacity(rows.len());
    for (at, mut s) in rows {
        s.t = (at - at0).floor();
        match out.last_mut() {
            Some(last) if last.t == s.t => merge(last, s),
            _ => out.push(s),
        }
    }
    Some((at0, out))
}

/// Adds `s` into `into` (two shards' entries for the same second).
fn merge(into: &mut Second, s: Second) {
    into.attempts += s.attempts;
    into.accepted += s.accepted;
    into.rejected.extend(s.rejected);
    into.closes.extend(s.closes);
    into.open = match (into.open, s.open) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    into.handshake = into.handshake.take().or(s.handshake);
}

/// Where second 0 is, for captions: an RFC 3339 time for plausible Unix seconds.
pub(crate) fn origin(at0: f64) -> String {
    if (1.0..1e11).contains(&at0) {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at0 as u64);
        format!("t = 0 at {} UTC", humantime::format_rfc3339_seconds(t).to_string().trim_end_matches('Z'))
    } else {
        "t = 0 at the first second".to_string()
    }
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    match parse(report) {
        Some((at0, secs)) => {
            out.extend(herd(&secs, at0, num(report, "clients")));
            out.extend(handshake_per_second(&secs, at0));
        }
        None => out.extend(attempts_per_s(report)),
    }
}

/// The x axis shared by the timeline panels: span in seconds → (axis, unit div, label).
fn time_axis(span_s: f64) -> (Axis, f64, String) {
    let (div, unit) = time_unit(span_s);
    (Axis::linear(0.0, span_s / div), div, format!("time since start ({unit})"))
}

/// Open connections over attempts per second by outcome.
fn herd(secs: &[Second], at0: f64, clients: Option<f64>) -> Option<Chart> {
    let span = secs.last()?.t + 1.0;
    let k = seconds_per_bin(span as usize, MAX_BARS) as f64;
    let (axis, div, x_label) = time_axis(span);
    let mut svgs = Vec::new();
    let open: Vec<(f64, f64)> = secs.iter().filter_map(|s| s.open.map(|o| ((s.t + 0.5) / div, o))).collect();
    if !open.is_empty() {
        let peak = open.iter().map(|p| p.1).fold(1.0, f64::max);
        let max = peak.max(clients.unwrap_or(0.0));
        let mut p = Plot::new("Open connections", axis.clone(), Axis::linear(0.0, max), &x_label, "open connections")
            .height(190.0);
        for run in split_gaps(&minmax(&open, MAX_LINE_POINTS), 1.5 * k / div) {
            p.area(&run, "c0");
            p.line(&run, "c0", &format!("open connections, peak {peak}"));
        }
        p.legend("open connections", "c0", Swatch::Line);
        if let Some(c) = clients {
            p.hline(c, "cmuted", &format!("{c} clients"));
        }
        svgs.push(p.finish());
    }
    svgs.push(attempts_panel(secs, k, axis, div, &x_label)?);
    let per = if k > 1.0 {
        format!("each bar shows the busiest second of its {k} s")
    } else {
        "one bar per second".to_string()
    };
    let caption = format!(
        "From timeline: open connections (top) and attempts per second by outcome (bottom); {per}; {}.",
        origin(at0)
    );
    Some(Chart { title: "Open connections and attempts per second".to_string(), caption, svgs })
}

/// Attempts per second stacked by outcome; when a bar stands for `k` > 1
/// seconds it shows the busiest of them (a herd's peak must not be averaged away).
fn attempts_panel(secs: &[Second], k: f64, axis: Axis, div: f64, x_label: &str) -> Option<String> {
    let rejected = secs.iter().flat_map(|s| s.rejected.iter().cloned());
    let mut names = vec!["accepted".to_string()];
    names.extend(top_names(rejected, 5, "other rejections"));
    names.push("unclassified".to_string());
    let bins = (secs.last()?.t / k) as usize + 1;
    let mut stacks = vec![vec![0.0; names.len()]; bins];
    for s in secs {
        let mut row = vec![0.0; names.len()];
        row[0] = s.accepted;
        for (name, n) in &s.rejected {
            row[slot(&names[..names.len() - 1], name).max(1)] += n;
        }
        let classified: f64 = row.iter().sum();
        row[names.len() - 1] = (s.attempts - classified).max(0.0);
        let bar = &mut stacks[(s.t / k) as usize];
        if row.iter().sum::<f64>() > bar.iter().sum::<f64>() {
            *bar = row;
        }
    }
    let max = stacks.iter().map(|r| r.iter().sum::<f64>()).fold(0.0, f64::max);
    if max <= 0.0 {
        return None;
    }
    let mut p = Plot::new("Attempts per second", axis, Axis::counts(max), x_label, "attempts per second").height(210.0);
    let mut colours = outcome_colours(&names);
    colours[names.len() - 1] = "cmuted".to_string();
    draw_stacks(&mut p, &stacks, k / div, &names, &colours);
    Some(p.finish())
}

/// Stacked bars, bar `i` at `i * width`, plus the legend of used series.
pub(crate) fn draw_stacks(p: &mut Plot, stacks: &[Vec<f64>], width: f64, names: &[String], colours: &[String]) {
    let gap = match stacks.len() {
        0..=9 => width * 0.25,
        10..=60 => width * 0.08,
        _ => 0.0,
    };
    let mut used = vec![false; names.len()];
    for (i, row) in stacks.iter().enumerate() {
        let x0 = i as f64 * width;
        let mut y = 0.0;
        for (j, v) in row.iter().enumerate().filter(|(_, v)| **v > 0.0) {
            let tip = format!("{}–{}: {} {}", fmt_num(x0), fmt_num(x0 + width), fmt_num(*v), names[j]);
            p.rect((x0 + gap, x0 + width - gap), (y, y + v), &format!("bar {}", colours[j]), &tip);
            y += v;
            used[j] = true;
        }
    }
    for (j, name) in names.iter().enumerate().filter(|(j, _)| used[*j]) {
        p.legend(name, &colours[j], Swatch::Fill);
    }
}

/// p50/p90/p99/max of the handshake per bin of seconds.
fn handshake_per_second(secs: &[Second], at0: f64) -> Option<Chart> {
    let span = secs.last()?.t + 1.0;
    let k = seconds_per_bin(span as usize, MAX_LINE_POINTS / 4) as f64;
    let (axis, div, x_label) = time_axis(span);
    let mut bins: Vec<(f64, Vec<hdr::Hist>)> = Vec::new();
    for s in secs {
        let Some(h) = s.handshake.as_deref().and_then(hdr::decode_nonempty) else { continue };
        let t = (s.t / k).floor() * k;
        match bins.last_mut() {
            Some((bt, hs)) if *bt == t => hs.push(h),
            _ => bins.push((t, vec![h])),
        }
    }
    let rows: Vec<(f64, [f64; 5])> = bins
        .iter()
        .filter_map(|(t, hs)| hdr::sum(hs.iter()).map(|h| ((t + k / 2.0) / div, hdr::percentiles_ms(&h))))
        .collect();
    let lo = rows.iter().map(|r| r.1[0]).fold(f64::INFINITY, f64::min);
    let hi = rows.iter().map(|r| r.1[4]).fold(0.0, f64::max);
    if rows.is_empty() {
        return None;
    }
    let mut p = Plot::new("Handshake latency per second", axis, Axis::auto(lo, hi, 20.0), &x_label, "handshake (ms)");
    for (name, idx, class) in [("p50", 0, "c0"), ("p90", 1, "c2"), ("p99", 2, "c1"), ("max", 4, "c4")] {
        let pts: Vec<(f64, f64)> = rows.iter().map(|(t, v)| (*t, v[idx])).collect();
        for run in split_gaps(&pts, 1.5 * k / div) {
            match run.as_slice() {
                [single] => p.dot(*single, 2.5, &format!("dot {class}"), &format!("{name} {} ms", fmt_num(single.1))),
                _ => p.line(&run, class, name),
            }
        }
        if pts.len() <= 40 {
            for pt in &pts {
                p.dot(*pt, 2.5, &format!("dot {class}"), &format!("{name} {} ms", fmt_num(pt.1)));
            }
        }
        p.legend(name, class, Swatch::Line);
    }
    let per = if k > 1.0 { format!("per {k} s (histograms added exactly)") } else { "per second".to_string() };
    let caption = format!("From timeline[].handshake histograms: percentiles {per}; {}.", origin(at0));
    Some(Chart::new("Handshake latency per second", caption, p.finish()))
}

/// Attempts per second from the plain `attempts_per_s` array.
fn attempts_per_s(report: &Value) -> Option<Chart> {
    let values: Vec<f64> = arr(report, "attempts_per_s").iter().map(|v| v.as_f64().unwrap_or(0.0)).collect();
    let max = values.iter().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return None;
    }
    let k = seconds_per_bin(values.len(), MAX_BARS);
    let stacks: Vec<Vec<f64>> = values.chunks(k).map(|c| vec![c.iter().sum::<f64>() / k as f64]).collect();
    let span = values.len() as f64;
    let (axis, div, x_label) = time_axis(span);
    let mut p = Plot::new("Connection attempts per second", axis, Axis::counts(max), &x_label, "attempts per second")
        .height(if values.len() < 10 { 180.0 } else { 240.0 });
    draw_stacks(&mut p, &stacks, k as f64 / div, &["attempts".to_string()], &["c0".to_string()]);
    let caption = "From attempts_per_s (whole seconds since the start). This report has no per-second timeline, so open connections and per-second latency cannot be drawn.";
    Some(Chart::new("Connection attempts per second", caption, p.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hdr::tests::encode;
    use serde_json::json;

    fn second(at: u64, attempts: u64, open: u64) -> Value {
        json!({"at": at, "attempts": attempts, "accepted": attempts, "rejected": {}, "open": open, "closes": {}})
    }

    #[test]
    fn shards_of_one_second_add_up_and_entries_sort() {
        let r = json!({"timeline": [second(1002, 5, 50), second(1000, 1, 10), second(1000, 2, 20), {"attempts": 9}]});
        let (at0, secs) = parse(&r).expect("a timeline");
        assert_eq!(at0, 1000.0);
        let got: Vec<(f64, f64, Option<f64>)> = secs.iter().map(|s| (s.t, s.attempts, s.open)).collect();
        assert_eq!(got, [(0.0, 3.0, Some(30.0)), (2.0, 5.0, Some(50.0))]);
        assert!(parse(&json!({"timeline": []})).is_none());
    }

    #[test]
    fn a_long_run_keeps_its_busiest_second() {
        let mut tl: Vec<Value> = (0..600).map(|t| second(t, 10, 100)).collect();
        tl[333] = second(333, 1000, 100);
        let mut out = Vec::new();
        charts(&json!({"timeline": tl}), &mut out);
        let attempts = &out[0].svgs[1];
        assert!(attempts.contains(": 1000 accepted"), "the spike survives the 5 s bars");
        assert!(attempts.matches("<rect class=\"bar").count() <= MAX_BARS);
    }

    #[test]
    fn latency_lines_do_not_bridge_seconds_without_handshakes() {
        let tl: Vec<Value> = [0, 1, 10, 11]
            .map(|t| json!({"at": t, "attempts": 1, "accepted": 1, "handshake": encode([1000 + t * 100])}))
            .to_vec();
        let mut out = Vec::new();
        charts(&json!({"timeline": tl}), &mut out);
        let latency = out.iter().find(|c| c.title == "Handshake latency per second").expect("latency chart");
        assert_eq!(latency.svgs[0].matches("<polyline").count(), 8, "4 percentiles × 2 runs");
    }

    #[test]
    fn without_a_timeline_attempts_per_s_still_draws() {
        let mut out = Vec::new();
        charts(&json!({"attempts_per_s": [0, 0]}), &mut out);
        assert!(out.is_empty());
        charts(&json!({"attempts_per_s": [700, 200]}), &mut out);
        assert_eq!(out[0].title, "Connection attempts per second");
    }

    #[test]
    fn origin_names_the_utc_second() {
        assert_eq!(origin(1_764_590_400.0), "t = 0 at 2025-12-01T12:00:00 UTC");
        assert_eq!(origin(3.0), "t = 0 at 1970-01-01T00:00:03 UTC");
        assert_eq!(origin(-5.0), "t = 0 at the first second");
    }
}
