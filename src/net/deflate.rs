//! permessage-deflate (RFC 7692) negotiation, on both sides of the
//! upgrade: the offer `--deflate` makes, the checks a client must make on
//! the server's answer (RFC 7692 5.1, 7.1), the reference server's choice
//! among a client's offers, and the compressor it uses for its own
//! messages. Inflating what comes in is [`crate::net::inflate`]'s, in the
//! frame layer under tungstenite (which has no deflate support).
//!
//! wsprobe's client never compresses what it sends (RFC 7692 6: a message
//! may always go uncompressed), so its own window size never matters: it
//! offers `client_max_window_bits` (any value is fine by it) and inflates
//! with a 32 KiB window, which reads every smaller one.

use flate2::{Compress, Compression, FlushCompress};
use serde::Serialize;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// The `Sec-WebSocket-Extensions` value `--deflate` sends.
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The extension's name.
const NAME: &str = "permessage-deflate";

/// The trailer every compressed message ends with before it is sent
/// (RFC 7692 7.2.1: removed by the sender, appended by the receiver).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Smallest window the reference server can compress with: zlib's raw
/// deflate has no 256-byte window, so an offer asking for 8 is declined.
const MIN_SERVER_BITS: u8 = 9;

/// The parameters both sides agreed on: whether each side starts every
/// message with a fresh window, and the window sizes (bits, 8..=15) asked
/// for. Absent bits mean the default, 15 (a 32 KiB window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server's compression window, when limited.
    pub server_max_window_bits: Option<u8>,
    /// The client's compression window, when limited.
    pub client_max_window_bits: Option<u8>,
}

impl DeflateParams {
    /// The parameters as a `Sec-WebSocket-Extensions` value.
    pub fn header(&self) -> String {
        let mut out = NAME.to_string();
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            out.push_str(&format!("; server_max_window_bits={bits}"));
        }
        if let Some(bits) = self.client_max_window_bits {
            out.push_str(&format!("; client_max_window_bits={bits}"));
        }
        out
    }

    /// For people: `server: window 2^15, context takeover; client: ...`
    /// (RFC 7692's terms; absent window bits are the default 15).
    pub fn describe(&self) -> String {
        let side = |bits: Option<u8>, reset: bool| {
            let context = if reset { "no context takeover" } else { "context takeover" };
            format!("window 2^{}, {context}", bits.unwrap_or(15))
        };
        format!(
            "server: {}; client: {}",
            side(self.server_max_window_bits, self.server_no_context_takeover),
            side(self.client_max_window_bits, self.client_no_context_takeover)
        )
    }
}

/// One extension of a `Sec-WebSocket-Extensions` list: its name and
/// parameters (`name[=value]`, quotes removed).
struct Extension<'a> {
    name: &'a str,
    params: Vec<(&'a str, Option<&'a str>)>,
}

/// Splits a `Sec-WebSocket-Extensions` value into its extensions.
fn parse_list(value: &str) -> Vec<Extension<'_>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut parts = e.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let params = parts
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                })
                .collect();
            Extension { name, params }
        })
        .collect()
}

/// Reads the parameters of one permessage-deflate entry; `Err` names the
/// first one that is unknown, repeated or out of range. `answer` is true
/// for a server's answer, where window bits must carry a value.
fn read_params(ext: &Extension<'_>, answer: bool) -> Result<DeflateParams, String> {
    let mut p = DeflateParams::default();
    let mut seen: Vec<&str> = Vec::new();
    for &(key, value) in &ext.params {
        if seen.contains(&key) {
            return Err(format!("repeats the parameter '{key}'"));
        }
        seen.push(key);
        // server_max_window_bits always has a value; client_max_window_bits
        // may go without one in an offer only (RFC 7692 7.1.2).
        let bits = |value: Option<&str>, required: bool| -> Result<Option<u8>, String> {
            match value {
                None if required => Err(format!("gives '{key}' without a value")),
                None => Ok(None),
                Some(v) => match v.parse::<u8>() {
                    Ok(b @ 8..=15) if !v.starts_with('0') => Ok(Some(b)),
                    _ => Err(format!("gives '{key}={v}', outside 8..15")),
                },
            }
        };
        match (key, value) {
            ("server_no_context_takeover", None) => p.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => p.client_no_context_takeover = true,
            ("server_max_window_bits", v) => p.server_max_window_bits = bits(v, true)?,
            ("client_max_window_bits", v) => p.client_max_window_bits = bits(v, answer)?,
            (_, Some(v)) if key.ends_with("no_context_takeover") => {
                return Err(format!("gives '{key}={v}', which takes no value"))
            }
            _ => return Err(format!("has the unknown parameter '{key}'")),
        }
    }
    Ok(p)
}

/// Checks a server's `Sec-WebSocket-Extensions` answer to our offer as
/// RFC 7692 5.1 and 7.1 ask: one permessage-deflate entry, known
/// parameters, each once, window bits 8..15 with a value. `Err` is the
/// sentence for the user.
pub fn accept_answer(value: &str) -> Result<DeflateParams, String> {
    let list = parse_list(value);
    let fail = |why: String| Err(format!("the server's Sec-WebSocket-Extensions '{value}' {why}"));
    match list.as_slice() {
        [ext] if ext.name.eq_ignore_ascii_case(NAME) => read_params(ext, true).or_else(fail),
        [] => fail("is empty".into()),
        [ext] => fail(format!("enables '{}', which wsprobe did not offer", ext.name)),
        _ => fail(format!("enables {} extensions; wsprobe offered only {NAME}", list.len())),
    }
}

