//! The byte stream under a client WebSocket: plain TCP or TLS over TCP,
//! and, once upgraded, the frame filter on the way out: pongs coalesced
//! (or withheld for `stability --no-pong`) and a bounded write queue.
//!
//! The TLS state and the filter are boxed so a plain connection stays
//! small; at 10,000 held connections every inline byte counts.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::nopong::PongFilter;
use super::wire::FrameReader;

/// Plain TCP or TLS.
#[derive(Debug)]
pub enum Transport {
    /// ws:// — plain TCP.
    Plain(TcpStream),
    /// wss:// — TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

/// A client connection's transport, with the outgoing frame filter.
#[derive(Debug)]
pub struct WsStream {
    transport: Transport,
    filter: Option<Box<PongFilter>>,
    reader: Option<Box<FrameReader>>,
    framed: bool,
    withhold: bool,
}

impl WsStream {
    /// A stream that passes every byte (the HTTP upgrade).
    pub fn new(transport: Transport) -> WsStream {
        WsStream { transport, filter: None, reader: None, framed: false, withhold: false }
    }

    /// From now on, silently drop every pong frame the WebSocket layer
    /// writes, so the server really gets no answer to its pings. Call it
    /// after the upgrade: the HTTP exchange is not made of frames.
    pub fn withhold_pongs(&mut self) {
        self.withhold = true;
        self.framed = true;
    }

    /// From now on the stream carries frames. Out: only the latest pong
    /// waits for a blocked socket, and the write queue is bounded (the
    /// filter is allocated on the first write). In: reads go through a
    /// [`FrameReader`] (frames up to `max_frame` split into fragments),
    /// starting with `already`, the bytes read past the 101 head.
    pub fn frames_from_now(&mut self, max_frame: usize, already: Vec<u8>) {
        self.framed = true;
        self.reader = Some(Box::new(FrameReader::new(max_frame, already)));
    }

    /// From now on, inflate the server's compressed messages (permessage-
    /// deflate was negotiated), each up to `limit` bytes. Call it after
    /// [`WsStream::frames_from_now`].
    pub fn inflate(&mut self, params: &crate::net::deflate::DeflateParams, limit: usize) {
        if let Some(reader) = self.reader.as_mut() {
            reader.inflate(params, false, limit);
        }
    }

    /// What was inflated so far, when permessage-deflate is on.
    pub fn inflate_stats(&self) -> Option<crate::net::inflate::InflateStats> {
        self.reader.as_ref().and_then(|r| r.inflate_stats())
    }

    /// The last close frame received, as it was on the wire.
    pub fn wire_close(&self) -> Option<crate::net::wire::WireClose> {
        self.reader.as_ref().and_then(|r| r.last_close())
    }

    /// Queues whole frames the caller built (see [`PongFilter::push_frames`])
    /// to go out behind what the WebSocket layer wrote; a flush writes them.
    /// False when they must wait (the queue is full, a frame is half
    /// written) or the stream does not carry frames yet.
    pub fn push_frames(&mut self, frames: &[u8]) -> bool {
        if !self.framed {
            return false;
        }
        let withhold = self.withhold;
        self.filter.get_or_insert_with(|| Box::new(PongFilter::new(withhold))).push_frames(frames)
    }

    /// The TCP socket underneath, for addresses and linger settings.
    pub fn tcp(&self) -> &TcpStream {
        match &self.transport {
            Transport::Plain(s) => s,
            Transport::Tls(s) => s.get_ref().0,
        }
    }

    /// True for a plain-TCP stream that has carried no frame either way
    /// since the upgrade, with nothing buffered: what lies above it can be
    /// rebuilt from the socket alone (see [`WsStream::into_plain_tcp`]).
    pub fn is_fresh_plain(&self) -> bool {
        matches!(self.transport, Transport::Plain(_))
            && self.filter.is_none()
            && self.reader.as_ref().is_some_and(|r| r.is_fresh())
    }

    /// The TCP socket of a stream for which [`WsStream::is_fresh_plain`]
    /// holds; any other stream is handed back.
    pub fn into_plain_tcp(self) -> Result<TcpStream, WsStream> {
        if !self.is_fresh_plain() {
            return Err(self);
        }
        match self.transport {
            Transport::Plain(tcp) => Ok(tcp),
            tls => Err(WsStream { transport: tls, ..self }),
        }
    }

    /// The TLS session, for wss.
    pub fn tls(&self) -> Option<&rustls::ClientConnection> {
        match &self.transport {
            Transport::Plain(_) => None,
            Transport::Tls(s) => Some(s.get_ref().1),
        }
    }

    /// Pong frames withheld so far (0 without `--no-pong`).
    pub fn pongs_withheld(&self) -> u64 {
        self.filter.as_ref().map_or(0, |f| f.withheld())
    }

    /// Pong frames replaced by a newer one while the socket was blocked.
    pub fn pongs_coalesced(&self) -> u64 {
        self.filter.as_ref().map_or(0, |f| f.coalesced())
    }

    /// Bytes queued here, between the WebSocket layer and the socket.
    pub fn queued(&self) -> usize {
        self.filter.as_ref().map_or(0, |f| f.queued())
    }

    /// Bytes written by the WebSocket layer that have not reached the
    /// peer: those still queued here and those in the kernel's send queue.
    pub fn unsent(&self) -> usize {
        self.queued() + crate::net::limits::kernel_unsent(self.tcp())
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl AsyncRead for WsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.reader {
            Some(reader) => reader.poll_read(&mut this.transport, cx, buf),
            None => Pin::new(&mut this.transport).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.framed {
            return Pin::new(&mut this.transport).poll_write(cx, buf);
        }
        let withhold = this.withhold;
        let filter = this.filter.get_or_insert_with(|| Box::new(PongFilter::new(withhold)));
        filter.poll_write(&mut this.transport, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(filter) = &mut this.filter {
            if filter.poll_drain(&mut this.transport, cx)?.is_pending() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut this.transport).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(filter) = &mut this.filter {
            if filter.poll_drain(&mut this.transport, cx)?.is_pending() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut this.transport).poll_shutdown(cx)
    }
}
