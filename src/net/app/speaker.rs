//! The layer of a connection that speaks a protocol, after its handshake:
//! for every inbound text it decides whether the protocol owns it (a
//! heartbeat to answer, the server's own ping, the answer to our
//! heartbeat) and keeps it from the check, or hands it on; it sends our
//! own heartbeat on its timer and notices a server that stopped pinging.
//! Answers wait in a small bounded queue and go out while the check reads.
//! `--no-pong` withholds every answer and our heartbeat too.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{Announced, AppSpec};
use crate::event::{AppEvent, CloseInfo, Event, EventKind};
use crate::net::stream::WsStream;

/// Answers that may wait to be written; beyond, they are dropped and counted.
const MAX_QUEUED: usize = 32;

/// A message the layer handled itself, for `connect`'s transcript.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// When.
    pub at: Instant,
    /// True when we sent it.
    pub out: bool,
    /// The text.
    pub text: String,
}

/// What the layer knew about a connection when it ended.
#[derive(Debug)]
pub struct DropFacts<'a> {
    /// How it ended.
    pub close: &'a CloseInfo,
    /// How long it had been open (since ready).
    pub lifetime: Duration,
    /// The server's announced heartbeat.
    pub announced: Option<Announced>,
    /// Server heartbeats seen.
    pub server_beats: u32,
    /// Time since the last one.
    pub since_server_beat: Option<Duration>,
    /// Whether the last one was answered (None: none came, or none needs an answer).
    pub last_beat_answered: Option<bool>,
    /// Answers withheld (`--no-pong`).
    pub withheld: u32,
    /// Our heartbeats sent.
    pub beats_sent: u32,
    /// True when our heartbeat was withheld (`--no-pong`).
    pub beats_withheld: bool,
    /// A refusal the server sent after ready (a disconnect, a close message).
    pub refusal: Option<&'a str>,
}

#[derive(Debug, Default)]
struct Tally {
    server_beats: u32,
    withheld: u32,
    beats_sent: u32,
    next_ref: u64,
    last_in: Option<Instant>,
    last_server_beat: Option<Instant>,
    last_answered: Option<bool>,
    last_beat_sent: Option<Instant>,
    refusal: Option<String>,
}

/// The speaking layer of one connection.
#[derive(Debug)]
pub struct Speaker {
    spec: Arc<AppSpec>,
    withhold: bool,
    announced: Option<Announced>,
    out: VecDeque<String>,
    unflushed: bool,
    beat: Option<Pin<Box<Sleep>>>,
    stale: Option<Pin<Box<Sleep>>>,
    observer: Option<(UnboundedSender<Event>, u32)>,
    transcript: Option<(Vec<Transcript>, usize)>,
    tally: Tally,
}

fn timer(every: Duration) -> Pin<Box<Sleep>> {
    Box::pin(tokio::time::sleep(every))
}

/// True when `timer` is due; it is then set to fire again `every` later.
fn fire(timer: &mut Option<Pin<Box<Sleep>>>, every: Duration, cx: &mut Context<'_>) -> bool {
    let Some(t) = timer else { return false };
    if t.as_mut().poll(cx).is_pending() {
        return false;
    }
    t.as_mut().reset(tokio::time::Instant::now() + every);
    let _ = t.as_mut().poll(cx);
    true
}

impl Speaker {
    /// The layer for a connection that completed `spec`'s handshake.
    pub fn new(spec: Arc<AppSpec>, withhold: bool, announced: Option<Announced>) -> Speaker {
        let beat = spec.beat.as_ref().filter(|_| !withhold).map(|b| timer(b.every));
        let stale = spec.server_beat.as_ref().and_then(|b| b.stale_after).map(timer);
        let tally = Tally { next_ref: 1, ..Tally::default() };
        Speaker {
            spec,
            withhold,
            announced,
            out: VecDeque::new(),
            unflushed: false,
            beat,
            stale,
            observer: None,
            transcript: None,
            tally,
        }
    }

    /// Reports to a collector from now on; `took` is the handshake's time.
    pub fn observe(&mut self, events: UnboundedSender<Event>, client: u32, took: Option<Duration>) {
        self.observer = Some((events, client));
        if let Some(took) = took {
            self.emit(AppEvent::Ready { took, announced: self.announced });
        }
    }

    /// Keeps up to `max` handled messages.
    pub fn keep_transcript(&mut self, max: usize) {
        self.transcript = Some((Vec::new(), max));
    }

    /// The handled messages kept so far.
    pub fn take_transcript(&mut self) -> Vec<Transcript> {
        self.transcript.as_mut().map(|(t, _)| std::mem::take(t)).unwrap_or_default()
    }

    /// When the layer last consumed an inbound message.
    pub fn last_in(&self) -> Option<Instant> {
        self.tally.last_in
    }

    fn emit(&self, e: AppEvent) {
        if let Some((tx, client)) = &self.observer {
            let _ = tx.send(Event { client: *client, at: Instant::now(), kind: EventKind::App(e) });
        }
    }

    fn note(&mut self, out: bool, text: &str) {
        if let Some((lines, max)) = &mut self.transcript {
            if lines.len() < *max {
                lines.push(Transcript { at: Instant::now(), out, text: super::shown(text, 300) });
            }
        }
    }

    fn queue(&mut self, text: String) {
        if self.out.len() >= MAX_QUEUED {
            self.emit(AppEvent::Dropped);
            return;
        }
        self.note(true, &text);
        self.out.push_back(text);
    }