/// The reference server's choice: the first permessage-deflate offer in
/// the client's `Sec-WebSocket-Extensions` values that it can honour, as
/// the parameters it answers with. Offers with unknown or invalid
/// parameters, or asking for a window smaller than 2^9, are declined.
pub fn choose_offer<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<DeflateParams> {
    values.into_iter().flat_map(parse_list).filter(|e| e.name.eq_ignore_ascii_case(NAME)).find_map(|ext| {
        let asked = read_params(&ext, false).ok()?;
        if asked.server_max_window_bits.is_some_and(|b| b < MIN_SERVER_BITS) {
            return None;
        }
        // The client's own window needs no limit: the server inflates with
        // the full 32 KiB window, which reads any smaller one.
        Some(DeflateParams { client_max_window_bits: None, ..asked })
    })
}

/// The reference server's compressor: one per connection, its window
/// kept across messages unless the client asked for
/// `server_no_context_takeover`. Its state (about 256 KiB with a 2^15
/// window) is allocated with the first message, and let go after each one
/// when the context is not kept, so idle connections cost nothing.
pub struct Deflater {
    z: Option<Box<Compress>>,
    bits: u8,
    reset_each: bool,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").field("reset_each", &self.reset_each).finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor for the negotiated parameters.
    pub fn new(params: &DeflateParams) -> Deflater {
        let bits = params.server_max_window_bits.unwrap_or(15).max(MIN_SERVER_BITS);
        Deflater { z: None, bits, reset_each: params.server_no_context_takeover }
    }

    /// A text or binary message as one compressed frame (RSV1 set), for
    /// tungstenite to write as it is; other messages are left alone.
    pub fn message(&mut self, msg: Message) -> Message {
        let (kind, data) = match &msg {
            Message::Text(t) => (Data::Text, t.as_bytes()),
            Message::Binary(b) => (Data::Binary, b.as_ref()),
            _ => return msg,
        };
        let mut frame = Frame::message(self.compress(data), OpCode::Data(kind), true);
        frame.header_mut().rsv1 = true;
        Message::Frame(frame)
    }

    /// One message's payload, compressed and ended with a sync flush whose
    /// trailer (`00 00 ff ff`) is removed, as RFC 7692 7.2.1 says.
    pub fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let bits = self.bits;
        let z =
            self.z.get_or_insert_with(|| Box::new(Compress::new_with_window_bits(Compression::default(), false, bits)));
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start_in = z.total_in();
        loop {
            let fed = (z.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            if z.compress_vec(&data[fed..], &mut out, FlushCompress::Sync).is_err() {
                break;
            }
            // Done once all input is in and the flush fit with room to spare.
            if (z.total_in() - start_in) as usize == data.len() && out.capacity() - out.len() >= 64 {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset_each {
            self.z = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_checked() {
        let p = accept_answer("permessage-deflate; server_no_context_takeover; client_max_window_bits=10").unwrap();
        assert!(p.server_no_context_takeover && !p.client_no_context_takeover);
        assert_eq!((p.server_max_window_bits, p.client_max_window_bits), (None, Some(10)));
        let p = accept_answer("permessage-deflate;server_max_window_bits=\"12\"").unwrap();
        assert_eq!(p.server_max_window_bits, Some(12));
        for (bad, words) in [
            ("x-webkit-deflate-frame", "did not offer"),
            ("permessage-deflate; client_max_window_bits", "without a value"),
            ("permessage-deflate; server_max_window_bits=16", "outside 8..15"),
            ("permessage-deflate; server_max_window_bits=09", "outside 8..15"),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "repeats"),
            ("permessage-deflate; server_no_context_takeover=1", "takes no value"),
            ("permessage-deflate; zzz", "unknown parameter"),
            ("permessage-deflate, permessage-deflate", "2 extensions"),
        ] {
            let err = accept_answer(bad).unwrap_err();
            assert!(err.contains(words), "{bad}: {err}");
        }
    }

    #[test]
    fn the_server_takes_the_first_offer_it_can_honour() {
        assert_eq!(choose_offer(["permessage-deflate; client_max_window_bits"]), Some(DeflateParams::default()));
        let p = choose_offer([
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_no_context_takeover",
        ]);
        assert_eq!(p, Some(DeflateParams { server_no_context_takeover: true, ..Default::default() }));
        assert_eq!(choose_offer(["permessage-deflate; bogus"]), None);
        assert_eq!(choose_offer(["x-webkit-deflate-frame"]), None);
        let p = choose_offer(["permessage-deflate; server_max_window_bits=10; client_no_context_takeover"]).unwrap();
        assert_eq!(p.header(), "permessage-deflate; client_no_context_takeover; server_max_window_bits=10");
    }

    #[test]
    fn compressed_messages_inflate_back_with_the_context_kept() {
        let mut d = Deflater::new(&DeflateParams::default());
        let first = d.compress(b"hello hello hello hello");
        let second = d.compress(b"hello hello hello hello");
        assert!(second.len() < first.len(), "the second refers to the first: {} vs {}", second.len(), first.len());
        let mut z = flate2::Decompress::new(false);
        for payload in [first, second] {
            let mut input = payload.clone();
            input.extend_from_slice(&TAIL);
            let mut out = Vec::with_capacity(100);
            z.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync).unwrap();
            assert_eq!(out, b"hello hello hello hello");
        }
    }
}
