//! The `fanout` section of the human output: the delivery summary, the
//! groups, and deliveries per client (every client for small runs, the
//! ones with problems for large ones).

use comfy_table::Cell;

use super::details::FanoutDetails;
use super::summary::ClientDelivery;
use crate::report::table::{table, Style};

/// Clients listed one per row before the table keeps only problems.
const ALL_ROWS: usize = 20;

/// Renders a fan-out run.
pub fn render(d: &FanoutDetails, style: Style) -> String {
    let mut t = table(style, &["expected", "delivered", "missing", "duplicates", "cross-talk", "echoes", "ratio"]);
    let ratio = d.delivery_ratio.map(|r| format!("{:.2}%", r * 100.0)).unwrap_or_else(|| "-".into());
    t.add_row(vec![
        Cell::new(d.expected),
        Cell::new(d.delivered),
        Cell::new(d.missing),
        Cell::new(d.duplicates),
        Cell::new(d.cross_talk),
        Cell::new(d.echoes),
        Cell::new(ratio),
    ]);
    let mut out = format!(
        "{} to {}/{} clients, {} rounds, {} messages published\n{t}\n",
        d.mode, d.connected, d.clients, d.messages, d.published
    );
    let ms = |p: &Option<crate::stats::latency::Percentiles>| match p {
        Some(p) => {
            format!("p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms", p.p50, p.p90, p.p99, p.p999, p.max)
        }
        None => "-".into(),
    };
    out.push_str(&format!("latency (publish → receipt): {}\n", ms(&d.latency_ms)));
    if let (Some(rate), Some(window)) = (d.deliveries_per_s, d.delivery_window_s) {
        let window = crate::units::format_duration(std::time::Duration::from_secs_f64(window));
        out.push_str(&format!("delivery rate: {rate:.0} receipts/s over {window} (first publish → last receipt)\n"));
    }
    if d.spread_ms.is_some() {
        out.push_str(&format!("spread (first → last receipt): {}\n", ms(&d.spread_ms)));
    }
    if let Some(groups) = &d.groups {
        out.push_str(&format!("\nGroups by whom they hear ({}):\n", groups.len()));
        for (i, g) in groups.iter().enumerate() {
            let noun = if g.len() == 1 { "client" } else { "clients" };
            out.push_str(&format!("  {}: {} {noun}: {}\n", i + 1, g.len(), compact(g)));
        }
    }
    out.push('\n');
    out.push_str(&per_client(d, style));
    out
}

fn per_client(d: &FanoutDetails, style: Style) -> String {
    let trouble = |c: &&ClientDelivery| c.missing + c.duplicates + c.cross_talk > 0;
    let rows: Vec<&ClientDelivery> = if d.per_client.len() <= ALL_ROWS {
        d.per_client.iter().collect()
    } else {
        d.per_client.iter().filter(trouble).take(ALL_ROWS).collect()
    };
    let troubled = d.per_client.iter().filter(trouble).count();
    if rows.is_empty() {
        return format!("every one of the {} clients received everything meant for it, nothing else\n\n", d.clients);
    }
    let mut t = table(style, &["client", "expected", "delivered", "missing", "duplicates", "cross-talk", "echoes"]);
    for c in &rows {
        t.add_row(vec![
            Cell::new(c.client),
            Cell::new(c.expected),
            Cell::new(c.delivered),
            Cell::new(c.missing),
            Cell::new(c.duplicates),
            Cell::new(c.cross_talk),
            Cell::new(c.echoes),
        ]);
    }
    let more = troubled.saturating_sub(rows.iter().filter(|c| trouble(c)).count());
    let tail = if more > 0 {
        format!("… and {more} more clients with problems (see --json per_client)\n")
    } else {
        String::new()
    };
    format!("{t}\n{tail}\n")
}

/// A sorted list of indices as ranges: `0-4, 7, 9-12`.
fn compact(indices: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        while i + 1 < indices.len() && indices[i + 1] == indices[i] + 1 {
            i += 1;
        }
        parts.push(if indices[i] == start { start.to_string() } else { format!("{start}-{}", indices[i]) });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::compact;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(compact(&[0, 1, 2, 4, 6, 7]), "0-2, 4, 6-7");
        assert_eq!(compact(&[3]), "3");
    }
}
