//! A connection's mailbox: what other connection tasks hand it (routed and
//! broadcast messages, a close from the replace policy), bounded in bytes.
//!
//! The bound is the fix for a server that held 962 MB for one recipient that
//! never read: a queue counted in messages lets a sender park a megabyte per
//! slot. Past its bound a recipient is a *slow consumer*: its queue is
//! discarded at once and it is closed with 1008 "slow consumer", as NATS,
//! Centrifugo, Redis (`client-output-buffer-limit pubsub`) and the gorilla
//! chat hub do. Backpressure on the sender is not an option for fan-out: one
//! slow reader would stall a broadcast for everyone, and two clients sending
//! to each other could wait on each other forever.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// What one queued message costs beyond its text (queue slot, tag, shared
/// buffer header), so a flood of empty messages is bounded as well.
pub const MESSAGE_OVERHEAD: usize = 64;

/// The close a slow consumer gets: 1008 (policy violation), since the
/// client broke the server's policy of reading what it is sent.
pub const SLOW_CONSUMER: (u16, &str) = (1008, "slow consumer");

/// Something another task asks a connection to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Close with this code and reason (replace policy, slow consumer).
    Close(u16, &'static str),
    /// Send this text (routing and broadcast); the buffer is shared between
    /// every recipient of a broadcast, so a copy costs a reference count.
    Deliver(Utf8Bytes),
}

/// What became of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Queued; the recipient's queue now holds this many bytes.
    Queued(usize),
    /// Not queued: the recipient is closing. `slow` when it is closing
    /// because it was over its bound (the message is then counted as
    /// dropped), not because it was replaced or is leaving.
    Refused {
        /// The recipient was closed as a slow consumer.
        slow: bool,
    },
    /// This delivery took the recipient over its bound: `discarded` queued
    /// messages were dropped with it, and the recipient is told to close.
    Overflowed {
        /// Messages that were queued and are now dropped.
        discarded: usize,
    },
}

/// A connection's mailbox: other tasks push and wake it, it pops.
#[derive(Debug, Default)]
pub struct Mailbox {
    /// Wakes the connection task.
    pub notify: Notify,
    inbox: Mutex<Inbox>,
}

#[derive(Debug, Default)]
struct Inbox {
    queue: VecDeque<Control>,
    bytes: usize,
    closing: bool,
    slow: bool,
}

impl Mailbox {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // A poisoned lock still guards a consistent queue: every mutation
        // below is a single step.
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a message unless that takes the queue past `limit` bytes. A
    /// message into an empty queue is always taken, so one message as large
    /// as the server accepts never makes a healthy reader a slow consumer.
    pub fn deliver(&self, text: &Utf8Bytes, limit: usize) -> Push {
        let cost = text.len() + MESSAGE_OVERHEAD;
        let mut inbox = self.inbox();
        if inbox.closing {
            return Push::Refused { slow: inbox.slow };
        }
        if !inbox.queue.is_empty() && inbox.bytes + cost > limit {
            let discarded = inbox.queue.len();
            inbox.queue.clear();
            inbox.queue.shrink_to_fit();
            inbox.bytes = 0;
            inbox.closing = true;
            inbox.slow = true;
            inbox.queue.push_back(Control::Close(SLOW_CONSUMER.0, SLOW_CONSUMER.1));
            drop(inbox);
            self.notify.notify_one();
            return Push::Overflowed { discarded };
        }
        inbox.queue.push_back(Control::Deliver(text.clone()));
        inbox.bytes += cost;
        let bytes = inbox.bytes;
        drop(inbox);
        self.notify.notify_one();
        Push::Queued(bytes)
    }

    /// Asks the connection to close; false when it is already closing (the
    /// first reason wins, so the queue holds at most one close).
    pub fn close(&self, code: u16, reason: &'static str) -> bool {
        let mut inbox = self.inbox();
        if inbox.closing {
            return false;
        }
        inbox.closing = true;
        inbox.queue.push_back(Control::Close(code, reason));
        drop(inbox);
        self.notify.notify_one();
        true
    }

    /// The connection is leaving: refuse deliveries from now on and free
    /// what is queued.
    pub fn shut(&self) {
        let mut inbox = self.inbox();
        inbox.closing = true;
        inbox.queue = VecDeque::new();
        inbox.bytes = 0;
    }

    /// Takes the oldest queued control. The connection pops one at a time,
    /// so what it has taken but not yet written is one message, never a
    /// whole queue.
    pub fn pop(&self) -> Option<Control> {
        let mut inbox = self.inbox();
        let control = inbox.queue.pop_front()?;
        if let Control::Deliver(text) = &control {
            inbox.bytes = inbox.bytes.saturating_sub(text.len() + MESSAGE_OVERHEAD);
        }
        Some(control)
    }

    /// Bytes queued now (for `/health`).
    pub fn queued_bytes(&self) -> usize {
        self.inbox().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Utf8Bytes {
        Utf8Bytes::from("x".repeat(n))
    }

    #[test]
    fn a_recipient_over_its_bound_is_emptied_and_closed_as_slow() {
        let mailbox = Mailbox::default();
        let limit = 4 * (1000 + MESSAGE_OVERHEAD);
        for n in 1..=4 {
            assert_eq!(mailbox.deliver(&text(1000), limit), Push::Queued(n * (1000 + MESSAGE_OVERHEAD)));
        }
        assert_eq!(mailbox.deliver(&text(1000), limit), Push::Overflowed { discarded: 4 });
        assert_eq!(mailbox.queued_bytes(), 0);
        assert_eq!(mailbox.deliver(&text(1), limit), Push::Refused { slow: true });
        assert_eq!(mailbox.pop(), Some(Control::Close(1008, "slow consumer")));
        assert_eq!(mailbox.pop(), None);
    }

    #[test]
    fn one_large_message_into_an_empty_queue_is_taken() {
        let mailbox = Mailbox::default();
        assert!(matches!(mailbox.deliver(&text(10_000), 1024), Push::Queued(_)));
        assert_eq!(mailbox.pop(), Some(Control::Deliver(text(10_000))));
        assert_eq!(mailbox.queued_bytes(), 0);
        assert!(matches!(mailbox.deliver(&text(10_000), 1024), Push::Queued(_)));
    }

    #[test]
    fn a_closing_recipient_refuses_without_counting_a_drop() {
        let mailbox = Mailbox::default();
        assert!(mailbox.close(4000, "replaced"));
        assert!(!mailbox.close(4000, "replaced"), "one close is queued, not one per newcomer");
        assert_eq!(mailbox.deliver(&text(1), 1024), Push::Refused { slow: false });
        mailbox.shut();
        assert_eq!(mailbox.pop(), None);
    }
}
