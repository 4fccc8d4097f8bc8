//! The echo part of a storm client's hold: `--message` sent on a schedule,
//! echoes paired with their sends in order, round trips timed from the
//! *intended* send time (so a stalled server shows instead of hiding), and
//! counts batched so an echo flood costs little on our side.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Conn, Ctx, Live};
use super::hold::HoldEnd;
use crate::event::{CloseInfo, EventKind};
use crate::net::connect::ClientWs;
use crate::net::out_frame;
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
/// When the run ends, the echoes still in flight are waited for (see
/// [`drain`]), so a message the server did answer is not counted lost.
pub(super) async fn hold_echo(ctx: &Ctx, id: ClientId, live: &mut Live, token: &CancellationToken) -> HoldEnd {
    let Conn::Ws(ws) = &mut live.conn else {
        return HoldEnd::End;
    };
    let payload = ctx.plan.message.as_deref().unwrap_or_default().as_bytes();
    // The due messages' frames, reused tick after tick.
    let mut batch = Vec::new();
    let mut schedule = Schedule::new(ctx.plan.message_interval);
    let mut wake = std::pin::pin!(tokio::time::sleep_until(schedule.next.into()));
    let mut echoes = Echoes::default();
    // One cancellation waiter for the whole hold, not one per wake-up.
    let mut cancelled = std::pin::pin!(token.cancelled());
    let end = loop {
        tokio::select! {
            _ = &mut cancelled => break HoldEnd::Disrupt,
            () = &mut wake => {
                let due = schedule.take_due(Instant::now(), MAX_OUTSTANDING - echoes.intended.len());
                wake.as_mut().reset(schedule.next.into());
                match send_due(ctx, ws, (payload, &mut batch), due, &mut echoes, token).await {
                    Written::Done => live.last_out = Instant::now(),
                    Written::Stopped => break HoldEnd::Disrupt,
                    Written::Ended(close) => break HoldEnd::Dropped(close),
                }
            }
            item = ws.next() => {
                if let Err(close) = echoes.read(ctx, id, ws, &mut live.last_in, item) {
                    break HoldEnd::Dropped(close);
                }
            }
        }
    };
    let end = match end {
        HoldEnd::Disrupt if ctx.end.is_cancelled() => match drain(ctx, id, ws, &mut live.last_in, &mut echoes).await {
            Ok(()) => end,
            Err(close) => HoldEnd::Dropped(close),
        },
        other => other,
    };
    echoes.traffic.flush(ctx, id);
    end
}

/// Waits, at the end of the run, for the echoes still in flight: for as
/// long as twice the slowest round trip seen so far on this connection, at
/// most `--close-timeout`. A server that answers slowly gets the time its
/// own answers showed it needs; one that never answered gets none (nothing
/// suggests an answer is coming), so a storm against a server that does
/// not echo still ends at once.
async fn drain(
    ctx: &Ctx,
    id: ClientId,
    ws: &mut ClientWs,
    last_in: &mut Instant,
    echoes: &mut Echoes,
) -> Result<(), CloseInfo> {
    let wait = echoes.slowest.saturating_mul(2).min(ctx.plan.close_timeout);
    if echoes.intended.is_empty() || wait.is_zero() {
        return Ok(());
    }
    let deadline = tokio::time::sleep(wait);
    let mut deadline = std::pin::pin!(deadline);
    while !echoes.intended.is_empty() {
        tokio::select! {
            () = &mut deadline => break,
            item = ws.next() => echoes.read(ctx, id, ws, last_in, item)?,
        }
    }
    Ok(())
}

/// The send schedule: tick `k` is due at `start + k × period`. Worked out
/// from the clock at each wake-up instead of polling an `Interval` once
/// per tick: the timer is reset once per wake-up, not once per message.
struct Schedule {
    period: Duration,
    /// When the next unsent tick is due.
    next: Instant,
}

impl Schedule {
    fn new(period: Duration) -> Schedule {
        Schedule { period, next: Instant::now() + period }
    }

    /// The intended send times of every tick due by `now`, at most `room`
    /// of them (the outstanding-echo bound); ticks past `room` are skipped,
    /// not queued, so a server that stops echoing is not flooded later.
    fn take_due(&mut self, now: Instant, room: usize) -> Due {
        let Some(late) = now.checked_duration_since(self.next) else {
            return Due { first: self.next, period: self.period, count: 0 };
        };
        let due = (late.as_nanos() / self.period.as_nanos().max(1) + 1).min(u128::from(u32::MAX)) as u32;
        let first = self.next;
        self.next += self.period.saturating_mul(due);
        Due { first, period: self.period, count: (due as usize).min(room) }
    }
}

