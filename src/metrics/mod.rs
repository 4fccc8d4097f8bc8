//! Live metrics of a soak, for a Prometheus scraper while it runs (`--metrics-addr`):
//! open connections, closes by code and cause, pong and application
//! heartbeat round trips, the server's ping cadence. Folded from the same
//! [`Event`]s the check's collector reads (a tap on its stream), held in
//! `prometheus-client` metrics (atomics, so the HTTP responder in [`http`]
//! encodes them while the collector updates them) and exposed in the
//! OpenMetrics or the Prometheus text format.

pub mod addr;
pub mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::event::{AppEvent, Event, EventKind};

/// Labels of a close: its code and how it ended (`close-frame`, `eof`,
/// `reset`, `protocol-error`, `stalled`, `ours` for wsprobe's own).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    /// The close code (1006 when no close frame came).
    pub code: u16,
    /// How it ended.
    pub cause: String,
}

/// Labels of a connection attempt: its outcome (`accepted`, `http-429`...).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// The outcome label.
    pub outcome: String,
}

/// The metrics and the registry that names them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    open: Gauge,
    attempts: Family<AttemptLabels, Counter>,
    closes: Family<CloseLabels, Counter>,
    pong_rtt: Histogram,
    app_rtt: Histogram,
    server_pings: Counter,
    ping_interval: Gauge<f64, std::sync::atomic::AtomicU64>,
}

/// Round-trip buckets: 100 µs to about 52 s, doubling.
fn rtt_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 20)
}

impl Metrics {
    /// Fresh metrics, all `wsprobe_`-prefixed.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("wsprobe");
        let m = Metrics {
            open: Gauge::default(),
            attempts: Family::default(),
            closes: Family::default(),
            pong_rtt: Histogram::new(rtt_buckets()),
            app_rtt: Histogram::new(rtt_buckets()),
            server_pings: Counter::default(),
            ping_interval: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("open_connections", "Connections open now", m.open.clone());
        registry.register("connection_attempts", "Connection attempts by outcome", m.attempts.clone());
        registry.register("closes", "Connections ended, by close code and cause", m.closes.clone());
        let rtt = "Round trip of wsprobe's ping frames to the server's pongs";
        registry.register_with_unit("pong_rtt", rtt, Unit::Seconds, m.pong_rtt.clone());
        let app = "Round trip of wsprobe's application heartbeats to their answers";
        registry.register_with_unit("app_heartbeat_rtt", app, Unit::Seconds, m.app_rtt.clone());
        registry.register("server_pings", "Ping frames the server sent", m.server_pings.clone());
        let interval = "Latest interval between two server pings on one connection";
        registry.register_with_unit("server_ping_interval", interval, Unit::Seconds, m.ping_interval.clone());
        Metrics { registry, ..m }
    }

    /// The metrics in the OpenMetrics text format (`openmetrics`) or the
    /// Prometheus text format 0.0.4.
    pub fn encode(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        let encoded = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        };
        if encoded.is_err() {
            out.clear();
        }
        out
    }

    /// Connections open now.
    pub fn open(&self) -> i64 {
        self.open.get()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Folds a soak's events into [`Metrics`]: the per-connection state the
/// intervals and round trips need lives here, bounded by the clients.
#[derive(Debug)]
pub struct Tap {
    metrics: Arc<Metrics>,
    last_ping: HashMap<u32, Instant>,
    app_sent: HashMap<u32, Instant>,
}

impl Tap {
    /// A tap feeding `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Tap {
        Tap { metrics, last_ping: HashMap::new(), app_sent: HashMap::new() }
    }

    /// Folds one event in.
    pub fn observe(&mut self, e: &Event) {
        let m = &self.metrics;
        match &e.kind {
            EventKind::Attempt { outcome, .. } => {
                m.attempts.get_or_create(&AttemptLabels { outcome: outcome.to_string() }).inc();
                if outcome.is_accepted() {
                    m.open.inc();
                    self.last_ping.remove(&e.client);
                }
            }
            EventKind::Closed { close, .. } => {
                m.open.dec();
                let cause = serde_json::to_value(close.how).ok().and_then(|v| v.as_str().map(str::to_string));
                let labels = CloseLabels { code: close.code, cause: cause.unwrap_or_default() };
                m.closes.get_or_create(&labels).inc();
                self.app_sent.remove(&e.client);
            }
            EventKind::ServerPing => {
                m.server_pings.inc();
                if let Some(prev) = self.last_ping.insert(e.client, e.at) {
                    m.ping_interval.set(e.at.saturating_duration_since(prev).as_secs_f64());
                }
            }
            EventKind::ServerPings(n) => {
                m.server_pings.inc_by(u64::from(*n));
            }
            EventKind::Pong(rtt) => m.pong_rtt.observe(rtt.as_secs_f64()),
            EventKind::Traffic { sent, received, .. } => self.app_traffic(e, *sent, *received),
            EventKind::App(AppEvent::BeatAck(rtt)) => m.app_rtt.observe(rtt.as_secs_f64()),
            _ => {}
        }
    }

    /// `--app-ping`: the round trip from a heartbeat to the next message
    /// that arrives on its connection (the answer, on a server that
    /// answers heartbeats).
    fn app_traffic(&mut self, e: &Event, sent: u32, received: u32) {
        if sent > 0 {
            self.app_sent.insert(e.client, e.at);
        } else if received > 0 {
            if let Some(at) = self.app_sent.remove(&e.client) {
                self.metrics.app_rtt.observe(e.at.saturating_duration_since(at).as_secs_f64());
            }
        }
    }
}

