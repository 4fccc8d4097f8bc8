//! Connection survival: the share of connections still open against the
//! time since they opened (a Kaplan–Meier estimate). Closes come from
//! `closes[].after_s`; the population is `connections` (or `clients`); the
//! connections still open at the end are censored at their age then
//! (`duration_s`/`elapsed_s` minus their client's last `at_s`). A cliff
//! (many connections dying at the same age) reads as a timeout.

use serde_json::Value;

use super::Chart;
use crate::render::fields::{arr, fmt_num, num};
use crate::render::series::{minmax, time_unit, MAX_LINE_POINTS};
use crate::render::svg::{Axis, Plot, Swatch};

/// A drop of at least this share within [`CLIFF_SPAN`] of the x span is called a cliff.
const CLIFF_SHARE: f64 = 0.3;
/// The width of a cliff, as a share of the x span.
const CLIFF_SPAN: f64 = 0.02;

/// Ages at close (events) and ages of connections still open at the end (censored).
fn ages(report: &Value) -> Option<(Vec<f64>, Vec<f64>)> {
    let closes = arr(report, "closes");
    let events: Vec<f64> = closes.iter().filter_map(|c| num(c, "after_s")).collect();
    if events.is_empty() {
        return None;
    }
    let population = num(report, "connections").or(num(report, "clients")).unwrap_or(0.0) as usize;
    let open_left = population.saturating_sub(events.len()).min(1_000_000);
    let end = num(report, "duration_s").or(num(report, "elapsed_s")).unwrap_or(0.0);
    let clients = (num(report, "clients").unwrap_or(0.0) as usize).min(1_000_000);
    let mut last_at = vec![None; clients];
    for c in closes {
        if let (Some(i), Some(at)) = (num(c, "client").map(|i| i as usize), num(c, "at_s")) {
            if let Some(slot) = last_at.get_mut(i) {
                *slot = Some(at.max(slot.unwrap_or(0.0)));
            }
        }
    }
    let mut censored: Vec<f64> = last_at.iter().map(|l| l.map_or(end, |at| (end - at).max(0.0))).collect();
    censored.truncate(open_left);
    censored.resize(open_left, end);
    Some((events, censored))
}

/// The Kaplan–Meier curve as a step line: (age, share still open).
pub(crate) fn kaplan_meier(mut events: Vec<f64>, mut censored: Vec<f64>) -> Vec<(f64, f64)> {
    events.sort_by(f64::total_cmp);
    censored.sort_by(f64::total_cmp);
    let mut at_risk = (events.len() + censored.len()) as f64;
    let (mut s, mut ci) = (1.0, 0usize);
    let mut out = vec![(0.0, 1.0)];
    let mut i = 0;
    while i < events.len() {
        let t = events[i];
        while ci < censored.len() && censored[ci] < t {
            at_risk -= 1.0;
            ci += 1;
        }
        let d = events[i..].iter().take_while(|e| **e == t).count();
        out.push((t, s));
        s *= 1.0 - d as f64 / at_risk.max(d as f64);
        out.push((t, s));
        at_risk -= d as f64;
        i += d;
    }
    let end = censored.last().copied().unwrap_or(0.0).max(events.last().copied().unwrap_or(0.0));
    out.push((end, s));
    out
}

/// The steepest drop: (age, share lost) when it is a cliff.
fn cliff(curve: &[(f64, f64)], span: f64) -> Option<(f64, f64)> {
    let window = span * CLIFF_SPAN;
    let mut best: Option<(f64, f64)> = None;
    for (i, a) in curve.iter().enumerate() {
        let drop = curve[i..].iter().take_while(|b| b.0 - a.0 <= window).map(|b| a.1 - b.1).fold(0.0, f64::max);
        if drop >= CLIFF_SHARE && best.is_none_or(|b| drop > b.1) {
            best = Some((a.0, drop));
        }
    }
    best
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    let Some((events, censored)) = ages(report) else { return };
    let (n, c) = (events.len(), censored.len());
    let curve = kaplan_meier(events, censored);
    let span = curve.last().map_or(1.0, |p| p.0).max(1e-3);
    let (div, unit) = time_unit(span);
    let pts: Vec<(f64, f64)> = minmax(&curve, MAX_LINE_POINTS).iter().map(|(t, s)| (t / div, s * 100.0)).collect();
    let x_label = format!("time since the connection opened ({unit})");
    let mut p = Plot::new(
        "Connection survival",
        Axis::linear(0.0, span / div),
        Axis::linear_exact(0.0, 100.0),
        &x_label,
        "still open (%)",
    );
    p.area(&pts, "c0");
    p.line(&pts, "c0", "share still open");
    p.legend("share of connections still open", "c0", Swatch::Line);
    let mut caption = format!("Kaplan–Meier estimate from {n} closes (closes[].after_s) and {c} still open at the end (censored at their age then).");
    if let Some((t, drop)) = cliff(&curve, span) {
        let label = format!("cliff: {}% closed at {} s", fmt_num((drop * 100.0).round()), fmt_num(t));
        p.note((t / div, 100.0 - 2.0), &label);
        caption
            .push_str(&format!(" A cliff at {} s (connections dying at the same age) reads as a timeout.", fmt_num(t)));
    }
    out.push(Chart::new("Connection survival", caption, p.finish()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kaplan_meier_steps_down_at_each_close() {
        let curve = kaplan_meier(vec![1.0, 1.0, 2.0], vec![3.0]);
        assert_eq!(curve, [(0.0, 1.0), (1.0, 1.0), (1.0, 0.5), (2.0, 0.5), (2.0, 0.25), (3.0, 0.25)]);
    }

    #[test]
    fn connections_censored_before_a_close_leave_the_risk_set() {
        let curve = kaplan_meier(vec![1.0; 4], vec![0.99]);
        assert_eq!(curve.last().map(|p| p.1), Some(0.0));
    }

    #[test]
    fn reconnecting_clients_are_censored_at_their_last_age() {
        let closes: Vec<Value> =
            [1.0, 2.0, 3.0, 4.0].map(|at| json!({"client": 0, "after_s": 1.0, "at_s": at})).to_vec();
        let r = json!({"clients": 1, "connections": 5, "duration_s": 5.0, "closes": closes});
        let (events, censored) = ages(&r).expect("ages");
        assert_eq!(events.len(), 4);
        assert_eq!(censored, [1.0]);
    }

    #[test]
    fn a_cliff_is_found_and_a_slope_is_not() {
        let curve = kaplan_meier(vec![1.0; 8], vec![5.0; 2]);
        let (t, drop) = cliff(&curve, 5.0).expect("a cliff");
        assert_eq!(t, 1.0);
        assert!((drop - 0.8).abs() < 1e-9);
        let slope = kaplan_meier((1..=10).map(|i| i as f64).collect(), vec![]);
        assert_eq!(cliff(&slope, 10.0), None);
    }
}
