//! Which limiter explains the attempts: a window (N accepted in any W), a
//! window that counts refused attempts too (HAProxy's `conn_rate`), or a
//! token bucket (a burst of N, then a steady refill, as nginx `limit_req`
//! with `burst` and `nodelay`). A fixed-window reading of a bucket depends
//! on the probe rate (nginx `rate=1r/s burst=2` reads "3 per 1 s" at 20/s
//! and "5 per 3 s" at 2/s); each model instead predicts every answered
//! attempt from the ones before it, and the share it gets right is its fit.
//! Parameters are searched on a grid, then the roundest value the data
//! allows is reported. Pure, so each model is unit-tested.

use serde::Serialize;

use super::infer::AttemptRecord;
use super::limiter::{self, Point, Score};

/// The limiter shapes wsprobe can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// At most N accepted connections in any W seconds.
    Window,
    /// At most N attempts per period W, refused ones included, counted as
    /// a sliding window counter does (HAProxy's `conn_rate`): this period's
    /// attempts plus the last period's, weighted by the share of it still
    /// in the window.
    CountingWindow,
    /// A bucket of N tokens refilled at a steady rate.
    Bucket,
}

impl ModelKind {
    /// How tables name it.
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::Window => "window",
            ModelKind::CountingWindow => "counting window",
            ModelKind::Bucket => "token bucket",
        }
    }
}

/// One model fitted to the attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// The model.
    pub kind: ModelKind,
    /// N: the window's count, or the bucket's size (its burst).
    pub burst: u32,
    /// W for a window, in seconds.
    pub window_s: Option<f64>,
    /// The bucket's refill, tokens per second.
    pub refill_per_s: Option<f64>,
    /// Answered attempts whose outcome the model predicts.
    pub explained: u32,
    /// Attempts with an answer (accepted or refused); unanswered ones are left out.
    pub answered: u32,
    /// `explained / answered`, 0 to 1.
    pub fit: f64,
    /// The limit in words: `3 per 1 s`, `burst 3, then 1/s`.
    pub summary: String,
}

/// Most records a fit looks at, and the largest N it tries: the search
/// stays bounded whatever --attempts says.
const MAX_RECORDS: usize = 400;
const MAX_N: u32 = 40;
/// Grid points per parameter decade.
const PER_DECADE: f64 = 40.0;

/// What `fit` predicts for more attempts at `times` (seconds since the
/// run started), after these: each let in or not.
pub fn predict(fit: &Fit, records: &[AttemptRecord], times: &[f64]) -> Vec<bool> {
    let Some(x) = fit.window_s.or(fit.refill_per_s) else { return vec![true; times.len()] };
    limiter::lets_in(fit.kind, &answered(records), fit.burst, x, times)
}

/// Two fits that explain the attempts equally well but are different
/// limiters: the attempts so far cannot tell them apart.
pub fn rivals(fits: &[Fit]) -> Option<(&Fit, &Fit)> {
    let best = fits.first()?;
    let rival = fits[1..].iter().find(|f| f.kind != best.kind && f.explained == best.explained)?;
    Some((best, rival))
}

/// The answered attempts in time order, at most [`MAX_RECORDS`].
fn answered(records: &[AttemptRecord]) -> Vec<Point> {
    let mut points: Vec<Point> = records
        .iter()
        .filter(|r| r.accepted() || r.rejected())
        .take(MAX_RECORDS)
        .map(|r| Point { at: r.at_s, accepted: r.accepted() })
        .collect();
    points.sort_by(|a, b| a.at.total_cmp(&b.at));
    points
}

/// Fits every model; best first (ties: window, then bucket, then counting).
/// Empty without a refusal and an acceptance to learn from.
pub fn fit_all(records: &[AttemptRecord]) -> Vec<Fit> {
    let points = answered(records);
    let accepted = points.iter().filter(|p| p.accepted).count() as u32;
    if accepted == 0 || points.iter().all(|p| p.accepted) {
        return Vec::new();
    }
    let span = points.last().map_or(1.0, |p| p.at) - points[0].at;
    let max_n = accepted.min(MAX_N);
    let mut fits: Vec<Fit> = [ModelKind::Window, ModelKind::Bucket, ModelKind::CountingWindow]
        .into_iter()
        .filter_map(|kind| fit_one(kind, &points, max_n, span.max(0.1)))
        .collect();
    // Stable: equal fits keep the order above.
    fits.sort_by_key(|f| std::cmp::Reverse(f.explained));
    fits
}

