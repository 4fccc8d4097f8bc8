//! One upgraded connection on the reference server: echo, the JSON
//! heartbeat (`{"type":"ping"}` → `{"type":"pong"}`), routing by identity
//! and broadcast (both in `deliver`), server pings with a pong deadline,
//! the application-level ping and init, idle timeout, token TTL, scheduled
//! drops, replacement by a newer connection, a slow-consumer close, and
//! shutdown with 1001.
//!
//! Drops that reproduce a dead peer or a Go read deadline end TCP without a
//! close frame; everything else closes with a code and waits for the reply.
//! Mail and inbound frames are handled in bounded batches and the loop
//! picks among ready branches at random, so a flood on one side never
//! starves the other.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::config::{DeadlineClose, DropMode, IdleReset};
use super::deliver::{self, Envelope};
use super::mailbox::Control;
use super::registry::Ticket;
use super::timers::{Clock, Timer};
use super::Shared;
use crate::net::deflate::{DeflateParams, Deflater};
use crate::net::session::{close_cleanly, close_from_error};

/// Time a client gets to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Read buffer per server connection: small, so 10,000 idle clients fit.
const SERVER_READ_BUFFER: usize = 512;
/// Most frames, or queued messages, handled per wake before the loop looks
/// at its other branches again.
const BATCH: usize = 64;
/// The close for an app ping left unanswered.
const APP_PONG_TIMEOUT: (u16, &str) = (4002, "app pong timeout");
/// The close when no first message arrived within `--init-timeout`
/// (graphql-transport-ws's code and words).
const INIT_TIMEOUT: (u16, &str) = (4408, "connection initialisation timeout");
/// The close when the first message does not match `--require-init`.
const INIT_REFUSED: (u16, &str) = (4400, "expected connection initialisation");

type ServerWs = WebSocketStream<crate::net::wire::Framed<TcpStream>>;

/// What a write under the write timeout gives.
type Written = Result<Result<(), tokio_tungstenite::tungstenite::Error>, tokio::time::error::Elapsed>;

/// A write that finished in time, or the abrupt end of a client that does
/// not take what it is sent.
fn written(result: Written) -> Option<Stop> {
    match result {
        Ok(Ok(())) => None,
        _ => Some(Stop::Abrupt),
    }
}

/// A connection the handshake upgraded.
pub struct Upgraded {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read past the upgrade request.
    pub leftover: Vec<u8>,
    /// Its place in the registry.
    pub ticket: Ticket,
    /// permessage-deflate's parameters, when negotiated.
    pub deflate: Option<DeflateParams>,
}

/// Serves an upgraded connection until it ends, then releases its ticket.
pub async fn serve(up: Upgraded, shared: Arc<Shared>, shutdown: CancellationToken) {
    let max = shared.cfg.max_message_size;
    let config = crate::net::endpoint::ws_config(max, SERVER_READ_BUFFER);
    // Reads go through the frame reader: big reads for big frames, no
    // reservation of a frame's announced length before its bytes arrive,
    // and compressed messages inflated within the message size limit.
    let mut stream = crate::net::wire::Framed::new(up.stream, max, up.leftover);
    if let Some(params) = &up.deflate {
        stream = stream.inflating(params, max);
    }
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await;
    let clock = Clock::new(&shared.cfg);
    let deflater = up.deflate.as_ref().map(|p| Box::new(Deflater::new(p)));
    let mut conn = Conn { ws, ticket: up.ticket, shared, clock, released: false, deflater };
    conn.run(&shutdown).await;
    conn.release();
}

/// What ended a connection's loop.
enum Stop {
    /// End TCP without a close frame.
    Abrupt,
    /// Close with this code and reason, then wait for the reply.
    Close(u16, &'static str),
    /// The pong deadline passed: end it as `--pong-timeout-close` says.
    PongDeadline,
    /// Already over (the client closed, or the socket failed).
    Done,
}

impl Stop {
    fn close((code, reason): (u16, &'static str)) -> Stop {
        Stop::Close(code, reason)
    }
}

struct Conn {
    ws: ServerWs,
    ticket: Ticket,
    shared: Arc<Shared>,
    clock: Clock,
    released: bool,
    /// Compresses what the server sends, with permessage-deflate.
    deflater: Option<Box<Deflater>>,
}

impl Conn {
    async fn run(&mut self, shutdown: &CancellationToken) {
        let mailbox = self.ticket.mailbox.clone();
        let (first, _) = self.clock.next(&self.shared.cfg);
        let sleep = tokio::time::sleep_until(first);
        tokio::pin!(sleep);
        // Without timers the sleep is never polled, so it never enters the
        // timer wheel: idle connections cost no timer work.
        let timed = !matches!(self.clock.next(&self.shared.cfg).1, Timer::None);
        let stop = loop {
            let (when, timer) = self.clock.next(&self.shared.cfg);
            if timed {
                sleep.as_mut().reset(when);
            }
            let step = tokio::select! {
                _ = shutdown.cancelled() => Some(Stop::Close(1001, "server shutting down")),
                _ = mailbox.notify.notified() => self.on_mail().await,
                _ = &mut sleep, if timed => self.on_timer(timer).await,
                item = self.ws.next() => self.on_frames(item).await,
            };
            if let Some(stop) = step {
                break stop;
            }
        };
        self.finish(stop).await;
    }

