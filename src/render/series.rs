//! Keeping charts bounded: min/max downsampling of long lines, binning of
//! event times into a nice number of buckets, grouping of per-second
//! series into wider bins, and the time unit of a long axis. A 10,000-client
//! or multi-hour report thus draws a few hundred marks, not millions.

use crate::render::svg::scale::nice_step;

/// At most this many points per line.
pub(crate) const MAX_LINE_POINTS: usize = 600;
/// At most this many bars per chart.
pub(crate) const MAX_BARS: usize = 150;

/// `points` (sorted by x) reduced to at most about `max` points, keeping
/// the lowest and highest value of each bucket so peaks and dips survive.
pub(crate) fn minmax(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max.max(4) {
        return points.to_vec();
    }
    let buckets = (max / 2).max(2);
    let size = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(buckets * 2);
    for chunk in points.chunks(size) {
        let lo = chunk.iter().enumerate().min_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map_or(0, |(i, _)| i);
        let hi = chunk.iter().enumerate().max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map_or(0, |(i, _)| i);
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out
}

/// `points` (sorted by x) cut into runs wherever x jumps by more than
/// `max_gap`, so a line does not bridge seconds without data.
pub(crate) fn split_gaps(points: &[(f64, f64)], max_gap: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        match out.last_mut() {
            Some(run) if i > 0 && p.0 - points[i - 1].0 <= max_gap => run.push(*p),
            _ => out.push(vec![*p]),
        }
    }
    out
}

/// A nice bin width (1, 2 or 5 × 10^k) giving at most `max_bins` bins over `span`.
pub(crate) fn bin_width(span: f64, max_bins: usize) -> f64 {
    nice_step(span.max(1e-9) / max_bins.max(1) as f64)
}

/// Counts per bin of `width` starting at 0, enough bins to reach `span`.
pub(crate) fn bin_counts(times: impl IntoIterator<Item = f64>, width: f64, span: f64) -> Vec<f64> {
    let bins = ((span / width).ceil() as usize).clamp(1, 100_000);
    let mut out = vec![0.0; bins];
    for t in times.into_iter().filter(|t| t.is_finite()) {
        let i = ((t.max(0.0) / width) as usize).min(bins - 1);
        out[i] += 1.0;
    }
    out
}

/// How many consecutive seconds to put in one bar so a series of `len`
/// seconds draws at most `max` bars (1, 2, 5, 10, 15, 30, 60, 120, 300...).
pub(crate) fn seconds_per_bin(len: usize, max: usize) -> usize {
    let need = len.div_ceil(max.max(1)).max(1);
    [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600]
        .into_iter()
        .find(|&s| s >= need)
        .unwrap_or_else(|| need.div_ceil(3600) * 3600)
}

/// A time axis unit: (seconds per unit, unit name) for a span in seconds.
pub(crate) fn time_unit(span_s: f64) -> (f64, &'static str) {
    if span_s > 3.0 * 3600.0 {
        (3600.0, "h")
    } else if span_s > 600.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_as_they_are() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(minmax(&pts, 100), pts);
    }

    #[test]
    fn long_lines_shrink_but_keep_their_peak_and_dip() {
        let mut pts: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, 5.0)).collect();
        pts[7_777].1 = 100.0;
        pts[1_234].1 = -3.0;
        let out = minmax(&pts, 200);
        assert!(out.len() <= 200, "{}", out.len());
        assert!(out.contains(&(7_777.0, 100.0)) && out.contains(&(1_234.0, -3.0)));
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn gaps_split_lines() {
        let pts = [(0.0, 1.0), (1.0, 1.0), (5.0, 2.0), (6.0, 2.0)];
        assert_eq!(split_gaps(&pts, 1.5), [vec![(0.0, 1.0), (1.0, 1.0)], vec![(5.0, 2.0), (6.0, 2.0)]]);
        assert_eq!(split_gaps(&pts, 10.0).len(), 1);
        assert!(split_gaps(&[], 1.0).is_empty());
    }

    #[test]
    fn bins_are_nice_and_bounded() {
        assert_eq!(bin_width(4.0, 40), 0.1);
        assert_eq!(bin_width(3600.0, 60), 100.0);
        let c = bin_counts([0.05, 0.15, 0.16, 99.0, -1.0, f64::NAN], 0.1, 0.4);
        assert_eq!(c, [2.0, 2.0, 0.0, 1.0]);
    }

    #[test]
    fn seconds_per_bin_grows_in_readable_steps() {
        assert_eq!(seconds_per_bin(100, 150), 1);
        assert_eq!(seconds_per_bin(200, 150), 2);
        assert_eq!(seconds_per_bin(7200, 150), 60);
        assert_eq!(seconds_per_bin(1_000_000, 150), 7200);
    }

    #[test]
    fn long_spans_switch_to_minutes_and_hours() {
        assert_eq!(time_unit(120.0).1, "s");
        assert_eq!(time_unit(1200.0).1, "min");
        assert_eq!(time_unit(86_400.0).1, "h");
    }
}
