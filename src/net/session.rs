//! Living with an open connection: reading frames until it ends, mapping
//! how it ended to a [`CloseInfo`] (1006 when no close frame came, saying
//! whether TCP ended with EOF or a reset), and closing it cleanly ourselves
//! under a named timeout.

use std::io;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;

use crate::event::{CloseInfo, EndHow};

/// A WebSocket as these functions use it: a client's [`crate::net::connect::ClientWs`]
/// (with its application layer) or a bare stream (the reference server's).
pub trait WsLike: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin {}

impl<T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Unpin> WsLike for T {}

/// How wsprobe ends a connection it is done with (a normal closure, RFC
/// 6455 7.4.1), so every check's clean close looks the same to a server.
pub const DONE_CODE: u16 = 1000;
/// The reason sent with [`DONE_CODE`].
pub const DONE_REASON: &str = "wsprobe done";

/// Longest wait to send our close frame when failing a connection.
const FAIL_CLOSE_WAIT: Duration = Duration::from_millis(500);

/// What one read from a connection means for its life.
#[derive(Debug)]
pub enum Read {
    /// A frame that keeps the connection alive.
    Frame(Message),
    /// The connection is over.
    Ended(CloseInfo),
}

/// Interprets the next item of a WebSocket stream.
pub fn interpret(item: Option<Result<Message, WsError>>) -> Read {
    match item {
        Some(Ok(Message::Close(frame))) => Read::Ended(close_from_frame(frame)),
        Some(Ok(msg)) => Read::Frame(msg),
        Some(Err(e)) => Read::Ended(close_from_error(&e)),
        None => Read::Ended(CloseInfo::abnormal(EndHow::Eof, "the stream ended")),
    }
}

/// Interprets the next item of a client connection, with what was on the
/// wire: tungstenite replaces a close code that must not be sent (1005,
/// 1006, 1015, out of range) with 1002 "Protocol violation", and calls a
/// close reason that is not UTF-8 bad text; both are the server breaking
/// the protocol, and are reported with the code and frame it really sent.
pub fn interpret_wire(ws: &crate::net::connect::ClientWs, item: Option<Result<Message, WsError>>) -> Read {
    let substituted = matches!(&item, Some(Ok(Message::Close(Some(f))))
        if u16::from(f.code) == 1002 && f.reason.as_str() == "Protocol violation");
    let utf8 = matches!(&item, Some(Err(WsError::Utf8(_))));
    let read = interpret(item);
    let Some(wire) = ws.get_ref().wire_close() else { return read };
    match (read, wire.code) {
        (Read::Ended(_), Some(code)) if substituted && code != 1002 => Read::Ended(CloseInfo::protocol(
            1002,
            format!("the server's close frame carried code {code}, which {}", forbidden_code(code)),
        )),
        (Read::Ended(_), _) if utf8 && !wire.reason_utf8 => {
            Read::Ended(CloseInfo::protocol(1007, "the server's close frame had a reason that is not valid UTF-8"))
        }
        (read, _) => read,
    }
}

/// Why a close code may not be sent (RFC 6455 7.4).
fn forbidden_code(code: u16) -> &'static str {
    match code {
        1005 | 1006 | 1015 => "is reserved for reports and must never be sent in a close frame (RFC 6455 7.4.1)",
        _ => "is not a valid close code (RFC 6455 7.4)",
    }
}

/// The close described by a close frame (1005 when it carried no code).
pub fn close_from_frame(frame: Option<CloseFrame>) -> CloseInfo {
    match frame {
        Some(f) => CloseInfo::frame(u16::from(f.code), f.reason.as_str()),
        None => CloseInfo::frame(1005, ""),
    }
}

/// Maps a read error to how the connection ended.
pub fn close_from_error(err: &WsError) -> CloseInfo {
    match err {
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            CloseInfo::abnormal(EndHow::Eof, "TCP closed (EOF) without a close frame")
        }
        WsError::Io(e) => close_from_io(e),
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            CloseInfo::abnormal(EndHow::Eof, "the connection was already closed")
        }
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => CloseInfo::protocol(
            1009,
            format!("the server sent a {size}-byte message, over the {max_size}-byte limit (--max-message-size)"),
        ),
        WsError::Capacity(e) => CloseInfo::protocol(1009, e.to_string()),
        WsError::Utf8(e) => CloseInfo::protocol(1007, format!("a text frame held invalid UTF-8 ({e})")),
        WsError::Protocol(e) => CloseInfo::protocol(1002, describe_protocol_error(e)),
        other => CloseInfo::protocol(1002, other.to_string()),
    }
}

