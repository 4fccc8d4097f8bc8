//! Reading an HTTP/1.1 message head (request or response) off a stream,
//! bounded in size, for both sides of the WebSocket upgrade.
//!
//! wsprobe does its own upgrade on both sides so it can time each phase,
//! keep the full rejection (status, headers, body) and serve `/health` on
//! the WebSocket port; httparse does the parsing.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest head accepted; bigger ones are refused (a slow or hostile peer).
pub const MAX_HEAD: usize = 16 * 1024;

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The peer closed before the head was complete.
    #[error("the connection ended after {0} bytes, before the HTTP head was complete")]
    Eof(usize),
    /// The head grew past [`MAX_HEAD`].
    #[error("the HTTP head is over {MAX_HEAD} bytes")]
    TooLarge,
    /// The first byte cannot start an HTTP message (a request starts with
    /// a method, a response with `HTTP/`): a TLS record, say. Refused at
    /// once instead of waiting for a blank line that never comes.
    #[error("the first byte (0x{0:02x}) cannot start an HTTP message")]
    NotHttp(u8),
    /// A socket error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads until the blank line that ends an HTTP head. Returns the head's
/// length; bytes after it (the start of a body or of WebSocket frames) stay
/// in `buf` past that length.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, HeadError> {
    let mut scanned = 0;
    loop {
        if let Some(end) = find_head_end(buf, scanned) {
            return Ok(end);
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() >= MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        // Grow in small steps: heads are usually a few hundred bytes, and
        // thousands of handshakes in flight each hold this buffer.
        let start = buf.len();
        buf.resize((start + 256).min(MAX_HEAD), 0);
        let n = stream.read(&mut buf[start..]).await;
        buf.truncate(start + *n.as_ref().unwrap_or(&0));
        if n? == 0 {
            return Err(HeadError::Eof(buf.len()));
        }
        match buf.first() {
            Some(&b) if !b.is_ascii_alphabetic() && b != b'\r' && b != b'\n' => return Err(HeadError::NotHttp(b)),
            _ => {}
        }
    }
}

/// The end of the head: the blank line after CRLF lines, or after bare
/// LF lines (which the server then refuses at once with 400, instead of
/// waiting for a CRLF CRLF that never comes).
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    let crlf = rest.windows(4).position(|w| w == b"\r\n\r\n").map(|p| from + p + 4);
    let lf = rest.windows(2).position(|w| w == b"\n\n").map(|p| from + p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Finds a header's value (case-insensitive name) in parsed httparse headers.
pub fn header<'a>(headers: &'a [httparse::Header<'_>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

/// True when a comma-separated header (Connection, Upgrade) lists `token`.
pub fn header_has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn head_ends_at_blank_line_and_keeps_the_rest() {
        let data: &[u8] = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n\x81\x02hi";
        let mut reader = data;
        let mut buf = Vec::new();
        let end = read_head(&mut reader, &mut buf).await.unwrap();
        assert_eq!(&buf[end..], b"\x81\x02hi");
    }

    #[tokio::test]
    async fn a_bare_lf_head_ends_at_its_blank_line() {
        let mut reader: &[u8] = b"GET / HTTP/1.1\nHost: x\n\nrest";
        let mut buf = Vec::new();
        let end = read_head(&mut reader, &mut buf).await.unwrap();
        assert_eq!(&buf[end..], b"rest");
    }

    #[tokio::test]
    async fn a_tls_record_is_not_http_at_once() {
        let mut reader: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01];
        let mut buf = Vec::new();
        assert!(matches!(read_head(&mut reader, &mut buf).await, Err(HeadError::NotHttp(0x16))));
        let mut reader: &[u8] = b"\r\nGET / HTTP/1.1\r\n\r\n";
        assert!(read_head(&mut reader, &mut Vec::new()).await.is_ok(), "a leading empty line is allowed");
    }

    #[tokio::test]
    async fn truncated_head_is_eof() {
        let mut reader: &[u8] = b"HTTP/1.1 101";
        let mut buf = Vec::new();
        assert!(matches!(read_head(&mut reader, &mut buf).await, Err(HeadError::Eof(12))));
    }

    #[tokio::test]
    async fn endless_head_is_refused() {
        let big = vec![b'a'; MAX_HEAD + 10];
        let mut reader: &[u8] = &big;
        let mut buf = Vec::new();
        assert!(matches!(read_head(&mut reader, &mut buf).await, Err(HeadError::TooLarge)));
    }
}
