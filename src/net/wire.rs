//! Frames on the way in, between the socket and tungstenite, on both sides.
//!
//! - Read size: tungstenite reads at most its read buffer (256 B on the
//!   client, 512 B on the server, small so idle connections stay cheap) per
//!   call, 4,096 system calls per MiB. Here the socket is read in chunks
//!   that grow while reads come back full (up to 64 KiB) and shrink back
//!   when traffic is small; tungstenite's small reads are served from it.
//! - Reservation: tungstenite reserves a frame's whole announced length as
//!   soon as it has the header. A large data frame is handed on as
//!   fragments of at most [`FRAGMENT`] bytes instead (RFC 6455 5.4: the
//!   same message), so memory follows the bytes that really arrived.
//! - What was on the wire: the code and reason of the last close frame, so
//!   a code tungstenite replaces (1005, 1006, 1015 or out of range become
//!   1002) or a reason that is not UTF-8 is reported as what it was.
//! - permessage-deflate, once negotiated: compressed messages are consumed
//!   and handed on inflated ([`crate::net::inflate`]); a refused one (a
//!   decompression bomb, bad deflate data) is a read error carrying an
//!   [`InflateError`], which [`crate::net::session`] turns into its close.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::net::deflate::DeflateParams;
use crate::net::inflate::{InflateError, InflateStats, Inflating};

/// Largest fragment handed to tungstenite (a multiple of 4, so a masking
/// key stays aligned across fragments).
pub const FRAGMENT: usize = 32 * 1024;
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;

/// The last close frame that came in, as it was on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireClose {
    /// Its code (`None` when it had no payload).
    pub code: Option<u16>,
    /// False when its reason was not valid UTF-8.
    pub reason_utf8: bool,
}

/// Where the parser is in the frame stream.
#[derive(Debug, Clone, Copy)]
enum At {
    /// Collecting a header (`have` bytes so far).
    Header { have: u8 },
    /// Passing payload: of the frame and of the fragment being handed on.
    Payload { frame_left: u64, fragment_left: u64 },
    /// Inflating a compressed frame's payload (`last`: the message's final frame).
    Inflate { frame_left: u64, last: bool },
    /// A compressed message's frames are in: the trailer, then its last fragment.
    Finish,
}

/// The read side's state: raw input, the parser, the header to emit.
#[derive(Debug)]
pub struct FrameReader {
    input: Vec<u8>,
    pos: usize,
    read_size: usize,
    at: At,
    header: [u8; 14],
    emit: [u8; 14],
    emit_pos: u8,
    emit_len: u8,
    opcode: u8,
    fin: bool,
    mask: Option<[u8; 4]>,
    split: bool,
    max_frame: u64,
    close: Vec<u8>,
    last_close: Option<WireClose>,
    frame_len: u64,
    inflate: Option<Box<Inflating>>,
    failed: Option<InflateError>,
    /// Nothing has been asked of this reader yet.
    fresh: bool,
}

impl FrameReader {
    /// A reader that splits data frames up to `max_frame` bytes (larger ones
    /// pass whole, for tungstenite to refuse at the header), starting with
    /// bytes already read past the HTTP head.
    pub fn new(max_frame: usize, already: Vec<u8>) -> FrameReader {
        FrameReader {
            input: already,
            pos: 0,
            read_size: MIN_READ,
            at: At::Header { have: 0 },
            header: [0; 14],
            emit: [0; 14],
            emit_pos: 0,
            emit_len: 0,
            opcode: 0,
            fin: true,
            mask: None,
            split: false,
            max_frame: max_frame as u64,
            close: Vec::new(),
            last_close: None,
            frame_len: 0,
            inflate: None,
            failed: None,
            fresh: true,
        }
    }

    /// True while nothing has been read through this reader, no byte is
    /// buffered and nothing is inflated: the WebSocket above it has seen
    /// nothing, so it can be dropped and built again without losing a byte.
    pub fn is_fresh(&self) -> bool {
        self.fresh && self.pos == self.input.len() && self.inflate.is_none()
    }

