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
}
