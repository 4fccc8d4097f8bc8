//! The messages `connect` keeps: the first and the last [`KEEP`] of them,
//! with a count of those in between, so a flood (a server pinging as fast
//! as it can) costs constant memory and a report of constant size. Text
//! beyond a byte budget is kept clipped, with its length.

use std::collections::VecDeque;

use super::Traffic;

/// Messages kept at each end of the conversation.
pub const KEEP: usize = 100;

/// Bytes of message text kept in full; past it, texts are clipped.
const TEXT_BUDGET: usize = 64 << 20;

/// Characters of a text kept once the budget is spent.
const CLIPPED: usize = 4096;

/// The first and last messages of a conversation, and how many were not kept.
#[derive(Debug, Default)]
pub struct Transcript {
    head: Vec<Traffic>,
    tail: VecDeque<Traffic>,
    omitted: u64,
    kept_bytes: usize,
}

impl Transcript {
    /// Records one message.
    pub fn push(&mut self, mut t: Traffic) {
        if self.kept_bytes + t.data.len() > TEXT_BUDGET {
            t.data = match t.bytes {
                // Base64 cut at a group boundary stays base64; `bytes` keeps the length.
                Some(_) => t.data[..t.data.len().min(CLIPPED)].to_string(),
                None => crate::report::safe::clip(&t.data, CLIPPED),
            };
        }
        self.kept_bytes += t.data.len();
        if self.head.len() < KEEP {
            self.head.push(t);
            return;
        }
        self.tail.push_back(t);
        if self.tail.len() > KEEP {
            if let Some(old) = self.tail.pop_front() {
                self.kept_bytes -= old.data.len();
            }
            self.omitted += 1;
        }
    }

    /// The kept messages in order, and how many between them were not kept.
    pub fn finish(self) -> (Vec<Traffic>, u64) {
        let mut all = self.head;
        all.extend(self.tail);
        (all, self.omitted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(i: usize) -> Traffic {
        Traffic { at_ms: i as f64, direction: "in", kind: "ping", data: format!("{i}"), bytes: None }
    }

    #[test]
    fn a_flood_keeps_both_ends_and_counts_the_rest() {
        let mut t = Transcript::default();
        for i in 0..1_000_000 {
            t.push(msg(i));
        }
        let (kept, omitted) = t.finish();
        assert_eq!(kept.len(), 2 * KEEP);
        assert_eq!(omitted, 1_000_000 - 2 * KEEP as u64);
        assert_eq!(kept[KEEP - 1].data, "99");
        assert_eq!(kept[KEEP].data, format!("{}", 1_000_000 - KEEP));
        assert_eq!(kept.last().map(|m| m.data.as_str()), Some("999999"));
    }

    #[test]
    fn past_the_budget_texts_are_clipped_with_their_length() {
        let mut t = Transcript::default();
        let big = "y".repeat(1 << 20);
        for _ in 0..80 {
            t.push(Traffic { at_ms: 0.0, direction: "in", kind: "text", data: big.clone(), bytes: None });
        }
        let (kept, _) = t.finish();
        assert_eq!(kept[0].data.len(), 1 << 20, "the first ones whole");
        assert!(kept[79].data.ends_with("… (1048576 bytes)"), "the last ones clipped");
    }
}