    /// From now on, inflate compressed messages (permessage-deflate was
    /// negotiated): `server_side` when the peer is a client; `limit` is
    /// the largest message, inflated.
    pub fn inflate(&mut self, params: &DeflateParams, server_side: bool, limit: usize) {
        self.inflate = Some(Box::new(Inflating::new(params, server_side, limit)));
    }

    /// What was inflated so far, when permessage-deflate is on.
    pub fn inflate_stats(&self) -> Option<InflateStats> {
        self.inflate.as_ref().map(|i| i.stats())
    }

    /// The last close frame received, as it was on the wire.
    pub fn last_close(&self) -> Option<WireClose> {
        self.last_close
    }

    /// Fills `out` with frame bytes (headers possibly rewritten into
    /// fragments), reading the socket when nothing is buffered.
    pub fn poll_read<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.fresh = false;
        let start = out.filled().len();
        loop {
            self.drain_emit(out);
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = &self.failed {
                if out.filled().len() > start {
                    return Poll::Ready(Ok(()));
                }
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e.clone())));
            }
            if self.inflated_ready() {
                self.hand_on_inflated();
                continue;
            }
            if self.pos == self.input.len() {
                if out.filled().len() > start {
                    return Poll::Ready(Ok(()));
                }
                match self.fill(io, cx)? {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(0) => {
                        self.flush_partial_header(out);
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready(_) => {}
                }
            }
            self.step(out);
        }
    }

    /// Reads the socket into `input`; the chunk grows while reads come
    /// back full and shrinks when they come back small.
    fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.input.clear();
        self.pos = 0;
        if self.input.capacity() > 2 * self.read_size {
            self.input = Vec::new();
        }
        self.input.resize(self.read_size, 0);
        let mut buf = ReadBuf::new(&mut self.input);
        let polled = Pin::new(io).poll_read(cx, &mut buf);
        let n = buf.filled().len();
        self.input.truncate(n);
        if let Poll::Ready(Err(e)) = polled {
            return Poll::Ready(Err(e));
        }
        if polled.is_pending() {
            if self.read_size == MIN_READ {
                self.input = Vec::new(); // an idle connection holds no buffer
            }
            return Poll::Pending;
        }
        if n == self.read_size {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        Poll::Ready(Ok(n))
    }

    /// The stream ended inside a header: hand on what came, so tungstenite
    /// sees the same truncated frame the wire had.
    fn flush_partial_header(&mut self, out: &mut ReadBuf<'_>) {
        if let At::Header { have } = self.at {
            let n = usize::from(have).min(out.remaining());
            out.put_slice(&self.header[..n]);
            self.at = At::Header { have: 0 };
        }
    }

    fn drain_emit(&mut self, out: &mut ReadBuf<'_>) {
        let pending = &self.emit[usize::from(self.emit_pos)..usize::from(self.emit_len)];
        let n = pending.len().min(out.remaining());
        out.put_slice(&pending[..n]);
        self.emit_pos += n as u8;
        if self.emit_pos == self.emit_len {
            if let Some(inflate) = self.inflate.as_mut() {
                inflate.hand_on(out);
            }
        }
    }

    /// Moves buffered input on by one state: header bytes into the header,
    /// or payload into `out`.
    fn step(&mut self, out: &mut ReadBuf<'_>) {
        match self.at {
            At::Header { have } => self.header_byte(have),
            At::Payload { frame_left, fragment_left } => {
                let n = (self.input.len() - self.pos).min(out.remaining()).min(fragment_left as usize);
                let chunk = &self.input[self.pos..self.pos + n];
                if self.opcode == 0x8 {
                    self.close.extend_from_slice(chunk);
                }
                out.put_slice(chunk);
                self.pos += n;
                self.payload_done(frame_left - n as u64, fragment_left - n as u64);
            }
            At::Inflate { frame_left, last } => self.inflate_payload(frame_left, last),
            At::Finish => {}
        }
    }

    fn header_byte(&mut self, have: u8) {
        self.header[usize::from(have)] = self.input[self.pos];
        self.pos += 1;
        let have = have + 1;
        match header_len(&self.header[..usize::from(have)]) {
            Some(len) if len == usize::from(have) => self.header_done(len),
            _ => self.at = At::Header { have },
        }
    }

    fn header_done(&mut self, len: usize) {
        let h = self.header;
        let masked = h[1] & 0x80 != 0;
        let payload = payload_len(&h);
        self.mask = masked.then(|| [h[len - 4], h[len - 3], h[len - 2], h[len - 1]]);
        self.opcode = h[0] & 0x0f;
        self.fin = h[0] & 0x80 != 0;
        if self.compressed(h[0], masked, payload) {
            return;
        }
        let data = self.opcode <= 0x2 && h[0] & 0x70 == 0;
        self.split = data && payload > FRAGMENT as u64 && payload <= self.max_frame;
        self.close.clear();
        if self.split {
            self.emit_fragment_header(payload, true);
        } else {
            self.emit[..len].copy_from_slice(&h[..len]);
            (self.emit_pos, self.emit_len) = (0, len as u8);
            self.at = At::Payload { frame_left: payload, fragment_left: payload };
            self.payload_done(payload, payload);
        }
    }

    /// Emits the header of the next fragment of a split frame.
    fn emit_fragment_header(&mut self, frame_left: u64, first: bool) {
        let size = frame_left.min(FRAGMENT as u64);
        let last = size == frame_left;
        let opcode = if first { self.opcode } else { 0 };
        let fin = if last && self.fin { 0x80 } else { 0 };
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut h = [fin | opcode, mask_bit | 126, (size >> 8) as u8, size as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut len = 4;
        if let Some(key) = self.mask {
            h[4..8].copy_from_slice(&key);
            len = 8;
        }
        self.emit = h;
        (self.emit_pos, self.emit_len) = (0, len as u8);
        self.at = At::Payload { frame_left, fragment_left: size };
    }

    fn payload_done(&mut self, frame_left: u64, fragment_left: u64) {
        if fragment_left > 0 {
            self.at = At::Payload { frame_left, fragment_left };
        } else if frame_left > 0 {
            self.emit_fragment_header(frame_left, false);
        } else {
            if self.opcode == 0x8 {
                self.last_close = Some(self.wire_close());
            }
            self.at = At::Header { have: 0 };
        }
    }

    fn wire_close(&self) -> WireClose {
        let mut payload = self.close.clone();
        if let Some(key) = self.mask {
            payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= key[i % 4]);
        }
        let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        let reason_utf8 = std::str::from_utf8(payload.get(2..).unwrap_or_default()).is_ok();
        WireClose { code, reason_utf8 }
    }
}

