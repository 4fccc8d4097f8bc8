//! Client frames we build ourselves instead of through tungstenite: the
//! bare close of a parked connection ([`crate::net::bare_close`]) and a
//! storm echo hold's batch of due messages, written as
//! one buffer per tick rather than framed, masked and copied one message
//! at a time through the WebSocket layer.
//!
//! Every frame is masked as a client's must be (RFC 6455 5.3) with its own
//! key from a cryptographically secure generator (the thread-local ChaCha
//! generator tungstenite uses for its own frames), so a frame built here is
//! indistinguishable on the wire from one tungstenite built.

use rand::RngCore;

/// Opcode byte of a final text frame (FIN + opcode 1).
pub const TEXT: u8 = 0x81;
/// Opcode byte of a close frame (FIN + opcode 8).
pub const CLOSE: u8 = 0x88;

/// Appends one masked frame carrying `payload` to `out`: `first` is the
/// FIN/opcode byte ([`TEXT`], [`CLOSE`]), the length is encoded in the
/// shortest form RFC 6455 5.2 allows, and the masking key is fresh.
pub fn put_masked(out: &mut Vec<u8>, first: u8, payload: &[u8]) {
    let mut key = [0u8; 4];
    rand::rng().fill_bytes(&mut key);
    put_masked_with(out, first, payload, key);
}

/// [`put_masked`] with a given key.
pub fn put_masked_with(out: &mut Vec<u8>, first: u8, payload: &[u8], key: [u8; 4]) {
    out.reserve(14 + payload.len());
    out.push(first);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
}

/// The same message framed `count` times into `out` (cleared first), each
/// frame with its own key: what an echo hold writes for the ticks that are
/// due.
pub fn put_repeated(out: &mut Vec<u8>, first: u8, payload: &[u8], count: usize) {
    out.clear();
    let mut rng = rand::rng();
    for _ in 0..count {
        let mut key = [0u8; 4];
        rng.fill_bytes(&mut key);
        put_masked_with(out, first, payload, key);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    use super::*;

    /// tungstenite's own frame for the same payload and key.
    fn theirs(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut frame = Frame::message(payload.to_vec(), OpCode::Data(Data::Text), true);
        frame.header_mut().mask = Some(key);
        let mut out = Vec::new();
        frame.format(&mut out).expect("formats");
        out
    }

    #[test]
    fn frames_match_tungstenite_byte_for_byte_at_every_length_form() {
        for len in [0usize, 1, 5, 125, 126, 127, 1000, 0xffff, 0x10000, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut ours = Vec::new();
            put_masked_with(&mut ours, TEXT, &payload, [9, 8, 7, 6]);
            assert_eq!(ours, theirs(&payload, [9, 8, 7, 6]), "payload of {len} bytes");
        }
    }

    #[test]
    fn a_repeated_batch_is_that_many_frames_each_with_its_own_key() {
        let mut out = vec![1, 2, 3];
        put_repeated(&mut out, TEXT, b"hello", 64);
        assert_eq!(out.len(), 64 * 11, "2-byte header, 4-byte key, 5-byte payload each");
        let mut keys = std::collections::HashSet::new();
        let mut at = 0;
        while at < out.len() {
            let mut cursor = Cursor::new(&out[at..]);
            let (header, len) = FrameHeader::parse(&mut cursor).expect("parses").expect("whole header");
            assert!(header.is_final && header.opcode == OpCode::Data(Data::Text));
            let key = header.mask.expect("masked, as a client frame must be");
            keys.insert(key);
            let start = at + cursor.position() as usize;
            let payload = &out[start..start + len as usize];
            let clear: Vec<u8> = payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k).collect();
            assert_eq!(clear, b"hello");
            at = start + len as usize;
        }
        assert!(keys.len() > 60, "fresh keys per frame: {} distinct of 64", keys.len());
    }
}
