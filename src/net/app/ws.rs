//! [`ClientWs`]: a client WebSocket with its application layer on top.
//! Checks read and write it like any WebSocket stream; underneath, the
//! layer answers the protocol's heartbeats, sends the client's own, keeps
//! the protocol's control messages away from the check, and remembers
//! what it needs to explain a drop. Without a named protocol it only
//! glances at the first messages to notice one ([`super::Detections`]).
//!
//! A connection without a layer costs one pointer: the layer is boxed,
//! and the sniffer is dropped after the first few messages.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::detect::{Detections, Sniffer};
use super::speaker::{Speaker, Transcript};
use super::{Announced, AppSpec};
use crate::event::{CloseInfo, Event};
use crate::net::endpoint::Endpoint;
use crate::net::stream::{Transport, WsStream};

/// An open client WebSocket and its application layer.
#[derive(Debug)]
pub struct ClientWs {
    ws: WebSocketStream<WsStream>,
    layer: Option<Box<Layer>>,
}

#[derive(Debug)]
enum Layer {
    Sniff(Sniffer),
    // Boxed again so a sniffing connection (the common case under load)
    // allocates only the small sniffer.
    Speak(Box<Speaker>),
}

/// A client WebSocket that has carried no frame since the upgrade, reduced
/// to its socket and its layer while it waits for something to read: an
/// idle held connection then costs the socket and two words, not the framed
/// stream's buffers and wakers. [`ParkedWs::resume`] builds the same
/// WebSocket again (nothing was read or written, so nothing is lost).
#[derive(Debug)]
pub struct ParkedWs {
    tcp: TcpStream,
    layer: Option<Box<Layer>>,
}

impl ParkedWs {
    /// The socket, to wait until it is readable.
    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// The WebSocket again, as the upgrade built it.
    pub async fn resume(self, endpoint: &Endpoint) -> ClientWs {
        let mut ws = ClientWs::framed(WsStream::new(Transport::Plain(self.tcp)), endpoint, Vec::new()).await;
        ws.layer = self.layer;
        ws
    }
}

impl ClientWs {
    /// A WebSocket without an application layer.
    pub fn new(ws: WebSocketStream<WsStream>) -> ClientWs {
        ClientWs { ws, layer: None }
    }

    /// The WebSocket over an upgraded stream, framed as `endpoint` says,
    /// starting with `already`, the bytes read past the 101 head.
    pub async fn framed(mut stream: WsStream, endpoint: &Endpoint, already: Vec<u8>) -> ClientWs {
        stream.frames_from_now(endpoint.ws_config.max_frame_size.unwrap_or(usize::MAX), already);
        if endpoint.withhold_pongs {
            stream.withhold_pongs();
        }
        ClientWs::new(WebSocketStream::from_raw_socket(stream, Role::Client, Some(endpoint.ws_config)).await)
    }

    /// Parks a plain-TCP WebSocket that has carried no frame yet and speaks
    /// no application protocol (whose heartbeats need the full stream);
    /// any other is handed back as it was.
    pub async fn park(self, endpoint: &Endpoint) -> Result<ParkedWs, ClientWs> {
        if matches!(self.layer.as_deref(), Some(Layer::Speak(_))) || !self.ws.get_ref().is_fresh_plain() {
            return Err(self);
        }
        let layer = self.layer;
        match self.ws.into_inner().into_plain_tcp() {
            Ok(tcp) => Ok(ParkedWs { tcp, layer }),
            // Not reached (checked above); rebuilt all the same, never lost.
            Err(stream) => {
                let ws = WebSocketStream::from_raw_socket(stream, Role::Client, Some(endpoint.ws_config)).await;
                Err(ClientWs { ws, layer })
            }
        }
    }

    /// The byte stream underneath (TCP socket, TLS state, withheld pongs).
    pub fn get_ref(&self) -> &WsStream {
        self.ws.get_ref()
    }

