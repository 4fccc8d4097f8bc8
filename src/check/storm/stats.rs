//! The storm collector: attempts per wave, outcomes, latency histograms,
//! attempts per 100 ms (for the peak rate and the per-second series),
//! concurrent connections and round trips. Memory is constant in the
//! number of events.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::event::{AppEvent, Event, EventKind};
use crate::net::attempt::Outcome;
use crate::stats::latency::Latency;
use crate::stats::timeline::Timeline;

/// Width of one rate bucket.
pub const BUCKET: Duration = Duration::from_millis(100);

/// Numbers of one wave (0 = first connect, 1 = reconnect).
#[derive(Debug, Clone, Default)]
pub struct WaveStats {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts that upgraded (or connected, with --tcp-only).
    pub accepted: u64,
    /// Clients that gave up.
    pub gave_up: u64,
    /// Whole connect time (TCP + TLS + upgrade) of accepted attempts.
    pub handshake: Latency,
    /// TCP connect time of attempts that got that far.
    pub tcp: Latency,
    /// First attempt's end.
    pub first_attempt: Option<Instant>,
    /// Last accepted attempt.
    pub last_accept: Option<Instant>,
}

/// Everything a storm measured.
#[derive(Debug, Clone)]
pub struct StormStats {
    /// When the run started.
    pub t0: Instant,
    /// Per-wave numbers.
    pub waves: [WaveStats; 2],
    /// Attempts by outcome label (`accepted`, `http-503`, `refused`...).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Attempts per 100 ms since `t0`.
    pub per_bucket: Vec<u32>,
    /// Connections open now.
    pub concurrent: i64,
    /// Most connections open at once.
    pub peak_concurrent: i64,
    /// Echo round trips from the intended send time.
    pub round_trip: Latency,
    /// Messages sent.
    pub messages_out: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Server pings seen.
    pub server_pings: u64,
    /// Closes the server caused, by code.
    pub drops: BTreeMap<u16, u64>,
    /// First close the server caused.
    pub first_drop: Option<Instant>,
    /// Intended send time of the first message.
    pub first_message: Option<Instant>,
    /// Arrival of the last echo.
    pub last_message: Option<Instant>,
    /// The per-second timeline on absolute seconds.
    pub timeline: Timeline,
    /// The application handshake ("app ready") of accepted attempts, both waves.
    pub app_ready: Latency,
    /// The proxy's tunnel (CONNECT or SOCKS5 to its answer), both waves.
    pub proxy: Latency,
    /// The first refusal message of the application protocol.
    pub app_refusal: Option<String>,
}

impl StormStats {
    /// Empty statistics for a run that started at `t0`.
    pub fn new(t0: Instant) -> StormStats {
        StormStats {
            t0,
            waves: Default::default(),
            outcomes: BTreeMap::new(),
            per_bucket: Vec::new(),
            concurrent: 0,
            peak_concurrent: 0,
            round_trip: Latency::new(),
            messages_out: 0,
            messages_in: 0,
            server_pings: 0,
            drops: BTreeMap::new(),
            first_drop: None,
            first_message: None,
            last_message: None,
            timeline: Timeline::new(crate::clock::Origin::at(t0)),
            app_ready: Latency::new(),
            proxy: Latency::new(),
            app_refusal: None,
        }
    }

    fn attempt(&mut self, at: Instant, wave: u8, outcome: Outcome, tcp: Option<Duration>, total: Duration) {
        let w = &mut self.waves[usize::from(wave.min(1))];
        w.attempts += 1;
        w.first_attempt.get_or_insert(at);
        if let Some(tcp) = tcp {
            w.tcp.record(tcp);
        }
        if outcome.is_accepted() {
            w.accepted += 1;
            w.handshake.record(total);
            w.last_accept = Some(at);
            self.concurrent += 1;
            self.peak_concurrent = self.peak_concurrent.max(self.concurrent);
        }
        *self.outcomes.entry(outcome).or_default() += 1;
        let bucket = (at.saturating_duration_since(self.t0).as_millis() / BUCKET.as_millis()) as usize;
        if self.per_bucket.len() <= bucket {
            self.per_bucket.resize(bucket + 1, 0);
        }
        self.per_bucket[bucket] += 1;
    }

