//! The drops a soak keeps: counts and lifetimes of every drop (enough for
//! the diagnosis and the drop period), and the full records of only the
//! first and last [`KEEP_PER_CLIENT`] drops of each client, so a server
//! that drops connections as fast as they reconnect cannot grow the
//! report, or wsprobe's memory, without bound.
//!
//! The counts travel in the report as [`DropKind`]s next to the kept
//! records, so a soak is judged again from its report alone
//! ([`KeptCloses::rebuild`]) and shards' drops add up exactly
//! ([`merge_kinds`]).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::closes::{CloseRecord, Period};

/// Full records kept at each end of one client's drops.
pub const KEEP_PER_CLIENT: usize = 10;

/// Connection lifetimes of some drops, in seconds: enough to tell a
/// regular period (all within 10% of the mean) and to add up exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lifetimes {
    /// Sum of the lifetimes.
    pub sum_s: f64,
    /// The shortest.
    pub min_s: f64,
    /// The longest.
    pub max_s: f64,
}

impl Lifetimes {
    fn of(after_s: f64) -> Lifetimes {
        Lifetimes { sum_s: after_s, min_s: after_s, max_s: after_s }
    }

    fn add(&mut self, other: &Lifetimes) {
        self.sum_s += other.sum_s;
        self.min_s = self.min_s.min(other.min_s);
        self.max_s = self.max_s.max(other.max_s);
    }
}

/// Every drop of one close code and kind (clean or abnormal), kept in
/// `closes` or not: how many, the first of them, and their lifetimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropKind {
    /// The close code.
    pub code: u16,
    /// True when no close frame came.
    pub abnormal: bool,
    /// Drops of this kind.
    pub count: u64,
    /// The first of them.
    pub first: CloseRecord,
    /// Their connections' lifetimes.
    pub lifetimes: Lifetimes,
}

impl DropKind {
    fn key(&self) -> (u16, bool) {
        (self.code, self.abnormal)
    }

    /// Adds another shard's drops of this kind; the first is the earlier.
    fn add(&mut self, other: &DropKind) {
        self.count += other.count;
        self.lifetimes.add(&other.lifetimes);
        if other.first.at_s < self.first.at_s {
            self.first = other.first.clone();
        }
    }
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
    kinds: BTreeMap<(u16, bool), DropKind>,
}

impl KeptCloses {
    /// Records one drop.
    pub fn push(&mut self, record: CloseRecord) {
        self.total += 1;
        self.first.get_or_insert_with(|| record.clone());
        let new = || DropKind {
            code: record.code,
            abnormal: record.abnormal,
            count: 0,
            first: record.clone(),
            lifetimes: Lifetimes::of(record.after_s),
        };
        let kind = self.kinds.entry((record.code, record.abnormal)).or_insert_with(new);
        if kind.count > 0 {
            kind.lifetimes.add(&Lifetimes::of(record.after_s));
        }
        kind.count += 1;
        self.keep(record);
    }

    /// Keeps the record when it is among its client's first or last
    /// [`KEEP_PER_CLIENT`]; counts it as omitted otherwise.
    fn keep(&mut self, record: CloseRecord) {
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

    /// The drops a report describes: its kept records (in time order),
    /// its counts by kind and how many records it left out. Counts come
    /// from the kinds, so drops that were not kept still count.
    pub fn rebuild(records: &[CloseRecord], kinds: &[DropKind], omitted: u64) -> KeptCloses {
        let mut out = KeptCloses::default();
        for r in records {
            out.keep(r.clone());
        }
        out.omitted += omitted;
        out.first = records.iter().min_by(|a, b| a.at_s.total_cmp(&b.at_s)).cloned();
        out.kinds = kinds.iter().map(|k| (k.key(), k.clone())).collect();
        out.total = kinds.iter().map(|k| k.count).sum();
        out
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
        self.kinds.values().map(|k| (&k.first, k.count as usize))
    }

    /// Every kind of drop, for the report (lifetime sums to the µs).
    pub fn kind_list(&self) -> Vec<DropKind> {
        let mut out: Vec<DropKind> = self.kinds.values().cloned().collect();
        out.iter_mut().for_each(|k| k.lifetimes.sum_s = (k.lifetimes.sum_s * 1e6).round() / 1e6);
        out
    }

    /// The first drop with this code.
    pub fn first_with_code(&self, code: u16) -> Option<&CloseRecord> {
        self.kinds.values().find(|k| k.code == code).map(|k| &k.first)
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
        let mut by_code: BTreeMap<u16, (u64, Lifetimes)> = BTreeMap::new();
        for k in self.kinds.values() {
            match by_code.get_mut(&k.code) {
                Some((n, l)) => {
                    *n += k.count;
                    l.add(&k.lifetimes);
                }
                None => {
                    by_code.insert(k.code, (k.count, k.lifetimes));
                }
            }
        }
        by_code
            .into_iter()
            .filter(|(_, (count, _))| *count >= 2)
            .filter_map(|(code, (count, l))| {
                let mean = l.sum_s / count as f64;
                let spread = (l.max_s - mean).max(mean - l.min_s);
                (mean > 0.0 && spread <= 0.1 * mean).then(|| Period {
                    seconds: (mean * 100.0).round() / 100.0,
                    code,
                    drops: count as usize,
                })
            })
            .max_by_key(|p| p.drops)
    }
}

/// Several shards' drops by kind, added up (counts and lifetimes add, the
/// first of each kind is the earliest).
pub fn merge_kinds<'a>(lists: impl IntoIterator<Item = &'a [DropKind]>) -> Vec<DropKind> {
    let mut out: BTreeMap<(u16, bool), DropKind> = BTreeMap::new();
    for k in lists.into_iter().flatten() {
        match out.get_mut(&k.key()) {
            Some(have) => have.add(k),
            None => {
                out.insert(k.key(), k.clone());
            }
        }
    }
    out.into_values().collect()
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

    #[test]
    fn a_report_rebuilds_the_counts_of_drops_it_left_out() {
        let mut kept = KeptCloses::default();
        for i in 0..5_000 {
            kept.push(record((i % 7) as u32, i));
        }
        let again = KeptCloses::rebuild(&kept.records(), &kept.kind_list(), kept.omitted());
        assert_eq!((again.len(), again.omitted()), (kept.len(), kept.omitted()));
        assert_eq!(again.records(), kept.records());
        assert_eq!(again.period(), kept.period());
        assert_eq!(again.first(), kept.first());
        assert_eq!(
            again.kinds().map(|(r, n)| (r.clone(), n)).collect::<Vec<_>>(),
            kept.kinds().map(|(r, n)| (r.clone(), n)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn kinds_of_two_shards_add_up_and_keep_the_earlier_first() {
        let (mut a, mut b) = (KeptCloses::default(), KeptCloses::default());
        (0..30).for_each(|i| a.push(record(0, i * 2 + 1)));
        (0..20).for_each(|i| b.push(record(1, i * 2)));
        let merged = merge_kinds([a.kind_list().as_slice(), b.kind_list().as_slice()]);
        assert_eq!(merged.len(), 1);
        assert_eq!((merged[0].count, merged[0].first.client, merged[0].first.at_s), (50, 1, 0.0));
        let mut one = KeptCloses::default();
        (0..30).for_each(|i| one.push(record(0, i * 2 + 1)));
        (0..20).for_each(|i| one.push(record(1, i * 2)));
        assert_eq!(KeptCloses::rebuild(&[], &merged, 0).period(), one.period());
    }
}