/// The best parameters of one model: the smallest N with the most
/// explained, and the roundest W (or refill) among those that do as well.
fn fit_one(kind: ModelKind, points: &[Point], max_n: u32, span: f64) -> Option<Fit> {
    // W from a tenth of the closest gap to four times the span; a refill
    // from one per four spans to 4 per closest gap.
    let (lo, hi) = match kind {
        ModelKind::Bucket => (0.25 / span, 4.0 / min_gap(points)),
        _ => (min_gap(points) / 10.0, 4.0 * span),
    };
    let grid = log_grid(lo, hi);
    let mut best: Option<(Score, u32, usize, usize)> = None; // (score, n, first, last grid index)
    for n in 1..=max_n {
        let scores: Vec<Score> = grid
            .iter()
            .map(|&x| limiter::score(kind, points, n, x))
            .map(|s| if clear_enough(s, points.len()) { s } else { Score::default() })
            .collect();
        let top = scores.iter().copied().max().unwrap_or_default();
        if top.explained == 0 || best.is_some_and(|(e, ..)| top <= e) {
            continue;
        }
        let first = scores.iter().position(|&s| s == top).unwrap_or(0);
        let last = first + scores[first..].iter().take_while(|&&s| s == top).count() - 1;
        best = Some((top, n, first, last));
    }
    let (top, n, first, last) = best?;
    // The true edges lie between a grid point that fits and its neighbour
    // that does not, and attempt times carry a few ms of noise: the value
    // reported is the roundest within ROUNDING of that range.
    let lo = if first > 0 { (grid[first - 1] * grid[first]).sqrt() } else { grid[first] };
    let hi = grid.get(last + 1).map_or(grid[last], |next| (grid[last] * next).sqrt());
    let x = roundest(lo / (1.0 + ROUNDING), hi * (1.0 + ROUNDING));
    Some(describe(kind, n, x, top.explained, points.len() as u32))
}

/// A fit must explain most attempts away from its thresholds: one that
/// puts them all on an edge explains nothing.
fn clear_enough(s: Score, answered: usize) -> bool {
    3 * s.clear as usize >= 2 * answered
}

/// How far past the range the data allows a reported value may be rounded.
const ROUNDING: f64 = 0.03;

fn describe(kind: ModelKind, n: u32, x: f64, explained: u32, answered: u32) -> Fit {
    let (window_s, refill_per_s, summary) = match kind {
        ModelKind::Bucket => (None, Some(x), format!("burst {n}, then {}/s", number(x))),
        ModelKind::Window => (Some(x), None, format!("{n} per {} s", number(x))),
        ModelKind::CountingWindow => (Some(x), None, format!("{n} attempts per {} s, refused ones counted", number(x))),
    };
    let fit = (f64::from(explained) / f64::from(answered.max(1)) * 1000.0).round() / 1000.0;
    Fit { kind, burst: n, window_s, refill_per_s, explained, answered, fit, summary }
}

/// The closest gap between two attempts (at least 1 ms).
fn min_gap(points: &[Point]) -> f64 {
    points.windows(2).map(|w| w[1].at - w[0].at).filter(|g| *g > 0.0).fold(f64::MAX, f64::min).clamp(0.001, 10.0)
}

/// Log-spaced values from `lo` to `hi`, and the round values among them
/// (1, 1.5, 2, 2.5, 3, 4 ... 9 times a power of ten), which limiters are
/// configured with and which sit exactly on the knife edges a steady
/// probe rate produces.
fn log_grid(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = (lo.max(1e-4), hi.max(lo * 2.0));
    let steps = ((hi / lo).log10() * PER_DECADE).ceil().clamp(2.0, 400.0) as usize;
    let mut grid: Vec<f64> = (0..=steps).map(|i| lo * (hi / lo).powf(i as f64 / steps as f64)).collect();
    let mantissas = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    for exp in (lo.log10().floor() as i32)..=(hi.log10().ceil() as i32) {
        let scale = 10f64.powi(exp);
        grid.extend(mantissas.iter().map(|m| m * scale).filter(|v| (lo..=hi).contains(v)));
    }
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    grid
}

/// The value in `[lo, hi]` with the fewest significant digits (1, 2 or
/// 3), else their geometric middle: what a limiter's configuration says.
pub fn roundest(lo: f64, hi: f64) -> f64 {
    for digits in 1..=3 {
        let step = 10f64.powf(hi.log10().floor() - f64::from(digits) + 1.0);
        let candidate = (lo / step).ceil() * step;
        if candidate <= hi * (1.0 + 1e-9) {
            return (candidate * 1e6).round() / 1e6;
        }
    }
    (lo * hi).sqrt()
}

