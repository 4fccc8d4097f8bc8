//! Withholding pongs on the wire. tungstenite always answers a ping; for
//! `stability --no-pong` the client must *really* stop answering so the
//! server's pong deadline shows. This filter sits between the WebSocket
//! layer and the socket, splits what is written into frames (with
//! tungstenite's own header parser) and drops every pong frame.

use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// Buffered bytes past which writes wait for the socket (backpressure).
const HIGH_WATER: usize = 256 * 1024;

/// The filter's state: bytes not yet split into frames, and bytes ready
/// for the socket.
#[derive(Debug, Default)]
pub struct PongFilter {
    unparsed: Vec<u8>,
    ready: Vec<u8>,
    withheld: u64,
}

impl PongFilter {
    /// Pong frames dropped so far.
    pub fn withheld(&self) -> u64 {
        self.withheld
    }

    /// Accepts bytes from the WebSocket layer, keeps every complete frame
    /// except pongs, and writes what it can.
    pub fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        io: &mut W,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.ready.len() >= HIGH_WATER && self.poll_drain(io, cx)?.is_pending() {
            return Poll::Pending;
        }
        self.unparsed.extend_from_slice(buf);
        self.split_frames();
        let _ = self.poll_drain(io, cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn split_frames(&mut self) {
        loop {
            let mut cursor = Cursor::new(self.unparsed.as_slice());
            let Ok(Some((header, len))) = FrameHeader::parse(&mut cursor) else { return };
            let total = cursor.position() as usize + len as usize;
            if self.unparsed.len() < total {
                return;
            }
            let frame: Vec<u8> = self.unparsed.drain(..total).collect();
            if header.opcode == OpCode::Control(Control::Pong) {
                self.withheld += 1;
            } else {
                self.ready.extend_from_slice(&frame);
            }
        }
    }

    /// Writes buffered frames to the socket; Ready once all are written.
    pub fn poll_drain<W: AsyncWrite + Unpin>(&mut self, io: &mut W, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.ready.is_empty() {
            match Pin::new(&mut *io).poll_write(cx, &self.ready)? {
                Poll::Ready(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(n) => {
                    self.ready.drain(..n);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
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
            let mut filter = PongFilter::default();
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
        let mut filter = PongFilter::default();
        assert!(matches!(filter.poll_write(&mut Full, &mut cx, &big), Poll::Ready(Ok(n)) if n == big.len()));
        assert!(filter.poll_write(&mut Full, &mut cx, &text("more")).is_pending(), "buffer full: wait for the socket");
        assert!(filter.poll_drain(&mut Full, &mut cx).is_pending());
    }
}
