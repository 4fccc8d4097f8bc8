//! HdrHistograms as reports carry them (V2, base64, values in µs):
//! decoding, exact addition (for per-second bins and overlays), the
//! percentiles the tables show, and the percentile spectrum (latency
//! against percentile on the nines axis) that the spectrum charts draw.

use base64::Engine;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

/// A latency histogram in µs.
pub(crate) type Hist = Histogram<u64>;

/// Largest encoded histogram we decode (a hostile report cannot make us
/// allocate much more than this).
const MAX_ENCODED: usize = 4 << 20;

/// The histogram in `b64`, or `None` when it is not a valid one.
pub(crate) fn decode(b64: &str) -> Option<Hist> {
    if b64.len() > MAX_ENCODED {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

/// `b64` decoded, kept only when it holds at least one sample.
pub(crate) fn decode_nonempty(b64: &str) -> Option<Hist> {
    decode(b64).filter(|h| !h.is_empty())
}

/// The sum of `hists` (auto-resizing, so differently bounded ones add too).
pub(crate) fn sum<'a>(hists: impl IntoIterator<Item = &'a Hist>) -> Option<Hist> {
    let mut total: Option<Hist> = None;
    for h in hists {
        match total.as_mut() {
            None => {
                let mut first = h.clone();
                first.auto(true);
                total = Some(first);
            }
            Some(t) => {
                let _ = t.add(h);
            }
        }
    }
    total
}

/// The value at quantile `q` (0..1), in ms.
pub(crate) fn at_ms(h: &Hist, q: f64) -> f64 {
    h.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1000.0
}

/// p50, p90, p99, p99.9 and max in ms.
pub(crate) fn percentiles_ms(h: &Hist) -> [f64; 5] {
    [at_ms(h, 0.5), at_ms(h, 0.9), at_ms(h, 0.99), at_ms(h, 0.999), h.max() as f64 / 1000.0]
}

/// The quantile at `nines` on the nines axis: 1 - 10^-nines.
pub(crate) fn quantile_of_nines(nines: f64) -> f64 {
    1.0 - 10f64.powf(-nines)
}

/// The spectrum as (nines, ms) points from 0 to `max_nines`, `steps` + 1
/// points evenly spaced on the nines axis.
pub(crate) fn spectrum(h: &Hist, max_nines: f64, steps: usize) -> Vec<(f64, f64)> {
    let steps = steps.max(1);
    (0..=steps).map(|i| max_nines * i as f64 / steps as f64).map(|x| (x, at_ms(h, quantile_of_nines(x)))).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    /// A histogram of `values` (µs), encoded as reports carry it.
    pub(crate) fn encode(values: impl IntoIterator<Item = u64>) -> String {
        let mut h = Hist::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        for v in values {
            h.saturating_record(v);
        }
        let mut buf = Vec::new();
        V2Serializer::new().serialize(&h, &mut buf).expect("serializes");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    #[test]
    fn decodes_what_reports_carry_and_rejects_garbage() {
        let h = decode(&encode(1..=1000)).expect("decodes");
        assert_eq!(h.len(), 1000);
        assert!(decode("not base64!").is_none());
        assert!(decode("SElTVA==").is_none());
        assert!(decode_nonempty(&encode([])).is_none());
    }

    #[test]
    fn percentiles_are_in_ms() {
        let h = decode(&encode(1..=1000)).expect("decodes");
        let [p50, p90, p99, p999, max] = percentiles_ms(&h);
        assert!((p50 - 0.5).abs() < 0.01 && (p90 - 0.9).abs() < 0.01, "{p50} {p90}");
        assert!((p99 - 0.99).abs() < 0.01 && (p999 - 0.999).abs() < 0.01 && (max - 1.0).abs() < 0.01);
    }

    #[test]
    fn sums_add_exactly() {
        let a = decode(&encode([100, 200])).expect("a");
        let b = decode(&encode([300])).expect("b");
        let s = sum([&a, &b]).expect("sum");
        assert_eq!(s.len(), 3);
        assert!(sum(std::iter::empty()).is_none());
    }

    #[test]
    fn spectrum_rises_to_the_tail_on_the_nines_axis() {
        let mut values: Vec<u64> = vec![1000; 9990];
        values.extend([50_000; 10]);
        let h = decode(&encode(values)).expect("decodes");
        let s = spectrum(&h, 4.0, 8);
        assert_eq!(s.len(), 9);
        assert_eq!(s[0].0, 0.0);
        assert!((s[4].1 - 1.0).abs() < 0.01, "99% is 1 ms: {s:?}");
        assert!(s[8].1 > 49.0, "99.99% is the 50 ms tail: {s:?}");
        assert!((quantile_of_nines(2.0) - 0.99).abs() < 1e-12);
    }
}
