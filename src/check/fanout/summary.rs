//! From the tally to the figures people read: expected, delivered,
//! missing and duplicated receipts per client and in all, cross-talk,
//! echoes, and the groups broadcasts fall into. Pure.

use serde::{Deserialize, Serialize};

use super::args::{Audience, Mode};
use super::tally::Tally;

/// One client's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDelivery {
    /// The client index.
    pub client: u32,
    /// Messages it was meant to receive.
    pub expected: u64,
    /// Of those, received at least once.
    pub delivered: u64,
    /// Of those, never received.
    pub missing: u64,
    /// Extra copies of messages it was meant to receive.
    pub duplicates: u64,
    /// Messages it received that were meant for someone else.
    pub cross_talk: u64,
    /// Its own messages sent back to it when it was not in the audience.
    pub echoes: u64,
}

/// The delivery figures of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Per client, every client of the run.
    pub per_client: Vec<ClientDelivery>,
    /// The groups broadcasts fall into, when more than one.
    pub groups: Option<Vec<Vec<u32>>>,
    /// True when each group heard all of its own publishers and no one else.
    pub clean_partition: bool,
}

impl Delivery {
    /// Sums a per-client figure.
    pub fn total(&self, f: impl Fn(&ClientDelivery) -> u64) -> u64 {
        self.per_client.iter().map(f).sum()
    }
}

/// Computes the figures; `connected[c]` says whether client c was open
/// when publishing began (only those are expected to receive).
pub fn deliveries(tally: &Tally, connected: &[bool]) -> Delivery {
    let n = tally.layout.clients;
    let mut per_client: Vec<ClientDelivery> = (0..n)
        .map(|c| ClientDelivery {
            client: c,
            cross_talk: tally.cross_talk[c as usize],
            echoes: tally.echoes[c as usize],
            ..ClientDelivery::default()
        })
        .collect();
    for (id, to) in intended_pairs(tally, connected) {
        let k = u64::from(tally.count(id, to));
        let d = &mut per_client[to as usize];
        d.expected += 1;
        d.delivered += u64::from(k > 0);
        d.missing += u64::from(k == 0);
        d.duplicates += k.saturating_sub(1);
    }
    let (groups, clean_partition) = partition(tally, connected, &per_client);
    Delivery { per_client, groups, clean_partition }
}

/// Every (published message, client meant to receive it) pair.
fn intended_pairs<'a>(tally: &'a Tally, connected: &'a [bool]) -> impl Iterator<Item = (u64, u32)> + 'a {
    let layout = tally.layout;
    let open = move |c: u32| connected.get(c as usize).copied().unwrap_or(false);
    (0..layout.ids()).filter(move |&id| layout.is_valid(id) && tally.published(id)).flat_map(move |id| {
        let publisher = layout.publisher(id);
        let audience: Box<dyn Iterator<Item = u32>> = match layout.recipient(id) {
            Some(to) => Box::new(std::iter::once(to)),
            None => {
                Box::new((0..layout.clients).filter(move |&c| !(layout.audience == Audience::Others && c == publisher)))
            }
        };
        audience.filter(move |&c| open(c)).map(move |c| (id, c))
    })
}

/// Groups of clients joined by "heard a broadcast of", when broadcasts did
/// not reach everyone; and whether each group heard exactly its own.
fn partition(tally: &Tally, connected: &[bool], per_client: &[ClientDelivery]) -> (Option<Vec<Vec<u32>>>, bool) {
    let layout = tally.layout;
    let missing: u64 = per_client.iter().map(|d| d.missing).sum();
    if layout.mode != Mode::Broadcast || missing == 0 {
        return (None, false);
    }
    let members: Vec<u32> = (0..layout.clients).filter(|&c| connected[c as usize]).collect();
    let heard = intended_pairs(tally, connected)
        .filter(|&(id, c)| tally.count(id, c) > 0)
        .map(|(id, c)| (layout.publisher(id), c));
    let groups = super::groups::groups(layout.clients, &members, heard);
    if groups.len() < 2 {
        return (None, false);
    }
    let mut group_of = vec![usize::MAX; layout.clients as usize];
    for (g, group) in groups.iter().enumerate() {
        group.iter().for_each(|&c| group_of[c as usize] = g);
    }
    let clean = intended_pairs(tally, connected).all(|(id, c)| {
        let same = group_of[layout.publisher(id) as usize] == group_of[c as usize];
        same == (tally.count(id, c) > 0)
    });
    (Some(groups), clean)
}

#[cfg(test)]
mod tests {
    use super::super::layout::Layout;
    use super::super::tally::{FanoutEvent, PublishClock};
    use super::*;
    use crate::stats::Fold;

    fn run(mode: Mode, clients: u32, rounds: u32, reach: impl Fn(u64, u32) -> bool) -> Delivery {
        let layout = Layout { mode, audience: Audience::All, clients, rounds };
        let clock = PublishClock::new(layout.ids());
        let mut t = Tally::new(layout, clock.clone());
        for id in (0..layout.ids()).filter(|&id| layout.is_valid(id)) {
            clock.mark(id, 0);
            for c in (0..clients).filter(|&c| reach(id, c)) {
                t.apply(&FanoutEvent::Receipt { client: c, id, at_us: 5, sent_us: None });
            }
        }
        deliveries(&t, &vec![true; clients as usize])
    }

    #[test]
    fn a_full_broadcast_has_nothing_missing_and_no_groups() {
        let d = run(Mode::Broadcast, 4, 4, |_, _| true);
        assert_eq!((d.total(|c| c.expected), d.total(|c| c.missing)), (16, 0));
        assert_eq!(d.groups, None);
    }

    #[test]
    fn two_registries_partition_cleanly() {
        let d = run(Mode::Broadcast, 6, 6, |id, c| id % 2 == u64::from(c % 2));
        assert_eq!(d.groups, Some(vec![vec![0, 2, 4], vec![1, 3, 5]]));
        assert!(d.clean_partition);
        assert_eq!(d.total(|c| c.missing), 18);
    }

    #[test]
    fn spam_is_cross_talk_per_stray_receiver() {
        let d = run(Mode::Unicast, 3, 3, |_, _| true);
        // 3 rounds × 2 recipients; each message also reaches 1 stray and
        // the publisher (an echo).
        assert_eq!((d.total(|c| c.expected), d.total(|c| c.delivered)), (6, 6));
        assert_eq!((d.total(|c| c.cross_talk), d.total(|c| c.echoes)), (6, 6));
    }
}
