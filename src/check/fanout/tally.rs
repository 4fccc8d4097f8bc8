//! The fan-out collector: every receipt folded into counts per (message,
//! client), latency from publish to receipt, the spread from first to last
//! receipt of a broadcast, and order inversions per publisher. Pure and
//! bounded: one byte per (message, client) pair at most, whatever the
//! traffic, and nothing of a payload is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::args::Mode;
use super::layout::{Layout, Role};
use crate::event::CloseInfo;
use crate::net::attempt::Outcome;
use crate::stats::latency::Latency;
use crate::stats::timeline::Timeline;
use crate::stats::Fold;

/// What a fan-out client reports.
#[derive(Debug, Clone)]
pub enum FanoutEvent {
    /// A message with our nonce for message `id` arrived at `client`.
    Receipt {
        /// The receiving client.
        client: u32,
        /// The message.
        id: u64,
        /// When, in µs since the run's start.
        at_us: u64,
        /// When it was published, in µs since the run's start, when its
        /// nonce says (shards stamp every nonce).
        sent_us: Option<u64>,
    },
    /// A message without any of our nonces arrived (acks, presence...).
    Other,
    /// The connection ended before wsprobe closed it.
    Dropped {
        /// The client.
        client: u32,
        /// When.
        at: Instant,
        /// How.
        close: CloseInfo,
    },
    /// A connection attempt ended (for the per-second timeline).
    Attempted {
        /// When.
        at: Instant,
        /// How.
        outcome: Outcome,
        /// How long it took.
        took: Duration,
    },
    /// wsprobe closed an open connection at the end of the run.
    Closed {
        /// When.
        at: Instant,
    },
}

/// When each message was published, in µs since the start plus one (0:
/// not published). Written by the publisher just before it sends, read by
/// the collector when a receipt comes in.
#[derive(Debug)]
pub struct PublishClock {
    at: Vec<AtomicU64>,
    published: AtomicU64,
    first: AtomicU64,
}

impl PublishClock {
    /// A clock for `ids` messages, none published.
    pub fn new(ids: u64) -> Arc<PublishClock> {
        Arc::new(PublishClock {
            at: (0..ids).map(|_| AtomicU64::new(0)).collect(),
            published: AtomicU64::new(0),
            first: AtomicU64::new(u64::MAX),
        })
    }

    /// Marks message `id` published at `at_us`.
    pub fn mark(&self, id: u64, at_us: u64) {
        if let Some(slot) = self.at.get(id as usize) {
            slot.store(at_us + 1, Ordering::Release);
            self.published.fetch_add(1, Ordering::Relaxed);
            self.first.fetch_min(at_us, Ordering::Relaxed);
        }
    }

