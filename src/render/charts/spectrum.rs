//! HdrHistogram percentile spectra: latency against percentile on the
//! nines axis (0% … 99.99%), one chart per measured quantity. A `histograms`
//! map (`handshake`, `reconnect_handshake`, `tcp_connect`...) overlays `X`
//! and `reconnect_X` in one chart; a lone top-level `histogram` is drawn
//! when there is no map (as fan-out delivery latency next to `delivered`);
//! with neither, the per-second `timeline[].handshake` histograms added up.

use serde_json::Value;

use super::Chart;
use crate::render::fields::{fmt_num, text};
use crate::render::hdr::{self, Hist};
use crate::render::svg::{Axis, Plot, Swatch};

/// The nines axis runs to 99.99%.
const MAX_NINES: f64 = 4.0;
/// Points per spectrum line.
const STEPS: usize = 120;
/// The percentiles marked with a read-out dot: (nines, label).
const MARKS: [(f64, &str); 5] =
    [(std::f64::consts::LOG10_2, "p50"), (1.0, "p90"), (2.0, "p99"), (3.0, "p99.9"), (4.0, "p99.99")];

/// `snake_case` as words, transport acronyms in capitals (`tcp_connect`: `TCP connect`).
fn words(key: &str) -> String {
    let upper = ["tcp", "tls", "dns", "http", "rtt", "ws"];
    let words: Vec<String> =
        key.split('_').map(|w| if upper.contains(&w) { w.to_uppercase() } else { w.to_string() }).collect();
    words.join(" ")
}

/// Upper-cases the first letter.
fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// (chart title, [(series label, histogram)]) groups the report's histograms form.
fn groups(report: &Value) -> Vec<(String, Vec<(String, Hist)>)> {
    let mut out: Vec<(String, Vec<(String, Hist)>)> = Vec::new();
    if let Some(map) = report.get("histograms").and_then(Value::as_object) {
        for (key, v) in map {
            let Some(h) = v.as_str().and_then(hdr::decode_nonempty) else { continue };
            let base = key.strip_prefix("reconnect_").unwrap_or(key);
            let label = if key.starts_with("reconnect_") { "reconnect wave" } else { "first wave" };
            let title = format!("{} latency spectrum", capital(&words(base)));
            match out.iter_mut().find(|(t, _)| *t == title) {
                Some((_, series)) => series.push((label.to_string(), h)),
                None => out.push((title, vec![(label.to_string(), h)])),
            }
        }
        for (_, series) in out.iter_mut().filter(|(_, s)| s.len() == 1) {
            series[0].0 = "all".to_string();
        }
        out.iter_mut().for_each(|(_, s)| s.sort_by(|a, b| a.0.cmp(&b.0)));
    } else if let Some(h) = text(report, "histogram").and_then(hdr::decode_nonempty) {
        let title = if report.get("delivered").is_some() { "Delivery latency spectrum" } else { "Latency spectrum" };
        out.push((title.to_string(), vec![("all".to_string(), h)]));
    } else if let Some(h) = timeline_handshakes(report) {
        out.push(("Handshake latency spectrum".to_string(), vec![("whole run".to_string(), h)]));
    }
    out
}

/// The per-second handshake histograms of `timeline[]` added up.
fn timeline_handshakes(report: &Value) -> Option<Hist> {
    let hists: Vec<Hist> = crate::render::fields::arr(report, "timeline")
        .iter()
        .filter_map(|s| text(s, "handshake").and_then(hdr::decode_nonempty))
        .collect();
    hdr::sum(hists.iter())
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    for (title, series) in groups(report) {
        out.push(chart(&title, &series));
    }
}

/// One spectrum chart with one line per histogram.
fn chart(title: &str, series: &[(String, Hist)]) -> Chart {
    let lines: Vec<Vec<(f64, f64)>> = series.iter().map(|(_, h)| hdr::spectrum(h, MAX_NINES, STEPS)).collect();
    let lo = lines.iter().flatten().map(|p| p.1).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let hi = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
    let y = Axis::auto(lo, hi, 20.0);
    let log = y.kind == crate::render::svg::scale::Kind::Log;
    let mut p = Plot::new(title, Axis::nines(MAX_NINES), y, "percentile (nines scale)", "latency (ms)");
    let mut caption = Vec::new();
    for (i, ((label, h), pts)) in series.iter().zip(&lines).enumerate() {
        let class = ["c0", "c1", "c2", "c3"][i % 4];
        p.line(pts, class, label);
        for (nines, name) in MARKS {
            let v = hdr::at_ms(h, hdr::quantile_of_nines(nines));
            p.dot((nines, v), 3.0, &format!("dot {class}"), &format!("{label}: {name} {} ms", fmt_num(v)));
        }
        p.legend(
            &format!("{label} (n = {}, max {} ms)", h.len(), fmt_num(h.max() as f64 / 1000.0)),
            class,
            Swatch::Line,
        );
        caption.push(format!("{label}: {} samples", h.len()));
    }
    let scale = if log { "log latency scale" } else { "linear latency scale" };
    let caption = format!(
        "Latency at each percentile from the full HdrHistogram ({}; {scale}). A flat line that turns up sharply at the right is a tail; past 1/n the value is the maximum.",
        caption.join(", ")
    );
    Chart::new(title, caption, p.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::hdr::tests::encode;
    use serde_json::json;

    #[test]
    fn first_and_reconnect_waves_share_a_chart_and_empty_ones_are_skipped() {
        let r = json!({"histograms": {"handshake": encode([1000, 2000]), "reconnect_handshake": encode([50]),
                                      "tcp_connect": encode([10]), "round_trip": encode([])}});
        let g = groups(&r);
        let titles: Vec<&str> = g.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles, ["Handshake latency spectrum", "TCP connect latency spectrum"]);
        let labels: Vec<&str> = g[0].1.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["first wave", "reconnect wave"]);
        assert_eq!(g[1].1[0].0, "all");
    }

    #[test]
    fn a_lone_histogram_is_drawn_when_there_is_no_map() {
        let r = json!({"histogram": encode([1000]), "delivered": 1});
        assert_eq!(groups(&r)[0].0, "Delivery latency spectrum");
        let r = json!({"histogram": "garbage"});
        assert!(groups(&r).is_empty());
    }

    #[test]
    fn a_timeline_alone_gives_the_spectrum_of_all_its_seconds() {
        let r =
            json!({"timeline": [{"at": 0, "handshake": encode([1000, 2000])}, {"at": 1, "handshake": encode([3000])}]});
        let g = groups(&r);
        assert_eq!(g[0].0, "Handshake latency spectrum");
        assert_eq!(g[0].1[0].1.len(), 3);
    }
}
