//! Partition inference: which clients hear which publishers. When a
//! broadcast reaches only part of the audience, the clients fall into
//! groups joined by "heard a message of"; several groups that each hear
//! only themselves are the signature of several workers (or pods) that
//! each keep their own connection registry.

/// Disjoint sets over client indices (union by size, path halving).
struct Sets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl Sets {
    fn new(n: usize) -> Sets {
        Sets { parent: (0..n as u32).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
    }
}

/// The groups of `members` (connected clients) given who heard whom: each
/// `(publisher, receiver)` edge joins two clients. Each group is sorted and
/// the list is sorted by first index.
pub fn groups(clients: u32, members: &[u32], heard: impl IntoIterator<Item = (u32, u32)>) -> Vec<Vec<u32>> {
    let mut sets = Sets::new(clients as usize);
    for (publisher, receiver) in heard {
        sets.union(publisher, receiver);
    }
    let mut by_root: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
    for &m in members {
        by_root.entry(sets.find(m)).or_default().push(m);
    }
    let mut out: Vec<Vec<u32>> = by_root.into_values().collect();
    out.iter_mut().for_each(|g| g.sort_unstable());
    out.sort_by_key(|g| g[0]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_workers_make_two_groups() {
        // Round-robin over 2 workers: even clients on one, odd on the other.
        let heard = (0..6u32).flat_map(|p| (0..6u32).filter(move |r| r % 2 == p % 2).map(move |r| (p, r)));
        assert_eq!(groups(6, &[0, 1, 2, 3, 4, 5], heard), vec![vec![0, 2, 4], vec![1, 3, 5]]);
    }

    #[test]
    fn full_reach_is_one_group_and_silent_clients_stand_alone() {
        let heard = (0..3u32).flat_map(|p| (0..3u32).map(move |r| (p, r)));
        assert_eq!(groups(4, &[0, 1, 2, 3], heard), vec![vec![0, 1, 2], vec![3]]);
    }
}