fn close_from_io(e: &io::Error) -> CloseInfo {
    if let Some(refused) = e.get_ref().and_then(|r| r.downcast_ref::<crate::net::inflate::InflateError>()) {
        return CloseInfo::protocol(refused.code(), refused.to_string());
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof => CloseInfo::abnormal(EndHow::Eof, "TCP closed (EOF) in the middle of a frame"),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
            CloseInfo::abnormal(EndHow::Reset, format!("TCP reset without a close frame ({e})"))
        }
        _ => CloseInfo::abnormal(EndHow::Reset, format!("socket error: {e}")),
    }
}

fn describe_protocol_error(e: &ProtocolError) -> String {
    match e {
        ProtocolError::NonZeroReservedBits => "a frame had reserved bits set (RSV1-3) without an extension".into(),
        ProtocolError::InvalidOpcode(op) => format!("a frame had the reserved opcode {op:#x}"),
        ProtocolError::MaskedFrameFromServer => "the server masked a frame (servers must not)".into(),
        ProtocolError::UnknownControlFrameType(op) | ProtocolError::UnknownDataFrameType(op) => {
            format!("a frame had the unknown opcode {op:#x}")
        }
        other => other.to_string(),
    }
}

/// How our own close went.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseReply {
    /// The server answered with its close frame (code).
    Answered(u16),
    /// The server ended TCP without answering.
    NoReply(String),
    /// The server did not answer within the close timeout; TCP was dropped.
    TimedOut,
}

/// Sends a close frame and waits (at most `wait`) for the server's answer,
/// reading and discarding frames in between, as RFC 6455 7.1.2 expects.
pub async fn close_cleanly<W>(ws: &mut W, code: u16, reason: &str, wait: Duration) -> CloseReply
where
    W: WsLike,
{
    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.to_string().into() };
    let exchange = async {
        if let Err(e) = ws.send(Message::Close(Some(frame))).await {
            return match e {
                WsError::ConnectionClosed | WsError::AlreadyClosed => CloseReply::Answered(1005),
                other => CloseReply::NoReply(other.to_string()),
            };
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => {
                    return CloseReply::Answered(f.map(|f| u16::from(f.code)).unwrap_or(1005))
                }
                Some(Ok(_)) => continue,
                Some(Err(WsError::ConnectionClosed)) | None => return CloseReply::NoReply("the stream ended".into()),
                Some(Err(e)) => return CloseReply::NoReply(e.to_string()),
            }
        }
    };
    tokio::time::timeout(wait, exchange).await.unwrap_or(CloseReply::TimedOut)
}

/// When the server broke the protocol, tells it so as RFC 6455 7.1.7 asks:
/// a close frame with the code (1002, 1007, 1009), then TCP is dropped.
/// Best effort, bounded; a connection that ended otherwise is left alone.
pub async fn fail_connection<W>(ws: &mut W, close: &CloseInfo)
where
    W: WsLike,
{
    if close.how != EndHow::ProtocolError {
        return;
    }
    let frame = CloseFrame { code: CloseCode::from(close.code), reason: "".into() };
    let _ = tokio::time::timeout(FAIL_CLOSE_WAIT, ws.send(Message::Close(Some(frame)))).await;
}

/// After a read ended the connection, does what the protocol asks of us:
/// a server that broke the protocol is told so ([`fail_connection`]); a
/// close frame the server sent first is answered ([`answer_close`]) and
/// the server's TCP close awaited, at most `wait`.
pub async fn conclude<W>(ws: &mut W, close: &CloseInfo, wait: Duration)
where
    W: WsLike,
{
    match close.how {
        EndHow::ProtocolError => fail_connection(ws, close).await,
        EndHow::CloseFrame => {
            answer_close(ws, wait).await;
        }
        _ => {}
    }
}

/// Answers a close frame the server sent first (RFC 6455 5.5.1): writes
/// the echo tungstenite queued when it read the frame, then reads until
/// the server ends TCP (7.1.1: the server closes first). True when TCP
/// ended within `wait`; past it the caller drops the socket.
pub async fn answer_close<W>(ws: &mut W, wait: Duration) -> bool
where
    W: WsLike,
{
    let exchange = async {
        if ws.flush().await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    };
    tokio::time::timeout(wait, exchange).await.is_ok()
}

/// One write to a client connection.
#[derive(Debug)]
pub enum WriteOp {
    /// Queue a message and flush it.
    Send(Message),
    /// Queue a message (written when the buffer fills or on flush).
    Feed(Message),
    /// Write everything queued.
    Flush,
}

/// How a write under the write timeout ended.
#[derive(Debug)]
pub enum Written {
    /// The socket took it.
    Done,
    /// The run ended (or Ctrl-C) while the write waited: not the server's doing.
    Stopped,
    /// The connection is over: how (a socket error, or the server stopped
    /// reading and the write made no progress within the timeout).
    Ended(CloseInfo),
}

