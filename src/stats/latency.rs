//! Latency histograms: HdrHistogram in microseconds, so memory stays
//! constant however long a run lasts, with percentiles for reports, V2 +
//! base64 serialization so reports from several machines can be merged,
//! and coarse buckets for the terminal chart.

use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest value tracked: one hour in µs. Larger values are clamped.
const MAX_US: u64 = 3_600_000_000;

/// The range a new histogram covers before it grows (µs). Its counts grow
/// with the largest value recorded, so a histogram of millisecond handshakes
/// holds tens of KiB, not the 180 KiB that 1 µs .. 1 h costs up front (a
/// storm keeps six of them, most of them empty).
const FIRST_HIGH_US: u64 = 2;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

/// The percentiles every report shows, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value seen.
    pub max: f64,
    /// Number of samples.
    pub count: u64,
}

/// What a histogram can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Lowest discernible value (µs).
    pub low: u64,
    /// Highest trackable value (µs).
    pub high: u64,
    /// Significant decimal digits.
    pub digits: u8,
}

impl std::fmt::Display for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{} µs, {} significant digits", self.low, self.high, self.digits)
    }
}

/// Why two histograms could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Different ranges or precision.
    #[error("histograms with different settings ({ours} and {theirs}) cannot be added exactly")]
    Settings {
        /// This histogram's.
        ours: Settings,
        /// The other's.
        theirs: Settings,
    },
    /// The library refused the addition.
    #[error("the histograms could not be added: {0}")]
    Add(String),
}

/// One bar of the terminal chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Upper bound of the bucket in ms.
    pub le_ms: f64,
    /// Samples in it.
    pub count: u64,
}

impl Latency {
    /// An empty histogram (1 µs .. 1 h, 3 significant digits), its memory
    /// growing with the largest value recorded.
    pub fn new() -> Latency {
        let mut hist = Histogram::new_with_bounds(1, FIRST_HIGH_US, 3)
            .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid"));
        hist.auto(true);
        Latency { hist }
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        self.record_us(d.as_micros().min(u128::from(MAX_US)) as u64);
    }

    /// Records microseconds.
    pub fn record_us(&mut self, us: u64) {
        let _ = self.hist.record(us.clamp(1, MAX_US));
    }

    /// Adds another histogram's samples. Fails, adding nothing, when
    /// `other` has other settings (range, precision) or values this one
    /// cannot hold: a merge never loses samples silently.
    pub fn merge(&mut self, other: &Latency) -> Result<(), MergeError> {
        if self.settings() != other.settings() {
            return Err(MergeError::Settings { ours: self.settings(), theirs: other.settings() });
        }
        self.hist.add(&other.hist).map_err(|e| MergeError::Add(format!("{e:?}")))
    }

    /// The histogram's settings: lowest value (µs), the highest every
    /// wsprobe histogram holds (values above are clamped; the counts grow
    /// up to it as values come, so how far one has grown is not a setting:
    /// two of the same lowest value and digits add up exactly) and
    /// significant digits.
    pub fn settings(&self) -> Settings {
        Settings { low: self.hist.low(), high: MAX_US, digits: self.hist.sigfig() }
    }

    /// The values recorded, each with its count (for pooling samples).
    pub fn recorded(&self) -> Vec<(u64, u64)> {
        self.hist.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
    }

    /// Samples from `low` to `high` µs (both included; within the
    /// histogram's precision), to look for bumps at known times.
    pub fn count_between_us(&self, low: u64, high: u64) -> u64 {
        self.hist.count_between(low.clamp(1, MAX_US), high.clamp(1, MAX_US))
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Percentiles in ms, or `None` with no samples.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.hist.is_empty() {
            return None;
        }
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        Some(Percentiles {
            p50: ms(self.hist.value_at_quantile(0.5)),
            p90: ms(self.hist.value_at_quantile(0.9)),
            p99: ms(self.hist.value_at_quantile(0.99)),
            p999: ms(self.hist.value_at_quantile(0.999)),
            max: ms(self.hist.max()),
            count: self.hist.len(),
        })
    }