    /// Reads the next message the check should see.
    pub fn poll_next(
        &mut self,
        ws: &mut WebSocketStream<WsStream>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, WsError>>> {
        loop {
            self.poll_timers(cx);
            self.poll_out(ws, cx);
            let item = std::task::ready!(ws.poll_next_unpin(cx));
            if let Some(Ok(Message::Text(text))) = &item {
                if self.absorb(text.as_str()) {
                    continue;
                }
            }
            return Poll::Ready(item);
        }
    }

    fn poll_timers(&mut self, cx: &mut Context<'_>) {
        if let Some(beat) = self.spec.beat.as_ref().map(|b| b.every) {
            if fire(&mut self.beat, beat, cx) {
                self.send_beat();
            }
        }
        if let Some(stale) = self.spec.server_beat.as_ref().and_then(|b| b.stale_after) {
            if fire(&mut self.stale, stale, cx) {
                let since = self.tally.last_server_beat.map(|t| t.elapsed()).unwrap_or(stale);
                self.emit(AppEvent::Stale(since));
            }
        }
    }

    fn send_beat(&mut self) {
        let Some(text) = self.spec.beat.as_ref().map(|b| b.text.replace("{ref}", &self.tally.next_ref.to_string()))
        else {
            return;
        };
        self.tally.next_ref += 1;
        self.tally.beats_sent += 1;
        self.tally.last_beat_sent = Some(Instant::now());
        self.queue(text);
        self.emit(AppEvent::BeatSent);
    }

    /// Writes queued answers without waiting; a write error shows up on
    /// the next read.
    fn poll_out(&mut self, ws: &mut WebSocketStream<WsStream>, cx: &mut Context<'_>) {
        while !self.out.is_empty() {
            match ws.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {
                    let text = self.out.pop_front().unwrap_or_default();
                    if ws.start_send_unpin(Message::text(text)).is_err() {
                        self.out.clear();
                        return;
                    }
                    self.unflushed = true;
                }
                Poll::Ready(Err(_)) => {
                    self.out.clear();
                    return;
                }
                Poll::Pending => break,
            }
        }
        if self.unflushed && ws.poll_flush_unpin(cx).is_ready() {
            self.unflushed = false;
        }
    }

    /// Handles an inbound text; true when the protocol owns it.
    fn absorb(&mut self, text: &str) -> bool {
        let spec = self.spec.clone();
        let now = Instant::now();
        if let Some(refusal) = spec.refusals.iter().find(|r| r.pattern.is_match(text)) {
            self.tally.refusal = Some((refusal.message)(text));
            return false;
        }
        if let Some(reply) = spec.replies.iter().find(|r| r.pattern.is_match(text)) {
            self.server_beat(now, text);
            self.tally.last_answered = Some(!self.withhold);
            if self.withhold {
                self.tally.withheld += 1;
                self.emit(AppEvent::Withheld);
            } else {
                self.queue(reply.text.clone());
                self.emit(AppEvent::Replied);
            }
            return true;
        }
        if spec.server_beat.as_ref().is_some_and(|b| b.pattern.is_match(text)) {
            self.server_beat(now, text);
            self.tally.last_answered = None;
            if let (Some(t), Some(every)) = (self.stale.as_mut(), spec.server_beat.as_ref().and_then(|b| b.stale_after))
            {
                t.as_mut().reset(tokio::time::Instant::now() + every);
            }
            return true;
        }
        let ack = spec.beat.as_ref().and_then(|b| b.ack.as_ref());
        if let (Some(ack), Some(sent)) = (ack, self.tally.last_beat_sent) {
            if ack.is_match(text) {
                self.tally.last_in = Some(now);
                self.note(false, text);
                self.emit(AppEvent::BeatAck(now.saturating_duration_since(sent)));
                return true;
            }
        }
        false
    }

    fn server_beat(&mut self, now: Instant, text: &str) {
        self.tally.server_beats += 1;
        self.tally.last_in = Some(now);
        self.tally.last_server_beat = Some(now);
        self.note(false, text);
        self.emit(AppEvent::ServerBeat);
    }

    /// The protocol's explanation of a drop, given when the connection opened.
    pub fn explain(&self, close: &CloseInfo, opened: Instant) -> Option<String> {
        let t = &self.tally;
        let facts = DropFacts {
            close,
            lifetime: opened.elapsed(),
            announced: self.announced,
            server_beats: t.server_beats,
            since_server_beat: t.last_server_beat.map(|b| b.elapsed()),
            last_beat_answered: t.last_answered,
            withheld: t.withheld,
            beats_sent: t.beats_sent,
            beats_withheld: self.withhold && self.spec.beat.is_some(),
            refusal: t.refusal.as_deref(),
        };
        match self.spec.explain {
            Some(profile) => profile(&facts),
            None => generic(&facts),
        }
    }
}

/// The generic mechanism's explanation: a drop right after an answer we
/// withheld is the server's application-level deadline.
fn generic(f: &DropFacts) -> Option<String> {
    let since = f.since_server_beat?;
    (f.last_beat_answered == Some(false) && f.withheld > 0).then(|| {
        format!(
            "The server closed the connection ({}) {:.1} s after a message matching --reply that wsprobe did not answer (--no-pong, {} withheld): an application-level deadline of about {:.1} s.",
            f.close.describe(),
            since.as_secs_f64(),
            f.withheld,
            since.as_secs_f64()
        )
    })
}
