//! The kernel's own count of listen-queue overflows: `TcpExtListenOverflows`
//! and `TcpExtListenDrops` from `/proc/net/netstat`, read before and after
//! a run, so a storm against a server on this machine (loopback) can say
//! how many connects the server's full accept queue dropped, in the
//! kernel's words rather than inferred from latencies.
//!
//! The counters belong to the network namespace, not to one socket: other
//! servers on the machine count there too, so a report calls them what
//! the kernel counted "on this machine during the run".

use serde::{Deserialize, Serialize};

/// Where Linux keeps the extended TCP counters.
const NETSTAT: &str = "/proc/net/netstat";

/// The two listen-queue counters, or the change in them over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenQueue {
    /// `ListenOverflows`: a connection completed its handshake (or sent
    /// its SYN) while the accept queue was full.
    pub overflows: u64,
    /// `ListenDrops`: SYNs and handshake ends the listener dropped, the
    /// overflows included.
    pub drops: u64,
}

impl ListenQueue {
    /// The counters now; `None` where `/proc/net/netstat` cannot be read
    /// (not Linux, or a sandbox without /proc).
    pub fn read() -> Option<ListenQueue> {
        parse(&std::fs::read_to_string(NETSTAT).ok()?)
    }

    /// What changed since `before` (never negative: a counter that went
    /// down means the namespace changed, and counts as no change).
    pub fn since(self, before: ListenQueue) -> ListenQueue {
        ListenQueue {
            overflows: self.overflows.saturating_sub(before.overflows),
            drops: self.drops.saturating_sub(before.drops),
        }
    }

    /// True when the kernel counted anything.
    pub fn any(self) -> bool {
        self.overflows > 0 || self.drops > 0
    }
}

/// The listen-queue counters from the text of `/proc/net/netstat`: a
/// `TcpExt:` line of names followed by a `TcpExt:` line of values.
pub fn parse(text: &str) -> Option<ListenQueue> {
    let mut rows = text.lines().filter_map(|l| l.strip_prefix("TcpExt:"));
    let names: Vec<&str> = rows.next()?.split_whitespace().collect();
    let values: Vec<&str> = rows.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> { values.get(names.iter().position(|n| *n == name)?)?.parse().ok() };
    Some(ListenQueue { overflows: get("ListenOverflows")?, drops: get("ListenDrops")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tcpext_counters_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPFastOpenListenOverflow\n\
                    TcpExt: 0 974 980 0\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(parse(text), Some(ListenQueue { overflows: 974, drops: 980 }));
        assert_eq!(parse("IpExt: InNoRoutes\nIpExt: 0\n"), None);
        let after = ListenQueue { overflows: 1000, drops: 1010 };
        assert_eq!(after.since(ListenQueue { overflows: 26, drops: 30 }), ListenQueue { overflows: 974, drops: 980 });
        assert!(!after.since(after).any());
    }

    #[test]
    fn this_machine_has_the_counters() {
        if cfg!(target_os = "linux") {
            assert!(ListenQueue::read().is_some(), "/proc/net/netstat has TcpExt ListenOverflows on Linux");
        }
    }
}
