//! Fan-out delivery per client: `per_client[]` (`client`, `expected`,
//! `delivered`, `missing`, `duplicates`, `cross_talk`) as stacked bars,
//! clients ordered and coloured by `groups` (lists of client indices), so
//! partitioned broadcasts show as blocks. Past [`MAX_BARS`] clients, each
//! bar is the mean of a run of consecutive clients of one group, with a tick
//! at the delivered count of its worst client (so one starved client shows).

use serde_json::Value;

use super::Chart;
use crate::render::fields::{arr, fmt_num, num};
use crate::render::series::MAX_BARS;
use crate::render::svg::{Axis, Plot, Swatch};

/// Colours of the groups, in turn (no red or amber: those mean trouble).
const GROUP_COLOURS: [&str; 6] = ["c0", "c2", "c3", "c6", "c5", "c7"];
/// The counts stacked per bar, their legend names and colours.
const PARTS: [(&str, &str, &str); 4] = [
    ("delivered", "delivered", ""),
    ("missing", "missing", "cmiss"),
    ("duplicates", "duplicates", "cwarn"),
    ("cross_talk", "cross-talk", "cbad"),
];

/// One bar: a run of clients of one group and their summed counts.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    first: u64,
    last: u64,
    group: Option<usize>,
    /// Sums over the bar's clients.
    counts: [f64; 4],
    expected: f64,
    clients: usize,
    /// The client with the smallest delivered share: (client, delivered, expected).
    worst: (u64, f64, f64),
}

impl Bar {
    /// The share of its messages a client received (1 when it expected none).
    fn share(delivered: f64, expected: f64) -> f64 {
        if expected > 0.0 {
            delivered / expected
        } else {
            1.0
        }
    }
}

/// The group index of each client listed in `groups`.
fn group_of(report: &Value) -> Vec<(u64, usize)> {
    let mut out = Vec::new();
    for (g, members) in arr(report, "groups").iter().enumerate() {
        for c in members.as_array().map_or(&[][..], Vec::as_slice).iter().filter_map(Value::as_u64) {
            out.push((c, g));
        }
    }
    out.sort_unstable();
    out
}

/// Bars in group order, at most [`MAX_BARS`] (plus one per group).
fn bars(report: &Value) -> Vec<Bar> {
    let groups = group_of(report);
    let mut rows: Vec<(Option<usize>, u64, [f64; 4], f64)> = arr(report, "per_client")
        .iter()
        .filter_map(|c| {
            let client = num(c, "client")? as u64;
            let group = groups.binary_search_by_key(&client, |g| g.0).ok().map(|i| groups[i].1);
            let counts = PARTS.map(|(k, _, _)| num(c, k).unwrap_or(0.0));
            Some((group, client, counts, num(c, "expected").unwrap_or(0.0)))
        })
        .collect();
    rows.sort_by_key(|r| (r.0.unwrap_or(usize::MAX), r.1));
    let size = rows.len().div_ceil(MAX_BARS).max(1);
    let mut out: Vec<Bar> = Vec::new();
    for run in rows.chunk_by(|a, b| a.0 == b.0) {
        for chunk in run.chunks(size) {
            let (first, group) = (chunk[0].1, chunk[0].0);
            let worst = (first, chunk[0].2[0], chunk[0].3);
            let mut bar =
                Bar { first, last: first, group, counts: [0.0; 4], expected: 0.0, clients: chunk.len(), worst };
            for (_, client, counts, expected) in chunk {
                bar.last = *client;
                bar.expected += expected;
                (0..4).for_each(|i| bar.counts[i] += counts[i]);
                if Bar::share(counts[0], *expected) < Bar::share(bar.worst.1, bar.worst.2) {
                    bar.worst = (*client, counts[0], *expected);
                }
            }
            out.push(bar);
        }
    }
    out
}

/// The colour of a group's delivered part.
fn group_colour(group: Option<usize>) -> &'static str {
    group.map_or("cmuted", |g| GROUP_COLOURS[g % GROUP_COLOURS.len()])
}

/// The charts of this file.
pub(crate) fn charts(report: &Value, out: &mut Vec<Chart>) {
    let bars = bars(report);
    if bars.is_empty() {
        return;
    }
    let max =
        bars.iter().map(|b| (b.counts.iter().sum::<f64>().max(b.expected)) / b.clients as f64).fold(1.0, f64::max);
    let x = Axis::linear_exact(-0.5, bars.len() as f64 - 0.5);
    let runs = bars.iter().any(|b| b.clients > 1);
    let (x_label, y_label) = if runs {
        ("runs of clients, ordered by group", "messages per client (mean of the run)")
    } else {
        ("client, ordered by group", "messages")
    };
    let y = if runs { Axis::linear(0.0, max) } else { Axis::counts(max) };
    let mut p = Plot::new("Message delivery per client", x, y, x_label, y_label).x_ticks(ticks(&bars));
    group_labels(&mut p, &bars);
    for (i, b) in bars.iter().enumerate() {
        draw_bar(&mut p, i as f64, b);
        if runs {
            let tip = format!(
                "worst client of the run: {} received {} of {}",
                b.worst.0,
                fmt_num(b.worst.1),
                fmt_num(b.worst.2)
            );
            p.line(&[(i as f64 - 0.45, b.worst.1), (i as f64 + 0.45, b.worst.1)], "c7", &tip);
        }
    }
    legend(&mut p, &bars);
    if runs {
        p.legend("delivered to the run's worst client", "c7", Swatch::Line);
    }
    out.push(Chart::new("Message delivery per client", caption(report, &bars), p.finish()));
}

