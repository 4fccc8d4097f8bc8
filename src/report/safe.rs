//! Text from the server, made safe for a terminal: a hostile server picks
//! its messages, close reasons, refusal bodies and header values, and raw
//! control characters in them could clear the screen, move the cursor or
//! overwrite the verdict line. Every human output goes through here; the
//! JSON keeps the text as it was (JSON escapes control characters itself).
//! Long payloads are clipped with their length, so a table cell stays small
//! and rendering stays linear in what is shown.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for what a terminal would interpret instead of print: C0 controls,
/// DEL, C1 controls (U+009B is a CSI on some terminals) and the bidi
/// overrides that reorder what follows them.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c) && !(keep_newlines && c == '\n')) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' if keep_newlines => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && is_unsafe(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// One line of server text for a terminal: every control character,
/// line breaks included, becomes a visible escape (`\x1b`, `\n`).
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// A whole rendered page: line breaks stay (they are ours), every other
/// control character becomes a visible escape.
pub fn page(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

/// At most `max_chars` characters of `text`, escaped as a [`line()`]; a
/// longer text ends with `…` and its full length in bytes.
pub fn clip(text: &str, max_chars: usize) -> String {
    let cut = text.char_indices().nth(max_chars).map(|(i, _)| i);
    match cut {
        None => line(text).into_owned(),
        Some(i) => format!("{}… ({} bytes)", line(&text[..i]), text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_visible_and_plain_text_is_untouched() {
        assert!(matches!(line("hello wörld"), Cow::Borrowed(_)));
        assert_eq!(line("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
        assert_eq!(line("a\nPASS\r"), "a\\nPASS\\r");
        assert_eq!(line("\u{9b}31m \u{202e}txt"), "\\u{9b}31m \\u{202e}txt");
        assert_eq!(page("a\nb\x07"), "a\nb\\x07");
    }

    #[test]
    fn long_text_is_clipped_with_its_length() {
        let long = "é".repeat(1000);
        let shown = clip(&long, 10);
        assert_eq!(shown, format!("{}… (2000 bytes)", "é".repeat(10)));
        assert_eq!(clip("short", 10), "short");
    }
}
