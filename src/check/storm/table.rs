//! The `storm` section of the human output: waves with latency
//! percentiles, the headline numbers, failures by reason and a small
//! latency chart.

use comfy_table::{Cell, CellAlignment};

use super::StormDetails;
use crate::report::table::{table, Style};
use crate::stats::latency::{Bucket, Percentiles};

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn latency_cells(p: Option<Percentiles>) -> Vec<Cell> {
    match p {
        Some(p) => [p.p50, p.p90, p.p99, p.p999, p.max]
            .into_iter()
            .map(|v| Cell::new(ms(v)).set_alignment(CellAlignment::Right))
            .collect(),
        None => (0..5).map(|_| Cell::new("-")).collect(),
    }
}

/// Renders the waves, headline numbers, failures and chart of a storm.
pub fn render(d: &StormDetails, style: Style) -> String {
    let mut t = table(style, &["", "clients ok", "p50", "p90", "p99", "p99.9", "max"]);
    let mut first = vec![Cell::new("first wave"), Cell::new(format!("{}/{}", d.connected, d.clients))];
    first.extend(latency_cells(d.handshake_ms));
    t.add_row(first);
    if let Some(back) = d.reconnected {
        let mut row = vec![Cell::new("reconnect wave"), Cell::new(format!("{back}/{}", d.connected))];
        row.extend(latency_cells(d.reconnect_handshake_ms));
        t.add_row(row);
    }
    let mut tcp = vec![Cell::new("tcp connect"), Cell::new("")];
    tcp.extend(latency_cells(d.tcp_connect_ms));
    t.add_row(tcp);
    if d.proxy_connect_ms.is_some() {
        let mut proxy = vec![Cell::new("proxy tunnel"), Cell::new("")];
        proxy.extend(latency_cells(d.proxy_connect_ms));
        t.add_row(proxy);
    }
    if d.round_trip_ms.is_some() || d.messages.sent > 0 {
        let mut rt =
            vec![Cell::new("echo round trip"), Cell::new(format!("{}/{} msgs", d.messages.received, d.messages.sent))];
        rt.extend(latency_cells(d.round_trip_ms));
        t.add_row(rt);
    }
    let mut out = format!("{t}\n\n");
    let dash = |v: Option<f64>, unit: &str| v.map(|v| format!("{v}{unit}")).unwrap_or_else(|| "-".into());
    out.push_str(&format!(
        "mode {}   connections/s {}   peak attempts/s {}   attempts {}   peak concurrent {}   recovered in {}   gave up {}\n",
        d.mode,
        dash(d.connections_per_s, ""),
        d.peak_attempts_per_s,
        d.attempts,
        d.peak_concurrent,
        dash(d.recovery_s, " s"),
        d.gave_up
    ));
    out.push_str(&format!("disrupt {}   backoff {}\n", d.disrupt, d.backoff));
    if !d.rejections.is_empty() {
        let parts: Vec<String> = d.rejections.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("failed attempts: {}\n", parts.join(", ")));
    }
    out.push_str(&chart(&d.handshake_buckets));
    out.push('\n');
    out
}

/// A horizontal bar chart of the first-wave handshake distribution.
pub fn chart(buckets: &[Bucket]) -> String {
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0);
    if max == 0 {
        return String::new();
    }
    let mut out = String::from("\nfirst-wave handshake latency:\n");
    for b in buckets {
        let width = ((b.count as f64 / max as f64) * 40.0).ceil() as usize;
        out.push_str(&format!("  ≤ {:>9} │{:<40} {}\n", ms(b.le_ms), "█".repeat(width), b.count));
    }
    out
}
