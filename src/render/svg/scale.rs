//! Axes: a value domain mapped to a 0..1 fraction, with "nice" ticks.
//! Linear (counts, seconds), logarithmic (latency spanning decades), the
//! "nines" percentile axis of an HdrHistogram spectrum (x = -log10(1-p),
//! so 90%, 99%, 99.9% and 99.99% are evenly spaced) and categories (lanes).

use crate::render::fields::fmt_num;

/// How an axis maps values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// Evenly spaced values.
    Linear,
    /// Evenly spaced whole numbers (ticks never between two counts).
    Counts,
    /// Decades evenly spaced; the domain must be positive.
    Log,
    /// Values in nines (0 = 0%, 2 = 99%), ticks labelled as percentiles.
    Nines,
    /// One lane per name; value `i` is the centre of lane `i`.
    Categories(Vec<String>),
}

/// A value axis.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Axis {
    /// Mapping.
    pub kind: Kind,
    /// Smallest value shown.
    pub lo: f64,
    /// Largest value shown.
    pub hi: f64,
}

/// The smallest value a log axis shows (latency of 1 ns in ms).
const LOG_FLOOR: f64 = 1e-6;

/// A step of 1, 2 or 5 times a power of ten, at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * base).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * base)
}

impl Axis {
    /// A linear axis from `lo` to `hi`, widened to whole ticks (about 5).
    pub(crate) fn linear(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = sane(lo, hi);
        let step = nice_step((hi - lo) / 5.0);
        Axis { kind: Kind::Linear, lo: (lo / step).floor() * step, hi: (hi / step - 1e-9).ceil() * step }
    }

    /// A count axis from 0 to at least `hi` (and at least 1), whole ticks.
    pub(crate) fn counts(hi: f64) -> Axis {
        let hi = if hi.is_finite() { hi.max(1.0) } else { 1.0 };
        let step = nice_step(hi / 5.0).max(1.0);
        Axis { kind: Kind::Counts, lo: 0.0, hi: (hi / step - 1e-9).ceil() * step }
    }

    /// A linear axis from exactly `lo` to `hi` (a time span, a share).
    pub(crate) fn linear_exact(lo: f64, hi: f64) -> Axis {
        let (lo, hi) = sane(lo, hi);
        Axis { kind: Kind::Linear, lo, hi }
    }

    /// A log axis covering `lo..hi`, widened to whole decades.
    pub(crate) fn log(lo: f64, hi: f64) -> Axis {
        let lo = lo.max(LOG_FLOOR);
        let hi = hi.max(lo * 10.0);
        Axis { kind: Kind::Log, lo: 10f64.powf(lo.log10().floor()), hi: 10f64.powf((hi.log10() - 1e-9).ceil()) }
    }

    /// Log when the positive values span more than `ratio`, else linear from 0.
    pub(crate) fn auto(lo: f64, hi: f64, ratio: f64) -> Axis {
        if lo > 0.0 && hi / lo > ratio {
            Axis::log(lo, hi)
        } else {
            Axis::linear(0.0, hi)
        }
    }

    /// A percentile axis from 0% to `max_nines` nines (4 = 99.99%).
    pub(crate) fn nines(max_nines: f64) -> Axis {
        Axis { kind: Kind::Nines, lo: 0.0, hi: max_nines.max(1.0) }
    }

    /// A lane axis, one lane per name, first lane at the far end of the range.
    pub(crate) fn categories(names: Vec<String>) -> Axis {
        let hi = names.len().max(1) as f64 - 0.5;
        Axis { kind: Kind::Categories(names), lo: -0.5, hi }
    }