    /// All attempts.
    pub fn attempts(&self) -> u64 {
        self.waves[0].attempts + self.waves[1].attempts
    }

    /// The most attempts in any one-second window (sliding by 100 ms).
    pub fn peak_attempts_per_s(&self) -> u64 {
        peak(&self.per_bucket)
    }

    /// The most attempts in any one-second window from `at` on (the
    /// reconnect wave's own peak, not the first wave's).
    pub fn peak_attempts_per_s_since(&self, at: Instant) -> u64 {
        let from = (at.saturating_duration_since(self.t0).as_millis() / BUCKET.as_millis()) as usize;
        peak(self.per_bucket.get(from..).unwrap_or_default())
    }

    /// Attempts per whole second since the start.
    pub fn attempts_per_second(&self) -> Vec<u64> {
        let per_s = (1000 / BUCKET.as_millis()) as usize;
        self.per_bucket.chunks(per_s).map(|c| c.iter().map(|&n| u64::from(n)).sum()).collect()
    }

    /// Rejections and failures by outcome (everything but `accepted`).
    pub fn rejections(&self) -> BTreeMap<Outcome, u64> {
        self.outcomes.iter().filter(|(k, _)| !k.is_accepted()).map(|(k, v)| (*k, *v)).collect()
    }

    /// Echoes received per second, from the first message's send time to
    /// the last echo's arrival (the wire's clock, not the collector's).
    pub fn messages_per_s(&self) -> Option<f64> {
        let span = self.last_message?.saturating_duration_since(self.first_message?).as_secs_f64();
        (span > 0.1).then(|| self.messages_in as f64 / span)
    }

    /// First-wave connections per second (accepted over the wave's span).
    pub fn connections_per_s(&self) -> Option<f64> {
        let w = &self.waves[0];
        let span = w.last_accept?.saturating_duration_since(self.t0).as_secs_f64();
        (span > 0.0 && w.accepted > 0).then(|| w.accepted as f64 / span)
    }
}

/// The most attempts in any one-second window of `buckets` (sliding by 100 ms).
fn peak(buckets: &[u32]) -> u64 {
    let per_window = (Duration::from_secs(1).as_millis() / BUCKET.as_millis()) as usize;
    buckets
        .windows(per_window.min(buckets.len()).max(1))
        .map(|w| w.iter().map(|&n| u64::from(n)).sum())
        .max()
        .unwrap_or(0)
}

