//! The per-second timeline every connection-holding check reports: for
//! each whole Unix second of the run, attempts, accepted, rejections by
//! outcome, connections open at the end of the second, closes by cause,
//! and a handshake histogram (HdrHistogram V2, µs). Seconds are absolute,
//! so the timelines of several shards align by `at` and add up.
//!
//! Bounded: at most [`MAX_SECONDS`] seconds (later ones are counted, not
//! kept), and only the last few seconds keep a live histogram; older ones
//! are encoded (a late event decodes its second again).

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::latency::Latency;
use super::Fold;
use crate::clock::{unix_second, Origin};
use crate::event::{CloseInfo, EndHow, Event, EventKind};
use crate::net::attempt::Outcome;

/// Most seconds one timeline keeps: a day.
pub const MAX_SECONDS: usize = 86_400;
/// Seconds behind the newest that keep a live (unencoded) histogram.
const LIVE: usize = 4;

/// One second of the timeline, as reports carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// The Unix second.
    pub at: i64,
    /// Connection attempts that ended in it.
    pub attempts: u64,
    /// Of those, accepted.
    pub accepted: u64,
    /// The others, by outcome.
    pub rejected: BTreeMap<Outcome, u64>,
    /// Connections open at its end.
    pub open: i64,
    /// Connections that ended in it, by cause (`wsprobe` for our own closes).
    pub closes: BTreeMap<String, u64>,
    /// Handshakes accepted in it (HdrHistogram V2 + base64, µs); null without any.
    pub handshake: Option<String>,
}

/// One second being collected: its numbers and its histogram, live
/// (recent seconds) or encoded (older ones).
#[derive(Debug, Clone, Default)]
struct Slot {
    second: Second,
    open_set: bool,
    live: Option<Box<Latency>>,
    encoded: Option<String>,
}

impl Slot {
    /// The live histogram, decoding an encoded one again.
    fn live(&mut self) -> &mut Latency {
        let encoded = &mut self.encoded;
        self.live.get_or_insert_with(|| {
            Box::new(encoded.take().and_then(|text| Latency::from_base64(&text)).unwrap_or_default())
        })
    }

    fn encode(&mut self) {
        if let Some(h) = self.live.take() {
            self.encoded = Some(h.to_base64());
        }
    }
}

/// The timeline collector.
#[derive(Debug, Clone)]
pub struct Timeline {
    origin: Origin,
    first: i64,
    slots: Vec<Slot>,
    open: i64,
    /// Events past [`MAX_SECONDS`], counted only.
    pub truncated: u64,
}

/// The cause a close is counted under: `wsprobe` (our own), the close code
/// of a close frame, or `1006 eof` / `1006 reset` / `1006 stalled` (the
/// server stopped reading) / `<code> protocol`.
pub fn cause(close: &CloseInfo) -> String {
    match close.how {
        _ if close.by_us => "wsprobe".to_string(),
        EndHow::Ours => "wsprobe".to_string(),
        EndHow::CloseFrame => close.code.to_string(),
        EndHow::Eof => "1006 eof".to_string(),
        EndHow::Reset => "1006 reset".to_string(),
        EndHow::Stalled => "1006 stalled".to_string(),
        EndHow::ProtocolError => format!("{} protocol", close.code),
    }
}

impl Timeline {
    /// An empty timeline starting at the second of `origin`.
    pub fn new(origin: Origin) -> Timeline {
        Timeline { origin, first: unix_second(origin.wall), slots: Vec::new(), open: 0, truncated: 0 }
    }

    /// The index of `at`'s second, the timeline grown to hold it.
    fn index(&mut self, at: Instant) -> Option<usize> {
        let second = unix_second(self.origin.wall_of(at));
        let i = usize::try_from(second - self.first).ok()?;
        if i >= MAX_SECONDS {
            self.truncated += 1;
            return None;
        }
        if i >= self.slots.len() {
            self.extend_to(i);
        }
        Some(i)
    }

