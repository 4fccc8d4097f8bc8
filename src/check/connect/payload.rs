//! What `connect` sends and how messages are written down: `--send TEXT`,
//! `--send @FILE`, `--send-binary HEX` and `--send-binary @FILE` read into
//! messages at plan time, and each message on the wire as a [`Traffic`]
//! line: text as it is, binary as base64 with its length (JSON) or a hex
//! preview (tables).
//!
//! `--send @FILE` sends the file's contents as a text message when they
//! are valid UTF-8 and as a binary message otherwise (a text frame must be
//! UTF-8, RFC 6455 5.6); `--send @@TEXT` sends the text `@TEXT`.

use std::time::Instant;

use base64::Engine as _;
use tokio_tungstenite::tungstenite::Message;

use super::args::SendArg;
use super::Traffic;
use crate::exit::PlanError;
use crate::units::millis;

/// Largest file `--send @FILE` reads.
pub const MAX_FILE: u64 = 64 << 20;

/// Bytes a table's hex preview shows.
const PREVIEW: usize = 32;

/// One message to send, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Payload {
    /// Reads a `--send` or `--send-binary` value; errors name the flag.
    pub fn read(arg: &SendArg) -> Result<Payload, PlanError> {
        match arg {
            SendArg::Text(text) => match text.strip_prefix('@') {
                Some(rest) if rest.starts_with('@') => Ok(Payload::Text(rest.to_string())),
                Some(path) => {
                    let bytes = read_file("--send", path)?;
                    Ok(String::from_utf8(bytes).map(Payload::Text).unwrap_or_else(|e| Payload::Binary(e.into_bytes())))
                }
                None => Ok(Payload::Text(text.clone())),
            },
            SendArg::Binary(value) => match value.strip_prefix('@') {
                Some(path) => read_file("--send-binary", path).map(Payload::Binary),
                None => parse_hex(value).map(Payload::Binary),
            },
        }
    }

    /// The message to write.
    pub fn message(&self) -> Message {
        match self {
            Payload::Text(t) => Message::text(t.clone()),
            Payload::Binary(b) => Message::binary(b.clone()),
        }
    }
}

fn read_file(flag: &str, path: &str) -> Result<Vec<u8>, PlanError> {
    let cannot = |e: std::io::Error| PlanError::new(format!("{flag} @{path}: cannot read the file: {e}"));
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    if size > MAX_FILE {
        return Err(PlanError::new(format!(
            "{flag} @{path}: the file has {size} bytes; wsprobe sends files of at most {MAX_FILE} bytes"
        )));
    }
    std::fs::read(path).map_err(cannot)
}

/// Hex digits, optionally `0x`-prefixed, with spaces, `:` or `-` between
/// bytes allowed (`48656c6c6f`, `48 65 6c`, `de:ad:be:ef`).
pub fn parse_hex(text: &str) -> Result<Vec<u8>, PlanError> {
    let body = text.trim();
    let body = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")).unwrap_or(body);
    let digits: String = body.chars().filter(|c| !c.is_ascii_whitespace() && *c != ':' && *c != '-').collect();
    hex::decode(&digits).map_err(|e| {
        let why = match e {
            hex::FromHexError::InvalidHexCharacter { c, .. } => format!("'{c}' is not a hex digit"),
            hex::FromHexError::OddLength => format!("{} hex digits is an odd count (two per byte)", digits.len()),
            other => other.to_string(),
        };
        PlanError::new(format!(
            "--send-binary '{text}': {why}; write bytes as hex, such as 48656c6c6f or 'de ad be ef'"
        ))
    })
}

/// A message on the wire as a transcript line, `at` since `start`.
pub fn traffic(direction: &'static str, msg: &Message, start: Instant) -> Traffic {
    let at_ms = millis(start.elapsed());
    let line = |kind, data| Traffic { at_ms, direction, kind, data, bytes: None };
    match msg {
        Message::Text(t) => line("text", t.to_string()),
        Message::Binary(b) => Traffic { bytes: Some(b.len() as u64), ..line("binary", base64_of(b)) },
        Message::Ping(p) if direction == "in" => line("ping", format!("{} bytes (answered)", p.len())),
        Message::Ping(p) => line("ping", format!("{} bytes", p.len())),
        Message::Pong(p) => line("pong", format!("{} bytes", p.len())),
        Message::Close(_) | Message::Frame(_) => line("frame", String::new()),
    }
}

fn base64_of(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A binary message as a table shows it: its length and its first bytes
/// in hex, from the base64 in `data`.
pub fn hex_preview(data: &str, bytes: u64) -> String {
    let head = &data[..data.len().min(PREVIEW.div_ceil(3) * 4)];
    let decoded = base64::engine::general_purpose::STANDARD.decode(head).unwrap_or_default();
    let shown: Vec<String> = decoded.iter().take(PREVIEW).map(|b| format!("{b:02x}")).collect();
    let more = if bytes as usize > shown.len() { " …" } else { "" };
    let unit = if bytes == 1 { "byte" } else { "bytes" };
    format!("{bytes} {unit}: {}{more}", shown.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_read_with_separators_and_refused_with_the_reason() {
        assert_eq!(parse_hex("48656c6c6f").unwrap(), b"Hello");
        assert_eq!(parse_hex("0xDE AD:be-ef").unwrap(), vec![0xde, 0xad, 0xbe, 0xef]);
        assert!(parse_hex("abc").unwrap_err().to_string().contains("odd count"));
        assert!(parse_hex("zz").unwrap_err().to_string().contains("'z' is not a hex digit"));
    }

    #[test]
    fn files_are_text_when_utf8_and_binary_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let (text, bin) = (dir.path().join("t.json"), dir.path().join("b.bin"));
        std::fs::write(&text, "{\"a\":1}").unwrap();
        std::fs::write(&bin, [0xff, 0x00, 0x01]).unwrap();
        let send = |p: &std::path::Path| Payload::read(&SendArg::Text(format!("@{}", p.display()))).unwrap();
        assert_eq!(send(&text), Payload::Text("{\"a\":1}".into()));
        assert_eq!(send(&bin), Payload::Binary(vec![0xff, 0, 1]));
        let forced = Payload::read(&SendArg::Binary(format!("@{}", text.display()))).unwrap();
        assert_eq!(forced, Payload::Binary(b"{\"a\":1}".to_vec()));
        assert_eq!(Payload::read(&SendArg::Text("@@me".into())).unwrap(), Payload::Text("@me".into()));
        let missing = Payload::read(&SendArg::Text("@/nonexistent/x".into())).unwrap_err().to_string();
        assert!(missing.contains("--send @/nonexistent/x: cannot read"), "{missing}");
    }

    #[test]
    fn binary_lines_carry_base64_and_tables_show_hex() {
        let t = traffic("in", &Message::binary(b"hello world".to_vec()), Instant::now());
        assert_eq!((t.kind, t.data.as_str(), t.bytes), ("binary", "aGVsbG8gd29ybGQ=", Some(11)));
        assert_eq!(hex_preview(&t.data, 11), "11 bytes: 68 65 6c 6c 6f 20 77 6f 72 6c 64");
        let big = traffic("in", &Message::binary((0..=255u8).collect::<Vec<_>>()), Instant::now());
        let shown = hex_preview(&big.data, 256);
        assert!(shown.starts_with("256 bytes: 00 01 02") && shown.ends_with("1e 1f …"), "{shown}");
    }
}
