//! Telling a server's overflowing listen backlog from a slow server. When
//! the accept queue is full the kernel drops new SYNs, and the clients'
//! kernels send them again after the initial retransmission timeout of
//! 1 s: Linux since 6.7 retries 4 times a second apart, then doubles (1,
//! 2, 3, 4, 5, 7, 11, 15 s after the first SYN; older kernels 1, 3, 7,
//! 15 s). So TCP connects that are otherwise fractions of a millisecond
//! pile up just after those marks. The kernel's own counters, read when
//! the target is on this machine, say it outright.

use super::StormDetails;
use crate::net::attempt::Phase;
use crate::stats::latency::Latency;
use crate::stats::listen_queue::ListenQueue;

/// The first SYN retransmission, after the first SYN (µs).
const FIRST_RETRANSMIT_US: u64 = 1_000_000;

/// The later ones, linear (Linux 6.7+) and exponential backoff (µs).
const LATER_RETRANSMITS_US: [u64; 7] = [2_000_000, 3_000_000, 4_000_000, 5_000_000, 7_000_000, 11_000_000, 15_000_000];

/// How long after a retransmission a connect still counts as answered by
/// it (a loaded server or client machine adds its own delay).
const SLACK_US: u64 = 500_000;

/// A TCP connect or an upgrade (each at least one round trip) faster than
/// this shows the path itself is fast, so a pile-up at 1 s is the
/// retransmission, not the path.
const FAST_US: u64 = 500_000;

/// TCP connects that waited for SYN retransmissions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retransmitted {
    /// Connected after the first (about 1 s).
    pub once: u64,
    /// Connected after later ones (2 s or more).
    pub more: u64,
}

/// The connects that piled up just after the SYN retransmission marks,
/// when they stand out: the path is fast (some TCP connect or `upgrade`
/// took under half a second: every first SYN of a herd may have been
/// dropped), and the half second before the 1 s mark holds at most half
/// as many connects as the half second after it (a slow path smears
/// connects over every time; a dropped SYN jumps to 1 s).
pub fn syn_retransmits(tcp: &Latency, upgrade: &Latency) -> Option<Retransmitted> {
    let window = |at: u64| tcp.count_between_us(at, at + SLACK_US - 1);
    let once = window(FIRST_RETRANSMIT_US);
    let more: u64 = LATER_RETRANSMITS_US.iter().map(|&at| window(at)).sum();
    let before = tcp.count_between_us(FIRST_RETRANSMIT_US - SLACK_US, FIRST_RETRANSMIT_US - 1);
    let fast = tcp.count_between_us(1, FAST_US) + upgrade.count_between_us(1, FAST_US) > 0;
    (fast && once > 0 && once >= 2 * before).then_some(Retransmitted { once, more })
}

/// The diagnosis line when the backlog overflowed, from the TCP connect
/// histogram and (target on this machine) the kernel's counters. The
/// counters alone are the machine's, maybe another server's: they are
/// reported as such.
pub fn diagnosis(d: &StormDetails) -> Option<String> {
    let tcp = Latency::from_base64(&d.histograms.tcp_connect).unwrap_or_default();
    let upgrade = Latency::from_base64(&d.histograms.upgrade).unwrap_or_default();
    let kernel = d.listen_queue.filter(|q| q.any()).map(|ListenQueue { overflows, drops }| {
        format!("the kernel counted {overflows} listen-queue overflows and {drops} listen drops on this machine during the run")
    });
    let Some(r) = syn_retransmits(&tcp, &upgrade) else {
        return kernel.map(|k| {
            format!("Listen backlog: {k}, though no TCP connect waited for a SYN retransmit: if they were this server's, raise its backlog (somaxconn) or ramp the clients (--ramp, --connect-rate).")
        });
    };
    let mut seen = vec![format!(
        "{} of {} TCP connects waited for a SYN retransmit ({} after about 1 s, {} after 2 s or more)",
        r.once + r.more,
        tcp.count(),
        r.once,
        r.more
    )];
    seen.extend(kernel);
    let upgrades = match d.timeouts.get(&Phase::Upgrade) {
        Some(n) => format!(
            " The {n} upgrade timeouts are likely the same overflow: a full queue also drops the handshake's last ACK, so the server never accepted connections this side thought open."
        ),
        None => String::new(),
    };
    Some(format!(
        "Listen backlog: {}. The server's listen backlog overflowed: raise its backlog (somaxconn) or ramp the clients (--ramp, --connect-rate).{upgrades}",
        seen.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hist(ms: &[(u64, u64)]) -> Latency {
        let mut l = Latency::new();
        for &(at, n) in ms {
            (0..n).for_each(|_| l.record(Duration::from_micros(at * 1000 + 300)));
        }
        l
    }

    #[test]
    fn a_pile_up_after_one_and_three_seconds_is_a_dropped_syn() {
        let none = Latency::new();
        let r = syn_retransmits(&hist(&[(0, 900), (1, 60), (1013, 300), (1040, 20), (2010, 5), (3020, 40)]), &none);
        assert_eq!(r, Some(Retransmitted { once: 320, more: 45 }));
        let every_first_syn_dropped = hist(&[(1012, 120)]);
        assert_eq!(syn_retransmits(&every_first_syn_dropped, &none), None, "a path that may be 1 s long");
        let r = syn_retransmits(&every_first_syn_dropped, &hist(&[(2, 10)]));
        assert_eq!(r, Some(Retransmitted { once: 120, more: 0 }), "upgrades in 2 ms: the path is fast");
    }

    #[test]
    fn a_slow_server_is_not_a_dropped_syn() {
        let smear: Vec<(u64, u64)> = (0..40).map(|i| (i * 50, 10)).collect();
        let none = Latency::new();
        assert_eq!(syn_retransmits(&hist(&smear), &none), None, "connects spread evenly over 0-2 s");
        assert_eq!(syn_retransmits(&hist(&[(0, 100), (5, 100)]), &none), None, "all fast");
        assert_eq!(syn_retransmits(&hist(&[(1010, 100)]), &hist(&[(1010, 100)])), None, "a path that is 1 s long");
    }
}