    /// Writes queued messages one at a time (at most [`BATCH`], then the
    /// loop gets a turn), and flushes once.
    async fn on_mail(&mut self) -> Option<Stop> {
        for _ in 0..BATCH {
            match self.ticket.mailbox.pop() {
                None => return written(self.flush().await),
                Some(Control::Close(code, reason)) => return Some(Stop::Close(code, reason)),
                Some(Control::Deliver(text)) => {
                    if let Some(stop) = written(self.feed(Message::Text(text)).await) {
                        return Some(stop);
                    }
                }
            }
        }
        self.ticket.mailbox.notify.notify_one();
        written(self.flush().await)
    }

    async fn on_timer(&mut self, timer: Timer) -> Option<Stop> {
        let cfg = &self.shared.cfg;
        match timer {
            Timer::Ping => {
                let interval = cfg.ping_interval.unwrap_or(Duration::from_secs(30));
                self.clock.next_ping = Some(Instant::now() + interval);
                written(self.send(Message::Ping(b"wsprobe".to_vec().into())).await)
            }
            Timer::AppPing => {
                self.clock.app_ping_sent(cfg);
                let text = self.shared.app.ping.clone().unwrap_or_default();
                written(self.send(Message::Text(text)).await)
            }
            Timer::PongDeadline => Some(Stop::PongDeadline),
            Timer::Idle => Some(Stop::Abrupt),
            Timer::AppPongDeadline => Some(match cfg.app_pong_mode {
                DropMode::Abrupt => Stop::Abrupt,
                DropMode::Close => Stop::close(APP_PONG_TIMEOUT),
            }),
            Timer::InitDeadline => Some(Stop::close(INIT_TIMEOUT)),
            Timer::TokenTtl => Some(Stop::Close(4001, "token expired")),
            Timer::DropAfter => Some(match cfg.drop_mode {
                DropMode::Abrupt => Stop::Abrupt,
                DropMode::Close => Stop::Close(1000, "scheduled drop"),
            }),
            Timer::None => None,
        }
    }

