//! The stability collector: every close with its timing, server pings and
//! their intervals, pong round trips, application heartbeat replies, and
//! the regular drop period that repeated drops reveal (a token TTL, a proxy
//! timeout). Closes wsprobe starts itself are counted apart, never as drops.

use std::collections::{BTreeMap, HashMap};

use crate::net::attempt::Outcome;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::event::{AppEvent, EndHow, Event, EventKind};
use crate::stats::latency::Latency;
use crate::units::secs;

/// One drop: a connection the server (or the path) ended.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CloseRecord {
    /// Client index.
    pub client: u32,
    /// Close code (1006 when no close frame came).
    pub code: u16,
    /// Close reason.
    pub reason: String,
    /// True when no close frame came.
    pub abnormal: bool,
    /// What happened on the wire.
    pub how: EndHow,
    /// Error text, for resets and protocol errors.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Seconds the connection had been open.
    pub after_s: f64,
    /// Seconds since the last inbound frame.
    pub idle_in_s: f64,
    /// Seconds since the last outbound frame.
    pub idle_out_s: f64,
    /// Seconds since the run started.
    pub at_s: f64,
    /// Server pings seen on this connection.
    pub server_pings: u32,
    /// Pongs withheld on this connection (`--no-pong`).
    pub pongs_withheld: u64,
    /// Seconds from the server's last ping on this connection to the close
    /// (`None`: it sent none): a pong deadline shows as a close about one
    /// deadline after an unanswered ping, whatever the close code. (The
    /// four fields from here default when a report saved before them is
    /// read back.)
    #[serde(default)]
    pub since_ping_s: Option<f64>,
    /// Seconds since the last data message (text or binary, application
    /// heartbeats included) from the server, or since opening: pings and
    /// pongs do not count, so an idle timeout that only data resets shows.
    #[serde(default)]
    pub idle_data_in_s: f64,
    /// Seconds since wsprobe's last data message, or since opening.
    #[serde(default)]
    pub idle_data_out_s: f64,
    /// What the diagnosis reads the drop as (set when the soak is judged).
    #[serde(default)]
    pub cause: super::cause::Cause,
}

/// A regular drop period found in repeated drops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Period {
    /// Mean connection lifetime before the drop, in seconds.
    pub seconds: f64,
    /// The close code the drops share.
    pub code: u16,
    /// Drops that fit the period.
    pub drops: usize,
}

/// Everything a soak saw.
#[derive(Debug, Clone)]
pub struct StabilityStats {
    /// When the run started.
    pub t0: Instant,
    /// Every drop counted; the first and last of each client kept in full.
    pub closes: super::kept::KeptCloses,
    /// Closes wsprobe made itself (end of run, Ctrl-C).
    pub ours: u64,
    /// Connections opened.
    pub connections: u64,
    /// Failed connection attempts by outcome.
    pub failed_attempts: BTreeMap<Outcome, u64>,
    /// Server pings seen.
    pub server_pings: u64,
    /// Intervals between consecutive server pings on one connection (µs).
    pub ping_intervals: Latency,
    /// Round trips of our pings (µs).
    pub pong_rtt: Latency,
    /// Application heartbeats sent.
    pub app_sent: u64,
    /// Messages received (application heartbeat replies, pushes).
    pub messages_in: u64,
    /// Clients that were dropped at least once.
    pub dropped_clients: std::collections::BTreeSet<u32>,
    /// What the application layers reported.
    pub app: super::app::AppStats,
    last_ping: HashMap<u32, Instant>,
    pings_on_conn: HashMap<u32, u32>,
    last_data: HashMap<u32, LastData>,
    /// The per-second timeline on absolute seconds.
    pub timeline: crate::stats::timeline::Timeline,
}

/// The last data message each way on one connection.
#[derive(Debug, Clone, Copy, Default)]
struct LastData {
    inbound: Option<Instant>,
    outbound: Option<Instant>,
}

impl StabilityStats {
    /// Empty statistics for a run that started at `t0`.
    pub fn new(t0: Instant) -> StabilityStats {
        StabilityStats {
            t0,
            closes: Default::default(),
            ours: 0,
            connections: 0,
            failed_attempts: BTreeMap::new(),
            server_pings: 0,
            ping_intervals: Latency::new(),
            pong_rtt: Latency::new(),
            app_sent: 0,
            messages_in: 0,
            dropped_clients: Default::default(),
            app: Default::default(),
            last_ping: HashMap::new(),
            pings_on_conn: HashMap::new(),
            last_data: HashMap::new(),
            timeline: crate::stats::timeline::Timeline::new(crate::clock::Origin::at(t0)),
        }
    }

    /// Median interval between server pings, in seconds.
    pub fn median_ping_interval_s(&self) -> Option<f64> {
        self.ping_intervals.percentiles().map(|p| (p.p50 / 1000.0 * 1000.0).round() / 1000.0)
    }

    /// A regular drop period: at least two drops with one code whose
    /// connection lifetimes agree within 10%.
    pub fn period(&self) -> Option<Period> {
        self.closes.period()
    }
}

