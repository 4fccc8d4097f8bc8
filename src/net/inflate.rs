//! Inflating permessage-deflate messages on the way in, inside the frame
//! layer ([`crate::net::wire`]) between the socket and tungstenite, which
//! refuses frames with RSV1 set and has no deflate support of its own.
//!
//! A compressed message (RSV1 on its first frame) is consumed here frame
//! by frame, unmasked, inflated with the `00 00 ff ff` trailer appended
//! (RFC 7692 7.2.2), and handed on as an ordinary message: fragments of
//! at most [`FRAGMENT`] inflated bytes, RSV1 clear, masked with a zero key
//! on the server side (so the payload stays as it is). The window is kept
//! across messages unless the sender resets its own (no_context_takeover).
//!
//! Bounds: the inflated size of a message is held to `--max-message-size`
//! and counted as it grows, at most one fragment at a time in memory, so a
//! decompression bomb is refused (1009) after at most one fragment past
//! the limit, whatever it would have grown to; the compressed bytes of one
//! message are bounded too. The inflater is allocated on the first
//! compressed message (and let go after each one when the sender keeps no
//! context), so connections that never see one cost nothing.

use flate2::{Decompress, FlushDecompress, Status};
use serde::Serialize;

use crate::net::deflate::{DeflateParams, TAIL};
use crate::net::wire::FRAGMENT;

/// Why a compressed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// It inflated past the message size limit.
    #[error("a compressed message inflated past the {limit}-byte limit (--max-message-size) after {compressed} bytes on the wire: a decompression bomb, refused")]
    TooBig {
        /// The limit, bytes.
        limit: u64,
        /// Compressed bytes read when it was refused.
        compressed: u64,
    },
    /// Its bytes are not valid deflate data.
    #[error("a compressed message is not valid deflate data ({0})")]
    Corrupt(String),
    /// The frames broke RFC 7692 or RFC 6455 in a way only this layer sees.
    #[error("{0}")]
    Protocol(&'static str),
}

impl InflateError {
    /// The close code the connection is failed with (RFC 6455 7.4.1).
    pub fn code(&self) -> u16 {
        match self {
            InflateError::TooBig { .. } => 1009,
            InflateError::Corrupt(_) => 1007,
            InflateError::Protocol(_) => 1002,
        }
    }
}

/// What a connection inflated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InflateStats {
    /// Compressed messages received.
    pub messages: u64,
    /// Their bytes on the wire (payload).
    pub compressed_bytes: u64,
    /// Their bytes once inflated.
    pub inflated_bytes: u64,
}

/// How the frame layer treats a frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Hand it on as it is.
    Pass,
    /// Its payload is part of a compressed message: consume it here.
    Consume,
}

/// The compressed message being read.
#[derive(Debug)]
struct Message {
    opcode: u8,
    /// A fragment of it has been handed on already.
    started: bool,
    inflated: u64,
    compressed: u64,
    /// Trailer bytes not fed yet (the message's frames are all in).
    tail_left: usize,
    /// A final deflate block ended the stream: the rest is ignored.
    ended: bool,
}

/// A connection's inflation state.
pub struct Inflating {
    z: Option<Box<Decompress>>,
    reset_each: bool,
    server_side: bool,
    limit: u64,
    message: Option<Message>,
    /// An uncompressed fragmented message is being handed on.
    plain_open: bool,
    /// Inflated bytes for the next fragment (capacity [`FRAGMENT`]).
    out: Vec<u8>,
    /// The fragment being handed on, and how much of it has gone.
    handing: Vec<u8>,
    handed: usize,
    stats: InflateStats,
}

