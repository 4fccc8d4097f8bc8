//! wsprobe watching itself: every 100 ms a sampler notes how late the
//! runtime woke it (scheduler lag) and how much CPU this process used. A
//! report can then say when wsprobe's own machine, not the server, shaped
//! a result.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

const PERIOD: Duration = Duration::from_millis(100);

/// One sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// How late the sampler woke.
    pub lag: Duration,
    /// CPU used since the previous sample, in cores (2.0 = two cores busy).
    pub cores_busy: f64,
}

/// A running sampler.
pub struct SelfWatch {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Vec<Sample>>,
}

impl SelfWatch {
    /// Starts sampling on the current runtime.
    pub fn start() -> SelfWatch {
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut cpu = cpu_time();
            let mut last = Instant::now();
            loop {
                let due = Instant::now() + PERIOD;
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = token.cancelled() => return samples,
                }
                let now = Instant::now();
                let cpu_now = cpu_time();
                let wall = now.duration_since(last).as_secs_f64();
                let cores_busy = if wall > 0.0 { (cpu_now - cpu).as_secs_f64() / wall } else { 0.0 };
                samples.push(Sample { at: now, lag: now.saturating_duration_since(due), cores_busy });
                cpu = cpu_now;
                last = now;
            }
        });
        SelfWatch { stop, task }
    }

    /// Stops sampling and returns the samples.
    pub async fn finish(self) -> Vec<Sample> {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

/// User plus system CPU time of this process.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we own; on failure it stays zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Cores this machine offers.
pub fn cores() -> f64 {
    std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0)
}

/// What the samples say about a time window, in plain words.
pub fn warnings(samples: &[Sample], from: Instant, to: Instant, what: &str) -> Vec<String> {
    let window: Vec<&Sample> = samples.iter().filter(|s| s.at >= from && s.at <= to + PERIOD).collect();
    let mut out = Vec::new();
    if window.is_empty() {
        return out;
    }
    let max_lag = window.iter().map(|s| s.lag).max().unwrap_or_default();
    if max_lag >= Duration::from_millis(50) {
        out.push(format!(
            "wsprobe's own scheduler ran up to {} ms late during {what}: latencies include up to that much of wsprobe's own delay",
            max_lag.as_millis()
        ));
    }
    let busy = window.iter().map(|s| s.cores_busy).sum::<f64>() / window.len() as f64;
    let cores = cores();
    if window.len() >= 3 && busy >= 0.9 * cores {
        out.push(format!(
            "wsprobe used {busy:.1} of {cores:.0} cores during {what}: this machine, not necessarily the server, limited the rate (run the server elsewhere or with fewer clients to tell them apart)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_samples_give_no_warning() {
        let t = Instant::now();
        let s: Vec<Sample> =
            (0..5).map(|i| Sample { at: t + PERIOD * i, lag: Duration::from_millis(1), cores_busy: 0.1 }).collect();
        assert!(warnings(&s, t, t + PERIOD * 5, "the test").is_empty());
    }

    #[test]
    fn lag_and_saturation_are_named() {
        let t = Instant::now();
        let s: Vec<Sample> = (0..5)
            .map(|i| Sample { at: t + PERIOD * i, lag: Duration::from_millis(80), cores_busy: cores() })
            .collect();
        let w = warnings(&s, t, t + PERIOD * 5, "the connect wave");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("80 ms late"));
    }

    #[test]
    fn cpu_time_advances() {
        let a = cpu_time();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_time() > a);
    }
}
