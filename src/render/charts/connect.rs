//! One connection's phases as a waterfall: `steps[]` (`phase`, `ms`, `ok`,
//! `detail`), each phase starting where the previous one ended, so the
//! slow phase (DNS, TCP, TLS, upgrade, app handshake) stands out.

use serde_json::Value;

use super::Chart;
use crate::render::escape::clip;
use crate::render::fields::{arr, fmt_ms, fmt_num, num, text};
use crate::render::svg::{Axis, Plot, Swatch};

/// At most this many phases are drawn.
const MAX_STEPS: usize = 20;

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    let steps: Vec<(String, f64, bool, &str)> = arr(report, "steps")
        .iter()
        .take(MAX_STEPS)
        .filter_map(|s| {
            let ok = s.get("ok").and_then(Value::as_bool).unwrap_or(true);
            Some((text(s, "phase")?.to_string(), num(s, "ms")?.max(0.0), ok, text(s, "detail").unwrap_or("")))
        })
        .collect();
    let total: f64 = steps.iter().map(|s| s.1).sum();
    if steps.is_empty() || total <= 0.0 {
        return;
    }
    let lanes: Vec<String> = steps.iter().map(|s| s.0.clone()).collect();
    let height = 90.0 + 34.0 * lanes.len() as f64;
    let mut p = Plot::new(
        "Connection phases",
        Axis::linear(0.0, total),
        Axis::categories(lanes),
        "time since the start (ms)",
        "phase",
    )
    .height(height.max(170.0));
    let mut start = 0.0;
    for (i, (phase, ms, ok, detail)) in steps.iter().enumerate() {
        let class = if *ok { "bar c0" } else { "bar cbad" };
        let tip = format!("{phase}: {} from {} ms: {}", fmt_ms(*ms), fmt_num(start), clip(detail, 200));
        p.rect((start, start + ms), (i as f64 - 0.3, i as f64 + 0.3), class, &tip);
        p.note((start + ms, i as f64 - 0.3), &fmt_ms(*ms));
        start += ms;
    }
    p.legend("phase succeeded", "c0", Swatch::Fill);
    if steps.iter().any(|s| !s.2) {
        p.legend("phase failed", "cbad", Swatch::Fill);
    }
    let caption = format!("From steps[]: each phase of the connection in turn, {} in all.", fmt_ms(total));
    out.push(Chart::new("Connection phases", caption, p.finish()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn phases_without_times_draw_nothing() {
        let mut out = Vec::new();
        charts(&json!({"steps": [{"phase": "dns"}]}), &mut out);
        assert!(out.is_empty());
        charts(&json!({"steps": [{"phase": "dns", "ms": 1.0}, {"phase": "tcp", "ms": 3.0, "ok": false}]}), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].svgs[0].contains("phase failed"));
    }
}
