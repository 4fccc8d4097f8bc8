//! A client's closing handshake over a bare socket: our masked close frame
//! written straight to TCP, then the server's frames read and discarded
//! until its close frame comes (RFC 6455 7.1.2), within a named timeout.
//!
//! It is the same exchange [`crate::net::session::close_cleanly`] makes
//! through tungstenite, for a connection that has carried no frame and has
//! no framed stream any more (a storm's parked connection): building a
//! WebSocket again only to close it cost an allocation-heavy rebuild and a
//! task per connection, about a third of a storm client's CPU at the end of
//! a 10,000-connection run.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::net::session::CloseReply;
use crate::net::wire::{header_len, payload_len};

/// The longest close reason a control frame can carry with its code.
const MAX_REASON: usize = 123;

/// Our close frame: FIN + opcode 8, masked as a client must (RFC 6455 5.3)
/// with a fresh random key, carrying `code` and `reason` (cut to what a
/// control frame holds, on a character boundary).
pub fn masked_close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut cut = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = Vec::with_capacity(2 + cut);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    let mut frame = Vec::new();
    crate::net::out_frame::put_masked(&mut frame, crate::net::out_frame::CLOSE, &payload);
    frame
}

/// Reads frames from raw bytes, skipping every frame until a close frame's
/// header and its status code (when it has one) have been seen. Holds at
/// most one frame header, whatever the frames' sizes.
#[derive(Debug, Default)]
pub struct CloseScan {
    /// Payload bytes of the current (non-close) frame still to skip.
    skip: u64,
    /// The frame header gathered so far (at most 14 bytes), then, for a
    /// close frame, its first two payload bytes.
    head: [u8; 16],
    have: usize,
}

/// What the scan has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    /// No close frame yet.
    More,
    /// The server's close frame, with its code (1005 when it carried none).
    Close(u16),
}

impl CloseScan {
    /// Feeds the next bytes read from the socket.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Scanned {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() as u64) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let take = (self.wanted() - self.have).min(bytes.len());
            self.head[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            self.have += take;
            bytes = &bytes[take..];
            if let Some(done) = self.frame_done() {
                return done;
            }
        }
        Scanned::More
    }

    /// Header bytes wanted before the frame is known: 2, then the full
    /// header, then (for a close frame with a code) two payload bytes.
    fn wanted(&self) -> usize {
        let Some(header) = self.header_len() else { return 2 };
        if self.is_close() && self.payload_len() >= 2 {
            header + 2
        } else {
            header
        }
    }

    fn header_len(&self) -> Option<usize> {
        header_len(&self.head[..self.have])
    }

    fn is_close(&self) -> bool {
        self.head[0] & 0x0f == 0x8
    }

    fn payload_len(&self) -> u64 {
        payload_len(&self.head)
    }

    /// After new header bytes: the close frame's code once complete, or
    /// the next frame started once this one's payload is to be skipped.
    fn frame_done(&mut self) -> Option<Scanned> {
        let header = self.header_len()?;
        if self.have < self.wanted() {
            return None;
        }
        if self.is_close() {
            let code = if self.have >= header + 2 {
                u16::from_be_bytes([self.head[header], self.head[header + 1]])
            } else {
                1005
            };
            return Some(Scanned::Close(code));
        }
        self.skip = self.payload_len();
        self.have = 0;
        None
    }
}