impl StabilityStats {
    /// Records a drop; `times` are its lifetime and idle times in and out.
    fn drop_record(&mut self, e: &Event, close: &crate::event::CloseInfo, times: [Duration; 3], withheld: u64) {
        let [after, idle_in, idle_out] = times;
        self.dropped_clients.insert(e.client);
        let since = |t: Option<Instant>| secs(t.map_or(after, |t| e.at.saturating_duration_since(t)).min(after));
        let data = self.last_data.get(&e.client).copied().unwrap_or_default();
        self.closes.push(CloseRecord {
            client: e.client,
            code: close.code,
            reason: close.reason.clone(),
            abnormal: close.abnormal,
            how: close.how,
            detail: close.detail.clone(),
            after_s: secs(after),
            idle_in_s: secs(idle_in),
            idle_out_s: secs(idle_out),
            at_s: secs(e.at.saturating_duration_since(self.t0)),
            server_pings: self.pings_on_conn.get(&e.client).copied().unwrap_or(0),
            pongs_withheld: withheld,
            since_ping_s: self.last_ping.get(&e.client).map(|t| since(Some(*t))),
            idle_data_in_s: since(data.inbound),
            idle_data_out_s: since(data.outbound),
            cause: Default::default(),
        });
    }

    /// Notes a data message (not a ping or pong) in either direction.
    fn data(&mut self, client: u32, at: Instant, inbound: bool, outbound: bool) {
        if !(inbound || outbound) {
            return;
        }
        let last = self.last_data.entry(client).or_default();
        if inbound {
            last.inbound = Some(at);
        }
        if outbound {
            last.outbound = Some(at);
        }
    }
}

/// Time as the diagnosis prints it (`60.0 s`).
pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

impl crate::stats::Fold for StabilityStats {
    fn apply(&mut self, e: &Event) {
        self.timeline.apply(e);
        match &e.kind {
            EventKind::Attempt { outcome, .. } if outcome.is_accepted() => {
                self.connections += 1;
                self.last_ping.remove(&e.client);
                self.pings_on_conn.insert(e.client, 0);
                self.last_data.remove(&e.client);
                self.app.opened(e.client);
            }
            EventKind::Attempt { outcome, .. } => *self.failed_attempts.entry(*outcome).or_default() += 1,
            EventKind::ServerPing => {
                self.server_pings += 1;
                *self.pings_on_conn.entry(e.client).or_default() += 1;
                if let Some(prev) = self.last_ping.insert(e.client, e.at) {
                    self.ping_intervals.record(e.at.saturating_duration_since(prev));
                }
            }
            EventKind::ServerPings(n) => {
                self.server_pings += u64::from(*n);
                *self.pings_on_conn.entry(e.client).or_default() += n;
                let last = self.last_ping.entry(e.client).or_insert(e.at);
                *last = (*last).max(e.at);
            }
            EventKind::Pong(rtt) => self.pong_rtt.record(*rtt),
            EventKind::Traffic { sent, received, .. } => {
                self.app_sent += u64::from(*sent);
                self.messages_in += u64::from(*received);
                self.data(e.client, e.at, *received > 0, *sent > 0);
            }
            EventKind::Closed { close, after, idle_in, idle_out, pongs_withheld } => {
                if !close.is_drop() {
                    self.ours += 1;
                    return;
                }
                let idle = [*after, *idle_in, *idle_out];
                self.drop_record(e, close, idle, *pongs_withheld);
            }
            EventKind::GaveUp { .. } | EventKind::MessageSpan { .. } => {}
            EventKind::App(app) => {
                let (inbound, outbound) = match app {
                    AppEvent::ServerBeat => (true, false),
                    AppEvent::Replied | AppEvent::BeatSent => (false, true),
                    _ => (false, false),
                };
                self.data(e.client, e.at, inbound, outbound);
                self.app.apply(e.client, e.at, app);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CloseInfo;
    use crate::stats::Fold;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn closed(close: CloseInfo, after_ms: u64) -> EventKind {
        let d = Duration::from_millis(after_ms);
        EventKind::Closed { close, after: d, idle_in: d, idle_out: d, pongs_withheld: 0 }
    }

    #[test]
    fn our_closes_are_not_drops() {
        let t0 = Instant::now();
        let mut s = StabilityStats::new(t0);
        s.apply(&Event { client: 0, at: at(t0, 100), kind: closed(CloseInfo::ours(1000, "done"), 100) });
        assert!(s.closes.is_empty());
        assert_eq!(s.ours, 1);
    }

    #[test]
    fn ping_intervals_are_per_connection() {
        let t0 = Instant::now();
        let mut s = StabilityStats::new(t0);
        for ms in [500, 1000, 1500] {
            s.apply(&Event { client: 0, at: at(t0, ms), kind: EventKind::ServerPing });
            s.apply(&Event { client: 1, at: at(t0, ms + 250), kind: EventKind::ServerPing });
        }
        assert_eq!(s.server_pings, 6);
        assert!((s.median_ping_interval_s().unwrap() - 0.5).abs() < 0.01);
    }

    #[test]
    fn a_regular_period_is_found_and_an_irregular_one_is_not() {
        let t0 = Instant::now();
        let mut s = StabilityStats::new(t0);
        for (i, after) in [1000u64, 1010, 995, 1005].iter().enumerate() {
            s.apply(&Event {
                client: 0,
                at: at(t0, 1000 * (i as u64 + 1)),
                kind: closed(CloseInfo::frame(4001, "token expired"), *after),
            });
        }
        let p = s.period().unwrap();
        assert_eq!((p.code, p.drops), (4001, 4));
        assert!((p.seconds - 1.0).abs() < 0.02);
        let mut irregular = StabilityStats::new(t0);
        for after in [1000u64, 3000] {
            irregular.apply(&Event { client: 0, at: t0, kind: closed(CloseInfo::abnormal(EndHow::Eof, ""), after) });
        }
        assert!(irregular.period().is_none());
    }
}
