//! The frame reader's permessage-deflate steps: which frames it takes to
//! inflate, feeding their payload to the [`Inflating`] state, and handing
//! the inflated message on as plain fragments (see [`crate::net::inflate`]).

use super::{At, FrameReader};
use crate::net::inflate::{Frame, InflateError};

impl FrameReader {
    pub(super) fn set_emit(&mut self, (header, len): ([u8; 14], u8)) {
        self.emit = header;
        (self.emit_pos, self.emit_len) = (0, len);
    }

    /// True when inflated bytes can be handed on without more input: a
    /// full fragment, or the end of a compressed message.
    pub(super) fn inflated_ready(&self) -> bool {
        match self.at {
            At::Finish => true,
            At::Inflate { .. } => self.inflate.as_ref().is_some_and(|i| i.out_full()),
            _ => false,
        }
    }

    /// Hands on a full fragment, or feeds the trailer and hands on the
    /// message's last fragment.
    pub(super) fn hand_on_inflated(&mut self) {
        let Some(inflate) = self.inflate.as_mut() else { return };
        if inflate.out_full() {
            let header = inflate.next_fragment(false);
            return self.set_emit(header);
        }
        match inflate.finish() {
            Ok(true) => {
                let header = inflate.next_fragment(true);
                self.set_emit(header);
                self.at = At::Header { have: 0 };
            }
            Ok(false) if inflate.out_full() => {}
            Ok(false) => self.failed = Some(InflateError::Corrupt("the trailer did not inflate".into())),
            Err(e) => self.failed = Some(e),
        }
    }

    /// Feeds buffered payload of a compressed frame to the inflater
    /// (unmasked on a copy: what it does not take is read again).
    pub(super) fn inflate_payload(&mut self, frame_left: u64, last: bool) {
        let Some(inflate) = self.inflate.as_mut() else { return };
        let avail = (self.input.len() - self.pos).min(frame_left as usize);
        let mut scratch = [0u8; 4096];
        let chunk: &[u8] = match self.mask {
            Some(key) => {
                let n = avail.min(scratch.len());
                let offset = (self.frame_len - frame_left) as usize;
                for (i, b) in scratch[..n].iter_mut().enumerate() {
                    *b = self.input[self.pos + i] ^ key[(offset + i) % 4];
                }
                &scratch[..n]
            }
            None => &self.input[self.pos..self.pos + avail],
        };
        match inflate.feed(chunk) {
            Ok(taken) => {
                self.pos += taken;
                let left = frame_left - taken as u64;
                self.at = match (left, last) {
                    (0, true) => At::Finish,
                    (0, false) => At::Header { have: 0 },
                    _ => At::Inflate { frame_left: left, last },
                };
            }
            Err(e) => self.failed = Some(e),
        }
    }

    /// With permessage-deflate on, takes a compressed frame (true) to be
    /// inflated instead of handed on.
    pub(super) fn compressed(&mut self, b0: u8, masked: bool, payload: u64) -> bool {
        let Some(inflate) = self.inflate.as_mut() else { return false };
        match inflate.classify(b0, masked, payload, self.max_frame) {
            Ok(Frame::Pass) => false,
            Ok(Frame::Consume) => {
                self.frame_len = payload;
                self.at = match (payload, self.fin) {
                    (0, true) => At::Finish,
                    (0, false) => At::Header { have: 0 },
                    _ => At::Inflate { frame_left: payload, last: self.fin },
                };
                true
            }
            Err(e) => {
                self.failed = Some(e);
                true
            }
        }
    }
}