/// The metrics of one run, served while it lasts: nothing at all
/// without an address.
#[derive(Debug, Default)]
pub struct Live {
    tap: Option<Tap>,
    endpoint: Option<http::Endpoint>,
}

impl Live {
    /// Starts serving at `addr` (none: no metrics); `Err` says why the
    /// address cannot be served. The address is announced on stderr.
    pub async fn start(addr: Option<SocketAddr>, stop: &CancellationToken) -> Result<Live, String> {
        let Some(addr) = addr else { return Ok(Live::default()) };
        let metrics = Arc::new(Metrics::new());
        let endpoint = http::Endpoint::start(addr, metrics.clone(), stop)
            .await
            .map_err(|e| format!("cannot serve metrics on --metrics-addr {addr}: {e}"))?;
        eprintln!("wsprobe: metrics at http://{}/metrics", endpoint.addr);
        Ok(Live { tap: Some(Tap::new(metrics)), endpoint: Some(endpoint) })
    }

    /// Where the endpoint listens, when it does.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.endpoint.as_ref().map(|e| e.addr)
    }

    /// The fold to show every event of the run to (once; later calls get
    /// one that does nothing).
    pub fn tap(&mut self) -> impl FnMut(&Event) + Send + 'static {
        let mut tap = self.tap.take();
        move |e| {
            if let Some(t) = tap.as_mut() {
                t.observe(e)
            }
        }
    }

    /// Stops serving.
    pub async fn stop(self) {
        if let Some(endpoint) = self.endpoint {
            endpoint.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CloseInfo, Outcome};
    use std::time::Duration;

    fn event(client: u32, at: Instant, kind: EventKind) -> Event {
        Event { client, at, kind }
    }

    #[test]
    fn events_become_gauges_counters_and_histograms() {
        let metrics = Arc::new(Metrics::new());
        let mut tap = Tap::new(metrics.clone());
        let t0 = Instant::now();
        let attempt =
            EventKind::Attempt { wave: 0, outcome: Outcome::Accepted, tcp: None, proxy: None, total: Duration::ZERO };
        tap.observe(&event(0, t0, attempt.clone()));
        tap.observe(&event(1, t0, attempt));
        tap.observe(&event(0, t0, EventKind::ServerPing));
        tap.observe(&event(0, t0 + Duration::from_millis(1500), EventKind::ServerPing));
        tap.observe(&event(0, t0, EventKind::Pong(Duration::from_millis(3))));
        tap.observe(&event(1, t0, EventKind::Traffic { sent: 1, received: 0, round_trips: vec![] }));
        tap.observe(&event(
            1,
            t0 + Duration::from_millis(20),
            EventKind::Traffic { sent: 0, received: 1, round_trips: vec![] },
        ));
        let close = CloseInfo::abnormal(crate::event::EndHow::Eof, "gone");
        tap.observe(&event(1, t0, EventKind::closed(close, t0, t0, t0, 0)));
        assert_eq!(metrics.open(), 1);
        let text = metrics.encode(true);
        for line in [
            "wsprobe_open_connections 1",
            "wsprobe_closes_total{code=\"1006\",cause=\"eof\"} 1",
            "wsprobe_server_pings_total 2",
            "wsprobe_server_ping_interval_seconds 1.5",
            "wsprobe_pong_rtt_seconds_count 1",
            "wsprobe_app_heartbeat_rtt_seconds_count 1",
            "wsprobe_connection_attempts_total{outcome=\"accepted\"} 2",
            "# EOF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!metrics.encode(false).contains("# EOF"), "the Prometheus text format has no EOF marker");
    }
}
