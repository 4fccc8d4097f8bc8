//! The drops a soak keeps: counts and lifetimes of every drop (enough for
//! the diagnosis and the drop period), and the full records of only the
//! first and last [`KEEP_PER_CLIENT`] drops of each client, so a server
//! that drops connections as fast as they reconnect cannot grow the
//! report, or wsprobe's memory, without bound.

use std::collections::{BTreeMap, VecDeque};

use super::closes::{CloseRecord, Period};

/// Full records kept at each end of one client's drops.
pub const KEEP_PER_CLIENT: usize = 10;

/// Lifetimes of the drops with one close code.
#[derive(Debug, Clone, Copy, Default)]
struct Lifetimes {
    count: usize,
    sum: f64,
    min: f64,
    max: f64,
}

#[derive(Debug, Clone, Default)]
struct ClientDrops {
    first: Vec<CloseRecord>,
    last: VecDeque<CloseRecord>,
}

/// Every drop counted, the first and last of each client kept in full.
#[derive(Debug, Clone, Default)]
pub struct KeptCloses {
    total: u64,
    omitted: u64,
    per_client: BTreeMap<u32, ClientDrops>,
    first: Option<CloseRecord>,
    first_of_kind: BTreeMap<(u16, bool), (CloseRecord, usize)>,
    lifetimes: BTreeMap<u16, Lifetimes>,
}

impl KeptCloses {
    /// Records one drop.
    pub fn push(&mut self, record: CloseRecord) {
        self.total += 1;
        self.first.get_or_insert_with(|| record.clone());
        let kind = self.first_of_kind.entry((record.code, record.abnormal)).or_insert_with(|| (record.clone(), 0));
        kind.1 += 1;
        let l = self.lifetimes.entry(record.code).or_insert(Lifetimes { min: f64::MAX, ..Lifetimes::default() });
        l.count += 1;
        l.sum += record.after_s;
        l.min = l.min.min(record.after_s);
        l.max = l.max.max(record.after_s);
        let client = self.per_client.entry(record.client).or_default();
        if client.first.len() < KEEP_PER_CLIENT {
            client.first.push(record);
            return;
        }
        client.last.push_back(record);
        if client.last.len() > KEEP_PER_CLIENT {
            client.last.pop_front();
            self.omitted += 1;
        }
    }

    /// True when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Every drop, kept or not.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Drops counted but not kept in full.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The first drop of the run.
    pub fn first(&self) -> Option<&CloseRecord> {
        self.first.as_ref()
    }

    /// Per (code, abnormal): the first such drop and how many there were.
    pub fn kinds(&self) -> impl Iterator<Item = (&CloseRecord, usize)> {
        self.first_of_kind.values().map(|(r, n)| (r, *n))
    }

    /// The first drop with this code.
    pub fn first_with_code(&self, code: u16) -> Option<&CloseRecord> {
        self.first_of_kind.iter().find(|((c, _), _)| *c == code).map(|(_, (r, _))| r)
    }

    /// The kept records, in the order they happened.
    pub fn records(&self) -> Vec<CloseRecord> {
        let mut all: Vec<CloseRecord> =
            self.per_client.values().flat_map(|c| c.first.iter().chain(c.last.iter())).cloned().collect();
        all.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        all
    }

    /// A regular drop period: at least two drops with one code whose
    /// connection lifetimes agree within 10% (all drops count, kept or not).
    pub fn period(&self) -> Option<Period> {
        self.lifetimes
            .iter()
            .filter(|(_, l)| l.count >= 2)
            .filter_map(|(&code, l)| {
                let mean = l.sum / l.count as f64;
                let spread = (l.max - mean).max(mean - l.min);
                (mean > 0.0 && spread <= 0.1 * mean).then(|| Period {
                    seconds: (mean * 100.0).round() / 100.0,
                    code,
                    drops: l.count,
                })
            })
            .max_by_key(|p| p.drops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EndHow;

    fn record(client: u32, i: usize) -> CloseRecord {
        CloseRecord {
            client,
            code: 4001,
            reason: "token expired".into(),
            abnormal: false,
            how: EndHow::CloseFrame,
            detail: String::new(),
            after_s: 1.0 + (i % 3) as f64 * 0.01,
            idle_in_s: 0.0,
            idle_out_s: 0.0,
            at_s: i as f64,
            server_pings: 0,
            pongs_withheld: 0,
            since_ping_s: None,
            idle_data_in_s: 0.0,
            idle_data_out_s: 0.0,
            cause: Default::default(),
        }
    }

    #[test]
    fn a_drop_storm_keeps_both_ends_per_client_and_counts_all() {
        let mut kept = KeptCloses::default();
        for i in 0..100_000 {
            kept.push(record((i % 50) as u32, i));
        }
        assert_eq!(kept.len(), 100_000);
        let records = kept.records();
        assert_eq!(records.len(), 50 * 2 * KEEP_PER_CLIENT);
        assert_eq!(kept.omitted(), 100_000 - records.len() as u64);
        assert_eq!(records.last().map(|r| r.at_s), Some(99_999.0));
        let p = kept.period().expect("the period survives the bound");
        assert_eq!((p.code, p.drops), (4001, 100_000));
        assert_eq!(kept.kinds().next().map(|(_, n)| n), Some(100_000));
    }
}