    /// Where `v` falls, 0 at `lo` and 1 at `hi`, clamped to 0..1.
    pub(crate) fn frac(&self, v: f64) -> f64 {
        let f = match self.kind {
            Kind::Log => (v.max(LOG_FLOOR).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()),
            _ => (v - self.lo) / (self.hi - self.lo),
        };
        if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Tick positions and their labels.
    pub(crate) fn ticks(&self) -> Vec<(f64, String)> {
        match &self.kind {
            Kind::Linear => linear_ticks(self.lo, self.hi, 0.0),
            Kind::Counts => linear_ticks(self.lo, self.hi, 1.0),
            Kind::Log => log_ticks(self.lo, self.hi),
            Kind::Nines => (0..=self.hi.floor() as usize).map(|n| (n as f64, nines_label(n))).collect(),
            Kind::Categories(names) => names.iter().enumerate().map(|(i, n)| (i as f64, n.clone())).collect(),
        }
    }
}

/// A finite, non-empty domain.
fn sane(lo: f64, hi: f64) -> (f64, f64) {
    let lo = if lo.is_finite() { lo } else { 0.0 };
    let hi = if hi.is_finite() { hi } else { lo + 1.0 };
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

/// About five ticks at multiples of a nice step of at least `min_step`.
fn linear_ticks(lo: f64, hi: f64, min_step: f64) -> Vec<(f64, String)> {
    let step = nice_step((hi - lo) / 5.0).max(min_step);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).take(50).map(|i| i as f64 * step).map(|v| (v, tick_label(v))).collect()
}

/// Each decade, and 2 and 5 within it when the axis spans at most two decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (d0, d1) = (lo.log10().round() as i32, hi.log10().round() as i32);
    let mults: &[f64] = if d1 - d0 <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let mut out = Vec::new();
    for d in d0..=d1.min(d0 + 30) {
        for m in mults {
            let v = m * 10f64.powi(d);
            if v <= hi * (1.0 + 1e-9) {
                out.push((v, tick_label(v)));
            }
        }
    }
    out
}

/// `0%`, `90%`, `99%`, `99.9%`...
fn nines_label(n: usize) -> String {
    match n {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        _ => format!("99.{}%", "9".repeat(n - 2)).replace(".%", "%"),
    }
}

/// A short tick label: `0.001`, `20`, `1.5k`, `2M`.
pub(crate) fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", fmt_num(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", fmt_num(v / 1e3))
    } else if a > 0.0 && a < 0.001 {
        format!("{v:.0e}")
    } else {
        fmt_num(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(a: &Axis) -> Vec<f64> {
        a.ticks().into_iter().map(|(v, _)| v).collect()
    }

    #[test]
    fn nice_steps_are_1_2_5() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(4001.0), 5000.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn linear_axis_widens_to_whole_ticks() {
        let a = Axis::linear(0.0, 187.0);
        assert_eq!((a.lo, a.hi), (0.0, 200.0));
        assert_eq!(values(&a), [0.0, 50.0, 100.0, 150.0, 200.0]);
        assert_eq!(Axis::linear(0.0, 0.0).hi, 1.0);
        assert_eq!(a.frac(100.0), 0.5);
        assert_eq!(a.frac(-5.0), 0.0);
    }

    #[test]
    fn count_axes_have_whole_ticks() {
        assert_eq!(values(&Axis::counts(1.0)), [0.0, 1.0]);
        assert_eq!(values(&Axis::counts(3.0)), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(Axis::counts(0.0).hi, 1.0);
        assert_eq!(Axis::counts(187.0).hi, 200.0);
    }

    #[test]
    fn log_axis_spans_decades_with_readable_ticks() {
        let a = Axis::log(0.058, 24.5);
        assert_eq!((a.lo, a.hi), (0.01, 100.0));
        assert_eq!(a.ticks().len(), 5);
        assert!((a.frac(1.0) - 0.5).abs() < 1e-12);
        let b = Axis::log(0.5, 9.0);
        assert_eq!(values(&b), [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]);
        assert_eq!(b.frac(0.0), 0.0);
    }

    #[test]
    fn auto_picks_log_only_for_wide_ranges() {
        assert_eq!(Axis::auto(0.05, 25.0, 20.0).kind, Kind::Log);
        assert_eq!(Axis::auto(20.0, 25.0, 20.0).kind, Kind::Linear);
        assert_eq!(Axis::auto(0.0, 25.0, 20.0).kind, Kind::Linear);
    }

    #[test]
    fn nines_axis_labels_percentiles() {
        let labels: Vec<String> = Axis::nines(4.0).ticks().into_iter().map(|(_, l)| l).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn categories_put_each_name_in_its_lane() {
        let a = Axis::categories(vec!["a".into(), "b".into()]);
        assert_eq!(a.frac(0.0), 0.25);
        assert_eq!(a.frac(1.0), 0.75);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(15000.0), "15k");
        assert_eq!(tick_label(2_000_000.0), "2M");
        assert_eq!(tick_label(0.0001), "1e-4");
        assert_eq!(tick_label(0.25), "0.25");
    }
}
