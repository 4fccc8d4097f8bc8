//! wsprobe's own limits: the open-file limit (raised to the hard limit at
//! start), the ephemeral port range, and the socket option that lets many
//! clients share a source address. A storm checks here before it starts, so
//! a run that cannot fit stops with numbers instead of failing half-way.

use std::os::fd::AsRawFd;

use tokio::net::TcpSocket;

/// Open-file limits after trying to raise the soft one to the hard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the most an unprivileged raise can reach).
    pub hard: u64,
}

/// Raises the soft open-file limit as far as the hard limit allows.
pub fn raise_open_files() -> FileLimit {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
    if soft < hard && rlimit::Resource::NOFILE.set(hard, hard).is_ok() {
        return FileLimit { soft: hard, hard };
    }
    FileLimit { soft, hard }
}

/// The most descriptor slots [`reserve_descriptor_table`] sets up at start:
/// 65,536 slots are 512 KiB of kernel memory (none of it in the process's
/// RSS); a process allowed more than that grows past it in a step or two.
pub const RESERVED_DESCRIPTORS: u64 = 65_536;

/// Grows this process's kernel descriptor table once, up front, to the
/// soft open-file limit (at most [`RESERVED_DESCRIPTORS`]), so that opening
/// thousands of sockets later never grows it.
///
/// Why: Linux grows the table by doubling (256, 512, ..., 16,384 slots),
/// and in a process with more than one thread every growth waits for an
/// RCU grace period while every thread that installs a descriptor waits
/// with it. Measured on this 2-core machine, a 10,000-connection storm
/// (and the server accepting it) stalled for 20-40 ms at each of the
/// 1,024/2,048/4,096/8,192 steps, about a third of the connect phase.
/// Grown while the process still has one thread, the table needs no grace
/// period, and it never shrinks. Call it before any thread starts (the
/// tokio runtime, a logger's writer); later it still works, at the cost of
/// one grace period. Best effort: a failure leaves the old behaviour.
pub fn reserve_descriptor_table(limit: FileLimit) {
    let slots = limit.soft.min(RESERVED_DESCRIPTORS);
    let Ok(highest) = libc::c_int::try_from(slots.saturating_sub(1)) else { return };
    if highest < 1024 {
        return;
    }
    // SAFETY: dup2 of stdin, stdout or stderr (the first that is open; a
    // closed one makes dup2 fail and the next is tried) onto a descriptor
    // number this process does not use (checked: it is the last one the
    // limit allows, and nothing opens near it this early), then close of
    // exactly that number. No memory is touched.
    unsafe {
        if libc::fcntl(highest, libc::F_GETFD) != -1 {
            return; // in use: leave it alone
        }
        for standard in 0..=2 {
            if libc::dup2(standard, highest) == highest {
                libc::close(highest);
                return;
            }
        }
    }
}

/// Files this process has open now (counted from /proc; 0 where unknown).
pub fn open_files_now() -> u64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0)
}

/// Bytes in a socket's kernel send queue not yet acknowledged by the peer
/// (TIOCOUTQ; 0 where unknown): what a peer that stops reading leaves there.
pub fn kernel_unsent(socket: &impl AsRawFd) -> usize {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one int into `queued`, which we own; on
    // failure it writes nothing and we report 0.
    let rc = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc == 0 {
        usize::try_from(queued).unwrap_or(0)
    } else {
        0
    }
}

/// The local ephemeral port range (Linux), `(first, last)`.
pub fn ephemeral_ports() -> (u32, u32) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text.split_whitespace().filter_map(|v| v.parse().ok());
    match (it.next(), it.next()) {
        (Some(a), Some(b)) if b >= a => (a, b),
        _ => (32768, 60999),
    }
}

/// Lets the kernel pick the port at connect time rather than at bind time,
/// so clients bound to one source address can reuse ports across
/// destinations (IP_BIND_ADDRESS_NO_PORT). Best effort.
pub fn bind_no_port(socket: &TcpSocket) {
    const IP_BIND_ADDRESS_NO_PORT: libc::c_int = 24;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a valid descriptor with a pointer to a live c_int
    // of the stated size; the result is only checked, never trusted.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            IP_BIND_ADDRESS_NO_PORT,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Makes closing this socket send RST instead of FIN (SO_LINGER 0): the
/// peer sees a dead connection and no TIME_WAIT is left on our side. With
/// a zero linger time the close never blocks.
pub fn reset_on_close(stream: &tokio::net::TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_readable() {
        let limit = raise_open_files();
        assert!(limit.soft >= 256 && limit.soft <= limit.hard);
        let (first, last) = ephemeral_ports();
        assert!(first <= last);
        assert!(open_files_now() > 0);
    }

    #[test]
    fn the_descriptor_table_is_grown_without_leaving_a_descriptor_open() {
        let limit = raise_open_files();
        let before = open_files_now();
        reserve_descriptor_table(limit);
        assert_eq!(open_files_now(), before, "the probe descriptor is closed again");
        let want = limit.soft.min(RESERVED_DESCRIPTORS);
        if want >= 1024 {
            assert!(descriptor_slots() >= want, "table has {} slots, want {want}", descriptor_slots());
        }
    }

    /// Descriptor slots the kernel has allocated for this process
    /// (/proc/self/status FDSize).
    fn descriptor_slots() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("FDSize:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }
}
