//! One upgraded connection on the reference server: echo, the JSON
//! heartbeat (`{"type":"ping"}` → `{"type":"pong"}`), routing by identity,
//! server pings with a pong deadline, idle timeout, token TTL, scheduled
//! drops, replacement by a newer connection, and shutdown with 1001.
//!
//! Drops that reproduce a dead peer or a Go read deadline end TCP without a
//! close frame; everything else closes with a code and waits for the reply.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::config::{DropMode, ServerConfig};
use super::registry::{Control, Ticket};
use super::Shared;
use crate::net::session::{close_cleanly, close_from_error};

/// Time a client gets to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Read buffer per server connection: small, so 10,000 idle clients fit.
const SERVER_READ_BUFFER: usize = 512;

type ServerWs = WebSocketStream<TcpStream>;

#[cfg(test)]
mod footprint {
    /// A server connection's state lives as long as the connection; the
    /// reference server must hold 10,000 of them in a few KiB each.
    #[test]
    fn connection_state_stays_small() {
        assert!(std::mem::size_of::<super::Conn>() <= 512, "{} bytes", std::mem::size_of::<super::Conn>());
    }
}

/// Serves an upgraded connection until it ends, then releases its ticket.
pub async fn serve(
    stream: TcpStream,
    leftover: Vec<u8>,
    ticket: Ticket,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let config = crate::net::endpoint::ws_config(shared.cfg.max_message_size, SERVER_READ_BUFFER);
    let ws = WebSocketStream::from_partially_read(stream, leftover, Role::Server, Some(config)).await;
    let mut conn = Conn { ws, ticket, shared, clock: Clock::new(), released: false };
    conn.run(&shutdown).await;
    conn.release();
}

/// What ended a connection's loop.
enum Stop {
    /// End TCP without a close frame.
    Abrupt,
    /// Close with this code and reason, then wait for the reply.
    Close(u16, &'static str),
    /// Already over (the client closed, or the socket failed).
    Done,
}

/// The timers of one connection.
struct Clock {
    opened: Instant,
    last_in: Instant,
    last_pong: Instant,
    next_ping: Option<Instant>,
}

/// Which timer fired.
#[derive(Clone, Copy)]
enum Timer {
    Ping,
    PongDeadline,
    Idle,
    TokenTtl,
    DropAfter,
    None,
}

impl Clock {
    fn new() -> Clock {
        let now = Instant::now();
        Clock { opened: now, last_in: now, last_pong: now, next_ping: None }
    }

