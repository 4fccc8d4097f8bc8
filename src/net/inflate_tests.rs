//! Tests of inflation in the frame layer: compressed messages, fed in
//! awkward chunks, come out of tungstenite as the messages that were
//! compressed; bombs, bad data and bad framing are refused with the
//! error that says so.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::*;
use crate::net::deflate::Deflater;
use crate::net::wire::FrameReader;

/// Frame bytes served `chunk` at a time through a [`FrameReader`].
struct Wire {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
    reader: FrameReader,
}

struct Raw<'a>(&'a [u8], &'a mut usize, usize);

impl AsyncRead for Raw<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = (self.0.len() - *self.1).min(buf.remaining()).min(self.2);
        let start = *self.1;
        buf.put_slice(&self.0[start..start + n]);
        *self.1 += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Wire {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut raw = Raw(&this.data, &mut this.pos, this.chunk);
        this.reader.poll_read(&mut raw, cx, buf)
    }
}

impl AsyncWrite for Wire {
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

/// A frame: first byte `b0`, the payload masked with `key` when given.
fn frame(b0: u8, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![b0];
    let mask = if key.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask | n as u8),
        n if n < 65536 => {
            f.push(mask | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match key {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// Reads every message the wire holds, up to the first error.
fn read_all(data: Vec<u8>, chunk: usize, server_side: bool, limit: usize) -> (Vec<Message>, Option<WsError>, Wire) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async move {
        let mut reader = FrameReader::new(limit, Vec::new());
        reader.inflate(&DeflateParams::default(), server_side, limit);
        let wire = Wire { data, pos: 0, chunk, reader };
        let role = if server_side { Role::Server } else { Role::Client };
        let config = crate::net::endpoint::ws_config(limit, 256);
        let mut ws = WebSocketStream::from_raw_socket(wire, role, Some(config)).await;
        let mut got = Vec::new();
        let err = loop {
            match ws.next().await {
                Some(Ok(m)) => got.push(m),
                // The end of the wire's bytes, without a close frame.
                Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => break None,
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        };
        (got, err, ws.into_inner())
    })
}

fn inflate_error(e: &WsError) -> InflateError {
    match e {
        WsError::Io(io) => {
            io.get_ref().and_then(|r| r.downcast_ref::<InflateError>()).cloned().expect("an InflateError")
        }
        other => panic!("not an inflate error: {other:?}"),
    }
}

#[test]
fn compressed_messages_come_out_whole_with_the_context_kept() {
    let mut d = Deflater::new(&DeflateParams::default());
    let text = "the quick brown fox ".repeat(20);
    let (a, b) = (d.compress(text.as_bytes()), d.compress(text.as_bytes()));
    assert!(b.len() < a.len() / 2, "the second message refers to the first");
    let mut wire = frame(0xC1, &a, None);
    wire.extend(frame(0xC1, &b, None));
    wire.extend(frame(0x81, b"plain", None));
    for chunk in [1, 3, 7, 4096] {
        let (got, err, w) = read_all(wire.clone(), chunk, false, 1 << 20);
        assert!(err.is_none(), "chunk {chunk}: {err:?}");
        assert_eq!(got, vec![Message::text(text.clone()), Message::text(text.clone()), Message::text("plain")]);
        let stats = w.reader.inflate_stats().unwrap();
        assert_eq!((stats.messages, stats.inflated_bytes), (2, 2 * text.len() as u64));
        assert_eq!(stats.compressed_bytes, (a.len() + b.len()) as u64);
    }
}

#[test]
fn fragmented_masked_messages_with_a_ping_between_and_big_ones_inflate() {
    let mut d = Deflater::new(&DeflateParams::default());
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect();
    let z = d.compress(&big);
    let key = Some([9, 8, 7, 6]);
    let (p1, rest) = z.split_at(z.len() / 3);
    let (p2, p3) = rest.split_at(rest.len() / 2);
    let mut wire = frame(0x42, p1, key);
    wire.extend(frame(0x89, b"hi", key));
    wire.extend(frame(0x00, p2, key));
    wire.extend(frame(0x80, p3, key));
    let (got, err, _) = read_all(wire, 999, true, 1 << 20);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 2, "the ping, then the message");
    assert!(matches!(&got[0], Message::Ping(p) if p.as_ref() == b"hi"));
    assert!(matches!(&got[1], Message::Binary(b) if b.as_ref() == big.as_slice()));
}

#[test]
fn a_decompression_bomb_is_refused_past_the_limit_without_inflating_it() {
    let mut d = Deflater::new(&DeflateParams::default());
    let bomb = d.compress(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 128 << 10, "64 MiB of zeros compress to {} bytes", bomb.len());
    let (got, err, w) = read_all(frame(0xC2, &bomb, None), 65536, false, 1 << 20);
    assert!(got.is_empty());
    let e = inflate_error(&err.expect("refused"));
    assert_eq!(e.code(), 1009);
    assert!(e.to_string().contains("decompression bomb"), "{e}");
    assert!(w.pos < w.data.len(), "refused before the whole bomb was read");
}

#[test]
fn bad_data_and_bad_framing_are_refused_with_their_codes() {
    let bad = frame(0xC1, &[0xff, 0xff, 0xff, 0xff], None);
    let (_, err, _) = read_all(bad, 64, false, 1 << 20);
    assert_eq!(inflate_error(&err.unwrap()).code(), 1007);
    let mut d = Deflater::new(&DeflateParams::default());
    let z = d.compress(b"hello hello");
    let mut rsv_on_continuation = frame(0x41, &z[..2], None);
    rsv_on_continuation.extend(frame(0xC0, &z[2..], None));
    let (_, err, _) = read_all(rsv_on_continuation, 64, false, 1 << 20);
    let e = inflate_error(&err.unwrap());
    assert_eq!(e.code(), 1002);
    assert!(e.to_string().contains("RSV"), "{e}");
    let (_, err, _) = read_all(frame(0xC1, &z, Some([1, 2, 3, 4])), 64, false, 1 << 20);
    assert!(inflate_error(&err.unwrap()).to_string().contains("masked"));
}

#[test]
fn rsv1_on_a_control_frame_is_left_to_tungstenite() {
    let (_, err, _) = read_all(frame(0xC9, b"x", None), 64, false, 1 << 20);
    assert!(matches!(err, Some(WsError::Protocol(_))), "{err:?}");
}
