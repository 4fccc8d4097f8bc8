//! The echo part of a storm client's hold: `--message` sent on a schedule,
//! echoes paired with their sends in order, round trips timed from the
//! *intended* send time (so a stalled server shows instead of hiding), and
//! counts batched so an echo flood costs little on our side.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Conn, Ctx, Live};
use super::hold::HoldEnd;
use crate::event::EventKind;
use crate::net::connect::ClientWs;
use crate::net::session::{interpret_wire, write_within, Read, WriteOp, Written};
use crate::units::ClientId;

/// Round trips are paired with the sends they answer, in order; at most this
/// many may be outstanding before the client stops adding more.
const MAX_OUTSTANDING: usize = 1024;

/// Holds a connection that sends `--message` on a schedule and times the echoes.
///
/// Every tick that is due is sent before one flush, and every echo already
/// buffered is read before going back to waiting: one system call per
/// batch, not per message, so the client does not become the bottleneck.
pub(super) async fn hold_echo(ctx: &Ctx, id: ClientId, live: &mut Live, token: &CancellationToken) -> HoldEnd {
    let Conn::Ws(ws) = &mut live.conn else {
        return HoldEnd::End;
    };
    // Built once: each send clones a reference to the same bytes.
    let message = Message::text(ctx.plan.message.clone().unwrap_or_default());
    let period = ctx.plan.message_interval;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut intended: VecDeque<Instant> = VecDeque::new();
    let mut traffic = Traffic::default();
    // One cancellation waiter for the whole hold, not one per wake-up.
    let mut cancelled = std::pin::pin!(token.cancelled());
    let end = loop {
        tokio::select! {
            _ = &mut cancelled => break HoldEnd::Disrupt,
            due = ticker.tick() => {
                match send_due(ctx, ws, &message, (due, &mut ticker), &mut intended, &mut traffic, token).await {
                    Written::Done => live.last_out = Instant::now(),
                    Written::Stopped => break HoldEnd::Disrupt,
                    Written::Ended(close) => break HoldEnd::Dropped(close),
                }
            }
            item = ws.next() => {
                let mut item = Some(item);
                while let Some(next) = item.take() {
                    match interpret_wire(ws, next) {
                        Read::Frame(msg) => {
                            live.last_in = Instant::now();
                            if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                                let sent = intended.pop_front();
                                traffic.last_received = Some(live.last_in);
                                traffic.received(ctx, id, sent.map(|s| live.last_in.saturating_duration_since(s)));
                            }
                        }
                        Read::Ended(close) => {
                            traffic.flush(ctx, id);
                            return HoldEnd::Dropped(close);
                        }
                    }
                    item = ws.next().now_or_never();
                }
            }
        }
    };
    traffic.flush(ctx, id);
    end
}

/// Sends every tick that is due (one feed each, one flush for the batch),
/// each under the write deadline, recording the intended send times.
async fn send_due(
    ctx: &Ctx,
    ws: &mut ClientWs,
    message: &Message,
    (first, ticker): (tokio::time::Instant, &mut tokio::time::Interval),
    intended: &mut VecDeque<Instant>,
    traffic: &mut Traffic,
    token: &CancellationToken,
) -> Written {
    let limit = ctx.endpoint.write_timeout;
    let mut due = Some(first);
    while let Some(at) = due.filter(|_| intended.len() < MAX_OUTSTANDING) {
        intended.push_back(at.into_std());
        traffic.first_sent.get_or_insert(at.into_std());
        let written = write_within(ws, WriteOp::Feed(message.clone()), limit, token).await;
        if !matches!(written, Written::Done) {
            intended.pop_back();
            return written;
        }
        traffic.sent += 1;
        due = ticker.tick().now_or_never();
    }
    write_within(ws, WriteOp::Flush, limit, token).await
}

/// Message counts and round-trip samples gathered per client and sent in
/// batches, so an echo flood does not cost a channel message per message.
#[derive(Default)]
struct Traffic {
    sent: u32,
    received: u32,
    round_trips: Vec<u32>,
    /// Intended time of the first message of the batch.
    first_sent: Option<Instant>,
    /// When the last echo of the batch arrived.
    last_received: Option<Instant>,
}

impl Traffic {
    fn received(&mut self, ctx: &Ctx, id: ClientId, round_trip: Option<Duration>) {
        self.received += 1;
        if let Some(d) = round_trip {
            self.round_trips.push(d.as_micros().min(u128::from(u32::MAX)) as u32);
        }
        if self.received >= 256 {
            self.flush(ctx, id);
        }
    }

    fn flush(&mut self, ctx: &Ctx, id: ClientId) {
        if self.sent > 0 || self.received > 0 {
            let batch = std::mem::take(self);
            ctx.emit(
                id,
                EventKind::Traffic { sent: batch.sent, received: batch.received, round_trips: batch.round_trips },
            );
            if let (Some(first_sent), Some(last_received)) = (batch.first_sent, batch.last_received) {
                ctx.emit(id, EventKind::MessageSpan { first_sent, last_received });
            }
        }
    }
}