    /// Queues whole client frames built outside tungstenite (an echo hold's
    /// batch, [`crate::net::out_frame`]) behind everything written so far;
    /// the next flush sends them. False when they must wait: flush first.
    /// Safe beside tungstenite because it hands the stream whole frames
    /// only, and a pong it owes is written between frames, never inside.
    pub fn push_frames(&mut self, frames: &[u8]) -> bool {
        self.ws.get_mut().push_frames(frames)
    }

    /// Sends a close frame and flushes it (as `WebSocketStream::close`).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), WsError> {
        self.ws.close(frame).await
    }

    /// The WebSocket without its layer (the handshake and closes use it).
    pub fn inner_mut(&mut self) -> &mut WebSocketStream<WsStream> {
        &mut self.ws
    }

    /// Starts watching for a protocol nobody named.
    pub(super) fn sniff(&mut self, into: &Arc<Detections>) {
        self.layer = Some(Box::new(Layer::Sniff(Sniffer::new(into.clone()))));
    }

    /// Speaks `spec` from now on (after its handshake).
    pub(super) fn speak(&mut self, spec: Arc<AppSpec>, withhold: bool, announced: Option<Announced>) {
        self.layer = Some(Box::new(Layer::Speak(Box::new(Speaker::new(spec, withhold, announced)))));
    }

    fn speaker(&mut self) -> Option<&mut Speaker> {
        match self.layer.as_deref_mut() {
            Some(Layer::Speak(s)) => Some(s.as_mut()),
            _ => None,
        }
    }

    /// Sends what the layer does (heartbeats answered, sent, missed) to a
    /// check's collector as [`crate::event::EventKind::App`] events, and
    /// the handshake's time and announced settings at once.
    pub fn observe(&mut self, events: UnboundedSender<Event>, client: u32, took: Option<std::time::Duration>) {
        if let Some(s) = self.speaker() {
            s.observe(events, client, took);
        }
    }

    /// Keeps the layer's own traffic (answered heartbeats...) for a
    /// transcript, at most `max` messages.
    pub fn keep_transcript(&mut self, max: usize) {
        if let Some(s) = self.speaker() {
            s.keep_transcript(max);
        }
    }

    /// The layer's own traffic kept so far.
    pub fn take_transcript(&mut self) -> Vec<Transcript> {
        self.speaker().map(Speaker::take_transcript).unwrap_or_default()
    }

    /// When the layer last consumed an inbound message itself.
    pub fn app_last_in(&self) -> Option<Instant> {
        match self.layer.as_deref() {
            Some(Layer::Speak(s)) => s.last_in(),
            _ => None,
        }
    }

    /// The protocol's explanation of how this connection ended.
    pub fn explain_drop(&self, close: &CloseInfo, opened: Instant) -> Option<String> {
        match self.layer.as_deref() {
            Some(Layer::Speak(s)) => s.explain(close, opened),
            _ => None,
        }
    }
}

impl Stream for ClientWs {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.layer.as_deref_mut() {
            None => this.ws.poll_next_unpin(cx),
            Some(Layer::Sniff(sniffer)) => {
                let item = std::task::ready!(this.ws.poll_next_unpin(cx));
                if sniffer.see(&item) {
                    this.layer = None;
                }
                Poll::Ready(item)
            }
            Some(Layer::Speak(speaker)) => speaker.poll_next(&mut this.ws, cx),
        }
    }
}

impl Sink<Message> for ClientWs {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.get_mut().ws.poll_ready_unpin(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        self.get_mut().ws.start_send_unpin(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.get_mut().ws.poll_flush_unpin(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        self.get_mut().ws.poll_close_unpin(cx)
    }
}

#[cfg(test)]
mod footprint {
    /// Every held connection carries this: one pointer for the layer.
    #[test]
    fn the_layer_costs_one_pointer() {
        let plain = std::mem::size_of::<tokio_tungstenite::WebSocketStream<crate::net::stream::WsStream>>();
        assert_eq!(std::mem::size_of::<super::ClientWs>(), plain + 8);
    }
}