/// A byte stream whose reads go through a [`FrameReader`] (the server's
/// connections; the client's [`crate::net::stream::WsStream`] has its own).
#[derive(Debug)]
pub struct Framed<S> {
    inner: S,
    reader: Box<FrameReader>,
}

impl<S> Framed<S> {
    /// Wraps `inner`; `already` holds bytes read past the HTTP head.
    pub fn new(inner: S, max_frame: usize, already: Vec<u8>) -> Framed<S> {
        Framed { inner, reader: Box::new(FrameReader::new(max_frame, already)) }
    }

    /// Inflates the client's compressed messages (up to `limit` bytes each).
    pub fn inflating(mut self, params: &DeflateParams, limit: usize) -> Framed<S> {
        self.reader.inflate(params, true, limit);
        self
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Framed<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.reader.poll_read(&mut this.inner, cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Framed<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The payload length a complete frame header declares.
pub(crate) fn payload_len(h: &[u8]) -> u64 {
    match h[1] & 0x7f {
        126 => u64::from(u16::from_be_bytes([h[2], h[3]])),
        127 => u64::from_be_bytes([h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9]]),
        n => u64::from(n),
    }
}

/// The full length of a frame header from its first bytes, once known.
pub(crate) fn header_len(h: &[u8]) -> Option<usize> {
    let b1 = *h.get(1)?;
    let ext = match b1 & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    Some(2 + ext + if b1 & 0x80 != 0 { 4 } else { 0 })
}

#[path = "wire_inflate.rs"]
mod inflating;

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