impl crate::stats::Fold for StormStats {
    fn apply(&mut self, e: &Event) {
        self.timeline.apply(e);
        match &e.kind {
            EventKind::Attempt { wave, outcome, tcp, proxy, total } => {
                if let Some(proxy) = proxy {
                    self.proxy.record(*proxy);
                }
                self.attempt(e.at, *wave, *outcome, *tcp, *total)
            }
            EventKind::GaveUp { wave } => self.waves[usize::from(*wave.min(&1))].gave_up += 1,
            EventKind::Closed { close, .. } => {
                self.concurrent -= 1;
                if close.is_drop() {
                    *self.drops.entry(close.code).or_default() += 1;
                    self.first_drop.get_or_insert(e.at);
                }
            }
            EventKind::Traffic { sent, received, round_trips } => {
                self.messages_out += u64::from(*sent);
                self.messages_in += u64::from(*received);
                round_trips.iter().for_each(|us| self.round_trip.record_us(u64::from(*us)));
            }
            EventKind::MessageSpan { first_sent, last_received } => {
                self.first_message = Some(self.first_message.map_or(*first_sent, |f| f.min(*first_sent)));
                self.last_message = Some(self.last_message.map_or(*last_received, |l| l.max(*last_received)));
            }
            EventKind::ServerPing => self.server_pings += 1,
            EventKind::ServerPings(n) => self.server_pings += u64::from(*n),
            EventKind::Pong(_) => {}
            EventKind::App(AppEvent::Ready { took, .. }) => self.app_ready.record(*took),
            EventKind::App(AppEvent::Refused(message)) => {
                self.app_refusal.get_or_insert_with(|| message.clone());
            }
            EventKind::App(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CloseInfo;
    use crate::stats::Fold;

    fn ev(at: Instant, kind: EventKind) -> Event {
        Event { client: 0, at, kind }
    }

    fn attempt(wave: u8, outcome: &'static str) -> EventKind {
        EventKind::Attempt {
            wave,
            outcome: outcome.parse().expect("test outcome"),
            tcp: Some(Duration::from_micros(100)),
            proxy: None,
            total: Duration::from_millis(2),
        }
    }

    #[test]
    fn counts_waves_outcomes_and_concurrency() {
        let t0 = Instant::now();
        let mut s = StormStats::new(t0);
        s.apply(&ev(t0, attempt(0, "accepted")));
        s.apply(&ev(t0, attempt(0, "accepted")));
        s.apply(&ev(t0, attempt(0, "http-503")));
        let closed = EventKind::Closed {
            close: CloseInfo::ours(1000, ""),
            after: Duration::ZERO,
            idle_in: Duration::ZERO,
            idle_out: Duration::ZERO,
            pongs_withheld: 0,
        };
        s.apply(&ev(t0, closed));
        s.apply(&ev(t0 + Duration::from_millis(1500), attempt(1, "accepted")));
        assert_eq!((s.waves[0].attempts, s.waves[0].accepted, s.waves[1].accepted), (3, 2, 1));
        assert_eq!(s.peak_concurrent, 2);
        assert_eq!(s.concurrent, 2);
        assert_eq!(s.rejections().get(&Outcome::Http(503)), Some(&1));
        assert!(s.drops.is_empty(), "our own close is not a drop");
        assert_eq!(s.attempts_per_second(), vec![3, 1]);
        assert_eq!(s.waves[0].handshake.count(), 2);
    }

    #[test]
    fn peak_rate_uses_a_sliding_second() {
        let t0 = Instant::now();
        let mut s = StormStats::new(t0);
        for i in 0..20u64 {
            s.apply(&ev(t0 + Duration::from_millis(500 + i * 40), attempt(1, "http-503")));
        }
        assert_eq!(s.peak_attempts_per_s(), 20, "20 attempts within 0.5..1.3 s fit one sliding second");
        assert_eq!(s.attempts_per_second().iter().max(), Some(&13));
    }

    #[test]
    fn the_reconnect_peak_is_the_reconnect_waves_own() {
        let t0 = Instant::now();
        let mut s = StormStats::new(t0);
        for _ in 0..300 {
            s.apply(&ev(t0 + Duration::from_millis(50), attempt(0, "accepted")));
        }
        assert_eq!(s.peak_attempts_per_s(), 300);
        assert_eq!(s.peak_attempts_per_s_since(t0 + Duration::from_secs(2)), 0, "no reconnect attempt, no peak");
        s.apply(&ev(t0 + Duration::from_millis(2500), attempt(1, "accepted")));
        assert_eq!(s.peak_attempts_per_s_since(t0 + Duration::from_secs(2)), 1);
    }

    #[test]
    fn message_rate_comes_from_send_and_receive_times_not_batch_arrival() {
        let t0 = Instant::now();
        let mut s = StormStats::new(t0);
        // 5,000 echoes over 1 s on the wire, reported in batches that all
        // reach the collector within the same millisecond.
        let arrival = t0 + Duration::from_secs(2);
        for i in 0..20u64 {
            let traffic = EventKind::Traffic { sent: 250, received: 250, round_trips: Vec::new() };
            s.apply(&ev(arrival, traffic));
            let span = EventKind::MessageSpan {
                first_sent: t0 + Duration::from_millis(i * 50),
                last_received: t0 + Duration::from_millis(i * 50 + 50),
            };
            s.apply(&ev(arrival, span));
        }
        let rate = s.messages_per_s().expect("a rate");
        assert!((rate - 5000.0).abs() < 1.0, "{rate}");
    }
}
