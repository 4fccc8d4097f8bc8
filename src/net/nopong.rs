//! Pongs on the wire, and the client's write queue. tungstenite answers
//! every ping, and when the socket is blocked it appends each answer to its
//! own write buffer: a server that floods pings and never reads made a
//! client hold up to 2 × `--max-message-size` of pongs per connection.
//! This filter sits between the WebSocket layer and the socket, splits what
//! is written into frames (with tungstenite's own header parser) and keeps
//! only the *latest* pong (RFC 6455 5.5.3: answering the most recent ping is
//! enough), or none at all for `stability --no-pong`, so the server really
//! gets no answer. Other frames go out whole and in order; the queue is
//! bounded, and flushing waits until it is written, so a sender feels the
//! backpressure of a peer that stops reading.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// Queued bytes past which writes wait for the socket (backpressure).
const HIGH_WATER: usize = 256 * 1024;

/// The filter's state: bytes not yet split into frames, frames ready for
/// the socket, and the one pong waiting for its turn.
#[derive(Debug, Default)]
pub struct PongFilter {
    unparsed: Vec<u8>,
    ready: Vec<u8>,
    sent: usize,
    pong: Option<Vec<u8>>,
    withhold: bool,
    withheld: u64,
    coalesced: u64,
}

impl PongFilter {
    /// A filter that drops every pong (`--no-pong`) or keeps the latest.
    pub fn new(withhold: bool) -> PongFilter {
        PongFilter { withhold, ..PongFilter::default() }
    }

    /// Pong frames dropped so far (`--no-pong`).
    pub fn withheld(&self) -> u64 {
        self.withheld
    }

    /// Pong frames replaced by a newer one before they could be written.
    pub fn coalesced(&self) -> u64 {
        self.coalesced
    }

    /// Bytes accepted from the WebSocket layer and not yet taken by the socket.
    pub fn queued(&self) -> usize {
        self.unparsed.len() + (self.ready.len() - self.sent) + self.pong.as_ref().map_or(0, Vec::len)
    }