    /// The histogram as HdrHistogram V2 (deflate-free), base64-encoded.
    pub fn to_base64(&self) -> String {
        let mut buf = Vec::new();
        if V2Serializer::new().serialize(&self.hist, &mut buf).is_err() {
            return String::new();
        }
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    /// Reads a histogram written by [`Latency::to_base64`].
    pub fn from_base64(text: &str) -> Option<Latency> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        let mut hist: Histogram<u64> =
            hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).ok()?;
        hist.auto(true);
        Some(Latency { hist })
    }

    /// Samples per power-of-two millisecond bucket, from the first non-empty
    /// one to the last, for a compact terminal chart.
    pub fn buckets(&self) -> Vec<Bucket> {
        if self.hist.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut upper_us = 250u64;
        let mut below = 0u64;
        while below < self.hist.len() && upper_us <= MAX_US {
            let upto = self.hist.count_between(0, upper_us);
            out.push(Bucket { le_ms: upper_us as f64 / 1000.0, count: upto - below });
            below = upto;
            upper_us *= 2;
        }
        let first = out.iter().position(|b| b.count > 0).unwrap_or(0);
        out.split_off(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_ms() {
        let mut l = Latency::new();
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles().unwrap();
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        assert_eq!(p.count, 100);
        assert!(Latency::new().percentiles().is_none());
    }

    #[test]
    fn memory_grows_with_the_values_recorded() {
        let mut l = Latency::new();
        assert!(l.hist.distinct_values() <= 4096, "{}", l.hist.distinct_values());
        l.record(Duration::from_millis(20));
        let small = l.hist.distinct_values();
        l.record(Duration::from_secs(7200));
        assert!(small < l.hist.distinct_values());
        let p = l.percentiles().unwrap();
        assert!((p.p50 - 20.0).abs() < 0.1 && (p.max - 3_600_000.0).abs() < 3_600.0, "{p:?}");
    }

    #[test]
    fn base64_round_trip_and_merge() {
        let mut a = Latency::new();
        a.record(Duration::from_micros(500));
        let mut b = Latency::from_base64(&a.to_base64()).unwrap();
        assert_eq!(b.count(), 1);
        b.merge(&a).unwrap();
        assert_eq!(b.count(), 2);
        assert_eq!(b.recorded().iter().map(|(_, n)| n).sum::<u64>(), 2);
    }

    #[test]
    fn histograms_grown_to_different_ranges_merge_exactly() {
        let (mut small, mut large) = (Latency::new(), Latency::new());
        small.record_us(10);
        large.record_us(50_000_000);
        let mut back = Latency::from_base64(&small.to_base64()).unwrap();
        back.merge(&Latency::from_base64(&large.to_base64()).unwrap()).unwrap();
        assert_eq!(back.recorded().iter().map(|(_, n)| n).sum::<u64>(), 2);
        assert!((back.percentiles().unwrap().max - 50_000.0).abs() < 50.0);
    }

    #[test]
    fn a_merge_with_other_settings_is_refused_not_dropped() {
        let mut ours = Latency::new();
        ours.record_us(10);
        let coarse = Latency { hist: Histogram::new_with_bounds(1, 1000, 2).unwrap() };
        let e = ours.merge(&coarse).unwrap_err();
        assert!(e.to_string().contains("different settings"), "{e}");
        assert_eq!(ours.count(), 1);
    }

    #[test]
    fn buckets_cover_every_sample() {
        let mut l = Latency::new();
        for us in [300, 600, 600, 5_000] {
            l.record_us(us);
        }
        let buckets = l.buckets();
        assert_eq!(buckets.iter().map(|b| b.count).sum::<u64>(), 4);
        assert_eq!(buckets[0].le_ms, 0.5);
    }
}
