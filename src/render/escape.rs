//! Escaping of every string that comes from a report before it reaches a
//! page: XML/HTML text and attributes (server-sent reasons and headers may
//! hold markup or control characters), Markdown table cells, and the
//! length cap that keeps one hostile string from bloating a page.

/// Appends `text` escaped for HTML/XML text and attribute values.
///
/// `& < > " '` become entities; control characters that XML 1.0 forbids
/// (and the non-characters U+FFFE/U+FFFF) become U+FFFD, so the SVG blocks
/// stay well-formed whatever the server sent.
pub(crate) fn push_xml(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// `text` escaped for HTML/XML (see [`push_xml`]).
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_xml(&mut out, text);
    out
}

/// `text` escaped for Markdown (a table cell, a bullet or a heading).
///
/// Backslashes, pipes and the characters that start links, emphasis, code
/// or raw HTML are backslash-escaped or turned into entities; line breaks
/// become `<br>` so a multi-line reason stays in its cell.
pub(crate) fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied().unwrap_or(' ');
        match c {
            // An underscore inside a word never starts emphasis (GFM): `gave_up` stays readable.
            '_' if prev.is_alphanumeric() && next.is_alphanumeric() => out.push(c),
            '\\' | '|' | '[' | ']' | '*' | '_' | '`' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// `text` cut to at most `max` characters, with `…` marking the cut.
pub(crate) fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((at, _)) => {
            let cut = text[..at].char_indices().last().map_or(0, |(i, _)| i);
            std::borrow::Cow::Owned(format!("{}…", &text[..cut]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_quotes() {
        assert_eq!(xml(r#"</script><b a="1" b='2'>&"#), "&lt;/script&gt;&lt;b a=&quot;1&quot; b=&#39;2&#39;&gt;&amp;");
    }

    #[test]
    fn xml_replaces_forbidden_control_characters() {
        assert_eq!(xml("a\u{0}b\u{1b}c\td\u{ffff}"), "a\u{fffd}b\u{fffd}c\td\u{fffd}");
    }

    #[test]
    fn markdown_escapes_pipes_newlines_and_links() {
        assert_eq!(markdown("a|b\nc\r\nd"), "a\\|b<br>c<br>d");
        assert_eq!(markdown("[x](javascript:1) <b>"), "\\[x\\](javascript:1) &lt;b&gt;");
        assert_eq!(markdown(r"back\slash"), r"back\\slash");
        assert_eq!(markdown("gave_up _x_ a__"), "gave_up \\_x\\_ a\\_\\_");
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abcdef", 3).chars().count(), 3);
    }
}