    /// Accepts bytes from the WebSocket layer, keeps every complete frame
    /// (pongs coalesced or withheld), and writes what it can. Waits only
    /// when the queue is past the high-water mark and the socket has no room.
    pub fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let full = |f: &PongFilter| f.queued() >= HIGH_WATER && !f.starts_with_pong(buf);
        if full(self) && self.poll_drain(io, cx)?.is_pending() && full(self) {
            return Poll::Pending;
        }
        self.unparsed.extend_from_slice(buf);
        self.split_frames();
        let _ = self.poll_drain(io, cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    /// Queues whole frames the caller built itself (an echo hold's batch)
    /// behind everything queued so far. Refused (false) when the queue is
    /// past the high-water mark, so the caller waits for the socket as a
    /// write would, or when the WebSocket layer's bytes end inside a frame,
    /// which these must not be put into the middle of.
    pub fn push_frames(&mut self, frames: &[u8]) -> bool {
        if !self.unparsed.is_empty() || self.queued() >= HIGH_WATER {
            return false;
        }
        self.ready.extend_from_slice(frames);
        true
    }

    /// True when `buf` begins a pong frame (pongs never wait: they replace
    /// the pending one, so they cost no room).
    fn starts_with_pong(&self, buf: &[u8]) -> bool {
        let header = FrameHeader::parse(&mut Cursor::new(buf));
        self.unparsed.is_empty() && matches!(header, Ok(Some((h, _))) if h.opcode == OpCode::Control(Control::Pong))
    }

    fn split_frames(&mut self) {
        let mut start = 0;
        loop {
            let mut cursor = Cursor::new(&self.unparsed[start..]);
            let Ok(Some((header, len))) = FrameHeader::parse(&mut cursor) else { break };
            let end = start + cursor.position() as usize + len as usize;
            if self.unparsed.len() < end {
                break;
            }
            let frame = &self.unparsed[start..end];
            if header.opcode != OpCode::Control(Control::Pong) {
                self.ready.extend_from_slice(frame);
            } else if self.withhold {
                self.withheld += 1;
            } else if self.pong.replace(frame.to_vec()).is_some() {
                self.coalesced += 1;
            }
            start = end;
        }
        self.unparsed.drain(..start);
    }

    /// Writes queued frames, then the pending pong, to the socket; Ready
    /// once all are written. A pong goes out between frames, never inside one.
    pub fn poll_drain<W: AsyncWrite + Unpin>(&mut self, io: &mut W, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.sent == self.ready.len() {
                self.ready.clear();
                self.sent = 0;
                match self.pong.take() {
                    Some(pong) => self.ready = pong,
                    None => return Poll::Ready(Ok(())),
                }
            }
            match Pin::new(&mut *io).poll_write(cx, &self.ready[self.sent..])? {
                Poll::Ready(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(n) => self.sent += n,
                Poll::Pending => return Poll::Pending,
            }
            if self.ready.capacity() > HIGH_WATER && self.sent == self.ready.len() {
                self.ready = Vec::new(); // a big message went out: give its memory back
                self.sent = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::Data;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;

    fn bytes(mut frame: Frame) -> Vec<u8> {
        frame.header_mut().mask = Some([1, 2, 3, 4]);
        let mut out = Vec::new();
        frame.format(&mut out).unwrap();
        out
    }

    fn text(t: &str) -> Vec<u8> {
        bytes(Frame::message(t.to_string(), OpCode::Data(Data::Text), true))
    }

    #[test]
    fn pongs_are_dropped_and_other_frames_pass_even_when_split() {
        let mut wire = text("hello");
        wire.extend(bytes(Frame::pong(vec![9u8, 9])));
        wire.extend(bytes(Frame::ping(vec![7u8])));
        let mut expected = text("hello");
        expected.extend(bytes(Frame::ping(vec![7u8])));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        // Every chunk size, so every frame (the pong included) is split at
        // every possible byte boundary, down to one byte per write.
        for size in 1..=wire.len() {
            let mut filter = PongFilter::new(true);
            let mut sink: Vec<u8> = Vec::new();
            for chunk in wire.chunks(size) {
                match filter.poll_write(&mut sink, &mut cx, chunk) {
                    Poll::Ready(Ok(n)) => assert_eq!(n, chunk.len(), "chunks of {size}: the whole write is taken"),
                    other => panic!("chunks of {size}: {other:?}"),
                }
            }
            assert_eq!(filter.withheld(), 1, "chunks of {size}: the one pong is withheld");
            assert_eq!(sink, expected, "chunks of {size}: the other frames pass whole and in order");
        }
    }

    /// A socket that never has room.
    struct Full;

    impl AsyncWrite for Full {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    #[test]
    fn writes_wait_for_the_socket_past_the_high_water_mark() {
        let big = bytes(Frame::message(vec![0u8; HIGH_WATER], OpCode::Data(Data::Binary), true));
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut filter = PongFilter::new(false);
        assert!(matches!(filter.poll_write(&mut Full, &mut cx, &big), Poll::Ready(Ok(n)) if n == big.len()));
        assert!(filter.poll_write(&mut Full, &mut cx, &text("more")).is_pending(), "buffer full: wait for the socket");
        assert!(filter.poll_drain(&mut Full, &mut cx).is_pending());
    }

    #[test]
    fn a_ping_flood_against_a_blocked_socket_keeps_one_pong() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut filter = PongFilter::new(false);
        let pong = bytes(Frame::pong(vec![7u8; 125]));
        for _ in 0..100_000 {
            assert!(matches!(filter.poll_write(&mut Full, &mut cx, &pong), Poll::Ready(Ok(_))), "pongs never wait");
        }
        // One pong was handed to the socket before it blocked; of the rest
        // only the latest waits.
        assert_eq!(filter.queued(), 2 * pong.len(), "bounded: two pongs, not 100,000");
        assert_eq!(filter.coalesced(), 99_998);
        let mut sink = Vec::new();
        assert!(filter.poll_drain(&mut sink, &mut cx).is_ready());
        assert_eq!(sink, [pong.clone(), pong].concat(), "written once the socket has room");
    }

    #[test]
    fn pushed_frames_go_out_in_order_and_never_inside_a_frame() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut filter = PongFilter::new(false);
        let (first, ours) = (text("first"), text("ours"));
        let mut sink = Vec::new();
        assert!(filter.poll_write(&mut Full, &mut cx, &first[..3]).is_ready());
        assert!(!filter.push_frames(&ours), "refused while a frame is half written");
        assert!(filter.poll_write(&mut sink, &mut cx, &first[3..]).is_ready());
        assert!(filter.push_frames(&ours), "taken once the frame is whole");
        assert!(filter.poll_drain(&mut sink, &mut cx).is_ready());
        assert_eq!(sink, [first, ours].concat());

        let big = bytes(Frame::message(vec![0u8; HIGH_WATER], OpCode::Data(Data::Binary), true));
        assert!(filter.poll_write(&mut Full, &mut cx, &big).is_ready());
        assert!(!filter.push_frames(&text("more")), "refused past the high-water mark: wait for the socket");
    }

    #[test]
    fn a_pong_waits_for_the_frame_being_written() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut filter = PongFilter::new(false);
        let mut both = text("data");
        both.extend(bytes(Frame::pong(vec![1u8])));
        let mut sink = Vec::new();
        assert!(filter.poll_write(&mut sink, &mut cx, &both).is_ready());
        assert_eq!(sink, both, "the frame whole, then the pong");
    }
}
