//! Reading a report defensively: typed accessors over `serde_json::Value`
//! that return `None` for absent or mistyped fields, the percentile
//! objects (`{p50,p90,p99,p999,max,count}`) and the flat list of scalar
//! "figures" that both renderers show, and number formatting.

use serde_json::Value;

/// The header fields every report has; they are shown apart, not as figures.
const HEADER: &[&str] = &[
    "command",
    "target",
    "verdict",
    "findings",
    "diagnosis",
    "warnings",
    "error",
    "interrupted",
    "merged_from",
    "elapsed_s",
    "started_at",
    "ended_at",
    "wsprobe_version",
    "shard",
];

/// At most this many figures are listed (a report with huge maps stays small).
const MAX_FIGURES: usize = 80;

/// A number field (`null`, absent or not a number: `None`).
pub(crate) fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|x| x.is_finite())
}

/// A string field.
pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An array field (absent or not an array: empty).
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The latency percentiles of one measurement, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Pcts {
    /// Median, 90th, 99th and 99.9th percentile, then the maximum.
    pub values: [Option<f64>; 5],
    /// Number of samples, when given.
    pub count: Option<f64>,
}

/// Column headings of [`Pcts::values`].
pub(crate) const PCT_NAMES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

/// `v` read as a percentile object: it needs `p50` and `max`.
pub(crate) fn pcts(v: &Value) -> Option<Pcts> {
    num(v, "p50")?;
    num(v, "max")?;
    let values = ["p50", "p90", "p99", "p999", "max"].map(|k| num(v, k));
    Some(Pcts { values, count: num(v, "count") })
}

/// Every top-level percentile object of the report, by field name
/// (`handshake_ms`, `latency_ms`...), with zero-sample ones left out.
pub(crate) fn percentile_fields(report: &Value) -> Vec<(String, Pcts)> {
    let Some(map) = report.as_object() else { return Vec::new() };
    map.iter().filter_map(|(k, v)| pcts(v).map(|p| (k.clone(), p))).filter(|(_, p)| p.count != Some(0.0)).collect()
}

/// True for a string that carries data, not words (an HdrHistogram, base64).
fn is_blob(s: &str) -> bool {
    s.starts_with("HIST") || (s.len() > 160 && !s.contains(' '))
}

/// A scalar shown as text; `None` for what is not a scalar or is a blob.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("—".to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        Value::Number(n) => n.as_f64().map(fmt_num),
        Value::String(s) if !is_blob(s) => Some(s.clone()),
        _ => None,
    }
}

/// The report's scalar fields as (name, value), one level of objects
/// flattened (`inferred.burst`); header fields, arrays, percentile
/// objects, objects with an `outcome` and blobs are left out.
pub(crate) fn figures(report: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = report.as_object() else { return out };
    for (key, v) in map.iter().filter(|(k, _)| !HEADER.contains(&k.as_str())) {
        match v {
            Value::Object(inner) if pcts(v).is_none() && inner.get("outcome").is_none() => {
                for (k2, v2) in inner {
                    if let Some(s) = scalar(v2) {
                        out.push((format!("{key}.{k2}"), s));
                    }
                }
            }
            Value::Object(_) | Value::Array(_) => {}
            _ => out.extend(scalar(v).map(|s| (key.clone(), s))),
        }
    }
    out.truncate(MAX_FIGURES);
    out
}

/// A number for people: integers as such, others with up to 3 decimals
/// (trailing zeros trimmed), large values with thousands kept whole.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let decimals = if x.abs() >= 100.0 {
        1
    } else if x.abs() >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A duration in milliseconds for people (`0.058 ms`, `24.5 ms`, `1.20 s`).
pub(crate) fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", fmt_num(ms / 1000.0))
    } else {
        format!("{} ms", fmt_num(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accessors_are_none_for_absent_and_mistyped_fields() {
        let v = json!({"a": 1.5, "b": "x", "c": [1], "d": null});
        assert_eq!(num(&v, "a"), Some(1.5));
        assert_eq!(num(&v, "b"), None);
        assert_eq!(num(&v, "d"), None);
        assert_eq!(text(&v, "b"), Some("x"));
        assert_eq!(arr(&v, "c").len(), 1);
        assert!(arr(&v, "a").is_empty());
    }

    #[test]
    fn percentile_objects_are_found_and_empty_ones_dropped() {
        let v = json!({"handshake_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0, "p999": 4.0, "max": 5.0, "count": 9},
                        "rtt_ms": {"p50": 0.0, "max": 0.0, "count": 0}, "other": {"p50": 1}});
        let p = percentile_fields(&v);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "handshake_ms");
        assert_eq!(p[0].1.values, [Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]);
    }

    #[test]
    fn figures_flatten_one_level_and_skip_blobs_and_headers() {
        let v = json!({"command": "storm", "clients": 200, "recovery_s": null, "histogram": "HISTEwAAAA",
                        "inferred": {"burst": 3, "slots_reused": true}, "attempts": [1, 2],
                        "first": {"outcome": "open"}, "handshake_ms": {"p50": 1.0, "max": 2.0}});
        let f = figures(&v);
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["clients", "inferred.burst", "inferred.slots_reused", "recovery_s"]);
        assert_eq!(f[2].1, "yes");
        assert_eq!(f[3].1, "—");
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(fmt_num(200.0), "200");
        assert_eq!(fmt_num(23.663), "23.66");
        assert_eq!(fmt_num(0.0581), "0.058");
        assert_eq!(fmt_num(7930.26), "7930.3");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-0.0001), "0");
        assert_eq!(fmt_ms(1200.0), "1.2 s");
        assert_eq!(fmt_ms(0.058), "0.058 ms");
    }
}