    fn extend_to(&mut self, i: usize) {
        let (first, before) = (self.first, self.slots.len());
        while self.slots.len() <= i {
            let at = first + self.slots.len() as i64;
            self.slots.push(Slot { second: Second { at, ..Second::default() }, ..Slot::default() });
        }
        let (from, to) = (before.saturating_sub(LIVE), i.saturating_sub(LIVE));
        if from < to {
            self.slots[from..to].iter_mut().for_each(Slot::encode);
        }
    }

    /// One connection attempt that ended at `at` with `outcome` after
    /// `total` (the handshake histogram of its second records accepted ones).
    pub fn attempt(&mut self, at: Instant, outcome: Outcome, total: Duration) {
        let accepted = outcome.is_accepted();
        self.open += i64::from(accepted);
        let (open, len) = (self.open, self.slots.len());
        let Some(i) = self.index(at) else { return };
        let slot = &mut self.slots[i];
        slot.second.attempts += 1;
        if accepted {
            slot.second.accepted += 1;
            slot.live().record(total);
            if i + LIVE < len {
                slot.encode(); // a late event: its second stays encoded
            }
        } else {
            *slot.second.rejected.entry(outcome).or_default() += 1;
        }
        self.mark_open(open);
    }

    /// The open count so far belongs to the newest second.
    fn mark_open(&mut self, open: i64) {
        if let Some(last) = self.slots.last_mut() {
            last.second.open = open;
            last.open_set = true;
        }
    }

    /// One open connection that ended at `at`, counted under its [`cause`].
    pub fn closed(&mut self, at: Instant, close: &CloseInfo) {
        self.open -= 1;
        let open = self.open;
        let Some(i) = self.index(at) else { return };
        let slot = &mut self.slots[i];
        *slot.second.closes.entry(cause(close)).or_default() += 1;
        self.mark_open(open);
    }

    /// The seconds from the origin's to `end`'s, each with its numbers;
    /// a second without events carries the open count of the one before.
    pub fn seconds(&self, end: Instant) -> Vec<Second> {
        let mut me = self.clone();
        let last = unix_second(me.origin.wall_of(end)) - me.first;
        if let Ok(last) = usize::try_from(last) {
            me.extend_to(last.min(MAX_SECONDS - 1));
        }
        let mut open = 0;
        me.slots
            .into_iter()
            .map(|mut slot| {
                if slot.open_set {
                    open = slot.second.open;
                }
                slot.second.open = open;
                slot.encode();
                slot.second.handshake = slot.encoded;
                slot.second
            })
            .collect()
    }
}

/// Which count a rate is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// Attempts.
    Attempts,
    /// Accepted attempts.
    Accepted,
}

/// The mean per second of `count` over the whole seconds that lie within
/// `from..to` (`None` when no whole second does): a rate without the
/// ramp-up and tail of partial seconds.
pub fn steady_rate<'a>(
    seconds: impl IntoIterator<Item = &'a Second>,
    from: SystemTime,
    to: SystemTime,
    count: Count,
) -> Option<f64> {
    let first = unix_second(from) + i64::from(from != UNIX_EPOCH + Duration::from_secs(unix_second(from) as u64));
    let last = unix_second(to) - 1;
    let (mut n, mut sum) = (0u64, 0u64);
    for s in seconds.into_iter().filter(|s| s.at >= first && s.at <= last) {
        n += 1;
        sum += match count {
            Count::Attempts => s.attempts,
            Count::Accepted => s.accepted,
        };
    }
    (n > 0).then(|| sum as f64 / n as f64)
}

impl Timeline {
    /// The warning for a report whose timeline ran out of seconds.
    pub fn truncation_warning(&self) -> Option<String> {
        (self.truncated > 0).then(|| {
            format!(
                "the timeline keeps {MAX_SECONDS} s; {} later events are counted in the totals only",
                self.truncated
            )
        })
    }

