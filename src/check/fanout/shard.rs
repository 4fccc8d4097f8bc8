//! What a fan-out shard reports besides its own figures, so `merge` can
//! redo the whole run's: for a broadcast, which publishers each of its
//! clients heard (to find the groups across shards) and the first and
//! last receipt of each round (for the spread); in any mode, its first
//! publish and last receipt (for the delivery window). Bounded: left out past
//! [`MAX_HEARD`] clients or [`MAX_SPANS`] rounds (the merge then has no
//! groups or spread), and never in a run of one machine.

use std::collections::BTreeMap;

use base64::Engine;

use super::args::Mode;
use super::details::DeliveryTimes;
use super::tally::Tally;

/// Most clients a run may have for shards to report whom they heard.
pub const MAX_HEARD: u32 = 4096;
/// Most rounds a run may have for shards to report each round's receipts.
pub const MAX_SPANS: u32 = 100_000;

fn wanted(tally: &Tally) -> bool {
    tally.shard.is_sharded() && tally.layout.mode == Mode::Broadcast
}

/// For each of this shard's open clients, the publishers it heard at
/// least once: a bit per client index, base64.
pub fn heard(tally: &Tally, connected: &[bool]) -> Option<BTreeMap<u32, String>> {
    let layout = tally.layout;
    if !wanted(tally) || layout.clients > MAX_HEARD {
        return None;
    }
    let mut out = BTreeMap::new();
    for c in tally.shard.clients(layout.clients).filter(|&c| connected[c as usize]) {
        let mut bits = vec![0u8; (layout.clients as usize).div_ceil(8)];
        for round in (0..layout.rounds).filter(|&r| tally.count(u64::from(r), c) > 0) {
            let p = layout.publisher_of_round(round) as usize;
            bits[p / 8] |= 1 << (p % 8);
        }
        out.insert(c, base64::engine::general_purpose::STANDARD.encode(bits));
    }
    Some(out)
}

/// The publishers in a [`heard`] bitmap.
pub fn publishers(bits: &str) -> Vec<u32> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(bits).unwrap_or_default();
    (0..bytes.len() * 8).filter(|&i| bytes[i / 8] & (1 << (i % 8)) != 0).map(|i| i as u32).collect()
}

/// When this shard first published and its clients last received, on
/// the shared clock (every shard, any mode), for the merged delivery window.
pub fn delivery_times(tally: &Tally) -> Option<DeliveryTimes> {
    tally.shard.is_sharded().then(|| DeliveryTimes {
        first_publish_us: tally.first_publish_us(),
        last_receipt_us: Some(tally.last_receipt_us).filter(|&t| t > 0),
    })
}

/// Each round's first and last intended receipt here, µs since the start.
pub fn round_spans(tally: &Tally) -> Option<Vec<Option<[u64; 2]>>> {
    if !wanted(tally) || tally.layout.rounds > MAX_SPANS {
        return None;
    }
    Some(tally.first_last.iter().map(|&(first, last)| (first != u64::MAX).then_some([first, last])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heard_bitmaps_read_back() {
        let mut bits = vec![0u8; 2];
        for p in [0usize, 3, 9] {
            bits[p / 8] |= 1 << (p % 8);
        }
        let text = base64::engine::general_purpose::STANDARD.encode(bits);
        assert_eq!(publishers(&text), [0, 3, 9]);
    }
}