/// One stacked bar with its read-out.
fn draw_bar(p: &mut Plot, x: f64, b: &Bar) {
    let who =
        if b.first == b.last { format!("client {}", b.first) } else { format!("clients {}–{}", b.first, b.last) };
    let group = b.group.map_or(String::new(), |g| format!(" (group {})", g + 1));
    let parts: Vec<String> =
        PARTS.iter().zip(b.counts).map(|((_, name, _), v)| format!("{name} {}", fmt_num(v))).collect();
    let tip = format!("{who}{group}: expected {}, {}", fmt_num(b.expected), parts.join(", "));
    let mut y = 0.0;
    for (i, (_, _, class)) in PARTS.iter().enumerate() {
        let v = b.counts[i] / b.clients as f64;
        let class = if i == 0 { group_colour(b.group) } else { class };
        p.rect((x - 0.4, x + 0.4), (y, y + v), &format!("bar {class}"), &tip);
        y += v;
    }
}

/// X ticks: each client when few, else the first client of each group.
fn ticks(bars: &[Bar]) -> Vec<(f64, String)> {
    if bars.len() <= 40 && bars.iter().all(|b| b.first == b.last) {
        return bars.iter().enumerate().map(|(i, b)| (i as f64, b.first.to_string())).collect();
    }
    let mut out = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        if i == 0 || bars[i - 1].group != b.group || (bars.len() <= 40 && i % 5 == 0) {
            out.push((i as f64, b.first.to_string()));
        }
    }
    out
}

/// Shades every other group and names each at its start.
fn group_labels(p: &mut Plot, bars: &[Bar]) {
    if bars.iter().all(|b| b.group.is_none()) {
        return;
    }
    let mut start = 0;
    for i in 1..=bars.len() {
        if i == bars.len() || bars[i].group != bars[start].group {
            let label = bars[start].group.map_or("no group".to_string(), |g| format!("group {}", g + 1));
            let (x0, x1) = (start as f64 - 0.5, i as f64 - 0.5);
            p.band((x0, x1), &label, bars[start].group.is_some_and(|g| g % 2 == 0));
            start = i;
        }
    }
}

/// Legend: a swatch per group for delivered, then the failure parts present.
fn legend(p: &mut Plot, bars: &[Bar]) {
    let mut groups: Vec<Option<usize>> = bars.iter().map(|b| b.group).collect();
    groups.dedup();
    for g in groups.iter().take(8) {
        let label = g.map_or("delivered".to_string(), |g| format!("delivered, group {}", g + 1));
        p.legend(&label, group_colour(*g), Swatch::Fill);
    }
    for (i, (_, name, class)) in PARTS.iter().enumerate().skip(1) {
        if bars.iter().any(|b| b.counts[i] > 0.0) {
            p.legend(name, class, Swatch::Fill);
        }
    }
}

/// Totals in words.
fn caption(report: &Value, bars: &[Bar]) -> String {
    let total = |i: usize| bars.iter().map(|b| b.counts[i]).sum::<f64>();
    let expected = num(report, "expected").unwrap_or_else(|| bars.iter().map(|b| b.expected).sum());
    let groups = arr(report, "groups").len();
    let grouping =
        if groups > 0 { format!("; clients ordered and coloured by their {groups} groups") } else { String::new() };
    format!(
        "From per_client[]: {} of {} expected deliveries, {} missing, {} duplicated, {} cross-talk{grouping}. A bar short of the others is a client that missed messages.",
        fmt_num(total(0)),
        fmt_num(expected),
        fmt_num(total(1)),
        fmt_num(total(2)),
        fmt_num(total(3))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(c: u64, delivered: u64) -> Value {
        json!({"client": c, "expected": 4, "delivered": delivered, "missing": 4 - delivered, "duplicates": 0, "cross_talk": 0})
    }

    #[test]
    fn clients_are_ordered_by_group() {
        let r = json!({"groups": [[0, 2], [1, 3]], "per_client": (0..4).map(|c| client(c, 2)).collect::<Vec<_>>()});
        let order: Vec<(u64, Option<usize>)> = bars(&r).iter().map(|b| (b.first, b.group)).collect();
        assert_eq!(order, [(0, Some(0)), (2, Some(0)), (1, Some(1)), (3, Some(1))]);
    }

    #[test]
    fn many_clients_are_summed_into_bounded_bars_within_a_group() {
        let per: Vec<Value> = (0..10_000).map(|c| client(c, if c == 1234 { 0 } else { 4 })).collect();
        let groups = json!([(0..5000).collect::<Vec<u64>>(), (5000..10_000).collect::<Vec<u64>>()]);
        let b = bars(&json!({"groups": groups, "per_client": per}));
        assert!(b.len() <= MAX_BARS + 2, "{}", b.len());
        assert!(b.iter().all(|b| (b.first < 5000) == (b.last < 5000)));
        assert_eq!(b.iter().map(|b| b.counts[0]).sum::<f64>(), 39_996.0);
        let starved = b.iter().find(|b| b.first <= 1234 && 1234 <= b.last).expect("its bar");
        assert_eq!(starved.worst, (1234, 0.0, 4.0));
        assert!(starved.clients > 1);
    }
}