    /// [`steady_rate`] over this timeline so far.
    pub fn steady_rate(&self, from: SystemTime, to: SystemTime, count: Count) -> Option<f64> {
        steady_rate(self.slots.iter().map(|s| &s.second), from, to, count)
    }
}

impl Fold for Timeline {
    fn apply(&mut self, e: &Event) {
        match &e.kind {
            EventKind::Attempt { outcome, total, .. } => self.attempt(e.at, *outcome, *total),
            EventKind::Closed { close, .. } => self.closed(e.at, close),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(at: Instant, outcome: &str, ms: u64) -> Event {
        let outcome = outcome.parse().unwrap();
        Event {
            client: 0,
            at,
            kind: EventKind::Attempt { wave: 0, outcome, tcp: None, proxy: None, total: Duration::from_millis(ms) },
        }
    }

    fn closed(at: Instant, close: CloseInfo) -> Event {
        let z = Duration::ZERO;
        Event { client: 0, at, kind: EventKind::Closed { close, after: z, idle_in: z, idle_out: z, pongs_withheld: 0 } }
    }

    #[test]
    fn seconds_count_attempts_open_connections_and_closes() {
        let origin = Origin::now();
        let mut t = Timeline::new(origin);
        let at = |ms: u64| origin.instant + Duration::from_millis(ms);
        t.apply(&attempt(at(10), "accepted", 2));
        t.apply(&attempt(at(20), "accepted", 4));
        t.apply(&attempt(at(30), "http-503", 1));
        t.apply(&closed(at(2500), CloseInfo::frame(4001, "token expired")));
        t.apply(&closed(at(2600), CloseInfo::ours(1000, "done")));
        let s = t.seconds(at(3100));
        let base = unix_second(origin.wall);
        assert_eq!(s.first().map(|s| s.at), Some(base));
        let total: u64 = s.iter().map(|s| s.attempts).sum();
        let accepted: u64 = s.iter().map(|s| s.accepted).sum();
        assert_eq!((total, accepted), (3, 2));
        let last = s.last().unwrap();
        assert_eq!(last.open, 0);
        let closes: Vec<_> = s.iter().flat_map(|s| s.closes.keys().cloned()).collect();
        assert_eq!(closes, ["4001", "wsprobe"]);
        let hist: u64 =
            s.iter().filter_map(|s| s.handshake.as_deref()).map(|h| Latency::from_base64(h).unwrap().count()).sum();
        assert_eq!(hist, 2);
        assert!(s.windows(2).all(|w| w[1].at == w[0].at + 1), "dense seconds");
    }

    #[test]
    fn steady_rates_count_only_whole_seconds() {
        let at = |s: i64, accepted: u64| Second { at: s, accepted, attempts: accepted, ..Second::default() };
        let secs = [at(100, 5), at(101, 10), at(102, 10), at(103, 2)];
        let t = |s: f64| UNIX_EPOCH + Duration::from_secs_f64(s);
        assert_eq!(steady_rate(&secs, t(100.5), t(103.5), Count::Accepted), Some(10.0));
        assert_eq!(steady_rate(&secs, t(100.0), t(102.0), Count::Attempts), Some(7.5));
        assert_eq!(steady_rate(&secs, t(100.2), t(100.9), Count::Accepted), None);
    }

    #[test]
    fn a_late_event_reopens_an_encoded_second() {
        let origin = Origin::now();
        let mut t = Timeline::new(origin);
        let at = |s: u64| origin.instant + Duration::from_secs(s);
        t.apply(&attempt(at(0), "accepted", 1));
        t.apply(&attempt(at(10), "accepted", 1));
        t.apply(&attempt(at(0), "accepted", 1));
        let s = t.seconds(at(10));
        let first = Latency::from_base64(s[0].handshake.as_deref().unwrap()).unwrap();
        assert_eq!((s[0].accepted, first.count()), (2, 2));
    }
}
