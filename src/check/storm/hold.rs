//! Holding a storm client's connection: until the disruption, the end of
//! the run, or the server dropping it. A silent WebSocket answers pings
//! (tungstenite does) and counts what comes in; a bare TCP connection
//! watches for EOF; an echo hold is in [`super::echo`].

use std::time::Instant;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Conn, Ctx, Live};
use crate::event::{CloseInfo, EndHow, EventKind, Flood};
use crate::net::connect::ClientWs;
use crate::net::session::{interpret_wire, Read};
use crate::units::ClientId;

/// How a hold ended.
pub(crate) enum HoldEnd {
    Disrupt,
    Dropped(CloseInfo),
    End,
}

/// Holds a connection until disruption (when `until_disrupt`), the end, or a drop.
pub(super) async fn hold(ctx: &Ctx, id: ClientId, live: &mut Live, until_disrupt: bool) -> HoldEnd {
    // `disrupt` is a child of `end`, so one cancellation future serves both.
    let token = if until_disrupt { &ctx.disrupt } else { &ctx.end };
    let ended = match &mut live.conn {
        Conn::Tcp(stream) => hold_tcp(token, stream).await,
        Conn::Ws(_) if ctx.plan.message.is_some() => Box::pin(super::echo::hold_echo(ctx, id, live, token)).await,
        Conn::Ws(ws) => hold_idle(ctx, id, ws, &mut live.last_in, token).await,
    };
    match ended {
        HoldEnd::Disrupt if ctx.end.is_cancelled() => HoldEnd::End,
        other => other,
    }
}

/// Holds a silent connection: answers pings (tungstenite does), notes
/// inbound traffic, watches for the end.
async fn hold_idle(
    ctx: &Ctx,
    id: ClientId,
    ws: &mut ClientWs,
    last_in: &mut Instant,
    token: &CancellationToken,
) -> HoldEnd {
    let (mut pings, mut messages) = (Flood::default(), Flood::default());
    let traffic = |n: u32| EventKind::Traffic { sent: 0, received: n, round_trips: Vec::new() };
    let end = loop {
        tokio::select! {
            _ = token.cancelled() => break HoldEnd::Disrupt,
            item = ws.next() => match interpret_wire(ws, item) {
                Read::Frame(msg) => {
                    *last_in = Instant::now();
                    match msg {
                        Message::Ping(_) => match pings.admit(*last_in) {
                            Some(held) if held > 0 => ctx.emit(id, EventKind::ServerPings(held + 1)),
                            Some(_) => ctx.emit(id, EventKind::ServerPing),
                            None => {}
                        },
                        Message::Text(_) | Message::Binary(_) => {
                            if let Some(held) = messages.admit(*last_in) {
                                ctx.emit(id, traffic(held + 1))
                            }
                        }
                        _ => {}
                    }
                }
                Read::Ended(close) => break HoldEnd::Dropped(close),
            },
        }
    };
    let (held_pings, held_messages) = (pings.take(), messages.take());
    if held_pings > 0 {
        ctx.emit(id, EventKind::ServerPings(held_pings));
    }
    if held_messages > 0 {
        ctx.emit(id, traffic(held_messages));
    }
    end
}

async fn hold_tcp(token: &CancellationToken, stream: &mut TcpStream) -> HoldEnd {
    let mut scratch = [0u8; 64];
    loop {
        tokio::select! {
            _ = token.cancelled() => return HoldEnd::Disrupt,
            ready = stream.readable() => {
                if ready.is_err() {
                    return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Reset, "socket error"));
                }
                match stream.try_read(&mut scratch) {
                    Ok(0) => return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Eof, "the server closed TCP")),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return HoldEnd::Dropped(CloseInfo::abnormal(EndHow::Reset, e.to_string())),
                }
            }
        }
    }
}
