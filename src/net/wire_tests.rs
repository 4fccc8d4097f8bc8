//! Tests of [`super::FrameReader`]: what tungstenite reads through it is
//! the same messages, in fewer system calls, without reservations ahead
//! of the bytes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::*;

/// Bytes served in chunks of at most `chunk`, counting the reads.
struct Wire {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    reads: usize,
}

impl AsyncRead for Wire {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.reads += 1;
        let n = (self.data.len() - self.pos).min(buf.remaining()).min(self.chunk);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// The wire, read through a [`FrameReader`] (or directly).
struct Shim {
    wire: Wire,
    reader: Option<FrameReader>,
}

impl AsyncRead for Shim {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.reader {
            Some(r) => r.poll_read(&mut this.wire, cx, buf),
            None => Pin::new(&mut this.wire).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Shim {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn frame(payload: Vec<u8>, op: Data, fin: bool, mask: bool) -> Vec<u8> {
    let mut f = Frame::message(payload, OpCode::Data(op), fin);
    if mask {
        f.header_mut().mask = Some([9, 8, 7, 6]);
    }
    let mut out = Vec::new();
    f.format(&mut out).expect("format");
    out
}

async fn messages(data: Vec<u8>, chunk: usize, role: Role, through: bool) -> (Vec<Message>, usize) {
    let config = crate::net::endpoint::ws_config(4 << 20, 256);
    let reader = through.then(|| FrameReader::new(4 << 20, Vec::new()));
    let shim = Shim { wire: Wire { data, pos: 0, chunk, reads: 0 }, reader };
    let mut ws = WebSocketStream::from_raw_socket(shim, role, Some(config)).await;
    let mut got = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        got.push(m);
    }
    (got, ws.get_ref().wire.reads)
}

#[tokio::test]
async fn split_frames_give_the_same_messages_at_any_chunk_size() {
    let text = "é€😀".repeat(20_000); // multi-byte characters across every fragment edge
    let binary: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    for (role, mask) in [(Role::Client, false), (Role::Server, true)] {
        let mut wire = frame(text.clone().into_bytes(), Data::Text, true, mask);
        wire.extend(frame(binary[..70_000].to_vec(), Data::Binary, false, mask));
        wire.extend(frame(binary[70_000..].to_vec(), Data::Continue, true, mask));
        wire.extend(frame(b"small".to_vec(), Data::Text, true, mask));
        for chunk in [1, 7, 1000, 1 << 20] {
            let (got, _) = messages(wire.clone(), chunk, role, true).await;
            assert_eq!(got.len(), 3, "{role:?} chunks of {chunk}");
            assert_eq!(got[0], Message::text(text.clone()), "{role:?} chunks of {chunk}");
            assert_eq!(got[1], Message::binary(binary.clone()));
            assert_eq!(got[2], Message::text("small"));
        }
    }
}

#[tokio::test]
async fn a_mib_takes_a_few_dozen_reads_instead_of_thousands() {
    let wire = frame(vec![1u8; 1 << 20], Data::Binary, true, false);
    let (_, direct) = messages(wire.clone(), usize::MAX, Role::Client, false).await;
    let (got, through) = messages(wire, usize::MAX, Role::Client, true).await;
    assert_eq!(got.len(), 1);
    assert!(direct >= 4096, "tungstenite alone reads 256 B at a time: {direct} reads");
    assert!(through <= 64, "{through} reads");
}

#[test]
fn a_header_alone_is_handed_on_as_a_fragment_of_at_most_32_kib() {
    let mut wire = vec![0x82, 127];
    wire.extend_from_slice(&(1u64 << 20).to_be_bytes());
    wire.extend_from_slice(&[0; 10]);
    let mut reader = FrameReader::new(4 << 20, Vec::new());
    let mut source = Wire { data: wire, pos: 0, chunk: usize::MAX, reads: 0 };
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut out = [0u8; 64];
    let mut buf = ReadBuf::new(&mut out);
    assert!(reader.poll_read(&mut source, &mut cx, &mut buf).is_ready());
    assert_eq!(&buf.filled()[..4], &[0x02, 126, 0x80, 0x00], "binary, not final, 32768 bytes announced");
    assert_eq!(buf.filled().len(), 14, "the header and the 10 bytes that came");
}

#[tokio::test]
async fn the_close_frame_on_the_wire_is_remembered() {
    let data = vec![0x88, 0x04, 0x03, 0xED, 0xC3, 0x28]; // 1005, then invalid UTF-8
    let mut reader = FrameReader::new(1 << 20, Vec::new());
    let mut source = Wire { data, pos: 0, chunk: 1, reads: 0 };
    let mut out = [0u8; 16];
    let waker = futures_util::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    for _ in 0..6 {
        let mut buf = ReadBuf::new(&mut out);
        let _ = reader.poll_read(&mut source, &mut cx, &mut buf);
    }
    assert_eq!(reader.last_close(), Some(WireClose { code: Some(1005), reason_utf8: false }));
}
