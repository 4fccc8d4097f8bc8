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
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::detect::{Detections, Sniffer};
use super::speaker::{Speaker, Transcript};
use super::{Announced, AppSpec};
use crate::event::{CloseInfo, Event};
use crate::net::stream::WsStream;

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

impl ClientWs {
    /// A WebSocket without an application layer.
    pub fn new(ws: WebSocketStream<WsStream>) -> ClientWs {
        ClientWs { ws, layer: None }
    }

    /// The byte stream underneath (TCP socket, TLS state, withheld pongs).
    pub fn get_ref(&self) -> &WsStream {
        self.ws.get_ref()
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
