//! Clients done with each wave (connected or given up), and the one wake-up
//! the phase driver waits for: it is woken when the count it waits for is
//! reached, not by every client that settles. A wake per client cost a
//! futex call and a thread switch per connection (half of a 10,000-client
//! storm's futex calls, measured with `perf record -e syscalls:sys_enter_futex`).

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::Notify;

/// Per-wave settled counts and the threshold wake-up.
#[derive(Debug)]
pub struct Settled {
    count: [AtomicU32; 2],
    /// The count the driver waits for in each wave (`u32::MAX`: nobody waits).
    target: [AtomicU32; 2],
    reached: Notify,
}

impl Default for Settled {
    fn default() -> Settled {
        Settled {
            count: Default::default(),
            target: [AtomicU32::new(u32::MAX), AtomicU32::new(u32::MAX)],
            reached: Notify::new(),
        }
    }
}

fn index(wave: u8) -> usize {
    usize::from(wave.min(1))
}

impl Settled {
    /// One more client is done with `wave`; wakes the waiter only when this
    /// one reaches its target.
    pub fn add(&self, wave: u8) {
        let i = index(wave);
        let now = self.count[i].fetch_add(1, Ordering::SeqCst) + 1;
        if now >= self.target[i].load(Ordering::SeqCst) {
            self.reached.notify_waiters();
        }
    }

    /// Clients settled in `wave` so far.
    pub fn get(&self, wave: u8) -> u32 {
        self.count[index(wave)].load(Ordering::SeqCst)
    }

    /// Resolves once `count` clients settled `wave`.
    ///
    /// The target is stored before the count is read, and `add` reads the
    /// target after counting (both sequentially consistent), so the client
    /// that reaches it either is seen here or sees the target and wakes us.
    pub async fn reached(&self, wave: u8, count: u32) {
        self.target[index(wave)].store(count, Ordering::SeqCst);
        loop {
            let woken = self.reached.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.get(wave) >= count {
                return;
            }
            woken.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn the_waiter_is_woken_when_its_count_is_reached() {
        let settled = Arc::new(Settled::default());
        let waiter = tokio::spawn({
            let s = settled.clone();
            async move { s.reached(1, 3).await }
        });
        tokio::task::yield_now().await;
        settled.add(1);
        settled.add(0);
        settled.add(1);
        assert!(!waiter.is_finished(), "woken before its count");
        settled.add(1);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("never woken").expect("panicked");
        assert_eq!((settled.get(0), settled.get(1)), (1, 3));
    }

    #[tokio::test]
    async fn a_count_reached_before_waiting_returns_at_once() {
        let settled = Settled::default();
        settled.add(0);
        settled.add(0);
        tokio::time::timeout(Duration::from_secs(5), settled.reached(0, 2)).await.expect("waited");
        tokio::time::timeout(Duration::from_secs(5), settled.reached(0, 0)).await.expect("waited");
    }

    #[test]
    fn racing_clients_never_leave_the_waiter_asleep() {
        // Clients on other threads settle while the waiter arms itself.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        for round in 0..200 {
            let settled = Arc::new(Settled::default());
            let adders: Vec<_> = (0..4)
                .map(|_| {
                    let s = settled.clone();
                    std::thread::spawn(move || {
                        (0..25).for_each(|_| {
                            s.add(0);
                            std::thread::yield_now()
                        })
                    })
                })
                .collect();
            let done =
                rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), settled.reached(0, 100)).await });
            assert!(done.is_ok(), "round {round}: the waiter slept through its count");
            adders.into_iter().for_each(|a| a.join().unwrap());
        }
    }
}