impl std::fmt::Debug for Inflating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflating").field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl Inflating {
    /// Inflation of what the peer sends: `server_side` when the peer is a
    /// client (its frames are masked); `limit` is the largest message.
    pub fn new(params: &DeflateParams, server_side: bool, limit: usize) -> Inflating {
        let peer_resets =
            if server_side { params.client_no_context_takeover } else { params.server_no_context_takeover };
        Inflating {
            z: None,
            reset_each: peer_resets,
            server_side,
            limit: limit as u64,
            message: None,
            plain_open: false,
            out: Vec::new(),
            handing: Vec::new(),
            handed: 0,
            stats: InflateStats::default(),
        }
    }

    /// What was inflated so far.
    pub fn stats(&self) -> InflateStats {
        self.stats
    }

    /// Decides what to do with a frame from its first header byte, its
    /// mask bit and its payload length; compressed frames larger than
    /// `max_frame` pass, for tungstenite to refuse at the header (1009).
    pub fn classify(&mut self, b0: u8, masked: bool, len: u64, max_frame: u64) -> Result<Frame, InflateError> {
        let (fin, rsv, opcode) = (b0 & 0x80 != 0, b0 & 0x70, b0 & 0x0f);
        let compressing = self.message.is_some();
        match opcode {
            0x1 | 0x2 if compressing => {
                Err(InflateError::Protocol("a new message began inside a fragmented compressed one"))
            }
            0x1 | 0x2 if rsv == 0x40 && !self.plain_open && len <= max_frame => {
                if masked != self.server_side {
                    return Err(InflateError::Protocol(if masked {
                        "the server masked a compressed frame (servers must not)"
                    } else {
                        "the client sent an unmasked compressed frame (clients must mask)"
                    }));
                }
                self.message =
                    Some(Message { opcode, started: false, inflated: 0, compressed: 0, tail_left: 0, ended: false });
                self.end_if(fin);
                Ok(Frame::Consume)
            }
            0x1 | 0x2 => {
                self.plain_open = !fin && rsv == 0;
                Ok(Frame::Pass)
            }
            0x0 if compressing && rsv != 0 => {
                Err(InflateError::Protocol("a continuation frame had RSV bits set (RFC 7692 6.1: only the first)"))
            }
            0x0 if compressing => {
                self.end_if(fin);
                Ok(Frame::Consume)
            }
            0x0 => {
                self.plain_open &= !fin;
                Ok(Frame::Pass)
            }
            _ => Ok(Frame::Pass),
        }
    }

    /// After the last frame of the message, the trailer is still to come.
    fn end_if(&mut self, fin: bool) {
        if let (true, Some(m)) = (fin, self.message.as_mut()) {
            m.tail_left = TAIL.len();
        }
    }

    /// True when a fragment is full and must be handed on before more
    /// input can be inflated.
    pub fn out_full(&self) -> bool {
        self.out.len() >= FRAGMENT
    }

    /// Inflates compressed payload bytes (already unmasked); returns how
    /// many it took (fewer when the fragment filled up).
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, InflateError> {
        let taken = self.inflate(input, FlushDecompress::None, true)?;
        let compressed = self.message.as_ref().map_or(0, |m| m.compressed);
        if compressed > self.limit + self.limit / 64 + 1024 {
            return Err(InflateError::TooBig { limit: self.limit, compressed });
        }
        Ok(taken)
    }

    /// Feeds the trailer; true when the message is complete (its last
    /// fragment then waits in [`Inflating::next_fragment`]).
    pub fn finish(&mut self) -> Result<bool, InflateError> {
        let left = self.message.as_ref().map_or(0, |m| m.tail_left);
        let taken = self.inflate(&TAIL[TAIL.len() - left..], FlushDecompress::Sync, false)?;
        let still = left - taken;
        if let Some(m) = self.message.as_mut() {
            m.tail_left = still;
        }
        // Complete once the trailer is in and inflating left room in the
        // fragment (a full one may hide more output).
        Ok(still == 0 && !self.out_full())
    }

    /// Inflates into the fragment being filled, never past [`FRAGMENT`]
    /// bytes; returns the input bytes taken. After a final deflate block
    /// the rest of the message is ignored (the next one starts afresh).
    /// `wire`: the input came off the wire (not the trailer), and counts.
    fn inflate(&mut self, input: &[u8], flush: FlushDecompress, wire: bool) -> Result<usize, InflateError> {
        let outside = InflateError::Protocol("compressed bytes outside a message");
        let m = self.message.as_mut().ok_or(outside)?;
        if m.ended {
            if wire {
                m.compressed += input.len() as u64;
                self.stats.compressed_bytes += input.len() as u64;
            }
            return Ok(input.len());
        }
        let z = self.z.get_or_insert_with(|| Box::new(Decompress::new(false)));
        let start = self.out.len();
        self.out.resize(FRAGMENT, 0);
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let status = z.decompress(input, &mut self.out[start..], flush);
        let (taken, made) = ((z.total_in() - before_in) as usize, (z.total_out() - before_out) as usize);
        self.out.truncate(start + made);
        if wire {
            m.compressed += taken as u64;
            self.stats.compressed_bytes += taken as u64;
        }
        let status = status.map_err(|e| InflateError::Corrupt(e.to_string()))?;
        m.ended = status == Status::StreamEnd;
        m.inflated += made as u64;
        if m.inflated > self.limit {
            return Err(InflateError::TooBig { limit: self.limit, compressed: m.compressed });
        }
        if taken == 0 && made == 0 && !input.is_empty() && !m.ended && self.out.len() < FRAGMENT {
            return Err(InflateError::Corrupt("the inflater took no input".into()));
        }
        Ok(taken)
    }

    /// Moves the inflated bytes into the fragment to hand on and returns
    /// its frame header (`last`: the message's final fragment).
    pub fn next_fragment(&mut self, last: bool) -> ([u8; 14], u8) {
        std::mem::swap(&mut self.out, &mut self.handing);
        self.out.clear();
        self.handed = 0;
        let Some(m) = self.message.as_mut() else { return ([0; 14], 0) };
        let opcode = if m.started { 0 } else { m.opcode };
        m.started = true;
        let header = fragment_header(opcode, last, self.handing.len(), self.server_side);
        if last {
            self.stats.messages += 1;
            self.stats.inflated_bytes += m.inflated;
            let ended = self.message.take().is_some_and(|m| m.ended);
            if self.reset_each {
                // No context to keep: the state goes until the next message.
                self.z = None;
            } else if let (true, Some(z)) = (ended, self.z.as_mut()) {
                z.reset(false);
            }
        }
        header
    }

    /// Copies the fragment's payload into `out`, as far as it fits.
    pub fn hand_on(&mut self, out: &mut tokio::io::ReadBuf<'_>) {
        let rest = &self.handing[self.handed..];
        let n = rest.len().min(out.remaining());
        out.put_slice(&rest[..n]);
        self.handed += n;
        if self.handed == self.handing.len() && self.handing.capacity() > FRAGMENT {
            self.handing = Vec::new();
        }
    }
}

/// The header of a handed-on fragment: RSV clear; masked with a zero key
/// on the server side (tungstenite expects clients' frames masked, and a
/// zero key leaves the payload as it is).
fn fragment_header(opcode: u8, last: bool, len: usize, masked: bool) -> ([u8; 14], u8) {
    let mut h = [0u8; 14];
    h[0] = if last { 0x80 } else { 0 } | opcode;
    let mask = if masked { 0x80 } else { 0 };
    let n = if len < 126 {
        h[1] = mask | len as u8;
        2
    } else {
        h[1] = mask | 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    };
    // A zero masking key follows the length when masked.
    let len = if masked { n + 4 } else { n };
    (h, len as u8)
}

#[cfg(test)]
#[path = "inflate_tests.rs"]
mod tests;