/// Ticks to send now: `count` of them, the first intended at `first`.
struct Due {
    first: Instant,
    period: Duration,
    count: usize,
}

/// The echo bookkeeping of one connection: the intended send times not yet
/// answered (in order), the slowest round trip so far, the batch to report.
#[derive(Default)]
struct Echoes {
    intended: VecDeque<Instant>,
    slowest: Duration,
    traffic: Traffic,
}

impl Echoes {
    /// Reads `item` and every frame already buffered behind it, pairing
    /// each data frame with the oldest unanswered send. The frames read in
    /// one go share one clock reading (they were read back to back).
    fn read(
        &mut self,
        ctx: &Ctx,
        id: ClientId,
        ws: &mut ClientWs,
        last_in: &mut Instant,
        item: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<(), CloseInfo> {
        let now = Instant::now();
        let mut item = Some(item);
        while let Some(next) = item.take() {
            match interpret_wire(ws, next) {
                Read::Frame(msg) => {
                    *last_in = now;
                    if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                        let round_trip = self.intended.pop_front().map(|s| now.saturating_duration_since(s));
                        self.slowest = self.slowest.max(round_trip.unwrap_or_default());
                        self.traffic.last_received = Some(now);
                        self.traffic.received(ctx, id, round_trip);
                    }
                }
                Read::Ended(close) => return Err(close),
            }
            item = ws.next().now_or_never();
        }
        Ok(())
    }
}

/// Sends every tick that is due, each under the write deadline, recording
/// the intended send times. The due messages are framed and masked here as
/// one buffer ([`out_frame::put_repeated`]) and go out in one flush:
/// through tungstenite they cost a framing, a mask, two copies and a
/// re-parse in the pong filter each, the largest part of an echo flood's
/// client CPU. Sent means handed to the stream, as a feed would.
async fn send_due(
    ctx: &Ctx,
    ws: &mut ClientWs,
    (payload, batch): (&[u8], &mut Vec<u8>),
    due: Due,
    echoes: &mut Echoes,
    token: &CancellationToken,
) -> Written {
    if due.count == 0 {
        return Written::Done;
    }
    let limit = ctx.endpoint.write_timeout;
    let before = echoes.intended.len();
    echoes.intended.extend((0..due.count).map(|k| due.first + due.period.saturating_mul(k as u32)));
    echoes.traffic.first_sent.get_or_insert(due.first);
    out_frame::put_repeated(batch, out_frame::TEXT, payload, due.count);
    if !ws.push_frames(batch) {
        // The queue under the WebSocket is full: wait for the socket first,
        // as a write would. A complete flush leaves the queue empty and
        // every frame in it whole (tungstenite hands over whole frames), so
        // the batch is taken then.
        let flushed = write_within(ws, WriteOp::Flush, limit, token).await;
        if !matches!(flushed, Written::Done) {
            echoes.intended.truncate(before);
            return flushed;
        }
        let taken = ws.push_frames(batch);
        debug_assert!(taken, "a flushed stream takes whole frames");
    }
    echoes.traffic.sent += due.count as u32;
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn nothing_is_due_before_the_next_tick() {
        let mut s = Schedule::new(10 * MS);
        let next = s.next;
        let due = s.take_due(next - MS, 100);
        assert_eq!(due.count, 0);
        assert_eq!(s.next, next, "the schedule did not move");
    }

    #[test]
    fn a_late_wake_up_sends_every_tick_it_missed_at_their_intended_times() {
        let mut s = Schedule::new(10 * MS);
        let start = s.next;
        let due = s.take_due(start, 100);
        assert_eq!((due.count, due.first), (1, start), "exactly on time: one tick");
        let due = s.take_due(start + 45 * MS, 100);
        assert_eq!(due.count, 4, "ticks at +10, +20, +30, +40 ms");
        assert_eq!(due.first, start + 10 * MS);
        assert_eq!(due.period, 10 * MS);
        assert_eq!(s.next, start + 50 * MS);
    }

    #[test]
    fn ticks_past_the_outstanding_bound_are_skipped_not_queued() {
        let mut s = Schedule::new(10 * MS);
        let start = s.next;
        let due = s.take_due(start + 95 * MS, 3);
        assert_eq!(due.count, 3, "only as many as there is room for");
        assert_eq!(s.next, start + 100 * MS, "the other seven are skipped");
        assert_eq!(s.take_due(start + 99 * MS, 3).count, 0, "and not sent later");
    }
}