/// Sends our close frame on `tcp` and waits, at most `wait`, for the
/// server's: the whole closing handshake of a connection that has no
/// framed stream. The caller drops the socket afterwards (the server has
/// closed its side, or is about to, after its close frame).
pub async fn close_bare(tcp: &TcpStream, code: u16, reason: &str, wait: Duration) -> CloseReply {
    let frame = masked_close_frame(code, reason);
    let exchange = async {
        if let Err(e) = write_all(tcp, &frame).await {
            return CloseReply::NoReply(e.to_string());
        }
        let mut scan = CloseScan::default();
        loop {
            if let Err(e) = tcp.readable().await {
                return CloseReply::NoReply(e.to_string());
            }
            let mut chunk = [0u8; 512];
            match tcp.try_read(&mut chunk) {
                Ok(0) => return CloseReply::NoReply("the stream ended".into()),
                Ok(n) => {
                    if let Scanned::Close(code) = scan.feed(&chunk[..n]) {
                        return CloseReply::Answered(code);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return CloseReply::NoReply(e.to_string()),
            }
        }
    };
    tokio::time::timeout(wait, exchange).await.unwrap_or(CloseReply::TimedOut)
}

async fn write_all(tcp: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        tcp.writable().await?;
        match tcp.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmask(frame: &[u8]) -> Vec<u8> {
        let key = &frame[2..6];
        frame[6..].iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect()
    }

    #[test]
    fn our_close_frame_is_masked_and_carries_code_and_reason() {
        let frame = masked_close_frame(1000, "wsprobe done");
        assert_eq!(frame[0], 0x88, "FIN + close");
        assert_eq!(frame[1], 0x80 | 14, "masked, 2-byte code + 12-byte reason");
        assert_eq!(unmask(&frame), b"\x03\xe8wsprobe done");
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let reason = "é".repeat(100);
        let frame = masked_close_frame(1001, &reason);
        let payload = unmask(&frame);
        assert!(payload.len() <= 125);
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
    }

    #[test]
    fn a_close_frame_is_found_behind_other_frames_in_any_split() {
        let mut bytes = vec![0x81, 0x05];
        bytes.extend_from_slice(b"hello");
        bytes.extend_from_slice(&[0x89, 0x00]); // ping, empty
        bytes.extend_from_slice(&[0x82, 126, 0x01, 0x00]); // 256-byte binary
        bytes.extend_from_slice(&[7u8; 256]);
        bytes.extend_from_slice(&[0x88, 0x02, 0x03, 0xe9]); // close 1001
        for split in 0..bytes.len() {
            let mut scan = CloseScan::default();
            let first = scan.feed(&bytes[..split]);
            let found = if first == Scanned::More { scan.feed(&bytes[split..]) } else { first };
            assert_eq!(found, Scanned::Close(1001), "split at {split}");
        }
        let mut scan = CloseScan::default();
        let found = bytes.iter().map(|b| scan.feed(std::slice::from_ref(b))).find(|s| *s != Scanned::More);
        assert_eq!(found, Some(Scanned::Close(1001)), "one byte at a time");
    }

    #[test]
    fn a_close_frame_without_code_is_1005_and_a_huge_frame_is_skipped() {
        let mut scan = CloseScan::default();
        assert_eq!(scan.feed(&[0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), Scanned::More); // 4 GiB
        for _ in 0..4096 {
            assert_eq!(scan.feed(&[0u8; 1 << 20]), Scanned::More);
        }
        assert_eq!(scan.feed(&[0x88, 0x00]), Scanned::Close(1005));
    }

    #[tokio::test]
    async fn the_handshake_completes_against_a_server_that_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = [0u8; 20];
            s.read_exact(&mut got).await.unwrap();
            // A ping first, then the close echo, then TCP closed: as a server does.
            s.write_all(&[0x89, 0x01, b'x', 0x88, 0x02, 0x03, 0xe8]).await.unwrap();
            got
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let reply = close_bare(&tcp, 1000, "wsprobe done", Duration::from_secs(5)).await;
        assert_eq!(reply, CloseReply::Answered(1000));
        assert_eq!(unmask(&server.await.unwrap()), b"\x03\xe8wsprobe done");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_an_eof_is_no_reply() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (held, _) = listener.accept().await.unwrap();
        assert_eq!(close_bare(&tcp, 1000, "", Duration::from_millis(200)).await, CloseReply::TimedOut);
        drop(held);
        let tcp = TcpStream::connect(addr).await.unwrap();
        drop(listener.accept().await.unwrap());
        let reply = close_bare(&tcp, 1000, "", Duration::from_secs(30)).await;
        assert!(matches!(reply, CloseReply::NoReply(_)), "{reply:?}");
    }
}