    fn next(&self, cfg: &ServerConfig) -> (Instant, Timer) {
        let candidates = [
            (self.next_ping, Timer::Ping),
            (cfg.pong_timeout.map(|t| self.last_pong + t), Timer::PongDeadline),
            (cfg.idle_timeout.map(|t| self.last_in + t), Timer::Idle),
            (cfg.token_ttl.map(|t| self.opened + t), Timer::TokenTtl),
            (cfg.drop_after.map(|t| self.opened + t), Timer::DropAfter),
        ];
        candidates
            .into_iter()
            .filter_map(|(at, timer)| at.map(|at| (at, timer)))
            .min_by_key(|(at, _)| *at)
            .unwrap_or((self.opened + Duration::from_secs(86_400 * 365), Timer::None))
    }
}

struct Conn {
    ws: ServerWs,
    ticket: Ticket,
    shared: Arc<Shared>,
    clock: Clock,
    released: bool,
}

impl Conn {
    async fn run(&mut self, shutdown: &CancellationToken) {
        self.clock.next_ping = self.shared.cfg.ping_interval.map(|p| self.clock.opened + p);
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
                biased;
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

    async fn on_mail(&mut self) -> Option<Stop> {
        for control in self.ticket.mailbox.drain() {
            match control {
                Control::Close(code, reason) => return Some(Stop::Close(code, reason)),
                Control::Deliver(text) => {
                    if self.send(Message::text(text)).await.is_err() {
                        return Some(Stop::Done);
                    }
                }
            }
        }
        None
    }

    async fn on_timer(&mut self, timer: Timer) -> Option<Stop> {
        let cfg = &self.shared.cfg;
        match timer {
            Timer::Ping => {
                let interval = cfg.ping_interval.unwrap_or(Duration::from_secs(30));
                self.clock.next_ping = Some(Instant::now() + interval);
                self.send(Message::Ping(b"wsprobe".to_vec().into())).await.err()
            }
            Timer::PongDeadline | Timer::Idle => Some(Stop::Abrupt),
            Timer::TokenTtl => Some(Stop::Close(4001, "token expired")),
            Timer::DropAfter => Some(match cfg.drop_mode {
                DropMode::Abrupt => Stop::Abrupt,
                DropMode::Close => Stop::Close(1000, "scheduled drop"),
            }),
            Timer::None => None,
        }
    }

    /// Handles one frame, then every frame already buffered, and flushes the
    /// replies once: echo floods cost one write per batch, not per message.
    async fn on_frames(
        &mut self,
        first: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Option<Stop> {
        let mut item = first;
        loop {
            let msg = match item {
                Some(Ok(msg)) => msg,
                Some(Err(e)) => return Some(self.on_error(&e)),
                None => return Some(Stop::Done),
            };
            self.clock.last_in = Instant::now();
            if let Some(stop) = self.on_message(msg).await {
                return Some(stop);
            }
            match self.ws.next().now_or_never() {
                Some(next) => item = next,
                None => break,
            }
        }
        match tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.flush()).await {
            Ok(Ok(())) => None,
            _ => Some(Stop::Abrupt),
        }
    }

    fn on_error(&self, e: &tokio_tungstenite::tungstenite::Error) -> Stop {
        let info = close_from_error(e);
        match info.code {
            1002 => Stop::Close(1002, "protocol error"),
            1007 => Stop::Close(1007, "invalid UTF-8"),
            1009 => Stop::Close(1009, "message too big"),
            _ => Stop::Done,
        }
    }

    async fn on_message(&mut self, msg: Message) -> Option<Stop> {
        let reply = match msg {
            Message::Text(text) => self.on_text(text.as_str()),
            Message::Binary(data) => Some(Message::Binary(data)),
            Message::Pong(_) => {
                self.clock.last_pong = Instant::now();
                None
            }
            Message::Close(_) => {
                self.release_identity();
                return Some(Stop::Done);
            }
            Message::Ping(_) | Message::Frame(_) => None,
        };
        let reply = reply?;
        match tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.feed(reply)).await {
            Ok(Ok(())) => None,
            _ => Some(Stop::Abrupt),
        }
    }

    fn on_text(&self, text: &str) -> Option<Message> {
        if !text.starts_with('{') {
            return Some(Message::text(text));
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
            return Some(Message::text(text));
        };
        match value.get("type").and_then(|t| t.as_str()) {
            Some("ping") => Some(Message::text(r#"{"type":"pong"}"#)),
            Some("send") => Some(Message::text(self.route(&value).to_string())),
            _ => Some(Message::text(text)),
        }
    }

    fn route(&self, request: &serde_json::Value) -> serde_json::Value {
        let Some(to) = request.get("to").and_then(|t| t.as_str()) else {
            return serde_json::json!({"type": "error", "error": "send needs a \"to\" identity"});
        };
        let data = request.get("data").cloned().unwrap_or(serde_json::Value::Null);
        let message = serde_json::json!({"type": "message", "from": self.ticket.identity, "data": data}).to_string();
        let targets = self.shared.registry().route(to);
        let delivered = targets.iter().filter(|m| m.push(Control::Deliver(message.clone()))).count();
        if delivered == 0 {
            return serde_json::json!({"type": "error", "error": format!("'{to}' is not connected")});
        }
        serde_json::json!({"type": "sent", "to": to, "delivered": delivered})
    }

    async fn send(&mut self, msg: Message) -> Result<(), Stop> {
        match tokio::time::timeout(self.shared.cfg.write_timeout, self.ws.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(Stop::Abrupt),
        }
    }

    async fn finish(&mut self, stop: Stop) {
        match stop {
            Stop::Close(code, reason) => {
                self.release_identity();
                close_cleanly(&mut self.ws, code, reason, CLOSE_TIMEOUT).await;
            }
            Stop::Done => {
                // SinkExt::close flushes the close reply tungstenite queued;
                // the inherent WebSocketStream::close would send a second frame.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, SinkExt::close(&mut self.ws)).await;
            }
            Stop::Abrupt => {}
        }
    }

    fn release_identity(&self) {
        self.shared.registry().leave_identity(&self.shared.cfg, &self.ticket);
    }

    fn release(&mut self) {
        if !std::mem::replace(&mut self.released, true) {
            self.shared.registry().release(&self.shared.cfg, &self.ticket);
        }
    }
}