/// Runs one write under `limit` and `stop`: a peer that stops reading can
/// block a write for ever, and must neither hang the run nor hide behind
/// it. A timeout is the outcome "the server stopped reading", with the
/// bytes still unsent.
pub async fn write_within(
    ws: &mut crate::net::connect::ClientWs,
    op: WriteOp,
    limit: Duration,
    stop: &CancellationToken,
) -> Written {
    let result = {
        let write = async {
            match op {
                WriteOp::Send(msg) => ws.send(msg).await,
                WriteOp::Feed(msg) => ws.feed(msg).await,
                WriteOp::Flush => ws.flush().await,
            }
        };
        let mut write = std::pin::pin!(write);
        // Most writes complete at once (there is room in the buffers): then
        // no timer and no cancellation waiter is set up, which an echo
        // flood would otherwise pay for every message.
        match futures_util::FutureExt::now_or_never(write.as_mut()) {
            Some(done) => Ok(done),
            None => tokio::select! {
                r = tokio::time::timeout(limit, write) => r,
                _ = stop.cancelled() => return Written::Stopped,
            },
        }
    };
    match result {
        Ok(Ok(())) => Written::Done,
        Ok(Err(e)) => Written::Ended(close_from_error(&e)),
        Err(_) => Written::Ended(CloseInfo::stalled(ws.get_ref().unsent(), limit)),
    }
}

/// Closes many connections cleanly at once (each under `wait`).
pub async fn close_all(sockets: Vec<crate::net::connect::ClientWs>, wait: Duration) {
    let closes = sockets.into_iter().map(|mut ws| async move {
        close_cleanly(&mut ws, DONE_CODE, DONE_REASON, wait).await;
    });
    futures_util::future::join_all(closes).await;
}

/// Reads until the connection ends or `stop` is cancelled; returns how it
/// ended, or `None` when stopped (the caller then closes it).
pub async fn watch(ws: &mut crate::net::connect::ClientWs, stop: &CancellationToken) -> Option<CloseInfo> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            item = ws.next() => match interpret_wire(ws, item) {
                Read::Frame(_) => continue,
                Read::Ended(close) => return Some(close),
            },
        }
    }
}

/// A client connection read in its own task until it ends or is stopped,
/// so several can be watched at once while the caller waits.
pub struct Watched {
    stop: CancellationToken,
    done: CancellationToken,
    task: tokio::task::JoinHandle<(crate::net::connect::ClientWs, Option<CloseInfo>)>,
}

impl Watched {
    /// Starts watching; `parent` (Ctrl-C) stops it too. A close frame from
    /// the server is answered, and its TCP close awaited at most `wait`.
    pub fn spawn(mut ws: crate::net::connect::ClientWs, parent: &CancellationToken, wait: Duration) -> Watched {
        let stop = parent.child_token();
        let done = CancellationToken::new();
        let (token, finished) = (stop.clone(), done.clone());
        let task = tokio::spawn(async move {
            let _finished = finished.drop_guard();
            let end = watch(&mut ws, &token).await;
            if let Some(close) = &end {
                conclude(&mut ws, close, wait).await;
            }
            (ws, end)
        });
        Watched { stop, done, task }
    }

    /// Stops watching; returns the socket if it is still open, or the
    /// close if the server ended it.
    pub async fn finish(self) -> (Option<crate::net::connect::ClientWs>, Option<CloseInfo>) {
        self.stop.cancel();
        match self.task.await {
            Ok((ws, None)) => (Some(ws), None),
            Ok((_, Some(close))) => (None, Some(close)),
            Err(_) => (None, None),
        }
    }

    /// True once the connection ended (or the watch was stopped).
    pub fn ended(&self) -> bool {
        self.done.is_cancelled()
    }

    /// Resolves once the connection ended (or the watch was stopped): an
    /// event to wait on, not a state to poll.
    pub async fn until_ended(&self) {
        self.done.cancelled().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_without_closing_handshake_is_1006_eof() {
        let c = close_from_error(&WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake));
        assert_eq!((c.code, c.abnormal, c.how), (1006, true, EndHow::Eof));
    }

    #[test]
    fn connection_reset_is_1006_reset() {
        let c = close_from_error(&WsError::Io(io::Error::from(io::ErrorKind::ConnectionReset)));
        assert_eq!((c.code, c.how), (1006, EndHow::Reset));
    }

    #[test]
    fn protocol_breaches_carry_the_code_we_send() {
        let c = close_from_error(&WsError::Utf8("bad".into()));
        assert_eq!((c.code, c.how), (1007, EndHow::ProtocolError));
        let c = close_from_error(&WsError::Protocol(ProtocolError::NonZeroReservedBits));
        assert_eq!(c.code, 1002);
        assert!(c.detail.contains("reserved bits"));
        let c = close_from_error(&WsError::Capacity(CapacityError::MessageTooLong { size: 10, max_size: 5 }));
        assert_eq!(c.code, 1009);
    }

    #[test]
    fn close_frame_without_code_is_1005() {
        assert_eq!(close_from_frame(None).code, 1005);
        assert!(!close_from_frame(None).abnormal);
    }
}