    /// Handles one frame, then the frames already buffered (at most
    /// [`BATCH`]), and flushes the replies once: echo floods cost one write
    /// per batch, not per message.
    async fn on_frames(
        &mut self,
        first: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<Stop> {
        let mut item = first;
        for _ in 0..BATCH {
            let msg = match item {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => return Some(self.on_error(&e)),
                None => return Some(Stop::Done),
            };
            if self.shared.cfg.idle_reset == IdleReset::Any || matches!(msg, Message::Text(_) | Message::Binary(_)) {
                self.clock.last_in = Instant::now();
            }
            match self.answer(msg) {
                Err(stop) => return Some(stop),
                Ok(Some(reply)) => {
                    if let Some(stop) = written(self.feed(reply).await) {
                        return Some(stop);
                    }
                }
                Ok(None) => {}
            }
            match self.ws.next().now_or_never() {
                Some(next) => item = next,
                None => break,
            }
        }
        written(self.flush().await)
    }

    fn on_error(&self, e: &tokio_tungstenite::tungstenite::Error) -> Stop {
        let info = close_from_error(e);
        match info.code {
            1002 => Stop::Close(1002, "protocol error"),
            1007 => Stop::Close(1007, "invalid payload data"),
            1009 => Stop::Close(1009, "message too big"),
            _ => Stop::Done,
        }
    }

    /// What to answer one inbound message with, or why to stop. Not async:
    /// the caller awaits only the write, so the connection's state holds
    /// one message, not three.
    fn answer(&mut self, msg: Message) -> Result<Option<Message>, Stop> {
        Ok(match msg {
            Message::Text(text) => {
                if let Some(stop) = self.on_app_text(&text) {
                    return Err(stop);
                }
                self.on_text(text)
            }
            Message::Binary(_) if self.clock.awaiting_init => return Err(Stop::close(INIT_REFUSED)),
            Message::Binary(data) => Some(Message::Binary(data)),
            Message::Pong(_) => {
                self.clock.last_pong = Instant::now();
                None
            }
            Message::Close(_) => return Err(Stop::Done),
            Message::Ping(_) | Message::Frame(_) => None,
        })
    }

    /// The application protocol's view of a text message: the first one
    /// must match `--require-init`, and one matching `--app-pong` answers
    /// the pending app pings. The message is then handled as usual.
    fn on_app_text(&mut self, text: &str) -> Option<Stop> {
        if self.clock.awaiting_init {
            if !self.shared.app.init.as_ref().is_some_and(|r| r.is_match(text)) {
                return Some(Stop::close(INIT_REFUSED));
            }
            self.clock.awaiting_init = false;
        }
        if self.clock.app_pong_due.is_some() && self.shared.app.pong.as_ref().is_some_and(|r| r.is_match(text)) {
            self.clock.app_pong_due = None;
        }
        None
    }

    fn on_text(&self, text: Utf8Bytes) -> Option<Message> {
        let Some(request) = Envelope::parse(&text) else {
            return Some(Message::Text(text));
        };
        match request.kind.as_deref() {
            Some("ping") => Some(Message::text(r#"{"type":"pong"}"#)),
            Some("send") => Some(Message::text(deliver::send(&self.shared, &self.ticket, &request))),
            Some("broadcast") => {
                deliver::broadcast(&self.shared, &self.ticket, &request);
                None
            }
            _ => Some(Message::Text(text.clone())),
        }
    }

    // The writes return their timeout future as is (no async fn or
    // combinator around it), so the message is stored once in the
    // connection's state; callers pass the result to `written`.
    fn feed(&mut self, msg: Message) -> impl Future<Output = Written> + '_ {
        let msg = self.outbound(msg);
        tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.feed(msg))
    }

    fn flush(&mut self) -> impl Future<Output = Written> + '_ {
        tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.flush())
    }

    fn send(&mut self, msg: Message) -> impl Future<Output = Written> + '_ {
        let msg = self.outbound(msg);
        tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.send(msg))
    }

    /// A message as it goes out: compressed with permessage-deflate.
    fn outbound(&mut self, msg: Message) -> Message {
        match self.deflater.as_mut() {
            Some(d) => d.message(msg),
            None => msg,
        }
    }

    async fn finish(&mut self, stop: Stop) {
        match stop {
            Stop::Close(code, reason) => {
                self.release_identity();
                close_cleanly(&mut self.ws, code, reason, CLOSE_TIMEOUT).await;
            }
            Stop::Done => {
                self.release_identity();
                // SinkExt::close flushes the close reply tungstenite queued;
                // the inherent WebSocketStream::close would send a second frame.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, SinkExt::close(&mut self.ws)).await;
            }
            Stop::PongDeadline => match &self.shared.cfg.pong_timeout_close {
                DeadlineClose::Abrupt => {}
                DeadlineClose::Empty => {
                    self.release_identity();
                    close_empty(&mut self.ws).await;
                }
                DeadlineClose::Code(code, reason) => {
                    self.release_identity();
                    let (code, reason) = (*code, reason.clone());
                    close_cleanly(&mut self.ws, code, &reason, CLOSE_TIMEOUT).await;
                }
            },
            Stop::Abrupt => {}
        }
    }

    fn release_identity(&self) {
        self.shared.worker(self.ticket.worker).registry().leave_identity(&self.shared.cfg, &self.ticket);
    }

    fn release(&mut self) {
        if !std::mem::replace(&mut self.released, true) {
            self.shared.worker(self.ticket.worker).release(&self.shared.cfg, &self.ticket);
        }
    }
}

/// Sends a close frame without a status code (the client reads 1005), as
/// gorilla's chat example does when its read deadline passes, and waits
/// for the reply within [`CLOSE_TIMEOUT`].
async fn close_empty(ws: &mut ServerWs) {
    let exchange = async {
        if ws.send(Message::Close(None)).await.is_err() {
            return;
        }
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, exchange).await;
}

#[cfg(test)]
mod footprint {
    /// A server connection's state lives as long as the connection; the
    /// reference server must hold 10,000 of them in a few KiB each.
    #[test]
    fn connection_state_stays_small() {
        assert!(std::mem::size_of::<super::Conn>() <= 512, "{} bytes", std::mem::size_of::<super::Conn>());
    }
}