/// A number as a person writes it: `1`, `0.5`, `2.5`, `1.25`.
pub fn number(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ratelimit::infer::Purpose;

    fn records(outcomes: &[(f64, bool)]) -> Vec<AttemptRecord> {
        outcomes
            .iter()
            .enumerate()
            .map(|(i, (at, ok))| AttemptRecord {
                n: i as u32 + 1,
                at_s: *at,
                outcome: if *ok { "accepted" } else { "http-429" }.parse().unwrap(),
                http_status: None,
                retry_after: None,
                close_code: None,
                failed_in: None,
                purpose: Purpose::Scheduled,
                hint: None,
            })
            .collect()
    }

    /// Outcomes of attempts at these times against a token bucket of `n`
    /// refilled at `r`/s (nginx limit_req burst=n-1 nodelay).
    fn nginx(times: &[f64], n: f64, r: f64) -> Vec<(f64, bool)> {
        let (mut tokens, mut last) = (n, 0.0);
        times
            .iter()
            .map(|&t| {
                tokens = f64::min(n, tokens + r * (t - last));
                last = t;
                let ok = tokens >= 1.0;
                if ok {
                    tokens -= 1.0;
                }
                (t, ok)
            })
            .collect()
    }

    #[test]
    fn nginx_burst_reads_the_same_bucket_at_any_probe_rate() {
        let fast: Vec<f64> =
            (0..8).map(|i| f64::from(i) * 0.05).chain((0..9).map(|i| 0.45 + f64::from(i) * 0.1)).collect();
        let fast: Vec<f64> = fast.into_iter().chain([1.3, 1.35, 1.4]).collect();
        let slow: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.5).collect();
        for times in [fast, slow] {
            let fits = fit_all(&records(&nginx(&times, 3.0, 1.0)));
            let best = &fits[0];
            assert_eq!((best.kind, best.burst), (ModelKind::Bucket, 3), "{fits:#?}");
            assert_eq!(best.refill_per_s, Some(1.0), "{fits:#?}");
            assert_eq!(best.summary, "burst 3, then 1/s");
            assert_eq!(best.fit, 1.0);
            assert!(fits.iter().any(|f| f.kind == ModelKind::Window && f.explained < best.explained), "{fits:#?}");
        }
    }

    #[test]
    fn a_knife_edge_that_went_the_other_way_does_not_decide() {
        // nginx 1 r/s probed at exactly 2/s: at 3.0 s the bucket holds just
        // one token, and a few ms of timing decide. Refused there, the
        // bucket must still explain the run as well as any window.
        let mut arrived: Vec<f64> = (0..12).map(|i| f64::from(i) * 0.5).collect();
        arrived[6] -= 0.005; // reached nginx 5 ms early: refused
        let mut timeline = nginx(&arrived, 3.0, 1.0);
        assert!(!timeline[6].1, "the knife edge went the other way");
        timeline[6].0 = 3.0; // wsprobe's clock says 3.0 s
        let fits = fit_all(&records(&timeline));
        let bucket = fits.iter().find(|f| f.kind == ModelKind::Bucket).expect("a bucket fit");
        assert_eq!(bucket.explained, bucket.answered, "{fits:#?}");
        assert_eq!((bucket.burst, bucket.refill_per_s), (3, Some(1.0)), "{fits:#?}");
    }

    #[test]
    fn a_sliding_window_reads_as_a_window() {
        // 3 per 1 s at 20/s, probes every 100 ms, then a burst after the reopen.
        let mut timeline: Vec<(f64, bool)> = (0..8).map(|i| (f64::from(i) * 0.05, i < 3)).collect();
        timeline.extend((0..6).map(|i| (0.45 + f64::from(i) * 0.1, false)));
        timeline.extend([(1.05, true), (1.1, true), (1.15, true), (1.2, false)]);
        let fits = fit_all(&records(&timeline));
        assert_eq!((fits[0].kind, fits[0].burst, fits[0].window_s), (ModelKind::Window, 3, Some(1.0)), "{fits:#?}");
        assert_eq!(fits[0].summary, "3 per 1 s");
    }

    #[test]
    fn nothing_refused_fits_nothing() {
        assert!(fit_all(&records(&[(0.0, true), (0.1, true)])).is_empty());
    }

    #[test]
    fn roundest_picks_what_a_config_would_say() {
        assert_eq!(roundest(0.91, 1.04), 1.0);
        assert_eq!(roundest(2.31, 2.45), 2.4);
        assert_eq!(roundest(9.5, 10.8), 10.0);
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.25), "0.25");
    }
}