    /// Takes a mark back: the write failed, so the message never left.
    pub fn unmark(&self, id: u64) {
        if let Some(slot) = self.at.get(id as usize) {
            if slot.swap(0, Ordering::AcqRel) > 0 {
                self.published.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// When message `id` was published, if it was.
    pub fn at(&self, id: u64) -> Option<u64> {
        self.at.get(id as usize).map(|s| s.load(Ordering::Acquire)).filter(|&v| v > 0).map(|v| v - 1)
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// When the first message was published (µs since the start).
    pub fn first_publish_us(&self) -> Option<u64> {
        Some(self.first.load(Ordering::Relaxed)).filter(|&v| v != u64::MAX)
    }
}

/// The running counts of a fan-out run.
#[derive(Debug, Clone)]
pub struct Tally {
    /// The message numbering.
    pub layout: Layout,
    clock: Arc<PublishClock>,
    /// Intended receipts: broadcast `[round × N + client]`, unicast `[id]` (saturating).
    pub counts: Vec<u8>,
    /// First and last intended receipt of each broadcast round (µs).
    pub first_last: Vec<(u64, u64)>,
    /// Receipts by a client a message was not meant for, per client.
    pub cross_talk: Vec<u64>,
    /// Publishers' own copies where they were not in the audience, per client.
    pub echoes: Vec<u64>,
    /// Messages without any of our nonces.
    pub other_messages: u64,
    /// Nonces of ours with an id this run never sends.
    pub foreign: u64,
    /// Publish-to-receipt time of first receipts (µs).
    pub latency: Latency,
    /// Receipts of an older round of a publisher after a newer one.
    pub inversions: u64,
    last_round: HashMap<(u32, u32), u32>,
    /// Connections that ended on the server's side, with how.
    pub drops: Vec<(u32, CloseInfo)>,
    /// Whose messages this process published: another shard's are taken
    /// to be published (that shard's report says which were not).
    pub shard: crate::shard::ShardPlan,
    /// The latest first receipt of any message (µs since the start).
    pub last_receipt_us: u64,
    /// The per-second timeline of connections (attempts, opens, closes).
    pub timeline: Timeline,
}

/// Most drops kept with their close (the rest are only counted).
const DROPS_KEPT: usize = 1000;

impl Tally {
    /// An empty tally.
    pub fn new(layout: Layout, clock: Arc<PublishClock>) -> Tally {
        let n = layout.clients as usize;
        let (cells, broadcast_rounds) = match layout.mode {
            Mode::Broadcast => (layout.rounds as usize * n, layout.rounds as usize),
            Mode::Unicast => (layout.ids() as usize, 0),
        };
        Tally {
            layout,
            clock,
            counts: vec![0; cells],
            first_last: vec![(u64::MAX, 0); broadcast_rounds],
            cross_talk: vec![0; n],
            echoes: vec![0; n],
            other_messages: 0,
            foreign: 0,
            latency: Latency::new(),
            inversions: 0,
            last_round: HashMap::new(),
            drops: Vec::new(),
            shard: crate::shard::ShardPlan::default(),
            last_receipt_us: 0,
            timeline: Timeline::new(crate::clock::Origin::now()),
        }
    }

    /// From the first publish to the last delivery, in µs: the window the
    /// delivery rate is measured over (the trailing `--wait` excluded).
    pub fn delivery_window_us(&self) -> Option<u64> {
        let first = self.clock.first_publish_us()?;
        (self.last_receipt_us > first).then(|| self.last_receipt_us - first)
    }

    /// When this process first published (µs since the start).
    pub fn first_publish_us(&self) -> Option<u64> {
        self.clock.first_publish_us()
    }

    /// Where (id, client)'s intended count lives.
    pub fn cell(&self, id: u64, client: u32) -> usize {
        match self.layout.mode {
            Mode::Broadcast => id as usize * self.layout.clients as usize + client as usize,
            Mode::Unicast => id as usize,
        }
    }

    /// Intended receipts of `id` by `client`.
    pub fn count(&self, id: u64, client: u32) -> u8 {
        self.counts.get(self.cell(id, client)).copied().unwrap_or(0)
    }

    /// Messages published so far.
    pub fn messages_published(&self) -> u64 {
        self.clock.published()
    }

    /// True when message `id` was published (by this process, or by
    /// another shard, as far as this one can tell).
    pub fn published(&self, id: u64) -> bool {
        self.clock.at(id).is_some() || !self.shard.owns(self.layout.publisher(id))
    }

    fn receipt(&mut self, client: u32, id: u64, at_us: u64, sent_us: Option<u64>) {
        if !self.layout.is_valid(id) || client >= self.layout.clients {
            self.foreign += 1;
            return;
        }
        match self.layout.role(id, client) {
            Role::Echo => self.echoes[client as usize] += 1,
            Role::Stray => self.cross_talk[client as usize] += 1,
            Role::Intended => self.intended(client, id, at_us, sent_us),
        }
    }

    fn intended(&mut self, client: u32, id: u64, at_us: u64, sent_us: Option<u64>) {
        let cell = self.cell(id, client);
        self.counts[cell] = self.counts[cell].saturating_add(1);
        if self.counts[cell] > 1 {
            return;
        }
        if let Some(published) = sent_us.or_else(|| self.clock.at(id)) {
            self.latency.record_us(at_us.saturating_sub(published));
        }
        self.last_receipt_us = self.last_receipt_us.max(at_us);
        if let Some(span) = self.first_last.get_mut(id as usize) {
            *span = (span.0.min(at_us), span.1.max(at_us));
        }
        let round = self.layout.round(id);
        let publisher = self.layout.publisher_of_round(round);
        let last = self.last_round.entry((client, publisher)).or_insert(round);
        if round < *last {
            self.inversions += 1;
        } else {
            *last = round;
        }
    }
}

impl Fold<FanoutEvent> for Tally {
    fn apply(&mut self, event: &FanoutEvent) {
        match event {
            FanoutEvent::Receipt { client, id, at_us, sent_us } => self.receipt(*client, *id, *at_us, *sent_us),
            FanoutEvent::Other => self.other_messages += 1,
            FanoutEvent::Dropped { client, at, close } => {
                self.timeline.closed(*at, close);
                if self.drops.len() < DROPS_KEPT {
                    self.drops.push((*client, close.clone()));
                }
            }
            FanoutEvent::Attempted { at, outcome, took } => self.timeline.attempt(*at, *outcome, *took),
            FanoutEvent::Closed { at } => self.timeline.closed(*at, &CloseInfo::ours(1000, "wsprobe fanout done")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::Audience;
    use super::*;

    fn tally(mode: Mode, audience: Audience) -> Tally {
        let layout = Layout { mode, audience, clients: 3, rounds: 3 };
        let clock = PublishClock::new(layout.ids());
        (0..layout.ids()).for_each(|id| clock.mark(id, 1000));
        Tally::new(layout, clock)
    }

    fn receipt(t: &mut Tally, client: u32, id: u64, at_us: u64) {
        t.apply(&FanoutEvent::Receipt { client, id, at_us, sent_us: None });
    }

    #[test]
    fn broadcast_counts_latency_spread_and_duplicates() {
        let mut t = tally(Mode::Broadcast, Audience::All);
        receipt(&mut t, 0, 1, 1500);
        receipt(&mut t, 1, 1, 1200);
        receipt(&mut t, 1, 1, 1300);
        assert_eq!((t.count(1, 0), t.count(1, 1), t.count(1, 2)), (1, 2, 0));
        assert_eq!(t.latency.count(), 2, "duplicates are not timed twice");
        assert_eq!(t.first_last[1], (1200, 1500));
    }

    #[test]
    fn unicast_strays_and_echoes() {
        let mut t = tally(Mode::Unicast, Audience::All);
        let id = t.layout.unicast_id(1, 2); // publisher 1, for 2
        receipt(&mut t, 2, id, 2000);
        receipt(&mut t, 0, id, 2000);
        receipt(&mut t, 1, id, 2000);
        assert_eq!((t.count(id, 2), t.cross_talk[0], t.echoes[1]), (1, 1, 1));
        let to_itself = t.layout.unicast_id(1, 1);
        receipt(&mut t, 0, to_itself, 2000);
        receipt(&mut t, 0, 999, 2000);
        assert_eq!(t.foreign, 2);
    }

    #[test]
    fn an_older_round_after_a_newer_one_is_an_inversion() {
        let mut t = tally(Mode::Broadcast, Audience::All);
        let mut l = t.layout;
        l.rounds = 7;
        t = Tally::new(l, PublishClock::new(7));
        receipt(&mut t, 2, 3, 10); // round 3, publisher 0
        receipt(&mut t, 2, 0, 20); // round 0, publisher 0: older
        receipt(&mut t, 2, 6, 30);
        assert_eq!(t.inversions, 1);
    }
}
