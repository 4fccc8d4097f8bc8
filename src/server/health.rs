//! `GET /health`: the server's numbers as JSON. Totals keep the field names
//! they have always had (summed over the workers); `workers` lists each
//! worker's own open connections and identities, so a split registry shows
//! up as such; the delivery fields count what the queue bound dropped.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `/health` numbers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Health {
    /// Connections open now.
    pub open_connections: usize,
    /// Identities registered now (stale ones included; an identity on two
    /// workers counts twice).
    pub identities: usize,
    /// Max-clients slots taken (leaked ones included).
    pub slots_in_use: usize,
    /// The max-clients setting (per worker).
    pub max_clients: Option<usize>,
    /// Upgrades accepted since start.
    pub accepted_total: u64,
    /// Connections closed since start.
    pub closed_total: u64,
    /// Refused upgrades by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Each worker's own numbers, in worker order.
    #[serde(default)]
    pub workers: Vec<WorkerHealth>,
    /// Messages queued for a recipient (routed and broadcast), since start.
    #[serde(default)]
    pub deliveries_total: u64,
    /// Messages dropped because their recipient was over its queue bound:
    /// those discarded from its queue and those refused after it.
    #[serde(default)]
    pub deliveries_dropped: u64,
    /// Recipients closed with 1008 "slow consumer" for going over the bound.
    #[serde(default)]
    pub slow_consumers_closed: u64,
    /// Bytes queued for recipients right now.
    #[serde(default)]
    pub queued_bytes: usize,
    /// The most bytes one recipient's queue held at once since start; stays
    /// within `queue_limit_bytes` plus one message.
    #[serde(default)]
    pub queue_peak_bytes: usize,
    /// The per-recipient bound (`--max-queue-bytes`).
    #[serde(default)]
    pub queue_limit_bytes: usize,
}

/// One worker's line in `/health`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkerHealth {
    /// The worker's index (0-based, in accept order).
    pub worker: usize,
    /// Its open connections.
    pub open: usize,
    /// Its registered identities.
    pub identities: usize,
}

impl Health {
    /// Adds another worker's numbers: counts add, the peak is the larger,
    /// settings are the same for every worker.
    pub fn add(&mut self, other: Health) {
        self.open_connections += other.open_connections;
        self.identities += other.identities;
        self.slots_in_use += other.slots_in_use;
        self.max_clients = other.max_clients;
        self.accepted_total += other.accepted_total;
        self.closed_total += other.closed_total;
        for (reason, n) in other.rejections {
            *self.rejections.entry(reason).or_default() += n;
        }
        self.workers.extend(other.workers);
        self.deliveries_total += other.deliveries_total;
        self.deliveries_dropped += other.deliveries_dropped;
        self.slow_consumers_closed += other.slow_consumers_closed;
        self.queued_bytes += other.queued_bytes;
        self.queue_peak_bytes = self.queue_peak_bytes.max(other.queue_peak_bytes);
        self.queue_limit_bytes = other.queue_limit_bytes;
    }

    /// The `/health` body: these numbers plus status, uptime, the behaviour
    /// line and the process id (which of several `--reuse-port` processes
    /// answered).
    pub fn to_json(&self, uptime_s: f64, behaviour: String) -> String {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = value.as_object_mut() {
            map.insert("status".into(), "ok".into());
            map.insert("uptime_s".into(), serde_json::json!((uptime_s * 10.0).round() / 10.0));
            map.insert("behaviour".into(), behaviour.into());
            map.insert("pid".into(), std::process::id().into());
        }
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_add_up_and_keep_their_own_lines() {
        let worker = |i: usize, open: usize, peak: usize| Health {
            open_connections: open,
            identities: open,
            rejections: BTreeMap::from([("duplicate".to_string(), 1)]),
            workers: vec![WorkerHealth { worker: i, open, identities: open }],
            queue_peak_bytes: peak,
            ..Health::default()
        };
        let mut total = Health::default();
        total.add(worker(0, 2, 10));
        total.add(worker(1, 3, 7));
        assert_eq!((total.open_connections, total.identities, total.queue_peak_bytes), (5, 5, 10));
        assert_eq!(total.rejections["duplicate"], 2);
        assert_eq!(total.workers.iter().map(|w| w.open).collect::<Vec<_>>(), vec![2, 3]);
        let json: serde_json::Value = serde_json::from_str(&total.to_json(1.0, "x".into())).unwrap();
        assert_eq!(json["workers"][1], serde_json::json!({"worker": 1, "open": 3, "identities": 3}));
        assert_eq!(json["status"], "ok");
        assert_eq!(json["pid"], std::process::id());
    }
}
